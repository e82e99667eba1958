"""Compare dgtrio's send/receive path variants (variants.py) on the same server.

    python benchmarks/profile_variants.py streams [--streams 100] [--seconds 10] [--runs 3]
                                                 [--variants baseline,fast-path,...] [--sdk]
    python benchmarks/profile_variants.py push [--count 20000] [--runs 3] [--variants ...]

Every variant runs in a fresh process against one server process; runs are
interleaved (all variants once, then again) so that machine drift hits them
alike. Prints the median and range of each variant's client CPU, relative to
the unpatched ``baseline`` of the same rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from _support import print_machine, run_child, run_server, summary
from variants import VARIANTS

STREAM_DEFAULT = (
    "baseline,no-send-scope,fast-path,direct-socket,fast-path+direct-socket,all,gather-60ms"
)
PUSH_DEFAULT = "baseline,ws-buffers,nowait-deliver,receive-all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("streams", "push"))
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", help="comma-separated, among: " + ", ".join(VARIANTS))
    parser.add_argument("--sdk", action="store_true", help="add the official SDK as a row")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    names = (args.variants or (STREAM_DEFAULT if args.mode == "streams" else PUSH_DEFAULT)).split(
        ","
    )
    rows = [("dgtrio", name) for name in names] + ([("sdk", "baseline")] if args.sdk else [])
    print_machine()
    if args.mode == "streams":
        server_args = ["stream"]
        metric, unit = "cpu_ms_per_stream_s", "ms CPU/stream-s"
        print(f"variants, streams: {args.streams} x {args.seconds:g} s, {args.runs} rounds")
    else:
        server_args = ["push", "--count", str(args.count)]
        metric, unit = "cpu_us_per_msg", "µs CPU/msg"
        print(f"variants, push: {args.count} messages, {args.runs} rounds")
    results: dict[str, list[dict[str, Any]]] = {f"{lib}:{v}": [] for lib, v in rows}
    with run_server(server_args) as server:
        for run in range(args.runs):
            for lib, variant in rows:
                if args.mode == "streams":
                    child = [
                        "--client",
                        lib,
                        "--url",
                        server.url,
                        "--streams",
                        str(args.streams),
                        "--seconds",
                        str(args.seconds),
                        "--variant",
                        variant,
                    ]
                    result = run_child(
                        "bench_streams.py", child, timeout=max(120, 10 * args.seconds)
                    )
                    extra = (
                        f"wall/audio {result['wall_over_audio']:.3f}  p99 latency "
                        f"{result['latency_p99_ms']:7.1f} ms  "
                        f"peak RSS {result['peak_rss_mib']:.1f} MiB"
                    )
                else:
                    child = [
                        "--client",
                        lib,
                        "--url",
                        server.url,
                        "--count",
                        str(args.count),
                        "--variant",
                        variant,
                    ]
                    result = run_child("bench_push.py", child)
                    extra = f"{result['msgs_per_s']:8.0f} msg/s"
                results[f"{lib}:{variant}"].append(result)
                print(
                    f"  round {run + 1} {lib}:{variant:26} {result[metric]:7.2f} {unit}  {extra}",
                    flush=True,
                )
    base = [r[metric] for r in results["dgtrio:baseline"]] if "dgtrio:baseline" in results else None
    print()
    print(f"{'variant':34} {unit + ' median (range)':>30} {'vs baseline':>12}")
    report: dict[str, Any] = {"mode": args.mode, "metric": metric, "rows": {}}
    for key, runs in results.items():
        values = [r[metric] for r in runs]
        stats = summary(values)
        rel = ""
        if base is not None:
            ratios = [v / b for v, b in zip(values, base, strict=True)]
            stats["vs_baseline"] = statistics.median(ratios)
            rel = f"{stats['vs_baseline']:.2f}x"
        report["rows"][key] = {"summary": stats, "runs": runs}
        cell = f"{stats['median']:.2f} ({stats['min']:.2f}-{stats['max']:.2f})"
        print(f"{key:34} {cell:>30} {rel:>12}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
