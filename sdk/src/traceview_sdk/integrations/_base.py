"""What every framework hook shares: where to send, and which agent the runs belong to."""

from __future__ import annotations

from ..client import Client, get_client


class HookConfig:
    def __init__(
        self,
        client: Client | None = None,
        *,
        agent: str | None = None,
        agent_version: str | None = None,
        budget: dict | None = None,
        attributes: dict | None = None,
    ):
        self._client = client
        self.agent = agent
        self.agent_version = agent_version
        self.attributes = dict(attributes or {})
        if budget:
            self.attributes["budget"] = dict(budget)

    @property
    def client(self) -> Client:
        # Resolved at each use, so a hook made before configure() still sends where it says.
        return self._client or get_client()
