"""Speech to text: ``client.listen.v1`` (Nova) and ``client.listen.v2`` (Flux)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .v1._session import ListenV1Client

if TYPE_CHECKING:
    from .._client import DeepgramClient

__all__ = ["ListenClient"]


class ListenClient:
    """``client.listen``: the speech-to-text sockets."""

    def __init__(self, client: DeepgramClient) -> None:
        #: ``/v1/listen``: live transcription.
        self.v1 = ListenV1Client(client)
