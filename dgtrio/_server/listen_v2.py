"""``/v2/listen`` (Flux) on the server side: protocol.md §3 driven by a speech engine.

What it does, as the service does:

* ``Connected`` (``sequence_id`` 0) first; every later message takes the next
  ``sequence_id``;
* audio in ``linear16``, ``mulaw`` or ``alaw`` at any rate, or WAV detected
  from its header when no ``encoding`` is given; other codecs get a fatal
  ``Error`` (this server cannot decode them);
* ``TurnInfo`` messages driven by the audio alone, as described below;
* ``ForceEndTurn`` ends the open turn with ``EndOfTurn`` (trigger
  ``manual``) and is ignored when no turn is open; ``Configure`` is answered
  with ``ConfigureSuccess`` (or ``ConfigureFailure`` for a threshold out of
  range) and applies to the audio that follows it;
* ``CloseStream``: the audio already received is transcribed, a last
  ``Update`` carries the final text (there is no ``EndOfTurn`` for the open
  turn and no summary), then the connection closes *without a status code*
  (the client sees 1005);
* an unknown or malformed text message gets a fatal ``Error``
  (``UNPARSABLE_CLIENT_MESSAGE``) and the same status-less close.

How turns are made
==================

The audio is processed in *steps* of 80 ms of audio time (the chunk size
Deepgram recommends), on a grid counted from the start of the stream, so the
result does not depend on how the client cuts its frames. For each step:

1. the step's PCM goes to the engine's recognizer, whose hypotheses make the
   turn's words (words settled by a final hypothesis, then the words of the
   current partial one); the first word of each sentence is capitalised;
2. the engine's own endpointing, the one behind ``speech_final`` on
   ``/v1/listen``, says when the speaker talks: from its ``SpeechBegan`` until
   its end-of-speech final hypothesis there is no silence; after it,
   *silence* is the audio time since the end of the last recognized word (the
   recognizer runs with its shortest endpointing, :data:`ENDPOINTING_MS`;
   pocketsphinx's is 300 ms, the fake engine's 10 ms);
3. the end-of-turn confidence grows linearly with silence, from 0 to 1 over
   :data:`FULL_CONFIDENCE_SILENCE` (0.5 s): with the default ``eot_threshold``
   of 0.7 a turn ends 0.35 s after the speaker stops, while the 0.3 s pause
   between two sentences of :func:`dgtrio.testing.speech` keeps the turn open
   (the confidence reaches at most 0.6 there, so a lower ``eager_eot_threshold``
   may fire ``EagerEndOfTurn``, then ``TurnResumed`` when speech goes on,
   depending on where the pause falls on the step grid);
4. the state machine then sends, in this order and as they apply:
   ``StartOfTurn`` when an idle stream gets its first word; ``TurnResumed``
   when speech or text changed after ``EagerEndOfTurn``; ``EagerEndOfTurn``
   when the confidence reaches ``eager_eot_threshold``; ``EndOfTurn`` with
   trigger ``model`` when it reaches ``eot_threshold`` (never when that is
   1.0), or with trigger ``timeout`` after ``eot_timeout_ms`` of silence;
   otherwise an ``Update`` when three steps (0.24 s) went by without a
   ``TurnInfo``, whether or not a turn is open, as the service does.

``audio_window_start`` is where the turn began (the end of the previous
turn), ``audio_window_end`` the audio time of the message; ``turn_index``
goes up right after ``EndOfTurn``. Times are audio times, never wall-clock:
everything happens as fast as the audio arrives, so tests run under trio's
autojump clock.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import attrs
from wsproto.frame_protocol import CloseReason

from .._audio import decode_to_pcm16, parse_wav_header
from ..listen.v2._messages import (
    SCHEMA,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    Error,
    ForceEndTurn,
    Thresholds,
    TurnEvent,
    TurnInfo,
    TurnTrigger,
    TurnWord,
)
from .core import (
    ClientGone,
    Endpoint,
    ServerConnection,
    check_bool,
    check_float,
    check_int,
    check_positive_int,
    check_str,
    register_endpoint,
)
from .engines import Hypothesis, RecognizedWord, Recognizer, RecognizerOptions, SpeechBegan

__all__ = [
    "ENDPOINTING_MS",
    "FULL_CONFIDENCE_SILENCE",
    "STEP_SECONDS",
    "UPDATE_STEPS",
    "serve_listen_v2",
]

#: Audio processed per step of the turn state machine.
STEP_SECONDS = 0.08
#: Steps without a ``TurnInfo`` after which an ``Update`` is sent (0.24 s).
UPDATE_STEPS = 3
#: The endpointing the recognizer runs with (engines raise it to their shortest).
ENDPOINTING_MS = 10
#: Silence after which the end-of-turn confidence reaches 1.
FULL_CONFIDENCE_SILENCE = 0.5

_MIN_STEP_SAMPLES = 8
_RAW_ENCODINGS = ("linear16", "mulaw", "alaw")
_DEFAULT_EOT_THRESHOLD = 0.7
_DEFAULT_EOT_TIMEOUT_MS = 5000
_EAGER_RANGE = (0.3, 0.9)
_EOT_RANGE = (0.5, 1.0)
_TIMEOUT_RANGE = (500, 60000)


# --- query validation ----------------------------------------------------------


def _check_model(value: str) -> str | None:
    if value.startswith("flux"):
        return None
    return f"/v2/listen serves Flux models (flux-general-en, flux-general-multi), not {value!r}"


def _check_range(low: float, high: float) -> Any:
    def check(value: str) -> str | None:
        problem = check_float(value)
        if problem is None and not low <= float(value) <= high:
            problem = f"expected a number from {low:g} to {high:g}, got {value!r}"
        return problem

    return check


def _check_timeout(value: str) -> str | None:
    problem = check_int(value)
    low, high = _TIMEOUT_RANGE
    if problem is None and not low <= int(value) <= high:
        problem = f"expected milliseconds from {low} to {high}, got {value!r}"
    return problem


_PARAMS = {
    "model": _check_model,
    "encoding": check_str,
    "sample_rate": check_positive_int,
    "eager_eot_threshold": _check_range(*_EAGER_RANGE),
    "eot_threshold": _check_range(*_EOT_RANGE),
    "eot_timeout_ms": _check_timeout,
    "keyterm": check_str,
    "language_hint": check_str,
    "profanity_filter": check_bool,
    "numerals": check_bool,
    "redact": check_str,
    "mip_opt_out": check_bool,
    "tag": check_str,
}


@attrs.define
class _Settings:
    """What the client asked for; ``Configure`` changes the mutable part."""

    model: str
    encoding: str | None
    sample_rate: int | None
    eager_eot_threshold: float | None
    eot_threshold: float
    eot_timeout_ms: int
    keyterms: tuple[str, ...]
    language_hints: tuple[str, ...]
    numerals: bool | None
    profanity_filter: bool

    @classmethod
    def parse(cls, conn: ServerConnection) -> _Settings:
        hs = conn.handshake
        params = hs.params

        def number(name: str) -> float | None:
            value = hs.param(name)
            return float(value) if value is not None else None

        rate = hs.param("sample_rate")
        numerals = hs.param("numerals")
        eot = number("eot_threshold")
        timeout = hs.param("eot_timeout_ms")
        return cls(
            model=hs.param("model") or "flux-general-en",
            encoding=hs.param("encoding"),
            sample_rate=int(rate) if rate else None,
            eager_eot_threshold=number("eager_eot_threshold"),
            eot_threshold=_DEFAULT_EOT_THRESHOLD if eot is None else eot,
            eot_timeout_ms=int(timeout) if timeout else _DEFAULT_EOT_TIMEOUT_MS,
            keyterms=tuple(params.get("keyterm", [])),
            language_hints=tuple(params.get("language_hint", [])),
            numerals=None if numerals is None else numerals == "true",
            profanity_filter=hs.param("profanity_filter") == "true",
        )

    def thresholds(self) -> Thresholds:
        return Thresholds(self.eager_eot_threshold, self.eot_threshold, self.eot_timeout_ms)


def _configure_problem(thresholds: Thresholds | None) -> str | None:
    if thresholds is None:
        return None
    checks = (
        ("eager_eot_threshold", thresholds.eager_eot_threshold, _EAGER_RANGE),
        ("eot_threshold", thresholds.eot_threshold, _EOT_RANGE),
        ("eot_timeout_ms", thresholds.eot_timeout_ms, _TIMEOUT_RANGE),
    )
    for name, value, (low, high) in checks:
        if value is not None and not low <= value <= high:
            return f"{name} must be from {low:g} to {high:g}, got {value:g}"
    return None


# --- the connection -----------------------------------------------------------


class _Fatal(Exception):
    """Internal: send a fatal Error, then close without a status."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description


