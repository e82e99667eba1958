"""The transport: the client's websocket, driven on wsproto by dgtrio itself.

This is the only module of the client that touches a websocket library. The
session sees four operations, ``send``, ``receive``, ``ping`` and ``aclose``,
and two exceptions of ours: :class:`TransportClosed` for "the connection is
over" and the public :class:`~dgtrio.ConnectError` family for "it never
opened". An upstream API change (the kind that broke every user of the
official SDK when ``websockets`` renamed ``extra_headers``) is fixed here once.

Why wsproto and not trio-websocket
----------------------------------

Until 2026-11 this module wrapped trio-websocket. Its send costs 35 µs of CPU
per 640-byte audio frame on the benchmark machine, against 5 µs for wsproto's
framing and ~7 µs for one non-blocking ``send`` plus a checkpoint: the rest is
a FIFO lock that yields, ``send_all`` that yields again behind a conflict
detector, a logging call and an event object per message. And every received
message crossed trio-websocket's reader task and its memory channel before
dgtrio's own reader saw it: a task switch per message. With 100 real-time
streams of 20 ms frames that was most of the gap to the official SDK
(``benchmarks/README.rst``). wsproto is the sans-IO protocol engine
trio-websocket itself runs on; driving it directly is a few hundred lines and
removes both costs:

* ``send`` frames the message itself and writes it with one non-blocking
  write (one checkpoint) on a plain TCP stream; the session's fast path,
  ``send_nowait``, does the same without the checkpoint (rule 6);
* there is **no background task**: the session's reader task calls
  :meth:`Transport.receive`, which reads the stream, feeds wsproto and answers
  pings itself.

trio-websocket stays a dependency: the in-process test server
(``dgtrio/_server``) still serves with it, and :class:`ReaderGuard` below is
for that server.

Rules
-----

1. **One reader.** Only one task calls :meth:`Transport.receive` (the
   session's reader). Pongs and the peer's close frame are seen only while
   someone is in ``receive()``: :meth:`Transport.ping` and the close handshake
   of :meth:`Transport.aclose` rely on that reader (``aclose`` reads by itself
   when nobody else is reading).
2. **Ordered, whole frames.** Every write (messages, pongs, pings, close
   frames) happens under one :class:`trio.StrictFIFOLock`. ``send`` takes it
   with ``acquire_nowait()`` when it is free, so a caller holds the lock, and
   has its frame's bytes generated, before it first yields: frames of
   concurrent callers go out in call order (the session's send fast path
   depends on it) and never interleave.
3. **A frame cut in half breaks the connection.** When a write is interrupted
   after part of a frame went out (a cancelled ``send_all``), nothing more is
   sent on that connection: later sends raise ``TransportClosed(1006)`` and
   ``aclose`` closes the stream without a close frame.
4. **Nothing escapes but our errors.** The network's errors become
   ``TransportClosed(1006, None)``; wsproto's ``LocalProtocolError`` (sending
   in a state that no longer allows it, such as answering a ping after our
   close frame went out) never escapes.
5. **The end is sticky.** Once the connection is over, every later
   ``receive()`` raises an equal :class:`TransportClosed`; messages that
   arrived before the close frame are returned first.
6. **A write that does not wait needs no lock.** :meth:`Transport.send_nowait`
   writes a whole frame synchronously when the lock is free: no task can run
   between its check and its write, so rule 2 holds without taking the lock,
   and no cancellation can cut the frame. Only when the socket's buffer is
   full does it take the lock and hand the rest to :meth:`Transport.send_rest`.
   Data frames are framed by :func:`frame_message`; wsproto still builds the
   control frames, parses everything, and decides when a message may no
   longer be sent.

Two things done around the upgrade, as before:

1. TLS is handshaken *before* the websocket upgrade, so a certificate problem
   is reported as such.
2. End-of-file during the upgrade is noticed at once: a server that accepts
   TCP and hangs up without answering produces a
   :class:`~dgtrio.ConnectError`, not a connect timeout.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import struct
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlsplit

import trio
import trio.lowlevel
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ._codec import loads
from ._errors import ConfigurationError, ConnectError, HandshakeError

__all__ = [
    "ReaderGuard",
    "Transport",
    "TransportClosed",
    "frame_message",
    "is_loopback_host",
    "open_transport",
]

logger = logging.getLogger("dgtrio")

#: Bytes read from the stream at once: a burst of server messages is parsed
#: from one read, with one scheduling round.
_RECEIVE_BUFFER_SIZE = 65536

#: Whether a plain TCP stream can be written with ``os.write`` on its socket's
#: descriptor (POSIX; on Windows a socket is not a file).
_FD_WRITES = os.name == "posix"

_OPEN = ConnectionState.OPEN
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING
_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class TransportClosed(Exception):
    """Internal: the websocket is closed (by either side, or the network).

    Attributes:
        code: The close code (1006 when there was no close frame, 1005 when
            the close frame had no code).
        reason: The close reason, if any.
    """

    def __init__(self, code: int, reason: str | None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ReaderGuard:
    """Stands in for a nursery when trio-websocket starts its reader task.

    Used by the in-process server (``dgtrio/_server/core.py``), which still
    serves with trio-websocket. trio-websocket raises ``ConnectionRejected``
    (and would raise any bug) from its background reader, which would tear
    down the caller's nursery and come out as an exception group. The guard
    runs the reader in the real nursery but records such an error instead.

    One error is not recorded: wsproto's ``LocalProtocolError`` when the peer's
    ping arrives after our close frame went out (trio-websocket then tries to
    answer it in the ``LOCAL_CLOSING`` state). The connection is ending anyway;
    the reader stops and the close proceeds normally.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.error: BaseException | None = None
        self.failed = trio.Event()

    def start_soon(self, fn: Any, *args: Any, name: object = None) -> None:
        """Start ``fn(*args)`` in the nursery, recording what it raises."""

        async def guarded() -> None:
            try:
                await fn(*args)
            except LocalProtocolError as exc:
                logger.debug("websocket reader stopped while closing: %s", exc)
            except Exception as exc:
                self.error = exc
                self.failed.set()

        self._nursery.start_soon(guarded, name=name or "dgtrio websocket reader")


