"""``/v1/listen`` on the server side: protocol.md §2 driven by a speech engine.

What it does, as the service does:

* audio in ``linear16``, ``mulaw`` or ``alaw`` at any rate, or WAV detected
  from its header when no ``encoding`` is given; other codecs close the
  stream with 1008 ``DATA-0000`` (this server cannot decode them);
* interim Results (with ``interim_results``; at least one per second of
  audio, empty in silence, as the service sends them), final Results with
  ``speech_final`` at endpoints, ``SpeechStarted`` (with ``vad_events``),
  ``UtteranceEnd`` (with ``utterance_end_ms``);
* ``Finalize`` answers with a ``from_finalize`` Results when audio is
  buffered; ``CloseStream`` gives the last Results, then ``Metadata``, then
  close 1000; ``KeepAlive`` is silent; ``Configure`` is acknowledged;
* an empty binary frame closes with 1008 ``DATA-0000``; no client frame for
  ``idle_timeout`` seconds sends ``Metadata`` (sha256 ``"incomplete"``) and
  closes with 1011 and the ``NET-0001`` sentence; a malformed or unknown text
  message gets an ``Error`` (``SchemaError``) and the stream continues.

``multichannel=true`` runs one recognizer per channel; otherwise channels are
mixed down. Timing is audio time: results are produced as fast as audio
arrives, never paced by a clock, so tests run under trio's autojump clock.
"""

from __future__ import annotations

import array
import contextlib
import datetime
import hashlib
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import attrs
import trio

from .._audio import decode_to_pcm16, parse_wav_header
from .._codec import UnknownMessage, dumps
from ..listen.v1._messages import (
    SCHEMA,
    Alternative,
    Channel,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Error,
    Finalize,
    KeepAlive,
    Metadata,
    ModelInfo,
    Results,
    ResultsMetadata,
    SpeechStarted,
    UtteranceEnd,
    Word,
)
from .core import (
    ClientGone,
    Endpoint,
    Malformed,
    ServerConnection,
    check_bool,
    check_int,
    check_pair,
    check_positive_int,
    check_str,
    register_endpoint,
)
from .engines import Hypothesis, RecognizedWord, Recognizer, RecognizerOptions, SpeechBegan

__all__ = ["NET_0001_REASON", "serve_listen_v1"]

#: The close reason the service sends after 10 s without a client frame.
NET_0001_REASON = (
    "Deepgram did not receive audio data or a text message within the timeout window. "
    "See https://dpgr.am/net0001"
)
_DATA_0000_EMPTY = "DATA-0000: received an empty binary frame (an empty frame ends nothing)"
_RAW_ENCODINGS = ("linear16", "mulaw", "alaw")
#: With interim results, at most this much audio passes without a Results.
_INTERIM_PERIOD = 1.0
_MODEL_UUID = "0d1b6e3a-5f1e-4c39-9d8b-7f3a0c2b4e11"


def _check_endpointing(value: str) -> str | None:
    return None if value in ("false", "true") else check_int(value)


_PARAMS = {
    "model": check_str,
    "callback": check_str,
    "callback_method": check_str,
    "channels": check_positive_int,
    "detect_entities": check_bool,
    "diarize": check_bool,
    "diarize_model": check_str,
    "dictation": check_bool,
    "encoding": check_str,
    "endpointing": _check_endpointing,
    "extra": check_pair,
    "filler_words": check_bool,
    "interim_results": check_bool,
    "keyterm": check_str,
    "keywords": check_str,
    "language": check_str,
    "language_hint": check_str,
    "mip_opt_out": check_bool,
    "multichannel": check_bool,
    "numerals": check_bool,
    "profanity_filter": check_bool,
    "punctuate": check_bool,
    "redact": check_str,
    "replace": check_pair,
    "sample_rate": check_positive_int,
    "search": check_str,
    "smart_format": check_bool,
    "tag": check_str,
    "utterance_end_ms": check_positive_int,
    "vad_events": check_bool,
    "version": check_str,
}


