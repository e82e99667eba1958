"""Streaming speech recognition with pocketsphinx 5, one stream at a time.

This module is synchronous and knows nothing of trio or processes: the pool
(:mod:`dgtrio.local._pool`) runs it inside worker processes, because a
pocketsphinx decoder holds the GIL while it works. One :class:`SphinxModel`
(a loaded decoder, ~90 MB, 0.3-0.9 s to load) serves one :class:`SphinxStream`
at a time and is reused for the next.

How a stream turns audio into events
------------------------------------

1. Input at any sample rate is resampled to the model's 16 kHz with
   :class:`dgtrio._audio.Resampler` and appended to a short history buffer.
2. The history is cut into 30 ms frames for pocketsphinx's ``Endpointer`` (the
   WebRTC VAD plus a sliding-window decision). The endpointer is used only for
   its *decisions*: when it enters speech we emit :class:`SpeechBegan` at its
   ``speech_start`` (which includes a short lead-in) and open a decoder
   utterance there, feeding it from the history. From then on *every* frame
   goes to the decoder as soon as it arrives, rather than the endpointer's own
   output, which lags by a window. Partial hypotheses therefore come ~0.3 s
   sooner, and the decoder's frames map to stream time exactly, so word times
   are ``utterance start + frame / 100``.
3. Partial hypotheses are emitted at most every ``partial_interval`` seconds
   of audio, and only when the words changed. Their word confidences are 1.0:
   pocketsphinx computes posteriors only once an utterance ends.
4. The utterance ends when endpointing says so (see below) or on
   :meth:`SphinxStream.finalize`; the final hypothesis carries word times and
   the lattice posteriors as confidences (uncalibrated: correct short words
   often score below 0.2).

Endpointing: how ``endpointing_ms`` maps onto the endpointer
-----------------------------------------------------------

The endpointer's window sets the smallest silence it can detect, but it also
governs speech onset (it needs 9 speech frames out of 10 to start), so
stretching it to a client's 1000 ms would drop short words such as "yes".
The window is therefore fixed at :data:`ENDPOINTER_WINDOW` (300 ms, ratio 0.9):
that is the **floor**. The endpointer leaves speech after about 270 ms of
non-speech; an ``endpointing_ms`` at or below 300 ends the utterance right
there (so Deepgram's default of 10 ms behaves like 300 ms). A larger value
holds the utterance open for another ``endpointing_ms - 300`` ms of audio; if
speech resumes meanwhile, the same utterance continues (a new
:class:`SpeechBegan` is still reported, as it is a voice-activity event).
``endpointing_ms=None`` disables endpointing: utterances end on ``finalize``,
or, as a safety valve against unbounded decoder memory, when an utterance
passes :data:`MAX_UTTERANCE` seconds and the VAD hears silence (that final
has ``end_of_speech=False``).

Cepstral mean, determinism and the second pass
----------------------------------------------

The decoder normalises features by a cepstral mean (CMN) that it learns as it
listens, utterance by utterance. Each stream starts from the mean saved right
after the model loaded, so the same audio gives the same words whatever the
worker heard before. That initial mean is a poor fit for most audio, though,
so the *first* utterance of a stream is recognised badly: with espeak-ng's
voices, 30-75 % word errors against 20-70 % once the mean has adapted. So by
default (``refine_first``) the first utterance, once ended, is decoded a
second time with the mean measured on it, and that second result is the final
one. It costs one more decoding of that utterance (about 0.1-0.2 s of CPU per
second of speech, added to the first final's latency), only when it is at most
:data:`REFINE_LIMIT` seconds long; later utterances keep the adapted mean and
are decoded once. (Resetting the mean per *utterance* instead was measured to
cost a lot of accuracy.)
"""

from __future__ import annotations

import importlib.metadata
import re
import time
from collections.abc import Iterable

import attrs

from .._audio import Resampler
from .._server.engines import Hypothesis, RecognizedWord, RecognizerEvent, SpeechBegan

__all__ = [
    "ENDPOINTER_WINDOW",
    "ENDPOINTING_FLOOR_MS",
    "MAX_UTTERANCE",
    "MODEL_RATE",
    "REFINE_LIMIT",
    "SphinxModel",
    "SphinxStream",
    "StreamSettings",
    "effective_endpointing_ms",
    "normalize_words",
    "word_error_rate",
]

#: The sample rate of the acoustic model shipped in the pocketsphinx wheel.
MODEL_RATE = 16000
#: The endpointer's decision window (seconds) and the fraction of its frames
#: that must agree before it changes state.
ENDPOINTER_WINDOW = 0.3
ENDPOINTER_RATIO = 0.9
#: The shortest silence endpointing can ask for; smaller values act like this.
ENDPOINTING_FLOOR_MS = round(ENDPOINTER_WINDOW * 1000)
#: With endpointing disabled, an utterance longer than this (seconds) is
#: settled at the next silence (see the module docstring).
MAX_UTTERANCE = 120.0
#: A stream's first utterance is decoded a second time only up to this length.
REFINE_LIMIT = 20.0