class Transport:
    """An open websocket connection (client side).

    Made by :func:`open_transport`. One task receives (rule 1 of the module
    docstring); any number of tasks may send.

    Attributes:
        url: The URL it was opened with (never contains credentials).
        response_headers: The server's handshake response headers, lowercase names.
    """

    __slots__ = (
        "_close",
        "_close_sent",
        "_conn",
        "_dead",
        "_draining",
        "_events",
        "_fd",
        "_finished",
        "_max_size",
        "_parts",
        "_ping_count",
        "_pings",
        "_receiving",
        "_send_error",
        "_send_lock",
        "_size",
        "_socket",
        "_stream",
        "_wakeup",
        "response_headers",
        "url",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        connection: Connection,
        url: str,
        response_headers: Mapping[str, str],
        max_message_size: int,
    ) -> None:
        self.url = url
        self.response_headers = response_headers
        self._stream = stream
        # A plain TCP stream is written with its socket's own send (rule 2),
        # and, where sockets are files, synchronously by send_nowait().
        self._socket = stream.socket if type(stream) is trio.SocketStream else None
        self._fd = self._socket.fileno() if self._socket is not None and _FD_WRITES else -1
        self._conn = connection
        self._max_size = max_message_size
        self._send_lock = trio.StrictFIFOLock()
        # Events wsproto parsed that receive() has not handled yet; frames that
        # came with the 101 response are already there.
        self._events: deque[Event] = deque(connection.events())
        self._parts: list[Any] = []  # the fragments of an unfinished message
        self._size = 0
        self._pings: dict[bytes, trio.Event] = {}
        self._ping_count = 0
        self._close: TransportClosed | None = None  # how the connection ended
        self._finished = trio.Event()  # set with _close
        self._send_error: TransportClosed | None = None  # why sending is over
        self._close_sent = False
        self._dead = False  # the stream is closed, or a write broke it: write nothing
        self._receiving = False
        self._draining = False  # aclose() is reading because nobody else was
        self._wakeup: trio.Event | None = None  # aclose() waiting for the reader
        self._check_state()

    def __repr__(self) -> str:
        state = "open" if self._close is None else f"closed {self._close.code}"
        return f"<Transport {self.url} {state} request_id={self.request_id}>"

    @property
    def reader_error(self) -> BaseException | None:
        """Always ``None``: there is no background reader that could fail.

        Kept for the session, which used to report trio-websocket's reader's bugs.
        """
        return None

    @property
    def request_id(self) -> str | None:
        """The ``dg-request-id`` response header, when present."""
        return self.response_headers.get("dg-request-id")

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is closed, else ``None``."""
        return None if self._close is None else self._close.code

    # ------------------------------------------------------------------ sending

    def send_nowait(self, frame: str | bytes) -> memoryview | None:
        """Frame and write one message without waiting, where that is possible.

        The fast path of sending (rule 6): on a plain TCP stream whose send
        lock is free, the frame is built here (:func:`frame_message`) and
        written with one non-blocking ``os.write``, with no schedule point,
        no lock taken and no cancel scope needed: nothing can interleave with
        a write that does not yield, and nothing can cut it in half.

        Returns:
            ``None`` when the whole frame went out. When the socket's buffer
            took only part of it (or none), the rest: the send lock is then
            held for the caller, which must pass the rest to
            :meth:`send_rest` before anything else is sent.

        Raises:
            trio.WouldBlock: Not possible now (another send holds the lock,
                or the stream is TLS or not a socket); nothing was sent: use
                :meth:`send`.
            TransportClosed: The connection is closed or closing.
        """
        if self._send_error is not None:
            raise _copy(self._send_error)
        fd = self._fd
        if fd < 0 or self._send_lock.locked():
            raise trio.WouldBlock
        if self._conn.state is not _OPEN:
            raise self._refused()  # what wsproto would refuse (the peer's close came)
        data = frame_message(frame)
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            raise self._broken() from None
        if sent == len(data):
            return None
        self._send_lock.acquire_nowait()  # free, checked above; send_rest releases it
        return memoryview(data)[sent:]

    async def send_rest(self, rest: memoryview) -> None:
        """Write the rest of a frame :meth:`send_nowait` began, and release the lock.

        Raises:
            TransportClosed: The stream failed (1006). If this is cancelled,
                the frame may be cut in half: the connection is then broken
                (rule 3).
        """
        try:
            await self._write(rest)
        finally:
            self._send_lock.release()

    async def send(self, frame: str | bytes) -> None:
        """Send one message (``str`` as a text frame, ``bytes`` as binary).

        Frames of concurrent callers go out whole and in call order (rule 2).
        Always a checkpoint.

        Raises:
            TransportClosed: The connection is closed or closing (1006 when
                the stream failed).
        """
        if self._fd >= 0:
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                rest = self.send_nowait(frame)
            except trio.WouldBlock:
                pass
            except TransportClosed:
                await trio.lowlevel.cancel_shielded_checkpoint()
                raise
            else:
                if rest is None:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                else:
                    await self.send_rest(rest)
                return
        lock = self._send_lock
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if self._send_error is not None:
                await trio.lowlevel.checkpoint()
                raise _copy(self._send_error)
            if self._conn.state is not _OPEN:
                await trio.lowlevel.checkpoint()
                raise self._refused()
            data = frame_message(frame)
            sock = self._socket
            if sock is None:
                await self._write(data)
                return
            try:
                sent = await sock.send(data)  # if cancelled, nothing was sent
            except _STREAM_ERRORS:
                raise self._broken() from None
            if sent < len(data):
                await self._write(memoryview(data)[sent:])
        finally:
            lock.release()

    async def _write(self, data: bytes | memoryview) -> None:
        """Write ``data`` (a frame or its tail); the caller holds the send lock."""
        try:
            await self._stream.send_all(data)
        except _STREAM_ERRORS:
            raise self._broken() from None
        except BaseException:
            self._broken()  # cancelled with the frame perhaps half written (rule 3)
            raise

    async def _send_control(self, event: Ping | Pong | CloseConnection) -> bool:
        """Send a control frame; False when it cannot be sent (never raises, rule 4)."""
        async with self._send_lock:
            if self._dead:
                return False
            try:
                data = self._conn.send(event)
            except LocalProtocolError as exc:
                logger.debug("%r: %r not sent: %s", self, event, exc)
                return False
            closing = isinstance(event, CloseConnection)
            if closing and self._send_error is None:
                self._send_error = _closed(event)  # type: ignore[arg-type]  # no message after it
            try:
                await self._write(data)
            except TransportClosed:
                return False
            if closing:
                self._close_sent = True
            return True

    def _broken(self) -> TransportClosed:
        """The stream failed under a write: nothing more can be sent (rule 3)."""
        self._dead = True
        self._send_error = TransportClosed(1006, None)
        return TransportClosed(1006, None)

    def _refused(self) -> TransportClosed:
        """Why wsproto refused a message: its state moved on (a close frame)."""
        self._check_state()
        return _copy(self._send_error or self._close or TransportClosed(1006, None))

    def _check_state(self) -> None:
        """Stop sends once wsproto parsed the peer's close frame.

        receive() may not have handled that frame yet (messages before it come
        first); wsproto refuses messages from then on, so sends raise the
        peer's close at once.
        """
        if self._send_error is None and self._conn.state is _REMOTE_CLOSING:
            self._send_error = self._parsed_close()

    def _parsed_close(self) -> TransportClosed | None:
        """The peer's close frame, parsed but not yet handled by receive()."""
        for event in self._events:
            if isinstance(event, CloseConnection):
                return _closed(event)
        return None

    # ---------------------------------------------------------------- receiving

    async def receive(self) -> str | bytes:
        """Receive the next complete message (``str`` or ``bytes``).

        Only one task may call this (the session's reader; rule 1). It answers
        pings and resolves :meth:`ping` waiters on the way. Every call is a
        schedule point, also for a message parsed from an earlier read: the
        application then handles each event while it is fresh in the CPU's
        cache, instead of the reader decoding a whole read's worth of
        messages first (21% less CPU per message when the server pushes
        fast; see benchmarks/README.rst).

        Raises:
            TransportClosed: The connection is over: the peer's close frame
                (its code; 1005 when it had none), 1006 for end-of-file or a
                broken stream, 1009 for a message over ``max_message_size``,
                1002 or 1007 for a frame that breaks the protocol. Every later
                call raises an equal one (rule 5).
            trio.BusyResourceError: Another task is already receiving.
        """
        if self._receiving:
            await self._receive_conflict()
        self._receiving = True
        try:
            events = self._events
            if events:
                await trio.lowlevel.checkpoint()
            else:
                await trio.lowlevel.checkpoint_if_cancelled()  # the read below yields
            while True:
                while events:
                    event = events.popleft()
                    cls = event.__class__
                    if cls is TextMessage or cls is BytesMessage:
                        data = event.data  # type: ignore[attr-defined]
                        finished = event.message_finished  # type: ignore[attr-defined]
                        if finished and not self._parts and len(data) <= self._max_size:
                            return data  # type: ignore[no-any-return]
                        message = await self._fragment(data, finished)
                        if message is not None:
                            return message
                    else:
                        await self._control(event)
                if self._close is not None:
                    raise _copy(self._close)
                try:
                    data = await self._stream.receive_some(_RECEIVE_BUFFER_SIZE)
                except _STREAM_ERRORS:
                    data = b""
                if not data:
                    self._finish(TransportClosed(1006, None))  # no close frame
                    continue
                try:
                    self._conn.receive_data(data)
                except RemoteProtocolError as exc:
                    await self._protocol_error(exc)
                events.extend(self._conn.events())
                if self._conn.state is not _OPEN:
                    self._check_state()
        finally:
            self._receiving = False
            if self._wakeup is not None:
                self._wakeup.set()
                self._wakeup = None

    async def _receive_conflict(self) -> NoReturn:
        if not self._draining:
            raise trio.BusyResourceError("another task is already receiving on this websocket")
        # aclose() reads until the close handshake is over: messages are moot now.
        await self._finished.wait()
        raise _copy(self._close)  # type: ignore[arg-type]

    async def _fragment(self, data: Any, finished: bool) -> str | bytes | None:
        """Add part of a message; the whole message once it is complete."""
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._max_size:
            self._parts.clear()
            self._size = 0
            await self._fail(TransportClosed(1009, f"message over {self._max_size} bytes"))
        if not finished:
            return None
        parts, self._parts, self._size = self._parts, [], 0
        if parts[0].__class__ is str:
            return "".join(parts)
        return b"".join(parts)

    async def _control(self, event: Event) -> None:
        """Handle a ping, a pong or a close frame (or wsproto's parse failure)."""
        if isinstance(event, Ping):
            if self._conn.state is _OPEN:
                await self._send_control(event.response())
        elif isinstance(event, Pong):
            self._pong(bytes(event.payload))
        elif isinstance(event, CloseConnection):
            closed = _closed(event)
            state = self._conn.state
            if state is _REMOTE_CLOSING:
                self._finish(closed)  # the peer closed first: answer it
                await self._send_control(event.response())
            elif state is ConnectionState.CLOSED:
                self._finish(closed)  # the peer's answer to our close frame
            else:
                # wsproto reports a frame it cannot parse as a close event,
                # its state unchanged: fail the connection with that code.
                await self._fail(closed)
        else:  # pragma: no cover - a client connection makes no other event
            logger.debug("%r: unexpected event %r", self, event)

    async def _fail(self, closed: TransportClosed) -> NoReturn:
        """End the connection from our side with ``closed``'s code, and raise it."""
        self._finish(closed)
        self._events.clear()  # nothing after the failure is delivered (rule 5)
        if self._conn.state is _OPEN:
            await self._send_control(CloseConnection(closed.code, closed.reason))
        raise _copy(closed)

    async def _protocol_error(self, exc: RemoteProtocolError) -> NoReturn:
        logger.debug("%r: protocol error: %s", self, exc)
        closed = TransportClosed(1002, str(exc))
        self._finish(closed)
        hint = exc.event_hint
        if isinstance(hint, (Ping, Pong, CloseConnection)):
            await self._send_control(hint)
        await self._close_stream()
        raise _copy(closed)

    def _finish(self, closed: TransportClosed) -> None:
        """Record the end of the connection (the first one counts); wake the waiters."""
        if self._close is not None:
            return
        self._close = closed
        if self._send_error is None:
            self._send_error = closed
        self._finished.set()
        for event in self._pings.values():
            event.set()
        self._pings.clear()

    def _pong(self, payload: bytes) -> None:
        """A pong answers its own ping and every ping sent before it."""
        if payload not in self._pings:
            return
        for key in list(self._pings):
            self._pings.pop(key).set()
            if key == payload:
                return

    # ------------------------------------------------------------------ pinging

    async def ping(self) -> None:
        """Send a ping with a payload of its own and wait for the pong.

        The pong is seen by the task in :meth:`receive` (the session's reader,
        which always runs); bound the wait with a cancel scope.

        Raises:
            TransportClosed: The connection is closed, or closed while waiting.
        """
        if self._send_error is not None:
            await trio.lowlevel.checkpoint()
            raise _copy(self._send_error)
        self._ping_count += 1
        payload = b"dgtrio ping %d" % self._ping_count
        answered = self._pings[payload] = trio.Event()
        try:
            if not await self._send_control(Ping(payload)):
                raise _copy(self._send_error or TransportClosed(1006, None))
            await answered.wait()
        finally:
            self._pings.pop(payload, None)
        if self._close is not None:
            raise _copy(self._close)

    # ------------------------------------------------------------------ closing

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket: our close frame, the peer's, then the stream.

        Idempotent. Waits for the peer's close frame, which the reader sees
        (or this call reads, when nobody is reading); bound the wait with a
        cancel scope. The stream is closed in the end in any case.
        """
        try:
            if self._send_error is None:
                await self._send_control(CloseConnection(code, reason))
            if self._close_sent:
                await self._wait_closed()
        finally:
            await self._close_stream()

    async def _wait_closed(self) -> None:
        """Wait until the close handshake is over (or the stream is)."""
        while self._close is None:
            if not self._receiving:
                self._draining = True  # nobody is reading: read, dropping messages
                try:
                    while True:
                        await self.receive()
                except TransportClosed:
                    return
                finally:
                    self._draining = False
            if self._wakeup is None:
                self._wakeup = trio.Event()
            await self._wakeup.wait()  # the reader saw the end, or left receive()

    async def _close_stream(self) -> None:
        self._dead = True
        self._finish(self._parsed_close() or TransportClosed(1006, None))
        await trio.aclose_forcefully(self._stream)

    async def aclose_stream(self) -> None:
        """Close the TCP (or TLS) stream at once, whatever the websocket state.

        After a close handshake the server started, a client waits for the
        server to hang up; sessions call this last so that no socket is left
        to the garbage collector.
        """
        await self._close_stream()


def frame_message(frame: str | bytes) -> bytes:
    """One whole, masked client frame: a ``str`` as text, ``bytes`` as binary.

    What wsproto builds for a message (RFC 6455 §5.2, no extension), done in
    one ``struct.pack`` and one big-integer XOR instead of wsproto's
    per-frame objects: 2.0 µs against 5.1 for a 640-byte audio frame
    (``benchmarks/micro_send.py``). A fresh 4-byte mask from ``os.urandom``
    for every frame, as the RFC requires of a client.
    """
    if isinstance(frame, str):
        payload, opcode = frame.encode(), 0x81
    else:
        payload, opcode = frame, 0x82
    n = len(payload)
    key = os.urandom(4)
    if n < 126:
        head = struct.pack("!BB4s", opcode, 0x80 | n, key)
    elif n < 65536:
        head = struct.pack("!BBH4s", opcode, 0xFE, n, key)
    else:
        head = struct.pack("!BBQ4s", opcode, 0xFF, n, key)
    if not n:
        return head
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + (int.from_bytes(payload, "little") ^ mask).to_bytes(n, "little")


def _copy(closed: TransportClosed) -> TransportClosed:
    """A fresh exception equal to ``closed`` (raising one object twice grows its traceback)."""
    return TransportClosed(closed.code, closed.reason)


def _closed(event: CloseConnection) -> TransportClosed:
    """A close frame as our exception (wsproto's 1005 when it had no code)."""
    return TransportClosed(int(event.code), event.reason or None)


async def open_transport(
    nursery: trio.Nursery,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float | None = 10.0,
    max_message_size: int = 1 << 20,
) -> Transport:
    """Open a websocket to ``url``.

    ``nursery`` is unused (the transport has no background task); the
    parameter stays for the sessions that pass it.

    Raises:
        ConfigurationError: The URL is not a ``ws://`` or ``wss://`` URL.
        HandshakeError: The server answered the upgrade with an HTTP error.
        ConnectError: Anything else that prevented the connection (DNS, TCP,
            TLS, the server hanging up, ``connect_timeout``).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(f"not a websocket URL: {url!r} (expected ws:// or wss://)")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    host_header = host if port in (80, 443) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port in (80, 443) else f"[{host}]:{port}"
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]

    stream: trio.abc.Stream | None = None
    try:
        with trio.move_on_after(connect_timeout if connect_timeout is not None else float("inf")):
            try:
                stream = await trio.open_tcp_stream(host, port)
                if secure:
                    tls = trio.SSLStream(
                        stream,
                        ssl_context or ssl.create_default_context(),
                        server_hostname=host,
                        https_compatible=True,
                    )
                    stream = tls
                    await tls.do_handshake()
            except OSError as exc:
                raise ConnectError(f"could not connect: {exc.strerror or exc}", url) from exc
            except trio.BrokenResourceError as exc:
                cause = exc.__cause__ or exc
                raise ConnectError(f"TLS handshake failed: {cause}", url) from cause
            return await _upgrade(stream, url, host_header, resource, extra, max_message_size)
        raise ConnectError(f"no websocket connection within {connect_timeout:g} s", url)
    except BaseException:
        if stream is not None:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
        raise


async def _upgrade(
    stream: trio.abc.Stream,
    url: str,
    host_header: str,
    resource: str,
    extra: list[tuple[bytes, bytes]],
    max_message_size: int,
) -> Transport:
    """The HTTP upgrade: the request, then read until wsproto accepts or refuses."""
    ws = WSConnection(ConnectionType.CLIENT)
    request = ws.send(Request(host=host_header, target=resource, extra_headers=extra))
    try:
        await stream.send_all(request)
    except _STREAM_ERRORS as exc:
        raise ConnectError("the server closed the connection during the handshake", url) from exc
    status: int | None = None
    rejected: list[tuple[bytes, bytes]] = []
    body = bytearray()
    eof = False
    while True:
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                response = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.extra_headers
                }
                assert ws.connection is not None  # wsproto made it with the 101
                return Transport(stream, ws.connection, url, response, max_message_size)
            if isinstance(event, RejectConnection):
                status, rejected = event.status_code, list(event.headers)
                if not event.has_body:
                    raise handshake_error(url, status, rejected, b"")
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished:
                    raise handshake_error(url, status or 0, rejected, bytes(body))
        if eof:  # the body was cut short: report what came
            raise handshake_error(url, status or 0, rejected, bytes(body))
        try:
            data = bytes(await stream.receive_some(_RECEIVE_BUFFER_SIZE))
        except _STREAM_ERRORS:
            data = b""
        eof = not data
        if eof and status is None:
            raise ConnectError("the server closed the connection during the handshake", url)
        try:
            # At the end, None lets wsproto finish a body that lasts until it.
            ws.receive_data(data or None)
        except RemoteProtocolError as exc:
            if status is not None:
                raise handshake_error(url, status, rejected, bytes(body)) from exc
            raise ConnectError(f"websocket upgrade failed: {exc}", url) from exc


def handshake_error(
    url: str, status: int, headers: Sequence[tuple[bytes, bytes]], content: bytes
) -> HandshakeError:
    """Our :class:`~dgtrio.HandshakeError` for an HTTP answer to the upgrade.

    Keeps the status, the ``dg-error`` and ``dg-request-id`` headers, and the
    body: parsed when it is JSON, else as text.
    """
    names = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
    body: Any = None
    if content:
        try:
            body = loads(content)
        except ValueError:
            body = content.decode("utf-8", "replace")
    request_id = names.get("dg-request-id")
    if request_id is None and isinstance(body, Mapping):
        candidate = body.get("request_id")
        request_id = candidate if isinstance(candidate, str) else None
    return HandshakeError(
        url,
        status,
        dg_error=names.get("dg-error"),
        request_id=request_id,
        body=body,
        headers=names,
    )
