"""Run the client benchmarks and print one table with the targets.

    python benchmarks/run_all.py [--runs 3] [--count 20000] [--streams 100] [--seconds 20]
                                 [--breakdown] [--quick] [--json FILE]

Runs ``bench_decode.py``, ``bench_push.py``, ``bench_streams.py`` and
``bench_idle_memory.py`` one after the other (each prints its own runs as it
goes), then summarizes the medians, ranges and the targets of issue 2.
``--breakdown`` adds the streams benchmark's references (the pacing alone
and the raw-socket floor, on trio and on asyncio, and dgtrio's transport
alone) to the same runs. ``--quick`` shrinks everything for a smoke test
(under a minute); the defaults take about three minutes on 2 cores, ten
with ``--breakdown``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _support import HERE, print_machine


def run(script: str, args: list[str], directory: Path) -> dict[str, Any]:
    out = directory / (Path(script).stem + ".json")
    command = [sys.executable, str(HERE / script), *args, "--json", str(out)]
    print(f"\n$ python benchmarks/{script} {' '.join(args)}", flush=True)
    subprocess.run(command, check=True)
    with open(out) as f:
        return json.load(f)  # type: ignore[no-any-return]


def cell(stats: dict[str, float], digits: int = 1) -> str:
    return f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-{stats['max']:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=20000, help="bench_push: messages")
    parser.add_argument("--streams", type=int, default=100, help="bench_streams: streams")
    parser.add_argument("--seconds", type=float, default=20.0, help="bench_streams: audio seconds")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="bench_streams: also the pacing-only and raw-socket references",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.count, args.streams, args.seconds = 3000, 20, 3.0
    runs = str(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        decode = run("bench_decode.py", ["--runs", str(max(args.runs, 3))], directory)
        push = run("bench_push.py", ["--runs", runs, "--count", str(args.count)], directory)
        libs = "dgtrio,sdk" + (
            ",trio-pace,asyncio-pace,trio-floor,asyncio-floor,dgtrio-transport"
            if args.breakdown
            else ""
        )
        streams = run(
            "bench_streams.py",
            [
                "--runs",
                runs,
                "--streams",
                str(args.streams),
                "--seconds",
                str(args.seconds),
                "--libs",
                libs,
            ],
            directory,
        )
        idle = run(
            "bench_idle_memory.py",
            ["--runs", runs, "--connections", str(args.streams)],
            directory,
        )
    print("\n" + "=" * 100)
    print_machine()
    rows: list[tuple[str, str, str, str, str]] = []
    paths = decode["paths"]
    ratio = decode["ratio_sdk"]["median"]
    rows.append(
        (
            "decode µs/msg (CPU)",
            cell(paths["dgtrio"]),
            cell(paths["sdk"]),
            f"{ratio:.3f}",
            f"<= 0.2: {'met' if ratio <= 0.2 else 'MISSED'}",
        )
    )
    rows.append(
        (
            "decode, dgtrio w/ stdlib json",
            cell(paths["dgtrio, stdlib json"]),
            cell(paths["sdk"]),
            f"{decode['stdlib_ratio_sdk']['median']:.3f}",
            f"orjson: {decode['stdlib_over_orjson']['median']:.2f}x faster",
        )
    )
    libs = push["libs"]
    ratio = push["ratio"]["median"]
    rows.append(
        (
            f"push {args.count} msgs: msg/s (wall)",
            cell(libs["dgtrio"]["msgs_per_s"], 0),
            cell(libs["sdk"]["msgs_per_s"], 0),
            f"{ratio:.2f}x",
            f">= 2x: {'met' if ratio >= 2 else 'MISSED'}",
        )
    )
    cpu_ratio = libs["sdk"]["cpu_us_per_msg"]["median"] / libs["dgtrio"]["cpu_us_per_msg"]["median"]
    rows.append(
        (
            "push: client CPU µs/msg",
            cell(libs["dgtrio"]["cpu_us_per_msg"]),
            cell(libs["sdk"]["cpu_us_per_msg"]),
            f"{cpu_ratio:.2f}x msgs/CPU-s",
            f">= 2x: {'met' if cpu_ratio >= 2 else 'MISSED'}",
        )
    )
    if "server-only" in libs:
        rows.append(
            ("push: server alone, msg/s", cell(libs["server-only"]["msgs_per_s"], 0), "", "", "")
        )
    libs = streams["libs"]
    if "dgtrio" in libs and "sdk" in libs and "cpu_ratio" in streams:
        dg, sdk = libs["dgtrio"], libs["sdk"]
        ratio = streams["cpu_ratio"]["median"]
        rows.append(
            (
                f"{args.streams} streams: CPU ms/stream-s",
                cell(dg["cpu_ms_per_stream_s"], 2),
                cell(sdk["cpu_ms_per_stream_s"], 2),
                f"{ratio:.2f}",
                f"<= 0.85: {'met' if ratio <= 0.85 else 'MISSED'}",
            )
        )
        ratio = streams["rss_ratio"]["median"]
        rows.append(
            (
                f"{args.streams} streams: peak RSS MiB",
                cell(dg["peak_rss_mib"]),
                cell(sdk["peak_rss_mib"]),
                f"{ratio:.2f}",
                f"<= 0.8: {'met' if ratio <= 0.8 else 'MISSED'}",
            )
        )
        rows.append(
            (
                f"{args.streams} streams: RSS KiB/connection (+lazy imports)",
                cell(dg["rss_per_connection_kib"], 0),
                cell(sdk["rss_per_connection_kib"], 0),
                "",
                "",
            )
        )
        rows.append(
            (
                f"{args.streams} streams: wall / audio time",
                cell(dg["wall_over_audio"], 3),
                cell(sdk["wall_over_audio"], 3),
                "",
                "1.0 = real time",
            )
        )
        rows.append(
            (
                f"{args.streams} streams: Results p99 latency ms",
                cell(dg["latency_p99_ms"], 0),
                cell(sdk["latency_p99_ms"], 0),
                "",
                "",
            )
        )
    for ref in ("trio-pace", "asyncio-pace", "trio-floor", "asyncio-floor", "dgtrio-transport"):
        if ref in libs:
            rows.append(
                (
                    f"{args.streams} streams: {ref}, CPU ms/stream-s",
                    cell(libs[ref]["cpu_ms_per_stream_s"], 2),
                    "",
                    "",
                    "reference",
                )
            )
    if "dgtrio" in idle and "sdk" in idle:
        rows.append(
            (
                "idle: RSS KiB per open connection",
                cell(idle["dgtrio"], 1),
                cell(idle["sdk"], 1),
                f"{idle['dgtrio']['median'] / idle['sdk']['median']:.2f}",
                "no target",
            )
        )
    for failure in streams.get("failures", []):
        rows.append(
            (f"{args.streams} streams: FAILED run", failure["lib"], failure["error"], "", "")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    header = ("measure", "dgtrio median (range)", "sdk median (range)", "ratio", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in (header, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"decode": decode, "push": push, "streams": streams, "idle": idle}, f, indent=1
            )


if __name__ == "__main__":
    main()
