"""Decoding one final listen v1 Results with 15 words: dgtrio vs the official SDK.

    python benchmarks/bench_decode.py [--runs 5] [--number 2000] [--without-orjson]
                                      [--json FILE]

Both decode the same JSON text (``_support.results_text()``, 1.9 KB, the key
order of a captured frame), in one process (pure CPU, no I/O):

* ``dgtrio``: ``dgtrio.listen.v1.SCHEMA.parse_server(text)``, the session's
  decode path (orjson, then the structuring function compiled per class);
* ``dgtrio, stdlib json``: the same call with the codec's ``loads`` switched
  to ``json.loads``, which is what dgtrio does where orjson is missing;
* ``sdk``: ``construct_type(type_=V1SocketClientResponse,
  object_=json.loads(text))``, what ``deepgram.listen.v1.socket_client``
  does for every text frame (recv, iteration and start_listening alike);
* floors: ``orjson.loads`` and ``json.loads`` alone.

``--without-orjson`` makes ``import orjson`` fail in this process before
dgtrio is imported, so that ``dgtrio`` is its real fallback (a cross-check
of the ``dgtrio, stdlib json`` row, which swaps the function at run time).

Each run times every path once (interleaved), as the best of 5 repeats of
``--number`` calls with the garbage collector enabled (both libraries
allocate dozens of objects per message; the collections are part of the
cost), timed in CPU time of this process (``time.process_time``) so that other
load on the machine does not count. We report the median and range over runs in µs per message.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

from _support import print_machine, require_sdk, results_text, summary


def paths(text: str, with_sdk: bool) -> dict[str, Callable[[], Any]]:
    from dgtrio import _codec
    from dgtrio.listen.v1 import SCHEMA

    parse = SCHEMA.parse_server
    try:
        import orjson
    except ImportError:  # --without-orjson: dgtrio runs on its fallback already
        orjson = None

    def dgtrio_stdlib() -> Any:
        saved = _codec.loads
        _codec.loads = json.loads
        try:
            return parse(text)
        finally:
            _codec.loads = saved

    result: dict[str, Callable[[], Any]] = {"dgtrio": lambda: parse(text)}
    if orjson is not None:
        result["dgtrio, stdlib json"] = dgtrio_stdlib
    if with_sdk:
        from deepgram.core.unchecked_base_model import construct_type
        from deepgram.listen.v1.socket_client import V1SocketClientResponse

        result["sdk"] = lambda: construct_type(
            type_=V1SocketClientResponse, object_=json.loads(text)
        )
    if orjson is not None:
        result["orjson.loads alone"] = lambda: orjson.loads(text)
    result["json.loads alone"] = lambda: json.loads(text)
    return result


def check(found: dict[str, Callable[[], Any]]) -> None:
    """Both libraries must decode the same content (a benchmark of wrong answers is void)."""
    dg = found["dgtrio"]()
    if "dgtrio, stdlib json" in found:
        stdlib = found["dgtrio, stdlib json"]()
        assert dg == stdlib, "dgtrio decodes differently with json and orjson"
    words = [w.word for w in dg.channel.alternatives[0].words]
    assert len(words) == 15, words
    if "sdk" in found:
        sdk = found["sdk"]()
        assert type(sdk).__name__ == "ListenV1Results", type(sdk)
        assert [w.word for w in sdk.channel.alternatives[0].words] == words
        assert sdk.channel.alternatives[0].transcript == dg.channel.alternatives[0].transcript


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds")
    parser.add_argument("--number", type=int, default=2000, help="calls per repeat")
    parser.add_argument("--no-sdk", action="store_true", help="time dgtrio only")
    parser.add_argument(
        "--without-orjson",
        action="store_true",
        help="make 'import orjson' fail here, so that dgtrio uses its stdlib fallback",
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.without_orjson:
        sys.modules["orjson"] = None  # type: ignore[assignment]  # import raises ImportError
    if not args.no_sdk:
        require_sdk()
    text = results_text()
    found = paths(text, not args.no_sdk)
    check(found)
    print_machine()
    print(
        f"decode: one final Results, 15 words, {len(text)} bytes; {args.runs} runs, "
        f"best of 5 x {args.number} calls each"
    )
    times: dict[str, list[float]] = {name: [] for name in found}
    for run in range(args.runs):
        for name, fn in found.items():
            for _ in range(50):  # warm up
                fn()
            gc.collect()
            best = min(
                timeit.Timer(fn, setup="gc.enable()", timer=time.process_time).repeat(
                    repeat=5, number=args.number
                )
            )
            times[name].append(1e6 * best / args.number)
        print(
            f"  run {run + 1}: " + ", ".join(f"{n} {times[n][-1]:.1f}" for n in found), flush=True
        )
    report: dict[str, Any] = {"bytes": len(text), "paths": {}}
    print()
    if args.without_orjson:
        print("orjson blocked: 'dgtrio' is dgtrio's stdlib json fallback")
    print(f"{'path':22} {'µs/msg median':>14} {'min':>7} {'max':>7}")
    for name, values in times.items():
        stats = summary(values)
        report["paths"][name] = stats
        print(f"{name:22} {stats['median']:14.1f} {stats['min']:7.1f} {stats['max']:7.1f}")
    dg = times["dgtrio"]
    if "sdk" in times:
        ratios = [d / s for d, s in zip(dg, times["sdk"], strict=True)]
        report["ratio_sdk"] = summary(ratios)
        verdict = "met" if report["ratio_sdk"]["median"] <= 0.2 else "MISSED"
        print(
            f"dgtrio / sdk: {report['ratio_sdk']['median']:.3f} "
            f"(1/{1 / report['ratio_sdk']['median']:.1f}); target <= 1/5: {verdict}"
        )
    if "dgtrio, stdlib json" in times:
        stdlib = [s / d for d, s in zip(dg, times["dgtrio, stdlib json"], strict=True)]
        report["stdlib_over_orjson"] = summary(stdlib)
        print(
            f"dgtrio with stdlib json / with orjson: {report['stdlib_over_orjson']['median']:.2f}x"
        )
        if "sdk" in times:
            ratios = [
                d / s for d, s in zip(times["dgtrio, stdlib json"], times["sdk"], strict=True)
            ]
            report["stdlib_ratio_sdk"] = summary(ratios)
            print(
                f"dgtrio with stdlib json / sdk: {report['stdlib_ratio_sdk']['median']:.3f} "
                f"(1/{1 / report['stdlib_ratio_sdk']['median']:.1f})"
            )
    if "orjson.loads alone" in times:
        parse = [
            j / o
            for o, j in zip(times["orjson.loads alone"], times["json.loads alone"], strict=True)
        ]
        report["json_over_orjson_parse"] = summary(parse)
        print(f"json.loads / orjson.loads alone: {report['json_over_orjson_parse']['median']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
