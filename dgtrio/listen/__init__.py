"""Speech to text: ``client.listen.v1`` (Nova) and ``client.listen.v2`` (Flux)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .v1._session import ListenV1Client

if TYPE_CHECKING:
    from .._client import DeepgramClient
    from .v2._session import ListenV2Client

__all__ = ["ListenClient"]


class ListenClient:
    """``client.listen``: the speech-to-text sockets."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client
        #: ``/v1/listen``: live transcription.
        self.v1 = ListenV1Client(client)

    @functools.cached_property
    def v2(self) -> ListenV2Client:
        """``/v2/listen``: Flux conversational recognition."""
        from .v2._session import ListenV2Client

        return ListenV2Client(self._client)
