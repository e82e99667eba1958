"""The official Python SDK 5's agent names, so code written for it runs with new imports.

SDK 5 (``deepgram.extensions.types.sockets``) spelled the agent's messages
``AgentV1SettingsMessage``, ``AgentV1Think``, ``AgentV1OpenAiThinkProvider``
and so on. Each name here accepts the keywords SDK 5's class accepted and
encodes to the JSON SDK 5 sent (``tests/test_agent_settings.py`` pins a few of
those JSON documents, produced by SDK 5 itself).

Most names are plain aliases of dgtrio's classes. Where SDK 5 *sent a
default*, the name is a subclass that differs only in that default, because
sending the same JSON matters more than sharing a class:

- ``AgentV1SettingsMessage``: ``experimental`` and ``mip_opt_out`` default to
  ``False`` and are sent.
- ``AgentV1Agent``: ``language`` defaults to ``"en"`` and is sent (the key is
  deprecated but harmless).
- ``AgentV1AudioInput``: ``linear16`` at 24000 Hz by default;
  ``AgentV1AudioOutput``: ``encoding`` defaults to ``linear16``.
- ``AgentV1Flags``: ``history`` defaults to true.
- ``AgentV1ListenProvider``: ``smart_format`` defaults to ``False`` and is
  sent, and ``version`` defaults to ``None``, which sends **no** ``version``
  key. That is exactly SDK 5's JSON, so the server goes on applying the
  default it applied for SDK 5 users (Nova, v1); the class carries Nova's
  fields, and SDK 7's own rule for a missing version (v1 when ``language`` or
  ``smart_format`` is present, which SDK 5 always sends) agrees. For Flux use
  :class:`~._settings.DeepgramListenProviderV2`.

Decoding never produces these subclasses: the test server, for one, sees
plain dgtrio classes, so compare such objects by their JSON.

Differences from SDK 5 that remain: message classes (``History`` included)
take no ``type=`` keyword, their tag being fixed (``AgentV1ControlMessage``
is the exception, as in SDK 5; settings classes such as the providers do take
``type=``); keys SDK 5 did not model go in ``extra_fields={...}`` rather than
as extra keywords; sequences come back as tuples; and binary audio is an
:class:`~dgtrio._common.AudioChunk` rather than ``bytes``.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import attrs

from ..._common import AudioChunk, MediaMessage
from ._messages import (
    AgentAudioDone,
    AgentStartedSpeaking,
    AgentThinking,
    AgentV1Event,
    ConversationText,
    Error,
    FunctionCall,
    FunctionCallRequest,
    FunctionCallResponse,
    InjectAgentMessage,
    InjectionRefused,
    InjectUserMessage,
    KeepAlive,
    PromptUpdated,
    SettingsApplied,
    SpeakUpdated,
    UpdatePrompt,
    UpdateSpeak,
    UserStartedSpeaking,
    Warning,
    Welcome,
)
from ._settings import (
    Agent,
    AnthropicThinkProvider,
    AudioConfig,
    AudioInput,
    AudioOutput,
    AwsBedrockThinkProvider,
    AwsCredentials,
    AwsPollySpeakProvider,
    CartesiaSpeakProvider,
    CartesiaVoice,
    Context,
    DeepgramListenProviderV1,
    DeepgramSpeakProvider,
    ElevenLabsSpeakProvider,
    Endpoint,
    Flags,
    Function,
    GoogleThinkProvider,
    GroqThinkProvider,
    History,
    HistoryFunctionCall,
    ListenSettings,
    OpenAiSpeakProvider,
    OpenAiThinkProvider,
    Settings,
    SpeakSettings,
    ThinkSettings,
)

__all__ = [
    "AgentSocketClientResponse",
    "AgentV1Agent",
    "AgentV1AgentAudioDoneEvent",
    "AgentV1AgentStartedSpeakingEvent",
    "AgentV1AgentThinkingEvent",
    "AgentV1AnthropicThinkProvider",
    "AgentV1AudioChunkEvent",
    "AgentV1AudioConfig",
    "AgentV1AudioInput",
    "AgentV1AudioOutput",
    "AgentV1AwsBedrockThinkProvider",
    "AgentV1AwsCredentials",
    "AgentV1AwsPollySpeakProvider",
    "AgentV1CartesiaSpeakProvider",
    "AgentV1CartesiaVoice",
    "AgentV1Context",
    "AgentV1ControlMessage",
    "AgentV1ConversationTextEvent",
    "AgentV1DeepgramSpeakProvider",
    "AgentV1ElevenLabsSpeakProvider",
    "AgentV1Endpoint",
    "AgentV1ErrorEvent",
    "AgentV1Flags",
    "AgentV1Function",
    "AgentV1FunctionCall",
    "AgentV1FunctionCallRequestEvent",
    "AgentV1FunctionCallRequestFunction",
    "AgentV1FunctionCallResponseMessage",
    "AgentV1GoogleThinkProvider",
    "AgentV1GroqThinkProvider",
    "AgentV1HistoryFunctionCalls",
    "AgentV1HistoryMessage",
    "AgentV1InjectAgentMessageMessage",
    "AgentV1InjectUserMessageMessage",
    "AgentV1InjectionRefusedEvent",
    "AgentV1Listen",
    "AgentV1ListenProvider",
    "AgentV1MediaMessage",
    "AgentV1OpenAiSpeakProvider",
    "AgentV1OpenAiThinkProvider",
    "AgentV1PromptUpdatedEvent",
    "AgentV1SettingsAppliedEvent",
    "AgentV1SettingsMessage",
    "AgentV1SocketClientResponse",
    "AgentV1SpeakProviderConfig",
    "AgentV1SpeakUpdatedEvent",
    "AgentV1Think",
    "AgentV1UpdatePromptMessage",
    "AgentV1UpdateSpeakMessage",
    "AgentV1UserStartedSpeakingEvent",
    "AgentV1WarningEvent",
    "AgentV1WelcomeMessage",
]


# --- settings: subclasses where SDK 5 sent a default ---------------------------------


@attrs.frozen(slots=False)
class AgentV1AudioInput(AudioInput):
    """SDK 5's ``AgentV1AudioInput``: :class:`AudioInput` defaulting to linear16 at 24000 Hz."""

    encoding: str = "linear16"
    sample_rate: int = 24000