_BYTES_PER_SAMPLE = 2
# Decoder tokens that are not words: <s>, </s>, <sil>, [NOISE], ++NOISE++ ...
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
# Alternate pronunciations: "the(2)" is the word "the".
_ALTERNATE = re.compile(r"\(\d+\)$")


def effective_endpointing_ms(endpointing_ms: int | None) -> int | None:
    """Return the silence (ms) that ends an utterance for a client's ``endpointing_ms``.

    ``None`` stays ``None`` (endpointing off); anything else is raised to
    :data:`ENDPOINTING_FLOOR_MS`.
    """
    if endpointing_ms is None:
        return None
    return max(ENDPOINTING_FLOOR_MS, endpointing_ms)


@attrs.frozen
class StreamSettings:
    """What a stream needs to know about its audio and its client.

    Attributes:
        sample_rate: Rate of the 16-bit mono PCM the stream is fed.
        endpointing_ms: Silence that ends an utterance (see the module
            docstring for the floor); ``None`` disables endpointing.
        interim_results: Whether to produce partial hypotheses at all.
        partial_interval: Least audio time (seconds) between two partials.
        refine_first: Decode the stream's first utterance a second time with
            the cepstral mean measured on it (see the module docstring).
    """

    sample_rate: int = MODEL_RATE
    endpointing_ms: int | None = 10
    interim_results: bool = True
    partial_interval: float = 0.2
    refine_first: bool = True

    def __attrs_post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {self.sample_rate}")
        if self.endpointing_ms is not None and self.endpointing_ms < 0:
            raise ValueError(f"endpointing_ms must not be negative, not {self.endpointing_ms}")
        if not self.partial_interval >= 0:
            raise ValueError(f"partial_interval must be >= 0, not {self.partial_interval}")


@attrs.frozen
class _Segment:
    word: str
    start_frame: int
    end_frame: int
    prob: float


