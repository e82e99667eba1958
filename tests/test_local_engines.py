"""The real offline engines: espeak-ng speech recognised by pocketsphinx workers.

These tests run real engines in real time (worker processes, CPU-bound), so
they use wall-clock guards rather than trio's autojump clock. Synthesised
audio differs slightly from one espeak-ng call to the next, so transcripts are
checked with keywords and a word-error-rate bound, never by hashing audio.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Sequence

import pytest

pytest.importorskip("pocketsphinx")
pytest.importorskip("espeakng_loader")

import trio

from dgtrio._audio import Resampler, mulaw_to_pcm16, pcm16_to_mulaw, rms
from dgtrio._server.engines import (
    Hypothesis,
    Recognizer,
    RecognizerEvent,
    RecognizerOptions,
    SpeechBegan,
    SynthesisOptions,
)
from dgtrio.local import (
    ENDPOINTING_FLOOR_MS,
    EspeakError,
    LocalEngine,
    LocalEngineError,
    WorkerCrashedError,
    normalize_words,
    word_error_rate,
)
from dgtrio.local._espeak import get_espeak

RATE = 16000
GUARD = 45  # seconds of wall time any one test may take

# Sentence -> words that pocketsphinx reliably gets right in espeak-ng's
# default voice (measured over repeated syntheses, at 16 kHz and 8 kHz µ-law).
BOOK = "I would like to book a table for two people tomorrow evening."
BATTERY = "My phone battery is almost empty again."
WEATHER = "The weather today is sunny with a high of seventy degrees."
TEST = "Hello, this is a test of the local speech server."
KEYWORDS = {
    BOOK: {"table", "people", "tomorrow"},
    BATTERY: {"phone", "battery", "empty"},
    WEATHER: {"weather", "seventy", "degrees"},
    TEST: {"test", "server"},
}


def silence(seconds: float, rate: int = RATE) -> bytes:
    return b"\0\0" * int(seconds * rate)


@pytest.fixture(scope="module")
def speech() -> dict[str, bytes]:
    """Each sentence synthesised once, as 16 kHz PCM."""
    espeak = get_espeak()
    return {
        text: Resampler(espeak.sample_rate, RATE).feed(espeak.synthesize(text)) for text in KEYWORDS
    }


@pytest.fixture
async def engine() -> AsyncIterator[LocalEngine]:
    # No spare worker: each test starts only the workers it uses.
    async with LocalEngine(warm_workers=0, max_workers=2) as engine:
        yield engine


async def feed_all(rec: Recognizer, audio: bytes, chunk: int = 3200) -> list[RecognizerEvent]:
    events: list[RecognizerEvent] = []
    for i in range(0, len(audio), chunk):
        events += await rec.feed(audio[i : i + chunk])
    return events


def finals(events: Sequence[RecognizerEvent]) -> list[Hypothesis]:
    return [e for e in events if isinstance(e, Hypothesis) and e.final]


def transcript(events: Sequence[RecognizerEvent]) -> str:
    return " ".join(h.transcript for h in finals(events) if h.words)


async def recognize(engine: LocalEngine, audio: bytes, rate: int = RATE) -> str:
    async with engine.recognizer(RecognizerOptions(sample_rate=rate)) as rec:
        events = await feed_all(rec, audio, chunk=rate // 5 * 2)
        events += await rec.finalize()
    return transcript(events)


# -- synthesis ---------------------------------------------------------------------


async def synthesize(engine: LocalEngine, text: str, options: SynthesisOptions) -> list[bytes]:
    return [chunk async for chunk in engine.synthesize(text, options)]


async def test_synthesis_yields_pcm_at_the_requested_rate() -> None:
    engine = LocalEngine()  # synthesis needs no worker pool
    with trio.fail_after(GUARD):
        chunks = await synthesize(engine, BATTERY, SynthesisOptions(sample_rate=24000))
        slow = await synthesize(engine, BATTERY, SynthesisOptions(sample_rate=8000))
        fast = await synthesize(engine, BATTERY, SynthesisOptions(sample_rate=8000, speed=2.0))
    assert len(chunks) > 5  # streamed in ~50 ms pieces, not one block
    assert all(chunk and len(chunk) % 2 == 0 for chunk in chunks)
    seconds = sum(map(len, chunks)) / 2 / 24000
    assert 1.0 < seconds < 5.0
    assert sum(map(len, slow)) / 2 / 8000 == pytest.approx(seconds, rel=0.1)
    assert sum(map(len, fast)) < 0.75 * sum(map(len, slow))
    assert rms(b"".join(chunks)) > 500  # speech, not silence


async def test_synthesis_voice_selection() -> None:
    engine = LocalEngine(voices={"aura-2-thalia-en": "en-us+f3"})
    options = SynthesisOptions(sample_rate=RATE, voice="aura-2-thalia-en")
    with trio.fail_after(GUARD):
        mapped = b"".join(await synthesize(engine, "Good morning.", options))
        unknown = options.__class__(sample_rate=RATE, voice="aura-2-nobody-en")
        fallback = b"".join(await synthesize(engine, "Good morning.", unknown))
        direct = b"".join(await synthesize(engine, "", SynthesisOptions(voice="en-gb")))
    assert mapped and fallback
    assert direct == b""
    with pytest.raises(EspeakError, match="no voice"):
        get_espeak().synthesize("hello", voice="no-such-voice")


# -- recognition -------------------------------------------------------------------


async def test_round_trip_word_error_rate(engine: LocalEngine, speech: dict[str, bytes]) -> None:
    texts = list(KEYWORDS)
    hypotheses: dict[str, str] = {}

    async def one(text: str) -> None:
        audio = silence(0.5) + speech[text] + silence(1.0)
        hypotheses[text] = await recognize(engine, audio)

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            for text in texts:
                nursery.start_soon(one, text)
    words = sum(len(normalize_words(t)) for t in texts)
    errors = sum(word_error_rate(t, hypotheses[t]) * len(normalize_words(t)) for t in texts)
    assert errors / words <= 0.4, hypotheses
    for text, keywords in KEYWORDS.items():
        assert keywords <= set(normalize_words(hypotheses[text])), (text, hypotheses[text])


async def test_speech_began_partials_then_final(
    engine: LocalEngine, speech: dict[str, bytes]
) -> None:
    spoken = speech[BOOK]
    audio = silence(0.5) + spoken + silence(1.5)
    with trio.fail_after(GUARD):
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            events = await feed_all(rec, audio, chunk=640)  # 20 ms, as a live client
            closing = await rec.finalize()
    assert isinstance(events[0], SpeechBegan)
    assert 0.3 < events[0].time < 0.7
    hypotheses = [e for e in events if isinstance(e, Hypothesis)]
    final_at = next(i for i, h in enumerate(hypotheses) if h.final)
    partials = hypotheses[:final_at]
    assert len(partials) >= 3
    assert all(not h.final and not h.end_of_speech for h in partials)
    times = [h.time for h in hypotheses[: final_at + 1]]
    assert times == sorted(times)
    final = hypotheses[final_at]
    assert final.end_of_speech
    speech_end = 0.5 + len(spoken) / 2 / RATE
    # Endpointing: after the speech, within floor + espeak's trailing pause + slack.
    assert speech_end < final.time < speech_end + ENDPOINTING_FLOOR_MS / 1000 + 0.6
    assert {"table", "tomorrow"} <= set(normalize_words(final.transcript))
    starts = [w.start for w in final.words]
    assert starts == sorted(starts)
    for word in final.words:
        assert 0.4 <= word.start < word.end <= final.time
        assert 0.0 <= word.confidence <= 1.0
    # Nothing more was pending: finalize settles an empty utterance.
    assert finals(closing) == [
        Hypothesis((), final=True, end_of_speech=False, time=closing[-1].time)
    ]


async def test_endpointing_window_maps_endpointing_ms(
    engine: LocalEngine, speech: dict[str, bytes]
) -> None:
    # Two sentences 0.8 s apart: the 300 ms floor splits them, 1500 ms does not,
    # and without endpointing only finalize ends the utterance.
    audio = silence(0.3) + speech[BOOK] + silence(0.8) + speech[BATTERY] + silence(1.7)

    async def run(endpointing_ms: int | None) -> list[RecognizerEvent]:
        options = RecognizerOptions(sample_rate=RATE, endpointing_ms=endpointing_ms)
        async with engine.recognizer(options) as rec:
            return await feed_all(rec, audio) + list(await rec.finalize())

    results: dict[int | None, list[RecognizerEvent]] = {}

    async def run_into(endpointing_ms: int | None) -> None:
        results[endpointing_ms] = await run(endpointing_ms)

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            for value in (10, 1500, None):
                nursery.start_soon(run_into, value)

    short = [h for h in finals(results[10]) if h.words]
    assert [h.end_of_speech for h in short] == [True, True]
    assert "table" in short[0].transcript and "battery" in short[1].transcript
    assert sum(isinstance(e, SpeechBegan) for e in results[10]) == 2

    long = [h for h in finals(results[1500]) if h.words]
    assert len(long) == 1 and long[0].end_of_speech
    assert {"table", "battery"} <= set(normalize_words(long[0].transcript))

    off = finals(results[None])
    assert len(off) == 1 and not off[0].end_of_speech  # from finalize
    assert {"table", "battery"} <= set(normalize_words(off[0].transcript))


async def test_finalize_flushes_mid_utterance(
    engine: LocalEngine, speech: dict[str, bytes]
) -> None:
    spoken = speech[BOOK]
    cut = len(spoken) // 2 & ~1
    with trio.fail_after(GUARD):
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            first = await feed_all(rec, silence(0.5) + spoken[:cut])
            flushed = await rec.finalize()
            rest = await feed_all(rec, spoken[cut:] + silence(1.5))
    assert not finals(first)
    assert isinstance(flushed[-1], Hypothesis)
    assert flushed[-1].final and not flushed[-1].end_of_speech
    assert flushed[-1].words  # the first half, settled now
    assert flushed[-1].time == pytest.approx(0.5 + cut / 2 / RATE, abs=0.05)
    # Recognition carries on after the flush and ends with endpointing.
    later = [h for h in finals(rest) if h.words]
    assert later and later[-1].end_of_speech
    assert later[-1].words[0].start >= flushed[-1].words[-1].end - 0.01
    assert not any(isinstance(e, SpeechBegan) for e in rest)  # same speech region


async def test_mulaw_8khz_input_is_resampled(engine: LocalEngine, speech: dict[str, bytes]) -> None:
    hypotheses: dict[str, str] = {}

    async def one(text: str) -> None:
        narrow = Resampler(RATE, 8000).feed(silence(0.5) + speech[text] + silence(1.0))
        telephone = mulaw_to_pcm16(pcm16_to_mulaw(narrow))  # what the server decodes
        hypotheses[text] = await recognize(engine, telephone, rate=8000)

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            for text in (BOOK, BATTERY):
                nursery.start_soon(one, text)
    for text, hypothesis in hypotheses.items():
        assert KEYWORDS[text] <= set(normalize_words(hypothesis)), hypothesis
        assert word_error_rate(text, hypothesis) <= 0.5, hypothesis


def cpu_seconds(pid: int) -> float | None:
    """CPU time of a process (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_pool_serves_two_streams_in_real_time(
    engine: LocalEngine, speech: dict[str, bytes]
) -> None:
    audio = silence(0.3) + speech[BATTERY] + silence(0.7)
    duration = len(audio) / 2 / RATE
    chunk = 3200  # 100 ms, paced like a live client
    spans: list[tuple[float, float]] = []
    texts: list[str] = []
    costs: list[float] = []

    async def stream() -> None:
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            pid = getattr(rec, "worker_pid", 0)
            cpu_before = cpu_seconds(pid)
            events: list[RecognizerEvent] = []
            start = trio.current_time()
            for i in range(0, len(audio), chunk):
                await trio.sleep_until(start + i / 2 / RATE)
                events += await rec.feed(audio[i : i + chunk])
            events += await rec.finalize()
            cpu_after = cpu_seconds(pid)
            spans.append((start, trio.current_time()))
            texts.append(transcript(events))
            if cpu_before is not None and cpu_after is not None:
                costs.append((cpu_after - cpu_before) / duration)

    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream)
            nursery.start_soon(stream)
    (start_a, end_a), (start_b, end_b) = spans
    assert min(end_a, end_b) - max(start_a, start_b) > 0.5 * duration  # side by side
    for text in texts:
        assert KEYWORDS[BATTERY] <= set(normalize_words(text)), text
    # Real time is a matter of CPU: each stream's worker needs well under a
    # core. (Wall-clock bounds would fail on a machine busy with other work.)
    assert all(cost < 0.8 for cost in costs), costs
    assert engine.statistics().lost == 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_killed_worker_is_replaced(engine: LocalEngine, speech: dict[str, bytes]) -> None:
    with trio.fail_after(GUARD):
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            await rec.feed(silence(0.5) + speech[BATTERY][:16000])
            pid = getattr(rec, "worker_pid", 0)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(WorkerCrashedError, match="killed by SIGKILL") as caught:
                for _ in range(50):  # the death may take a moment to be seen
                    await rec.feed(silence(0.1))
                    await trio.sleep(0.05)
            assert caught.value.pid == pid
            with pytest.raises(WorkerCrashedError):
                await rec.finalize()
        for _ in range(100):  # the pool notices the death on its own schedule
            if engine.statistics().lost:
                break
            await trio.sleep(0.05)
        assert engine.statistics().lost == 1
        audio = silence(0.5) + speech[BATTERY] + silence(1.0)
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            assert getattr(rec, "worker_pid", 0) != pid
            events = await feed_all(rec, audio) + list(await rec.finalize())
    assert KEYWORDS[BATTERY] <= set(normalize_words(transcript(events)))


