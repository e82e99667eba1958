"""The deterministic speech engine behind :mod:`dgtrio.testing`.

:class:`FakeEngine` implements :class:`~dgtrio._server.engines.SpeechEngine`
without any model: it *speaks* text as test tones
(:mod:`dgtrio._server.fake_speech`) and *hears* test tones as exact words. For
any other audio it measures energy and makes up words from a small
vocabulary. No randomness, clocks or threads are involved: the same audio
gives the same events, however it is chunked.

Recognition, per stream
=======================

1. A :class:`~dgtrio._server.fake_speech.ToneDecoder` splits the stream into
   tone symbols and gaps (everything else).
2. Symbols are speech. Consecutive non-space symbols form a word whose start
   is the first sample of its first symbol and whose end is the end of its
   last symbol (confidence 1.0). A space symbol or a gap completes the word.
   Words keep their punctuation (``"world."``).
3. Gaps are cut into 10 ms frames (:data:`FRAME_SECONDS`), counted from the
   start of each gap; the last frame before a symbol may be shorter. A frame
   whose RMS reaches :data:`ENERGY_THRESHOLD` is speech. Voiced frames make
   *pseudo-words*: a pseudo-word completes after 250 ms of voiced audio
   (:data:`PSEUDO_WORD_SECONDS`), or, if it has at least half that, when
   100 ms of silence follows it (:data:`WORD_BREAK_SECONDS`) or the utterance
   ends; a shorter remnant is dropped. Its text is
   ``VOCABULARY[crc32(voiced samples) % 16]``, so identical audio gives
   identical words.
4. The first speech after silence emits :class:`SpeechBegan` with the time of
   its first symbol or voiced frame.
5. Each completed word emits a partial :class:`Hypothesis` of the words since
   the last final (only with ``interim_results``), at the audio time the word
   was known to be complete.
6. Silence is measured in whole frames from the end of the last speech. When
   it reaches ``endpointing_ms`` (values below 10 count as 10; ``None``
   disables endpointing), a final hypothesis with ``end_of_speech`` is emitted
   at the end of that frame: exactly ``endpointing_ms`` after the last tone
   symbol when that is a multiple of 10 ms.
7. When a completed word ends 8 s or more after the first word of the current
   hypothesis (:data:`MAX_SEGMENT_SECONDS`), a final without
   ``end_of_speech`` is emitted instead of the partial, so a monologue gets
   ``is_final`` results without ``speech_final``.
8. :meth:`FakeRecognizer.finalize` treats the audio fed so far as complete (it
   settles the tone run and the frame in progress, so decoding resumes from
   a boundary there), completes the word in progress and emits a final
   hypothesis without ``end_of_speech``, possibly with no words. If the
   stream was silent at that point the utterance is over; if it was
   mid-speech, the utterance goes on.

Every :class:`Hypothesis` ``time`` is the audio time its content accounts for.

Synthesis
=========

:meth:`FakeEngine.synthesize` yields ``encode_text(text, rate, speed=speed)``
in 100 ms chunks (the last one shorter). ``speed`` is clamped to 0.5-2 and
divides every symbol and pause length; the voice is ignored. Nothing sleeps:
pacing is the server's business.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator

import trio

from .._audio import rms
from .engines import (
    Hypothesis,
    RecognizedWord,
    RecognizerEvent,
    RecognizerOptions,
    SpeechBegan,
    SynthesisOptions,
)
from .fake_speech import ToneDecoder, ToneGap, ToneItem, ToneSymbol, encode_text

__all__ = [
    "CHUNK_SECONDS",
    "ENERGY_THRESHOLD",
    "FRAME_SECONDS",
    "MAX_SEGMENT_SECONDS",
    "MIN_ENDPOINTING_MS",
    "PSEUDO_WORD_SECONDS",
    "VOCABULARY",
    "WORD_BREAK_SECONDS",
    "FakeEngine",
    "FakeRecognizer",
]

#: Words that audio other than test tones is heard as.
VOCABULARY: tuple[str, ...] = (
    "hello", "yes", "no", "okay", "thanks", "please", "right", "sure",
    "maybe", "well", "today", "time", "good", "one", "two", "three",
)  # fmt: skip

#: Length of an energy frame.
FRAME_SECONDS = 0.010

#: RMS (16-bit scale, about -40 dBFS) at which a frame counts as speech.
ENERGY_THRESHOLD = 300.0

#: Voiced audio per pseudo-word.
PSEUDO_WORD_SECONDS = 0.25

#: Silence that completes a pseudo-word early.
WORD_BREAK_SECONDS = 0.1

#: Span of words after which a final hypothesis is forced.
MAX_SEGMENT_SECONDS = 8.0

#: Smallest endpointing the recognizer applies (smaller values are raised to it).
MIN_ENDPOINTING_MS = 10

#: Length of the chunks :meth:`FakeEngine.synthesize` yields.
CHUNK_SECONDS = 0.1


class FakeRecognizer:
    """One recognition stream of :class:`FakeEngine` (see the module docs).

    The async methods satisfy :class:`~dgtrio._server.engines.Recognizer`; the
    ``_nowait`` ones do the same work synchronously, for sans-IO tests.

    Args:
        options: The stream's options; ``sample_rate`` (at least 1000),
            ``endpointing_ms`` and ``interim_results`` are used.

    Attributes:
        options: The options the stream was opened with.

    Raises:
        ValueError: A sample rate below 1000 Hz.
    """

    def __init__(self, options: RecognizerOptions) -> None:
        rate = options.sample_rate
        self.options = options
        self._rate = rate
        self._decoder = ToneDecoder(rate)
        self._frame_samples = max(1, round(rate * FRAME_SECONDS))
        self._endpoint_samples: int | None = None
        if options.endpointing_ms is not None:
            ms = max(MIN_ENDPOINTING_MS, options.endpointing_ms)
            self._endpoint_samples = max(1, round(rate * ms / 1000))
        self._word_samples = round(rate * PSEUDO_WORD_SECONDS)
        self._break_samples = round(rate * WORD_BREAK_SECONDS)
        self._max_segment_samples = round(rate * MAX_SEGMENT_SECONDS)
        self._closed = False
        self._events: list[RecognizerEvent] = []
        self._position = 0  # samples accounted for
        # utterance and endpointing
        self._in_utterance = False
        self._silence = 0  # silent samples since the last speech, within an utterance
        # the hypothesis being built: completed words since the last final
        self._words: list[RecognizedWord] = []
        self._segment_start = 0  # sample where its first word starts
        # the gap frame being filled
        self._frame = bytearray()
        self._frame_start = 0
        # the tone word being spelled
        self._chars: list[str] = []
        self._tone_start = self._tone_end = 0
        # the pseudo-word being voiced
        self._voiced = 0
        self._voiced_start = self._voiced_end = 0
        self._voiced_crc = 0
        self._voiced_silence = 0

    @property
    def position(self) -> float:
        """Audio time (seconds) up to which the stream has been accounted for."""
        return self._position / self._rate

    def close(self) -> None:
        """Release the stream; further calls raise :exc:`trio.ClosedResourceError`."""
        self._closed = True

    async def feed(self, pcm: bytes) -> list[RecognizerEvent]:
        """Take the next chunk of 16-bit mono PCM (any length); returns the events it causes."""
        await trio.lowlevel.checkpoint()
        return self.feed_nowait(pcm)

    async def finalize(self) -> list[RecognizerEvent]:
        """Settle the utterance in progress; the events end with a final hypothesis."""
        await trio.lowlevel.checkpoint()
        return self.finalize_nowait()

    def feed_nowait(self, pcm: bytes) -> list[RecognizerEvent]:
        """Do the work of :meth:`feed` synchronously."""
        self._check_open()
        for item in self._decoder.feed(pcm):
            self._item(item)
        return self._take()

    def finalize_nowait(self) -> list[RecognizerEvent]:
        """Do the work of :meth:`finalize` synchronously."""
        self._check_open()
        for item in self._decoder.flush():
            self._item(item)
        if self._frame:
            self._close_frame()
        now = self._position
        self._end_tone_word(now, report=False)
        self._end_pseudo_word(now, report=False)
        self._final(now, end_of_speech=False)
        if self._silence:
            self._in_utterance = False
            self._silence = 0
        return self._take()

    # --- internals -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("this recognizer has been closed")

    def _take(self) -> list[RecognizerEvent]:
        events, self._events = self._events, []
        return events

    def _seconds(self, samples: int) -> float:
        return samples / self._rate

    def _item(self, item: ToneItem) -> None:
        if isinstance(item, ToneSymbol):
            self._symbol(item)
        else:
            self._gap(item)

    def _symbol(self, symbol: ToneSymbol) -> None:
        if self._frame:  # the gap before this symbol ends here
            self._close_frame()
        self._end_pseudo_word(symbol.start)
        self._speech(symbol.start)
        if symbol.char == " ":
            self._end_tone_word(symbol.start)
        else:
            if not self._chars:
                self._tone_start = symbol.start
            self._chars.append(symbol.char)
            self._tone_end = symbol.end
        self._position = symbol.end

    def _gap(self, gap: ToneGap) -> None:
        self._end_tone_word(gap.start)
        pcm, full = gap.pcm, 2 * self._frame_samples
        offset = 0
        while offset < len(pcm):
            if not self._frame:
                self._frame_start = gap.start + offset // 2
            take = min(len(pcm) - offset, full - len(self._frame))
            self._frame += pcm[offset : offset + take]
            offset += take
            if len(self._frame) == full:
                self._close_frame()

    def _close_frame(self) -> None:
        pcm = bytes(self._frame)
        self._frame.clear()
        start = self._frame_start
        count = len(pcm) // 2
        end = start + count
        self._position = end
        if pcm.strip(b"\x00") and rms(pcm) >= ENERGY_THRESHOLD:  # digital silence is common
            self._speech(start)
            if not self._voiced:
                self._voiced_start = start
            self._voiced += count
            self._voiced_end = end
            self._voiced_crc = zlib.crc32(pcm, self._voiced_crc)
            self._voiced_silence = 0
            if self._voiced >= self._word_samples:
                self._end_pseudo_word(end)
            return
        if self._in_utterance:
            self._silence += count
            if self._endpoint_samples is not None and self._silence >= self._endpoint_samples:
                self._end_pseudo_word(end, report=False)
                self._final(end, end_of_speech=True)
                self._in_utterance = False
                self._silence = 0
                return
        if self._voiced:
            self._voiced_silence += count
            if self._voiced_silence >= self._break_samples:
                self._end_pseudo_word(end)

    def _speech(self, start: int) -> None:
        if not self._in_utterance:
            self._in_utterance = True
            self._events.append(SpeechBegan(self._seconds(start)))
        self._silence = 0

    def _end_tone_word(self, now: int, *, report: bool = True) -> None:
        if not self._chars:
            return
        text = "".join(self._chars)
        self._chars = []
        self._add_word(text, self._tone_start, self._tone_end, 1.0, now, report=report)

    def _end_pseudo_word(self, now: int, *, report: bool = True) -> None:
        voiced, crc = self._voiced, self._voiced_crc
        if not voiced:
            return
        self._voiced = self._voiced_crc = self._voiced_silence = 0
        if 2 * voiced < self._word_samples:
            return  # too short to be heard as a word
        word = VOCABULARY[crc % len(VOCABULARY)]
        confidence = round(0.5 + (crc >> 16) % 50 / 100, 2)
        self._add_word(word, self._voiced_start, self._voiced_end, confidence, now, report=report)

    def _add_word(
        self, text: str, start: int, end: int, confidence: float, now: int, *, report: bool
    ) -> None:
        if not self._words:
            self._segment_start = start
        self._words.append(
            RecognizedWord(text, self._seconds(start), self._seconds(end), confidence)
        )
        if not report:
            return
        if end - self._segment_start >= self._max_segment_samples:
            self._final(now, end_of_speech=False)
        elif self.options.interim_results:
            self._events.append(Hypothesis(tuple(self._words), False, False, self._seconds(now)))

    def _final(self, now: int, *, end_of_speech: bool) -> None:
        words, self._words = tuple(self._words), []
        self._events.append(Hypothesis(words, True, end_of_speech, self._seconds(now)))


class _Chunks(AsyncIterator[bytes]):
    """Slices of a byte string, served as an async iterator (nothing to clean up)."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = data
        self._size = size
        self._offset = 0

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        offset = self._offset
        if offset >= len(self._data):
            raise StopAsyncIteration
        self._offset = offset + self._size
        return self._data[offset : offset + self._size]


class FakeEngine:
    """A deterministic :class:`~dgtrio._server.engines.SpeechEngine` (see the module docs).

    Args:
        name: Shown in metadata and logs.
    """

    def __init__(self, name: str = "dgtrio-fake") -> None:
        self.name = name

    @contextlib.asynccontextmanager
    async def recognizer(self, options: RecognizerOptions) -> AsyncIterator[FakeRecognizer]:
        """Open a recognition stream, closed again when the context exits."""
        recognizer = FakeRecognizer(options)
        try:
            yield recognizer
        finally:
            recognizer.close()

    def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[bytes]:
        """Yield ``text`` as test tones at ``options.sample_rate``, in 100 ms chunks.

        ``options.speed`` (clamped to 0.5-2) divides the symbol and pause
        lengths; ``options.voice`` is ignored. Empty or unspeakable text yields
        nothing.

        Raises:
            ValueError: A sample rate below 1000 Hz or a speed that is not a
                positive number.
        """
        pcm = encode_text(text, options.sample_rate, speed=options.speed)
        return _Chunks(pcm, 2 * max(1, round(options.sample_rate * CHUNK_SECONDS)))
