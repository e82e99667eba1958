"""Experimental variants of dgtrio's send path, for measurement only.

Each variant is a patch applied to dgtrio *inside one benchmark process*,
never to the source tree: ``bench_streams.py --variant NAME`` and
``bench_push.py --variant NAME`` run the dgtrio client with it, and
``profile_variants.py`` compares them against an unpatched run on the same
server. They are sketches that keep the semantics that matter for a
measurement (frame order, a checkpoint per send) and skip what does not (a
flush timer, some error paths); see README.rst for what each would take to
do properly. They patch ``dgtrio/_transport.py`` as it is on main (dgtrio
drives wsproto itself: ``Transport.send`` frames with wsproto and writes
with one non-blocking socket send under a ``StrictFIFOLock``).

``baseline``
    dgtrio as it is.
``gather-60ms``
    Audio is gathered into messages of 60 ms (three 20 ms frames of 16 kHz
    linear16) before it is sent; control messages flush it first. The
    user-visible, latency-bounded option of perf-notes.md.
``own-framing``
    ``Transport.send`` builds binary frames itself (``struct`` header and one
    big-integer XOR for the mask) instead of with wsproto; text frames and
    everything else unchanged. (The ``transport`` branch does this for real.)
``yield-per-message``
    ``Transport.receive`` yields to the scheduler (a shielded checkpoint)
    before it returns a message that an earlier read already parsed, so that
    the application consumes each event right after it was decoded instead
    of the reader decoding a whole 64 KiB read's worth (~35 Results) first.
    Today only the read is a schedule point.
``all``
    ``gather-60ms``, ``own-framing`` and ``yield-per-message`` together.

The variants of the trio-websocket era (``no-send-scope``, ``fast-path``,
``direct-socket``, ``fast-path+direct-socket``, ``ws-buffers``,
``ws-buffers-16``, ``nowait-deliver``, ``receive-all``, ``all``) were
merged into ``dgtrio/_session.py`` and ``dgtrio/_transport.py`` and are gone:
they patched trio-websocket, which the client no longer uses, and as
aliases of ``baseline`` they only measured the baseline under other names.
"""

from __future__ import annotations

import contextlib
import os
import struct
from typing import Any

import trio

from dgtrio import _session, _transport
from dgtrio._errors import DeepgramError
from dgtrio._transport import TransportClosed

Session = _session.Session
Transport = _transport.Transport

VARIANTS = ("baseline", "gather-60ms", "own-framing", "yield-per-message", "all")

_original_send_media = Session.send_media
_original_send_message = Session._send_message
_original_transport_send = Transport.send
_original_transport_receive = Transport.receive


# --- gathering --------------------------------------------------------------------

_GATHER_BYTES = 3 * 640  # 60 ms of 16 kHz linear16


async def _send_media_gather(self: Any, data: Any) -> None:
    if data.__class__ is not bytes:
        data = bytes(data.data if hasattr(data, "data") else data)
    if not data:
        await trio.lowlevel.checkpoint()
        return
    pending = self.__dict__.setdefault("_gathered", [])
    pending.append(data)
    self._gathered_bytes = getattr(self, "_gathered_bytes", 0) + len(data)
    if self._gathered_bytes < _GATHER_BYTES:
        if self._state is not _session.SessionState.OPEN or self._close_code is not None:
            self._raise_closed()
        await trio.lowlevel.checkpoint()
        return
    await _flush_gathered(self)


async def _flush_gathered(self: Any) -> None:
    pending = self.__dict__.get("_gathered")
    if not pending:
        return
    data = b"".join(pending)
    pending.clear()
    self._gathered_bytes = 0
    await _original_send_media(self, data)


async def _send_message_flushing(self: Any, message: Any) -> None:
    with contextlib.suppress(DeepgramError):
        await _flush_gathered(self)
    await _original_send_message(self, message)


# --- own framing ------------------------------------------------------------------


def _frame_binary(data: bytes) -> bytes:
    """A masked binary frame, masked with one big-integer XOR (a sketch, not wsproto)."""
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x82, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x82, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x82, 0xFF, n)
    key = os.urandom(4)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + key + (int.from_bytes(data, "little") ^ mask).to_bytes(n, "little")


async def _transport_send_own_framing(self: Any, frame: str | bytes) -> None:
    sock = self._socket
    if frame.__class__ is not bytes or sock is None:
        await _original_transport_send(self, frame)
        return
    lock = self._send_lock
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()
    try:
        if self._send_error is not None:
            await trio.lowlevel.checkpoint()
            raise TransportClosed(self._send_error.code, self._send_error.reason)
        if self._conn.state is not _transport._OPEN:  # what wsproto would refuse
            await trio.lowlevel.checkpoint()
            raise self._refused()
        data = _frame_binary(frame)
        try:
            sent = await sock.send(data)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            raise self._broken() from None
        if sent < len(data):
            await self._write(memoryview(data)[sent:])
    finally:
        lock.release()


# --- a schedule point per received message -----------------------------------------


async def _transport_receive_yielding(self: Any) -> str | bytes:
    if self._events:  # the next message comes from an earlier read: let the consumer run
        await trio.lowlevel.cancel_shielded_checkpoint()
    return await _original_transport_receive(self)  # type: ignore[no-any-return]


# --- apply ------------------------------------------------------------------------


def apply(name: str) -> None:
    """Patch this process's dgtrio with variant ``name`` (see the module docstring)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    if name in ("gather-60ms", "all"):
        Session.send_media = _send_media_gather  # type: ignore[method-assign]
        Session._send_message = _send_message_flushing  # type: ignore[method-assign]
    if name in ("own-framing", "all"):
        Transport.send = _transport_send_own_framing  # type: ignore[method-assign]
    if name in ("yield-per-message", "all"):
        Transport.receive = _transport_receive_yielding  # type: ignore[method-assign]
