"""The deterministic engine of dgtrio.testing: what it hears and says."""

from __future__ import annotations

import array
import itertools
import math
import random

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio import _audio
from dgtrio._server.engines import (
    Hypothesis,
    RecognizedWord,
    RecognizerEvent,
    RecognizerOptions,
    SpeechBegan,
    SpeechEngine,
    SynthesisOptions,
)
from dgtrio._server.fake_engine import VOCABULARY, FakeEngine, FakeRecognizer
from dgtrio._server.fake_speech import decode_words, encode_text, normalize_text

RATE = 16000


def options(
    *, sample_rate: int = RATE, endpointing_ms: int | None = 10, interim_results: bool = True
) -> RecognizerOptions:
    return RecognizerOptions(
        sample_rate=sample_rate, endpointing_ms=endpointing_ms, interim_results=interim_results
    )


def run(
    pcm: bytes, opts: RecognizerOptions, sizes: list[int] | None = None
) -> list[RecognizerEvent]:
    """Feed ``pcm`` in chunks of ``sizes`` (then the rest) and finalize."""
    recognizer = FakeRecognizer(opts)
    events: list[RecognizerEvent] = []
    offset = 0
    for size in sizes or []:
        events += recognizer.feed_nowait(pcm[offset : offset + size])
        offset += size
    events += recognizer.feed_nowait(pcm[offset:])
    return events + recognizer.finalize_nowait()


def finals(events: list[RecognizerEvent]) -> list[Hypothesis]:
    return [e for e in events if isinstance(e, Hypothesis) and e.final]


def partials(events: list[RecognizerEvent]) -> list[Hypothesis]:
    return [e for e in events if isinstance(e, Hypothesis) and not e.final]


def tone_words(text: str, **kwargs: float) -> tuple[bytes, list[RecognizedWord]]:
    """Tones for ``text`` and the words (with times in seconds) they carry."""
    pcm = encode_text(text, RATE, **kwargs)
    words = [RecognizedWord(w.word, w.start / RATE, w.end / RATE) for w in decode_words(pcm, RATE)]
    return pcm, words


def speechlike(seconds: float, seed: int, amplitude: int = 4000) -> list[int]:
    """A deterministic noisy tone standing in for speech (not test tones)."""
    rng = random.Random(seed)
    return [
        round(amplitude * math.sin(t * 0.07 + math.sin(t * 0.0011)) + rng.randint(-400, 400))
        for t in range(round(seconds * RATE))
    ]


def at(seconds: float) -> float:
    """``seconds`` as the recognizer computes it: a whole number of samples over the rate."""
    return round(seconds * RATE) / RATE


def pcm_of(samples: list[int]) -> bytes:
    return array.array("h", samples).tobytes()


def test_it_is_a_speech_engine() -> None:
    engine: SpeechEngine = FakeEngine()
    assert engine.name == "dgtrio-fake"
    assert FakeEngine(name="x").name == "x"


# --- test tones -------------------------------------------------------------------------


async def test_speech_began_partials_then_final_at_the_endpoint() -> None:
    pcm, words = tone_words("Hello there world.", leading_silence=0.1, trailing_silence=1.0)
    async with FakeEngine().recognizer(options(endpointing_ms=10)) as recognizer:
        events = list(await recognizer.feed(pcm))
    assert [w.word for w in words] == ["hello", "there", "world."]
    assert events == [
        SpeechBegan(0.1),
        Hypothesis(tuple(words[:1]), False, False, at(words[1].start - 0.01)),
        Hypothesis(tuple(words[:2]), False, False, at(words[2].start - 0.01)),
        Hypothesis(tuple(words), False, False, words[2].end),
        Hypothesis(tuple(words), True, True, at(words[2].end + 0.01)),
    ]
    assert all(w.confidence == 1.0 for w in words)


@pytest.mark.parametrize(("endpointing", "delay"), [(0, 0.01), (10, 0.01), (25, 0.03), (500, 0.5)])
def test_endpointing_delay(endpointing: int, delay: float) -> None:
    pcm, words = tone_words("Good morning.", trailing_silence=1.0)
    (final, empty) = finals(run(pcm, options(endpointing_ms=endpointing)))
    assert final.end_of_speech
    assert final.words == tuple(words)
    assert final.time == at(words[-1].end + delay)
    assert empty == Hypothesis((), True, False, len(pcm) / 2 / RATE)


def test_short_endpointing_splits_sentences_and_long_endpointing_joins_them() -> None:
    pcm, words = tone_words("Hello world. How are you?", trailing_silence=1.0)
    short = finals(run(pcm, options(endpointing_ms=10)))
    assert [(f.transcript, f.end_of_speech) for f in short] == [
        ("hello world.", True),
        ("how are you?", True),
        ("", False),  # from finalize
    ]
    long = finals(run(pcm, options(endpointing_ms=500)))
    assert [(f.transcript, f.end_of_speech) for f in long] == [
        ("hello world. how are you?", True),
        ("", False),
    ]
    assert long[0].time == at(words[-1].end + 0.5)
    events = run(pcm, options(endpointing_ms=10))
    assert [e.time for e in events if isinstance(e, SpeechBegan)] == [0.0, words[2].start]


