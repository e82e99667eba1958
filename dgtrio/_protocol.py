"""Sans-IO protocol state: what may be sent when, and what a reply answers.

One :class:`ProtocolState` subclass per socket encodes the rules of
``protocol.md`` without doing any I/O, in the manner of h11's state machine:
the session asks it before every send (:meth:`~ProtocolState.check_send`),
tells it after (:meth:`~ProtocolState.sent`), and shows it every received
event (:meth:`~ProtocolState.received`), which may answer a pending request
(an :class:`Ack`) or end the session (a fatal error). Tested with plain
pytest and hypothesis, no trio.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ._common import MediaMessage
from ._errors import DeepgramError, SessionClosedError

__all__ = ["Ack", "ProtocolState"]


@attrs.frozen
class Ack:
    """A received event that answers a request the client made.

    Attributes:
        key: Which kind of request it answers (``"finalize"``, ``"configure"``...).
        value: What the request's caller gets back.
        error: Set instead of ``value`` when the answer is a refusal.
    """

    key: str
    value: Any = None
    error: DeepgramError | None = None


class ProtocolState:
    """The per-socket protocol rules (base: nothing is special).

    Attributes:
        close_message: What a graceful close sends first (``CloseStream``,
            ``Close``), or ``None`` when the socket has none.
        keepalive_message: The application-level keep-alive, or ``None``.
        closing: The close message was sent: the sending side is finished.
    """

    close_message: ClassVar[Any] = None
    keepalive_message: ClassVar[Any] = None
    #: Close codes that end this socket's sessions normally.
    normal_close_codes: ClassVar[frozenset[int]] = frozenset({1000})

    def __init__(self) -> None:
        self.closing = False

    def check_send(self, message: Any) -> None:
        """Raise if ``message`` may not be sent now; nothing has been sent.

        Raises:
            SessionClosedError: The close message was already sent.
            ProtocolError: The message is not allowed at this point.
        """
        if self.closing:
            name = type(self.close_message).__name__
            kind = "audio" if isinstance(message, MediaMessage) else type(message).__name__
            raise SessionClosedError(f"cannot send {kind}: {name} was already sent")

    def sent(self, message: Any) -> None:
        """Record that ``message`` was queued for sending."""
        if self.close_message is not None and type(message) is type(self.close_message):
            self.closing = True

    def received(self, event: Any) -> Ack | None:
        """Look at a received event; return the request it answers, if any."""
        return None

    def fatal(self, event: Any) -> DeepgramError | None:
        """Return the error that ``event`` ends the session with, if it is fatal."""
        return None
