"""A two-turn agent on the OpenAI chat-completions client, run by the tests under
`opentelemetry-instrument` exactly as a user runs theirs: no OpenTelemetry code but one span
around the run. The model is the scripted stub at MODEL_URL (tests/classify/recorded/servers.py):
it asks for `lookup_order`, then answers. Prints the run's trace id."""

import json
import os

from openai import OpenAI
from opentelemetry import trace

TOOLS = [{"type": "function", "function": {
    "name": "lookup_order", "description": "Look an order up by its number.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}},
                   "required": ["order_id"]}}}]


def main() -> None:
    client = OpenAI(base_url=os.environ["MODEL_URL"], api_key="sk-stub")
    tracer = trace.get_tracer("support-bot")
    with tracer.start_as_current_span("invoke_agent support-bot") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "support-bot")
        messages = [{"role": "system", "content": "You answer questions about orders."},
                    {"role": "user", "content": "Where is order 4411?"}]
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                               tools=TOOLS)
        reply = first.choices[0].message
        call = reply.tool_calls[0]
        messages.append(reply.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id,
                         "content": json.dumps({"order_id": 4411, "status": "shipped"})})
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        print(format(root.get_span_context().trace_id, "032x"))


if __name__ == "__main__":
    main()
