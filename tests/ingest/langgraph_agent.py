"""A LangGraph ReAct agent (`create_react_agent`) with one tool, on the OpenAI chat model, as a
user would write it: nothing in it knows about TraceView or LangSmith. Run with the environment a
README row names:

    LANGSMITH_TRACING=true LANGSMITH_ENDPOINT=<traceview> LANGSMITH_API_KEY=<key> \\
        python tests/ingest/langgraph_agent.py <chat-completions base url> 4411

Order 13 makes the tool fail. Prints the answer, or the error.
"""

from __future__ import annotations

import sys

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent


@tool
def lookup_order(order_id: int) -> str:
    """Look up an order."""
    if order_id == 13:
        raise ValueError(f"order {order_id} is not in the database")
    return f"order {order_id} ships Monday"


def main(base_url: str, order_id: int) -> None:
    model = ChatOpenAI(model="gpt-4o", base_url=base_url, api_key="sk-scripted", max_retries=0)
    agent = create_react_agent(model, [lookup_order], prompt="You help with orders.",
                               name="support_agent")
    try:
        state = agent.invoke({"messages": [("user", f"Where is order {order_id}?")]})
        print(state["messages"][-1].content)
    except ValueError as exc:
        print(f"failed: {exc}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
