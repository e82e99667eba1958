"""End-to-end receive throughput: dgtrio vs the official SDK, same server, one run.

    python benchmarks/bench_push.py [--count 20000] [--runs 3] [--framing raw|wsproto]
                                    [--libs dgtrio,sdk] [--json FILE]

The server (``bench_server.py push``, its own process) pushes ``--count``
copies of one final Results with 15 words as fast as the socket takes them,
right after the handshake, then closes with 1000. Each client, in a fresh
process of its own, opens ``/v1/listen``, iterates the messages until the
close and reads each one's word list; we report messages per second (wall
time from the open connection to the end of iteration) and the client's CPU
time per message.

* dgtrio: ``async with client.listen.v1.connect(...) as session: async for
  event in session``;
* sdk: ``AsyncDeepgramClient``, ``async with client.listen.v1.connect(...) as
  conn: async for msg in conn`` (asyncio, the SDK's default transport);
* server-only: a raw-socket client that does the handshake, then only counts
  bytes, which measures how fast the server can push (so that it is known not
  to be the bottleneck).

Runs alternate between the clients (dgtrio, sdk, server-only, dgtrio, ...) so
that drift of the machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import time
from typing import Any

from _support import (
    print_machine,
    require_sdk,
    results_text,
    run_child,
    run_server,
    summary,
)

LIBS = ("dgtrio", "sdk", "server-only")


# --- clients (each runs in a child process) ---------------------------------------


def _measure_start() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _result(lib: str, count: int, words: int, start: tuple[float, float]) -> dict[str, Any]:
    wall = time.perf_counter() - start[0]
    cpu = time.process_time() - start[1]
    from _support import peak_rss_mib

    return {
        "lib": lib,
        "messages": count,
        "words": words,
        "wall_s": wall,
        "cpu_s": cpu,
        "msgs_per_s": count / wall,
        "cpu_us_per_msg": 1e6 * cpu / max(count, 1),
        "peak_rss_mib": peak_rss_mib(),
        "load_1min": os.getloadavg()[0],
    }


def client_dgtrio(url: str, profile: str | None) -> dict[str, Any]:
    import trio

    from dgtrio import DeepgramClient, DeepgramClientEnvironment

    async def main() -> dict[str, Any]:
        client = DeepgramClient(
            "bench-key", environment=DeepgramClientEnvironment(production=url, agent=url)
        )
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate=16000, interim_results=True
        ) as session:
            start = _measure_start()
            count = words = 0
            async for event in session:
                count += 1
                words += len(event.channel.alternatives[0].words)  # type: ignore[union-attr]
            return _result("dgtrio", count, words, start)

    return _profiled(profile, lambda: trio.run(main))


def client_sdk(url: str, profile: str | None) -> dict[str, Any]:
    import asyncio
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # websockets.legacy
    from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

    http = url.replace("ws://", "http://")
    environment = DeepgramClientEnvironment(base=http, production=url, agent=url, agent_rest=http)

    async def main() -> dict[str, Any]:
        client = AsyncDeepgramClient(api_key="bench-key", environment=environment)
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="16000", interim_results="true"
        ) as conn:
            start = _measure_start()
            count = words = 0
            async for msg in conn:
                count += 1
                words += len(msg.channel.alternatives[0].words)  # type: ignore[union-attr]
            return _result("sdk", count, words, start)

    return _profiled(profile, lambda: asyncio.run(main()))


def client_raw(url: str, count: int) -> dict[str, Any]:
    """Handshake, then count bytes: the server's own push rate."""
    host, port = url.removeprefix("ws://").rsplit(":", 1)
    payload = len(results_text().encode())
    header = 2 if payload < 126 else 4 if payload < 1 << 16 else 10
    expected = count * (header + payload) + 4  # + the close frame (code 1000, no reason)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /v1/listen?model=nova-3 HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Authorization: Token bench-key\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.sendall(request.encode())
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake refused: {head[:200]!r}")
        start = _measure_start()
        received = len(body)
        while received < expected:
            n = sock.recv_into(view)
            if not n:
                break
            received += n
        result = _result("server-only", count if received >= expected else -1, 0, start)
        # Answer the close (a masked client frame, code 1000) and hang up.
        mask = os.urandom(4)
        code = (1000).to_bytes(2, "big")
        sock.sendall(b"\x88\x82" + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(code)))
    result["bytes"] = received
    return result


def _profiled(profile: str | None, run: Any) -> dict[str, Any]:
    if profile is None:
        return run()  # type: ignore[no-any-return]
    import cProfile

    profiler = cProfile.Profile()
    result = profiler.runcall(run)
    profiler.dump_stats(profile)
    return result  # type: ignore[no-any-return]


