"""A LangChain agent with a scripted chat model and one tool, as a user would write it: nothing
in it knows about TraceView or LangSmith. Run with the environment a README row names:

    LANGSMITH_TRACING=true LANGSMITH_ENDPOINT=<traceview> LANGSMITH_API_KEY=<key> \\
        python tests/ingest/langchain_agent.py 4411

Order 13 makes the tool fail, which fails the run. Prints the answer, or the error.
"""

from __future__ import annotations

import sys

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import chain
from langchain_core.tools import tool


@tool
def lookup_order(order_id: int) -> str:
    """Look up an order."""
    if order_id == 13:
        raise ValueError(f"order {order_id} is not in the database")
    return f"order {order_id} ships Monday"


def scripted_model(order_id: int) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([
        AIMessage(content="", tool_calls=[
            {"id": "call_1", "name": "lookup_order", "args": {"order_id": order_id}}],
            usage_metadata={"input_tokens": 50, "output_tokens": 5, "total_tokens": 55}),
        AIMessage(content="It ships Monday.",
                  usage_metadata={"input_tokens": 70, "output_tokens": 6, "total_tokens": 76}),
    ]))


def support_agent_for(model: GenericFakeChatModel):
    @chain
    def support_agent(question: str) -> str:
        messages = [SystemMessage("You help with orders."), HumanMessage(question)]
        while True:
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                return reply.content
            for call in reply.tool_calls:
                messages.append(lookup_order.invoke(call))

    return support_agent


def main(order_id: int) -> None:
    agent = support_agent_for(scripted_model(order_id))
    try:
        print(agent.invoke(f"Where is order {order_id}?"))
    except ValueError as exc:
        print(f"failed: {exc}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4411)