@attrs.frozen(slots=False)
class AgentV1AudioOutput(AudioOutput):
    """SDK 5's ``AgentV1AudioOutput``: :class:`AudioOutput` with linear16 by default."""

    encoding: str | None = "linear16"


@attrs.frozen(slots=False)
class AgentV1Flags(Flags):
    """SDK 5's ``AgentV1Flags``: :class:`Flags` whose ``history`` defaults to true (and is sent)."""

    history: bool | None = True


@attrs.frozen(slots=False)
class AgentV1ListenProvider(DeepgramListenProviderV1):
    """SDK 5's ``AgentV1ListenProvider``: a Nova provider sent without ``version``.

    ``smart_format`` defaults to ``False`` and is sent, as SDK 5 did. See the
    module docstring for why no ``version`` is sent.
    """

    version: Literal["v1"] | None = attrs.field(default=None, kw_only=True)
    smart_format: bool | None = False


@attrs.frozen(slots=False)
class AgentV1Agent(Agent):
    """SDK 5's ``AgentV1Agent``: :class:`Agent` whose ``language`` defaults to ``"en"``."""

    language: str | None = "en"


@attrs.frozen(slots=False)
class AgentV1SettingsMessage(Settings):
    """SDK 5's ``AgentV1SettingsMessage``: :class:`Settings` with SDK 5's defaults.

    ``experimental`` and ``mip_opt_out`` default to ``False``, and are sent,
    as SDK 5 did.
    """

    # Restated: the codec reads a message's tag from the class itself.
    type: ClassVar[str] = "Settings"

    experimental: bool | None = False
    mip_opt_out: bool | None = False


# --- settings: plain aliases -----------------------------------------------------------

#: SDK 5's name for :class:`AudioConfig`.
AgentV1AudioConfig = AudioConfig
#: SDK 5's name for :class:`History` (conversation shape).
AgentV1HistoryMessage = History
#: SDK 5's name for :class:`History` (function-call shape).
AgentV1HistoryFunctionCalls = History
#: SDK 5's name for :class:`HistoryFunctionCall`.
AgentV1FunctionCall = HistoryFunctionCall
#: SDK 5's name for :class:`Context`.
AgentV1Context = Context
#: SDK 5's name for :class:`ListenSettings`.
AgentV1Listen = ListenSettings
#: SDK 5's name for :class:`Endpoint`.
AgentV1Endpoint = Endpoint
#: SDK 5's name for :class:`AwsCredentials`.
AgentV1AwsCredentials = AwsCredentials
#: SDK 5's name for :class:`Function`.
AgentV1Function = Function
#: SDK 5's name for :class:`OpenAiThinkProvider`.
AgentV1OpenAiThinkProvider = OpenAiThinkProvider
#: SDK 5's name for :class:`AwsBedrockThinkProvider`.
AgentV1AwsBedrockThinkProvider = AwsBedrockThinkProvider
#: SDK 5's name for :class:`AnthropicThinkProvider`.
AgentV1AnthropicThinkProvider = AnthropicThinkProvider
#: SDK 5's name for :class:`GoogleThinkProvider`.
AgentV1GoogleThinkProvider = GoogleThinkProvider
#: SDK 5's name for :class:`GroqThinkProvider`.
AgentV1GroqThinkProvider = GroqThinkProvider
#: SDK 5's name for :class:`ThinkSettings`.
AgentV1Think = ThinkSettings
#: SDK 5's name for :class:`DeepgramSpeakProvider`.
AgentV1DeepgramSpeakProvider = DeepgramSpeakProvider
#: SDK 5's name for :class:`ElevenLabsSpeakProvider`.
AgentV1ElevenLabsSpeakProvider = ElevenLabsSpeakProvider
#: SDK 5's name for :class:`CartesiaVoice`.
AgentV1CartesiaVoice = CartesiaVoice
#: SDK 5's name for :class:`CartesiaSpeakProvider`.
AgentV1CartesiaSpeakProvider = CartesiaSpeakProvider
#: SDK 5's name for :class:`OpenAiSpeakProvider`.
AgentV1OpenAiSpeakProvider = OpenAiSpeakProvider
#: SDK 5's name for :class:`AwsPollySpeakProvider`.
AgentV1AwsPollySpeakProvider = AwsPollySpeakProvider
#: SDK 5's name for :class:`SpeakSettings`.
AgentV1SpeakProviderConfig = SpeakSettings


