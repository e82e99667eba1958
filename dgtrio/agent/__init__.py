"""The voice agent: ``client.agent.v1``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .v1._session import AgentV1Client

if TYPE_CHECKING:
    from .._client import DeepgramClient

__all__ = ["AgentClient"]


class AgentClient:
    """``client.agent``: the voice agent socket."""

    def __init__(self, client: DeepgramClient) -> None:
        #: ``/v1/agent/converse``: the voice agent.
        self.v1 = AgentV1Client(client)
