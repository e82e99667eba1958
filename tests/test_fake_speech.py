"""Test tones: text in, text out, through any chunking and G.711."""

from __future__ import annotations

import array
import itertools
import math
import random
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio import _audio
from dgtrio._server import fake_speech as fs
from dgtrio._server.fake_speech import (
    ALPHABET,
    LEVEL_TOLERANCE,
    LEVELS,
    ToneDecoder,
    ToneGap,
    ToneItem,
    ToneSymbol,
    ToneWord,
    decode_symbols,
    decode_text,
    decode_words,
    encode_text,
    normalize_text,
    symbol_samples,
)

RATES = (8000, 16000, 24000, 48000)

# Texts mixing the alphabet with characters that are dropped or mapped.
OTHER_CHARS = '  \t\n:;/%\u00e9\u00c5\u2019\u2014\u2026"'
texts = st.text(alphabet=ALPHABET + ALPHABET.upper() + OTHER_CHARS, max_size=40)
rates = st.sampled_from(RATES)
speeds = st.sampled_from((0.5, 0.8, 1.0, 1.37, 2.0))

Codec = Callable[[bytes], bytes]
CODECS: dict[str, Codec] = {
    "mulaw": lambda pcm: _audio.mulaw_to_pcm16(_audio.pcm16_to_mulaw(pcm)),
    "alaw": lambda pcm: _audio.alaw_to_pcm16(_audio.pcm16_to_alaw(pcm)),
}


def pcm_of(samples: list[int]) -> bytes:
    return array.array("h", samples).tobytes()


def feed_in_chunks(pcm: bytes, rate: int, sizes: list[int]) -> list[ToneItem]:
    decoder = ToneDecoder(rate)
    items: list[ToneItem] = []
    offset = 0
    for size in sizes:
        items += decoder.feed(pcm[offset : offset + size])
        offset += size
    items += decoder.feed(pcm[offset:])
    items += decoder.flush()
    return items


def symbols_of(items: list[ToneItem]) -> list[ToneSymbol]:
    return [item for item in items if isinstance(item, ToneSymbol)]


# --- the level table --------------------------------------------------------------


def test_level_table_shape() -> None:
    assert len(LEVELS) == len(ALPHABET) + 1  # plus *repeat*
    assert len(set(ALPHABET)) == len(ALPHABET) == 43
    assert all(level % 8 == 4 for level in LEVELS)
    assert 550 < LEVELS[0] < 650
    assert 24000 < LEVELS[-1] < 26000
    steps = [math.log(b / a) for a, b in itertools.pairwise(LEVELS)]
    assert min(steps) > 2 * LEVEL_TOLERANCE  # the acceptance bands never touch
    assert all(0.07 < step < 0.1 for step in steps)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_g711_moves_levels_less_than_the_tolerance(codec: str) -> None:
    for level in LEVELS:
        plus, minus = array.array("h", CODECS[codec](pcm_of([level, -level])))
        assert plus == -minus  # A-law too: every level is 4 mod 8
        assert abs(math.log(plus / level)) < 0.02 < LEVEL_TOLERANCE


def test_each_level_decodes_to_its_symbol() -> None:
    for index, char in enumerate(ALPHABET):
        pcm = fs._square(LEVELS[index], 160)
        assert decode_symbols(pcm, 16000) == [ToneSymbol(char, 0, 160)]


