"""The generic session: one nursery, two channels, a reader, a writer and timers.

Every socket's session class subclasses :class:`Session` and adds only its
messages and methods; all plumbing lives here. The rules, numbered so code
comments can cite them:

1. **The context manager owns the nursery.** :func:`open_session` opens it,
   starts the background tasks and yields the session; nothing outlives the
   ``async with``. The session keeps no nursery after it.
2. **Background tasks never raise** (trio#611's advice for exactly this kind
   of object). The reader parks an error and ends the event stream;
   :meth:`Session.receive` re-raises it once the events buffered before it are
   delivered. A malformed frame is a :class:`~dgtrio.MessageDecodeError` raised
   by ``receive()`` *at its position in the stream*; the next ``receive()``
   carries on, so nothing after it is lost.
3. **One writer task sends every frame that has to wait**, from a bounded
   channel, so audio and control messages keep the order in which they were
   sent and a slow connection pushes back on the producer. When nothing is
   queued or being written, the caller's task sends its frame itself (the
   same order, without a hop to the writer; rule 9). The protocol state is
   checked and updated synchronously before a frame is queued, so nothing can
   be queued after the close message (``CloseStream``, ``Close``).
4. **Timers are idle deadlines**, not periods: a KeepAlive goes out only after
   ``keepalive_interval`` seconds without an outgoing frame, a ping only after
   ``ping_interval`` seconds of silence (KeepAlive messages, which get no
   answer, do not count: they would put the ping off forever); both run under
   trio's clock, so tests drive them with the autojump clock.
5. **Closing.** Leaving the ``async with`` normally closes gracefully: the
   close message is queued after everything already sent, then the session
   reads until the server closes, all inside a shielded scope bounded by
   ``close_timeout``. Leaving by an exception or a cancellation closes
   promptly: a close frame, a short bounded wait, done. Errors parked and
   never seen by the caller are raised when the block is left normally, so no
   failure is silently dropped.
6. **One error out, as itself.** trio wraps everything leaving a nursery in an
   exception group. Because of rule 2 the only error in that group is the
   caller's own (or ours, raised from this module); :func:`open_session`
   re-raises that object unchanged, keeping its ``__cause__``,
   ``__context__`` and traceback. Two or more real errors would be a dgtrio
   bug and become :class:`~dgtrio.InternalError` chained to the group.
7. **Reconnecting happens inside the session** (with a policy,
   ``dgtrio/_reconnect.py`` says what is retried). The reader notices the
   failure, dials again, has the subclass bring the new connection to where
   the old one was (``_resume``: replayed audio, settings, unflushed text),
   and moves the new connection's timestamps by what the old ones consumed.
   ``Reconnecting`` and ``Reconnected`` are delivered in the event stream;
   the application's ``async for`` and pending sends never see the gap.
8. **The first dial is retried too** when a policy is given and the failure
   is transient (a 429 or 5xx handshake, a network error): nothing was sent
   yet, so nothing is replayed and no event announces it. A failure after
   the dial but before the session is handed over (no ``Connected`` or
   ``Welcome``) is raised by ``connect()``.
9. **Every send is a checkpoint, and the frame's fate is clear.** A
   cancelled caller sends nothing (a cancellation point before anything is
   written); a frame that went out is never reported as cancelled (the
   schedule point after the write is shielded, as in trio's own socket
   sends). In between, the common case needs no cancel scope: the transport
   writes the whole frame synchronously (``Transport.send_nowait``), and
   only a frame that has to wait for the socket is written under a shielded
   scope that the send watchdog can cut.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import inspect
import logging
import math
import sys
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

import attrs
import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from ._codec import Schema, UnknownMessage
from ._common import MediaMessage
from ._errors import (
    AckTimeoutError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramError,
    InternalError,
    MessageDecodeError,
    ProtocolError,
    SessionClosedError,
)
from ._events import CallbackMixin
from ._options import SessionOptions
from ._protocol import Ack, ProtocolState
from ._reconnect import Reconnected, Reconnecting, ReconnectPolicy, is_retryable
from ._transport import Transport, TransportClosed, open_transport

__all__ = ["Session", "SessionState", "SessionStatistics", "open_session"]

logger = logging.getLogger("dgtrio")

EventT = TypeVar("EventT")
SessionT = TypeVar("SessionT", bound="Session[Any]")

#: Marks media in protocol checks (the frame itself is plain bytes).
_MEDIA = MediaMessage(b"")
_TIMED_OUT = object()
#: Returned by ``_observe`` to drop an event (e.g. a result delivered before a reconnect).
_DROP = object()
#: Longer gaps between audio frames are pauses, not flow (for the response watchdog).
_FLOW_GAP = 0.5
_SENT = object()
_STUCK = object()


class SessionState(enum.Enum):
    """Where a session is in its life."""

    #: Open: sending and receiving.
    OPEN = "open"
    #: Closing: the caller left or closed; finishing the close handshake.
    CLOSING = "closing"
    #: Closed: nothing more will happen.
    CLOSED = "closed"


@attrs.frozen
class SessionStatistics:
    """A snapshot of a session's counters.

    Attributes:
        state: The session state.
        frames_sent: Frames handed to the websocket (audio and messages).
        audio_bytes_sent: Bytes of audio sent.
        messages_received: Frames received from the server.
        events_buffered: Events received but not yet taken by ``receive()``.
        events_discarded: Events dropped because the caller had left the session.
        send_buffer_used: Frames waiting in the send queue.
        request_id: The server's request id, when known.
        close_code: The websocket close code, once closed.
        reconnects: Connections replaced after a failure (with a ReconnectPolicy).
    """

    state: SessionState
    frames_sent: int
    audio_bytes_sent: int
    messages_received: int
    events_buffered: int
    events_discarded: int
    send_buffer_used: int
    request_id: str | None
    close_code: int | None
    reconnects: int = 0


class _Failure:
    """An error standing at its position in the event stream (rule 2)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Pending:
    """A request waiting for its acknowledgement."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Session(CallbackMixin, trio.abc.ReceiveChannel[EventT], Generic[EventT]):
    """The shared core of every dgtrio session (see the module docstring).

    Do not construct sessions yourself: use ``client.<api>.<version>.connect()``.
    A session is a :class:`trio.abc.ReceiveChannel` of events: iterate it with
    ``async for`` or call :meth:`receive`.
    """

    #: The socket's path below the environment root.
    path: ClassVar[str]
    #: Which :class:`~dgtrio.DeepgramClientEnvironment` field is the root.
    environment_field: ClassVar[str] = "production"
    #: The socket's message classes.
    schema: ClassVar[Schema[Any, Any]]
    #: The socket's protocol rules.
    protocol_class: ClassVar[type[ProtocolState]] = ProtocolState
    #: Default seconds of idleness before a KeepAlive message (None: none).
    default_keepalive_interval: ClassVar[float | None] = None
    #: Default seconds of idleness before a websocket ping (None: none).
    default_ping_interval: ClassVar[float | None] = 20.0
    #: Whether only audio resets the KeepAlive timer (the agent) or any frame.
    keepalive_counts_media_only: ClassVar[bool] = False
    #: Default seconds of audio without a reply before the connection is dead (None: off).
    default_response_timeout: ClassVar[float | None] = None
    #: The message the server greets with (Flux ``Connected``, the agent's ``Welcome``):
    #: the session is handed out only once it arrived (None: no hello).
    hello_class: ClassVar[type | None] = None
    #: Whether :meth:`_text_sent` sees every text frame once it is on the wire
    #: (speak tracks what the server has, for reconnection).
    tracks_sent_text: ClassVar[bool] = False

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        self._transport = transport
        self._options = options
        self._protocol = self.protocol_class()
        self._state = SessionState.OPEN
        self._events_send, self._events_recv = trio.open_memory_channel[Any](
            options.receive_buffer_size
        )
        self._out_send, self._out_recv = trio.open_memory_channel[str | bytes](
            options.send_buffer_size
        )
        self._error: BaseException | None = None
        self._error_seen = False
        self._reader_done = trio.Event()
        self._writer_done = trio.Event()
        now = trio.current_time()
        # Idle timers (rule 4) are stamped when a frame is queued, not when it
        # leaves: a KeepAlive queued behind a backlog must not be followed by
        # another one before the writer reaches it.
        self._last_activity = now
        self._last_media = now
        self._last_keepalive = now
        self._last_ping = now
        self._prompt_close = False
        self._close_deadline = math.inf  # when a close in progress gives up waiting
        self._pending: defaultdict[str, deque[_Pending]] = defaultdict(deque)
        self._request_locks: defaultdict[str, trio.Lock] = defaultdict(trio.Lock)
        self._discard_events = False
        self._frames_sent = 0
        self._audio_bytes_sent = 0
        self._messages_received = 0
        self._events_discarded = 0
        self._close_code: int | None = None
        self._close_reason: str | None = None
        # Reconnection (rule 7): what to dial again, and the current connection.
        self._policy: ReconnectPolicy | None = options.reconnect
        self._url = transport.url
        self._headers: list[tuple[str, str]] = []
        self._nursery: trio.Nursery | None = None
        self._connected_at = now
        self._failures = 0
        self._reconnects = 0
        self._transport_changed = trio.Event()
        self._reconnect_scope: trio.CancelScope | None = None
        self._dead: ConnectionDeadError | None = None
        #: Seconds added to the current connection's timestamps (rule 7).
        self._time_offset = 0.0
        self._last_received = now
        self._awaiting_reply: float | None = None  # first audio sent since the last reply
        self._unanswered_flow = 0.0  # seconds of audio flow since then (pauses excluded)
        self._awaiting_close: float | None = None  # when the close message went out, unanswered
        self._reader_blocked = False  # the reader waits for room in the events channel
        keepalive = self._protocol.keepalive_message
        self._keepalive_frame = None if keepalive is None else self.schema.serialize(keepalive)
        self._hello: Any = None
        self._hello_seen = trio.Event()  # the hello arrived, or the reader ended
        # The send path (rule 3): frames queued and not yet sent, the sends in
        # flight (their shielded scopes and start times, for the send watchdog),
        # and whether the current connection is usable (False while reconnecting).
        self._queued = 0
        self._in_flight: list[tuple[trio.CancelScope, float]] = []
        self._transport_ok = True
        #: When the opening (TCP, TLS, upgrade and hello) must be complete.
        self._open_deadline = now + options.connect_timeout
        super().__init__()

    # ------------------------------------------------------------------ info

    @property
    def state(self) -> SessionState:
        """The session's :class:`SessionState`."""
        return self._state

    @property
    def request_id(self) -> str | None:
        """The server's id for this session (``dg-request-id``), when it sent one."""
        return self._transport.request_id

    @property
    def response_headers(self) -> dict[str, str]:
        """The server's handshake response headers (lowercase names)."""
        return dict(self._transport.response_headers)

    @property
    def close_code(self) -> int | None:
        """The websocket close code once the connection has closed."""
        return self._close_code

    @property
    def close_reason(self) -> str | None:
        """The websocket close reason once the connection has closed."""
        return self._close_reason

    def statistics(self) -> SessionStatistics:
        """Return a :class:`SessionStatistics` snapshot."""
        return SessionStatistics(
            state=self._state,
            frames_sent=self._frames_sent,
            audio_bytes_sent=self._audio_bytes_sent,
            messages_received=self._messages_received,
            events_buffered=self._events_recv.statistics().current_buffer_used,
            events_discarded=self._events_discarded,
            send_buffer_used=self._out_send.statistics().current_buffer_used,
            request_id=self.request_id,
            close_code=self._close_code,
            reconnects=self._reconnects,
        )

    def __repr__(self) -> str:
        parts = [type(self).__name__, self._state.name]
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        parts.append(f"sent={self._frames_sent} received={self._messages_received}")
        if self._close_code is not None:
            parts.append(f"close_code={self._close_code}")
        return f"<{' '.join(parts)}>"

    # ------------------------------------------------------------- receiving

    async def receive(self) -> EventT:
        """Return the next event from the server.

        Cancel-safe: if cancelled, no event is lost.

        Raises:
            trio.EndOfChannel: The server closed the connection normally and
                every event has been received (this ends ``async for``).
            MessageDecodeError: The next frame could not be decoded; the
                stream continues after it.
            ConnectionClosedError: The connection ended abnormally (after the
                events received before that were delivered).
            ServerError: The server sent a fatal error message.
            SessionClosedError: The session was closed by this program.
        """
        try:
            item = await self._events_recv.receive()
        except trio.EndOfChannel:
            if self._error is None:
                raise
            self._error_seen = True
            _reraise(self._error)
        except trio.ClosedResourceError:
            raise SessionClosedError("the session is closed") from None
        if item.__class__ is _Failure:
            self._error_seen = True
            _reraise(item.error)
        return item  # type: ignore[no-any-return]

    async def recv(self) -> EventT:
        """The official SDK's name for :meth:`receive`."""
        return await self.receive()

    async def _reader(self) -> None:
        with self._events_send:  # sync close: cannot mask errors (trio#1559)
            try:
                await self._read_loop()
            except trio.BrokenResourceError:
                pass  # the caller closed its end
            except Exception as exc:
                self._park(InternalError(f"dgtrio's reader failed: {exc!r}"), cause=exc)
            finally:
                self._reader_done.set()
                self._transport_changed.set()
                self._hello_seen.set()
                self._fail_pending()

    async def _read_loop(self) -> None:
        while True:
            closed = await self._read_connection(self._transport)
            if closed is None:
                return  # a fatal event was parked
            error = self._connection_error(closed)
            if (
                error is None
                or self._policy is None
                or not is_retryable(error)
                or (self.hello_class is not None and self._hello is None)
            ):
                # Before the hello the session is still opening: connect()
                # raises the failure, as without a policy (which covers an
                # established session, like the first handshake's refusals).
                self._end_connection(closed, error)
                return
            if self._state is not SessionState.OPEN:
                return  # the caller is leaving: no point in reconnecting
            self._transport_ok = False
            if not await self._reconnect(error):
                return

    async def _read_connection(self, transport: Transport) -> TransportClosed | None:
        """Deliver the events of one connection; return how it ended."""
        schema = self.schema
        protocol = self._protocol
        while True:
            try:
                frame = await transport.receive()
            except TransportClosed as closed:
                return closed
            self._messages_received += 1
            self._awaiting_reply = self._awaiting_close = None
            if frame.__class__ is str:
                try:
                    event = schema.parse_server(frame)
                except MessageDecodeError as exc:
                    logger.debug("%r: undecodable frame: %s", self, exc)
                    await self._deliver(_Failure(exc))
                    continue
            else:
                event = self._binary_event(frame)  # type: ignore[arg-type]
            if self._time_offset:
                event = self._shift(event, self._time_offset)
            if self._hello is None and event.__class__ is self.hello_class:
                self._hello = event
                self._hello_seen.set()
            ack = protocol.received(event)
            if ack is not None:
                self._resolve(ack)
            if self._observe(event) is _DROP:
                continue
            await self._deliver(event)
            fatal = protocol.fatal(event)
            if fatal is not None:
                self._park(fatal)
                await self._read_until_closed(transport)
                return None

    async def _read_until_closed(self, transport: Transport) -> None:
        """After a fatal event: read on briefly, only to learn the close code."""
        with trio.move_on_after(1.0):
            while True:
                try:
                    await transport.receive()
                except TransportClosed as closed:
                    self._close_code, self._close_reason = closed.code, closed.reason
                    return
                logger.debug("%r: frame after a fatal error ignored", self)

    async def _deliver(self, item: Any) -> None:
        if self._discard_events:
            self._events_discarded += 1
            return
        try:
            # The reader yields in every transport.receive(); when the
            # channel has room, handing the event over needs no second yield.
            self._events_send.send_nowait(item)
        except trio.WouldBlock:
            # The application is not reading: the server's silence from now
            # on is ours, not its, so the response watchdog pauses meanwhile.
            self._reader_blocked = True
            try:
                await self._events_send.send(item)
            finally:
                self._reader_blocked = False
                self._awaiting_reply = None

    def _binary_event(self, data: bytes) -> Any:
        """Turn a binary frame from the server into an event (subclasses override)."""
        return UnknownMessage(None, {}, data)

    def _observe(self, event: Any) -> object:
        """Look at each event before it is delivered (subclasses override).

        Return ``_DROP`` to withhold the event (a duplicate after a reconnect).
        """
        return None

    def _shift(self, event: Any, offset: float) -> Any:
        """Move an event's timestamps by ``offset`` seconds (rule 7; subclasses override)."""
        return event

    def _before_media_sent(self, data: bytes) -> None:
        """Called with each audio frame just before it is sent (replay buffers)."""

    async def _resume(self, transport: Transport) -> list[Any]:
        """Bring a new connection to where the old one was (rule 7).

        Runs before the writer may use ``transport``: replay audio, re-send
        the close message if it was sent, wait for a hello. Returns events to
        deliver after :class:`~dgtrio.Reconnected` (a new ``Connected``...).
        Raises a :class:`~dgtrio.DeepgramError` if the connection is unusable.
        """
        if self._protocol.closing and self._protocol.close_message is not None:
            await transport.send(self.schema.serialize(self._protocol.close_message))
        return []

    def _reconnected_details(self) -> dict[str, Any]:
        """What the :class:`~dgtrio.Reconnected` event reports beyond the attempt.

        Subclasses return its optional fields: the audio replayed and lost by
        the last :meth:`_resume`, the flushes lost, a caveat.
        """
        return {}

    def _text_sent(self, frame: str) -> None:
        """Called with each text frame once sent, when :attr:`tracks_sent_text` is set."""

    async def _reconnect(self, cause: DeepgramError) -> bool:
        """Dial again after a transient failure (rule 7); False when giving up."""
        policy = self._policy
        assert policy is not None
        assert self._nursery is not None
        now = trio.current_time()
        if now - self._connected_at < policy.min_uptime:
            self._failures += 1  # a short-lived connection is a failed attempt too
        else:
            self._failures = 0
        outage_started = now
        old = self._transport
        with trio.CancelScope(shield=True):
            await old.aclose_stream()
        with trio.CancelScope() as scope:
            self._reconnect_scope = scope
            while True:
                attempt = self._failures + 1
                elapsed = trio.current_time() - outage_started
                if attempt > policy.max_attempts or elapsed > policy.max_elapsed:
                    _note(cause, f"dgtrio gave up reconnecting after {attempt - 1} attempt(s)")
                    self._park(cause)
                    return False
                delay = policy.delay(attempt)
                announcement = Reconnecting(attempt, delay, cause)
                await self._deliver(announcement)
                logger.debug(
                    "%r: reconnecting in %.3g s (attempt %d): %s", self, delay, attempt, cause
                )
                await trio.sleep(delay)
                decision = await _consult_hook(policy, announcement)
                if decision is False:
                    self._park(cause)
                    return False
                if isinstance(decision, str):
                    self._headers = _with_authorization(self._headers, decision)
                try:
                    transport = await open_transport(
                        self._nursery,
                        self._url,
                        self._headers,
                        ssl_context=self._options.ssl_context,
                        connect_timeout=self._options.connect_timeout,
                        max_message_size=self._options.max_message_size,
                    )
                except DeepgramError as exc:
                    self._failures += 1
                    if not is_retryable(exc):
                        self._park(exc)
                        return False
                    cause = exc
                    continue
                try:
                    with trio.fail_after(self._options.connect_timeout):
                        events = await self._resume(transport)
                except (DeepgramError, TransportClosed, trio.TooSlowError) as exc:
                    with trio.CancelScope(shield=True):
                        await transport.aclose_stream()
                    self._failures += 1
                    error: DeepgramError
                    if isinstance(exc, DeepgramError):
                        error = exc
                    elif isinstance(exc, TransportClosed):
                        error = self._closed_error(exc.code, exc.reason)
                    else:
                        error = ConnectionDeadError(
                            "the new connection did not resume in time", transport.request_id
                        )
                    if not is_retryable(error):
                        self._park(error)
                        return False
                    cause = error
                    continue
                break
        self._reconnect_scope = None
        if scope.cancelled_caught:
            return False  # the session is closing
        self._transport = transport
        self._transport_ok = True
        self._connected_at = trio.current_time()
        # The response watchdog starts afresh: the new connection owes no reply
        # for audio sent to the old one (or queued during the outage).
        self._awaiting_reply = None
        self._awaiting_close = self._connected_at if self._protocol.closing else None
        self._reconnects += 1
        changed, self._transport_changed = self._transport_changed, trio.Event()
        changed.set()
        await self._deliver(
            Reconnected(
                attempt,
                transport.request_id,
                time_offset=self._time_offset,
                **self._reconnected_details(),
            )
        )
        for event in events:
            await self._deliver(event)
        return True

    def _closed_error(self, code: int, reason: str | None) -> DeepgramError:
        """The error for an abnormal close (subclasses map codes to subclasses)."""
        return ConnectionClosedError(code, reason, self.request_id)

    def _connection_error(self, closed: TransportClosed) -> DeepgramError | None:
        """The error a connection's end means, or ``None`` for a normal end."""
        bug = self._transport.reader_error
        if bug is not None:
            error = InternalError(f"trio-websocket's reader failed: {bug!r}")
            error.__cause__ = bug
            return error
        if self._dead is not None:
            dead, self._dead = self._dead, None
            return dead
        if self._prompt_close or trio.current_time() >= self._close_deadline:
            # We were closing in a hurry, or the close ran out of time (its own
            # hang-up, racing _close, may be what ended the connection): how
            # the server answered does not matter.
            return None
        if closed.code in self._protocol.normal_close_codes:
            return None
        return self._closed_error(closed.code, closed.reason)

    def _end_connection(self, closed: TransportClosed, error: DeepgramError | None) -> None:
        self._close_code, self._close_reason = closed.code, closed.reason
        logger.debug("%r: connection closed (%s %s)", self, closed.code, closed.reason or "")
        if error is not None:
            self._park(error)

    def _park(self, error: BaseException, *, cause: BaseException | None = None) -> None:
        if cause is not None:
            error.__cause__ = cause
        if self._error is None:
            self._error = error
        else:
            logger.debug("%r: further error after %r: %r", self, self._error, error)

    # --------------------------------------------------------------- sending

    async def send_media(self, data: bytes | bytearray | memoryview | MediaMessage) -> None:
        """Send audio as one binary frame.

        Empty chunks are dropped (an empty frame would make the server close
        the stream). Waits when the send queue is full.

        Raises:
            SessionClosedError: The session or its sending side is closed.
            ConnectionClosedError: The connection has failed.
        """
        if data.__class__ is not bytes:
            data = data.data if isinstance(data, MediaMessage) else bytes(data)
        if not data:
            await trio.lowlevel.checkpoint()
            return
        if self._state is not SessionState.OPEN or self._close_code is not None:
            self._raise_closed()
        self._protocol.check_send(_MEDIA)
        self._audio_bytes_sent += len(data)
        now = self._last_activity = trio.current_time()
        if self._awaiting_reply is None:
            self._awaiting_reply, self._unanswered_flow = now, 0.0
        elif now - self._last_media < _FLOW_GAP:
            self._unanswered_flow += now - self._last_media  # a pause does not count
        self._last_media = now
        await self._enqueue(data, noted=True)

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame exactly as given (an escape hatch: no checks, no encoding).

        Use it for messages Deepgram added before dgtrio modelled them. Frames
        still go through the send queue, in order.
        """
        if self._state is not SessionState.OPEN or self._close_code is not None:
            self._raise_closed()
        await self._enqueue(frame)

    async def _send_message(self, message: Any) -> None:
        """Check, encode and queue one message (rule 3)."""
        if self._state is not SessionState.OPEN or self._close_code is not None:
            self._raise_closed()
        protocol = self._protocol
        protocol.check_send(message)
        frame = self.schema.serialize(message)
        protocol.sent(message)
        await self._enqueue(frame)
        if protocol.closing:
            self._out_send.close()  # the writer sends what is queued, then stops
            self._awaiting_close = trio.current_time()  # the drain is watched too

    async def _enqueue(self, frame: str | bytes, *, noted: bool = False) -> None:
        """Send ``frame`` from this task if nothing is waiting, else queue it (rule 9).

        ``noted``: the caller already recorded the activity.
        """
        if not noted and (frame.__class__ is bytes or frame != self._keepalive_frame):
            # A KeepAlive gets no answer, so it does not put off a ping (rule 4).
            self._last_activity = trio.current_time()
        if not self._queued and not self._in_flight and self._transport_ok:
            # Fast path: nothing is waiting, so sending from this task keeps the
            # order; it saves the hop to the writer task for every audio frame.
            # The transport's send lock, taken (or its write done) before this
            # task first yields, orders any frame queued meanwhile after this one.
            await trio.lowlevel.checkpoint_if_cancelled()
            await self._send_directly(frame)
            return
        self._queued += 1
        try:
            await self._out_send.send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._queued -= 1
            self._raise_closed()

    async def _send_directly(self, frame: str | bytes) -> None:
        is_media = frame.__class__ is bytes
        if is_media:
            self._before_media_sent(frame)  # type: ignore[arg-type]
        transport = self._transport
        outcome = await self._send_once(transport, frame)
        if outcome is _SENT:
            # Sent: if this is cancelled, the caller must not think otherwise (rule 9).
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if outcome is _STUCK:
            await self._declare_dead(transport)
        if self._policy is None or self._state is not SessionState.OPEN:
            if isinstance(outcome, TransportClosed):
                if outcome.code in self._protocol.normal_close_codes and self._error is None:
                    # A normal end is not a failure (ConnectionClosedError means abnormal).
                    raise SessionClosedError(f"the server closed the connection ({outcome.code})")
                raise self._closed_error(outcome.code, outcome.reason)
            self._raise_closed()
        if not is_media and frame != self._keepalive_frame:
            # A control message goes again once the new connection is up; the
            # writer does that. (Audio is replayed by _resume.)
            self._queued += 1
            await self._out_send.send(frame)

    async def _send_once(self, transport: Transport, frame: str | bytes) -> object:
        """One attempt: ``_SENT``, ``_STUCK``, or the TransportClosed.

        Without a checkpoint when the transport writes the whole frame at
        once (rule 9; the caller yields after); otherwise :meth:`_send_waiting`.
        """
        try:
            rest = transport.send_nowait(frame)
        except trio.WouldBlock:  # another send holds the lock, or the stream is TLS
            outcome = await self._send_waiting(transport, frame, None)
        except TransportClosed as closed:
            self._transport_ok = False
            return closed
        else:
            outcome = _SENT if rest is None else await self._send_waiting(transport, frame, rest)
        if outcome is _SENT:
            self._frames_sent += 1
            if self.tracks_sent_text and frame.__class__ is str:
                self._text_sent(frame)
        return outcome

    async def _send_waiting(
        self, transport: Transport, frame: str | bytes, rest: memoryview | None
    ) -> object:
        """Send ``frame`` (or the ``rest`` of it ``send_nowait`` began) when it has to wait.

        Shielded, because a send cut in the middle would leave half a frame on
        the wire; the send watchdog (``send_timeout``) can still cut it off.
        """
        with trio.CancelScope(shield=True) as scope:
            entry = (scope, trio.current_time())
            self._in_flight.append(entry)
            try:
                if rest is None:
                    await transport.send(frame)
                else:
                    await transport.send_rest(rest)
            except TransportClosed as closed:
                self._transport_ok = False
                return closed
            finally:
                self._in_flight.remove(entry)
        return _STUCK if scope.cancelled_caught else _SENT

    async def _declare_dead(self, transport: Transport) -> None:
        """A send was stuck past ``send_timeout``: the peer stopped reading."""
        if transport is not self._transport or not self._transport_ok:
            return  # already known to have failed (another detector or the reader said why)
        self._transport_ok = False
        bound = self._options.send_timeout or 0.0
        dead = ConnectionDeadError(
            f"a frame could not be sent within {bound:g} s: the server stopped reading",
            transport.request_id,
        )
        if self._policy is None or self._state is not SessionState.OPEN:
            self._park(dead)
        else:
            self._dead = dead  # the reader reports it when the connection ends
        await self._abort_transport()

    async def _send_watchdog(self, bound: float) -> None:
        """Cut off sends in flight for longer than ``bound`` (``send_timeout``).

        A stamp per send and a task that wakes rarely, instead of a cancel
        scope with a deadline around every frame.
        """
        while True:
            if not self._in_flight:
                await trio.sleep(bound / 2)
                continue
            scope, started = self._in_flight[0]
            if trio.current_time() < started + bound:
                await trio.sleep_until(started + bound)
                continue
            for scope, _ in list(self._in_flight):
                scope.cancel()
            await trio.lowlevel.checkpoint()

    def _raise_closed(self) -> NoReturn:
        if self._error is not None and isinstance(self._error, DeepgramError):
            self._error_seen = True  # the caller has it now: not raised again on exit (rule 5)
            raise copy.copy(self._error)
        if self._protocol.closing:
            self._protocol.check_send(_MEDIA)  # raises the precise message
        if self._close_code is not None:
            raise SessionClosedError(f"the server closed the connection ({self._close_code})")
        raise SessionClosedError("the session is closed")

    async def _writer(self) -> None:
        try:
            async for frame in self._out_recv:
                sent = await self._write(frame)
                self._queued -= 1
                if not sent:
                    break
        finally:
            self._out_recv.close()
            self._writer_done.set()
            if self._error is not None and not self._reader_done.is_set():
                # The connection is unusable: stop the reader too.
                await self._abort_transport()

    async def _write(self, frame: str | bytes) -> bool:
        """Send one frame, across reconnections; False when writing must stop."""
        is_media = frame.__class__ is bytes
        while not self._transport_ok:
            # Reconnecting: record nothing for the replay until the new
            # connection is up (_resume replays a snapshot of the buffer).
            if not await self._wait_for_new_transport(self._transport):
                return False
        if is_media:
            self._before_media_sent(frame)  # type: ignore[arg-type]
        while True:
            transport = self._transport
            outcome = await self._send_once(transport, frame)
            if outcome is _SENT:
                return True
            if outcome is _STUCK:
                await self._declare_dead(transport)
            if self._policy is None or self._state is not SessionState.OPEN:
                return False
            if not await self._wait_for_new_transport(transport):
                return False
            if is_media or frame == self._keepalive_frame:
                return True  # audio is replayed by _resume; a KeepAlive is moot
            # a control message goes again on the new connection

    async def _wait_for_new_transport(self, old: Transport) -> bool:
        """Wait until the reader replaced ``old``; False if the session ended instead."""
        while self._transport is old:
            if self._reader_done.is_set():
                return False
            await self._transport_changed.wait()  # set on a new connection or the reader's end
        return True

    async def _abort_transport(self) -> None:
        transport = self._transport
        with trio.CancelScope(shield=True):
            with trio.move_on_after(0.5):
                await transport.aclose(1011, "dgtrio: connection dead")
            await transport.aclose_stream()

    # ------------------------------------------------------ requests and acks

    async def _request(
        self,
        message: Any,
        key: str,
        *,
        ack_timeout: float | None,
        exclusive: bool = False,
    ) -> Any:
        """Send ``message`` and wait for the event that acknowledges it.

        Returns the acknowledgement's value, or ``_TIMED_OUT``.
        """
        lock = self._request_locks[key] if exclusive else nullcontext()
        async with lock:
            pending = _Pending()
            waiters = self._pending[key]
            waiters.append(pending)
            try:
                await self._send_message(message)
                with trio.move_on_after(math.inf if ack_timeout is None else ack_timeout):
                    await pending.done.wait()
            finally:
                if not pending.done.is_set() and pending in waiters:
                    waiters.remove(pending)
        if pending.error is not None:
            if pending.error is self._error:
                self._error_seen = True  # the session's failure, handed to the caller (rule 5)
            raise copy.copy(pending.error)
        return pending.value if pending.done.is_set() else _TIMED_OUT

    def _resolve(self, ack: Ack) -> None:
        waiters = self._pending.get(ack.key)
        if not waiters:
            return
        pending = waiters.popleft()
        pending.value, pending.error = ack.value, ack.error
        pending.done.set()

    def _fail_pending(self) -> None:
        for waiters in self._pending.values():
            while waiters:
                pending = waiters.popleft()
                if isinstance(self._error, DeepgramError):
                    pending.error = self._error
                pending.done.set()

    # ---------------------------------------------------------------- timers

    async def _keepalive_loop(self, interval: float) -> None:
        message = self._protocol.keepalive_message
        media_only = self.keepalive_counts_media_only
        while self._state is SessionState.OPEN and not self._protocol.closing:
            last = self._last_media if media_only else self._last_activity
            deadline = max(last, self._last_keepalive) + interval
            if trio.current_time() < deadline:
                await trio.sleep_until(deadline)
                continue
            self._last_keepalive = trio.current_time()
            try:
                await self._send_message(message)
            except SessionClosedError:
                return
            except ProtocolError:
                continue  # not allowed yet (the agent's Settings come first): try later
            except DeepgramError:
                return
            logger.debug("%r: sent %s after %.3g s idle", self, type(message).__name__, interval)

    async def _ping_loop(self, interval: float, pong_timeout: float) -> None:
        while self._state is SessionState.OPEN:
            deadline = max(self._last_activity, self._last_ping) + interval
            if trio.current_time() < deadline:
                await trio.sleep_until(deadline)
                continue
            self._last_ping = trio.current_time()
            transport = self._transport
            closed = False
            with trio.move_on_after(pong_timeout) as scope:
                try:
                    await transport.ping()
                except TransportClosed:
                    closed = True  # the reader reports how the connection ended
            if not (closed or scope.cancelled_caught):
                continue  # answered
            if (
                scope.cancelled_caught
                and self._state is SessionState.OPEN
                and transport is self._transport
                and self._transport_ok
            ):
                dead = ConnectionDeadError(
                    f"no pong within {pong_timeout:g} s", transport.request_id
                )
                if self._policy is None:
                    self._park(dead)
                else:
                    self._dead = dead  # the reader reconnects and reports it (rule 7)
                await self._abort_transport()
            # Without a policy the session is over; with one, ping the new connection.
            if self._policy is None or not await self._wait_for_new_transport(transport):
                return

    async def _watchdog(self, limit: float) -> None:
        """Declare the connection dead when it stops answering.

        Two cases: audio kept flowing for ``limit`` seconds without a single
        reply (pauses between utterances, when nothing is sent, do not count,
        nor does the time the application leaves the events unread), or the
        close message got no reply within ``limit``.
        """
        while self._state is SessionState.OPEN:
            now = trio.current_time()
            closing = self._awaiting_close
            flowing = (
                self._awaiting_reply is not None
                and self._unanswered_flow >= limit
                and not self._reader_blocked
            )
            drained = closing is not None and now - closing >= limit
            if not (flowing or drained):
                # The earliest moment either could become true.
                wake = now + max(limit - self._unanswered_flow, _FLOW_GAP)
                if closing is not None:
                    wake = min(wake, closing + limit)
                await trio.sleep_until(wake)
                continue
            self._awaiting_reply = self._awaiting_close = None
            transport = self._transport
            if not self._transport_ok:
                # It already failed and is being replaced: that failure is the
                # one reported (a second verdict would outlive it in _dead).
                if not await self._wait_for_new_transport(transport):
                    return
                continue
            what = "audio" if flowing else "the close message"
            dead = ConnectionDeadError(
                f"{what} got no reply from the server for {limit:g} s", self.request_id
            )
            if self._policy is None:
                self._park(dead)
                await self._abort_transport()
                return
            self._dead = dead  # the reader reconnects and reports it
            await self._abort_transport()
            if not await self._wait_for_new_transport(transport):
                return

    # --------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Close the session gracefully (what leaving ``async with`` does).

        Sends the close message if it was not sent, waits for the server to
        finish and close (bounded by ``close_timeout``), then closes the
        connection. Events arriving meanwhile are discarded. Idempotent; always
        closes, even when cancelled.
        """
        await self._close(graceful=True)

    async def _close(self, *, graceful: bool) -> None:
        if self._state is SessionState.CLOSED:
            await trio.lowlevel.checkpoint()
            return
        self._discard_events = True
        if self._reconnect_scope is not None:
            self._reconnect_scope.cancel()  # no new connection for a session that is closing
        if not graceful:
            self._prompt_close = True
        timeout = self._options.close_timeout
        if not graceful:
            # Prompt: send a close frame, wait briefly for the reply. Under an
            # outer cancellation the session's reader is cancelled too and no
            # reply can be read, so do not wait for one at all.
            cancelled = trio.current_effective_deadline() == -math.inf
            timeout = min(timeout, 0.05 if cancelled else 1.0)
        self._close_deadline = trio.current_time() + timeout
        with trio.move_on_at(self._close_deadline, shield=True) as scope:
            if self._state is SessionState.OPEN:
                if graceful:
                    await self._begin_graceful_close()
                self._state = SessionState.CLOSING
                self._out_send.close()
            if graceful:
                await self._writer_done.wait()
                if self._protocol.close_message is None and not self._reader_done.is_set():
                    # Nothing to drain (the agent): everything is sent, close now.
                    await self._transport.aclose(1000, None)
                await self._reader_done.wait()
            await self._transport.aclose(1000, None)
        if scope.cancelled_caught:
            # The server did not finish in time. That is not the caller's error:
            # from here on (_close_deadline), how the connection ends is ignored.
            logger.debug("%r: close did not finish within %g s", self, timeout)
        with trio.CancelScope(shield=True):
            await self._transport.aclose_stream()
        self._state = SessionState.CLOSED
        self._events_recv.close()
        self._nursery = None

    async def _begin_graceful_close(self) -> None:
        """Send the close message unless it was sent or cannot be sent."""
        message = self._protocol.close_message
        if message is None or self._protocol.closing or self._reader_done.is_set():
            return
        with contextlib.suppress(DeepgramError):  # already dead or closing: nothing to do
            await self._send_message(message)

    async def _after_open(self) -> None:
        """Run once the connection is open, before the caller gets the session.

        By default, waits for the :attr:`hello_class` message when there is one;
        subclasses add a setup exchange (the agent's Settings).
        """
        if self.hello_class is not None:
            await self._await_hello()

    async def _await_hello(self) -> Any:
        """Wait for the hello within what is left of ``connect_timeout``.

        Raises:
            AckTimeoutError: The hello did not come in time.
            ConnectionClosedError: The server closed the connection first.
            DeepgramError: The error the connection failed with first.
        """
        assert self.hello_class is not None
        name = self.hello_class.__name__
        with trio.move_on_at(self._open_deadline):
            await self._hello_seen.wait()
        if self._hello is not None:
            return self._hello
        if self._error is not None:
            self._error_seen = True
            raise self._error
        if self._reader_done.is_set():
            raise ConnectionClosedError(
                self._close_code if self._close_code is not None else 1006,
                self._close_reason or f"the server closed the connection before {name}",
                self.request_id,
            )
        raise AckTimeoutError(name, self._options.connect_timeout)

    def _start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery  # for new connections; dropped when the session closes
        nursery.start_soon(self._reader, name=f"{type(self).__name__} reader")
        nursery.start_soon(self._writer, name=f"{type(self).__name__} writer")
        options = self._options
        if options.keepalive_interval is not None and self._protocol.keepalive_message is not None:
            nursery.start_soon(self._keepalive_loop, options.keepalive_interval)
        if options.ping_interval is not None:
            nursery.start_soon(self._ping_loop, options.ping_interval, options.ping_timeout)
        if options.response_timeout is not None:
            nursery.start_soon(self._watchdog, options.response_timeout)
        if options.send_timeout is not None:
            nursery.start_soon(self._send_watchdog, options.send_timeout)


