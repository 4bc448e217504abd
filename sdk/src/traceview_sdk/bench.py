"""Benchmark: the time recording adds to the agent's thread, per step.

    python -m traceview_sdk.bench [--steps 20000] [--rounds 5]

A sink HTTP server runs in a child process and answers 202, so the export thread really
serializes, gzips and posts everything while the agent's thread is timed. Each round records
`--steps` steps in a loop and is compared with the same loop doing no recording; the median
difference per step is printed per kind of call. The target is under 50 microseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time

import traceview_sdk

SINK = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""

TARGET_US = 50.0


def _tool(order_id: int, note: str = "") -> dict:
    return {"id": order_id, "eta": "Mon"}


def scenarios(inv: traceview_sdk.Invocation):
    traced_tool = traceview_sdk.tool(_tool)
    nothing = contextlib.nullcontext()

    def plain_step(n):
        for _i in range(n):
            with inv.step("step", kind="other"):
                pass

    def plain_baseline(n):
        for _i in range(n):
            with nothing:
                pass

    def llm_step(n):
        for _i in range(n):
            with inv.step("chat", kind="llm") as s:
                s.set_usage(input_tokens=812, output_tokens=64, model="gpt-4o")
                s.set_output({"role": "assistant", "content": "ok"})

    def tool_call(n):
        for i in range(n):
            traced_tool(i, note="x")

    def tool_baseline(n):
        for i in range(n):
            _tool(i, note="x")

    return [
        ("inv.step() context manager", plain_step, plain_baseline),
        ("llm step with usage and output", llm_step, plain_baseline),
        ("@tool decorated call", tool_call, tool_baseline),
    ]


def run(steps: int, rounds: int) -> int:
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        client = traceview_sdk.Client(
            f"http://127.0.0.1:{port}", "bench", max_queue=steps * 4, max_batch=1000
        )
        worst = 0.0
        with client.invocation(agent="bench") as inv:
            for label, recorded, baseline in scenarios(inv):
                costs = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    baseline(steps)
                    base = time.perf_counter() - start
                    start = time.perf_counter()
                    recorded(steps)
                    spent = time.perf_counter() - start
                    costs.append((spent - base) / steps * 1e6)
                    client.flush(60)  # untimed: the next round starts with an empty queue
                median = statistics.median(costs)
                worst = max(worst, median)
                print(
                    f"{label:34s} {median:6.2f} us/step  (rounds: "
                    + ", ".join(f"{c:.2f}" for c in costs)
                    + ")"
                )
        client.flush(60)
        stats = client.stats
        print(
            f"sent {stats.get('sent_records', 0)} records in {stats.get('sent_requests', 0)} "
            f"requests, dropped {stats.get('dropped', 0)}"
        )
        verdict = "OK" if worst < TARGET_US else "OVER TARGET"
        print(f"worst median {worst:.2f} us/step, target < {TARGET_US:.0f} us: {verdict}")
        client.shutdown(10)
        return 0 if worst < TARGET_US else 1
    finally:
        sink.terminate()
        sink.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    return run(args.steps, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