class _Flux:
    def __init__(self, conn: ServerConnection, settings: _Settings) -> None:
        self.conn = conn
        self.settings = settings
        self.sequence_id = 0
        self.encoding = settings.encoding
        self.sample_rate = settings.sample_rate
        self.header = b""  # containerized audio: bytes until the WAV header parses
        self.pending = b""  # an incomplete sample
        self.buffer = b""  # PCM not yet making up a whole step
        self.recognizer: Recognizer | None = None
        self.step_samples = 0
        self.samples = 0  # samples processed so far
        self.heard_audio = False
        # the turn
        self.turn_index = 0
        self.window_start = 0  # in samples
        self.active = False
        self.eager = False  # an EagerEndOfTurn is standing
        self.eager_transcript = ""
        self.voiced_since_eager = False
        self.settled: list[RecognizedWord] = []
        self.partial: list[RecognizedWord] = []
        self.voice_end: int | None = None  # sample after the last recognized word
        self.speaking = False  # between the engine's SpeechBegan and its end of speech
        self.steps_since_info = 0

    # -- sending

    def _next_sequence(self) -> int:
        value = self.sequence_id
        self.sequence_id += 1
        return value

    async def _send_turn_info(
        self, event: TurnEvent, *, trigger: TurnTrigger | None = None
    ) -> None:
        words = self._turn_words()
        rate = self.sample_rate or 16000
        multi = self.settings.model.startswith("flux-general-multi")
        await self.conn.send(
            TurnInfo(
                sequence_id=self._next_sequence(),
                event=event.value,
                turn_index=self.turn_index,
                audio_window_start=round(self.window_start / rate, 4),
                audio_window_end=round(self.samples / rate, 4),
                transcript=" ".join(w.word for w in words),
                end_of_turn_confidence=round(self._confidence(), 4),
                words=words,
                request_id=self.conn.request_id,
                trigger=None if trigger is None else trigger.value,
                languages=("en",) if multi and words else None,
                languages_hinted=self.settings.language_hints or None,
            )
        )
        self.steps_since_info = 0

    def _turn_words(self) -> tuple[TurnWord, ...]:
        words = []
        sentence_start = True
        for word in (*self.settled, *self.partial):
            text = word.word[:1].upper() + word.word[1:] if sentence_start else word.word
            sentence_start = text.endswith((".", "?", "!"))
            words.append(TurnWord(text, word.confidence, round(word.start, 4), round(word.end, 4)))
        return tuple(words)

    def _transcript(self) -> str:
        return " ".join(w.word for w in self._turn_words())

    def _silence(self) -> int:
        """Samples since the last speech (or since the turn began)."""
        if self.speaking:
            return 0
        since = self.voice_end if self.voice_end is not None else 0
        return self.samples - max(since, self.window_start)

    def _confidence(self) -> float:
        rate = self.sample_rate or 16000
        return min(1.0, self._silence() / (FULL_CONFIDENCE_SILENCE * rate))

    # -- the loop

    async def run(self, stack: AsyncExitStack) -> None:
        await self.conn.send(Connected(self._next_sequence(), self.conn.request_id))
        try:
            while True:
                item = await self.conn.receive()
                if isinstance(item, bytes):
                    await self._audio(item, stack)
                elif isinstance(item, CloseStream):
                    await self._close_stream()
                    return
                elif isinstance(item, ForceEndTurn):
                    await self._force_end_turn()
                elif isinstance(item, Configure):
                    await self._configure(item)
                else:
                    raise _Fatal(
                        "UNPARSABLE_CLIENT_MESSAGE",
                        "The message could not be parsed as a Flux client message.",
                    )
        except _Fatal as fatal:
            await self.conn.send(Error(self._next_sequence(), fatal.code, fatal.description))
            await self.conn.close(CloseReason.NO_STATUS_RCVD)

    # -- audio

    async def _audio(self, data: bytes, stack: AsyncExitStack) -> None:
        if not data:
            return  # nothing to transcribe
        if self.encoding is None:
            self.header += data
            try:
                info = parse_wav_header(self.header[:65536])
            except ValueError as exc:
                if "incomplete" in str(exc) and len(self.header) < 65536:
                    return
                raise _Fatal(
                    "UNSUPPORTED_AUDIO_FORMAT",
                    f"Could not detect the audio format ({exc}); set encoding and sample_rate.",
                ) from None
            if info.encoding not in _RAW_ENCODINGS or info.channels != 1:
                raise _Fatal(
                    "UNSUPPORTED_AUDIO_FORMAT",
                    f"dgtrio's server cannot decode {info.channels}-channel "
                    f"{info.encoding} WAV audio.",
                )
            self.encoding, self.sample_rate = info.encoding, info.sample_rate
            data, self.header = self.header[info.data_offset :], b""
        elif self.encoding not in _RAW_ENCODINGS:
            raise _Fatal(
                "UNSUPPORTED_AUDIO_FORMAT",
                f"dgtrio's server cannot decode {self.encoding} audio.",
            )
        if self.recognizer is None:
            await self._open_recognizer(stack)
        width = 2 if self.encoding == "linear16" else 1
        data = self.pending + data
        cut = len(data) - len(data) % width
        data, self.pending = data[:cut], data[cut:]
        if not data:
            return
        self.heard_audio = True
        self.buffer += decode_to_pcm16(data, self.encoding)
        while True:
            need = self.step_samples - self.samples % self.step_samples
            if len(self.buffer) < 2 * need:
                return
            step, self.buffer = self.buffer[: 2 * need], self.buffer[2 * need :]
            await self._process(step)
            await self._evaluate()

    async def _open_recognizer(self, stack: AsyncExitStack) -> None:
        rate = self.sample_rate or 16000
        self.sample_rate = rate
        self.step_samples = max(_MIN_STEP_SAMPLES, round(rate * STEP_SECONDS))
        options = RecognizerOptions(
            sample_rate=rate,
            endpointing_ms=ENDPOINTING_MS,
            language="en",
            keyterms=self.settings.keyterms,
            interim_results=True,
        )
        engine = self.conn.server.engine
        self.recognizer = await stack.enter_async_context(engine.recognizer(options))

    async def _process(self, pcm: bytes) -> None:
        """Feed PCM to the recognizer and the voice detector (no messages)."""
        assert self.recognizer is not None
        self.samples += len(pcm) // 2
        self._hypotheses(await self.recognizer.feed(pcm))

    def _hypotheses(self, events: Sequence[Any]) -> None:
        rate = self.sample_rate or 16000
        for event in events:
            if isinstance(event, SpeechBegan):
                self.speaking = self.voiced_since_eager = True
                continue
            if not isinstance(event, Hypothesis):
                continue
            if event.words:
                end = round(event.words[-1].end * rate)
                if self.voice_end is None or end > self.voice_end:
                    self.voice_end = end
                    self.voiced_since_eager = True
            if event.end_of_speech:
                self.speaking = False
            if event.final:
                self.settled.extend(event.words)
                self.partial = []
            else:
                self.partial = list(event.words)

    async def _flush_buffer(self) -> None:
        """Process the PCM short of a whole step, as when the stream ends."""
        if self.buffer:
            step, self.buffer = self.buffer, b""
            await self._process(step)

    # -- the turn state machine

    async def _evaluate(self) -> None:
        settings = self.settings
        self.steps_since_info += 1
        sent = False
        if not self.active and (self.settled or self.partial):
            self.active = True
            await self._send_turn_info(TurnEvent.START_OF_TURN)
            sent = True
        if self.active:
            transcript = self._transcript()
            if self.eager and (self.voiced_since_eager or transcript != self.eager_transcript):
                self.eager = False
                await self._send_turn_info(TurnEvent.TURN_RESUMED)
                sent = True
            confidence = self._confidence()
            eager = settings.eager_eot_threshold
            rate = self.sample_rate or 16000
            trigger: TurnTrigger | None = None
            if settings.eot_threshold < 1.0 and confidence >= settings.eot_threshold:
                trigger = TurnTrigger.MODEL
            elif self._silence() >= math.ceil(settings.eot_timeout_ms * rate / 1000):
                trigger = TurnTrigger.TIMEOUT
            if not self.eager and eager is not None and (confidence >= eager or trigger):
                await self._send_eager(transcript)
                sent = True
            if trigger is not None:
                await self._end_turn(trigger)
                return
        if not sent and self.steps_since_info >= UPDATE_STEPS:
            await self._send_turn_info(TurnEvent.UPDATE)

    async def _send_eager(self, transcript: str) -> None:
        self.eager = True
        self.eager_transcript = transcript
        self.voiced_since_eager = False
        await self._send_turn_info(TurnEvent.EAGER_END_OF_TURN)

    async def _end_turn(self, trigger: TurnTrigger) -> None:
        assert self.recognizer is not None
        self._hypotheses(await self.recognizer.finalize())
        if self.eager and self._transcript() != self.eager_transcript:
            # EndOfTurn repeats the EagerEndOfTurn text; new text resumes the turn first.
            self.eager = False
            await self._send_turn_info(TurnEvent.TURN_RESUMED)
            await self._send_eager(self._transcript())
        await self._send_turn_info(TurnEvent.END_OF_TURN, trigger=trigger)
        self.turn_index += 1
        self.window_start = self.samples
        self.settled, self.partial = [], []
        self.active = self.eager = False

    # -- text messages

    async def _force_end_turn(self) -> None:
        if self.recognizer is None:
            return
        await self._flush_buffer()
        if not self.active:
            self._hypotheses(await self.recognizer.finalize())
            if not (self.settled or self.partial):
                return  # no turn in progress: nothing to end
            self.active = True
            await self._send_turn_info(TurnEvent.START_OF_TURN)
        await self._end_turn(TurnTrigger.MANUAL)

    async def _close_stream(self) -> None:
        if self.recognizer is not None:
            await self._flush_buffer()
            self._hypotheses(await self.recognizer.finalize())
            if not self.active and (self.settled or self.partial):
                self.active = True
                await self._send_turn_info(TurnEvent.START_OF_TURN)
        if self.heard_audio:
            await self._send_turn_info(TurnEvent.UPDATE)  # the final text of the open turn
        await self.conn.close(CloseReason.NO_STATUS_RCVD)

    async def _configure(self, message: Configure) -> None:
        settings = self.settings
        problem = _configure_problem(message.thresholds)
        if problem is not None:
            await self.conn.send(
                ConfigureFailure(
                    sequence_id=self._next_sequence(),
                    request_id=self.conn.request_id,
                    code="INVALID_THRESHOLD",
                    description=problem,
                )
            )
            return
        if message.thresholds is not None:
            thresholds = message.thresholds
            if thresholds.eager_eot_threshold is not None:
                settings.eager_eot_threshold = thresholds.eager_eot_threshold
            if thresholds.eot_threshold is not None:
                settings.eot_threshold = thresholds.eot_threshold
            if thresholds.eot_timeout_ms is not None:
                settings.eot_timeout_ms = thresholds.eot_timeout_ms
        if message.keyterms is not None:
            keyterms = message.keyterms
            settings.keyterms = (keyterms,) if isinstance(keyterms, str) else tuple(keyterms)
        if message.language_hints is not None:
            settings.language_hints = message.language_hints
        if message.numerals is not None:
            settings.numerals = message.numerals
        await self.conn.send(
            ConfigureSuccess(
                sequence_id=self._next_sequence(),
                request_id=self.conn.request_id,
                thresholds=settings.thresholds(),
                keyterms=settings.keyterms,
                language_hints=settings.language_hints or None,
                numerals=settings.numerals,
                profanity_filter=settings.profanity_filter,
            )
        )


async def serve_listen_v2(conn: ServerConnection) -> None:
    """Run ``/v2/listen`` (Flux) on an accepted connection."""
    flux = _Flux(conn, _Settings.parse(conn))
    async with AsyncExitStack() as stack:
        with contextlib.suppress(ClientGone):
            await flux.run(stack)


ENDPOINT = register_endpoint(
    Endpoint("/v2/listen", SCHEMA, serve_listen_v2, _PARAMS, required=("model",))
)
