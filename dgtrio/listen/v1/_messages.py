"""Messages of Deepgram's live transcription socket, ``/v1/listen``.

Field shapes follow ``protocol.md`` §2 and the captures in ``fixtures/listen-v1``
(where the two disagree the capture wins): ``Metadata`` carries ``models`` and a
``model_info`` *map*, ``Results.metadata`` may be empty, ``from_finalize`` is
absent from older frames, ``SpeechStarted.channel`` has one or two elements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from ..._codec import Schema, UnknownMessage

__all__ = [
    "SCHEMA",
    "Alternative",
    "Channel",
    "CloseStream",
    "Configure",
    "ConfigureFailure",
    "ConfigureSuccess",
    "DiarizeInfo",
    "Entity",
    "Error",
    "Finalize",
    "KeepAlive",
    "ListenV1ClientMessage",
    "ListenV1ControlMessage",
    "ListenV1Event",
    "ListenV1ServerMessage",
    "Metadata",
    "ModelInfo",
    "Results",
    "ResultsMetadata",
    "SearchHit",
    "SearchResult",
    "SpeechStarted",
    "UtteranceEnd",
    "Word",
]


def _optional_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


# --- nested payloads -------------------------------------------------------


@attrs.frozen(slots=False)
class Word:
    """One recognized word with its timing (seconds from the stream start)."""

    word: str
    start: float
    end: float
    confidence: float
    #: With ``punctuate`` or ``smart_format``: the word as it appears in the transcript.
    punctuated_word: str | None = None
    #: With diarization: the speaker index.
    speaker: int | None = None
    speaker_confidence: float | None = None
    #: With ``language=multi``: the word's language.
    language: str | None = None

    @property
    def text(self) -> str:
        """The punctuated form when present, else the bare word."""
        return self.punctuated_word if self.punctuated_word is not None else self.word


@attrs.frozen(slots=False)
class Alternative:
    """One transcription hypothesis for the span."""

    transcript: str
    confidence: float
    words: tuple[Word, ...] = ()
    #: With ``language=multi``: languages detected in the span.
    languages: tuple[str, ...] | None = None
    #: With ``language_hint``: the hints in effect.
    languages_hinted: tuple[str, ...] | None = None


@attrs.frozen(slots=False)
class SearchHit:
    """A match of a ``search`` term."""

    confidence: float
    start: float
    end: float
    snippet: str = ""


@attrs.frozen(slots=False)
class SearchResult:
    """The matches of one ``search`` term (older API versions only)."""

    query: str
    hits: tuple[SearchHit, ...] = ()


@attrs.frozen(slots=False)
class Channel:
    """The alternatives for one audio channel."""

    alternatives: tuple[Alternative, ...]
    search: tuple[SearchResult, ...] | None = None


@attrs.frozen(slots=False)
class ModelInfo:
    """Name, version and architecture of a model."""

    name: str = ""
    version: str = ""
    arch: str = ""


@attrs.frozen(slots=False)
class DiarizeInfo:
    """The diarization model that ran (present only when one did)."""

    model_uuid: str = ""
    arch: str = ""


@attrs.frozen(slots=False)
class ResultsMetadata:
    """Per-result metadata: request id and model."""

    request_id: str = ""
    model_uuid: str = ""
    model_info: ModelInfo | None = None
    diarize_info: DiarizeInfo | None = None
    #: The echo of the ``extra`` query parameter.
    extra: Mapping[str, Any] | None = None


@attrs.frozen(slots=False)
class Entity:
    """A detected entity (``detect_entities=true``, final results only)."""

    label: str
    value: str
    confidence: float
    start_word: int
    end_word: int
    raw_value: str = ""


# --- server messages -------------------------------------------------------


@attrs.frozen(slots=False)
class Results:
    """A transcript for a span of audio, interim or final.

    ``is_final`` marks the span's text as settled; ``speech_final`` marks the
    end of an utterance found by endpointing; ``from_finalize`` marks the
    answer to a ``Finalize``. An utterance is usually several final spans of
    which only the last has ``speech_final``.
    """

    type: ClassVar[str] = "Results"

    channel_index: tuple[int, ...]
    duration: float
    start: float
    channel: Channel
    is_final: bool = False
    speech_final: bool = False
    from_finalize: bool = False
    metadata: ResultsMetadata = ResultsMetadata()
    #: With ``detect_entities=true``, on final results.
    entities: tuple[Entity, ...] | None = None

    @property
    def transcript(self) -> str:
        """The first alternative's transcript (``""`` when there is none)."""
        alternatives = self.channel.alternatives
        return alternatives[0].transcript if alternatives else ""

    @property
    def words(self) -> tuple[Word, ...]:
        """The first alternative's words."""
        alternatives = self.channel.alternatives
        return alternatives[0].words if alternatives else ()

    @property
    def end(self) -> float:
        """End of the span, in seconds from the start of the stream."""
        return self.start + self.duration


