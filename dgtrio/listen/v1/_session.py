"""The ``/v1/listen`` session: live transcription with Nova models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ..._errors import ConfigurationError, RequestError, SessionClosedError
from ..._options import RequestOptions, SessionOptions
from ..._protocol import Ack, ProtocolState
from ..._query import Scalar
from ..._reconnect import ReconnectPolicy
from ..._replay import AudioReplay
from ..._session import _TIMED_OUT, Session
from ..._transport import Transport
from ._messages import (
    SCHEMA,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Finalize,
    KeepAlive,
    ListenV1ControlMessage,
    ListenV1Event,
    Results,
    SpeechStarted,
    UtteranceEnd,
)

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["INTERIM_RESPONSE_TIMEOUT", "ListenV1Client", "ListenV1Protocol", "ListenV1Session"]

#: Default ``response_timeout`` of sessions with ``interim_results``, in seconds.
INTERIM_RESPONSE_TIMEOUT = 10.0

#: A parameter that may be given once or as a list.
Repeated = Scalar | Sequence[Scalar]
#: ``extra``, ``replace`` and ``keywords`` also take a mapping (sent as ``k:v`` pairs).
Pairs = Scalar | Sequence[Scalar] | Mapping[str, Scalar]


class ListenV1Protocol(ProtocolState):
    """The rules of ``/v1/listen`` (protocol.md §2).

    ``CloseStream`` half-closes: nothing may be sent after it. ``Results``
    with ``from_finalize`` answers a ``Finalize``; ``ConfigureSuccess`` and
    ``ConfigureFailure`` answer a ``Configure``.
    """

    close_message: ClassVar[Any] = CloseStream()
    keepalive_message: ClassVar[Any] = KeepAlive()

    def received(self, event: Any) -> Ack | None:
        """Map a received event to the request it answers."""
        cls = event.__class__
        if cls is Results:
            return Ack("finalize", event) if event.from_finalize else None
        if cls is ConfigureSuccess:
            return Ack("configure", event)
        if cls is ConfigureFailure:
            return Ack("configure", error=RequestError(event.code, event.description, event))
        return None


class ListenV1Session(Session[ListenV1Event]):
    """A live transcription session on ``/v1/listen``.

    Iterate it for :class:`Results`, :class:`Metadata`, :class:`UtteranceEnd`,
    :class:`SpeechStarted`, configure replies, :class:`Error` and
    :class:`~dgtrio.UnknownMessage`; send audio with :meth:`send_media`.
    A ``KeepAlive`` goes out by itself after ``keepalive_interval`` seconds
    (default 4) without an outgoing frame.

    With a :class:`~dgtrio.ReconnectPolicy`, audio not yet covered by a final
    result is kept (up to ``replay_seconds``) and sent again first on a new
    connection, and every timestamp from the new connection is moved onto the
    session's continuous timeline. Raw audio (``encoding`` and
    ``sample_rate`` given) and WAV are replayed exactly; for other containers
    nothing can be replayed and the timeline continues from the last final.
    """

    path: ClassVar[str] = "/v1/listen"
    schema = SCHEMA
    protocol_class = ListenV1Protocol
    default_keepalive_interval: ClassVar[float | None] = 4.0

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        super().__init__(transport, options)
        self._replay = AudioReplay(transport.url, options.reconnect)

    # -- reconnection (rule 7 of dgtrio._session; the machinery is dgtrio._replay)

    def _before_media_sent(self, data: bytes) -> None:
        self._replay.record(data)

    def _observe(self, event: Any) -> object:
        if event.__class__ is Results and event.is_final:
            self._replay.finalized(event.start + event.duration)
        return None

    def _shift(self, event: Any, offset: float) -> Any:
        return _shift_event(event, offset)

    async def _resume(self, transport: Transport) -> list[Any]:
        self._time_offset = await self._replay.resend(transport)
        return await super()._resume(transport)

    def _reconnected_details(self) -> dict[str, Any]:
        return self._replay.report()

    async def send_control(
        self, message: KeepAlive | Finalize | CloseStream | Configure | ListenV1ControlMessage
    ) -> None:
        """Send a control message without waiting for any reply.

        Accepts the typed messages and the official SDK's
        ``ListenV1ControlMessage(type="KeepAlive")``.
        """
        if isinstance(message, ListenV1ControlMessage):
            message = message.to_message()
        if not isinstance(message, (KeepAlive, Finalize, CloseStream, Configure)):
            raise TypeError(f"not a /v1/listen control message: {message!r}")
        await self._send_message(message)

    async def keep_alive(self) -> None:
        """Send a ``KeepAlive`` now (normally not needed: it is automatic)."""
        await self._send_message(KeepAlive())

    async def finalize(self, channel: int | None = None, *, timeout: float = 5.0) -> Results | None:
        """Flush: ask for the buffered audio to be transcribed now.

        Everything sent before is transcribed first (frames are sent in
        order). Returns the ``from_finalize`` Results, or ``None`` when none
        arrives within ``timeout`` seconds: Deepgram does not answer when too
        little audio is buffered. The same Results is also delivered to
        ``async for`` as usual.

        Args:
            channel: Finalize one channel (0-based) of multichannel audio.
            timeout: Seconds to wait for the answer.
        """
        result = await self._request(Finalize(channel), "finalize", ack_timeout=timeout)
        return None if result is _TIMED_OUT else result

    async def configure(
        self,
        *,
        keyterms: Sequence[str] | None = None,
        features: Mapping[str, bool] | None = None,
        timeout: float = 10.0,
    ) -> ConfigureSuccess:
        """Change settings mid-stream and wait for the server to apply them.

        At most one ``Configure`` is in flight; a second call waits for the
        first to be answered.

        Args:
            keyterms: Replaces the keyterm list (``[]`` clears it).
            features: Formatting features to switch, e.g. ``{"numerals": True}``.
            timeout: Seconds to wait for the answer.

        Raises:
            RequestError: The server answered ``ConfigureFailure``.
            AckTimeoutError: No answer within ``timeout``.
        """
        reply: ConfigureSuccess = await _configure(self, Configure(keyterms, features), timeout)
        return reply

    async def close_stream(self) -> None:
        """Half-close: no more audio; the server sends its last results and closes.

        Keep iterating the session to receive them: the final ``Results``,
        then ``Metadata``, then the end of the stream.
        """
        await self._send_message(CloseStream())


async def _configure(session: Session[Any], message: Any, timeout: float) -> Any:
    from ..._errors import AckTimeoutError

    result = await session._request(message, "configure", ack_timeout=timeout, exclusive=True)
    if result is _TIMED_OUT:
        raise AckTimeoutError("ConfigureSuccess or ConfigureFailure", timeout)
    if result is None:
        raise SessionClosedError("the connection closed before the Configure was answered")
    return result


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _shift_event(event: Any, offset: float) -> Any:
    """Move a /v1/listen event's timestamps by ``offset`` seconds."""
    cls = event.__class__
    if cls is Results:
        channel = event.channel
        alternatives = tuple(
            attrs.evolve(
                alt,
                words=tuple(
                    attrs.evolve(w, start=w.start + offset, end=w.end + offset) for w in alt.words
                ),
            )
            for alt in channel.alternatives
        )
        return attrs.evolve(
            event,
            start=event.start + offset,
            channel=attrs.evolve(channel, alternatives=alternatives),
        )
    if cls is UtteranceEnd:
        return attrs.evolve(event, last_word_end=event.last_word_end + offset)
    if cls is SpeechStarted:
        return attrs.evolve(event, timestamp=event.timestamp + offset)
    return event


