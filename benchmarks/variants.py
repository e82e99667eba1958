"""Experimental variants of dgtrio's send and receive paths, for measurement only.

Each variant is a patch applied to dgtrio (and trio-websocket) *inside one
benchmark process*, never to the source tree: ``bench_streams.py --variant
NAME`` and ``bench_push.py --variant NAME`` run the dgtrio client with it, and
``profile_variants.py`` compares them against an unpatched run on the same
server. They are sketches that keep the semantics that matter for a
measurement (frame order, a checkpoint per send) and skip what does not
(error paths, the send timeout's watchdog); see README.rst for what each
would take to do properly in ``dgtrio/_session.py`` and ``dgtrio/_transport.py``.

Send path (per 20 ms audio frame):

``no-send-scope``
    The writer sends without a ``trio.move_on_after`` per frame (what the
    per-frame send-timeout CancelScope costs).
``fast-path``
    ``send_media`` sends the frame itself when nothing is queued and no send
    is in flight (no memory channel, no writer task hop); otherwise it queues
    as today. No per-frame CancelScope (a deadline stamp would be checked by
    an existing timer task instead).
``direct-socket``
    ``Transport.send`` frames the message with wsproto and writes it with one
    non-blocking ``socket.send`` when trio-websocket's send lock is free,
    followed by a single ``trio.lowlevel.checkpoint()``; it falls back to the
    normal path when the socket would block or the stream is not a plain
    ``SocketStream`` (TLS). Skips the lock's and ``send_all``'s extra
    scheduling points.
``fast-path+direct-socket``
    Both.
``gather-60ms``
    ``fast-path+direct-socket``, and audio is gathered into messages of 60 ms
    (three 20 ms frames) before it is sent; control messages flush it first.
    The user-visible, latency-bounded option of perf-notes.md.

Receive path (per server message):

``ws-buffers``
    trio-websocket opened with ``message_queue_size=64`` and
    ``receive_buffer_size=65536`` (today: 1 and 4 KiB), so its reader parses
    several frames per ``receive_some`` and does not wait for dgtrio's reader
    after every message.
``ws-buffers-16``
    The same with ``message_queue_size=16``.
``nowait-deliver``
    dgtrio's reader hands events over with ``send_nowait`` when the events
    channel has room (the reader already yields in ``transport.receive()``).
``receive-all``
    ``ws-buffers`` and ``nowait-deliver`` together.
``all``
    ``fast-path+direct-socket`` and ``receive-all`` (no gathering).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import trio
import trio_websocket
from wsproto.events import BytesMessage, TextMessage

from dgtrio import _session, _transport
from dgtrio._errors import DeepgramError
from dgtrio._transport import TransportClosed

Session = _session.Session
Transport = _transport.Transport

VARIANTS = (
    "baseline",
    "no-send-scope",
    "fast-path",
    "direct-socket",
    "fast-path+direct-socket",
    "gather-60ms",
    "ws-buffers",
    "ws-buffers-16",
    "nowait-deliver",
    "receive-all",
    "all",
)

_original_send_media = Session.send_media
_original_send_message = Session._send_message
_original_transport_send = Transport.send


# --- send path --------------------------------------------------------------------


async def _writer_without_scope(self: Any) -> None:
    transport = self._transport
    try:
        async for frame in self._out_recv:
            self._inflight = True
            try:
                await transport.send(frame)
            finally:
                self._inflight = False
            self._frames_sent += 1
    except TransportClosed:
        pass
    finally:
        self._out_recv.close()
        self._writer_done.set()
        if self._error is not None and not self._reader_done.is_set():
            await self._abort_transport()


async def _send_media_fast(self: Any, data: Any) -> None:
    if data.__class__ is not bytes:
        await _original_send_media(self, data)
        return
    if not data:
        await trio.lowlevel.checkpoint()
        return
    if self._state is not _session.SessionState.OPEN or self._close_code is not None:
        self._raise_closed()
    self._protocol.check_send(_session._MEDIA)
    self._audio_bytes_sent += len(data)
    now = trio.current_time()
    self._last_media = self._last_activity = now
    await _send_frame(self, data)


async def _send_frame(self: Any, data: bytes | str) -> None:
    # Nothing queued and no send in flight: send from the caller's task.
    if not getattr(self, "_inflight", False) and not self._out_send._state.data:
        self._inflight = True
        try:
            await self._transport.send(data)
        except TransportClosed:
            self._raise_closed()
        finally:
            self._inflight = False
        self._frames_sent += 1
    else:
        await self._enqueue(data)


async def _transport_send_direct(self: Any, frame: str | bytes) -> None:
    ws = self._ws
    stream = self._stream
    if (
        ws._close_reason is None
        and not ws._stream_lock.locked()
        and isinstance(stream, trio.SocketStream)
    ):
        event = BytesMessage(data=frame) if frame.__class__ is bytes else TextMessage(data=frame)
        data = ws._wsproto.send(event)
        try:
            sent = stream.socket._sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            await _original_transport_send(self, frame)  # let the normal path report it
            return
        if sent == len(data):
            await trio.lowlevel.checkpoint()
            return
        async with ws._stream_lock:
            try:
                await stream.send_all(memoryview(data)[sent:])
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise TransportClosed(1006, None) from None
        return
    await _original_transport_send(self, frame)


_GATHER_BYTES = 3 * 640  # 60 ms of 16 kHz linear16


async def _send_media_gather(self: Any, data: Any) -> None:
    if data.__class__ is not bytes:
        data = bytes(data.data if hasattr(data, "data") else data)
    if not data:
        await trio.lowlevel.checkpoint()
        return
    if self._state is not _session.SessionState.OPEN or self._close_code is not None:
        self._raise_closed()
    self._protocol.check_send(_session._MEDIA)
    self._audio_bytes_sent += len(data)
    now = trio.current_time()
    self._last_media = self._last_activity = now
    pending = getattr(self, "_gathered", None)
    if pending is None:
        pending = self._gathered = []
        self._gathered_bytes = 0
    pending.append(data)
    self._gathered_bytes += len(data)
    if self._gathered_bytes < _GATHER_BYTES:
        await trio.lowlevel.checkpoint()
        return
    await _flush_gathered(self)


async def _flush_gathered(self: Any) -> None:
    pending = getattr(self, "_gathered", None)
    if not pending:
        return
    data = b"".join(pending)
    pending.clear()
    self._gathered_bytes = 0
    await _send_frame(self, data)


async def _send_message_flushing(self: Any, message: Any) -> None:
    with contextlib.suppress(DeepgramError):
        await _flush_gathered(self)
    await _original_send_message(self, message)


# --- receive path -----------------------------------------------------------------


def _bigger_ws_buffers(queue: int = 64) -> None:
    original = trio_websocket.wrap_client_stream
    trio_websocket.wrap_client_stream = functools.partial(
        original, message_queue_size=queue, receive_buffer_size=65536
    )


async def _deliver_nowait(self: Any, item: Any) -> None:
    if self._discard_events:
        self._events_discarded += 1
        return
    try:
        self._events_send.send_nowait(item)
    except trio.WouldBlock:
        await self._events_send.send(item)


# --- apply ------------------------------------------------------------------------


def apply(name: str) -> None:
    """Patch this process's dgtrio with variant ``name`` (see the module docstring)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    parts = set(name.split("+"))
    if name == "all":
        parts = {"fast-path", "direct-socket", "ws-buffers", "nowait-deliver"}
    if name == "receive-all":
        parts = {"ws-buffers", "nowait-deliver"}
    if name == "gather-60ms":
        parts = {"fast-path", "direct-socket", "gather"}
    if parts & {"no-send-scope", "fast-path", "gather"}:
        Session._writer = _writer_without_scope
    if "fast-path" in parts:
        Session.send_media = _send_media_fast
    if "gather" in parts:
        Session.send_media = _send_media_gather
        Session._send_message = _send_message_flushing
    if "direct-socket" in parts:
        Transport.send = _transport_send_direct
    if "ws-buffers" in parts:
        _bigger_ws_buffers()
    if "ws-buffers-16" in parts:
        _bigger_ws_buffers(16)
    if "nowait-deliver" in parts:
        Session._deliver = _deliver_nowait
