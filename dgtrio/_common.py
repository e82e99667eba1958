"""Message classes shared by several sockets: outgoing media and incoming audio."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

__all__ = ["AudioChunk", "MediaMessage"]


def _to_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


@attrs.frozen(slots=False)
class MediaMessage:
    """Audio for the server, sent as one binary frame.

    ``MediaMessage(chunk)`` and ``MediaMessage(data=chunk)`` both work (the
    official SDK's examples use either form). Any bytes-like object is
    accepted and copied to ``bytes``. ``send_media`` also takes plain bytes;
    this class exists for code written against the official SDK.
    """

    type: ClassVar[str] = "Media"

    data: bytes = attrs.field(converter=_to_bytes, repr=lambda d: f"<{len(d)} bytes>")


class AudioChunk(bytes):
    """A binary frame of synthesized audio from the server (speak and agent sockets).

    It *is* ``bytes`` (the raw audio, no container), so code written for the
    official SDK, which tests ``isinstance(message, bytes)`` and writes the
    message to a file, keeps working; it also knows its format.

    Two chunks are equal when their bytes and their format are; a chunk and
    plain ``bytes`` are equal when the bytes are.

    Attributes:
        encoding: The session's output encoding, e.g. ``"linear16"``.
        sample_rate: The session's output sample rate in Hz, when known.
    """

    type: ClassVar[str] = "Audio"
    encoding: str
    sample_rate: int | None

    def __new__(
        cls, data: bytes = b"", encoding: str = "linear16", sample_rate: int | None = None
    ) -> AudioChunk:
        chunk = super().__new__(cls, data)
        chunk.encoding = encoding
        chunk.sample_rate = sample_rate
        return chunk

    @property
    def data(self) -> bytes:
        """The audio as plain ``bytes``."""
        return bytes(self)

    @property
    def duration(self) -> float | None:
        """Length in seconds, for the raw encodings whose sample size is known."""
        width = {"linear16": 2, "mulaw": 1, "alaw": 1, "linear32": 4}.get(self.encoding)
        if width is None or not self.sample_rate:
            return None
        return len(self) / (width * self.sample_rate)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AudioChunk):
            return (
                bytes.__eq__(self, other)
                and self.encoding == other.encoding
                and self.sample_rate == other.sample_rate
            )
        return bytes.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = bytes.__hash__

    def __repr__(self) -> str:
        return (
            f"AudioChunk(<{len(self)} bytes>, encoding={self.encoding!r}, "
            f"sample_rate={self.sample_rate!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (AudioChunk, (bytes(self), self.encoding, self.sample_rate))
