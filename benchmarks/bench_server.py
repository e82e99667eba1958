"""The benchmark server: dgtrio's test server with a benchmark engine, in its own process.

    python benchmarks/bench_server.py push [--count 20000] [--framing wsproto|raw]
    python benchmarks/bench_server.py stream [--interval-ms 100] [--final-every 10]

It prints ``PORT <n>`` once it listens and serves ``/v1/listen`` until its
standard input is closed (the benchmark drivers start and stop it; you can also
run it by hand and press Ctrl-D).

``push``: on every connection, send ``--count`` copies of one final Results
(15 words, encoded once at start-up) as fast as the socket takes them, then
close with 1000. ``--framing raw`` also builds the websocket frames once and
writes them in large blocks, bypassing wsproto, so that the server costs almost
nothing per message; ``wsproto`` sends each one with trio-websocket's
``send_message``. ``bench_push.py --libs server-only`` measures either.

``stream``: the real ``/v1/listen`` protocol handler of :mod:`dgtrio.testing`
driven by a benchmark engine that answers every ``--interval-ms`` of audio
with a Hypothesis of a few words: interim, and final every
``--final-every``-th time (so ~10 Results per second of audio per stream by
default). The server's per-connection records (every frame received and sent)
are switched off so that its memory stays flat over long runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from dgtrio._server import listen_v1
from dgtrio._server.core import ServerConnection, register_endpoint
from dgtrio._server.engines import (
    Hypothesis,
    RecognizedWord,
    RecognizerEvent,
    RecognizerOptions,
    SynthesisOptions,
)
from dgtrio.testing import serve_deepgram

try:
    from _support import results_text
except ImportError:  # imported as benchmarks.bench_server
    from benchmarks._support import results_text

VOCABULARY = ("book", "a", "table", "for", "two", "people", "tomorrow", "evening", "please")


class _Discard(list):  # type: ignore[type-arg]
    """A record list that keeps nothing (the server records every frame by default)."""

    def append(self, item: Any) -> None:
        pass


def _stop_recording(conn: ServerConnection) -> None:
    conn.received = _Discard()
    conn.sent = _Discard()
    server = conn.server
    if conn in server.connections:
        server.connections.remove(conn)
    del server.handshakes[:]


# --- push -------------------------------------------------------------------------


def _text_frame(payload: bytes) -> bytes:
    """One unmasked (server to client) websocket text frame."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def push_handler(count: int, framing: str) -> Any:
    text = results_text()
    frame = _text_frame(text.encode())
    # Write in blocks of ~256 KiB: few system calls, bounded memory.
    per_block = max(1, (256 << 10) // len(frame))
    block = frame * per_block

    async def handle(conn: ServerConnection) -> None:
        _stop_recording(conn)
        if framing == "raw":
            ws = conn._ws
            stream = conn._stream
            full, rest = divmod(count, per_block)
            # Hold trio-websocket's send lock so a pong or close reply cannot
            # interleave with our frames.
            async with ws._stream_lock:
                for _ in range(full):
                    await stream.send_all(block)
                if rest:
                    await stream.send_all(frame * rest)
        else:
            for _ in range(count):
                await conn.send_raw(text)
        await conn.close(1000)

    return handle


# --- stream -----------------------------------------------------------------------


@attrs.define
class StreamRecognizer:
    """Answers every ``interval`` seconds of audio with a Hypothesis."""

    sample_rate: int
    interval_samples: int
    final_every: int
    words_per_hypothesis: int
    samples: int = 0
    next_at: int = 0
    emitted: int = 0
    utterance_start: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.next_at = self.interval_samples

    def _hypothesis(self, final: bool) -> Hypothesis:
        now = self.samples / self.sample_rate
        n = self.words_per_hypothesis
        step = max(now - self.utterance_start, 0.01) / n
        words = tuple(
            RecognizedWord(
                VOCABULARY[(self.emitted + i) % len(VOCABULARY)],
                round(self.utterance_start + i * step, 3),
                round(self.utterance_start + (i + 1) * step, 3),
                0.99,
            )
            for i in range(n)
        )
        self.emitted += 1
        if final:
            self.utterance_start = now
        return Hypothesis(words, final=final, end_of_speech=final, time=now)

    async def feed(self, pcm: bytes) -> Sequence[RecognizerEvent]:
        self.samples += len(pcm) // 2
        events: list[RecognizerEvent] = []
        while self.samples >= self.next_at:
            self.next_at += self.interval_samples
            final = (self.emitted + 1) % self.final_every == 0
            events.append(self._hypothesis(final))
        return events

    async def finalize(self) -> Sequence[RecognizerEvent]:
        return [self._hypothesis(True)]


@attrs.define
class StreamEngine:
    """A :class:`~dgtrio._server.engines.SpeechEngine` with a fixed answer rate."""

    interval_ms: int = 100
    final_every: int = 10
    words: int = 4
    name: str = "bench"

    @asynccontextmanager
    async def recognizer(self, options: RecognizerOptions) -> AsyncIterator[StreamRecognizer]:
        yield StreamRecognizer(
            options.sample_rate,
            options.sample_rate * self.interval_ms // 1000,
            self.final_every,
            self.words,
        )

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[bytes]:
        raise NotImplementedError("the benchmark engine does not speak")
        yield b""  # pragma: no cover


def stream_handler() -> Any:
    async def handle(conn: ServerConnection) -> None:
        _stop_recording(conn)
        await listen_v1.serve_listen_v1(conn)

    return handle


# --- main -------------------------------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    if args.mode == "push":
        engine: Any = StreamEngine()
        handler = push_handler(args.count, args.framing)
    else:
        engine = StreamEngine(args.interval_ms, args.final_every, args.words)
        handler = stream_handler()
    register_endpoint(attrs.evolve(listen_v1.ENDPOINT, handler=handler))
    async with serve_deepgram(engine, port=args.port, idle_timeout=60.0) as server:
        print(f"PORT {server.port}", flush=True)
        # Serve until our standard input reaches end-of-file.
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    sub = parser.add_subparsers(dest="mode", required=True)
    push = sub.add_parser("push", help="push Results frames on every connection, then close")
    push.add_argument("--count", type=int, default=20000)
    push.add_argument("--framing", choices=("wsproto", "raw"), default="raw")
    stream = sub.add_parser("stream", help="answer audio with interim and final Results")
    stream.add_argument("--interval-ms", type=int, default=100)
    stream.add_argument("--final-every", type=int, default=10)
    stream.add_argument("--words", type=int, default=4)
    args = parser.parse_args(argv)
    trio.run(serve, args)


if __name__ == "__main__":
    main()
