"""Shared pieces of the client benchmarks (not a benchmark itself).

* the Results frame every benchmark decodes or pushes (15 words, wire key order);
* starting and stopping the benchmark server (``bench_server.py``) in its own process;
* running one client measurement in a fresh child process and reading its JSON line;
* statistics (median and spread) and a description of the machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Fifteen words of a plausible utterance (the decode and push benchmarks use them).
WORDS = (
    "so",
    "we",
    "would",
    "like",
    "to",
    "book",
    "a",
    "table",
    "for",
    "two",
    "people",
    "tomorrow",
    "evening",
    "at",
    "eight",
)

REQUEST_ID = "019f30c8-ffd3-74f3-8148-94d68847a579"
MODEL_UUID = "40bd3654-e622-47c4-a111-63a61b23bfe8"


def results_message(
    words: Sequence[str] = WORDS,
    *,
    start: float = 0.0,
    is_final: bool = True,
    speech_final: bool = True,
) -> dict[str, Any]:
    """A listen v1 ``Results`` as the service sends it (key order of a captured frame)."""
    items = []
    t = start
    for index, word in enumerate(words):
        punctuated = word.capitalize() if index == 0 else word
        if index == len(words) - 1:
            punctuated += "."
        items.append(
            {
                "word": word,
                "start": round(t, 7),
                "end": round(t + 0.2799999, 7),
                "confidence": 0.9970703 - 0.001 * (index % 7),
                "punctuated_word": punctuated,
            }
        )
        t += 0.32
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": round(t - start, 7),
        "start": start,
        "is_final": is_final,
        "speech_final": speech_final,
        "channel": {
            "alternatives": [
                {
                    "transcript": " ".join(w["punctuated_word"] for w in items),
                    "confidence": 0.9951172,
                    "words": items,
                }
            ]
        },
        "metadata": {
            "request_id": REQUEST_ID,
            "model_info": {
                "name": "general-nova-3",
                "version": "2025-04-17.21547",
                "arch": "nova-3",
            },
            "model_uuid": MODEL_UUID,
        },
        "from_finalize": False,
    }


def results_text(words: Sequence[str] = WORDS) -> str:
    """The final Results with ``words`` as compact JSON text (what goes on the wire)."""
    return json.dumps(results_message(words), separators=(",", ":"))


# --- statistics -------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum, maximum and the spread ((max - min) / median) of ``values``."""
    med = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "median": med,
        "min": low,
        "max": high,
        "spread": (high - low) / med if med else 0.0,
        "n": len(values),
    }


def fmt(stats: dict[str, float], digits: int = 1, unit: str = "") -> str:
    """``median unit (min-max, ±spread/2 %)`` for a table cell."""
    med, low, high = stats["median"], stats["min"], stats["max"]
    half = 50 * stats["spread"]
    return f"{med:.{digits}f}{unit} ({low:.{digits}f}-{high:.{digits}f}, ±{half:.0f} %)"


# --- the machine --------------------------------------------------------------------


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """What the figures depend on: CPU, cores, Python, library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    for name in (
        "dgtrio",
        "deepgram-sdk",
        "trio",
        "trio-websocket",
        "wsproto",
        "orjson",
        "attrs",
        "cattrs",
        "websockets",
        "pydantic",
    ):
        info[name] = _version(name)
    return info


def dgtrio_tree() -> str:
    """The source tree ``import dgtrio`` would load from (without importing it)."""
    spec = importlib.util.find_spec("dgtrio")
    if spec is None or spec.origin is None:
        return "not found"
    return str(Path(spec.origin).parent.parent)


def print_machine() -> None:
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['os']}, {info['python']}")
    print(f"dgtrio imported from: {dgtrio_tree()}")
    print(
        "versions: "
        + ", ".join(
            f"{k} {v}" for k, v in info.items() if k not in ("cpu", "cores", "os", "python")
        )
    )


def require_sdk() -> None:
    """Exit with a clear message when the official SDK is missing."""
    try:
        import deepgram  # noqa: F401
    except ImportError:
        sys.exit(
            "the official SDK is needed for the comparison: pip install -e '.[bench]' "
            "(or pip install deepgram-sdk)"
        )


# --- processes ----------------------------------------------------------------------


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Server:
    """The benchmark server running in its own process."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"ws://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.process.pid)


@contextmanager
def run_server(args: Sequence[str]) -> Iterator[Server]:
    """Start ``bench_server.py args`` and yield it once it listens; stop it after."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "bench_server.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield Server(process, int(line.split()[1]))
    finally:
        # Closing stdin tells the server to stop; it exits within a second.
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_child(
    script: str, args: Sequence[str], *, timeout: float = 600, tree: str | None = None
) -> dict[str, Any]:
    """Run ``script args`` in a fresh interpreter; return the JSON object it prints last.

    ``tree``: a source tree to import dgtrio from (put first on ``PYTHONPATH``),
    to compare two versions of dgtrio against the same server.
    """
    started = time.monotonic()
    env = None
    if tree is not None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{script} {' '.join(args)} failed ({done.returncode}) after "
            f"{time.monotonic() - started:.1f} s:\n{done.stderr[-4000:]}"
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(
            f"{script} printed no result:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (``ru_maxrss``, KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """This process's current resident set size in MiB (Linux ``/proc``)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:  # pragma: no cover - not Linux
        return float("nan")
