"""Text carried in audio: the "test tones" that the fake speech engine speaks and hears.

Tests need to *say exact words* to a speech recognizer and get them back with
exact timings, through every audio path the protocol offers (linear16, µ-law,
A-law, 8 to 48 kHz). This module encodes text as 16-bit PCM that survives all
of them, and decodes it again from a stream cut into arbitrary chunks.

Design
======

Alphabet
    :func:`normalize_text` lowercases the text, decomposes accents (``é`` is
    ``e``), maps typographic apostrophes and dashes to ``'`` and ``-``, turns
    whitespace into single spaces and drops everything outside the 43
    characters ``a``-``z``, ``0``-``9``, space, ``'`` and ``. , ? ! -``. A 44th
    symbol, *repeat*, stands for "the previous character again", so that two
    neighbouring symbols are never the same (``"ll"`` is ``l`` then *repeat*).

Symbols
    Each symbol is a square wave alternating ``+L``/``-L`` on every sample
    (the Nyquist frequency of the stream), held for one symbol length:
    10 ms, divided by the synthesis speed (which is clamped to 0.5-2, so
    symbols last 5-20 ms). A space is a symbol like any other, so a sentence is
    one contiguous tone.

Levels
    Symbol ``k`` (in the order of :data:`ALPHABET`, *repeat* last) has the
    amplitude ``LEVELS[k]``: 44 levels from 596 to 25020, a geometric series
    with ratio 1.0906 (a step of 9.06 %), each rounded to a value ``≡ 4 (mod
    8)`` within 0.75 % of its ideal value, picked to be the value that G.711
    reproduces best. ``≡ 4 (mod 8)`` makes A-law encode ``+L`` and ``-L`` to
    mirror codes. After rounding, neighbours are 7.3 % to 9.9 % apart, and a
    µ-law or A-law round trip moves a level by at most 1.97 %. The decoder
    accepts a sample as level ``k`` when ``|ln(|x| / LEVELS[k])| <= 0.035``
    (:data:`LEVEL_TOLERANCE`): wide enough for G.711, narrow enough that
    neighbouring bands never touch. Anything under 579 (including A-law's
    ±8 silence) is "no level".

Pauses
    Sentence-ending punctuation (``.``, ``?`` or ``!`` followed by a space or
    the end of the text) is followed by 300 ms of digital silence, divided by
    the speed (:data:`SENTENCE_PAUSE_SECONDS`), which replaces the space. That
    is what lets endpointing see the end of an utterance. Words inside a
    sentence are contiguous (the space symbol separates them).

Decoding
    :class:`ToneDecoder` needs no alignment and does not know the symbol
    length. It classifies every sample with one table lookup (level and sign,
    or "no level"), finds runs of one level, and accepts a run as a symbol
    when it lasts 2.5 ms to 100 ms (:data:`MIN_RUN_SECONDS`,
    :data:`MAX_RUN_SECONDS`) and its sign alternates on every sample. Thanks
    to *repeat*, each accepted run is exactly one symbol, whatever the speed
    it was made at; its first and last samples are the symbol's exact span.
    Everything else is a :class:`ToneGap`. Only the run still open at the
    end of a chunk is held back, so any chunking of the byte stream
    (odd byte counts included) and any leading offset give the same symbols
    at the same sample positions.

    Real speech, noise and sine sweeps do not decode: their samples rarely stay
    within one 7 % band, and never alternate sign on every sample at a constant
    amplitude for 2.5 ms. They come out as gaps, for an engine to measure by
    energy instead.

The tones do not survive resampling (a Nyquist-rate square wave is exactly
what a resampler's low-pass removes), so engines must decode at the client's
own rate, which the server already hands them.
"""

from __future__ import annotations

import array
import math
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import TypeAlias

import attrs

__all__ = [
    "ALPHABET",
    "LEVELS",
    "LEVEL_TOLERANCE",
    "MAX_RUN_SECONDS",
    "MAX_SPEED",
    "MIN_RUN_SECONDS",
    "MIN_SPEED",
    "SENTENCE_PAUSE_SECONDS",
    "SYMBOL_SECONDS",
    "ToneDecoder",
    "ToneGap",
    "ToneItem",
    "ToneSymbol",
    "ToneWord",
    "decode_symbols",
    "decode_text",
    "decode_words",
    "encode_text",
    "normalize_text",
    "symbol_samples",
    "words_from_symbols",
]

#: The characters test tones can carry, in level order (space first).
ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789'.,?!-"