async def test_cancelled_feed_does_not_corrupt_the_stream(
    engine: LocalEngine, speech: dict[str, bytes]
) -> None:
    audio = silence(0.5) + speech[TEST] + silence(1.0)
    head, tail = audio[:64000], audio[64000:]  # 2 s: takes a while to recognise
    with trio.fail_after(GUARD):
        quiet = RecognizerOptions(sample_rate=RATE, interim_results=False)
        async with engine.recognizer(quiet) as rec:
            plain = await feed_all(rec, audio) + list(await rec.finalize())
        assert all(e.final for e in plain if isinstance(e, Hypothesis))  # no partials
        reference = transcript(plain)
        async with engine.recognizer(RecognizerOptions(sample_rate=RATE)) as rec:
            pid = getattr(rec, "worker_pid", 0)
            with trio.CancelScope() as scope:
                scope.cancel()
                await rec.feed(head)  # cancelled before sending: not consumed
            with trio.move_on_after(0.02) as timer:
                await rec.feed(head)  # cancelled while the worker is busy with it
            assert timer.cancelled_caught
            events = list(await rec.feed(tail))  # also returns the cancelled feed's events
            events += await rec.finalize()
            assert getattr(rec, "worker_pid", 0) == pid
    assert isinstance(events[0], SpeechBegan)
    # Same audio, same words: chunking, cancellation and partials change nothing.
    assert transcript(events) == reference
    assert engine.statistics().lost == 0


# -- lifecycle ---------------------------------------------------------------------


async def test_engine_lifecycle(speech: dict[str, bytes]) -> None:
    options = RecognizerOptions(sample_rate=RATE)
    idle = LocalEngine()
    with pytest.raises(LocalEngineError, match="enter the LocalEngine"):
        idle.recognizer(options)
    pids = []
    with trio.fail_after(GUARD), pytest.raises(KeyError) as caught:  # not an ExceptionGroup
        async with LocalEngine(warm_workers=1) as engine:
            assert engine.statistics().idle == 1
            async with engine.recognizer(options) as rec:
                pids.append(getattr(rec, "worker_pid", 0))
                await rec.feed(speech[BATTERY][:8000])
            raise KeyError("from the body")
    assert caught.value.args == ("from the body",)
    with pytest.raises(LocalEngineError):
        engine.recognizer(options)
    for pid in pids:  # workers were shut down with the engine
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_worker_that_cannot_start_fails_entry() -> None:
    engine = LocalEngine(decoder_config={"hmm": "/nonexistent/acoustic-model"})
    with trio.fail_after(GUARD), pytest.raises(LocalEngineError, match="could not start"):
        async with engine:
            pass
