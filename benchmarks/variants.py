"""Experimental variants of dgtrio's send path, for measurement only.

Each variant is a patch applied to dgtrio *inside one benchmark process*,
never to the source tree: ``bench_streams.py --variant NAME`` and
``bench_push.py --variant NAME`` run the dgtrio client with it, and
``profile_variants.py`` compares them against an unpatched run on the same
server. They are sketches that keep the semantics that matter for a
measurement (frame order, the schedule points) and skip what does not (a
flush timer, some error paths).

``baseline``
    dgtrio as it is.
``gather-60ms``
    Audio is gathered into messages of 60 ms (three 20 ms frames of 16 kHz
    linear16) before it is sent; control messages flush it first. What an
    application that sends 60 ms chunks gets, or an opt-in gathering option
    would give.

Variants that were measured and then merged (``own-framing`` and
``yield-per-message``, 2026-11-24; ``no-send-scope``, ``fast-path``,
``direct-socket``, ``ws-buffers``, ``nowait-deliver`` and ``receive-all`` of
the trio-websocket era before them) are gone: as aliases of ``baseline`` they
would only measure the baseline under other names. So is one measured and
given up: ``yield-every-send`` measured the opposite of a send that yields
only once in 16 sends; the two cost the same CPU at 100 streams (1.01x).
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from dgtrio import _session
from dgtrio._errors import DeepgramError

Session = _session.Session

VARIANTS = ("baseline", "gather-60ms")

_original_send_media = Session.send_media
_original_send_message = Session._send_message


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


# --- apply ------------------------------------------------------------------------


def apply(name: str) -> None:
    """Patch this process's dgtrio with variant ``name`` (see the module docstring)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    if name == "gather-60ms":
        Session.send_media = _send_media_gather  # type: ignore[method-assign]
        Session._send_message = _send_message_flushing  # type: ignore[method-assign]
