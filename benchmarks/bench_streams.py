"""Many concurrent real-time streams: client CPU and memory, dgtrio vs the official SDK.

    python benchmarks/bench_streams.py [--streams 100] [--seconds 20] [--runs 3]
                                       [--libs dgtrio,sdk,...] [--json FILE]

The server (``bench_server.py stream``, its own process) runs dgtrio's
``/v1/listen`` protocol handler with a benchmark engine that answers every
100 ms of audio with a Results of a few words (nine interim, then a final:
~10 Results per second per stream). Each client library runs in a fresh
process of its own and opens ``--streams`` connections; once all are open,
every stream sends 20 ms linear16 frames (640 bytes, each a new ``bytes``
object as from a microphone) on an absolute real-time schedule for
``--seconds`` seconds, staggered across the 20 ms period, while it reads and
decodes the Results; then it sends CloseStream and reads until the server
closes.

Reported per client: CPU seconds of the client process per stream-second of
audio (``time.process_time`` from the start of streaming to the last close;
the imports and handshakes are counted apart), peak RSS (``ru_maxrss``) and
RSS before connecting, and whether it kept real time: wall time over audio
time, the worst lateness of a frame against its schedule, the latency of
Results (arrival minus the send time of the frame that completed their
audio; p50 and p99), and Results received against the number expected.

* dgtrio: ``async with client.listen.v1.connect(...) as session``, a sender
  task (``await session.send_media(frame)``) and ``async for event in
  session``;
* sdk: ``AsyncDeepgramClient``, ``async with client.listen.v1.connect(...) as
  conn``, a sender coroutine (``await conn.send_media(frame)``) and ``async
  for msg in conn``, on the default asyncio event loop.

References, to tell where the CPU goes (``--libs``):

* ``trio-pace``, ``asyncio-pace``: the same schedule and slicing with no
  connection at all: what each event loop's timers cost;
* ``trio-floor``, ``asyncio-floor``: the same traffic over raw sockets (the
  upgrade by hand, pre-masked frames, the server's frames split but not
  decoded): what any client on that event loop pays, with no websocket
  library;
* ``dgtrio-transport``: dgtrio's transport alone (``dgtrio._transport``),
  with no session and no decoding.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from _support import (
    current_rss_mib,
    peak_rss_mib,
    print_machine,
    require_sdk,
    run_child,
    run_server,
    summary,
)

LIBS = (
    "dgtrio",
    "sdk",
    "trio-pace",
    "asyncio-pace",
    "trio-floor",
    "asyncio-floor",
    "dgtrio-transport",
)
FRAME_SECONDS = 0.02
SAMPLE_RATE = 16000
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2


def _audio(seconds: float) -> bytes:
    """Pseudo-random PCM for one stream (content does not matter to the engine)."""
    size = int(seconds / FRAME_SECONDS + 1) * FRAME_BYTES
    return os.urandom(size)


class Stats:
    """What one client process measures over all its streams."""

    def __init__(self, streams: int, seconds: float) -> None:
        self.streams = streams
        self.frames = round(seconds / FRAME_SECONDS)
        self.results = 0
        self.finals = 0
        self.metadata = 0
        self.latencies: list[float] = []
        self.worst_lateness = 0.0
        self.late_frames = 0  # sent more than one frame period after their time
        self.connected = 0
        self.finished = 0
        self.rss_connected = float("nan")

    def on_send(self, lateness: float) -> None:
        if lateness > self.worst_lateness:
            self.worst_lateness = lateness
        if lateness > FRAME_SECONDS:
            self.late_frames += 1

    def on_message(
        self,
        kind: str | None,
        start: float,
        duration: float,
        is_final: bool,
        stream_start: float,
        now: float,
    ) -> None:
        if kind == "Results":
            self.results += 1
            self.finals += bool(is_final)
            end = start + duration
            frame_index = max(round(end / FRAME_SECONDS) - 1, 0)
            if frame_index < self.frames:
                self.latencies.append(now - (stream_start + frame_index * FRAME_SECONDS))
        elif kind == "Metadata":
            self.metadata += 1

    def report(
        self, lib: str, wall: float, cpu: float, setup_cpu: float, rss_before: float, seconds: float
    ) -> dict[str, Any]:
        lat = sorted(self.latencies) or [float("nan")]
        # One Results per 100 ms of audio (5 frames), plus the final one after CloseStream.
        expected = self.streams * (self.frames // 5 + 1)
        return {
            "lib": lib,
            "streams": self.streams,
            "audio_s": seconds,
            "wall_s": wall,
            "wall_over_audio": wall / seconds,
            "cpu_s": cpu,
            "setup_cpu_s": setup_cpu,
            "cpu_ms_per_stream_s": 1000 * cpu / (self.streams * seconds),
            # Cores the client needs to keep real time (CPU per audio second).
            "cpu_cores": cpu / seconds,
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_connect_mib": rss_before,
            "rss_connected_mib": self.rss_connected,
            "rss_per_connection_kib": 1024 * (self.rss_connected - rss_before) / self.streams,
            "results": self.results,
            "results_expected": int(expected),
            "finals": self.finals,
            "metadata": self.metadata,
            "latency_p50_ms": 1000 * lat[len(lat) // 2],
            "latency_p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "worst_lateness_ms": 1000 * self.worst_lateness,
            "late_frames": self.late_frames,
            "finished": self.finished,
            "load_1min": os.getloadavg()[0],
        }


# --- dgtrio -------------------------------------------------------------------------


def client_dgtrio(url: str, streams: int, seconds: float) -> dict[str, Any]:
    import trio

    from dgtrio import DeepgramClient, DeepgramClientEnvironment

    stats = Stats(streams, seconds)
    audio = _audio(seconds)
    rss_before = current_rss_mib()
    setup_cpu0 = time.process_time()
    all_connected = trio.Event()

    async def stream(client: DeepgramClient, index: int, go: trio.Event, t0: list[float]) -> None:
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate=SAMPLE_RATE, interim_results=True
        ) as session:
            stats.connected += 1
            if stats.connected == streams:
                all_connected.set()
            await go.wait()
            start = t0[0] + index * FRAME_SECONDS / streams

            async def send() -> None:
                for k in range(stats.frames):
                    deadline = start + k * FRAME_SECONDS
                    await trio.sleep_until(deadline)
                    stats.on_send(trio.current_time() - deadline)
                    await session.send_media(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
                await session.close_stream()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                async for event in session:
                    kind = event.type
                    if kind == "Results":
                        stats.on_message(
                            kind,
                            event.start,
                            event.duration,  # type: ignore[union-attr]
                            event.is_final,
                            start,
                            trio.current_time(),
                        )  # type: ignore[union-attr]
                    else:
                        stats.on_message(kind, 0, 0, False, start, 0)
        stats.finished += 1

    async def main() -> dict[str, Any]:
        client = DeepgramClient(
            "bench-key", environment=DeepgramClientEnvironment(production=url, agent=url)
        )
        go = trio.Event()
        t0 = [0.0]
        async with trio.open_nursery() as nursery:
            for i in range(streams):
                nursery.start_soon(stream, client, i, go, t0)
            await all_connected.wait()
            stats.rss_connected = current_rss_mib()
            setup_cpu = time.process_time() - setup_cpu0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            t0[0] = trio.current_time() + 0.05
            go.set()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        return stats.report("dgtrio", wall, cpu, setup_cpu, rss_before, seconds)

    return trio.run(main)


# --- the official SDK -----------------------------------------------------------------


def client_sdk(url: str, streams: int, seconds: float) -> dict[str, Any]:
    import asyncio
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # websockets.legacy
    from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

    stats = Stats(streams, seconds)
    audio = _audio(seconds)
    rss_before = current_rss_mib()
    setup_cpu0 = time.process_time()
    http = url.replace("ws://", "http://")
    environment = DeepgramClientEnvironment(base=http, production=url, agent=url, agent_rest=http)

    async def stream(
        client: AsyncDeepgramClient, index: int, go: asyncio.Event, t0: list[float]
    ) -> None:
        loop = asyncio.get_running_loop()
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="16000", interim_results="true"
        ) as conn:
            stats.connected += 1
            await go.wait()
            start = t0[0] + index * FRAME_SECONDS / streams

            async def send() -> None:
                for k in range(stats.frames):
                    deadline = start + k * FRAME_SECONDS
                    delay = deadline - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    stats.on_send(loop.time() - deadline)
                    await conn.send_media(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
                await conn.send_close_stream()

            async def receive() -> None:
                async for msg in conn:
                    kind = getattr(msg, "type", None)
                    if kind == "Results":
                        stats.on_message(
                            kind,
                            msg.start,
                            msg.duration,  # type: ignore[union-attr]
                            bool(msg.is_final),
                            start,
                            loop.time(),
                        )  # type: ignore[union-attr]
                    else:
                        stats.on_message(kind, 0, 0, False, start, 0)

            await asyncio.gather(send(), receive())
        stats.finished += 1

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        client = AsyncDeepgramClient(api_key="bench-key", environment=environment)
        go = asyncio.Event()
        t0 = [0.0]
        tasks = [asyncio.create_task(stream(client, i, go, t0)) for i in range(streams)]
        while stats.connected < streams:
            await asyncio.sleep(0.01)
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        stats.rss_connected = current_rss_mib()
        setup_cpu = time.process_time() - setup_cpu0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        t0[0] = loop.time() + 0.05
        go.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        return stats.report("sdk", wall, cpu, setup_cpu, rss_before, seconds)

    return asyncio.run(main())


# --- references: the pacing alone, no network ------------------------------------------


def client_pace(framework: str, streams: int, seconds: float) -> dict[str, Any]:
    """The same schedule and slicing with no connection: what the event loop's timers cost."""
    import asyncio

    import trio

    stats = Stats(streams, seconds)
    audio = _audio(seconds)
    rss_before = current_rss_mib()
    sink: list[int] = [0]

    if framework == "trio":

        async def trio_stream(index: int, t0: float) -> None:
            start = t0 + index * FRAME_SECONDS / streams
            for k in range(stats.frames):
                deadline = start + k * FRAME_SECONDS
                await trio.sleep_until(deadline)
                stats.on_send(trio.current_time() - deadline)
                sink[0] += len(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
            stats.finished += 1

        async def trio_main() -> tuple[float, float]:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            t0 = trio.current_time() + 0.05
            async with trio.open_nursery() as nursery:
                for i in range(streams):
                    nursery.start_soon(trio_stream, i, t0)
            return time.perf_counter() - wall0, time.process_time() - cpu0

        wall, cpu = trio.run(trio_main)
    else:

        async def asyncio_stream(index: int, t0: float) -> None:
            loop = asyncio.get_running_loop()
            start = t0 + index * FRAME_SECONDS / streams
            for k in range(stats.frames):
                deadline = start + k * FRAME_SECONDS
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                stats.on_send(loop.time() - deadline)
                sink[0] += len(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
            stats.finished += 1

        async def asyncio_main() -> tuple[float, float]:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            t0 = asyncio.get_running_loop().time() + 0.05
            await asyncio.gather(*(asyncio_stream(i, t0) for i in range(streams)))
            return time.perf_counter() - wall0, time.process_time() - cpu0

        wall, cpu = asyncio.run(asyncio_main())
    return stats.report(f"{framework}-pace", wall, cpu, 0.0, rss_before, seconds)


# --- references: the same traffic on raw sockets, no websocket library ----------------

_FLOOR_KEY = b"\x37\xfa\x21\x3d"  # one fixed mask key: the floors do no framing work
_CLOSE_STREAM = b'{"type":"CloseStream"}'


def _masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN set), masked with :data:`_FLOOR_KEY`."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + _FLOOR_KEY + _mask(payload)


def _mask(data: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((_FLOOR_KEY * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


def _upgrade_request(url: str) -> tuple[str, int, bytes]:
    import base64

    host, port = url.removeprefix("ws://").rsplit(":", 1)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&interim_results=true"
        f" HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Authorization: Token bench-key\r\n\r\n"
    )
    return host, int(port), request.encode()


class _FrameCounter:
    """Splits the server's (unmasked) frames; counts Results and Metadata, spots the close.

    No JSON is parsed: a text frame whose start names ``Results`` counts as one.
    """

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buffer = b""
        self.closed = False

    def feed(self, data: bytes) -> None:
        buf = self.buffer + data
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            opcode = buf[pos] & 0x0F
            size = buf[pos + 1] & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if end - pos < head + size:
                break
            if opcode == 1:
                start = buf[pos + head : pos + head + 40]
                if b"Results" in start:
                    self.stats.results += 1
                elif b"Metadata" in start:
                    self.stats.metadata += 1
            elif opcode == 8:
                self.closed = True
            pos += head + size
        self.buffer = buf[pos:]


def client_floor(framework: str, url: str, streams: int, seconds: float) -> dict[str, Any]:
    """The same schedule and traffic over raw non-blocking sockets: an event loop's floor.

    Each stream does the websocket upgrade by hand, then sends pre-masked
    frames (one ``bytes`` concatenation per frame, no framing work) on the
    same schedule as the clients, and reads and splits the server's frames
    without decoding them. What is left is what any client on that event
    loop pays: the timers, the socket system calls and the task switches.
    ``trio``: ``trio.socket`` (``await sock.send`` / ``await sock.recv``, as
    dgtrio's transport does); ``asyncio``: ``asyncio.open_connection``
    (``writer.write`` + ``await writer.drain()`` / ``await reader.read``, as
    the ``websockets`` library under the SDK does). Both with ``TCP_NODELAY``,
    as every client here has it.
    """
    import asyncio

    import trio

    stats = Stats(streams, seconds)
    audio = _audio(seconds)
    masked = _mask(audio)  # the key repeats every 4 bytes and a frame is 640: slices stay aligned
    head = bytes((0x82, 0x80 | 126)) + FRAME_BYTES.to_bytes(2, "big") + _FLOOR_KEY
    close_stream = _masked(1, _CLOSE_STREAM)
    close_reply = _masked(8, (1000).to_bytes(2, "big"))
    host, port, _ = _upgrade_request(url)
    rss_before = current_rss_mib()
    setup_cpu0 = time.process_time()

    def split_response(data: bytes) -> bytes | None:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        if not data.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"upgrade refused: {data[:200]!r}")
        return data[head_end + 4 :]

    if framework == "trio":

        async def trio_stream(
            index: int, go: trio.Event, t0: list[float], all_connected: trio.Event
        ) -> None:
            sock = trio.socket.socket()
            # As trio's SocketStream and asyncio's transports do (without it,
            # Nagle's algorithm batches the small writes and each send costs less).
            sock.setsockopt(trio.socket.IPPROTO_TCP, trio.socket.TCP_NODELAY, 1)
            await sock.connect((host, port))
            await sock.send(_upgrade_request(url)[2])
            data = b""
            while (rest := split_response(data)) is None:
                data += await sock.recv(65536)
            counter = _FrameCounter(stats)
            counter.feed(rest)
            stats.connected += 1
            if stats.connected == streams:
                all_connected.set()
            await go.wait()
            start = t0[0] + index * FRAME_SECONDS / streams

            async def send() -> None:
                for k in range(stats.frames):
                    deadline = start + k * FRAME_SECONDS
                    await trio.sleep_until(deadline)
                    stats.on_send(trio.current_time() - deadline)
                    await sock.send(head + masked[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
                await sock.send(close_stream)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                while not counter.closed:
                    data = await sock.recv(65536)
                    if not data:
                        break
                    counter.feed(data)
                await sock.send(close_reply)
                while await sock.recv(65536):
                    pass
            sock.close()
            stats.finished += 1

        async def trio_main() -> tuple[float, float, float]:
            go, all_connected, t0 = trio.Event(), trio.Event(), [0.0]
            async with trio.open_nursery() as nursery:
                for i in range(streams):
                    nursery.start_soon(trio_stream, i, go, t0, all_connected)
                await all_connected.wait()
                stats.rss_connected = current_rss_mib()
                setup_cpu = time.process_time() - setup_cpu0
                wall0, cpu0 = time.perf_counter(), time.process_time()
                t0[0] = trio.current_time() + 0.05
                go.set()
            return time.perf_counter() - wall0, time.process_time() - cpu0, setup_cpu

        wall, cpu, setup_cpu = trio.run(trio_main)
    else:

        async def asyncio_stream(index: int, go: asyncio.Event, t0: list[float]) -> None:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(_upgrade_request(url)[2])
            data = b""
            while (rest := split_response(data)) is None:
                data += await reader.read(65536)
            counter = _FrameCounter(stats)
            counter.feed(rest)
            stats.connected += 1
            await go.wait()
            start = t0[0] + index * FRAME_SECONDS / streams

            async def send() -> None:
                for k in range(stats.frames):
                    deadline = start + k * FRAME_SECONDS
                    delay = deadline - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    stats.on_send(loop.time() - deadline)
                    writer.write(head + masked[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
                    await writer.drain()
                writer.write(close_stream)
                await writer.drain()

            async def receive() -> None:
                while not counter.closed:
                    data = await reader.read(65536)
                    if not data:
                        break
                    counter.feed(data)

            await asyncio.gather(send(), receive())
            writer.write(close_reply)
            while await reader.read(65536):
                pass
            writer.close()
            stats.finished += 1

        async def asyncio_main() -> tuple[float, float, float]:
            loop = asyncio.get_running_loop()
            go, t0 = asyncio.Event(), [0.0]
            tasks = [asyncio.create_task(asyncio_stream(i, go, t0)) for i in range(streams)]
            while stats.connected < streams:
                await asyncio.sleep(0.01)
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            stats.rss_connected = current_rss_mib()
            setup_cpu = time.process_time() - setup_cpu0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            t0[0] = loop.time() + 0.05
            go.set()
            await asyncio.gather(*tasks)
            return time.perf_counter() - wall0, time.process_time() - cpu0, setup_cpu

        wall, cpu, setup_cpu = asyncio.run(asyncio_main())
    return stats.report(f"{framework}-floor", wall, cpu, setup_cpu, rss_before, seconds)


# --- a layer of dgtrio: its transport alone ----------------------------------------


def client_transport(url: str, streams: int, seconds: float) -> dict[str, Any]:
    """dgtrio's websocket transport (``dgtrio._transport``) with no session and no decoding.

    The same traffic as ``dgtrio``: ``await transport.send(chunk)`` on the
    schedule, a reader task calling ``await transport.receive()`` and
    counting the Results by a substring test, ``CloseStream``, then read until
    the server closes. Between ``trio-floor`` and ``dgtrio``, it tells the
    transport's share of dgtrio's cost from the session's and the decoder's.
    """
    import trio

    from dgtrio import _transport

    stats = Stats(streams, seconds)
    audio = _audio(seconds)
    rss_before = current_rss_mib()
    setup_cpu0 = time.process_time()
    resource = (
        url + "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&interim_results=true"
    )
    headers = [("Authorization", "Token bench-key")]
    close_stream = '{"type":"CloseStream"}'

    async def stream(
        nursery: trio.Nursery, index: int, go: trio.Event, t0: list[float], ready: trio.Event
    ) -> None:
        transport = await _transport.open_transport(nursery, resource, headers)
        stats.connected += 1
        if stats.connected == streams:
            ready.set()
        await go.wait()
        start = t0[0] + index * FRAME_SECONDS / streams

        async def send() -> None:
            for k in range(stats.frames):
                deadline = start + k * FRAME_SECONDS
                await trio.sleep_until(deadline)
                stats.on_send(trio.current_time() - deadline)
                await transport.send(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES])
            await transport.send(close_stream)

        async with trio.open_nursery() as inner:
            inner.start_soon(send)
            try:
                while True:
                    message = await transport.receive()
                    if "Results" in message[:40]:  # type: ignore[operator]
                        stats.results += 1
                    elif "Metadata" in message[:40]:  # type: ignore[operator]
                        stats.metadata += 1
            except _transport.TransportClosed:
                pass
        await transport.aclose_stream()
        stats.finished += 1

    async def main() -> tuple[float, float, float]:
        go, ready, t0 = trio.Event(), trio.Event(), [0.0]
        async with trio.open_nursery() as nursery:
            for i in range(streams):
                nursery.start_soon(stream, nursery, i, go, t0, ready)
            await ready.wait()
            stats.rss_connected = current_rss_mib()
            setup_cpu = time.process_time() - setup_cpu0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            t0[0] = trio.current_time() + 0.05
            go.set()
        return time.perf_counter() - wall0, time.process_time() - cpu0, setup_cpu

    wall, cpu, setup_cpu = trio.run(main)
    return stats.report("dgtrio-transport", wall, cpu, setup_cpu, rss_before, seconds)


# --- the driver ----------------------------------------------------------------------


def drive(args: argparse.Namespace) -> dict[str, Any]:
    libs = [lib for lib in args.libs.split(",") if lib]
    if "sdk" in libs:
        require_sdk()
    print_machine()
    print(
        f"streams: {args.streams} streams x {args.seconds:g} s of 20 ms frames, "
        f"~10 Results/s each, {args.runs} runs per client"
    )
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libs}
    failures: list[dict[str, Any]] = []
    with run_server(["stream"]) as server:
        for run in range(args.runs):
            for lib in libs:
                before = server.cpu_seconds()
                child_args = [
                    "--client",
                    lib,
                    "--url",
                    server.url,
                    "--streams",
                    str(args.streams),
                    "--seconds",
                    str(args.seconds),
                ]
                try:
                    result = run_child(
                        "bench_streams.py", child_args, timeout=max(120, 10 * args.seconds)
                    )
                except RuntimeError as exc:
                    # A client that breaks under load is a result too: report it, go on.
                    last = str(exc).strip().splitlines()[-1]
                    failures.append({"lib": lib, "run": run + 1, "error": last})
                    print(f"  run {run + 1} {lib:13} FAILED: {last}", flush=True)
                    continue
                result["server_cpu_s"] = server.cpu_seconds() - before
                result["run"] = run + 1
                runs[lib].append(result)
                print(
                    f"  run {run + 1} {lib:13} "
                    f"CPU {result['cpu_ms_per_stream_s']:5.2f} ms/stream-s  "
                    f"peak RSS {result['peak_rss_mib']:6.1f} MiB "
                    f"(before connect {result['rss_before_connect_mib']:5.1f}, connected "
                    f"{result['rss_connected_mib']:5.1f})  "
                    f"wall/audio {result['wall_over_audio']:.3f}  "
                    f"results {result['results']}/{result['results_expected']}  "
                    f"latency p50/p99 {result['latency_p50_ms']:.1f}/"
                    f"{result['latency_p99_ms']:.1f} ms  "
                    f"worst lateness {result['worst_lateness_ms']:.1f} ms  "
                    f"(server CPU {result['server_cpu_s']:.1f} s, load {result['load_1min']:.1f})",
                    flush=True,
                )
    report: dict[str, Any] = {
        "streams": args.streams,
        "seconds": args.seconds,
        "libs": {},
        "failures": failures,
    }
    runs = {lib: results for lib, results in runs.items() if results}
    keys = (
        "cpu_ms_per_stream_s",
        "peak_rss_mib",
        "rss_before_connect_mib",
        "rss_connected_mib",
        "rss_per_connection_kib",
        "cpu_cores",
        "wall_over_audio",
        "latency_p50_ms",
        "latency_p99_ms",
        "worst_lateness_ms",
        "setup_cpu_s",
    )
    for lib, results in runs.items():
        entry: dict[str, Any] = {key: summary([r[key] for r in results]) for key in keys}
        entry["results_ok"] = all(
            r["results"] >= r["results_expected"] and r["finished"] == r["streams"] for r in results
        )
        entry["runs"] = results
        report["libs"][lib] = entry
    print()
    print(
        f"{'client':13} {'CPU ms/stream-s':>16} {'peak RSS MiB':>13} {'wall/audio':>11} "
        f"{'p99 latency ms':>15} {'all results':>12}"
    )
    for lib, entry in report["libs"].items():
        print(
            f"{lib:13} {entry['cpu_ms_per_stream_s']['median']:16.2f} "
            f"{entry['peak_rss_mib']['median']:13.1f} {entry['wall_over_audio']['median']:11.3f} "
            f"{entry['latency_p99_ms']['median']:15.1f} {entry['results_ok']!s:>12}"
        )
    if "dgtrio" in runs and "sdk" in runs:
        # Ratios of the runs of the same round (a failed run leaves its round out).
        sdk_by_round = {r["run"]: r for r in runs["sdk"]}
        pairs = [(d, sdk_by_round[d["run"]]) for d in runs["dgtrio"] if d["run"] in sdk_by_round]
        cpu = [d["cpu_ms_per_stream_s"] / s["cpu_ms_per_stream_s"] for d, s in pairs]
        rss = [d["peak_rss_mib"] / s["peak_rss_mib"] for d, s in pairs]
        report["cpu_ratio"] = summary(cpu)
        report["rss_ratio"] = summary(rss)
        print(
            f"dgtrio / sdk CPU: {report['cpu_ratio']['median']:.2f} "
            f"(runs {', '.join(f'{r:.2f}' for r in cpu)}); target <= 0.85: "
            f"{'met' if report['cpu_ratio']['median'] <= 0.85 else 'MISSED'}"
        )
        print(
            f"dgtrio / sdk peak RSS: {report['rss_ratio']['median']:.2f} "
            f"(runs {', '.join(f'{r:.2f}' for r in rss)}); target <= 0.8: "
            f"{'met' if report['rss_ratio']['median'] <= 0.8 else 'MISSED'}"
        )
    for failure in failures:
        print(f"FAILED: run {failure['run']} of {failure['lib']}: {failure['error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=100, help="concurrent streams")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio seconds per stream")
    parser.add_argument("--runs", type=int, default=3, help="runs per client")
    parser.add_argument(
        "--libs", default="dgtrio,sdk", help="comma-separated clients among " + ", ".join(LIBS)
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--client", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--variant",
        default="baseline",
        help="child only: patch dgtrio with this variant (see variants.py)",
    )
    args = parser.parse_args()
    if args.client is None:
        drive(args)
        return
    if args.variant != "baseline":
        import variants

        variants.apply(args.variant)
    if args.client == "dgtrio":
        result = client_dgtrio(args.url, args.streams, args.seconds)
    elif args.client == "sdk":
        result = client_sdk(args.url, args.streams, args.seconds)
    elif args.client == "dgtrio-transport":
        result = client_transport(args.url, args.streams, args.seconds)
    elif args.client.endswith("-floor"):
        result = client_floor(args.client.split("-")[0], args.url, args.streams, args.seconds)
    else:
        result = client_pace(args.client.split("-")[0], args.streams, args.seconds)
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
