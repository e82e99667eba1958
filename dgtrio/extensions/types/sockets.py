"""The official SDK's socket message names (``deepgram.extensions.types.sockets``).

Code written against the official SDK changes only its imports::

    from dgtrio.extensions.types.sockets import ListenV1MediaMessage, ListenV1ControlMessage

Each name is dgtrio's own class (or union) for the same message, building the
same wire JSON; see the migration guide in the docs.
"""

from ...agent.v1 import (
    AgentSocketClientResponse,
    AgentV1Agent,
    AgentV1AgentAudioDoneEvent,
    AgentV1AgentStartedSpeakingEvent,
    AgentV1AgentThinkingEvent,
    AgentV1AnthropicThinkProvider,
    AgentV1AudioChunkEvent,
    AgentV1AudioConfig,
    AgentV1AudioInput,
    AgentV1AudioOutput,
    AgentV1AwsBedrockThinkProvider,
    AgentV1AwsCredentials,
    AgentV1AwsPollySpeakProvider,
    AgentV1CartesiaSpeakProvider,
    AgentV1CartesiaVoice,
    AgentV1Context,
    AgentV1ControlMessage,
    AgentV1ConversationTextEvent,
    AgentV1DeepgramSpeakProvider,
    AgentV1ElevenLabsSpeakProvider,
    AgentV1Endpoint,
    AgentV1ErrorEvent,
    AgentV1Flags,
    AgentV1Function,
    AgentV1FunctionCall,
    AgentV1FunctionCallRequestEvent,
    AgentV1FunctionCallRequestFunction,
    AgentV1FunctionCallResponseMessage,
    AgentV1GoogleThinkProvider,
    AgentV1GroqThinkProvider,
    AgentV1HistoryFunctionCalls,
    AgentV1HistoryMessage,
    AgentV1InjectAgentMessageMessage,
    AgentV1InjectionRefusedEvent,
    AgentV1InjectUserMessageMessage,
    AgentV1Listen,
    AgentV1ListenProvider,
    AgentV1MediaMessage,
    AgentV1OpenAiSpeakProvider,
    AgentV1OpenAiThinkProvider,
    AgentV1PromptUpdatedEvent,
    AgentV1SettingsAppliedEvent,
    AgentV1SettingsMessage,
    AgentV1SocketClientResponse,
    AgentV1SpeakProviderConfig,
    AgentV1SpeakUpdatedEvent,
    AgentV1Think,
    AgentV1UpdatePromptMessage,
    AgentV1UpdateSpeakMessage,
    AgentV1UserStartedSpeakingEvent,
    AgentV1WarningEvent,
    AgentV1WelcomeMessage,
)
from ...listen.v1 import (
    ListenV1ControlMessage,
    ListenV1MediaMessage,
    ListenV1SocketClientResponse,
)
from ...listen.v1 import Metadata as ListenV1MetadataEvent
from ...listen.v1 import Results as ListenV1ResultsEvent
from ...listen.v1 import SpeechStarted as ListenV1SpeechStartedEvent
from ...listen.v1 import UtteranceEnd as ListenV1UtteranceEndEvent
from ...listen.v2 import Connected as ListenV2ConnectedEvent
from ...listen.v2 import Error as ListenV2FatalErrorEvent
from ...listen.v2 import ListenV2ControlMessage, ListenV2MediaMessage, ListenV2SocketClientResponse
from ...listen.v2 import TurnInfo as ListenV2TurnInfoEvent
from ...speak.v1 import AudioChunk as SpeakV1AudioChunkEvent
from ...speak.v1 import Cleared as _Cleared
from ...speak.v1 import Flushed as _Flushed
from ...speak.v1 import Metadata as SpeakV1MetadataEvent
from ...speak.v1 import SpeakV1ControlMessage, SpeakV1SocketClientResponse, SpeakV1TextMessage
from ...speak.v1 import Warning as SpeakV1WarningEvent

#: The official SDK's speak control replies: ``Flushed`` or ``Cleared``.
SpeakV1ControlEvent = _Flushed | _Cleared
#: The official SDK's older aliases.
ListenSocketClientResponse = ListenV1SocketClientResponse
SpeakSocketClientResponse = SpeakV1SocketClientResponse

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
    "ListenSocketClientResponse",
    "ListenV1ControlMessage",
    "ListenV1MediaMessage",
    "ListenV1MetadataEvent",
    "ListenV1ResultsEvent",
    "ListenV1SocketClientResponse",
    "ListenV1SpeechStartedEvent",
    "ListenV1UtteranceEndEvent",
    "ListenV2ConnectedEvent",
    "ListenV2ControlMessage",
    "ListenV2FatalErrorEvent",
    "ListenV2MediaMessage",
    "ListenV2SocketClientResponse",
    "ListenV2TurnInfoEvent",
    "SpeakSocketClientResponse",
    "SpeakV1AudioChunkEvent",
    "SpeakV1ControlEvent",
    "SpeakV1ControlMessage",
    "SpeakV1MetadataEvent",
    "SpeakV1SocketClientResponse",
    "SpeakV1TextMessage",
    "SpeakV1WarningEvent",
]
