"""The small interfaces between the protocol server and a speech engine.

The server (routing, handshake, protocol state, timeouts, close codes) is
written once. What varies is the engine behind it:

* :mod:`dgtrio.testing` uses a deterministic engine that reads text encoded in
  test tones (see :mod:`dgtrio._server.fake_speech`) and measures energy for
  any other audio;
* :mod:`dgtrio.local` uses real offline engines (pocketsphinx, espeak-ng).

Both implement :class:`SpeechEngine`. The server hands recognizers 16-bit mono
PCM at the client's sample rate (it decodes mu-law, A-law and WAV itself) and
expects 16-bit mono PCM at the requested rate back from synthesis (it encodes
mu-law/A-law itself). Times in events are *audio* times: seconds of audio
from the start of the stream, never wall-clock time, so behaviour is the same
under trio's autojump clock and in real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeAlias

import attrs

__all__ = [
    "EngineError",
    "Hypothesis",
    "RecognizedWord",
    "Recognizer",
    "RecognizerEvent",
    "RecognizerOptions",
    "SpeechBegan",
    "SpeechEngine",
    "SynthesisOptions",
]


class EngineError(Exception):
    """The engine failed (not the server): the connection closes with 1011, the server goes on."""


def unsupported_language(engine: SpeechEngine, language: str | None) -> str | None:
    """Why ``engine`` cannot recognize ``language`` (``None``: it can, or it does not say).

    An engine limited to some languages has a ``supports_language(tag) -> bool``
    method; the server refuses the others at the handshake (400).
    """
    check = getattr(engine, "supports_language", None)
    if language is None or check is None or check(language):
        return None
    return f"language {language!r} is not available on this server ({engine.name})"


@attrs.frozen
class RecognizedWord:
    """A word with its audio-time span and a confidence in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float = 1.0


@attrs.frozen
class SpeechBegan:
    """Voice activity started at ``time`` (seconds of audio)."""

    time: float


@attrs.frozen
class Hypothesis:
    """The recognizer's current view of the utterance in progress.

    Attributes:
        words: The words of the utterance so far (a partial hypothesis may be
            revised by the next one; a final one is settled).
        final: The words are settled and the next hypothesis starts afresh.
        end_of_speech: Endpointing found the end of the utterance (only on a
            final hypothesis; ``False`` for a final forced by ``finalize``).
        time: Audio time up to which this hypothesis accounts for the stream.
    """

    words: tuple[RecognizedWord, ...]
    final: bool
    end_of_speech: bool
    time: float

    @property
    def transcript(self) -> str:
        """The words joined by spaces."""
        return " ".join(w.word for w in self.words)


RecognizerEvent: TypeAlias = SpeechBegan | Hypothesis


@attrs.frozen
class RecognizerOptions:
    """How the client asked for its audio to be recognized.

    Attributes:
        sample_rate: Sample rate of the PCM the recognizer will be fed.
        endpointing_ms: Silence (ms) that ends an utterance; ``None`` disables
            endpointing (utterances then end only on ``finalize``).
        language: BCP-47 language tag the client asked for.
        keyterms: Terms the client asked to boost.
        interim_results: Whether the client wants partial hypotheses (engines
            may skip the work of producing them when not).
    """

    sample_rate: int = 16000
    endpointing_ms: int | None = 10
    language: str = "en-US"
    keyterms: tuple[str, ...] = ()
    interim_results: bool = True


@attrs.frozen
class SynthesisOptions:
    """How the client asked for speech to be synthesized.

    Attributes:
        sample_rate: Rate of the PCM the engine must produce.
        voice: The model/voice name the client asked for (engines map it to
            one of theirs).
        speed: Speaking-rate multiplier.
    """

    sample_rate: int = 24000
    voice: str = ""
    speed: float = 1.0


class Recognizer(Protocol):
    """One live recognition stream."""

    async def feed(self, pcm: bytes) -> Sequence[RecognizerEvent]:
        """Take the next chunk of 16-bit mono PCM (any length, even odd)."""
        ...

    async def finalize(self) -> Sequence[RecognizerEvent]:
        """Settle the utterance in progress now.

        Returns events ending with a final :class:`Hypothesis` (``end_of_speech``
        false), whose words may be empty.
        """
        ...


class SpeechEngine(Protocol):
    """A speech-to-text and text-to-speech engine the server can use."""

    #: Shown in ``Metadata.model_info`` and logs.
    name: str

    def recognizer(self, options: RecognizerOptions) -> AbstractAsyncContextManager[Recognizer]:
        """Open a recognition stream; leaving the context releases its resources."""
        ...

    def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[bytes]:
        """Yield 16-bit mono PCM at ``options.sample_rate`` as it is produced."""
        ...
