"""Messages of Deepgram's voice agent socket, ``/v1/agent/converse``.

Field shapes follow ``protocol.md`` §5 and the captures in ``fixtures/agent-v1``
(where the two disagree the capture wins). ``Settings`` and the objects it
nests live in :mod:`._settings`.

Choices worth knowing:

- **History.** The server's two ``History`` shapes (conversation and function
  calls) share one wire tag, and a schema maps a tag to one class, so
  :class:`~._settings.History` carries the fields of both and tells them apart
  by the presence of ``function_calls`` (``is_function_calls``). It is also
  the item type of ``Settings.agent.context.messages``.
- **FunctionCallResponse** goes both ways with the same shape (the server
  sends one for server-side functions, with ``id`` optional), so one class is
  registered in both directions.
- **Legacy shapes parse.** ``Welcome.session_id`` (early access),
  ``Error`` with only ``message``, and the early-access ``FunctionCallRequest``
  (``function_name``, ``function_call_id``, ``input``) have fields of their
  own here.
- **EndOfThought** (undocumented; seen after user turns in July 2025 and gone
  since) is *not* modelled: it arrives as an :class:`~dgtrio._codec.UnknownMessage`
  with ``type == "EndOfThought"``, like any other message dgtrio does not know.
- Server frames written by the official SDK 4's ``to_dict`` lack ``type``
  (some ``AgentStartedSpeaking`` fixtures); those are ``UnknownMessage(type=None)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from ..._codec import Schema, UnknownMessage, loads
from ..._common import AudioChunk
from ..._errors import MessageDecodeError
from ._settings import (
    History,
    HistoryFunctionCall,
    ListenSettings,
    Settings,
    SpeakSettings,
    ThinkLiveSettings,
    ThinkSettings,
)

__all__ = [
    "SCHEMA",
    "AgentAudioDone",
    "AgentStartedSpeaking",
    "AgentThinking",
    "AgentV1ClientMessage",
    "AgentV1Event",
    "AgentV1ServerMessage",
    "CancelledFunction",
    "ConversationText",
    "CustomFromThinkProvider",
    "CustomToThinkProvider",
    "Error",
    "ForceEndTurn",
    "FrustrationDetected",
    "FunctionCall",
    "FunctionCallCancelled",
    "FunctionCallRequest",
    "FunctionCallResponse",
    "History",
    "HistoryFunctionCall",
    "InjectAgentMessage",
    "InjectUserMessage",
    "InjectionRefused",
    "KeepAlive",
    "LatencyReport",
    "ListenUpdated",
    "PromptUpdated",
    "SettingsApplied",
    "SpeakUpdated",
    "ThinkLiveUpdated",
    "ThinkUpdated",
    "UpdateListen",
    "UpdatePrompt",
    "UpdateSpeak",
    "UpdateThink",
    "UpdateThinkLive",
    "UserStartedSpeaking",
    "Warning",
    "Welcome",
]


def _str_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


# --- server messages -------------------------------------------------------


@attrs.frozen(slots=False)
class Welcome:
    """The first message of every session; send nothing before it arrives.

    Attributes:
        request_id: The session's request id (quote it to Deepgram support).
        session_id: The early-access name of the same id; only legacy servers
            send it (then ``request_id`` is ``""``).
    """

    type: ClassVar[str] = "Welcome"

    request_id: str = ""
    session_id: str | None = None

    @property
    def id(self) -> str:
        """``request_id``, or the legacy ``session_id`` when that is all there is."""
        return self.request_id or self.session_id or ""


@attrs.frozen(slots=False)
class SettingsApplied:
    """The server accepted ``Settings``; audio may flow now."""

    type: ClassVar[str] = "SettingsApplied"


@attrs.frozen(slots=False)
class ConversationText:
    """Something the user or the agent said, as text.

    Attributes:
        role: ``"user"`` or ``"assistant"``.
        content: The words (may be ``""``).
        conversational_behavior: ``default``, ``backchannel``,
            ``presence_check`` or ``filler`` (the last three come from Think
            Live); ``default`` when the server does not say.
        languages_hinted: User turns with ``flux-general-multi``: the hints.
        languages: User turns with ``flux-general-multi``: languages detected.
    """

    type: ClassVar[str] = "ConversationText"

    role: str
    content: str
    conversational_behavior: str = "default"
    languages_hinted: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    languages: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)


@attrs.frozen(slots=False)
class UserStartedSpeaking:
    """The user began to speak: stop playback and drop buffered agent audio (barge-in)."""

    type: ClassVar[str] = "UserStartedSpeaking"


@attrs.frozen(slots=False)
class AgentThinking:
    """The agent's thought text (not spoken); the server often never sends it.

    Attributes:
        content: The thought.
    """

    type: ClassVar[str] = "AgentThinking"

    content: str


@attrs.frozen(slots=False)
class FunctionCall:
    """One function the agent wants called (an item of ``FunctionCallRequest.functions``).

    Attributes:
        id: The call's id; echo it in ``FunctionCallResponse``.
        name: The function's name.
        arguments: The arguments as JSON *text*; see :meth:`parse_arguments`.
        client_side: True when the client must run it and reply; false when
            the server runs it (and later sends the ``FunctionCallResponse``).
        thought_signature: Gemini's opaque signature, when present.
    """

    id: str
    name: str
    arguments: str
    client_side: bool
    thought_signature: str | None = None

    def parse_arguments(self) -> dict[str, Any]:
        """Decode :attr:`arguments` to a dict (``""`` counts as ``{}``).

        Raises:
            MessageDecodeError: The text is not a JSON object. LLMs do
                produce broken JSON now and then: answer the call with an
                error ``content`` rather than let the session die.
        """
        if not self.arguments.strip():
            return {}
        try:
            value = loads(self.arguments)
        except (ValueError, RecursionError) as exc:
            raise MessageDecodeError(
                f"arguments of function call {self.name!r} are not JSON",
                raw=self.arguments,
                errors=[str(exc)],
                message_type="FunctionCallRequest",
            ) from None
        if value.__class__ is not dict:
            raise MessageDecodeError(
                f"arguments of function call {self.name!r} are not a JSON object",
                raw=self.arguments,
                message_type="FunctionCallRequest",
            )
        return value


@attrs.frozen(slots=False)
class FunctionCallRequest:
    """The agent wants one or more functions called.

    Answer each entry with ``client_side=True`` with a
    :class:`FunctionCallResponse` of the same ``id``, unless a
    :class:`FunctionCallCancelled` names it first.

    Attributes:
        functions: The calls.
        function_name: Early-access shape only (then ``functions`` is empty).
        function_call_id: Early-access shape only.
        input: Early-access shape only: the arguments as an object.
    """

    type: ClassVar[str] = "FunctionCallRequest"

    functions: tuple[FunctionCall, ...] = ()
    function_name: str | None = None
    function_call_id: str | None = None
    input: Mapping[str, Any] | None = None


@attrs.frozen(slots=False)
class FunctionCallResponse:
    """The result of a function call; the client and the server both send it.

    The client answers a ``FunctionCallRequest`` entry with ``client_side``
    true; the server sends one after running a server-side function (its
    ``id`` may then be absent).

    Attributes:
        id: The ``id`` of the request entry being answered.
        name: The function's name.
        content: The result as text (often JSON).
    """

    type: ClassVar[str] = "FunctionCallResponse"

    id: str | None = attrs.field(default=None, kw_only=True)
    name: str
    content: str


@attrs.frozen(slots=False)
class CancelledFunction:
    """A function call that is no longer wanted (an item of ``FunctionCallCancelled``).

    Attributes:
        id: The call's id.
        name: The function's name.
    """

    id: str
    name: str = ""


@attrs.frozen(slots=False)
class FunctionCallCancelled:
    """Earlier function calls are void: do not answer them.

    Attributes:
        functions: The cancelled calls.
    """

    type: ClassVar[str] = "FunctionCallCancelled"

    functions: tuple[CancelledFunction, ...] = ()


@attrs.frozen(slots=False)
class AgentStartedSpeaking:
    """The agent's audio for a reply starts now. Latencies are in seconds.

    Attributes:
        total_latency: From end of user speech to first audio.
        tts_latency: Speech synthesis part.
        ttt_latency: LLM part ("text to text").
    """

    type: ClassVar[str] = "AgentStartedSpeaking"

    total_latency: float
    tts_latency: float
    ttt_latency: float


@attrs.frozen(slots=False)
class AgentAudioDone:
    """The last audio chunk of the reply has been sent (playback may still be running)."""

    type: ClassVar[str] = "AgentAudioDone"


@attrs.frozen(slots=False)
class PromptUpdated:
    """Acknowledges ``UpdatePrompt``."""

    type: ClassVar[str] = "PromptUpdated"


@attrs.frozen(slots=False)
class SpeakUpdated:
    """Acknowledges ``UpdateSpeak``."""

    type: ClassVar[str] = "SpeakUpdated"


@attrs.frozen(slots=False)
class ThinkUpdated:
    """Acknowledges ``UpdateThink``."""

    type: ClassVar[str] = "ThinkUpdated"


@attrs.frozen(slots=False)
class ThinkLiveUpdated:
    """Acknowledges ``UpdateThink_Live``."""

    type: ClassVar[str] = "ThinkLiveUpdated"


@attrs.frozen(slots=False)
class ListenUpdated:
    """Acknowledges ``UpdateListen``."""

    type: ClassVar[str] = "ListenUpdated"


@attrs.frozen(slots=False)
class InjectionRefused:
    """An ``InjectAgentMessage`` was refused (with ``behavior`` default, during a turn).

    Attributes:
        message: The reason (the docs' example sends none).
    """

    type: ClassVar[str] = "InjectionRefused"

    message: str = ""


@attrs.frozen(slots=False)
class LatencyReport:
    """Latencies of the last turn, in seconds; each may be absent."""

    type: ClassVar[str] = "LatencyReport"

    #: Speech recognition.
    stt_latency: float | None = None
    #: LLM, to the first token.
    ttt_token_latency: float | None = None
    #: LLM, to the first text.
    ttt_text_latency: float | None = None
    #: LLM, to the first tool call.
    ttt_tool_latency: float | None = None
    #: LLM reasoning.
    ttt_thinking_latency: float | None = None
    #: Speech synthesis.
    tts_latency: float | None = None
    #: End to end.
    total_latency: float | None = None


@attrs.frozen(slots=False)
class FrustrationDetected:
    """Think Live judged the user frustrated.

    Attributes:
        count: How many times so far in the session (from 1).
        escalated: True once ``count`` reached ``frustration_max_count``.
    """

    type: ClassVar[str] = "FrustrationDetected"

    count: int
    escalated: bool = False


@attrs.frozen(slots=False)
class CustomFromThinkProvider:
    """A pass-through payload from a custom think provider (semantics unconfirmed).

    Attributes:
        content: Any JSON value.
    """

    type: ClassVar[str] = "__customFromThinkProvider"

    content: Any = None


@attrs.frozen(slots=False)
class Error:
    """A fatal error; the server closes the connection next (without a close code).

    Attributes:
        description: What went wrong, e.g. which Settings field failed.
        code: e.g. ``UNPARSABLE_CLIENT_MESSAGE``, ``INVALID_SETTINGS``;
            ``None`` in legacy frames.
        message: Legacy frames' only text field (early access), or ``""``.
    """

    type: ClassVar[str] = "Error"

    description: str = ""
    code: str | None = None
    message: str | None = None

    @property
    def text(self) -> str:
        """``description``, or the legacy ``message`` when that is all there is."""
        return self.description or self.message or ""


@attrs.frozen(slots=False)
class Warning:  # the wire name; this module never needs the builtin
    """A non-fatal problem, e.g. ``FORCE_END_TURN_UNSUPPORTED`` or ``PROMPT_TOO_LONG``.

    Attributes:
        description: What happened.
        code: The warning code (an open set).
    """

    type: ClassVar[str] = "Warning"

    description: str = ""
    code: str = ""


# --- client messages -------------------------------------------------------


@attrs.frozen(slots=False)
class UpdatePrompt:
    """Change the system prompt mid-session; answered by ``PromptUpdated``.

    Attributes:
        prompt: The new prompt.
    """

    type: ClassVar[str] = "UpdatePrompt"

    prompt: str


def _speak_or_list(
    value: SpeakSettings | Iterable[SpeakSettings],
) -> SpeakSettings | tuple[SpeakSettings, ...]:
    return value if isinstance(value, SpeakSettings) else tuple(value)


def _think_or_list(
    value: ThinkSettings | Iterable[ThinkSettings],
) -> ThinkSettings | tuple[ThinkSettings, ...]:
    return value if isinstance(value, ThinkSettings) else tuple(value)


@attrs.frozen(slots=False)
class UpdateSpeak:
    """Change the voice mid-session; answered by ``SpeakUpdated``.

    Attributes:
        speak: The new voice, or a primary and fallbacks.
    """

    type: ClassVar[str] = "UpdateSpeak"

    speak: SpeakSettings | tuple[SpeakSettings, ...] = attrs.field(converter=_speak_or_list)


@attrs.frozen(slots=False)
class UpdateThink:
    """Change the LLM mid-session; answered by ``ThinkUpdated``.

    Attributes:
        think: The new LLM settings, or a primary and fallbacks.
    """

    type: ClassVar[str] = "UpdateThink"

    think: ThinkSettings | tuple[ThinkSettings, ...] = attrs.field(converter=_think_or_list)


@attrs.frozen(slots=False)
class UpdateThinkLive:
    """Change Think Live mid-session; answered by ``ThinkLiveUpdated``.

    The wire tag is ``UpdateThink_Live`` (sic).

    Attributes:
        think_live: The new Think Live settings.
    """

    type: ClassVar[str] = "UpdateThink_Live"

    think_live: ThinkLiveSettings


@attrs.frozen(slots=False)
class UpdateListen:
    """Change speech recognition mid-session; answered by ``ListenUpdated``.

    Model and language can change; keyterms only with Flux (``version="v2"``).

    Attributes:
        listen: The new listen settings.
    """

    type: ClassVar[str] = "UpdateListen"

    listen: ListenSettings


@attrs.frozen(slots=False)
class InjectUserMessage:
    """Make the agent respond as if the user had said ``content``.

    Attributes:
        content: The user's words.
    """

    type: ClassVar[str] = "InjectUserMessage"

    content: str


@attrs.frozen(slots=False)
class InjectAgentMessage:
    """Make the agent say something.

    Attributes:
        message: What to say; omit it with ``is_dynamic=True`` to let Think
            Live write the line.
        behavior: ``default`` (refused with ``InjectionRefused`` during a
            turn), ``queue`` (after what is queued) or ``interrupt`` (now).
        is_dynamic: Let Think Live generate the line (needs ``think_live``).
    """

    type: ClassVar[str] = "InjectAgentMessage"

    message: str | None = None
    behavior: Literal["default", "queue", "interrupt"] | None = None
    is_dynamic: bool | None = None


@attrs.frozen(slots=False)
class KeepAlive:
    """Keep an idle connection open; only needed while no audio is streaming."""

    type: ClassVar[str] = "KeepAlive"


@attrs.frozen(slots=False)
class ForceEndTurn:
    """End the user's turn now (needs a Flux listener, ``version="v2"``)."""

    type: ClassVar[str] = "ForceEndTurn"


@attrs.frozen(slots=False)
class CustomToThinkProvider:
    """A pass-through payload for a custom think provider (semantics unconfirmed).

    Attributes:
        content: Any JSON value.
    """

    type: ClassVar[str] = "__customToThinkProvider"

    content: Any = None


AgentV1ServerMessage: TypeAlias = (
    Welcome
    | SettingsApplied
    | ConversationText
    | UserStartedSpeaking
    | AgentThinking
    | FunctionCallRequest
    | FunctionCallResponse
    | FunctionCallCancelled
    | AgentStartedSpeaking
    | AgentAudioDone
    | PromptUpdated
    | SpeakUpdated
    | ThinkUpdated
    | ThinkLiveUpdated
    | ListenUpdated
    | InjectionRefused
    | LatencyReport
    | FrustrationDetected
    | History
    | CustomFromThinkProvider
    | Error
    | Warning
)
#: Everything ``async for event in session`` can yield on the agent socket.
AgentV1Event: TypeAlias = AgentV1ServerMessage | AudioChunk | UnknownMessage
AgentV1ClientMessage: TypeAlias = (
    Settings
    | UpdatePrompt
    | UpdateSpeak
    | UpdateThink
    | UpdateThinkLive
    | UpdateListen
    | InjectUserMessage
    | InjectAgentMessage
    | FunctionCallResponse
    | KeepAlive
    | ForceEndTurn
    | CustomToThinkProvider
)

#: The agent schema: both directions, used by the client and by dgtrio.testing.
SCHEMA: Schema[AgentV1ServerMessage, AgentV1ClientMessage] = Schema(
    "agent.v1",
    server=[
        Welcome,
        SettingsApplied,
        ConversationText,
        UserStartedSpeaking,
        AgentThinking,
        FunctionCallRequest,
        FunctionCallResponse,
        FunctionCallCancelled,
        AgentStartedSpeaking,
        AgentAudioDone,
        PromptUpdated,
        SpeakUpdated,
        ThinkUpdated,
        ThinkLiveUpdated,
        ListenUpdated,
        InjectionRefused,
        LatencyReport,
        FrustrationDetected,
        History,
        CustomFromThinkProvider,
        Error,
        Warning,
    ],
    client=[
        Settings,
        UpdatePrompt,
        UpdateSpeak,
        UpdateThink,
        UpdateThinkLive,
        UpdateListen,
        InjectUserMessage,
        InjectAgentMessage,
        FunctionCallResponse,
        KeepAlive,
        ForceEndTurn,
        CustomToThinkProvider,
    ],
)
