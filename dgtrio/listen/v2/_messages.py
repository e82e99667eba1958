"""Messages of Deepgram's Flux conversational transcription socket, ``/v2/listen``.

Field shapes follow ``protocol.md`` §3 and the captures in ``fixtures/listen-v2``
(where the two disagree the capture wins):

* every server message carries ``sequence_id``, which counts all server
  messages of the session from 0; all but ``Error`` carry ``request_id``
  (it defaults to ``""`` because not every source shows it);
* ``TurnInfo.event`` and ``TurnInfo.trigger`` are *open* enumerations: they are
  plain strings here, and :class:`TurnEvent` / :class:`TurnTrigger` hold the
  values known today for comparison (``info.event == TurnEvent.END_OF_TURN``);
* ``trigger`` appears only on ``EndOfTurn``, and only on servers newer than
  mid-2026;
* ``ConfigureSuccess.keyterms`` may be one string or a list, and real replies
  also echo ``profanity_filter``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from ..._codec import Schema, UnknownMessage, extras_field

__all__ = [
    "SCHEMA",
    "CloseStream",
    "Configure",
    "ConfigureFailure",
    "ConfigureSuccess",
    "Connected",
    "Error",
    "ForceEndTurn",
    "ListenV2ClientMessage",
    "ListenV2ControlMessage",
    "ListenV2Event",
    "ListenV2ServerMessage",
    "Thresholds",
    "TurnEvent",
    "TurnInfo",
    "TurnTrigger",
    "TurnWord",
    "Warning",
]


# --- open enumerations -------------------------------------------------------


class TurnEvent(str, enum.Enum):
    """The values of :attr:`TurnInfo.event` known today.

    ``TurnInfo.event`` stays a plain string so that a value Deepgram adds later
    still decodes; these members compare equal to the matching strings.
    """

    #: More audio was transcribed; the turn's state did not change.
    UPDATE = "Update"
    #: The speaker started the turn.
    START_OF_TURN = "StartOfTurn"
    #: The speaker has probably finished (needs ``eager_eot_threshold``).
    EAGER_END_OF_TURN = "EagerEndOfTurn"
    #: Speech went on after an ``EagerEndOfTurn``.
    TURN_RESUMED = "TurnResumed"
    #: The turn is over; its transcript is final.
    END_OF_TURN = "EndOfTurn"

    def __str__(self) -> str:
        return self.value


class TurnTrigger(str, enum.Enum):
    """The values of :attr:`TurnInfo.trigger` (why a turn ended) known today."""

    #: Flux's own end-of-turn detection.
    MODEL = "model"
    #: The client sent ``ForceEndTurn``.
    MANUAL = "manual"
    #: ``eot_timeout_ms`` elapsed.
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value


# --- converters -----------------------------------------------------------------


def _keyterms(value: str | Sequence[str] | None) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    return tuple(value)


def _optional_tuple(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _thresholds(value: Thresholds | Mapping[str, Any] | None) -> Thresholds | None:
    if value is None or isinstance(value, Thresholds):
        return value
    return Thresholds(**value)


# --- nested payloads -------------------------------------------------------


@attrs.frozen(slots=False)
class TurnWord:
    """One word of a turn: punctuated and cased, with its timing when known.

    Attributes:
        word: The word as it appears in the transcript (``"States,"``).
        confidence: How sure the model is of this word, 0 to 1.
        start: Start in seconds from the start of the stream.
        end: End in seconds from the start of the stream. Consecutive words
            may overlap.
    """

    word: str
    confidence: float
    start: float | None = None
    end: float | None = None


@attrs.frozen(slots=False)
class Thresholds:
    """End-of-turn settings: sent in ``Configure``, echoed in ``ConfigureSuccess``.

    A field left as ``None`` is not sent, and the server keeps its value.

    Attributes:
        eager_eot_threshold: Confidence (0.3 to 0.9) at which ``EagerEndOfTurn``
            fires.
        eot_threshold: Confidence (0.5 to 1.0) at which ``EndOfTurn`` fires;
            ``1.0`` leaves ending turns to ``ForceEndTurn`` and the timeout.
        eot_timeout_ms: Milliseconds after speech at which the turn ends
            regardless of confidence.
    """

    eager_eot_threshold: float | None = None
    eot_threshold: float | None = None
    eot_timeout_ms: int | None = None


# --- server messages -------------------------------------------------------


@attrs.frozen(slots=False)
class Connected:
    """The server's first message: the session is ready for audio."""

    type: ClassVar[str] = "Connected"

    sequence_id: int
    request_id: str = ""


@attrs.frozen(slots=False)
class TurnInfo:
    """The state of the current turn, sent about every quarter second of audio.

    ``transcript`` and ``words`` always describe the *whole* turn so far: each
    ``TurnInfo`` replaces the previous one of the same ``turn_index``. The
    transcript of ``EndOfTurn`` is final; if the session closes before that,
    the last ``Update`` is the best text there is.
    """

    type: ClassVar[str] = "TurnInfo"

    sequence_id: int
    #: A :class:`TurnEvent` value, or a value added after this release.
    event: str
    #: Counts turns from 0; it goes up right after ``EndOfTurn``.
    turn_index: int
    #: Start of the audio the turn covers, seconds from the stream start.
    audio_window_start: float
    #: End of the audio transcribed so far, seconds from the stream start.
    audio_window_end: float
    transcript: str
    #: Confidence that the speaker has finished the turn.
    end_of_turn_confidence: float
    words: tuple[TurnWord, ...] = ()
    request_id: str = ""
    #: Only on ``EndOfTurn``: a :class:`TurnTrigger` value (absent on older servers).
    trigger: str | None = None
    #: With ``flux-general-multi``: detected languages, most frequent first.
    languages: tuple[str, ...] | None = None
    #: The language hints in effect for this turn.
    languages_hinted: tuple[str, ...] | None = None

    @property
    def is_end_of_turn(self) -> bool:
        """Whether this message ends the turn (``event == "EndOfTurn"``)."""
        return self.event == TurnEvent.END_OF_TURN


