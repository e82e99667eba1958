"""Memory of one open, idle connection: dgtrio vs the official SDK.

    python benchmarks/bench_idle_memory.py [--connections 100] [--runs 3]

Each client, in a fresh process, first opens and closes one connection (so
that imports done lazily on first use are paid), then opens
``--connections`` more, sends 20 ms of audio on each and waits; the RSS
growth divided by the number of connections is the cost of one open
connection (the session, its tasks, channels, buffers and websocket state).
The server is ``bench_server.py stream``, in its own process.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Any

from _support import current_rss_mib, print_machine, require_sdk, run_child, run_server, summary

FRAME = bytes(640)


def client_dgtrio(url: str, n: int) -> dict[str, Any]:
    import trio

    from dgtrio import DeepgramClient, DeepgramClientEnvironment

    async def main() -> dict[str, Any]:
        client = DeepgramClient(
            "bench-key", environment=DeepgramClientEnvironment(production=url, agent=url)
        )
        ready = [0]
        all_ready = trio.Event()

        async def one(count: int, go: trio.Event) -> None:
            async with client.listen.v1.connect(
                model="nova-3", encoding="linear16", sample_rate=16000, interim_results=True
            ) as session:
                await session.send_media(FRAME)
                ready[0] += 1
                if ready[0] == count:
                    all_ready.set()
                await go.wait()

        go = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, 1, go)
            await all_ready.wait()
            go.set()
        gc.collect()
        before = current_rss_mib()
        ready[0] = 0
        all_ready = trio.Event()
        go = trio.Event()
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(one, n, go)
            await all_ready.wait()
            await trio.sleep(0.3)
            gc.collect()
            after = current_rss_mib()
            go.set()
        return {"lib": "dgtrio", "kib_per_connection": 1024 * (after - before) / n}

    return trio.run(main)


def client_sdk(url: str, n: int) -> dict[str, Any]:
    import asyncio
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment

    http = url.replace("ws://", "http://")
    environment = DeepgramClientEnvironment(base=http, production=url, agent=url, agent_rest=http)

    async def main() -> dict[str, Any]:
        client = AsyncDeepgramClient(api_key="bench-key", environment=environment)

        async def one(
            ready: list[int], count: int, all_ready: asyncio.Event, go: asyncio.Event
        ) -> None:
            async with client.listen.v1.connect(
                model="nova-3", encoding="linear16", sample_rate="16000", interim_results="true"
            ) as conn:
                await conn.send_media(FRAME)
                ready[0] += 1
                if ready[0] == count:
                    all_ready.set()
                await go.wait()

        ready, all_ready, go = [0], asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(one(ready, 1, all_ready, go))
        await all_ready.wait()
        go.set()
        await task
        gc.collect()
        before = current_rss_mib()
        ready, all_ready, go = [0], asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(one(ready, n, all_ready, go)) for _ in range(n)]
        await all_ready.wait()
        await asyncio.sleep(0.3)
        gc.collect()
        after = current_rss_mib()
        go.set()
        await asyncio.gather(*tasks)
        return {"lib": "sdk", "kib_per_connection": 1024 * (after - before) / n}

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--libs", default="dgtrio,sdk")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--client", choices=("dgtrio", "sdk"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client is not None:
        run = client_dgtrio if args.client == "dgtrio" else client_sdk
        print(json.dumps(run(args.url, args.connections)), flush=True)
        sys.exit(0)
    libs = args.libs.split(",")
    if "sdk" in libs:
        require_sdk()
    print_machine()
    print(f"idle memory: {args.connections} open connections, {args.runs} runs per client")
    values: dict[str, list[float]] = {lib: [] for lib in libs}
    with run_server(["stream"]) as server:
        for run in range(args.runs):
            for lib in libs:
                child = [
                    "--client",
                    lib,
                    "--url",
                    server.url,
                    "--connections",
                    str(args.connections),
                ]
                result = run_child("bench_idle_memory.py", child)
                values[lib].append(result["kib_per_connection"])
                print(
                    f"  run {run + 1} {lib:7} {result['kib_per_connection']:6.1f} KiB/connection",
                    flush=True,
                )
    report = {lib: summary(v) for lib, v in values.items()}
    for lib, stats in report.items():
        print(
            f"{lib:7} {stats['median']:6.1f} KiB per open connection "
            f"({stats['min']:.1f}-{stats['max']:.1f})"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