def test_no_endpointing_means_finals_only_from_finalize() -> None:
    pcm, words = tone_words("One. Two. Three.", trailing_silence=5.0)
    events = run(pcm, options(endpointing_ms=None))
    assert finals(events) == [Hypothesis(tuple(words), True, False, len(pcm) / 2 / RATE)]
    assert len([e for e in events if isinstance(e, SpeechBegan)]) == 1


def test_no_partials_without_interim_results() -> None:
    pcm, words = tone_words("Hello world.", trailing_silence=0.5)
    events = run(pcm, options(interim_results=False))
    assert partials(events) == []
    assert [type(e) for e in events] == [SpeechBegan, Hypothesis, Hypothesis]
    assert finals(events)[0].words == tuple(words)


def test_finalize_mid_utterance() -> None:
    pcm, words = tone_words("hello world how are you.", trailing_silence=0.5)
    cut = round(words[2].start * RATE) + 80  # half-way through the "h" of "how"
    recognizer = FakeRecognizer(options(endpointing_ms=10))
    first = recognizer.feed_nowait(pcm[: 2 * cut]) + recognizer.finalize_nowait()
    assert first[0] == SpeechBegan(0.0)
    (settled,) = finals(first)
    # the half symbol is settled as a whole "h", a word of its own, and not read again
    assert settled.transcript == "hello world h"
    assert not settled.end_of_speech
    assert settled.time == cut / RATE
    # Speech goes on: the same utterance, no new SpeechBegan.
    rest = recognizer.feed_nowait(pcm[2 * cut :])
    assert not any(isinstance(e, SpeechBegan) for e in rest)
    (final,) = finals(rest)
    assert final.end_of_speech
    assert final.transcript == "ow are you."


def test_finalize_in_silence_ends_the_utterance() -> None:
    pcm, words = tone_words("Yes.", trailing_silence=0.1)
    recognizer = FakeRecognizer(options(endpointing_ms=500))
    events = recognizer.feed_nowait(pcm) + recognizer.finalize_nowait()
    assert finals(events) == [Hypothesis(tuple(words), True, False, len(pcm) / 2 / RATE)]
    # nothing pending: the endpoint does not fire later, and new speech is a new utterance
    more = recognizer.feed_nowait(bytes(2 * RATE)) + recognizer.feed_nowait(pcm)
    assert finals(more) == []
    assert sum(isinstance(e, SpeechBegan) for e in more) == 1


def test_finalize_with_nothing_pending() -> None:
    recognizer = FakeRecognizer(options())
    assert recognizer.finalize_nowait() == [Hypothesis((), True, False, 0.0)]
    recognizer.feed_nowait(bytes(3201))  # odd: the last byte is dropped at finalize
    assert recognizer.finalize_nowait() == [Hypothesis((), True, False, 0.1)]
    assert recognizer.position == 0.1


def test_long_monologue_gets_finals_without_end_of_speech() -> None:
    text = " ".join(["speaking", "without", "a", "pause"] * 60)  # 15.6 s of tones
    pcm, words = tone_words(text, trailing_silence=0.1)
    events = run(pcm, options(endpointing_ms=10))
    got = finals(events)
    assert [f.end_of_speech for f in got] == [False, True, False]
    assert got[0].words[-1].end - got[0].words[0].start >= 8.0
    assert got[0].words[-1].end - got[0].words[0].start < 8.2
    assert got[0].words + got[1].words == tuple(words)
    assert sum(isinstance(e, SpeechBegan) for e in events) == 1


def test_gone_through_mulaw() -> None:
    pcm, _ = tone_words("Testing, one two three.", trailing_silence=0.1)
    mulaw = _audio.mulaw_to_pcm16(_audio.pcm16_to_mulaw(pcm))
    assert run(mulaw, options()) == run(pcm, options())


# --- audio that is not test tones ------------------------------------------------------


