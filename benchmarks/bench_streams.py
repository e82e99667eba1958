"""Many concurrent real-time streams: client CPU and memory, dgtrio vs the official SDK.

    python benchmarks/bench_streams.py [--streams 100] [--seconds 20] [--runs 3]
                                       [--libs dgtrio,sdk] [--json FILE]

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

LIBS = ("dgtrio", "sdk", "trio-pace", "asyncio-pace")
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
                    print(f"  run {run + 1} {lib:7} FAILED: {last}", flush=True)
                    continue
                result["server_cpu_s"] = server.cpu_seconds() - before
                result["run"] = run + 1
                runs[lib].append(result)
                print(
                    f"  run {run + 1} {lib:7} "
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
        f"{'client':7} {'CPU ms/stream-s':>16} {'peak RSS MiB':>13} {'wall/audio':>11} "
        f"{'p99 latency ms':>15} {'all results':>12}"
    )
    for lib, entry in report["libs"].items():
        print(
            f"{lib:7} {entry['cpu_ms_per_stream_s']['median']:16.2f} "
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
    else:
        result = client_pace(args.client.split("-")[0], args.streams, args.seconds)
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
