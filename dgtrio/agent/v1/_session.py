"""The ``/v1/agent/converse`` session: the voice agent."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from ..._options import RequestOptions
from ..._protocol import ProtocolState
from ..._session import Session
from ._messages import SCHEMA, AgentV1Event, KeepAlive

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["AgentV1Client", "AgentV1Protocol", "AgentV1Session"]


class AgentV1Protocol(ProtocolState):
    """The rules of ``/v1/agent/converse`` (protocol.md §5)."""

    keepalive_message: ClassVar[Any] = KeepAlive()
    #: The agent server closes without a status code after an Error (1005).
    normal_close_codes: ClassVar[frozenset[int]] = frozenset({1000, 1005})


class AgentV1Session(Session[AgentV1Event]):
    """A voice agent session on ``/v1/agent/converse``."""

    path: ClassVar[str] = "/v1/agent/converse"
    environment_field: ClassVar[str] = "agent"
    schema = SCHEMA
    protocol_class = AgentV1Protocol
    default_keepalive_interval: ClassVar[float | None] = 8.0
    keepalive_counts_media_only: ClassVar[bool] = True


class AgentV1Client:
    """``client.agent.v1``: opens voice agent sessions."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client

    def connect(
        self,
        *,
        authorization: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AbstractAsyncContextManager[AgentV1Session]:
        """Open a voice agent session."""
        return self._client._open(
            AgentV1Session, [], authorization=authorization, request_options=request_options
        )