@attrs.frozen(slots=False)
class ConfigureSuccess:
    """The server applied a ``Configure``; it echoes the settings now in effect."""

    type: ClassVar[str] = "ConfigureSuccess"

    sequence_id: int
    request_id: str = ""
    thresholds: Thresholds | None = None
    #: The keyterms now in effect: one string or a list, as the server sent it.
    keyterms: str | tuple[str, ...] | None = None
    language_hints: tuple[str, ...] | None = None
    numerals: bool | None = None
    profanity_filter: bool | None = None

    @property
    def keyterm_list(self) -> tuple[str, ...]:
        """The keyterms as a tuple, whichever form the server used."""
        if self.keyterms is None:
            return ()
        if isinstance(self.keyterms, str):
            return (self.keyterms,)
        return self.keyterms


@attrs.frozen(slots=False)
class ConfigureFailure:
    """The server refused a ``Configure``; the previous settings stay."""

    type: ClassVar[str] = "ConfigureFailure"

    sequence_id: int
    request_id: str = ""
    code: str | None = None
    description: str | None = None


@attrs.frozen(slots=False)
class Warning:  # the wire name; this module never needs the builtin
    """A problem the server can live with; the session goes on."""

    type: ClassVar[str] = "Warning"

    sequence_id: int
    request_id: str = ""
    #: SCREAMING_SNAKE_CASE code.
    code: str = ""
    description: str = ""


@attrs.frozen(slots=False)
class Error:
    """A fatal error (the SDK's ``ListenV2FatalError``); the server closes next."""

    type: ClassVar[str] = "Error"

    sequence_id: int
    #: e.g. ``INTERNAL_SERVER_ERROR``.
    code: str = ""
    description: str = ""


# --- client messages -------------------------------------------------------


@attrs.frozen(slots=False)
class CloseStream:
    """No more audio: the server transcribes what it has, sends the last updates, and closes.

    It sends no ``EndOfTurn`` for the open turn and no summary.
    """

    type: ClassVar[str] = "CloseStream"


@attrs.frozen(slots=False)
class ForceEndTurn:
    """End the current turn now; the server answers with ``EndOfTurn`` (trigger ``manual``)."""

    type: ClassVar[str] = "ForceEndTurn"


@attrs.frozen(slots=False)
class Configure:
    """Change settings mid-stream; answered by ``ConfigureSuccess`` or ``ConfigureFailure``.

    Fields left as ``None`` are not sent and keep their current values.

    Args:
        thresholds: End-of-turn thresholds (a :class:`Thresholds` or a dict
            of its fields).
        keyterms: Replaces the whole keyterm list: one string or a sequence.
        language_hints: Languages to favour (``flux-general-multi`` only).
        numerals: Write numbers as digits.
        extra_fields: Further keys to send as they are, for settings dgtrio
            does not model yet.
    """

    type: ClassVar[str] = "Configure"

    thresholds: Thresholds | None = attrs.field(default=None, converter=_thresholds)
    keyterms: str | tuple[str, ...] | None = attrs.field(default=None, converter=_keyterms)
    language_hints: tuple[str, ...] | None = attrs.field(default=None, converter=_optional_tuple)
    numerals: bool | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class ListenV2ControlMessage:
    """The official SDK's generic control message: ``ListenV2ControlMessage(type="CloseStream")``.

    Sessions accept it and turn it into the typed message.
    """

    type: Literal["CloseStream", "ForceEndTurn"] = attrs.field(
        validator=attrs.validators.in_(("CloseStream", "ForceEndTurn"))
    )

    def to_message(self) -> CloseStream | ForceEndTurn:
        """Return the typed message this control message stands for."""
        classes: dict[str, type[CloseStream | ForceEndTurn]] = {
            "CloseStream": CloseStream,
            "ForceEndTurn": ForceEndTurn,
        }
        return classes[self.type]()


ListenV2ServerMessage: TypeAlias = (
    Connected | TurnInfo | ConfigureSuccess | ConfigureFailure | Warning | Error
)
#: Everything ``async for event in session`` can yield on ``/v2/listen``.
ListenV2Event: TypeAlias = ListenV2ServerMessage | UnknownMessage
ListenV2ClientMessage: TypeAlias = CloseStream | ForceEndTurn | Configure

#: The ``/v2/listen`` schema: both directions, used by the client and by dgtrio.testing.
SCHEMA: Schema[ListenV2ServerMessage, ListenV2ClientMessage] = Schema(
    "listen.v2",
    server=[Connected, TurnInfo, ConfigureSuccess, ConfigureFailure, Warning, Error],
    client=[CloseStream, ForceEndTurn, Configure],
)
