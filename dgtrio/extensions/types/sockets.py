"""The official SDK's socket message names (``deepgram.extensions.types.sockets``).

Code written against the official SDK changes only its imports::

    from dgtrio.extensions.types.sockets import ListenV1MediaMessage, ListenV1ControlMessage

Each name is dgtrio's own class (or union) for the same message, building the
same wire JSON; see the migration guide in the docs.
"""

from ...listen.v1 import (
    ListenV1ControlMessage,
    ListenV1MediaMessage,
    ListenV1SocketClientResponse,
)
from ...listen.v1 import (
    Metadata as ListenV1MetadataEvent,
)
from ...listen.v1 import (
    Results as ListenV1ResultsEvent,
)
from ...listen.v1 import (
    SpeechStarted as ListenV1SpeechStartedEvent,
)
from ...listen.v1 import (
    UtteranceEnd as ListenV1UtteranceEndEvent,
)

#: The official SDK's older alias of :data:`ListenV1SocketClientResponse`.
ListenSocketClientResponse = ListenV1SocketClientResponse

__all__ = [
    "ListenSocketClientResponse",
    "ListenV1ControlMessage",
    "ListenV1MediaMessage",
    "ListenV1MetadataEvent",
    "ListenV1ResultsEvent",
    "ListenV1SocketClientResponse",
    "ListenV1SpeechStartedEvent",
    "ListenV1UtteranceEndEvent",
]