@attrs.frozen(slots=False)
class Metadata:
    """The summary the server sends once, after ``CloseStream``, before closing.

    ``sha256`` is the literal ``"incomplete"`` when the stream ended by timeout.
    ``models`` and ``model_info`` (a map of model uuid to :class:`ModelInfo`)
    are absent when no audio was processed.
    """

    type: ClassVar[str] = "Metadata"

    request_id: str
    transaction_key: str = ""
    sha256: str = ""
    created: str = ""
    duration: float = 0.0
    channels: int = 0
    models: tuple[str, ...] | None = None
    model_info: Mapping[str, ModelInfo] | None = None
    extra: Mapping[str, Any] | None = None


@attrs.frozen(slots=False)
class SpeechStarted:
    """Voice activity began (``vad_events=true``)."""

    type: ClassVar[str] = "SpeechStarted"

    channel: tuple[int, ...]
    #: Seconds from the start of the stream.
    timestamp: float


@attrs.frozen(slots=False)
class UtteranceEnd:
    """A gap of ``utterance_end_ms`` followed the last word (needs ``interim_results``).

    It may arrive after ``speech_final`` already closed the utterance.
    """

    type: ClassVar[str] = "UtteranceEnd"

    channel: tuple[int, ...]
    #: End of the last word, in seconds from the start of the stream.
    last_word_end: float


@attrs.frozen(slots=False)
class ConfigureSuccess:
    """The server applied a ``Configure``."""

    type: ClassVar[str] = "ConfigureSuccess"

    request_id: str = ""
    #: The keyterm list now in effect, when the Configure replaced it.
    keyterms: tuple[str, ...] | None = None


@attrs.frozen(slots=False)
class ConfigureFailure:
    """The server refused a ``Configure``; the previous configuration stays."""

    type: ClassVar[str] = "ConfigureFailure"

    request_id: str = ""
    #: e.g. ``CONFIGURE_KEYTERMS_NOT_SUPPORTED``, ``CONFIGURE_KEYTERM_LIMIT_EXCEEDED``.
    code: str = ""
    description: str = ""


@attrs.frozen(slots=False)
class Error:
    """The server could not process a client message (``variant`` e.g. ``SchemaError``)."""

    type: ClassVar[str] = "Error"

    description: str = ""
    variant: str | None = None
    #: For a SchemaError: the client message that failed.
    message: str | None = None
    code: str | None = None


# --- client messages -------------------------------------------------------


@attrs.frozen(slots=False)
class KeepAlive:
    """Keep an idle connection open (dgtrio sends it for you; see ``keepalive_interval``)."""

    type: ClassVar[str] = "KeepAlive"


@attrs.frozen(slots=False)
class Finalize:
    """Ask the server to transcribe the audio buffered so far, now.

    Args:
        channel: Finalize only this (0-based) channel of multichannel audio.
    """

    type: ClassVar[str] = "Finalize"

    channel: int | None = None


@attrs.frozen(slots=False)
class CloseStream:
    """No more audio: the server sends its last results, ``Metadata``, and closes."""

    type: ClassVar[str] = "CloseStream"


@attrs.frozen(slots=False)
class Configure:
    """Change settings mid-stream; answered by ``ConfigureSuccess`` or ``ConfigureFailure``.

    Args:
        keyterms: Replaces the whole keyterm list (``[]`` clears it; ``None``
            keeps it). Nova-3 only.
        features: Formatting features to switch on or off, e.g.
            ``{"numerals": True}``.
    """

    type: ClassVar[str] = "Configure"

    keyterms: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    features: Mapping[str, bool] | None = None


@attrs.frozen(slots=False)
class ListenV1ControlMessage:
    """The official SDK's generic control message: ``ListenV1ControlMessage(type="KeepAlive")``.

    Sessions accept it in ``send_control`` and turn it into the typed message.
    """

    type: Literal["KeepAlive", "Finalize", "CloseStream"]

    def to_message(self) -> KeepAlive | Finalize | CloseStream:
        """Return the typed message this control message stands for."""
        kinds: dict[str, type[KeepAlive | Finalize | CloseStream]] = {
            "KeepAlive": KeepAlive,
            "Finalize": Finalize,
            "CloseStream": CloseStream,
        }
        return kinds[self.type]()


ListenV1ServerMessage: TypeAlias = (
    Results | Metadata | UtteranceEnd | SpeechStarted | ConfigureSuccess | ConfigureFailure | Error
)
#: Everything ``async for event in session`` can yield on ``/v1/listen``.
ListenV1Event: TypeAlias = ListenV1ServerMessage | UnknownMessage
ListenV1ClientMessage: TypeAlias = KeepAlive | Finalize | CloseStream | Configure

#: The ``/v1/listen`` schema: both directions, used by the client and by dgtrio.testing.
SCHEMA: Schema[ListenV1ServerMessage, ListenV1ClientMessage] = Schema(
    "listen.v1",
    server=[
        Results,
        Metadata,
        UtteranceEnd,
        SpeechStarted,
        ConfigureSuccess,
        ConfigureFailure,
        Error,
    ],
    client=[KeepAlive, Finalize, CloseStream, Configure],
)