def _note(error: BaseException, text: str) -> None:
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(text)


def _reraise(error: BaseException) -> NoReturn:
    """Raise ``error`` without letting Python replace its ``__context__``."""
    context = error.__context__
    try:
        raise error
    finally:
        error.__context__ = context
        del error, context


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc))
        else:
            found.append(exc)
    return found


def _raise_single(group: BaseExceptionGroup[BaseException], body: BaseException | None) -> NoReturn:
    """Rule 6: re-raise the one real error of ``group`` as itself.

    The caller's own error counts as one, even when it is an exception group
    (several errors from the caller's own nursery): that group comes out
    unchanged. trio re-creates groups on the way (splitting off
    ``Cancelled``), so it is recognized by its leaves, not by identity.
    """
    leaves = _leaves(group)
    for leaf in leaves:
        if isinstance(leaf, (KeyboardInterrupt, SystemExit)):
            _reraise(leaf)
    real = [leaf for leaf in leaves if not isinstance(leaf, trio.Cancelled)]
    if len(real) == 1:
        _reraise(real[0])
    if isinstance(body, BaseExceptionGroup) and real:
        own = {id(leaf) for leaf in _leaves(body)}
        if all(id(leaf) in own for leaf in real):
            _reraise(body)
    if not real:
        _reraise(body if body in leaves else leaves[0])
    raise InternalError(
        "dgtrio: several errors at once in a session; please report this"
    ) from group


