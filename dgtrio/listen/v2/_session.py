"""The ``/v2/listen`` session: Flux conversational speech recognition.

Three things set Flux apart from ``/v1/listen``, and this module handles each
in the session subclass (the plumbing is the generic core's):

1. **A hello.** The server's first message is ``Connected``. Entering
   ``async with client.listen.v2.connect(...)`` returns only once it has
   arrived, so audio is never sent into a session the server has not set up.
   The wait is bounded by ``connect_timeout``; a server that never says
   ``Connected`` gives :class:`~dgtrio.AckTimeoutError`, one that closes first
   gives the close as a :class:`~dgtrio.ConnectionClosedError`. The
   ``Connected`` message itself is still delivered as the first event.
2. **Sequence numbers.** Every server message carries ``sequence_id``, which
   counts the session's messages from 0. The session checks each one against
   the count so far; a jump (a message lost, or one that could not be decoded)
   or a step back is logged as a warning on the ``dgtrio`` logger and counted
   in :attr:`ListenV2Session.sequence_gaps`. Events are never held back or
   reordered for it.
3. **No KeepAlive.** Flux has no keep-alive message; the session sends a
   websocket ping after ``ping_interval`` seconds without an outgoing frame
   (10 by default) and declares the connection dead when no pong comes within
   ``ping_timeout`` (:class:`~dgtrio.ConnectionDeadError`).

``Error`` is fatal: it is delivered, then the session ends with
:class:`~dgtrio.ServerError`. After ``CloseStream`` the server may close
without a status code (1005); that is a normal end.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ..._codec import UnknownMessage
from ..._errors import (
    ConfigurationError,
    DeepgramError,
    RequestError,
    ServerError,
)
from ..._options import RequestOptions, SessionOptions
from ..._protocol import Ack, ProtocolState
from ..._query import Scalar
from ..._reconnect import ReconnectPolicy
from ..._replay import AudioReplay
from ..._session import Session
from ..._transport import Transport, TransportClosed
from ..v1._session import _configure
from ._messages import (
    SCHEMA,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    Error,
    ForceEndTurn,
    ListenV2ControlMessage,
    ListenV2Event,
    Thresholds,
    TurnInfo,
    TurnWord,
)

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["ListenV2Client", "ListenV2Protocol", "ListenV2Session"]

logger = logging.getLogger("dgtrio")

#: A parameter that may be given once or as a list.
Repeated = Scalar | Sequence[Scalar]


class ListenV2Protocol(ProtocolState):
    """The rules of ``/v2/listen`` (protocol.md §3).

    ``CloseStream`` half-closes: nothing may be sent after it. A close with
    no status code (1005) is a normal end. ``ConfigureSuccess`` and
    ``ConfigureFailure`` answer a ``Configure``; ``Error`` is fatal.
    """

    close_message: ClassVar[Any] = CloseStream()
    #: Flux may end a session after CloseStream without a close status (1005).
    normal_close_codes: ClassVar[frozenset[int]] = frozenset({1000, 1005})

    def received(self, event: Any) -> Ack | None:
        """Map a received event to the request it answers."""
        cls = event.__class__
        if cls is ConfigureSuccess:
            return Ack("configure", event)
        if cls is ConfigureFailure:
            return Ack("configure", error=RequestError(event.code, event.description, event))
        return None

    def fatal(self, event: Any) -> DeepgramError | None:
        """``Error`` ends the session (after it is delivered)."""
        if event.__class__ is Error:
            return ServerError(event.code or None, event.description or None, event)
        return None


def _sequence_id(event: Any) -> int | None:
    if isinstance(event, UnknownMessage):
        value = event.raw.get("sequence_id")
        return value if value.__class__ is int else None
    value = getattr(event, "sequence_id", None)
    return value if value.__class__ is int else None


class ListenV2Session(Session[ListenV2Event]):
    """A Flux session on ``/v2/listen``.

    Iterate it for :class:`~dgtrio.listen.v2.Connected` (always first),
    :class:`~dgtrio.listen.v2.TurnInfo`, configure replies,
    :class:`~dgtrio.listen.v2.Warning`, :class:`~dgtrio.listen.v2.Error`
    and :class:`~dgtrio.UnknownMessage`; send audio with :meth:`send_media`.
    See the module documentation for the hello, sequence checks and pings.
    """

    path: ClassVar[str] = "/v2/listen"
    schema = SCHEMA
    protocol_class = ListenV2Protocol
    default_ping_interval: ClassVar[float | None] = 10.0
    #: Flux answers with an Update every quarter second of audio: ten seconds of
    #: audio without a single message means the stream is dead.
    default_response_timeout: ClassVar[float | None] = 10.0
    hello_class: ClassVar[type | None] = Connected

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        super().__init__(transport, options)
        self._next_sequence_id = 0
        self._sequence_gaps = 0
        # Reconnection (rule 7 of dgtrio._session): audio back to the last
        # EndOfTurn is replayed; turns keep counting; settings are re-applied.
        self._replay = AudioReplay(transport.url, options.reconnect)
        self._turns_completed = 0
        self._turn_offset = 0
        self._settings: Configure | None = None  # everything configure() applied

    # ------------------------------------------------------------------ info

    @property
    def connected(self) -> Connected | None:
        """The server's ``Connected`` message (set before the session is handed out)."""
        connected: Connected | None = self._hello
        return connected

    @property
    def sequence_gaps(self) -> int:
        """How many times a ``sequence_id`` was not the one expected (see the module docs)."""
        return self._sequence_gaps

    # ----------------------------------------------------------- core hooks

    def _observe(self, event: Any) -> None:
        if event.__class__ is TurnInfo and event.event == "EndOfTurn":
            self._replay.finalized(event.audio_window_end)
            self._turns_completed = event.turn_index + 1
        sequence_id = _sequence_id(event)
        if sequence_id is None:
            return
        expected = self._next_sequence_id
        if sequence_id != expected:
            self._sequence_gaps += 1
            if sequence_id > expected:
                logger.warning(
                    "%r: sequence_id jumped from %d to %d: %d server message(s) were lost "
                    "or could not be decoded",
                    self,
                    expected - 1,
                    sequence_id,
                    sequence_id - expected,
                )
            else:
                logger.warning(
                    "%r: sequence_id went back from %d to %d (duplicate or reordered message)",
                    self,
                    expected - 1,
                    sequence_id,
                )
        self._next_sequence_id = max(expected, sequence_id + 1)

    # --------------------------------------------------------------- sending

    async def send_control(
        self, message: CloseStream | ForceEndTurn | Configure | ListenV2ControlMessage
    ) -> None:
        """Send a control message without waiting for any reply.

        Accepts the typed messages and the official SDK's
        ``ListenV2ControlMessage(type="CloseStream")``.
        """
        if isinstance(message, ListenV2ControlMessage):
            message = message.to_message()
        if not isinstance(message, (CloseStream, ForceEndTurn, Configure)):
            raise TypeError(f"not a /v2/listen control message: {message!r}")
        await self._send_message(message)

    async def force_end_turn(self) -> None:
        """End the current turn now.

        The server answers with a ``TurnInfo`` whose event is ``EndOfTurn``
        and whose trigger is ``manual``; it arrives in the event stream like
        any other. With no turn in progress there is nothing to end and no
        answer comes.
        """
        await self._send_message(ForceEndTurn())

    async def close_stream(self) -> None:
        """Half-close: no more audio; the server transcribes what it has and closes.

        Keep iterating the session to receive the last updates. Flux sends no
        ``EndOfTurn`` for the turn that was open: its last ``Update`` carries
        the final text (:class:`~dgtrio.transcripts.TurnStream` yields it as an
        incomplete turn). The server may close without a status code; the
        stream then simply ends.
        """
        await self._send_message(CloseStream())

    async def configure(
        self,
        message: Configure | None = None,
        *,
        eager_eot_threshold: float | None = None,
        eot_threshold: float | None = None,
        eot_timeout_ms: int | None = None,
        keyterms: str | Sequence[str] | None = None,
        language_hints: Sequence[str] | None = None,
        numerals: bool | None = None,
        timeout: float = 10.0,
    ) -> ConfigureSuccess:
        """Change settings mid-stream and wait for the server to apply them.

        Settings left as ``None`` keep their current values. They apply to
        the audio sent after this call (frames leave in order). At most one
        ``Configure`` is in flight; a second call waits for the first to be
        answered.

        Args:
            message: A ready-made :class:`~dgtrio.listen.v2.Configure`, instead
                of the keyword arguments.
            eager_eot_threshold: Confidence (0.3 to 0.9) for ``EagerEndOfTurn``.
            eot_threshold: Confidence (0.5 to 1.0) for ``EndOfTurn``.
            eot_timeout_ms: Silence after which a turn ends regardless.
            keyterms: Replaces the whole keyterm list (``[]`` clears it).
            language_hints: Languages to favour (``flux-general-multi``).
            numerals: Write numbers as digits.
            timeout: Seconds to wait for the answer.

        Returns:
            The ``ConfigureSuccess``, which echoes the settings now in effect.

        Raises:
            RequestError: The server answered ``ConfigureFailure``.
            AckTimeoutError: No answer within ``timeout``.
            ConfigurationError: Both ``message`` and keyword settings given.
        """
        settings = (eager_eot_threshold, eot_threshold, eot_timeout_ms)
        others = (keyterms, language_hints, numerals)
        if message is None:
            thresholds = None
            if any(value is not None for value in settings):
                thresholds = Thresholds(*settings)
            message = Configure(thresholds, keyterms, language_hints, numerals)
        elif any(value is not None for value in (*settings, *others)):
            raise ConfigurationError("pass either a Configure message or keyword settings")
        reply: ConfigureSuccess = await _configure(self, message, timeout)
        self._settings = _merge_configure(self._settings, message)
        return reply

    # --------------------------------------------------------- reconnection

    def _before_media_sent(self, data: bytes) -> None:
        self._replay.record(data)

    def _shift(self, event: Any, offset: float) -> Any:
        if event.__class__ is not TurnInfo:
            return event
        words = tuple(
            TurnWord(
                w.word,
                w.confidence,
                None if w.start is None else w.start + offset,
                None if w.end is None else w.end + offset,
            )
            for w in event.words
        )
        return attrs.evolve(
            event,
            turn_index=event.turn_index + self._turn_offset,
            audio_window_start=event.audio_window_start + offset,
            audio_window_end=event.audio_window_end + offset,
            words=words,
        )

    async def _resume(self, transport: Transport) -> list[Any]:
        # The new connection greets first; then the settings, which apply in
        # audio order, go before the replayed audio.
        try:
            frame = await transport.receive()
        except TransportClosed as closed:
            raise self._closed_error(closed.code, closed.reason) from None
        connected = SCHEMA.parse_server(frame)
        if isinstance(connected, Error):
            raise ServerError(connected.code, connected.description, connected)
        if not isinstance(connected, Connected):
            raise ServerError(None, f"expected Connected first, got {connected!r}")
        self._hello = connected
        self._next_sequence_id = connected.sequence_id + 1
        if self._settings is not None:
            await transport.send(SCHEMA.serialize(self._settings))
        self._turn_offset = self._turns_completed
        self._time_offset = await self._replay.resend(transport)
        return [connected, *await super()._resume(transport)]

    def _reconnected_details(self) -> dict[str, Any]:
        return self._replay.report()