@attrs.frozen
class _Options:
    model: str
    encoding: str | None
    sample_rate: int | None
    channels: int
    multichannel: bool
    interim_results: bool
    endpointing_ms: int | None
    utterance_end_ms: int | None
    vad_events: bool
    punctuate: bool
    diarize: bool
    language: str
    keyterms: tuple[str, ...]
    extra: dict[str, str]

    @classmethod
    def parse(cls, conn: ServerConnection) -> _Options:
        hs = conn.handshake
        params = hs.params

        def flag(name: str) -> bool:
            return hs.param(name) == "true"

        endpointing = hs.param("endpointing", "10")
        if endpointing == "false":
            endpointing_ms = None
        else:
            endpointing_ms = 10 if endpointing == "true" else int(endpointing or 10)
        rate = hs.param("sample_rate")
        utterance_end = hs.param("utterance_end_ms")
        extra = dict(item.split(":", 1) for item in params.get("extra", []))
        return cls(
            model=hs.param("model") or "base",
            encoding=hs.param("encoding"),
            sample_rate=int(rate) if rate else None,
            channels=int(hs.param("channels") or 1),
            multichannel=flag("multichannel"),
            interim_results=flag("interim_results"),
            endpointing_ms=endpointing_ms,
            utterance_end_ms=int(utterance_end) if utterance_end else None,
            vad_events=flag("vad_events"),
            punctuate=flag("punctuate") or flag("smart_format"),
            diarize=flag("diarize") or hs.param("diarize_model") is not None,
            language=hs.param("language") or "en-US",
            keyterms=tuple(params.get("keyterm", [])),
            extra=extra,
        )


class _Channel:
    """Recognition state of one (possibly mixed-down) channel."""

    def __init__(self, index: int, count: int, recognizer: Recognizer) -> None:
        self.index = index
        self.count = count
        self.recognizer = recognizer
        self.window_start = 0.0  # start of the audio not yet covered by a final
        self.audio_time = 0.0
        self.heard_since_final = False
        self.last_word_end: float | None = None
        self.utterance_end_sent = True
        self.partial: tuple[RecognizedWord, ...] = ()  # words of the utterance in progress
        self.last_result_at = 0.0  # audio time of the last Results sent


