"""Measure the local engines (``dgtrio[local]``): accuracy, latency, CPU cost.

    python benchmarks/local_engines.py [--voices en-us+klatt4,en-us+m6,en-us]
                                        [--streams 2,4,6,8] [--quick] [--no-server]

(a) Word error rate on ten fixed sentences synthesised by espeak-ng and
    recognised by pocketsphinx, for each voice; the best voice is used below.
(b) Latency from the end of speech (the last sample of the synthesised audio)
    to the final hypothesis, feeding 20 ms chunks at real-time pace with the
    default endpointing (10 ms, i.e. the 300 ms floor).
(c) CPU seconds per second of audio for one stream (the worker process's own
    CPU time, IPC included; Linux /proc), and how many real-time streams the
    pool sustains: N streams are fed at once at real-time pace, and N passes
    if no stream falls more than 100 ms behind its schedule and the median
    end-of-speech latency stays under twice the single-stream one.
(d) The same through the local server and the real client, as an application
    sees it: ``open_local_deepgram`` in this process, ``/v1/speak`` makes the
    audio, ``/v1/listen`` gets it in 20 ms frames at real-time pace with
    interim results; the latency is from the end of the speech (on the live
    schedule) to the final ``Results``, the CPU is this process's (server and
    client) plus the worker's, per second of audio.

Prints a block ready to paste into the docs. espeak-ng's output varies a little
from call to call, so WER moves by a few points between runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version

import attrs
import trio

from dgtrio._server.engines import Hypothesis, RecognizerOptions, SynthesisOptions
from dgtrio.listen.v1 import Results
from dgtrio.local import LocalEngine, open_local_deepgram, word_error_rate

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "I would like to book a table for two people tomorrow evening.",
    "Hello, this is a test of the local speech server.",
    "The weather today is sunny with a high of seventy degrees.",
    "Please send the report to my office before noon on Friday.",
    "We need three more chairs for the meeting room.",
    "The train to Boston leaves from platform number nine.",
    "Can you turn the music down a little bit?",
    "My phone battery is almost empty again.",
    "They opened a new coffee shop near the river last week.",
)
RATE = 16000
CHUNK = 640  # 20 ms of 16 kHz PCM
LEAD = b"\0\0" * (RATE // 2)  # 0.5 s of silence before each sentence
TAIL_LIMIT = 3.0  # most silence fed after speech while waiting for the final


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process, from /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _synthesize(engine: LocalEngine, text: str, voice: str) -> bytes:
    options = SynthesisOptions(sample_rate=RATE, voice=voice)
    return b"".join([chunk async for chunk in engine.synthesize(text, options)])


def _transcript(events: Sequence[object]) -> str:
    finals = [e.transcript for e in events if isinstance(e, Hypothesis) and e.final]
    return " ".join(t for t in finals if t)


async def _recognize_fast(engine: LocalEngine, pcm: bytes) -> tuple[str, float | None, float]:
    """Recognise one sentence as fast as possible: (transcript, worker CPU s, audio s)."""
    events: list[object] = []
    audio = LEAD + pcm + b"\0\0" * RATE
    async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
        pid = getattr(rec, "worker_pid", 0)
        before = _cpu_seconds(pid)
        for i in range(0, len(audio), 8 * CHUNK):
            events += await rec.feed(audio[i : i + 8 * CHUNK])
        events += await rec.finalize()
        after = _cpu_seconds(pid)
    cpu = None if before is None or after is None else after - before
    return _transcript(events), cpu, len(audio) / 2 / RATE


@attrs.define
class RealTimeRun:
    """What one real-time stream measured."""

    latencies: list[float] = attrs.Factory(list)  # end of speech -> final, seconds
    lags: list[float] = attrs.Factory(list)  # how late each chunk was sent
    cpu: float | None = None  # worker CPU seconds
    audio: float = 0.0  # seconds of audio fed
    texts: list[str] = attrs.Factory(list)


async def _recognize_real_time(engine: LocalEngine, sentences: Sequence[bytes]) -> RealTimeRun:
    run = RealTimeRun()
    async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
        pid = getattr(rec, "worker_pid", None)
        cpu_before = _cpu_seconds(pid) if pid else None
        start = trio.current_time()
        sent = 0  # samples fed, which fixes the schedule
        for pcm in sentences:
            speech = LEAD + pcm
            tail = int(TAIL_LIMIT * RATE) * 2
            final: Hypothesis | None = None
            speech_end: float | None = None
            events: list[object] = []
            for i in range(0, len(speech) + tail, CHUNK):
                due = start + sent / RATE
                run.lags.append(max(0.0, trio.current_time() - due))
                await trio.sleep_until(due)
                chunk = speech[i : i + CHUNK] if i < len(speech) else b"\0\0" * (CHUNK // 2)
                sent += len(chunk) // 2
                if speech_end is None and i + CHUNK >= len(speech):
                    speech_end = trio.current_time()  # the last speech sample is sent now
                new = await rec.feed(chunk)
                events += new
                final = next((e for e in new if isinstance(e, Hypothesis) and e.final), None)
                if final is not None and speech_end is not None:
                    run.latencies.append(trio.current_time() - speech_end)
                    break
            events += await rec.finalize()
            run.texts.append(_transcript(events))
        run.audio = sent / RATE
        cpu_after = _cpu_seconds(pid) if pid else None
        if cpu_before is not None and cpu_after is not None:
            run.cpu = cpu_after - cpu_before
    return run


@attrs.define
class ServerRun:
    """What one real-time stream through the local server measured."""

    texts: list[str]
    latencies: list[float]
    cpu: float | None  # this process (server and client) plus the worker, seconds
    audio: float  # seconds of audio sent


async def _through_server(voice: str, sentences: Sequence[str]) -> ServerRun:
    """(d): speak each sentence on /v1/speak, stream them all on /v1/listen in real time."""
    async with open_local_deepgram(voice=voice, warm_workers=1, max_workers=1) as server:
        client = server.client()
        clips: list[bytes] = []
        for text in sentences:
            async with client.speak.v1.connect(
                model="aura-2-thalia-en", encoding="linear16", sample_rate=RATE
            ) as speak:
                await speak.send_text(text)
                await speak.close()
                clips.append(b"".join([bytes(c) async for c in speak.audio()]))
        stream = bytearray()
        spans: list[tuple[float, float]] = []  # (start, end of speech) of each sentence
        for clip in clips:
            begin = len(stream) / 2 / RATE
            stream += LEAD + clip + b"\0\0" * (2 * RATE)
            spans.append((begin, begin + (len(LEAD) + len(clip)) / 2 / RATE))
        texts: list[list[str]] = [[] for _ in sentences]
        finals: list[float | None] = [None] * len(sentences)
        pids: list[int] = []
        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate=RATE, interim_results=True
        ) as session:
            start = 0.0
            cpu_before = _cpu_seconds(os.getpid())

            async def pump() -> None:
                nonlocal start
                start = trio.current_time()
                for i in range(0, len(stream), CHUNK):
                    await trio.sleep_until(start + (i + CHUNK) / 2 / RATE)
                    await session.send_media(bytes(stream[i : i + CHUNK]))
                    if not pids:
                        pids.extend(_worker_pids())
                await session.close_stream()

            worker_before: float | None = None
            worker_after: float | None = None
            cpu_after: float | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump)
                async for event in session:
                    if worker_before is None and pids:
                        worker_before = _cpu_seconds(pids[0])
                    if not (isinstance(event, Results) and event.is_final):
                        continue
                    end = event.start + event.duration
                    for word in event.words:
                        k = max(i for i, (b, _) in enumerate(spans) if word.start >= b or i == 0)
                        texts[k].append(word.word)
                    for k, (_, spoken) in enumerate(spans):
                        if finals[k] is None and end >= spoken:
                            finals[k] = trio.current_time() - (start + spoken)
                    if all(f is not None for f in finals) and pids:
                        worker_after = _cpu_seconds(pids[0])
                        cpu_after = _cpu_seconds(os.getpid())
            cpu = None
            known = (cpu_before, cpu_after, worker_before, worker_after)
            if all(value is not None for value in known):
                process = (cpu_after or 0.0) - (cpu_before or 0.0)
                cpu = process + (worker_after or 0.0) - (worker_before or 0.0)
    return ServerRun(
        [" ".join(t) for t in texts],
        [f for f in finals if f is not None],
        cpu,
        len(stream) / 2 / RATE,
    )


def _worker_pids() -> list[int]:
    """This process's recognizer workers (Linux /proc; empty elsewhere)."""
    pids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{os.getpid()}/task")
    except OSError:
        return pids
    for task in tasks:
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
                children = f.read().split()
        except OSError:
            continue
        for child in children:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    if b"dgtrio.local._pool" in f.read():
                        pids.append(int(child))
            except OSError:
                continue
    return pids


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--voices", default="en-us+klatt4,en-us+m6,en-us")
    parser.add_argument("--streams", default="2,4,6,8,10,12")
    parser.add_argument("--quick", action="store_true", help="fewer sentences in (b) and (c)")
    parser.add_argument("--no-server", action="store_true", help="skip (d), the server run")
    args = parser.parse_args(argv)
    voices = args.voices.split(",")
    counts = sorted(int(n) for n in args.streams.split(","))
    cores = os.cpu_count() or 1
    rt_sentences = 3 if args.quick else len(SENTENCES)
    command = "python " + shlex.join(["benchmarks/local_engines.py", *argv])

    print("$ " + command)
    print(
        f"machine: {platform.platform()}, {cores} CPUs, Python {platform.python_version()}, "
        f"pocketsphinx {version('pocketsphinx')}, espeakng-loader {version('espeakng-loader')}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    # Every worker the capacity test needs is started up front, so that no
    # worker start-up (~1 CPU second each) competes with the measurements.
    async with LocalEngine(warm_workers=max(counts), max_workers=max(counts)) as engine:
        # (a) accuracy per voice, one stream per sentence.
        print(
            f"\n(a) word error rate, {len(SENTENCES)} sentences, "
            "espeak-ng -> 16 kHz -> pocketsphinx, one stream per sentence"
        )
        wer: dict[str, float] = {}
        audio: dict[str, list[bytes]] = {}
        short_cpu: list[tuple[float, float]] = []
        for voice in voices:
            audio[voice] = [await _synthesize(engine, s, voice) for s in SENTENCES]
            hyps: list[str] = [""] * len(SENTENCES)

            async def one(i: int, voice: str = voice, hyps: list[str] = hyps) -> None:
                hyps[i], cpu, seconds = await _recognize_fast(engine, audio[voice][i])
                if cpu is not None:
                    short_cpu.append((cpu, seconds))

            async with trio.open_nursery() as nursery:
                for i in range(len(SENTENCES)):
                    nursery.start_soon(one, i)
            words = sum(len(s.split()) for s in SENTENCES)
            pairs = list(zip(SENTENCES, hyps, strict=True))
            errors = sum(word_error_rate(r, h) * len(r.split()) for r, h in pairs)
            wer[voice] = errors / words
            print(f"  {voice:14} WER {wer[voice]:6.1%}  ({round(errors)}/{words} words)")
            for ref, hyp in pairs:
                print(f"      {word_error_rate(ref, hyp):4.0%}  {hyp}")
        best = min(wer, key=wer.__getitem__)
        print(f"  best voice: {best}")

        # (b) end-of-speech latency at real-time pace: one stream, sentence after sentence.
        print(f"\n(b) end of speech -> final hypothesis, real-time 20 ms chunks, voice {best}")
        single = await _recognize_real_time(engine, audio[best][:rt_sentences])
        lat = single.latencies
        later = sorted(lat[1:]) or lat
        refs = SENTENCES[:rt_sentences]
        stream_wer = sum(
            word_error_rate(r, h) * len(r.split()) for r, h in zip(refs, single.texts, strict=True)
        ) / sum(len(r.split()) for r in refs)
        print(
            f"  first utterance of the stream (decoded twice): {lat[0]:.3f} s\n"
            f"  later utterances: median {statistics.median(later):.3f} s, "
            f"min {later[0]:.3f} s, max {later[-1]:.3f} s ({len(later)} utterances)\n"
            f"  (includes espeak's ~0.2 s trailing pause inside the audio and the 300 ms "
            f"endpointing floor)\n"
            f"  WER of this one-stream run: {stream_wer:.1%}"
        )

        # (c) CPU per stream-second and real-time streams.
        print("\n(c) CPU cost and capacity")
        per_second: float | None = None
        if single.cpu is not None:
            per_second = single.cpu / single.audio
            print(
                f"  long stream ({single.audio:.0f} s, {rt_sentences} utterances, real time): "
                f"{per_second:.3f} CPU s per audio s (worker process, IPC included)"
            )
        if short_cpu:
            short = sum(c for c, _ in short_cpu) / sum(a for _, a in short_cpu)
            print(
                f"  one-sentence streams (as fast as possible, first utterance decoded twice): "
                f"{short:.3f} CPU s per audio s"
            )
        if per_second:
            print(f"  => at most {1 / per_second:.1f} real-time streams per core")
        sustained = 0
        clips = audio[best][: min(3, rt_sentences)]
        single_latency = statistics.median(later)
        for n in counts:
            runs: list[RealTimeRun] = [RealTimeRun() for _ in range(n)]

            async def stream(k: int, runs: list[RealTimeRun] = runs) -> None:
                runs[k] = await _recognize_real_time(engine, clips)

            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for k in range(n):
                    nursery.start_soon(stream, k)
            wall = time.perf_counter() - started
            lags = [x for r in runs for x in r.lags]
            slip = max(r.lags[-1] for r in runs)  # how late the last chunk went out
            median = statistics.median(x for r in runs for x in r.latencies[1:])
            ok = slip < 0.25 and median < 2 * single_latency
            sustained = n if ok else sustained
            print(
                f"  {n:2} streams at once: chunk lag p95 {_p95(lags) * 1000:4.0f} ms, "
                f"final slip {slip * 1000:5.0f} ms, median latency {median:.3f} s, "
                f"wall {wall:.1f} s, load average {os.getloadavg()[0]:.1f} "
                f"-> {'keeps up' if ok else 'falls behind'}"
            )
            if not ok:
                break
        print(
            f"  sustained: {sustained} real-time streams on {cores} cores "
            f"(~{sustained / cores:.1f} per core; the feeding process shares the cores)"
        )

    through: ServerRun | None = None
    if not args.no_server:
        print(f"\n(d) through the local server and the client, real time, voice {best}")
        through = await _through_server(best, SENTENCES[:rt_sentences])
        refs = SENTENCES[:rt_sentences]
        server_wer = sum(
            word_error_rate(r, h) * len(r.split()) for r, h in zip(refs, through.texts, strict=True)
        ) / sum(len(r.split()) for r in refs)
        print(
            f"  WER {server_wer:.1%}; end of speech -> final Results: median "
            f"{statistics.median(through.latencies):.3f} s, max {max(through.latencies):.3f} s "
            f"({len(through.latencies)} utterances)"
        )
        if through.cpu is not None:
            print(
                f"  CPU, server + client + worker: {through.cpu / through.audio:.3f} s per audio s"
            )

    print("\nSummary (paste into docs):")
    print(f"  command: {command}")
    print(
        f"  WER, {len(SENTENCES)} espeak-ng sentences, one stream each: "
        + ", ".join(f"{v} {w:.1%}" for v, w in wer.items())
    )
    print(
        f"  end of speech -> final ({best}, real time): median {statistics.median(later):.2f} s "
        f"(first utterance of a stream {lat[0]:.2f} s)"
    )
    if per_second:
        print(f"  CPU: {per_second:.3f} s per audio s per stream (long stream)")
    print(f"  real-time streams sustained: {sustained} on {cores} cores")
    if through is not None:
        print(
            f"  through the server: end of speech -> final Results median "
            f"{statistics.median(through.latencies):.2f} s"
            + (
                f", {through.cpu / through.audio:.3f} CPU s per audio s (server, client, worker)"
                if through.cpu is not None
                else ""
            )
        )
    print(f"  (load average at the end: {os.getloadavg()[0]:.1f}; other work skews (b) and (c))")


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
