"""The ``/v2/listen`` session: Flux conversational speech recognition."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

from ..._options import RequestOptions
from ..._protocol import ProtocolState
from ..._query import Scalar
from ..._session import Session
from ._messages import SCHEMA, CloseStream, ListenV2Event

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["ListenV2Client", "ListenV2Protocol", "ListenV2Session"]

Repeated = Scalar | Sequence[Scalar]


class ListenV2Protocol(ProtocolState):
    """The rules of ``/v2/listen`` (protocol.md §3)."""

    close_message: ClassVar[Any] = CloseStream()
    #: Flux may end a session after CloseStream without a close status (1005).
    normal_close_codes: ClassVar[frozenset[int]] = frozenset({1000, 1005})


class ListenV2Session(Session[ListenV2Event]):
    """A Flux session on ``/v2/listen``."""

    path: ClassVar[str] = "/v2/listen"
    schema = SCHEMA
    protocol_class = ListenV2Protocol
    default_ping_interval: ClassVar[float | None] = 10.0


class ListenV2Client:
    """``client.listen.v2``: opens Flux sessions on ``/v2/listen``."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client

    def connect(
        self,
        *,
        model: str,
        encoding: str | None = None,
        sample_rate: int | str | None = None,
        eager_eot_threshold: float | str | None = None,
        eot_threshold: float | str | None = None,
        eot_timeout_ms: int | str | None = None,
        keyterm: Repeated | None = None,
        language_hint: Repeated | None = None,
        mip_opt_out: bool | str | None = None,
        numerals: bool | str | None = None,
        profanity_filter: bool | str | None = None,
        redact: Repeated | None = None,
        tag: Repeated | None = None,
        authorization: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AbstractAsyncContextManager[ListenV2Session]:
        """Open a Flux session (see protocol.md §3.1 for the parameters)."""
        params: list[tuple[str, Any]] = [
            ("model", model),
            ("encoding", encoding),
            ("sample_rate", sample_rate),
            ("eager_eot_threshold", eager_eot_threshold),
            ("eot_threshold", eot_threshold),
            ("eot_timeout_ms", eot_timeout_ms),
            ("keyterm", keyterm),
            ("language_hint", language_hint),
            ("mip_opt_out", mip_opt_out),
            ("numerals", numerals),
            ("profanity_filter", profanity_filter),
            ("redact", redact),
            ("tag", tag),
        ]
        return self._client._open(
            ListenV2Session, params, authorization=authorization, request_options=request_options
        )