# --- the driver ----------------------------------------------------------------------


def drive(args: argparse.Namespace) -> dict[str, Any]:
    libs = [lib for lib in args.libs.split(",") if lib]
    if "sdk" in libs:
        require_sdk()
    print_machine()
    print(
        f"push: {args.count} final Results (15 words, {len(results_text())} bytes) per "
        f"connection, server framing {args.framing}, {args.runs} runs per client"
    )
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in libs}
    with run_server(["push", "--count", str(args.count), "--framing", args.framing]) as server:
        for run in range(args.runs):
            for lib in libs:
                before = server.cpu_seconds()
                result = run_child(
                    "bench_push.py",
                    ["--client", lib, "--url", server.url, "--count", str(args.count)],
                )
                result["server_cpu_s"] = server.cpu_seconds() - before
                if result["messages"] != args.count:
                    raise RuntimeError(f"{lib} received {result['messages']} of {args.count}")
                runs[lib].append(result)
                print(
                    f"  run {run + 1} {lib:12} {result['msgs_per_s']:9.0f} msg/s  "
                    f"{result['cpu_us_per_msg']:6.1f} µs CPU/msg  "
                    f"peak RSS {result['peak_rss_mib']:5.1f} MiB  "
                    f"(server CPU {result['server_cpu_s']:.2f} s, load {result['load_1min']:.1f})",
                    flush=True,
                )
    report: dict[str, Any] = {"count": args.count, "framing": args.framing, "libs": {}}
    for lib, results in runs.items():
        report["libs"][lib] = {
            "msgs_per_s": summary([r["msgs_per_s"] for r in results]),
            "cpu_us_per_msg": summary([r["cpu_us_per_msg"] for r in results]),
            "peak_rss_mib": summary([r["peak_rss_mib"] for r in results]),
            "runs": results,
        }
    print()
    print(f"{'client':12} {'msg/s median':>12} {'min':>8} {'max':>8} {'CPU µs/msg':>11}")
    for lib, entry in report["libs"].items():
        rate = entry["msgs_per_s"]
        print(
            f"{lib:12} {rate['median']:12.0f} {rate['min']:8.0f} {rate['max']:8.0f} "
            f"{entry['cpu_us_per_msg']['median']:11.1f}"
        )
    if "dgtrio" in runs and "sdk" in runs:
        pairs = list(zip(runs["dgtrio"], runs["sdk"], strict=True))
        ratios = [d["msgs_per_s"] / s["msgs_per_s"] for d, s in pairs]
        report["ratio"] = summary(ratios)
        verdict = "met" if report["ratio"]["median"] >= 2 else "MISSED"
        print(
            f"dgtrio / sdk throughput (wall): {report['ratio']['median']:.2f}x "
            f"(runs {', '.join(f'{r:.2f}' for r in ratios)}); target >= 2x: {verdict}"
        )
        # Messages per CPU-second of the client: what the throughput would be
        # with a core to itself (robust to other load on the machine).
        cpu_ratios = [s["cpu_us_per_msg"] / d["cpu_us_per_msg"] for d, s in pairs]
        report["cpu_ratio"] = summary(cpu_ratios)
        verdict = "met" if report["cpu_ratio"]["median"] >= 2 else "MISSED"
        print(
            f"dgtrio / sdk messages per CPU-second: {report['cpu_ratio']['median']:.2f}x "
            f"(runs {', '.join(f'{r:.2f}' for r in cpu_ratios)}); target >= 2x: {verdict}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000, help="messages per connection")
    parser.add_argument("--runs", type=int, default=3, help="runs per client")
    parser.add_argument(
        "--framing",
        choices=("raw", "wsproto"),
        default="raw",
        help="how the server frames its messages (see bench_server.py)",
    )
    parser.add_argument(
        "--libs",
        default="dgtrio,sdk,server-only",
        help="comma-separated clients among " + ", ".join(LIBS),
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--client", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--variant",
        default="baseline",
        help="child only: patch dgtrio with this variant (see variants.py)",
    )
    parser.add_argument("--profile", help="child only: write a cProfile dump here")
    args = parser.parse_args()
    if args.client is None:
        drive(args)
        return
    if args.variant != "baseline":
        import variants

        variants.apply(args.variant)
    if args.client == "dgtrio":
        result = client_dgtrio(args.url, args.profile)
    elif args.client == "sdk":
        result = client_sdk(args.url, args.profile)
    else:
        result = client_raw(args.url, args.count)
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
