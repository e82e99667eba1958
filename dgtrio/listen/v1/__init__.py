"""``/v1/listen``: live transcription. Messages, the session and its client.

Everything a program handling this socket's events needs::

    from dgtrio.listen.v1 import Results, Metadata, UtteranceEnd, SpeechStarted
"""

from ..._codec import UnknownMessage
from ..._common import MediaMessage
from ._messages import (
    SCHEMA,
    Alternative,
    Channel,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    DiarizeInfo,
    Entity,
    Error,
    Finalize,
    KeepAlive,
    ListenV1ClientMessage,
    ListenV1ControlMessage,
    ListenV1Event,
    ListenV1ServerMessage,
    Metadata,
    ModelInfo,
    Results,
    ResultsMetadata,
    SearchHit,
    SearchResult,
    SpeechStarted,
    UtteranceEnd,
    Word,
)
from ._session import (
    INTERIM_RESPONSE_TIMEOUT,
    ListenV1Client,
    ListenV1Protocol,
    ListenV1Session,
)

#: The official SDK's name for outgoing audio: ``ListenV1MediaMessage(chunk)``.
ListenV1MediaMessage = MediaMessage
#: The official SDK's name for the union of events this socket yields.
ListenV1SocketClientResponse = ListenV1Event

__all__ = [
    "INTERIM_RESPONSE_TIMEOUT",
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
    "ListenV1Client",
    "ListenV1ClientMessage",
    "ListenV1ControlMessage",
    "ListenV1Event",
    "ListenV1MediaMessage",
    "ListenV1Protocol",
    "ListenV1ServerMessage",
    "ListenV1Session",
    "ListenV1SocketClientResponse",
    "MediaMessage",
    "Metadata",
    "ModelInfo",
    "Results",
    "ResultsMetadata",
    "SearchHit",
    "SearchResult",
    "SpeechStarted",
    "UnknownMessage",
    "UtteranceEnd",
    "Word",
]