#: Amplitude of each symbol: one per :data:`ALPHABET` character, then *repeat*.
LEVELS: tuple[int, ...] = (
    596, 652, 716, 780, 844, 932, 1004, 1108, 1196, 1308, 1436,
    1564, 1692, 1844, 2012, 2220, 2388, 2620, 2876, 3132, 3388,
    3684, 4060, 4412, 4796, 5284, 5692, 6204, 6844, 7372, 8044,
    8884, 9660, 10436, 11452, 12476, 13540, 14940, 16108, 17772, 19164,
    20924, 22972, 25020,
)  # fmt: skip

#: Largest accepted distance, in natural-log units, between ``|sample|`` and a level.
LEVEL_TOLERANCE = 0.035

#: Length of one symbol at speed 1.
SYMBOL_SECONDS = 0.010

#: Silence after sentence-ending punctuation at speed 1.
SENTENCE_PAUSE_SECONDS = 0.300

#: Slowest synthesis speed; slower requests are clamped to it.
MIN_SPEED = 0.5

#: Fastest synthesis speed; faster requests are clamped to it.
MAX_SPEED = 2.0

#: Runs of one level shorter than this are not symbols (half the shortest symbol).
MIN_RUN_SECONDS = 0.0025

#: Runs of one level longer than this are not symbols (five times the longest symbol).
MAX_RUN_SECONDS = 0.100

_REPEAT = len(ALPHABET)  # index of the *repeat* symbol in LEVELS
_SENTENCE_END = frozenset(".?!")
_APOSTROPHES = frozenset("\u2018\u2019\u02bc\u0060\u00b4")
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_SYMBOL_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_BIG_ENDIAN = sys.byteorder == "big"

assert len(LEVELS) == len(ALPHABET) + 1


# --- the per-sample classification table ------------------------------------
#
# Indexed by the sample as an unsigned 16-bit value. Code 0 means "no level";
# level k gives k + 1 for a positive sample and k + 1 + 64 for a negative one.
# _ABS folds the sign away, so runs of one level are runs of one byte.

_NEGATIVE = 64


def _build_tables() -> tuple[bytes, bytes]:
    table = bytearray(65536)
    previous_hi = 0
    for k, level in enumerate(LEVELS):
        lo = math.ceil(level * math.exp(-LEVEL_TOLERANCE))
        hi = math.floor(level * math.exp(LEVEL_TOLERANCE))
        assert lo > previous_hi, "level bands must not overlap"
        previous_hi = hi
        width = hi - lo + 1
        table[lo : hi + 1] = bytes([k + 1]) * width
        table[65536 - hi : 65536 - lo + 1] = bytes([k + 1 + _NEGATIVE]) * width
    fold = bytes(
        c - _NEGATIVE if _NEGATIVE < c <= _NEGATIVE + len(LEVELS) else c for c in range(256)
    )
    return bytes(table), fold


_CLASSIFY, _ABS = _build_tables()


def _classify(pcm: bytes) -> bytes:
    """One code byte per sample of ``pcm`` (an even number of bytes)."""
    samples = array.array("H")
    samples.frombytes(pcm)
    if _BIG_ENDIAN:  # pragma: no cover - little-endian CI
        samples.byteswap()
    return bytes(map(_CLASSIFY.__getitem__, samples))


# --- text ----------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Reduce ``text`` to what test tones can carry.

    Lowercases, strips accents, maps typographic apostrophes and dashes to
    ``'`` and ``-``, collapses whitespace to single spaces, drops every other
    character outside :data:`ALPHABET`, and trims the ends. Decoding the tones
    of ``text`` gives back exactly ``normalize_text(text)``.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text.lower()):
        if ch in _SYMBOL_INDEX:
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        elif ch in _APOSTROPHES:
            out.append("'")
        elif ch in _DASHES:
            out.append("-")
    return " ".join("".join(out).split())


def _clamp_speed(speed: float) -> float:
    if not speed > 0 or math.isinf(speed):  # also rejects NaN
        raise ValueError(f"speed must be a positive number, not {speed!r}")
    return min(max(speed, MIN_SPEED), MAX_SPEED)


def symbol_samples(sample_rate: int, speed: float = 1.0) -> int:
    """Return the samples per symbol at ``sample_rate`` and ``speed`` (clamped to 0.5-2).

    Raises:
        ValueError: A sample rate below 1000 Hz, or a speed that is not a
            positive number.
    """
    _check_rate(sample_rate)
    return max(2, round(sample_rate * SYMBOL_SECONDS / _clamp_speed(speed)))


def _check_rate(sample_rate: int) -> None:
    if sample_rate < 1000:
        raise ValueError(f"sample rate must be at least 1000 Hz, not {sample_rate!r}")


