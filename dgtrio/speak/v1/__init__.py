"""``/v1/speak``: streaming text to speech. Messages, the session and its client.

Everything a program using this socket needs::

    from dgtrio.speak.v1 import Flushed, Cleared, Metadata, Warning, WavWriter
"""

from ..._codec import UnknownMessage
from ..._common import AudioChunk
from ..._wav import WavWriter
from .._text import (
    FLUSH_LIMIT,
    SPEAK_CHAR_LIMIT,
    SPEAK_CHARS_PER_WINDOW,
    WINDOW,
    SpeakLimits,
    split_text,
)
from ._messages import (
    SCHEMA,
    Clear,
    Cleared,
    Close,
    Error,
    Flush,
    Flushed,
    Metadata,
    Speak,
    SpeakV1ClientMessage,
    SpeakV1ControlMessage,
    SpeakV1Event,
    SpeakV1ServerMessage,
    SpeakV1TextMessage,
    Warning,
)
from ._session import (
    AudioStream,
    CharacterRateLimitError,
    ConnectionTimeLimitError,
    FlushLostError,
    SpeakV1Client,
    SpeakV1Protocol,
    SpeakV1Session,
    TextTooLongError,
)

#: The official SDK's name for the union of events this socket yields (its
#: audio is bytes; here it is an :class:`~dgtrio.AudioChunk`).
SpeakV1SocketClientResponse = SpeakV1Event

__all__ = [
    "FLUSH_LIMIT",
    "SCHEMA",
    "SPEAK_CHARS_PER_WINDOW",
    "SPEAK_CHAR_LIMIT",
    "WINDOW",
    "AudioChunk",
    "AudioStream",
    "CharacterRateLimitError",
    "Clear",
    "Cleared",
    "Close",
    "ConnectionTimeLimitError",
    "Error",
    "Flush",
    "FlushLostError",
    "Flushed",
    "Metadata",
    "Speak",
    "SpeakLimits",
    "SpeakV1Client",
    "SpeakV1ClientMessage",
    "SpeakV1ControlMessage",
    "SpeakV1Event",
    "SpeakV1Protocol",
    "SpeakV1ServerMessage",
    "SpeakV1Session",
    "SpeakV1SocketClientResponse",
    "SpeakV1TextMessage",
    "TextTooLongError",
    "UnknownMessage",
    "Warning",
    "WavWriter",
    "split_text",
]
