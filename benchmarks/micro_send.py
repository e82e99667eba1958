"""Per-frame costs of the pieces of dgtrio's send path, one at a time (µs of CPU).

    python benchmarks/micro_send.py [--frames 20000] [--runs 3]

Measures, in CPU time of the measuring thread (``time.thread_time``), against
a drain server in a process of its own (``--drain``: it answers the
websocket upgrade, walks the frame headers without unmasking anything and
answers the close frame; on the other core it reads faster than any client
here writes, so the socket buffer does not fill up and no row pays for
waiting on it):

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
* ``trio socket send``: ``await sock.send(frame)`` on the ``trio.socket``
  (what dgtrio's ``Transport.send`` calls: the send and one schedule point);
* ``socket.send + checkpoint``: a non-blocking stdlib ``send`` of the same
  bytes followed by one checkpoint (the least a trio direct write costs);
* ``ws.send_message``: trio-websocket's whole send (framing, lock, send_all);
* ``dgtrio framing``: the transport's own framing and masking of the frame
  (``dgtrio._transport.frame_message``; skipped for a tree that has none);
* ``Transport.send``: dgtrio's transport (since 2026-11-24: its own framing
  and one non-blocking write, then one schedule point);
* ``Transport.send_nowait``: the same write without the schedule point (the
  session's fast path), plus one checkpoint per frame; skipped for a tree
  that has none;
* ``session.send_media``: dgtrio's whole path (the protocol checks and
  counters, the send fast path, the transport), per frame, with the sender
  yielding once after each frame as a paced producer does;
* ``sdk conn.send_media``: the official SDK's, with one ``asyncio.sleep(0)``.

Which dgtrio is measured is whichever the interpreter imports (printed
first); put a tree first on ``PYTHONPATH`` to choose. (Until 2026-11-24 the
discarding server was a trio-websocket server in a thread of the measuring
process: with 20,000 frames it fell behind, the socket buffer filled and the
two threads shared the GIL, which inflated the websocket rows two- to
three-fold against runs of 2,000 frames.)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
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

    from dgtrio import _transport

    _frame = getattr(_transport, "frame_message", None) or getattr(_transport, "_frame", None)
    if _frame is not None:  # None: a tree from before the transport framed its own frames

        async def dgtrio_framing(n: int) -> None:
            for _ in range(n):
                _frame(FRAME)

        results["dgtrio framing"] = await _timed(n, dgtrio_framing)

    return results


async def measure_sockets(n: int, port: int) -> dict[str, float]:
    """Raw sends on TCP loopback connections to the drain server."""
    results: dict[str, float] = {}
    stream = await trio.open_tcp_stream("127.0.0.1", port)

    async def send_alls(n: int) -> None:
        for _ in range(n):
            await stream.send_all(FRAME)

    results["SocketStream.send_all"] = await _timed(n, send_alls)
    await stream.aclose()

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    sock = stream.socket

    async def trio_sends(n: int) -> None:
        for _ in range(n):
            await sock.send(FRAME)

    results["trio socket send"] = await _timed(n, trio_sends)
    await stream.aclose()

    stream = await trio.open_tcp_stream("127.0.0.1", port)
    raw = socket.socket(fileno=os.dup(stream.socket.fileno()))
    raw.setblocking(False)

    async def direct(n: int) -> None:
        for _ in range(n):
            try:
                raw.send(FRAME)
            except BlockingIOError:
                await stream.send_all(FRAME)
            await trio.lowlevel.checkpoint()

    results["socket.send + checkpoint"] = await _timed(n, direct)
    raw.close()
    await stream.aclose()
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

        if hasattr(transport, "send_nowait"):

            async def transport_nowait(n: int) -> None:
                for _ in range(n):
                    rest = transport.send_nowait(FRAME)
                    if rest is not None:  # the buffer was full (rare: the drain keeps up)
                        await transport.send_rest(rest)
                    await trio.lowlevel.checkpoint()

            results["dgtrio Transport.send_nowait (+1 checkpoint)"] = await _timed(
                n, transport_nowait
            )
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


# --- the drain server (a process of its own) -------------------------------------

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PAUSE = 0.005  # seconds between reads (8 MiB receive buffers hold far more than that)


def _walk_frames(conn: socket.socket, data: bytes) -> None:
    """Skip the client's frames (headers only, nothing unmasked); answer its close."""
    pending, skip = b"", 0
    while True:
        if pending:
            data, pending = pending + data, b""
        i, end = 0, len(data)
        while True:
            if skip:
                step = min(skip, end - i)
                i += step
                skip -= step
                if skip:
                    break
            if end - i < 2:
                pending = data[i:]
                break
            opcode, second = data[i] & 0x0F, data[i + 1]
            size = second & 0x7F
            extra = 2 if size == 126 else 8 if size == 127 else 0
            head = 2 + extra + (4 if second & 0x80 else 0)
            if end - i < head:
                pending = data[i:]
                break
            if extra:
                size = int.from_bytes(data[i + 2 : i + 2 + extra], "big")
            if opcode == 8:
                conn.sendall(b"\x88\x02\x03\xe8")  # close 1000
                return
            i += head
            skip = size
        data = _lazy_recv(conn)
        if not data:
            return


def _lazy_recv(conn: socket.socket) -> bytes:
    """Read what is there, after a pause: the sender seldom has to wake us up."""
    time.sleep(_PAUSE)
    return conn.recv(8 << 20)


def _serve_one(conn: socket.socket) -> None:
    with conn:
        try:
            data = conn.recv(1 << 20)
            if not data.startswith(b"GET "):
                while _lazy_recv(conn):  # a raw connection: drain until EOF
                    pass
                return
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            found = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
            assert found is not None, head
            accept = base64.b64encode(hashlib.sha1(found.group(1) + _GUID).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            _walk_frames(conn, rest)
            while conn.recv(65536):
                pass
        except OSError:
            pass


def serve_drain() -> None:
    """Print ``PORT n``; serve until standard input closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    print(f"PORT {listener.getsockname()[1]}", flush=True)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_serve_one, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


def start_drain_server() -> tuple[int, subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--drain"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        raise RuntimeError(f"the drain server did not start: {line!r}")
    return int(line.split()[1]), process


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
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        serve_drain()
        return
    print_machine()
    print(
        f"micro: per-frame CPU µs of the measuring thread, {args.frames} frames of 640 bytes, "
        f"median of {args.runs} runs"
    )
    port, server = start_drain_server()
    url = f"ws://127.0.0.1:{port}"
    runs: list[dict[str, float]] = []
    try:
        for _ in range(args.runs):
            found = trio.run(measure, args.frames)
            found.update(trio.run(measure_sockets, args.frames, port))
            found.update(trio.run(measure_websocket, args.frames, url))
            found.update(measure_sdk(args.frames, url))
            runs.append(found)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    for name in runs[0]:
        values = [r[name] for r in runs]
        print(
            f"  {name:38} {statistics.median(values):6.1f}  ({min(values):.1f}-{max(values):.1f})"
        )


if __name__ == "__main__":
    main()