class ListenV1Client:
    """``client.listen.v1``: opens ``/v1/listen`` sessions."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client

    def connect(
        self,
        *,
        model: str,
        callback: str | None = None,
        callback_method: str | None = None,
        channels: int | str | None = None,
        detect_entities: bool | str | None = None,
        diarize: bool | str | None = None,
        diarize_model: str | None = None,
        dictation: bool | str | None = None,
        encoding: str | None = None,
        endpointing: int | bool | str | None = None,
        extra: Pairs | None = None,
        filler_words: bool | str | None = None,
        interim_results: bool | str | None = None,
        keyterm: Repeated | None = None,
        keywords: Pairs | None = None,
        language: str | None = None,
        language_hint: Repeated | None = None,
        mip_opt_out: bool | str | None = None,
        multichannel: bool | str | None = None,
        numerals: bool | str | None = None,
        profanity_filter: bool | str | None = None,
        punctuate: bool | str | None = None,
        redact: Repeated | None = None,
        replace: Pairs | None = None,
        sample_rate: int | str | None = None,
        search: Repeated | None = None,
        smart_format: bool | str | None = None,
        tag: Repeated | None = None,
        utterance_end_ms: int | str | None = None,
        vad_events: bool | str | None = None,
        version: str | None = None,
        authorization: str | None = None,
        request_options: RequestOptions | None = None,
        reconnect: ReconnectPolicy | None = None,
    ) -> AbstractAsyncContextManager[ListenV1Session]:
        """Open a live transcription session.

        Use as ``async with client.listen.v1.connect(model="nova-3", ...) as
        session:``. Parameters are Deepgram's query parameters (see
        protocol.md §2.1); give natural Python values (``True``, ``300``,
        lists, mappings for ``extra``/``replace``/``keywords``) or the strings
        the official SDK uses. ``None`` omits a parameter.

        Args:
            model: The model, e.g. ``"nova-3"``.
            callback: URL to which results are also POSTed.
            callback_method: HTTP method for ``callback``.
            channels: Channel count of raw audio.
            detect_entities: Add ``entities`` to final results.
            diarize: Label words with speakers.
            diarize_model: ``"v1"`` or ``"latest"``; selects and enables diarization.
            dictation: Spoken punctuation commands become punctuation.
            encoding: Raw audio encoding (``linear16``, ``mulaw``...); omit for
                containerized audio such as WAV. Requires ``sample_rate``.
            endpointing: Milliseconds of silence that end an utterance, or ``False``.
            extra: Key/value pairs echoed back in results (a mapping or ``"k:v"`` strings).
            filler_words: Keep "uh" and "um".
            interim_results: Send interim (non-final) results.
            keyterm: Nova-3 keyterm prompting; one term or a list.
            keywords: Keyword boosting (``{"word": 2}`` or ``"word:2"``), not Nova-3.
            language: BCP-47 language, or ``"multi"``.
            language_hint: Language hints for ``language="multi"``.
            mip_opt_out: Opt out of the Model Improvement Program.
            multichannel: Transcribe channels independently.
            numerals: Numbers as digits.
            profanity_filter: Filter profanity.
            punctuate: Punctuation and capitalization.
            redact: What to redact (``"pci"``, ``"ssn"``...); one or a list.
            replace: Find-and-replace pairs (``{"find": "replacement"}``).
            sample_rate: Sample rate of raw audio.
            search: Terms to search for; one or a list.
            smart_format: Format numbers, dates and more.
            tag: Usage-reporting labels; one or a list.
            utterance_end_ms: Gap that triggers ``UtteranceEnd`` (needs
                ``interim_results``).
            vad_events: Send ``SpeechStarted``.
            version: Model version.
            authorization: Replaces the ``Authorization`` header value for this
                connection (e.g. ``"Token ..."`` or ``"Bearer ..."``).
            request_options: Extra headers and query parameters, timeouts and
                session tuning; see :class:`~dgtrio.RequestOptions`. With
                ``interim_results``, ``response_timeout`` defaults to
                :data:`INTERIM_RESPONSE_TIMEOUT` (10 s): audio flowing that
                long with no message back means the connection is dead.
                Without interim results the service may stay quiet through
                long silences, so the watchdog is off unless you set it.
            reconnect: Reconnect on transient failures, replaying unfinalized
                audio; off by default. See :class:`~dgtrio.ReconnectPolicy`.

        Raises:
            ConfigurationError: Contradictory or invalid parameters.
        """
        if encoding is not None and sample_rate is None:
            raise ConfigurationError(
                f"encoding={encoding!r} needs sample_rate (omit encoding for WAV and "
                "other containerized audio)"
            )
        if utterance_end_ms is not None and not _truthy(interim_results):
            raise ConfigurationError("utterance_end_ms needs interim_results=True")
        if _truthy(interim_results) and "response_timeout" not in (request_options or {}):
            # Interim results come about every second while audio flows, so a
            # silent server is a dead one (docs: "Reconnecting", liveness).
            request_options = {
                **(request_options or {}),
                "response_timeout": INTERIM_RESPONSE_TIMEOUT,
            }
        params: list[tuple[str, Any]] = [
            ("model", model),
            ("callback", callback),
            ("callback_method", callback_method),
            ("channels", channels),
            ("detect_entities", detect_entities),
            ("diarize", diarize),
            ("diarize_model", diarize_model),
            ("dictation", dictation),
            ("encoding", encoding),
            ("endpointing", endpointing),
            ("extra", extra),
            ("filler_words", filler_words),
            ("interim_results", interim_results),
            ("keyterm", keyterm),
            ("keywords", keywords),
            ("language", language),
            ("language_hint", language_hint),
            ("mip_opt_out", mip_opt_out),
            ("multichannel", multichannel),
            ("numerals", numerals),
            ("profanity_filter", profanity_filter),
            ("punctuate", punctuate),
            ("redact", redact),
            ("replace", replace),
            ("sample_rate", sample_rate),
            ("search", search),
            ("smart_format", smart_format),
            ("tag", tag),
            ("utterance_end_ms", utterance_end_ms),
            ("vad_events", vad_events),
            ("version", version),
        ]
        return self._client._open(
            ListenV1Session,
            params,
            authorization=authorization,
            request_options=request_options,
            reconnect=reconnect,
        )