# --- client messages -------------------------------------------------------------------

#: SDK 5's name for a chunk of user audio: ``AgentV1MediaMessage(data=chunk)``.
AgentV1MediaMessage = MediaMessage
#: SDK 5's name for :class:`UpdateSpeak`.
AgentV1UpdateSpeakMessage = UpdateSpeak
#: SDK 5's name for :class:`UpdatePrompt`.
AgentV1UpdatePromptMessage = UpdatePrompt
#: SDK 5's name for :class:`InjectUserMessage`.
AgentV1InjectUserMessageMessage = InjectUserMessage
#: SDK 5's name for :class:`InjectAgentMessage`.
AgentV1InjectAgentMessageMessage = InjectAgentMessage
#: SDK 5's name for :class:`FunctionCallResponse` (it goes both ways).
AgentV1FunctionCallResponseMessage = FunctionCallResponse


@attrs.frozen(slots=False)
class AgentV1ControlMessage:
    """SDK 5's generic control message: ``AgentV1ControlMessage(type="KeepAlive")``.

    Sessions accept it where they accept a message and send the typed
    message it stands for.

    Attributes:
        type: ``"KeepAlive"``, the only control message SDK 5 had.
    """

    type: Literal["KeepAlive"] = "KeepAlive"

    def to_message(self) -> KeepAlive:
        """Return the typed message this control message stands for."""
        return KeepAlive()


# --- server messages -------------------------------------------------------------------

#: SDK 5's name for :class:`Welcome`.
AgentV1WelcomeMessage = Welcome
#: SDK 5's name for :class:`SettingsApplied`.
AgentV1SettingsAppliedEvent = SettingsApplied
#: SDK 5's name for :class:`ConversationText`.
AgentV1ConversationTextEvent = ConversationText
#: SDK 5's name for :class:`UserStartedSpeaking`.
AgentV1UserStartedSpeakingEvent = UserStartedSpeaking
#: SDK 5's name for :class:`AgentThinking`.
AgentV1AgentThinkingEvent = AgentThinking
#: SDK 5's name for :class:`FunctionCallRequest`.
AgentV1FunctionCallRequestEvent = FunctionCallRequest
#: SDK 5's name for :class:`FunctionCall`.
AgentV1FunctionCallRequestFunction = FunctionCall
#: SDK 5's name for :class:`AgentStartedSpeaking`.
AgentV1AgentStartedSpeakingEvent = AgentStartedSpeaking
#: SDK 5's name for :class:`AgentAudioDone`.
AgentV1AgentAudioDoneEvent = AgentAudioDone
#: SDK 5's name for :class:`PromptUpdated`.
AgentV1PromptUpdatedEvent = PromptUpdated
#: SDK 5's name for :class:`SpeakUpdated`.
AgentV1SpeakUpdatedEvent = SpeakUpdated
#: SDK 5's name for :class:`InjectionRefused`.
AgentV1InjectionRefusedEvent = InjectionRefused
#: SDK 5's name for :class:`Error`.
AgentV1ErrorEvent = Error
#: SDK 5's name for :class:`Warning`.
AgentV1WarningEvent = Warning
#: Agent audio. SDK 5 delivered ``bytes``; dgtrio delivers an
#: :class:`~dgtrio._common.AudioChunk` (``bytes(chunk)`` gives the bytes).
AgentV1AudioChunkEvent = AudioChunk
#: Everything a session yields: SDK 5's response union, plus
#: :class:`~dgtrio._codec.UnknownMessage` for types dgtrio does not model (SDK 5
#: gave a raw ``dict``).
AgentV1SocketClientResponse: TypeAlias = AgentV1Event
#: SDK 5's shorter name for :data:`AgentV1SocketClientResponse`.
AgentSocketClientResponse: TypeAlias = AgentV1Event
