"""The ``/v1/speak`` session: streaming text to speech (Aura)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from ..._options import RequestOptions
from ..._protocol import ProtocolState
from ..._session import Session
from ._messages import SCHEMA, Close, SpeakV1Event

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["SpeakV1Client", "SpeakV1Protocol", "SpeakV1Session"]


class SpeakV1Protocol(ProtocolState):
    """The rules of ``/v1/speak`` (protocol.md §4)."""

    close_message: ClassVar[Any] = Close()


class SpeakV1Session(Session[SpeakV1Event]):
    """A streaming text-to-speech session on ``/v1/speak``."""

    path: ClassVar[str] = "/v1/speak"
    schema = SCHEMA
    protocol_class = SpeakV1Protocol
    default_ping_interval: ClassVar[float | None] = 10.0


class SpeakV1Client:
    """``client.speak.v1``: opens ``/v1/speak`` sessions."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client

    def connect(
        self,
        *,
        model: str | None = None,
        encoding: str | None = None,
        sample_rate: int | str | None = None,
        speed: float | str | None = None,
        mip_opt_out: bool | str | None = None,
        authorization: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AbstractAsyncContextManager[SpeakV1Session]:
        """Open a text-to-speech session (see protocol.md §4.1 for the parameters)."""
        params: list[tuple[str, Any]] = [
            ("model", model),
            ("encoding", encoding),
            ("sample_rate", sample_rate),
            ("speed", speed),
            ("mip_opt_out", mip_opt_out),
        ]
        return self._client._open(
            SpeakV1Session, params, authorization=authorization, request_options=request_options
        )
