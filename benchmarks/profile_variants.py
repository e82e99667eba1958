"""Compare dgtrio source trees and variants of its send/receive paths (variants.py).

    python benchmarks/profile_variants.py streams [--streams 100] [--seconds 10] [--runs 3]
                                                 [--trees NAME=PATH,...] [--variants ...] [--sdk]
    python benchmarks/profile_variants.py push [--count 20000] [--runs 3] [--trees ...]
                                              [--variants ...] [--sdk]

Every row (a tree and a variant, or the official SDK) runs in a fresh process
against one server process; runs are interleaved (every row once, then
again) so that drift of the machine hits all rows alike. ``--trees`` names
source trees to import dgtrio from, e.g. ``main=/tmp/main,transport=.``
(default: the tree this interpreter imports, named ``this``); the server
always runs from the tree this interpreter imports. ``--variants`` defaults
to every variant of ``variants.py`` that applies to the mode (``gather-60ms``
only changes the send path, so ``push``, which only receives, runs
``baseline``); the variants
patch main's ``dgtrio/_transport.py`` and ``_session.py`` and may not apply to
another tree. Prints the median and range of each row's client CPU and its
ratio to the first row, run by run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from _support import dgtrio_tree, print_machine, run_child, run_server, summary
from variants import VARIANTS

DEFAULT_VARIANTS = {
    "streams": "baseline,gather-60ms",
    "push": "baseline",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("streams", "push"))
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--trees", help="comma-separated NAME=PATH source trees of dgtrio")
    parser.add_argument(
        "--variants",
        help="comma-separated, among: "
        + ", ".join(VARIANTS)
        + "; default: "
        + "; ".join(f"{mode}: {names}" for mode, names in DEFAULT_VARIANTS.items()),
    )
    parser.add_argument("--sdk", action="store_true", help="add the official SDK as a row")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.trees.split(",")) if args.trees else {}
    tree_rows: list[tuple[str, str | None]] = list(trees.items()) or [("this", None)]
    rows: list[tuple[str, str | None, str, str]] = [
        (name, path, "dgtrio", variant)
        for name, path in tree_rows
        for variant in (args.variants or DEFAULT_VARIANTS[args.mode]).split(",")
    ]
    if args.sdk:
        rows.append(("sdk", None, "sdk", "baseline"))
    print_machine()
    for name, path in tree_rows:
        print(f"tree {name}: {path or dgtrio_tree()}")
    if args.mode == "streams":
        server_args = ["stream"]
        metric, unit = "cpu_ms_per_stream_s", "ms CPU/stream-s"
        print(f"streams: {args.streams} x {args.seconds:g} s, {args.runs} rounds")
    else:
        server_args = ["push", "--count", str(args.count)]
        metric, unit = "cpu_us_per_msg", "µs CPU/msg"
        print(f"push: {args.count} messages, {args.runs} rounds")
    keys = [f"{name}:{variant}" if lib == "dgtrio" else "sdk" for name, _, lib, variant in rows]
    results: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    with run_server(server_args) as server:
        for run in range(args.runs):
            for key, (_, path, lib, variant) in zip(keys, rows, strict=True):
                child = ["--client", lib, "--url", server.url, "--variant", variant]
                if args.mode == "streams":
                    child += ["--streams", str(args.streams), "--seconds", str(args.seconds)]
                    result = run_child(
                        "bench_streams.py", child, timeout=max(120, 10 * args.seconds), tree=path
                    )
                    extra = (
                        f"wall/audio {result['wall_over_audio']:.3f}  p99 latency "
                        f"{result['latency_p99_ms']:7.1f} ms  "
                        f"peak RSS {result['peak_rss_mib']:.1f} MiB  "
                        f"load {result['load_1min']:.1f}"
                    )
                else:
                    child += ["--count", str(args.count)]
                    result = run_child("bench_push.py", child, tree=path)
                    extra = (
                        f"{result['msgs_per_s']:8.0f} msg/s  "
                        f"peak RSS {result['peak_rss_mib']:.1f} MiB"
                    )
                results[key].append(result)
                print(
                    f"  round {run + 1} {key:28} {result[metric]:7.2f} {unit}  {extra}", flush=True
                )
    first = [r[metric] for r in results[keys[0]]]
    print()
    print(f"{'row':28} {unit + ' median (range)':>30} {'vs ' + keys[0]:>22}")
    report: dict[str, Any] = {"mode": args.mode, "metric": metric, "trees": trees, "rows": {}}
    for key, runs in results.items():
        values = [r[metric] for r in runs]
        stats = summary(values)
        ratios = [v / b for v, b in zip(values, first, strict=True)]
        stats["vs_first"] = statistics.median(ratios)
        report["rows"][key] = {"summary": stats, "runs": runs}
        cell = f"{stats['median']:.2f} ({stats['min']:.2f}-{stats['max']:.2f})"
        rel = f"{stats['vs_first']:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"{key:28} {cell:>30} {rel:>22}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
