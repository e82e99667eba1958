"""``/v1/speak`` on the server side: protocol.md §4 driven by a speech engine.

What it does, as the service does:

* ``Metadata`` first, right after the handshake;
* ``Speak`` text is buffered; ``Flush`` synthesizes the buffer with the
  engine and sends the audio as binary frames in the requested ``encoding``
  (``linear16``, ``mulaw`` or ``alaw``) and ``sample_rate``, then ``Flushed``
  with the flush's ``sequence_id`` (the connection's flushes counted from 0;
  an empty buffer gives a ``Flushed`` and no audio);
* ``Clear`` drops the buffered text, the audio not yet sent and the flushes
  waiting their turn (they get no ``Flushed``), then answers ``Cleared``,
  whose ``sequence_id`` counts the connection's clears from 0;
* ``Close`` synthesizes what is still buffered, lets every pending flush
  finish, then closes with 1000;
* limits: a ``Speak`` over 2000 characters closes with 1009 ``BIG-0001``;
  more than 2400 characters of ``Speak`` text within 60 s closes with 1008
  ``DATA-0001``; a 21st ``Flush`` within 60 s gets a ``Warning``
  (``EXCESSIVE_FLUSH``, in the ``warn_code`` / ``warn_msg`` spelling captured
  from the service) and is ignored; after 60 minutes the connection closes
  with 1011 ``NET-0003``;
* a message with an unknown ``type``, or that is not JSON, closes with 1008
  ``DATA-0000``; a binary frame closes with 1003 ``MESSAGE-0000``.

The rate windows and the connection lifetime are measured on trio's clock,
so tests drive them with the autojump clock.

Audio is sent at :data:`REALTIME_FACTOR` times real time (a chunk of 100 ms
of audio every 25 ms), as a fast speech service streams it, so that a
``Clear`` can interrupt a long synthesis. The first chunk of a flush leaves
at once, and ``Flushed`` right after the last.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio

from .._audio import encode_from_pcm16
from ..speak._text import SPEAK_CHAR_LIMIT, SPEAK_CHARS_PER_WINDOW, SpeakLimits
from ..speak.v1._messages import (
    SCHEMA,
    Clear,
    Cleared,
    Close,
    Flush,
    Flushed,
    Metadata,
    Speak,
    Warning,
)
from .core import ClientGone, Endpoint, ServerConnection, check_bool, check_str, register_endpoint
from .engines import SynthesisOptions

__all__ = ["MAX_CONNECTION_SECONDS", "REALTIME_FACTOR", "serve_speak_v1"]

#: How much faster than real time synthesized audio is sent.
REALTIME_FACTOR = 4.0
#: The longest a connection may last (the service's 60 minutes).
MAX_CONNECTION_SECONDS = 3600.0

_ENCODINGS = ("linear16", "mulaw", "alaw")
_RATES = {
    "linear16": (8000, 16000, 24000, 32000, 48000),
    "mulaw": (8000, 16000),
    "alaw": (8000, 16000),
}
_DEFAULT_RATES = {"linear16": 24000, "mulaw": 8000, "alaw": 8000}
_DEFAULT_MODEL = "aura-asteria-en"


def _check_encoding(value: str) -> str | None:
    if value in _ENCODINGS:
        return None
    return f"the websocket supports linear16, mulaw and alaw, not {value!r}"


def _check_rate(value: str) -> str | None:
    if value.isdigit() and int(value) in _RATES["linear16"]:
        return None
    return f"expected one of 8000, 16000, 24000, 32000, 48000, got {value!r}"


def _check_speed(value: str) -> str | None:
    try:
        speed = float(value)
    except ValueError:
        return f"expected a number, got {value!r}"
    return None if 0 < speed < math.inf else f"expected a positive number, got {value!r}"


_PARAMS = {
    "model": check_str,
    "encoding": _check_encoding,
    "sample_rate": _check_rate,
    "speed": _check_speed,
    "mip_opt_out": check_bool,
}


@attrs.define
class _Job:
    """Text being synthesized: one ``Flush`` (or the final text at ``Close``)."""

    text: str
    flush_id: int | None  # None: the text still buffered at Close (no Flushed)
    chunks: AsyncIterator[bytes] | None = None
    ready: bytes | None = None  # the next chunk, fetched ahead
    due: float = 0.0


class _Stop(Exception):
    """Internal: the connection was closed by this endpoint."""


class _Speak:
    def __init__(self, conn: ServerConnection) -> None:
        hs = conn.handshake
        self.conn = conn
        self.model = hs.param("model") or _DEFAULT_MODEL
        self.encoding = hs.param("encoding") or "linear16"
        rate = hs.param("sample_rate")
        self.sample_rate = int(rate) if rate else _DEFAULT_RATES[self.encoding]
        speed = hs.param("speed")
        self.options = SynthesisOptions(
            sample_rate=self.sample_rate,
            voice=self.model,
            speed=float(speed) if speed else 1.0,
        )
        self.buffer: list[str] = []
        self.jobs: deque[_Job] = deque()
        self.current: _Job | None = None
        self.flushes = 0
        self.clears = 0
        self.closing = False
        self.limits = SpeakLimits()
        self.expires = trio.current_time() + MAX_CONNECTION_SECONDS

    async def _close(self, code: int, reason: str | None) -> None:
        await self.conn.close(code, reason)
        raise _Stop

    async def run(self) -> None:
        if self.sample_rate not in _RATES[self.encoding]:
            rates = " or ".join(str(r) for r in _RATES[self.encoding])
            await self._close(
                1008,
                f"DATA-0000: {self.encoding} audio is available at {rates} Hz, "
                f"not {self.sample_rate}",
            )
        await self.conn.send(
            Metadata(
                request_id=self.conn.request_id,
                model_name=self.model,
                model_version="dgtrio",
                model_uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dgtrio:{self.model}")),
            )
        )
        nothing = object()
        while True:
            if self.current is None and self.jobs:
                await self._start(self.jobs.popleft())
                continue
            if self.current is None and self.closing:
                await self._close(1000, None)
            wake = self.current.due if self.current is not None else math.inf
            item: Any = nothing
            with trio.move_on_at(min(wake, self.expires)):
                item = await self.conn.receive()
            if trio.current_time() >= self.expires:
                await self._close(1011, "NET-0003: the connection reached its 60-minute limit")
            if item is nothing:
                await self._send_chunk()
            else:
                await self._message(item)

    # -- synthesis

    async def _start(self, job: _Job) -> None:
        job.chunks = self.conn.server.engine.synthesize(job.text, self.options)
        job.ready = await anext(job.chunks, None)
        job.due = trio.current_time()
        self.current = job
        if job.ready is None:
            await self._finish()

    async def _send_chunk(self) -> None:
        job = self.current
        assert job is not None
        assert job.chunks is not None
        assert job.ready is not None
        pcm, job.ready = job.ready, None
        await self.conn.send_audio(encode_from_pcm16(pcm, self.encoding))
        seconds = len(pcm) / 2 / self.sample_rate
        job.due = max(job.due + seconds / REALTIME_FACTOR, trio.current_time())
        job.ready = await anext(job.chunks, None)
        if job.ready is None:
            await self._finish()

    async def _finish(self) -> None:
        job = self.current
        assert job is not None
        self.current = None
        await _aclose(job.chunks)
        if job.flush_id is not None:
            await self.conn.send(Flushed(job.flush_id))

    # -- client messages

    async def _message(self, item: Any) -> None:
        if isinstance(item, bytes):
            await self._close(1003, "MESSAGE-0000: binary messages are not supported")
        elif isinstance(item, Speak):
            await self._speak(item.text)
        elif isinstance(item, Flush):
            await self._flush()
        elif isinstance(item, Clear):
            await self._clear()
        elif isinstance(item, Close):
            self.closing = True
            if self.buffer:
                self.jobs.append(_Job("".join(self.buffer), None))
                self.buffer = []
        else:
            await self._close(1008, "DATA-0000: the message is not a valid command")

    async def _speak(self, text: str) -> None:
        if len(text) > SPEAK_CHAR_LIMIT:
            await self._close(
                1009,
                f"BIG-0001: a Speak message may hold {SPEAK_CHAR_LIMIT} characters, "
                f"this one has {len(text)}",
            )
        now = trio.current_time()
        if self.limits.chars_delay(len(text), now) > 0:
            await self._close(
                1008,
                f"DATA-0001: more than {SPEAK_CHARS_PER_WINDOW} characters within a minute",
            )
        self.limits.record_chars(len(text), now)
        self.buffer.append(text)

    async def _flush(self) -> None:
        now = trio.current_time()
        if self.limits.flush_delay(now) > 0:
            await self.conn.send(
                Warning(
                    warn_code="EXCESSIVE_FLUSH",
                    warn_msg="Rate limit exceeded for flushes. Please try again later.",
                )
            )
            return
        self.limits.record_flush(now)
        self.jobs.append(_Job("".join(self.buffer), self.flushes))
        self.flushes += 1
        self.buffer = []

    async def _clear(self) -> None:
        self.buffer = []
        dropped = [*([self.current] if self.current else []), *self.jobs]
        self.current = None
        self.jobs.clear()
        for job in dropped:
            await _aclose(job.chunks)
        await self.conn.send(Cleared(self.clears))
        self.clears += 1


async def _aclose(chunks: AsyncIterator[bytes] | None) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()


async def serve_speak_v1(conn: ServerConnection) -> None:
    """Run ``/v1/speak`` on an accepted connection."""
    with contextlib.suppress(ClientGone, _Stop):
        await _Speak(conn).run()


ENDPOINT = register_endpoint(Endpoint("/v1/speak", SCHEMA, serve_speak_v1, _PARAMS))