class _ListenV1:
    def __init__(self, conn: ServerConnection, options: _Options) -> None:
        self.conn = conn
        self.options = options
        self.sha = hashlib.sha256()
        self.audio_bytes = 0
        self.channels: list[_Channel] = []
        self.encoding: str | None = options.encoding
        self.sample_rate: int | None = options.sample_rate
        self.source_channels = options.channels
        self.header = b""  # containerized audio: bytes until the WAV header parses
        self.pending = b""  # an incomplete sample frame
        self.model_info = ModelInfo(
            name=f"{conn.server.engine.name}-{options.model}",
            version="dgtrio",
            arch=conn.server.engine.name,
        )

    # -- the loop

    async def run(self, stack: AsyncExitStack) -> None:
        timeout = self.conn.server.idle_timeout
        while True:
            with trio.move_on_after(timeout) as idle:
                item = await self.conn.receive()
            if idle.cancelled_caught:
                await self.conn.send(self._metadata(incomplete=True))
                await self.conn.close(1011, NET_0001_REASON)
                return
            if isinstance(item, bytes):
                if not item:
                    await self.conn.close(1008, _DATA_0000_EMPTY)
                    return
                if not await self._audio(item, stack):
                    return
            elif isinstance(item, KeepAlive):
                continue
            elif isinstance(item, Finalize):
                for channel in self._select(item.channel):
                    if channel.heard_since_final:
                        await self._events(
                            channel, await channel.recognizer.finalize(), finalize=True
                        )
            elif isinstance(item, CloseStream):
                for channel in self.channels:
                    await self._events(channel, await channel.recognizer.finalize(), closing=True)
                await self.conn.send(self._metadata(incomplete=False))
                await self.conn.close(1000)
                return
            elif isinstance(item, Configure):
                await self._configure(item)
            else:
                await self._schema_error(item)

    def _select(self, index: int | None) -> Sequence[_Channel]:
        if index is None:
            return self.channels
        return [c for c in self.channels if c.index == index]

    # -- audio

    async def _audio(self, data: bytes, stack: AsyncExitStack) -> bool:
        self.sha.update(data)
        self.audio_bytes += len(data)
        if self.encoding is None:
            self.header += data
            try:
                info = parse_wav_header(self.header[:65536])
            except ValueError as exc:
                if "incomplete" in str(exc) and len(self.header) < 65536:
                    return True
                await self.conn.close(1008, f"DATA-0000: could not detect the audio format ({exc})")
                return False
            if info.encoding not in _RAW_ENCODINGS:
                await self.conn.close(1008, f"DATA-0000: unsupported WAV encoding {info.encoding}")
                return False
            self.encoding, self.sample_rate, self.source_channels = (
                info.encoding,
                info.sample_rate,
                info.channels,
            )
            data, self.header = self.header[info.data_offset :], b""
        elif self.encoding not in _RAW_ENCODINGS:
            await self.conn.close(
                1008, f"DATA-0000: this server cannot decode {self.encoding} audio"
            )
            return False
        if not self.channels:
            await self._open_channels(stack)
        width = 2 if self.encoding == "linear16" else 1
        frame = width * self.source_channels
        data = self.pending + data
        cut = len(data) - len(data) % frame
        data, self.pending = data[:cut], data[cut:]
        if not data:
            return True
        pcm = decode_to_pcm16(data, self.encoding)
        for channel, samples in zip(self.channels, self._split(pcm), strict=True):
            channel.audio_time += len(samples) / 2 / (self.sample_rate or 16000)
            channel.heard_since_final = True
            await self._events(channel, await channel.recognizer.feed(samples))
            await self._heartbeat(channel)
        return True

    async def _heartbeat(self, channel: _Channel) -> None:
        """With interim results, the service answers about once a second of audio.

        Even in silence it sends (empty) interim results; so does this server,
        repeating the words of the utterance in progress, if any.
        """
        if not self.options.interim_results:
            return
        if channel.audio_time - channel.last_result_at >= _INTERIM_PERIOD:
            hypothesis = Hypothesis(channel.partial, False, False, channel.audio_time)
            await self.conn.send(self._results(channel, hypothesis, is_final=False))
            channel.last_result_at = channel.audio_time

    def _split(self, pcm: bytes) -> list[bytes]:
        count = self.source_channels
        if count == 1:
            return [pcm]
        samples = array.array("h", pcm)
        per_channel = [samples[i::count] for i in range(count)]
        if self.options.multichannel:
            return [c.tobytes() for c in per_channel]
        mixed = array.array("h", (sum(frame) // count for frame in zip(*per_channel, strict=True)))
        return [mixed.tobytes()]

    async def _open_channels(self, stack: AsyncExitStack) -> None:
        rate = self.sample_rate or 16000
        recognizer_options = RecognizerOptions(
            sample_rate=rate,
            endpointing_ms=self.options.endpointing_ms,
            language=self.options.language,
            keyterms=self.options.keyterms,
            interim_results=self.options.interim_results,
        )
        count = self.source_channels if self.options.multichannel else 1
        for index in range(count):
            recognizer = await stack.enter_async_context(
                self.conn.server.engine.recognizer(recognizer_options)
            )
            self.channels.append(_Channel(index, max(count, 1), recognizer))

    # -- engine events to messages

    async def _events(
        self,
        channel: _Channel,
        events: Sequence[Any],
        *,
        finalize: bool = False,
        closing: bool = False,
    ) -> None:
        options = self.options
        for event in events:
            if isinstance(event, SpeechBegan):
                if options.vad_events:
                    await self.conn.send(SpeechStarted((channel.index,), event.time))
                continue
            if not isinstance(event, Hypothesis):
                continue
            if event.words:
                channel.last_word_end = max(w.end for w in event.words)
                channel.utterance_end_sent = False
            if not event.final:
                channel.partial = event.words
                if options.interim_results:
                    await self.conn.send(self._results(channel, event, is_final=False))
                    channel.last_result_at = channel.audio_time
                continue
            channel.partial = ()
            channel.last_result_at = channel.audio_time
            is_from_finalize = finalize and not event.end_of_speech
            await self.conn.send(
                self._results(
                    channel,
                    event,
                    is_final=True,
                    speech_final=event.end_of_speech or closing,
                    from_finalize=is_from_finalize,
                )
            )
            channel.window_start = max(channel.window_start, event.time)
            channel.heard_since_final = False
        await self._utterance_end(channel)

    async def _utterance_end(self, channel: _Channel) -> None:
        gap = self.options.utterance_end_ms
        if gap is None or not self.options.interim_results or channel.utterance_end_sent:
            return
        if channel.last_word_end is None:
            return
        if channel.audio_time - channel.last_word_end >= gap / 1000:
            channel.utterance_end_sent = True
            await self.conn.send(
                UtteranceEnd((channel.index, channel.count), round(channel.last_word_end, 3))
            )

    def _results(
        self,
        channel: _Channel,
        hypothesis: Hypothesis,
        *,
        is_final: bool,
        speech_final: bool = False,
        from_finalize: bool = False,
    ) -> Results:
        options = self.options
        words = []
        for index, recognized in enumerate(hypothesis.words):
            bare = recognized.word.strip(".,?!-").lower() or recognized.word
            punctuated = None
            if options.punctuate:
                punctuated = (
                    recognized.word[:1].upper() + recognized.word[1:]
                    if index == 0
                    else recognized.word
                )
            words.append(
                Word(
                    word=bare,
                    start=round(recognized.start, 3),
                    end=round(recognized.end, 3),
                    confidence=recognized.confidence,
                    punctuated_word=punctuated,
                    speaker=0 if options.diarize else None,
                )
            )
        transcript = " ".join(w.text for w in words)
        confidence = min((w.confidence for w in words), default=0.0)
        start = channel.window_start
        end = max(hypothesis.time, start)
        return Results(
            channel_index=(channel.index, channel.count),
            duration=round(end - start, 3),
            start=round(start, 3),
            channel=Channel((Alternative(transcript, confidence, tuple(words)),)),
            is_final=is_final,
            speech_final=speech_final,
            from_finalize=from_finalize,
            metadata=ResultsMetadata(
                request_id=self.conn.request_id,
                model_uuid=_MODEL_UUID,
                model_info=self.model_info,
                extra=dict(options.extra) or None,
            ),
        )

    def _metadata(self, *, incomplete: bool) -> Metadata:
        rate = self.sample_rate or 16000
        width = 1 if self.encoding in ("mulaw", "alaw") else 2
        duration = self.audio_bytes / (width * rate * max(self.source_channels, 1))
        heard = self.audio_bytes > 0
        return Metadata(
            request_id=self.conn.request_id,
            transaction_key="deprecated",
            sha256="incomplete" if incomplete else self.sha.hexdigest(),
            created=datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            duration=round(duration, 6),
            channels=max(self.source_channels, 1) if heard else 0,
            models=(_MODEL_UUID,) if heard else None,
            model_info={_MODEL_UUID: self.model_info} if heard else None,
            extra=dict(self.options.extra) or None,
        )

    # -- text messages

    async def _configure(self, message: Configure) -> None:
        if message.keyterms is not None and not self.options.model.startswith("nova-3"):
            await self.conn.send(
                ConfigureFailure(
                    request_id=self.conn.request_id,
                    code="CONFIGURE_KEYTERMS_NOT_SUPPORTED",
                    description="Keyterms are only supported with Nova-3 models.",
                )
            )
            return
        await self.conn.send(
            ConfigureSuccess(request_id=self.conn.request_id, keyterms=message.keyterms)
        )

    async def _schema_error(self, item: Any) -> None:
        if isinstance(item, Malformed):
            raw, description = item.raw, str(item.error)
        elif isinstance(item, UnknownMessage):
            raw, description = dumps(item.raw), f"unknown message type {item.type!r}"
        else:  # pragma: no cover - every client class is handled above
            raw, description = repr(item), "unexpected message"
        await self.conn.send(
            Error(
                description=f"Failed to parse client message: {description}",
                variant="SchemaError",
                message=raw,
            )
        )


async def serve_listen_v1(conn: ServerConnection) -> None:
    """Run ``/v1/listen`` on an accepted connection."""
    session = _ListenV1(conn, _Options.parse(conn))
    async with AsyncExitStack() as stack:
        with contextlib.suppress(ClientGone):
            await session.run(stack)


ENDPOINT = register_endpoint(Endpoint("/v1/listen", SCHEMA, serve_listen_v1, _PARAMS, required=()))