def test_pseudo_words_for_other_audio() -> None:
    # 0.5 s silence, 0.6 s "speech", 0.5 s silence, 0.2 s "speech", 1 s silence
    samples = [0] * 8000 + speechlike(0.6, 1) + [0] * 8000 + speechlike(0.2, 2) + [0] * 16000
    events = run(pcm_of(samples), options(endpointing_ms=300))
    assert isinstance(events[0], SpeechBegan)
    assert events[0].time == 0.5
    first, second, last = finals(events)
    assert [first.end_of_speech, second.end_of_speech, last.end_of_speech] == [True, True, False]
    # 600 ms of speech: two words of 250 ms, then a 100 ms remnant that is dropped
    assert [(w.start, w.end) for w in first.words] == [(0.5, 0.75), (0.75, 1.0)]
    assert first.time == at(1.1 + 0.3)
    # 200 ms: one word, completed when the speech ends
    assert [(w.start, w.end) for w in second.words] == [(1.6, 1.8)]
    for word in first.words + second.words:
        assert word.word in VOCABULARY
        assert 0.5 <= word.confidence < 1.0
    assert [e.time for e in events if isinstance(e, SpeechBegan)] == [0.5, 1.6]


@settings(deadline=None, max_examples=30)
@given(sizes=st.lists(st.integers(min_value=1, max_value=9000), max_size=25))
def test_events_do_not_depend_on_chunking(sizes: list[int]) -> None:
    text_pcm = encode_text("Mixed audio, tones. And speech!", RATE, trailing_silence=0.2)
    samples = speechlike(0.9, 3) + [0] * 3000 + speechlike(0.3, 4, 900)
    pcm = pcm_of(samples) + text_pcm + pcm_of(speechlike(1.3, 5)) + bytes(9000)
    for opts in (options(endpointing_ms=10), options(endpointing_ms=None)):
        whole = run(pcm, opts)
        assert run(pcm, opts, sizes) == whole
    words = [w.word for f in finals(whole) for w in f.words]
    assert "tones." in words
    assert "speech!" in words


def test_pseudo_words_follow_the_audio() -> None:
    a = pcm_of(speechlike(1.0, 10) + [0] * 8000)
    b = pcm_of(speechlike(1.0, 11) + [0] * 8000)

    def heard(pcm: bytes) -> list[str]:
        return [w.word for f in finals(run(pcm, options())) for w in f.words]

    assert heard(a) == heard(a)
    assert len(heard(a)) == len(heard(b)) == 4
    assert heard(a) != heard(b)


@pytest.mark.parametrize("seed", range(3))
def test_noise_is_never_heard_as_letters(seed: int) -> None:
    rng = random.Random(seed)
    noise = pcm_of([rng.randint(-20000, 20000) for _ in range(RATE)])
    events = run(noise + bytes(8000), options())
    words = [w.word for f in finals(events) for w in f.words]
    assert len(words) == 4
    assert set(words) <= set(VOCABULARY)


def test_quiet_audio_is_silence() -> None:
    rng = random.Random(1)
    hiss = pcm_of([rng.randint(-250, 250) for _ in range(2 * RATE)])
    assert run(hiss, options()) == [Hypothesis((), True, False, 2.0)]


# --- synthesis ---------------------------------------------------------------------------


async def test_synthesize_chunks_and_round_trip() -> None:
    engine = FakeEngine()
    text = "Hi there! This is the fake voice, speaking."
    for rate in (8000, 16000, 24000, 48000):
        chunks = [c async for c in engine.synthesize(text, SynthesisOptions(sample_rate=rate))]
        assert all(len(c) == rate // 5 for c in chunks[:-1])
        assert 0 < len(chunks[-1]) <= rate // 5
        pcm = b"".join(chunks)
        assert pcm == encode_text(text, rate)
        seconds = len(pcm) / 2 / rate
        # 35 symbols of 10 ms, and two sentence ends with 300 ms pauses
        assert seconds == pytest.approx(len(normalize_text(text)) * 0.01 - 0.01 + 0.6)
        async with engine.recognizer(options(sample_rate=rate)) as recognizer:
            events = list(await recognizer.feed(pcm)) + list(await recognizer.finalize())
        heard = [w for f in finals(events) for w in f.words]
        assert " ".join(w.word for w in heard) == normalize_text(text)
        assert heard[0].start == 0.0
        assert heard[-1].end == pytest.approx(seconds - 0.3)
        assert all(a.end <= b.start for a, b in itertools.pairwise(heard))


async def test_synthesize_speed_and_empty_text() -> None:
    engine = FakeEngine()
    slow = b"".join([c async for c in engine.synthesize("slow", SynthesisOptions(speed=0.5))])
    fast = b"".join([c async for c in engine.synthesize("fast", SynthesisOptions(speed=2.0))])
    assert len(slow) == 4 * len(fast) == 2 * 4 * 480
    assert [c async for c in engine.synthesize(" \u2603 ", SynthesisOptions())] == []


async def test_closed_recognizer_refuses_audio() -> None:
    async with FakeEngine().recognizer(options()) as recognizer:
        await recognizer.feed(b"\x00\x00")
    with pytest.raises(trio.ClosedResourceError):
        await recognizer.feed(b"\x00\x00")
    with pytest.raises(trio.ClosedResourceError):
        await recognizer.finalize()
