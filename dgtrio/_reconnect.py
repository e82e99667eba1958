"""Reconnect policy, failure classification and the audio replay buffer (sans-IO).

What is retried, and why (numbered so the session code can cite it):

1. **Refusals are final.** A handshake answered with 400, 401, 402, 403 or 404
   will be answered the same way again; so will audio the server cannot decode
   (close 1008 ``DATA-*``), input that is too large (1009 ``BIG-*``), a fatal
   ``Error`` message, a TLS certificate the system does not trust, and a
   protocol error on our side. These are raised at once.
2. **Transient failures are retried**: the connection dropped (1006), the
   server went away or restarted (1001, 1012, 1013), a server-side timeout or
   internal error (1011, ``NET-*``), a handshake answered 408, 429 or 5xx,
   network errors and timeouts, a dead connection (no pong, no reply, a stalled
   send).
3. **Backoff** is exponential with full jitter: attempt *n* waits a uniformly
   random time in ``[0, min(max_delay, initial_delay * multiplier**(n-1))]``,
   so a fleet of clients does not reconnect in lock step.
4. **Limits**: at most ``max_attempts`` consecutive failed attempts and
   ``max_elapsed`` seconds per outage. A connection that lived less than
   ``min_uptime`` seconds counts as a failed attempt too, so a server that
   accepts and immediately drops cannot keep a client looping forever.
5. **The hook** (``on_reconnect``) runs before each attempt with the
   :class:`Reconnecting` event: it may refresh credentials (return the new
   ``Authorization`` value) or veto the retry (return ``False``, and the
   failure is raised).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar

import attrs

from ._errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramError,
    HandshakeError,
)

__all__ = [
    "ReconnectHook",
    "ReconnectPolicy",
    "Reconnected",
    "Reconnecting",
    "ReplayBuffer",
    "is_retryable",
]

_FINAL_STATUSES = frozenset({400, 401, 402, 403, 404, 405, 409, 410, 411, 413, 414, 415, 422})
_RETRY_CLOSE_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})


def is_retryable(error: BaseException) -> bool:
    """Whether a failure is transient (worth reconnecting for); see rules 1 and 2."""
    if isinstance(error, HandshakeError):
        return error.status not in _FINAL_STATUSES and (
            error.status in (408, 425, 429) or error.status >= 500
        )
    if isinstance(error, ConnectionDeadError):
        return True
    if isinstance(error, ConnectionClosedError):
        prefix = (error.reason_code or "").split("-")[0]
        if prefix in ("DATA", "BIG", "MESSAGE"):
            return False
        return error.code in _RETRY_CLOSE_CODES
    if isinstance(error, ConnectError):
        text = f"{error.message} {error.__cause__!r}".lower()
        return "certificate" not in text and "tls handshake failed" not in text
    return False


@attrs.frozen
class Reconnecting:
    """The connection failed and the session will try again after ``delay`` seconds.

    Delivered in the event stream, in order, so an application can show it.

    Attributes:
        attempt: Which attempt this is, counting consecutive failures: 1 for
            the first attempt of an outage, then 2, 3... A connection that
            lived less than ``min_uptime`` counts as a failed attempt, so the
            attempt after it continues the count (it may start at 2).
        delay: Seconds the session waits before the attempt.
        cause: The failure (never carries credentials).
    """

    type: ClassVar[str] = "Reconnecting"

    attempt: int
    delay: float
    cause: DeepgramError


@attrs.frozen
class Reconnected:
    """The session is connected again and carries on.

    Attributes:
        attempt: The attempt that succeeded.
        request_id: The new connection's request id.
        time_offset: Seconds added to every timestamp the new connection
            reports, so the session keeps one continuous timeline.
        replayed_seconds: Seconds of audio sent again because the server had
            not finalized them before the failure.
        lost_seconds: Seconds of audio that could not be replayed (the replay
            buffer's bound was exceeded); transcripts have a gap there.
        lost_flushes: Speak: the flushes (numbered from 0, in the order they
            were sent) whose audio was cut off by the failure; their
            ``flush()`` calls raised :class:`~dgtrio.speak.v1.FlushLostError`.
        note: What the application should know about the new connection.
    """

    type: ClassVar[str] = "Reconnected"

    attempt: int
    request_id: str | None
    time_offset: float = 0.0
    replayed_seconds: float = 0.0
    lost_seconds: float = 0.0
    lost_flushes: tuple[int, ...] = ()
    note: str | None = None


#: ``on_reconnect(event)``: return ``False`` to give up, a string to use as the
#: new ``Authorization`` header value, or ``None`` to go ahead unchanged.
ReconnectHook = Callable[[Reconnecting], "Awaitable[str | bool | None] | str | bool | None"]


def _positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigurationError(
            f"ReconnectPolicy.{attribute.name} must be positive, got {value!r}"
        )


@attrs.frozen
class ReconnectPolicy:
    """Opt-in automatic reconnection: ``connect(..., reconnect=ReconnectPolicy())``.

    Attributes:
        max_attempts: Consecutive failed attempts before giving up.
        max_elapsed: Seconds one outage may last before giving up.
        initial_delay: Upper bound of the first backoff, in seconds.
        max_delay: Largest backoff bound, in seconds.
        multiplier: Growth of the backoff bound per attempt.
        min_uptime: A connection that lived less than this many seconds counts
            as a failed attempt (rule 4).
        replay_seconds: Bound of the audio replay buffer (listen sockets), in
            seconds of audio. Audio not yet covered by a final result is kept
            up to this bound and sent again first after a reconnect.
        on_reconnect: Called before every attempt (rule 5).
        jitter: Returns a number in [0, 1); replace it for deterministic tests.
    """

    max_attempts: int = attrs.field(default=6, validator=_positive)
    max_elapsed: float = attrs.field(default=120.0, validator=_positive)
    initial_delay: float = attrs.field(default=0.5, validator=_positive)
    max_delay: float = attrs.field(default=15.0, validator=_positive)
    multiplier: float = attrs.field(default=2.0, validator=_positive)
    min_uptime: float = attrs.field(default=5.0, validator=attrs.validators.ge(0))
    replay_seconds: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    on_reconnect: ReconnectHook | None = None
    jitter: Callable[[], float] = attrs.field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """The backoff before ``attempt`` (1-based): full jitter (rule 3)."""
        bound = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return bound * self.jitter()


class ReplayBuffer:
    """Audio sent but not yet covered by a final result, bounded in bytes.

    Positions are byte offsets in the stream of unique audio the application
    sent (replays are not counted twice). ``append`` records a chunk as it is
    handed to the connection; ``release`` drops everything before a position
    once the server has finalized it; ``chunks`` yields what must be sent
    again after a reconnect.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: deque[bytes] = deque()
        self._start = 0  # stream position of the first buffered byte
        self._end = 0  # stream position after the last buffered byte
        #: Bytes dropped because the bound was exceeded (never replayed).
        self.overflowed = 0

    @property
    def start(self) -> int:
        """Stream position of the first buffered byte."""
        return self._start

    @property
    def end(self) -> int:
        """Stream position after the last byte ever appended."""
        return self._end

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, chunk: bytes) -> None:
        """Record ``chunk`` as sent; drop the oldest audio beyond the bound."""
        self._chunks.append(chunk)
        self._end += len(chunk)
        while len(self) > self.limit and self._chunks:
            self._drop_front(min(len(self._chunks[0]), len(self) - self.limit), overflow=True)

    def release(self, position: int) -> None:
        """Forget everything before stream ``position`` (it is finalized)."""
        position = min(position, self._end)
        while self._start < position and self._chunks:
            self._drop_front(min(len(self._chunks[0]), position - self._start), overflow=False)

    def _drop_front(self, count: int, *, overflow: bool) -> None:
        head = self._chunks[0]
        if count >= len(head):
            self._chunks.popleft()
            count = len(head)
        else:
            self._chunks[0] = head[count:]
        self._start += count
        if overflow:
            self.overflowed += count

    def chunks(self) -> Iterator[bytes]:
        """The buffered audio, oldest first."""
        return iter(list(self._chunks))