def _square(level: int, count: int) -> bytes:
    samples = array.array("h", (level, -level)) * ((count + 1) // 2)
    del samples[count:]
    if _BIG_ENDIAN:  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def encode_text(
    text: str,
    sample_rate: int,
    *,
    speed: float = 1.0,
    leading_silence: float = 0.0,
    trailing_silence: float = 0.0,
) -> bytes:
    """Encode ``text`` as test tones: 16-bit little-endian mono PCM.

    Args:
        text: Any text; it is reduced with :func:`normalize_text` first.
        sample_rate: Samples per second of the result (at least 1000).
        speed: Speaking-rate multiplier, clamped to 0.5-2. Symbols last
            10 ms / speed and sentence pauses 300 ms / speed, so the audio is
            ``1 / speed`` times as long as at speed 1.
        leading_silence: Seconds of silence before the first symbol.
        trailing_silence: Seconds of silence after everything else.

    Returns:
        The PCM. Its length is proportional to the length of the normalized
        text: one symbol per character, except that a space after a sentence
        end becomes a pause.

    Raises:
        ValueError: A sample rate below 1000 Hz, a speed that is not a
            positive number, or negative silence.
    """
    if leading_silence < 0 or trailing_silence < 0:
        raise ValueError("silence lengths must not be negative")
    symbol = symbol_samples(sample_rate, speed)
    pause = bytes(2 * round(sample_rate * SENTENCE_PAUSE_SECONDS / _clamp_speed(speed)))
    shapes: dict[int, bytes] = {}
    parts = [bytes(2 * round(sample_rate * leading_silence))]
    norm = normalize_text(text)
    previous: int | None = None
    skip_space = False
    for i, ch in enumerate(norm):
        if skip_space:  # the pause after a sentence stands in for this space
            skip_space = False
            continue
        index = _SYMBOL_INDEX[ch]
        if index == previous:
            index = _REPEAT
        shape = shapes.get(index)
        if shape is None:
            shape = shapes[index] = _square(LEVELS[index], symbol)
        parts.append(shape)
        previous = index
        if ch in _SENTENCE_END and (i + 1 == len(norm) or norm[i + 1] == " "):
            parts.append(pause)
            previous = None
            skip_space = True
    parts.append(bytes(2 * round(sample_rate * trailing_silence)))
    return b"".join(parts)


# --- decoding ------------------------------------------------------------------


@attrs.frozen
class ToneSymbol:
    """One decoded character.

    Attributes:
        char: The character (one of :data:`ALPHABET`; *repeat* is resolved).
        start: Index of its first sample, counted from the stream start.
        end: Index one past its last sample.
    """

    char: str
    start: int
    end: int


@attrs.frozen
class ToneGap:
    """Samples that are not part of any symbol: silence, speech, noise.

    Consecutive gaps may be split differently depending on how the stream was
    chunked; their union is the same.

    Attributes:
        start: Index of the first sample, counted from the stream start.
        end: Index one past the last sample.
        pcm: The samples themselves (16-bit little-endian mono).
    """

    start: int
    end: int
    pcm: bytes = attrs.field(repr=False)


#: What :class:`ToneDecoder` yields, in stream order.
ToneItem: TypeAlias = ToneSymbol | ToneGap


@attrs.frozen
class ToneWord:
    """A decoded word: non-space symbols with neither a space nor a gap between them.

    Attributes:
        word: The characters, punctuation included (``"world."``).
        start: Index of the first sample of its first symbol.
        end: Index one past the last sample of its last symbol.
    """

    word: str
    start: int
    end: int


class ToneDecoder:
    """Streaming test-tone decoder for one stream of 16-bit mono PCM.

    Feed chunks of any length (odd byte counts too); each call returns the
    symbols and gaps it could settle, in order. A run of one level still open
    at the end of a chunk is held back until it ends (at most
    :data:`MAX_RUN_SECONDS` of audio), so the output does not depend on the
    chunking. :meth:`flush` settles the open run as if the stream ended.

    Args:
        sample_rate: Samples per second of the PCM (at least 1000).

    Attributes:
        sample_rate: As given.

    Raises:
        ValueError: A sample rate below 1000 Hz.
    """

    def __init__(self, sample_rate: int) -> None:
        _check_rate(sample_rate)
        self.sample_rate = sample_rate
        self._min_run = max(2, math.ceil(sample_rate * MIN_RUN_SECONDS))
        self._max_run = math.floor(sample_rate * MAX_RUN_SECONDS)
        self._runs = re.compile(rb"([\x01-\x2c])\1{%d,}" % (self._min_run - 1))
        self._odd = b""
        self._held_codes = b""  # codes of the open level run, from self._position on
        self._held_pcm = b""
        self._position = 0
        self._overlong = 0  # level code of a run that outgrew MAX_RUN_SECONDS, still open
        self._last_char: str | None = None

    @property
    def position(self) -> int:
        """Samples settled so far (everything before this is in returned items)."""
        return self._position

    def feed(self, pcm: bytes) -> list[ToneItem]:
        """Decode the next chunk of PCM; returns the items it settles."""
        data = self._odd + pcm
        cut = len(data) & ~1
        self._odd = data[cut:]
        if not cut:
            return []
        data = data[:cut]
        codes = _classify(data)
        if self._held_codes:
            codes = self._held_codes + codes
            data = self._held_pcm + data
        return self._scan(codes, data, final=False)

    def flush(self) -> list[ToneItem]:
        """Settle the held run as though the stream ended here.

        A trailing odd byte is dropped. Decoding may continue afterwards. If
        the settled run became a symbol and the next audio carries on with the
        same level, that continuation is part of the symbol already returned
        (it comes out as a gap), so a symbol cut in two is not read twice.
        """
        self._odd = b""
        held = self._held_codes
        items = self._scan(held, self._held_pcm, final=True)
        self._overlong = 0
        if held and isinstance(items[-1], ToneSymbol) and items[-1].end == self._position:
            self._overlong = _ABS[held[0]]
        return items

    def _scan(self, codes: bytes, pcm: bytes, *, final: bool) -> list[ToneItem]:
        base = self._position
        n = len(codes)
        self._held_codes = self._held_pcm = b""
        if not n:
            return []
        folded = codes.translate(_ABS)
        items: list[ToneItem] = []
        gap_from = 0  # start of the gap not yet reported
        begin = 0
        if self._overlong:
            begin = n - len(folded.lstrip(bytes([self._overlong])))
            if begin < n or final:
                self._overlong = 0
        cut = n
        last = folded[-1]
        if not final and last and not self._overlong:
            cut = len(folded.rstrip(bytes([last])))
            if n - cut > self._max_run:  # hold no more; the rest of it is a gap too
                self._overlong = last
                cut = n
        for match in self._runs.finditer(folded, begin, cut):
            start, end = match.span()
            char = self._symbol(codes, start, end)
            if char is None:
                continue
            if gap_from < start:
                items.append(ToneGap(base + gap_from, base + start, pcm[2 * gap_from : 2 * start]))
            items.append(ToneSymbol(char, base + start, base + end))
            gap_from = end
        if gap_from < cut:
            items.append(ToneGap(base + gap_from, base + cut, pcm[2 * gap_from : 2 * cut]))
        if cut < n:
            self._held_codes = codes[cut:]
            self._held_pcm = pcm[2 * cut :]
        self._position = base + cut
        return items

    def _symbol(self, codes: bytes, start: int, end: int) -> str | None:
        """Return the character of the run ``codes[start:end]``, or None if it is no symbol."""
        if end - start > self._max_run:
            return None
        first, second = codes[start], codes[start + 1]
        if first == second:
            return None
        evens, odds = codes[start:end:2], codes[start + 1 : end : 2]
        if evens.count(first) != len(evens) or odds.count(second) != len(odds):
            return None
        index = (first & ~_NEGATIVE) - 1
        if index == _REPEAT:
            return self._last_char
        self._last_char = ALPHABET[index]
        return self._last_char


def words_from_symbols(symbols: Iterable[ToneSymbol]) -> list[ToneWord]:
    """Group symbols into words, splitting at spaces and wherever symbols are not adjacent."""
    words: list[ToneWord] = []
    chars: list[str] = []
    start = end = -1
    for symbol in symbols:
        if chars and (symbol.start != end or symbol.char == " "):
            words.append(ToneWord("".join(chars), start, end))
            chars = []
        if symbol.char != " ":
            if not chars:
                start = symbol.start
            chars.append(symbol.char)
        end = symbol.end
    if chars:
        words.append(ToneWord("".join(chars), start, end))
    return words


def decode_symbols(pcm: bytes, sample_rate: int) -> list[ToneSymbol]:
    """Every symbol in a complete stream of 16-bit mono PCM."""
    decoder = ToneDecoder(sample_rate)
    items = decoder.feed(pcm) + decoder.flush()
    return [item for item in items if isinstance(item, ToneSymbol)]


def decode_words(pcm: bytes, sample_rate: int) -> list[ToneWord]:
    """Every word in a complete stream of 16-bit mono PCM, with sample spans."""
    return words_from_symbols(decode_symbols(pcm, sample_rate))


def decode_text(pcm: bytes, sample_rate: int) -> str:
    """Return the text in a complete stream: its words joined by single spaces.

    For tones made by :func:`encode_text` this is ``normalize_text(text)``.
    Audio that is not test tones gives ``""``.
    """
    return " ".join(word.word for word in decode_words(pcm, sample_rate))
