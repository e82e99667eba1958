"""``/v2/listen``: Flux conversational transcription. Messages, the session and its client.

Everything a program handling this socket's events needs::

    from dgtrio.listen.v2 import TurnInfo, TurnEvent, TurnTrigger, Connected
"""

from ..._codec import UnknownMessage
from ..._common import MediaMessage
from ._messages import (
    SCHEMA,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    Error,
    ForceEndTurn,
    ListenV2ClientMessage,
    ListenV2ControlMessage,
    ListenV2Event,
    ListenV2ServerMessage,
    Thresholds,
    TurnEvent,
    TurnInfo,
    TurnTrigger,
    TurnWord,
    Warning,
)
from ._session import ListenV2Client, ListenV2Protocol, ListenV2Session

#: The official SDK's name for outgoing audio: ``ListenV2MediaMessage(data=chunk)``.
ListenV2MediaMessage = MediaMessage
#: The official SDK's name for the union of events this socket yields.
ListenV2SocketClientResponse = ListenV2Event

__all__ = [
    "SCHEMA",
    "CloseStream",
    "Configure",
    "ConfigureFailure",
    "ConfigureSuccess",
    "Connected",
    "Error",
    "ForceEndTurn",
    "ListenV2Client",
    "ListenV2ClientMessage",
    "ListenV2ControlMessage",
    "ListenV2Event",
    "ListenV2MediaMessage",
    "ListenV2Protocol",
    "ListenV2ServerMessage",
    "ListenV2Session",
    "ListenV2SocketClientResponse",
    "MediaMessage",
    "Thresholds",
    "TurnEvent",
    "TurnInfo",
    "TurnTrigger",
    "TurnWord",
    "UnknownMessage",
    "Warning",
]