class SphinxModel:
    """A loaded pocketsphinx decoder for US English at 16 kHz (typed wrapper).

    Loading takes 0.3-0.9 s and ~90 MB, so keep one per process and reuse it
    for stream after stream. Not thread-safe.

    Args:
        config: Extra pocketsphinx configuration (``lm``, ``dict``, ``hmm``,
            beams, ...) on top of the defaults: the wheel's model,
            ``fwdflat=False`` (about 27 % less CPU for the same accuracy) and
            ``loglevel="FATAL"``.

    Raises:
        LocalEngineError: pocketsphinx is not installed or rejected the
            configuration.
    """

    def __init__(self, **config: str | int | float | bool | None) -> None:
        from ._pool import LocalEngineError

        try:
            import pocketsphinx  # type: ignore[import-untyped]  # no stubs upstream
        except ImportError as exc:
            raise LocalEngineError(
                "pocketsphinx is not installed: install the 'dgtrio[local]' extra"
            ) from exc
        options: dict[str, str | int | float | bool | None] = {
            "samprate": MODEL_RATE,
            "fwdflat": False,
            "loglevel": "FATAL",
        }
        options.update(config)
        started = time.perf_counter()
        try:
            self._decoder = pocketsphinx.Decoder(**options)
        except (ValueError, RuntimeError) as exc:
            raise LocalEngineError(f"pocketsphinx rejected its configuration: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self._module = pocketsphinx
        self._initial_cmn: str = str(self._decoder.get_cmn())
        self.frame_rate = int(self._decoder.config["frate"])
        try:
            self.version = importlib.metadata.version("pocketsphinx")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source build
            self.version = "unknown"
        self._utt_open = False

    def reset(self) -> None:
        """Forget everything heard: no open utterance, initial CMN and noise estimate."""
        if self._utt_open:
            self._decoder.end_utt()
            self._utt_open = False
        self._decoder.set_cmn(self._initial_cmn)
        self._decoder.start_stream()

    def endpointer(self) -> _Endpointer:
        """Create an endpointer for a new stream (its clock starts at zero)."""
        return _Endpointer(self._module)

    def start_utterance(self) -> None:
        """Open an utterance."""
        self._decoder.start_utt()
        self._utt_open = True

    def process(self, pcm: bytes) -> None:
        """Decode 16 kHz PCM into the open utterance."""
        if pcm:
            self._decoder.process_raw(pcm, False, False)

    def adopt_utterance_cmn(self) -> None:
        """Make the cepstral mean measured on the last utterance the current one."""
        self._decoder.set_cmn(self._decoder.get_cmn(True))

    def partial_segments(self) -> list[_Segment]:
        """Return the best path so far (confidences are not computed yet)."""
        return self._segments()

    def end_utterance(self) -> list[_Segment]:
        """Close the utterance and return its word segments with posteriors."""
        self._decoder.end_utt()
        self._utt_open = False
        return self._segments()

    def _segments(self) -> list[_Segment]:
        found = self._decoder.seg()
        if found is None:
            return []
        return [
            _Segment(str(s.word), int(s.start_frame), int(s.end_frame), float(s.prob))
            for s in found
        ]


class _Endpointer:
    """Typed wrapper of ``pocketsphinx.Endpointer`` on 16 kHz input."""

    def __init__(self, module: object) -> None:
        vad_mode = module.Vad.LOOSE  # type: ignore[attr-defined]  # untyped module
        self._ep = module.Endpointer(  # type: ignore[attr-defined]
            window=ENDPOINTER_WINDOW,
            ratio=ENDPOINTER_RATIO,
            vad_mode=vad_mode,
            sample_rate=MODEL_RATE,
        )
        self.frame_samples: int = int(self._ep.frame_bytes) // _BYTES_PER_SAMPLE

    @property
    def in_speech(self) -> bool:
        return bool(self._ep.in_speech)

    @property
    def speech_start(self) -> float:
        return float(self._ep.speech_start)

    def process(self, frame: bytes) -> None:
        self._ep.process(frame)


def _words(
    segments: Iterable[_Segment], offset: float, frame_rate: int
) -> tuple[RecognizedWord, ...]:
    words = []
    for seg in segments:
        if _FILLER.match(seg.word):
            continue
        words.append(
            RecognizedWord(
                word=_ALTERNATE.sub("", seg.word),
                start=round(offset + seg.start_frame / frame_rate, 3),
                end=round(offset + (seg.end_frame + 1) / frame_rate, 3),
                confidence=round(min(1.0, max(0.0, seg.prob)), 4),
            )
        )
    return tuple(words)


class SphinxStream:
    """One recognition stream on a :class:`SphinxModel` (see the module docstring).

    The model must not be shared while the stream is open; call :meth:`close`
    (or let the pool do it) before the next stream opens.
    """

    def __init__(self, model: SphinxModel, settings: StreamSettings) -> None:
        model.reset()
        self._model = model
        self._settings = settings
        self._resampler = Resampler(settings.sample_rate, MODEL_RATE)
        self._ep = model.endpointer()
        self._frame = self._ep.frame_samples
        hold = effective_endpointing_ms(settings.endpointing_ms)
        self._hold = None if hold is None else (hold - ENDPOINTING_FLOOR_MS) * MODEL_RATE // 1000
        # Audio bookkeeping, all in 16 kHz samples from the start of the stream.
        self._history = bytearray()  # audio from sample _history_start to _received
        self._history_start = 0
        self._received = 0
        self._vad_pos = 0  # the endpointer has seen audio up to here
        self._keep = int(2 * ENDPOINTER_WINDOW * MODEL_RATE)  # history kept behind _vad_pos
        self._max_utterance = int(MAX_UTTERANCE * MODEL_RATE)
        # Utterance state.
        self._in_utt = False
        self._utt_start = 0
        self._decoded = 0  # the open utterance has been fed up to here
        self._last_utt_end = 0
        self._offset_at: int | None = None  # where the endpointer last left speech
        self._last_partial_at = 0
        self._last_partial: tuple[str, ...] = ()
        self._closed = False
        # Until the first utterance ends, keep its audio for the second pass.
        self._first_pending = settings.refine_first
        self._refine_limit = int(REFINE_LIMIT * MODEL_RATE)

    # -- public -----------------------------------------------------------

    def feed(self, pcm: bytes) -> list[RecognizerEvent]:
        """Take the next chunk of 16-bit mono PCM at the stream's rate."""
        self._check_open()
        events: list[RecognizerEvent] = []
        resampled = self._resampler.feed(pcm)
        self._history += resampled
        self._received += len(resampled) // _BYTES_PER_SAMPLE
        while self._vad_pos + self._frame <= self._received:
            self._step(events)
        if self._in_utt and self._settings.interim_results:
            partial = self._partial()
            if partial is not None:
                events.append(partial)
        self._trim()
        return events

    def finalize(self) -> list[RecognizerEvent]:
        """Settle the utterance in progress; always ends with a final hypothesis."""
        self._check_open()
        if self._in_utt:
            self._feed_decoder(self._received)  # including a partial frame
            return [self._end(end_of_speech=False, at=self._received)]
        return [Hypothesis((), final=True, end_of_speech=False, time=self._seconds(self._received))]

    def close(self) -> None:
        """Abandon the stream (an open utterance is discarded)."""
        if not self._closed:
            self._closed = True
            self._model.reset()

    # -- internals --------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the recognition stream is closed")

    @staticmethod
    def _seconds(samples: int) -> float:
        return round(samples / MODEL_RATE, 4)

    def _audio(self, start: int, end: int) -> bytes:
        lo = (start - self._history_start) * _BYTES_PER_SAMPLE
        hi = (end - self._history_start) * _BYTES_PER_SAMPLE
        return bytes(self._history[lo:hi])

    def _step(self, events: list[RecognizerEvent]) -> None:
        """Run the endpointer on the next frame and act on its decision."""
        frame_start = self._vad_pos
        self._vad_pos += self._frame
        was_speech = self._ep.in_speech
        self._ep.process(self._audio(frame_start, self._vad_pos))
        in_speech = self._ep.in_speech
        onset = None
        if in_speech and not was_speech:
            onset = max(round(self._ep.speech_start * MODEL_RATE), self._history_start)
            events.append(SpeechBegan(self._seconds(onset)))
            self._offset_at = None
        elif was_speech and not in_speech:
            self._offset_at = self._vad_pos
        if not self._in_utt and in_speech:
            # A new utterance starts at the onset, or here if speech continues
            # after a finalize; never re-decode audio an earlier one consumed.
            self._begin(max(frame_start if onset is None else onset, self._last_utt_end))
        if not self._in_utt:
            return
        self._feed_decoder(self._vad_pos)
        if self._offset_at is not None:
            if self._hold is not None and self._vad_pos >= self._offset_at + self._hold:
                events.append(self._end(end_of_speech=True, at=self._vad_pos))
            elif self._hold is None and self._vad_pos - self._utt_start > self._max_utterance:
                events.append(self._end(end_of_speech=False, at=self._vad_pos))

    def _begin(self, start: int) -> None:
        self._model.start_utterance()
        self._in_utt = True
        self._utt_start = self._decoded = start
        self._last_partial_at = start
        self._last_partial = ()

    def _feed_decoder(self, until: int) -> None:
        if until > self._decoded:
            self._model.process(self._audio(self._decoded, until))
            self._decoded = until

    def _end(self, *, end_of_speech: bool, at: int) -> Hypothesis:
        segments = self._model.end_utterance()
        if self._first_pending:
            self._first_pending = False
            if self._decoded - self._utt_start <= self._refine_limit:
                self._model.adopt_utterance_cmn()
                self._model.start_utterance()
                self._model.process(self._audio(self._utt_start, self._decoded))
                segments = self._model.end_utterance()
        self._in_utt = False
        self._last_utt_end = self._decoded
        words = _words(segments, self._utt_start / MODEL_RATE, self._model.frame_rate)
        return Hypothesis(words, final=True, end_of_speech=end_of_speech, time=self._seconds(at))

    def _partial(self) -> Hypothesis | None:
        interval = self._settings.partial_interval * MODEL_RATE
        if self._decoded - self._last_partial_at < interval:
            return None
        self._last_partial_at = self._decoded
        words = _words(
            self._model.partial_segments(), self._utt_start / MODEL_RATE, self._model.frame_rate
        )
        text = tuple(w.word for w in words)
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        at = self._seconds(self._decoded)
        return Hypothesis(words, final=False, end_of_speech=False, time=at)

    def _trim(self) -> None:
        """Drop history nobody can ask for again."""
        if self._first_pending and self._decoded - self._utt_start > self._refine_limit:
            self._first_pending = False  # too long to decode twice
        keep_from = self._vad_pos - self._keep
        if self._in_utt:
            start = self._utt_start if self._first_pending else self._decoded
            keep_from = min(keep_from, start)
        drop = keep_from - self._history_start
        if drop > MODEL_RATE:  # trim in large steps; bytearray deletes are O(n)
            del self._history[: drop * _BYTES_PER_SAMPLE]
            self._history_start = keep_from


_NOT_WORD = re.compile(r"[^\w']+")


def normalize_words(text: str) -> list[str]:
    """Split text into lowercase words without punctuation, for scoring transcripts."""
    return [w.strip("'") for w in _NOT_WORD.split(text.lower()) if w.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Return the word error rate of ``hypothesis`` against ``reference``.

    (Substitutions + deletions + insertions) / reference words, after
    :func:`normalize_words`; 0.0 for two empty texts, and the hypothesis length
    for an empty reference. Numbers are not spelled out: "70" against
    "seventy" counts as an error.
    """
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return float(len(hyp))
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, other in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
            )
        previous = current
    return previous[-1] / len(ref)
