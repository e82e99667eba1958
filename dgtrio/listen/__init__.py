"""Speech to text: ``client.listen.v1`` (Nova) and ``client.listen.v2`` (Flux)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .v1._session import ListenV1Client
from .v2._session import ListenV2Client

if TYPE_CHECKING:
    from .._client import DeepgramClient

__all__ = ["ListenClient"]


class ListenClient:
    """``client.listen``: the speech-to-text sockets."""

    def __init__(self, client: DeepgramClient) -> None:
        #: ``/v1/listen``: live transcription.
        self.v1 = ListenV1Client(client)
        #: ``/v2/listen``: Flux conversational recognition.
        self.v2 = ListenV2Client(client)
