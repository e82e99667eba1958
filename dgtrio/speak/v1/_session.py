"""The ``/v1/speak`` session: streaming text to speech (Aura).

What the session adds to the generic core:

1. **Text in, audio out, one stream.** Binary frames arrive as
   :class:`~dgtrio.AudioChunk` events carrying the session's encoding and
   sample rate, in the same ``async for`` as ``Metadata``, ``Flushed``,
   ``Cleared`` and ``Warning``. :meth:`SpeakV1Session.audio` iterates the audio
   alone, and :meth:`SpeakV1Session.write_wav` saves it as a WAV file.
2. **Requests that wait for their answer.** :meth:`~SpeakV1Session.flush`
   returns the matching ``Flushed`` and :meth:`~SpeakV1Session.clear` the
   ``Cleared``. Flushes are matched to ``Flushed`` messages in order (the
   protocol state counts them), not by ``sequence_id``, whose meaning the
   service does not document. A ``Clear`` makes the server drop the flushes
   still being synthesized; their ``flush()`` calls return ``None``.
3. **Limits kept, not discovered.** Deepgram closes the connection when a
   ``Speak`` message is over 2000 characters (1009 ``BIG-0001``) or the text
   sent within a minute is over 2400 characters (1008 ``DATA-0001``), and it
   ignores ``Flush`` messages past 20 a minute. The session never gets there:
   :meth:`~SpeakV1Session.send_text` splits long text at sentence, then word
   boundaries, and sending *waits* until the limits allow it (the design
   choice: backpressure rather than an error, see :attr:`SpeakV1Session.limits`).
   Should the server close with one of those codes anyway, the error is typed:
   :class:`TextTooLongError`, :class:`CharacterRateLimitError`, and
   :class:`ConnectionTimeLimitError` for the 60-minute limit (1011 ``NET-0003``).
4. **Closing.** :meth:`~SpeakV1Session.close` sends ``Close``: the server
   finishes the audio of what was flushed or buffered, then closes, and the
   event stream ends. Leaving the ``async with`` does the same (discarding the
   audio), bounded by ``close_timeout``.
5. **Reconnecting** (with ``reconnect=ReconnectPolicy(...)``). The server
   holds two things a new connection does not have: the text sent since the
   last ``Flush`` (not spoken yet) and the flushes being spoken. The first is
   sent again, before anything queued after it, so it is spoken as if nothing
   happened. The second cannot be recovered without repeating audio the
   application may already have played: those flushes are *lost*. Their
   :meth:`~SpeakV1Session.flush` calls raise :class:`FlushLostError`, and the
   :class:`~dgtrio.Reconnected` event lists them in ``lost_flushes``; send
   their text again if it must be heard. A ``Clear`` the server had not
   answered is sent again (it is answered at once), and the flushes it
   dropped return ``None`` as usual.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, cast
from urllib.parse import parse_qs, urlsplit

import trio

from ..._common import AudioChunk, MediaMessage
from ..._errors import (
    ConnectionClosedError,
    DeepgramError,
    ProtocolError,
    RequestError,
    SessionClosedError,
)
from ..._errors import reason_code as _reason_code
from ..._options import RequestOptions, SessionOptions
from ..._protocol import Ack, ProtocolState
from ..._reconnect import ReconnectPolicy
from ..._session import Session, SessionState
from ..._transport import Transport
from ..._wav import WavWriter
from .._text import SPEAK_CHAR_LIMIT, SpeakLimits, split_text
from ._messages import (
    SCHEMA,
    Clear,
    Cleared,
    Close,
    Flush,
    Flushed,
    Metadata,
    Speak,
    SpeakV1ControlMessage,
    SpeakV1Event,
    SpeakV1TextMessage,
    Warning,
)

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = [
    "AudioStream",
    "CharacterRateLimitError",
    "ConnectionTimeLimitError",
    "FlushLostError",
    "SpeakV1Client",
    "SpeakV1Protocol",
    "SpeakV1Session",
    "TextTooLongError",
]

logger = logging.getLogger("dgtrio")

#: Default output sample rates per encoding (protocol.md §4.1).
_DEFAULT_RATES = {"linear16": 24000, "mulaw": 8000, "alaw": 8000}
#: Marks a flush dropped by a Clear (its flush() returns None).
_CLEARED = object()


# --- errors ---------------------------------------------------------------------


class TextTooLongError(ConnectionClosedError):
    """The server closed with 1009 ``BIG-0001``: a ``Speak`` message was over 2000 characters.

    :meth:`SpeakV1Session.send_text` splits text so this cannot happen; it
    means a frame was sent with ``send_raw``.
    """


class CharacterRateLimitError(ConnectionClosedError):
    """The server closed with 1008 ``DATA-0001``: too many characters within a minute.

    The session waits to stay under :attr:`SpeakV1Session.limits`; this means
    the server counted differently, or the limits were raised.
    """


class ConnectionTimeLimitError(ConnectionClosedError):
    """The server closed with 1011 ``NET-0003``: the connection reached its 60-minute limit.

    Open a new session to go on.
    """


class FlushLostError(RequestError):
    """A flush was being spoken when the connection failed; its audio may be incomplete.

    Raised by :meth:`SpeakV1Session.flush` in a session that reconnected (see
    the module docs): the session goes on, the text of this flush is not
    spoken again unless you send it again.

    Attributes:
        index: Which flush (numbered from 0 in the order sent).
    """

    def __init__(self, index: int, request_id: str | None) -> None:
        super().__init__(
            "FLUSH_LOST",
            f"the connection failed while flush #{index} was being spoken "
            f"(request id {request_id}); its audio may be incomplete",
        )
        self.index = index
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.index, self.request_id))


_CLOSE_ERRORS: dict[tuple[int, str], type[ConnectionClosedError]] = {
    (1009, "BIG-0001"): TextTooLongError,
    (1008, "DATA-0001"): CharacterRateLimitError,
    (1011, "NET-0003"): ConnectionTimeLimitError,
}


# --- protocol -------------------------------------------------------------------


class SpeakV1Protocol(ProtocolState):
    """The rules of ``/v1/speak`` (protocol.md §4).

    Only text frames may be sent, and nothing after ``Close``. ``Flushed``
    messages answer ``Flush`` messages in order: the n-th ``Flushed`` answers
    the request keyed ``"flush#n"``. ``Cleared`` answers a ``Clear``; the
    flushes sent before that ``Clear`` and not answered yet were dropped by
    the server, and are listed in :attr:`cancelled` for the session to
    release.

    Attributes:
        flushes_sent: ``Flush`` messages sent so far.
        flushes_answered: Flushes answered (by ``Flushed``, or dropped by a ``Clear``).
        cancelled: Indices of flushes a ``Cleared`` has just dropped.
        clears_pending: For each ``Clear`` not answered yet, ``flushes_sent``
            when it was sent: the flushes before that mark are the ones it drops.
    """

    close_message: ClassVar[Any] = Close()

    def __init__(self) -> None:
        super().__init__()
        self.flushes_sent = 0
        self.flushes_answered = 0
        self.cancelled: list[int] = []
        self.clears_pending: list[int] = []

    def check_send(self, message: Any) -> None:
        """Refuse audio, and anything after ``Close``.

        Raises:
            SessionClosedError: ``Close`` was already sent.
            ProtocolError: ``message`` is audio.
        """
        super().check_send(message)
        if isinstance(message, MediaMessage):
            raise ProtocolError("/v1/speak takes text, not audio: use send_text()")

    def sent(self, message: Any) -> None:
        """Count flushes and remember where each ``Clear`` falls among them."""
        super().sent(message)
        cls = message.__class__
        if cls is Flush:
            self.flushes_sent += 1
        elif cls is Clear:
            self.clears_pending.append(self.flushes_sent)

    def received(self, event: Any) -> Ack | None:
        """Map ``Flushed`` and ``Cleared`` to the requests they answer."""
        cls = event.__class__
        if cls is Flushed:
            index = self.flushes_answered
            self.flushes_answered += 1
            return Ack(f"flush#{index}", event)
        if cls is Cleared:
            upto = self.clears_pending.pop(0) if self.clears_pending else self.flushes_sent
            self.cancelled.extend(range(self.flushes_answered, upto))
            self.flushes_answered = max(self.flushes_answered, upto)
            return Ack("clear", event)
        return None


# --- audio iteration --------------------------------------------------------------


class AudioStream:
    """The audio of a session, without the other events: ``async for chunk in session.audio()``.

    A plain async iterator (not a generator), so leaving the loop early leaves
    the session as it was. Events that are not audio are kept in
    :attr:`skipped` rather than dropped; errors are raised as by
    :meth:`SpeakV1Session.receive`.

    Args:
        session: The session to read.
        until_flushed: Stop after the next ``Flushed`` or ``Cleared``.

    Attributes:
        skipped: The events that were not audio, in order.
    """

    def __init__(self, session: SpeakV1Session, *, until_flushed: bool = False) -> None:
        self._session = session
        self._until_flushed = until_flushed
        self._done = False
        self.skipped: list[SpeakV1Event] = []

    def __aiter__(self) -> AudioStream:
        return self

    async def __anext__(self) -> AudioChunk:
        while not self._done:
            try:
                event = await self._session.receive()
            except trio.EndOfChannel:
                self._done = True
                break
            if isinstance(event, AudioChunk):
                return event
            self.skipped.append(event)
            if self._until_flushed and isinstance(event, (Flushed, Cleared)):
                self._done = True
        raise StopAsyncIteration


# --- the session --------------------------------------------------------------------


class SpeakV1Session(Session[SpeakV1Event]):
    """A streaming text-to-speech session on ``/v1/speak`` (see the module docs).

    Iterate it for :class:`~dgtrio.AudioChunk`, :class:`~dgtrio.speak.v1.Metadata`,
    :class:`~dgtrio.speak.v1.Flushed`, :class:`~dgtrio.speak.v1.Cleared`,
    :class:`~dgtrio.speak.v1.Warning` and :class:`~dgtrio.UnknownMessage`.
    A websocket ping goes out after ``ping_interval`` seconds (default 10)
    without an outgoing frame.

    Attributes:
        encoding: The audio encoding the session asked for (``linear16`` by default).
        sample_rate: The audio sample rate in Hz (the encoding's default when
            none was given; ``None`` for an encoding dgtrio has no default for).
        limits: The rate limits :meth:`send_text` and :meth:`flush` keep to.
            Replace it, e.g. with ``SpeakLimits(max_chars=2000)`` for a margin.
    """

    path: ClassVar[str] = "/v1/speak"
    schema = SCHEMA
    protocol_class = SpeakV1Protocol
    default_ping_interval: ClassVar[float | None] = 10.0
    tracks_sent_text: ClassVar[bool] = True

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        super().__init__(transport, options)
        # The URL is the single source of truth, additional_query_parameters included.
        query = parse_qs(urlsplit(transport.url).query)
        self.encoding: str = query.get("encoding", ["linear16"])[-1]
        rate = query.get("sample_rate", [""])[-1]
        self.sample_rate: int | None = (
            int(rate) if rate.isdigit() else _DEFAULT_RATES.get(self.encoding)
        )
        self.limits = SpeakLimits()
        self._chars_lock = trio.Lock()
        self._flush_lock = trio.Lock()
        self._metadata: Metadata | None = None
        self._warnings: list[Warning] = []
        # What the server holds, counted as frames leave (rule 7 of
        # dgtrio._session; see "Reconnecting" in the module docs).
        self._unflushed: list[str] = []  # Speak texts on the wire since the last Flush/Clear
        self._wire_flushes = 0
        self._wire_clears = 0
        self._clears_answered = 0
        self._lost_flushes: tuple[int, ...] = ()

    # ------------------------------------------------------------------ info

    @property
    def metadata(self) -> Metadata | None:
        """The server's ``Metadata`` (which model serves the session), once received."""
        return self._metadata

    @property
    def warnings(self) -> tuple[Warning, ...]:
        """Every ``Warning`` received so far (also delivered as events)."""
        return tuple(self._warnings)

    # ----------------------------------------------------------- core hooks

    @property
    def _speak_protocol(self) -> SpeakV1Protocol:
        return cast("SpeakV1Protocol", self._protocol)

    def _binary_event(self, data: bytes) -> AudioChunk:
        return AudioChunk(data, self.encoding, self.sample_rate)

    def _observe(self, event: Any) -> None:
        cls = event.__class__
        if cls is Metadata:
            self._metadata = event
        elif cls is Warning:
            logger.debug("%r: server warning: %s", self, event)
            self._warnings.append(event)
        elif cls is Cleared:
            self._clears_answered += 1
            protocol = self._speak_protocol
            for index in protocol.cancelled:
                self._resolve(Ack(f"flush#{index}", _CLEARED))
            protocol.cancelled.clear()

    def _text_sent(self, frame: str) -> None:
        if self._policy is None:
            return  # nothing to resume: no need to keep the text
        message = SCHEMA.parse_client(frame)
        cls = message.__class__
        if cls is Speak:
            self._unflushed.append(cast("Speak", message).text)
        elif cls is Flush:
            self._unflushed.clear()
            self._wire_flushes += 1
        elif cls is Clear:
            self._unflushed.clear()
            self._wire_clears += 1

    async def _resume(self, transport: Transport) -> list[Any]:
        protocol = self._speak_protocol
        # Flushes answered < a pending Clear's mark were dropped by it; the rest
        # of those on the wire were being spoken: lost.
        unanswered_clears = self._wire_clears - self._clears_answered
        answered = cleared_upto = protocol.flushes_answered
        if unanswered_clears:
            cleared_upto = max(answered, protocol.clears_pending[unanswered_clears - 1])
        lost = tuple(range(cleared_upto, self._wire_flushes))
        protocol.flushes_answered = max(answered, self._wire_flushes)
        for index in range(answered, cleared_upto):
            self._resolve(Ack(f"flush#{index}", _CLEARED))
        for index in lost:
            self._resolve(Ack(f"flush#{index}", error=FlushLostError(index, self.request_id)))
        self._lost_flushes = lost
        if lost:
            logger.warning("%r: flushes %s lost with the connection", self, list(lost))
        for _ in range(unanswered_clears):
            await transport.send(SCHEMA.serialize(Clear()))
        for text in self._unflushed:
            await transport.send(SCHEMA.serialize(Speak(text)))
        return await super()._resume(transport)

    def _reconnected_details(self) -> dict[str, Any]:
        lost, self._lost_flushes = self._lost_flushes, ()
        details: dict[str, Any] = {"lost_flushes": lost}
        if lost:
            details["note"] = (
                f"{len(lost)} flush(es) were being spoken and are lost; "
                "text not yet flushed was sent again"
            )
        return details

    def _closed_error(self, code: int, reason: str | None) -> DeepgramError:
        error_class = _CLOSE_ERRORS.get((code, _reason_code(reason) or ""))
        if error_class is not None:
            return error_class(code, reason, self.request_id)
        return super()._closed_error(code, reason)

    def _check_can_send(self, message: Any) -> None:
        """Fail now, before waiting for a rate limit, if ``message`` could not be sent."""
        if self._state is not SessionState.OPEN or self._close_code is not None:
            self._raise_closed()
        self._protocol.check_send(message)

    # --------------------------------------------------------------- sending

    async def send_text(self, text: str | SpeakV1TextMessage | Speak) -> None:
        """Add text to the server's buffer (it is spoken at the next flush or close).

        Text longer than 2000 characters (or than ``limits.max_chars``) is
        sent as several ``Speak`` messages, cut at sentence boundaries, else at
        word boundaries, never inside a word unless a single word is longer
        than the limit (see :func:`~dgtrio.speak.v1.split_text`). Each message
        waits, if needed, until it fits in the characters-per-minute limit;
        bound that wait with :func:`trio.move_on_after` if you prefer to give
        up. Empty text sends nothing.

        Raises:
            SessionClosedError: ``Close`` was sent, or the session is closed.
            ConnectionClosedError: The connection has failed.
        """
        if isinstance(text, (SpeakV1TextMessage, Speak)):
            text = text.text
        if not isinstance(text, str):
            raise TypeError(f"send_text takes a str or SpeakV1TextMessage, not {text!r}")
        pieces = split_text(text, min(SPEAK_CHAR_LIMIT, self.limits.max_chars))
        if not pieces:
            await trio.lowlevel.checkpoint()
            return
        async with self._chars_lock:
            for piece in pieces:
                message = Speak(piece)
                self._check_can_send(message)
                while (delay := self.limits.chars_delay(len(piece), trio.current_time())) > 0:
                    logger.debug("%r: waiting %.3g s for the character limit", self, delay)
                    await trio.sleep(delay)
                    self._check_can_send(message)
                self.limits.record_chars(len(piece), trio.current_time())
                await self._send_message(message)

    async def _take_flush_slot(self) -> None:
        async with self._flush_lock:
            self._check_can_send(Flush())
            while (delay := self.limits.flush_delay(trio.current_time())) > 0:
                logger.debug("%r: waiting %.3g s for the flushes-per-minute limit", self, delay)
                await trio.sleep(delay)
                self._check_can_send(Flush())
            self.limits.record_flush(trio.current_time())

    async def flush(self) -> Flushed | None:
        """Have the buffered text spoken now; return when all its audio has been sent.

        Waits first, if needed, so as not to exceed 20 flushes a minute. The
        audio arrives as :class:`~dgtrio.AudioChunk` events meanwhile: read
        the session in another task, or make sure ``receive_buffer_size``
        can hold it, because a full buffer stops the session from reading the
        ``Flushed`` that ends this wait.

        Returns:
            The matching ``Flushed``, or ``None`` when a :meth:`clear` made
            the server drop this flush before it finished.

        Raises:
            SessionClosedError: ``Close`` was sent, or the connection closed
                before the flush was answered.
        """
        await self._take_flush_slot()
        # Keyed by position: nothing yields between reading the count and
        # _request sending the Flush, so the key is this Flush's own.
        key = f"flush#{self._speak_protocol.flushes_sent}"
        result = await self._request(Flush(), key, ack_timeout=None)
        if result is _CLEARED:
            return None
        if result is None:
            raise SessionClosedError("the connection closed before the Flush was answered")
        flushed: Flushed = result
        return flushed

    async def clear(self) -> Cleared:
        """Stop: drop the buffered text and the audio not yet sent (barge-in).

        Returns once the server has confirmed with ``Cleared``; audio that was
        already on its way may still arrive before it. Pending :meth:`flush`
        calls whose audio was dropped return ``None``.

        Raises:
            SessionClosedError: ``Close`` was sent, or the connection closed
                before the server answered.
        """
        result = await self._request(Clear(), "clear", ack_timeout=None)
        if result is None:
            raise SessionClosedError("the connection closed before the Clear was answered")
        cleared: Cleared = result
        return cleared

    async def close(self) -> None:
        """Send ``Close``: no more text; the server finishes the audio, then closes.

        Keep iterating the session (or :meth:`audio`) to receive that audio;
        the stream ends when the server closes. Nothing may be sent afterwards.
        Leaving the ``async with`` block sends ``Close`` too if it was not sent.
        """
        await self._send_message(Close())

    async def send_control(self, message: Flush | Clear | Close | SpeakV1ControlMessage) -> None:
        """Send a control message without waiting for its answer.

        Accepts the typed messages and the official SDK's
        ``SpeakV1ControlMessage(type="Flush")``. A ``Flush`` still keeps to
        the flushes-per-minute limit.
        """
        if isinstance(message, SpeakV1ControlMessage):
            message = message.to_message()
        if not isinstance(message, (Flush, Clear, Close)):
            raise TypeError(f"not a /v1/speak control message: {message!r}")
        if isinstance(message, Flush):
            await self._take_flush_slot()
        await self._send_message(message)

    # ------------------------------------------------------------- receiving

    def audio(self, *, until_flushed: bool = False) -> AudioStream:
        """Iterate the audio alone: ``async for chunk in session.audio():``.

        Other events are kept in the stream's ``skipped`` list (the session's
        :attr:`metadata` and :attr:`warnings` have them too).

        Args:
            until_flushed: End after the next ``Flushed`` or ``Cleared``,
                instead of when the server closes.
        """
        return AudioStream(self, until_flushed=until_flushed)

    async def write_wav(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        *,
        until_flushed: bool = False,
        on_event: Callable[[SpeakV1Event], object] | None = None,
    ) -> float:
        """Write the audio received to a WAV file, with the right header.

        Reads the session like :meth:`audio`: until the server closes (after
        :meth:`close`), or with ``until_flushed`` until the next ``Flushed``
        or ``Cleared``. ``mulaw`` and ``alaw`` audio is written as 16-bit PCM
        (:class:`~dgtrio.speak.v1.WavWriter`). The header is completed when
        this returns, even if it raises. The file is written synchronously:
        fine for speech, which is small.

        Args:
            file: A path, or a binary file object (left open).
            until_flushed: Stop after the next ``Flushed`` or ``Cleared``.
            on_event: Called with every event that is not audio, in order.

        Returns:
            The seconds of audio written.
        """
        with WavWriter(file, encoding=self.encoding, sample_rate=self.sample_rate) as writer:
            while True:
                try:
                    event = await self.receive()
                except trio.EndOfChannel:
                    break
                if isinstance(event, AudioChunk):
                    writer.write(event)
                    continue
                if on_event is not None:
                    on_event(event)
                if until_flushed and isinstance(event, (Flushed, Cleared)):
                    break
        return writer.duration


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
        reconnect: ReconnectPolicy | None = None,
    ) -> AbstractAsyncContextManager[SpeakV1Session]:
        """Open a text-to-speech session.

        Use as ``async with client.speak.v1.connect(model="aura-2-asteria-en",
        encoding="linear16", sample_rate=24000) as session:``. Parameters are
        Deepgram's query parameters (protocol.md §4.1); ``None`` omits one.
        The voice and the audio format cannot change during a session.

        Args:
            model: The voice, e.g. ``"aura-2-asteria-en"`` (Deepgram's default
                is ``aura-asteria-en``).
            encoding: ``linear16`` (default), ``mulaw`` or ``alaw``; the audio
                is raw, without a container.
            sample_rate: linear16: 8000, 16000, 24000 (default), 32000 or
                48000; mulaw and alaw: 8000 (default) or 16000.
            speed: Speaking-rate multiplier.
            mip_opt_out: Opt out of the Model Improvement Program.
            authorization: Replaces the ``Authorization`` header value for this
                connection.
            request_options: Extra headers and query parameters, timeouts and
                session tuning; see :class:`~dgtrio.RequestOptions`.
            reconnect: Reconnect on transient failures, sending again the
                text not yet flushed; off by default. See
                :class:`~dgtrio.ReconnectPolicy` and the module docs.
        """
        params: list[tuple[str, Any]] = [
            ("model", model),
            ("encoding", encoding),
            ("sample_rate", sample_rate),
            ("speed", speed),
            ("mip_opt_out", mip_opt_out),
        ]
        return self._client._open(
            SpeakV1Session,
            params,
            authorization=authorization,
            request_options=request_options,
            reconnect=reconnect,
        )
