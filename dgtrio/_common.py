"""Message classes shared by several sockets: outgoing media and incoming audio."""

from __future__ import annotations

from typing import ClassVar

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


@attrs.frozen(slots=False)
class AudioChunk:
    """A binary frame of synthesized audio from the server (speak and agent sockets).

    Attributes:
        data: The raw audio, no container.
        encoding: The session's output encoding, e.g. ``"linear16"``.
        sample_rate: The session's output sample rate in Hz, when known.
    """

    type: ClassVar[str] = "Audio"

    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")
    encoding: str = "linear16"
    sample_rate: int | None = None

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    @property
    def duration(self) -> float | None:
        """Length in seconds, for the raw encodings whose sample size is known."""
        width = {"linear16": 2, "mulaw": 1, "alaw": 1, "linear32": 4}.get(self.encoding)
        if width is None or not self.sample_rate:
            return None
        return len(self.data) / (width * self.sample_rate)
