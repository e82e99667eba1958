"""``LocalEngine``: the offline engines behind the local Deepgram-protocol server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from functools import partial
from types import TracebackType
from typing import TypeVar

import trio

from .._audio import Resampler
from .._server.engines import Recognizer, RecognizerOptions, SynthesisOptions
from ._espeak import DEFAULT_VOICE, Espeak, get_espeak
from ._pool import LocalEngineError, PoolStatistics, WorkerPool, open_worker_pool
from ._sphinx import StreamSettings

__all__ = ["LocalEngine"]

_T = TypeVar("_T")

# Sentence ends: synthesis is handed to the caller one sentence at a time, so
# long text starts playing after the first sentence is made, not the last.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*")


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


class LocalEngine:
    """A :class:`~dgtrio._server.engines.SpeechEngine` that needs no network and no key.

    Recognition runs pocketsphinx (US English) in a pool of worker processes;
    synthesis runs espeak-ng in this process. Enter it before use, and leave it
    from the same task::

        async with LocalEngine() as engine:
            ...  # hand `engine` to the local server

    Entering starts ``warm_workers`` recognizer processes and waits until they
    have loaded their models (about a second). :meth:`synthesize` also works
    without entering.

    Args:
        voice: The espeak-ng voice used when a request names none we know,
            e.g. ``"en-us+klatt4"`` (the default; the best-recognised of the
            voices measured) or ``"en-us+m6"``, ``"en"`` (British).
        voices: Maps voice/model names clients send (``"aura-2-thalia-en"``)
            to espeak-ng voices. A request naming an espeak-ng voice directly
            gets that voice; anything else gets ``voice``.
        warm_workers: Idle recognizer processes kept ready (each ~100 MB).
        max_workers: Most recognizer processes, i.e. concurrent streams; a
            stream beyond that waits for one to end. Default: four per CPU.
        partial_interval: Least audio time (seconds) between two partial
            hypotheses of a stream.
        refine_first_utterance: Decode each stream's first utterance a
            second time, with the cepstral mean measured on it: far fewer
            errors (e.g. 33 % -> 23 % word error rate on espeak-ng speech), at
            the price of that final arriving later by one more decoding of the
            utterance (~0.1-0.2 s per second of speech). Later utterances are
            not affected.
        decoder_config: Extra pocketsphinx decoder settings (``lm``, ``dict``,
            beams, ...), e.g. to use a language model of your own.
        start_timeout: Seconds a recognizer process may take to start.

    Limitations: recognition is US English whatever ``language`` a client asks
    for, ``keyterms`` are ignored, and accuracy is modest (see the benchmark in
    ``benchmarks/local_engines.py``).
    """

    #: Shown in ``Metadata.model_info`` and logs.
    name = "dgtrio-local"

    def __init__(
        self,
        *,
        voice: str = DEFAULT_VOICE,
        voices: Mapping[str, str] | None = None,
        warm_workers: int = 1,
        max_workers: int | None = None,
        partial_interval: float = 0.2,
        refine_first_utterance: bool = True,
        decoder_config: Mapping[str, str | int | float | bool | None] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        if not partial_interval >= 0:
            raise ValueError(f"partial_interval must be >= 0, not {partial_interval}")
        self.voice = voice
        self.voices: dict[str, str] = dict(voices or {})
        self._warm_workers = warm_workers
        self._max_workers = max_workers
        self._decoder_config = dict(decoder_config or {})
        self._start_timeout = start_timeout
        self._partial_interval = partial_interval
        self._refine_first = refine_first_utterance
        self._pool: WorkerPool | None = None
        self._stack: AsyncExitStack | None = None
        # espeak-ng is process-global: one synthesis at a time, queued in trio
        # (cancellable) rather than in threads blocked on its lock.
        self._espeak_slot = trio.CapacityLimiter(1)

    def __repr__(self) -> str:
        state = "running" if self._pool is not None else "not started"
        return f"<LocalEngine {state} voice={self.voice!r}>"

    async def __aenter__(self) -> LocalEngine:
        if self._stack is not None:
            raise RuntimeError("this LocalEngine is already running")
        stack = AsyncExitStack()
        self._pool = await stack.enter_async_context(
            open_worker_pool(
                warm=self._warm_workers,
                max_workers=self._max_workers,
                decoder_config=self._decoder_config,
                start_timeout=self._start_timeout,
            )
        )
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack, self._pool = self._stack, None, None
        if stack is None:
            return None
        return await stack.__aexit__(exc_type, exc, tb)

    @staticmethod
    def supports_language(language: str | None) -> bool:
        """Whether ``language`` (a BCP-47 tag; ``None``: the default) can be recognized.

        The model is US English, so ``en`` and every ``en-*`` tag qualify;
        other languages (and ``multi``) do not. The server refuses them at the
        handshake (400) rather than answer in English.
        """
        if language is None:
            return True
        tag = language.strip().lower()
        return tag == "en" or tag.startswith("en-")

    def statistics(self) -> PoolStatistics:
        """Return the recognizer pool's statistics (idle, busy, started, lost workers)."""
        return self._require_pool().statistics()

    def _require_pool(self) -> WorkerPool:
        if self._pool is None:
            raise LocalEngineError("enter the LocalEngine (async with) before recognising speech")
        return self._pool

    def recognizer(self, options: RecognizerOptions) -> AbstractAsyncContextManager[Recognizer]:
        """Open a recognition stream on a pool worker (waits if all are busy).

        The stream resamples any input rate to 16 kHz and maps
        ``endpointing_ms`` onto pocketsphinx's endpointer with a 300 ms floor
        (see :mod:`dgtrio.local`). Leaving the context returns the worker to
        the pool.

        Raises:
            LocalEngineError: The engine is not running or a worker failed;
                :class:`~dgtrio.local.WorkerCrashedError` from a stream's calls
                if its worker process dies.
        """
        settings = StreamSettings(
            sample_rate=options.sample_rate,
            endpointing_ms=options.endpointing_ms,
            interim_results=options.interim_results,
            partial_interval=self._partial_interval,
            refine_first=self._refine_first,
        )
        return self._require_pool().open_stream(settings)

    async def _run_espeak(self, function: Callable[[], _T]) -> _T:
        return await trio.to_thread.run_sync(function, limiter=self._espeak_slot)

    async def _resolve_voice(self, espeak: Espeak, requested: str) -> str:
        if requested in self.voices:
            return self.voices[requested]
        if not requested:
            return self.voice
        known = await self._run_espeak(partial(espeak.has_voice, requested))
        return requested if known else self.voice

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[bytes]:
        """Yield 16-bit mono PCM at ``options.sample_rate``, a sentence at a time.

        espeak-ng makes ~50 ms chunks at 22 050 Hz, hundreds of times faster
        than real time; each sentence is synthesised in a worker thread and its
        chunks are resampled and yielded as made. ``options.speed`` scales the
        speaking rate (espeak-ng accepts 80-450 words per minute; 1.0 is 175).

        Raises:
            EspeakError: espeak-ng is missing or failed (a subclass of
                :class:`~dgtrio.local.LocalEngineError`).
        """
        espeak = await trio.to_thread.run_sync(get_espeak, limiter=self._espeak_slot)
        voice = await self._resolve_voice(espeak, options.voice)
        resampler = Resampler(espeak.sample_rate, options.sample_rate)
        for sentence in _sentences(text):
            chunks: list[bytes] = []

            def collect(chunk: bytes, chunks: list[bytes] = chunks) -> bool:
                chunks.append(chunk)
                return False

            await self._run_espeak(
                partial(espeak.speak, sentence, collect, voice=voice, speed=options.speed)
            )
            for chunk in chunks:
                pcm = resampler.feed(chunk)
                if pcm:
                    yield pcm
