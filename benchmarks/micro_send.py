"""Per-frame costs of the pieces of dgtrio's send path, one at a time (µs of CPU).

    python benchmarks/micro_send.py [--frames 20000] [--runs 3]

Measures, in CPU time of the trio thread (``time.thread_time``; a helper
thread drains the loopback socket and is not counted):

* ``checkpoint``: ``await trio.lowlevel.checkpoint()`` (one trip through the
  scheduler; trio's socket send, lock and channel operations each include one);
* ``move_on_after scope``: entering and leaving ``trio.move_on_after(30)``
  (the writer's per-frame send timeout), beyond the checkpoint inside it;
* ``channel hop``: one frame through a memory channel to another task that
  was waiting for it and back to waiting (the writer-task hop), per frame;
* ``wsproto framing``: ``wsproto`` framing and masking of a 640-byte binary
  message (client side, so masked);
* ``int-XOR framing sketch``: the same frame built with ``struct`` and one
  big-integer XOR for the mask (what a dgtrio-owned framer could cost);
* ``SocketStream.send_all``: trio's send of 640 bytes on a TCP loopback socket;
* ``socket.send + checkpoint``: a non-blocking stdlib ``send`` of the same
  bytes followed by one checkpoint (what a direct-write path costs);
* ``ws.send_message``: trio-websocket's whole send (framing, lock, send_all),
  what dgtrio's transport used until 2026-11-24;
* ``Transport.send``: dgtrio's transport (wsproto framing and one
  non-blocking socket send under its FIFO lock);
* ``session.send_media``: dgtrio's whole path (checks, the inline send with
  its shielded scope, the transport), per frame, with the sender yielding
  once after each frame as a paced producer does.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import threading
import time
from collections.abc import Awaitable, Callable

import trio
import trio_websocket
from _support import print_machine
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage

FRAME = bytes(range(256)) * 2 + bytes(128)  # 640 bytes


def _frame_binary(data: bytes, key: bytes) -> bytes:
    """A masked binary frame, masking with one big-integer XOR (a sketch, not wsproto)."""
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x82, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x82, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x82, 0xFF, n)
    mask = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + key + (int.from_bytes(data, "little") ^ mask).to_bytes(n, "little")


def _check_framing() -> None:
    key = os.urandom(4)
    frame = _frame_binary(FRAME, key)
    payload = frame[len(frame) - len(FRAME) :]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(payload)) == FRAME


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


async def _timed(n: int, body: Callable[[int], Awaitable[None]]) -> float:
    t = time.thread_time()
    await body(n)
    return 1e6 * (time.thread_time() - t) / n


async def measure(n: int) -> dict[str, float]:
    results: dict[str, float] = {}

    async def checkpoints(n: int) -> None:
        for _ in range(n):
            await trio.lowlevel.checkpoint()

    results["checkpoint"] = await _timed(n, checkpoints)

    async def scopes(n: int) -> None:
        for _ in range(n):
            with trio.move_on_after(30):
                await trio.lowlevel.checkpoint()

    results["move_on_after scope"] = await _timed(n, scopes) - results["checkpoint"]

    async def hops(n: int) -> None:
        send, receive = trio.open_memory_channel[bytes](64)
        done = trio.Event()

        async def writer() -> None:
            async for _ in receive:
                pass
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.sleep(0.01)
            for _ in range(n):
                await send.send(FRAME)  # wakes the writer; our yield lets it run
            await send.aclose()
            await done.wait()

    results["channel hop"] = await _timed(n, hops)

    conn = Connection(ConnectionType.CLIENT)

    async def framing(n: int) -> None:
        for _ in range(n):
            conn.send(BytesMessage(data=FRAME))

    results["wsproto framing"] = await _timed(n, framing)

    async def own_framing(n: int) -> None:
        for _ in range(n):
            _frame_binary(FRAME, os.urandom(4))

    results["int-XOR framing sketch"] = await _timed(n, own_framing)

    a, b = socket.socketpair()
    drainer = threading.Thread(target=_drain, args=(b,), daemon=True)
    drainer.start()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(a))

    async def send_alls(n: int) -> None:
        for _ in range(n):
            await stream.send_all(FRAME)

    results["SocketStream.send_all"] = await _timed(n, send_alls)
    raw = stream.socket

    async def direct(n: int) -> None:
        for _ in range(n):
            try:
                raw.send  # noqa: B018 - the attribute lookup a real path pays
                a.send(FRAME)
            except BlockingIOError:
                await stream.send_all(FRAME)
            await trio.lowlevel.checkpoint()

    results["socket.send + checkpoint"] = await _timed(n, direct)
    await stream.aclose()
    b.close()
    return results


async def measure_websocket(n: int, url: str) -> dict[str, float]:
    """trio-websocket and dgtrio end to end against the discarding server."""
    results: dict[str, float] = {}

    async with trio_websocket.open_websocket_url(url) as ws:

        async def ws_sends(n: int) -> None:
            for _ in range(n):
                await ws.send_message(FRAME)

        results["ws.send_message"] = await _timed(n, ws_sends)

    from dgtrio import _transport

    async with trio.open_nursery() as nursery:
        transport = await _transport.open_transport(nursery, url, [])

        async def transport_sends(n: int) -> None:
            for _ in range(n):
                await transport.send(FRAME)

        results["dgtrio Transport.send"] = await _timed(n, transport_sends)
        await transport.aclose()
        await transport.aclose_stream()
        nursery.cancel_scope.cancel()

    from dgtrio import _session
    from dgtrio._options import SessionOptions
    from dgtrio.listen.v1 import ListenV1Session

    options = SessionOptions(keepalive_interval=None)
    async with _session.open_session(ListenV1Session, url + "/v1/listen", [], options) as session:

        async def media(n: int) -> None:
            for _ in range(n):
                await session.send_media(FRAME)
                # A paced producer leaves the writer time to send before the next frame.
                await trio.lowlevel.checkpoint()

        t = await _timed(n, media)
        results["session.send_media (+1 checkpoint)"] = t
        session._prompt_close = True
        await session._close(graceful=False)
    return results


async def _handler(request: trio_websocket.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            await ws.get_message()
    except trio_websocket.ConnectionClosed:
        pass


def start_discard_server() -> tuple[str, threading.Event]:
    """A trio-websocket server that reads and drops every message, in its own thread
    (with its own trio loop), so that its CPU is not counted."""
    ready: list[int] = []
    stop = threading.Event()

    def server_thread() -> None:
        async def serve() -> None:
            async with trio.open_nursery() as nursery:
                server = await nursery.start(
                    trio_websocket.serve_websocket, _handler, "127.0.0.1", 0, None
                )
                ready.append(server.port)
                await trio.to_thread.run_sync(stop.wait, abandon_on_cancel=True)
                nursery.cancel_scope.cancel()

        trio.run(serve)

    threading.Thread(target=server_thread, daemon=True).start()
    while not ready:
        time.sleep(0.01)
    return f"ws://127.0.0.1:{ready[0]}", stop


def measure_sdk(n: int, url: str) -> dict[str, float]:
    """The official SDK's ``send_media`` (websockets' legacy client on asyncio)."""
    import asyncio
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
    except ImportError:
        return {}
    http = url.replace("ws://", "http://")
    environment = DeepgramClientEnvironment(base=http, production=url, agent=url, agent_rest=http)

    async def run() -> float:
        client = AsyncDeepgramClient(api_key="bench-key", environment=environment)
        async with client.listen.v1.connect(model="nova-3") as conn:
            t = time.thread_time()
            for _ in range(n):
                await conn.send_media(FRAME)
                await asyncio.sleep(0)  # the same one yield per frame as the trio rows
            return 1e6 * (time.thread_time() - t) / n

    return {"sdk conn.send_media (+1 sleep(0))": asyncio.run(run())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    print(
        f"micro: per-frame CPU µs of the trio thread, {args.frames} frames of 640 bytes, "
        f"median of {args.runs} runs"
    )
    url, stop = start_discard_server()
    runs: list[dict[str, float]] = []
    for _ in range(args.runs):
        found = trio.run(measure, args.frames)
        found.update(trio.run(measure_websocket, args.frames, url))
        found.update(measure_sdk(args.frames, url))
        runs.append(found)
    stop.set()
    for name in runs[0]:
        values = [r[name] for r in runs]
        print(
            f"  {name:38} {statistics.median(values):6.1f}  ({min(values):.1f}-{max(values):.1f})"
        )


if __name__ == "__main__":
    main()
