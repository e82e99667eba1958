"""Text to speech: ``client.speak.v1`` (Aura, streaming over a websocket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .v1._session import SpeakV1Client

if TYPE_CHECKING:
    from .._client import DeepgramClient

__all__ = ["SpeakClient"]


class SpeakClient:
    """``client.speak``: the text-to-speech sockets."""

    def __init__(self, client: DeepgramClient) -> None:
        #: ``/v1/speak``: streaming text to speech.
        self.v1 = SpeakV1Client(client)
