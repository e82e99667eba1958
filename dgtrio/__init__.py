"""dgtrio: a trio-native client for Deepgram's realtime WebSocket APIs.

Start with :class:`DeepgramClient`::

    client = DeepgramClient()  # API key from DEEPGRAM_API_KEY
    async with client.listen.v1.connect(model="nova-3") as session:
        ...

Errors are in one small tree rooted at :class:`DeepgramError`; test servers
are in :mod:`dgtrio.testing`.
"""

import contextlib

from ._client import AsyncDeepgramClient, DeepgramClient, DeepgramClientEnvironment, __version__
from ._codec import UnknownMessage
from ._common import AudioChunk, MediaMessage
from ._errors import (
    AckTimeoutError,
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramError,
    HandshakeError,
    InsecureTransportError,
    InternalError,
    MessageDecodeError,
    ProtocolError,
    RequestError,
    ServerError,
    SessionClosedError,
)
from ._events import EventType
from ._options import RequestOptions
from ._reconnect import Reconnected, Reconnecting, ReconnectPolicy, is_retryable
from ._session import Session, SessionState, SessionStatistics

__all__ = [
    "AckTimeoutError",
    "AsyncDeepgramClient",
    "AudioChunk",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosedError",
    "ConnectionDeadError",
    "DeepgramClient",
    "DeepgramClientEnvironment",
    "DeepgramError",
    "EventType",
    "HandshakeError",
    "InsecureTransportError",
    "InternalError",
    "MediaMessage",
    "MessageDecodeError",
    "ProtocolError",
    "ReconnectPolicy",
    "Reconnected",
    "Reconnecting",
    "RequestError",
    "RequestOptions",
    "ServerError",
    "Session",
    "SessionClosedError",
    "SessionState",
    "SessionStatistics",
    "UnknownMessage",
    "__version__",
    "is_retryable",
]


def _fixup_module_metadata() -> None:
    # Show public names as dgtrio.X in reprs, tracebacks and docs (as trio does).
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("dgtrio._"):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "dgtrio"


_fixup_module_metadata()
del _fixup_module_metadata