# --- text normalisation and encoding --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello,   World!", "hello, world!"),
        ("  Caf\u00e9 \u2014 d\u00e9j\u00e0 vu\u2019s\tplan\u2026", "cafe - deja vu's plan..."),
        ("50% off: now/later; ok?", "50 off nowlater ok?"),
        ("", ""),
        (" \n ", ""),
        ("日本語", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_encoding_layout() -> None:
    rate = 16000
    pcm = encode_text("ab. c", rate, leading_silence=0.01, trailing_silence=0.02)
    symbol = symbol_samples(rate)
    assert symbol == 160
    # 10 ms lead, a, b, '.', 300 ms pause (replacing the space), c, 20 ms tail
    assert len(pcm) == 2 * (160 + 3 * symbol + 4800 + symbol + 320)
    assert decode_words(pcm, rate) == [
        ToneWord("ab.", 160, 160 + 3 * symbol),
        ToneWord("c", 160 + 3 * symbol + 4800, 160 + 4 * symbol + 4800),
    ]
    samples = array.array("h", pcm)
    assert samples[160:164].tolist() == [LEVELS[1], -LEVELS[1], LEVELS[1], -LEVELS[1]]


def test_repeated_characters_alternate_with_the_repeat_symbol() -> None:
    pcm = encode_text("aaa", 8000)
    samples = array.array("h", pcm)
    assert [samples[i * 80] for i in range(3)] == [LEVELS[1], LEVELS[-1], LEVELS[1]]
    assert decode_text(pcm, 8000) == "aaa"


def test_pauses_only_after_sentence_ends() -> None:
    rate = 8000
    assert len(encode_text("3.14", rate)) == 2 * 4 * 80
    assert len(encode_text("e.g.x", rate)) == 2 * 5 * 80
    # two sentence ends, each pause standing in for the space after it
    assert len(encode_text("wait... what?! no", rate)) == 2 * (15 * 80 + 2 * 2400)


@pytest.mark.parametrize("speed", [0.25, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_speed_scales_every_length(speed: float) -> None:
    rate = 16000
    clamped = min(max(speed, 0.5), 2.0)
    pcm = encode_text("hi. yo", rate, speed=speed)
    symbol = round(160 / clamped)
    assert symbol_samples(rate, speed) == symbol
    assert len(pcm) == 2 * (5 * symbol + round(4800 / clamped))
    assert decode_text(pcm, rate) == "hi. yo"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sample rate"):
        encode_text("a", 999)
    with pytest.raises(ValueError, match="sample rate"):
        ToneDecoder(0)
    for speed in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="speed"):
            encode_text("a", 8000, speed=speed)
    with pytest.raises(ValueError, match="silence"):
        encode_text("a", 8000, leading_silence=-0.1)


# --- round trips -------------------------------------------------------------------


@settings(deadline=None)
@given(text=texts, rate=st.sampled_from((*RATES, 11025, 44100)), speed=speeds)
def test_encode_then_decode_gives_the_normalized_text(text: str, rate: int, speed: float) -> None:
    pcm = encode_text(text, rate, speed=speed)
    assert decode_text(pcm, rate) == normalize_text(text)


def expected_words(text: str, lead: int, symbol: int, pause: int) -> list[ToneWord]:
    """Where each word of the normalized ``text`` should be, worked out independently."""
    words: list[ToneWord] = []
    chars = ""
    start = position = lead
    skip = False
    for i, ch in enumerate(text):
        if skip:
            skip = False
            continue
        if ch != " ":
            if not chars:
                start = position
            chars += ch
        position += symbol
        if ch == " " or (ch in ".?!" and (i + 1 == len(text) or text[i + 1] == " ")):
            if chars:
                words.append(ToneWord(chars, start, position - (ch == " ") * symbol))
            chars = ""
            if ch != " ":
                position += pause
                skip = True
    if chars:
        words.append(ToneWord(chars, start, position))
    return words


@settings(deadline=None)
@given(text=texts, rate=rates, speed=speeds)
def test_word_spans_are_exact(text: str, rate: int, speed: float) -> None:
    pcm = encode_text(text, rate, speed=speed, leading_silence=0.05)
    symbol = symbol_samples(rate, speed)
    pause = round(rate * 0.3 / speed)
    expected = expected_words(normalize_text(text), round(rate * 0.05), symbol, pause)
    assert decode_words(pcm, rate) == expected


@settings(deadline=None)
@given(
    text=texts,
    rate=rates,
    sizes=st.lists(st.integers(min_value=0, max_value=3000), max_size=30),
    data=st.data(),
)
def test_any_chunking_gives_the_same_items(
    text: str, rate: int, sizes: list[int], data: st.DataObject
) -> None:
    noise = data.draw(st.lists(st.integers(-32768, 32767), max_size=200), label="noise")
    pcm = pcm_of(noise) + encode_text(text, rate, leading_silence=0.011, trailing_silence=0.02)
    whole = feed_in_chunks(pcm, rate, [])
    chunked = feed_in_chunks(pcm, rate, sizes)
    assert symbols_of(chunked) == symbols_of(whole)
    # Gaps may be split differently, but items tile the stream exactly.
    position = 0
    for item in chunked:
        assert item.start == position < item.end
        position = item.end
        if isinstance(item, ToneGap):
            assert item.pcm == pcm[2 * item.start : 2 * item.end]
    assert position == len(pcm) // 2


@settings(deadline=None)
@given(text=texts, rate=rates, offset=st.integers(min_value=0, max_value=5000))
def test_leading_offset_shifts_timings_exactly(text: str, rate: int, offset: int) -> None:
    pcm = encode_text(text, rate)
    base = decode_words(pcm, rate)
    shifted = decode_words(bytes(2 * offset) + pcm, rate)
    assert shifted == [ToneWord(w.word, w.start + offset, w.end + offset) for w in base]


@settings(deadline=None)
@given(text=texts, rate=rates, speed=speeds, codec=st.sampled_from(sorted(CODECS)))
def test_g711_round_trips_decode_identically(
    text: str, rate: int, speed: float, codec: str
) -> None:
    pcm = encode_text(text, rate, speed=speed, leading_silence=0.003, trailing_silence=0.5)
    assert decode_symbols(CODECS[codec](pcm), rate) == decode_symbols(pcm, rate)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("codec", sorted(CODECS))
def test_g711_round_trip_of_every_symbol(rate: int, codec: str) -> None:
    text = " ".join([ALPHABET[1:], ALPHABET[1:][::-1], "a''--..b"])
    pcm = encode_text(text, rate)
    assert decode_text(CODECS[codec](pcm), rate) == text


# --- audio that is not test tones -----------------------------------------------------


@settings(deadline=None)
@given(st.binary(max_size=20000), rates)
def test_random_bytes_are_not_letters(data: bytes, rate: int) -> None:
    assert decode_symbols(data, rate) == []


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("amplitude", [500, 3000, 12000, 32000])
def test_noise_is_not_letters(rate: int, amplitude: int) -> None:
    rng = random.Random(rate + amplitude)
    uniform = [rng.randint(-amplitude, amplitude) for _ in range(rate)]
    gaussian = [max(-32768, min(32767, round(rng.gauss(0, amplitude / 3)))) for _ in range(rate)]
    for samples in (uniform, gaussian):
        items = feed_in_chunks(pcm_of(samples), rate, [317] * 40)
        assert symbols_of(items) == []


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("amplitude", [LEVELS[0], LEVELS[20], LEVELS[-1], 30000])
def test_sine_sweeps_are_not_letters(rate: int, amplitude: int) -> None:
    # 40 Hz up to 7/16 of the sample rate over two seconds, at a level's amplitude.
    top = rate * 7 / 16
    n = 2 * rate
    samples = [
        round(amplitude * math.sin(2 * math.pi * (40 * t + (top - 40) * t * t / (2 * n)) / rate))
        for t in range(n)
    ]
    assert decode_symbols(pcm_of(samples), rate) == []


@pytest.mark.parametrize("frequency", [2.0, 5.0, 20.0, 100.0, 1000.0])
def test_pure_tones_at_a_level_are_not_letters(frequency: float) -> None:
    rate = 16000
    level = LEVELS[10]
    samples = [round(level * math.sin(2 * math.pi * frequency * t / rate)) for t in range(rate)]
    assert decode_symbols(pcm_of(samples), rate) == []


def test_dc_at_a_level_is_not_letters() -> None:
    assert decode_symbols(pcm_of([LEVELS[5]] * 800), 16000) == []


def test_runs_too_short_or_too_long_are_not_symbols() -> None:
    rate = 16000
    short = fs._square(LEVELS[3], 39)  # under 2.5 ms
    ok = fs._square(LEVELS[3], 40)
    long_run = fs._square(LEVELS[3], 1601)  # over 100 ms
    assert decode_symbols(short, rate) == []
    assert decode_symbols(ok, rate) == [ToneSymbol("c", 0, 40)]
    assert decode_symbols(long_run, rate) == []
    # Streamed in small chunks, an overlong run is let go of early and stays a gap.
    pcm = long_run * 3 + encode_text("ok", rate) + long_run + encode_text("go", rate)
    items = feed_in_chunks(pcm, rate, [320] * 200)
    assert symbols_of(items) == decode_symbols(pcm, rate)
    assert "".join(s.char for s in symbols_of(items)) == "okgo"


def test_a_glitch_splits_a_word() -> None:
    rate = 16000
    samples = array.array("h", encode_text("abc", rate))
    samples[240] = 0  # in the middle of the "b"
    assert decode_text(samples.tobytes(), rate) == "ab bc"


# --- the streaming decoder ------------------------------------------------------------


def test_decoder_holds_back_only_the_open_run() -> None:
    rate = 8000
    pcm = encode_text("hey", rate)
    decoder = ToneDecoder(rate)
    assert decoder.feed(pcm[:1]) == []  # half a sample
    assert decoder.feed(pcm[1:120]) == []  # the "h" is still open
    assert decoder.position == 0
    items = decoder.feed(pcm[120:])
    assert [item.char for item in symbols_of(items)] == ["h", "e"]
    assert decoder.position == 160
    assert decoder.flush() == [ToneSymbol("y", 160, 240)]
    assert decoder.position == 240
    assert decoder.flush() == []


def test_flush_drops_an_odd_byte_and_does_not_read_a_symbol_twice() -> None:
    rate = 8000
    decoder = ToneDecoder(rate)
    pcm = encode_text("ab", rate)
    decoder.feed(pcm[:81])  # 40 samples and a half
    assert decoder.flush() == [ToneSymbol("a", 0, 40)]
    # The rest of the "a" (39 samples, after the dropped one) belongs to the symbol already
    # settled; the "b" is read as usual.
    assert decoder.feed(pcm[82:]) == [ToneGap(40, 79, pcm[82:160])]
    assert decoder.flush() == [ToneSymbol("b", 79, 159)]
    # A flush that cuts a run too short to be a symbol leaves the symbol to the rest.
    decoder = ToneDecoder(rate)
    assert decoder.feed(pcm[:20]) + decoder.flush() == [ToneGap(0, 10, pcm[:20])]
    assert symbols_of(decoder.feed(pcm[20:]) + decoder.flush()) == [
        ToneSymbol("a", 10, 80),
        ToneSymbol("b", 80, 160),
    ]


def test_decoding_speed() -> None:
    rate = 16000
    pcm = encode_text("the quick brown fox jumps over the lazy dog. " * 3, rate)[: 2 * rate]
    rng = random.Random(7)
    noise = pcm_of([rng.randint(-8000, 8000) for _ in range(rate)])
    for audio in (pcm, noise):
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            feed_in_chunks(audio, rate, [640] * 50)
            best = min(best, time.perf_counter() - started)
        assert best < 0.05  # about 1 ms on the development machine; generous for CI