async def _consult_hook(policy: ReconnectPolicy, announcement: Reconnecting) -> str | bool | None:
    """The ``on_reconnect`` hook's answer: False vetoes, a str is a new credential."""
    if policy.on_reconnect is None:
        return None
    decision = policy.on_reconnect(announcement)
    if inspect.isawaitable(decision):
        decision = await decision
    return decision


def _with_authorization(headers: Sequence[tuple[str, str]], value: str) -> list[tuple[str, str]]:
    """``headers`` with ``Authorization`` replaced by ``value``."""
    return [(k, v) for k, v in headers if k.lower() != "authorization"] + [("Authorization", value)]


async def _first_transport(
    nursery: trio.Nursery,
    url: str,
    headers: Sequence[tuple[str, str]],
    options: SessionOptions,
) -> tuple[Transport, list[tuple[str, str]], float]:
    """Open the first connection (rule 8).

    With a reconnect policy, a transient refusal of the first dial (a
    handshake answered 429 or 5xx, a network error, a timeout) is retried
    with the policy's backoff, limits and hook, as a reconnect would be:
    nothing has been sent yet, so nothing needs replaying and there is no
    event stream to announce it in. Final refusals are raised at once.

    Returns:
        The transport, the headers that opened it (the hook may have
        replaced ``Authorization``) and the deadline for the server's hello.
    """
    policy = options.reconnect
    headers = list(headers)
    started = trio.current_time()
    failures = 0
    while True:
        deadline = trio.current_time() + options.connect_timeout
        try:
            transport = await open_transport(
                nursery,
                url,
                headers,
                ssl_context=options.ssl_context,
                connect_timeout=options.connect_timeout,
                max_message_size=options.max_message_size,
            )
        except DeepgramError as exc:
            if policy is None or not is_retryable(exc):
                raise
            failures += 1
            if failures > policy.max_attempts or trio.current_time() - started > policy.max_elapsed:
                _note(exc, f"dgtrio gave up connecting after {failures} attempt(s)")
                raise
            delay = policy.delay(failures)
            logger.info("connecting again in %.3g s (retry %d): %s", delay, failures, exc)
            await trio.sleep(delay)
            decision = await _consult_hook(policy, Reconnecting(failures, delay, exc))
            if decision is False:
                raise
            if isinstance(decision, str):
                headers = _with_authorization(headers, decision)
            continue
        return transport, headers, deadline


@asynccontextmanager
async def open_session(
    session_class: type[SessionT],
    url: str,
    headers: Sequence[tuple[str, str]],
    options: SessionOptions,
) -> AsyncIterator[SessionT]:
    """Open a session of ``session_class`` on ``url`` (rules 1, 5 and 6).

    Raises:
        ConnectError: The connection could not be opened.
        HandshakeError: The server refused the upgrade.
    """
    body: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            transport, headers, deadline = await _first_transport(nursery, url, headers, options)
            session = session_class(transport, options)
            session._headers = list(headers)
            session._open_deadline = deadline
            session._start(nursery)
            try:
                await session._after_open()
            except BaseException as exc:
                body = exc
                await session._close(graceful=False)
                raise
            logger.debug("%r: open", session)
            try:
                yield session
            except BaseException as exc:
                body = exc
                await session._close(graceful=False)
                raise
            else:
                await session._close(graceful=True)
                if session._error is not None and not session._error_seen:
                    body = session._error
                    session._error_seen = True
                    _reraise(session._error)
            finally:
                nursery.cancel_scope.cancel(reason="dgtrio session closed")
    except BaseExceptionGroup as group:
        _raise_single(group, body)
