"""Benchmark the time recording adds to the agent's thread: see traceview_sdk/bench.py."""

import sys

from traceview_sdk.bench import main

if __name__ == "__main__":
    sys.exit(main())