def _merge_configure(current: Configure | None, new: Configure) -> Configure:
    """What a sequence of ``Configure`` messages adds up to (later values win)."""
    if current is None:
        return new
    thresholds = current.thresholds
    if new.thresholds is not None:
        old = thresholds or Thresholds()
        thresholds = Thresholds(
            _later(old.eager_eot_threshold, new.thresholds.eager_eot_threshold),
            _later(old.eot_threshold, new.thresholds.eot_threshold),
            _later(old.eot_timeout_ms, new.thresholds.eot_timeout_ms),
        )
    return Configure(
        thresholds,
        _later(current.keyterms, new.keyterms),
        _later(current.language_hints, new.language_hints),
        _later(current.numerals, new.numerals),
        extra_fields={**current.extra_fields, **new.extra_fields},
    )


def _later(old: Any, new: Any) -> Any:
    return old if new is None else new


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
        reconnect: ReconnectPolicy | None = None,
    ) -> AbstractAsyncContextManager[ListenV2Session]:
        """Open a Flux session.

        Use as ``async with client.listen.v2.connect(model="flux-general-en",
        encoding="linear16", sample_rate=16000) as session:``; the block is
        entered once the server has sent ``Connected``. Parameters are
        Deepgram's query parameters (protocol.md §3.1); give natural Python
        values (``True``, ``0.7``, lists for the repeated ones) or the strings
        the official SDK uses. ``None`` omits a parameter.

        Args:
            model: ``"flux-general-en"`` or ``"flux-general-multi"``.
            encoding: Raw audio encoding (``linear16``, ``mulaw``, ``alaw``,
                ``linear32``, ``opus``, ``ogg-opus``); omit for containerized
                audio (WAV, Ogg). Requires ``sample_rate``.
            sample_rate: Sample rate of raw audio (16000 is recommended).
            eager_eot_threshold: Confidence (0.3 to 0.9) at which
                ``EagerEndOfTurn`` fires; enables it and ``TurnResumed``.
            eot_threshold: Confidence (0.5 to 1.0, default 0.7) at which
                ``EndOfTurn`` fires; ``1.0`` leaves turn ends to
                :meth:`ListenV2Session.force_end_turn` and the timeout.
            eot_timeout_ms: Milliseconds (500 to 60000, default 5000) after
                speech at which a turn ends regardless of confidence.
            keyterm: Terms to boost; one or a list.
            language_hint: Languages to expect (``flux-general-multi``); one or a list.
            mip_opt_out: Opt out of the Model Improvement Program.
            numerals: Numbers as digits.
            profanity_filter: Filter profanity.
            redact: What to redact (``"numbers"``, ``"aggressive_numbers"``).
            tag: Usage-reporting labels; one or a list.
            authorization: Replaces the ``Authorization`` header value for this
                connection (e.g. ``"Token ..."`` or ``"Bearer ..."``).
            request_options: Extra headers and query parameters, timeouts and
                session tuning; see :class:`~dgtrio.RequestOptions`.
            reconnect: Reconnect on transient failures, replaying the audio of
                the turn in progress; off by default. See
                :class:`~dgtrio.ReconnectPolicy`.

        Raises:
            ConfigurationError: Contradictory or invalid parameters.
        """
        if encoding is not None and sample_rate is None:
            raise ConfigurationError(
                f"encoding={encoding!r} needs sample_rate (omit encoding for WAV and "
                "other containerized audio)"
            )
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
            ListenV2Session,
            params,
            authorization=authorization,
            request_options=request_options,
            reconnect=reconnect,
        )
