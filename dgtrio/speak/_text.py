"""Sans-IO helpers for the text side of ``/v1/speak``: splitting and rate limits.

Deepgram refuses a ``Speak`` message over 2000 characters (close 1009,
``BIG-0001``), accepts at most 2400 characters per minute over a connection
(close 1008, ``DATA-0001``), and ignores ``Flush`` messages past 20 per minute
(with an ``EXCESSIVE_FLUSH`` warning). :func:`split_text` keeps each message
under the first limit; :class:`SpeakLimits` tells a sender how long to wait to
respect the other two. Neither does any I/O or reads a clock.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = [
    "FLUSH_LIMIT",
    "SPEAK_CHARS_PER_WINDOW",
    "SPEAK_CHAR_LIMIT",
    "WINDOW",
    "SpeakLimits",
    "split_text",
]

#: The most characters one ``Speak`` message may carry.
SPEAK_CHAR_LIMIT = 2000
#: Characters of ``Speak`` text the server accepts per :data:`WINDOW` seconds.
SPEAK_CHARS_PER_WINDOW = 2400
#: ``Flush`` messages the server honours per :data:`WINDOW` seconds.
FLUSH_LIMIT = 20
#: The length of the sliding window of both rate limits, in seconds.
WINDOW = 60.0

# Characters that end a sentence, and closing marks that may follow them
# (`He said "Stop."` ends after the quote).
# Full stops of scripts written without spaces (ideographic full stop, fullwidth
# exclamation and question marks): a sentence may start right after them.
_CJK_TERMINALS = frozenset("\u3002\uff01\uff1f")
_TERMINALS = frozenset(".!?\u2026") | _CJK_TERMINALS
_CLOSERS = frozenset("\"')]}\u00bb\u201d\u2019\u300d\u300f")


# --- splitting ----------------------------------------------------------------


def _ends_sentence(text: str, end: int, terminals: frozenset[str] = _TERMINALS) -> bool:
    """Whether ``text[:end]`` ends with a sentence terminal (closers allowed after it)."""
    i = end - 1
    while i >= 0 and text[i] in _CLOSERS:
        i -= 1
    return i >= 0 and text[i] in terminals


def _is_sentence_cut(text: str, i: int) -> bool:
    """Tell whether a cut at ``i`` (between ``text[i-1]`` and ``text[i]``) starts a sentence.

    That is: ``text[i]`` starts a word, and the whitespace before it follows a
    sentence terminal or contains a line break. A cut right after a CJK full
    stop (and its closing marks), which is not followed by a space, counts as
    well.
    """
    here = text[i]
    if here.isspace():
        return False
    if not text[i - 1].isspace():
        return here not in _CLOSERS and _ends_sentence(text, i, _CJK_TERMINALS)
    j = i - 1
    while j >= 0 and text[j].isspace():
        if text[j] in "\n\r\u2028\u2029":
            return True
        j -= 1
    return j >= 0 and _ends_sentence(text, j + 1)


def _cut(text: str, start: int, limit: int) -> int:
    """Where the piece starting at ``start`` should end (``start < result <= start+limit``)."""
    stop = start + limit
    # 1. The last sentence boundary in the window.
    for i in range(stop, start, -1):
        if _is_sentence_cut(text, i):
            return i
    # 2. The last start of a word in the window: whitespace stays with the
    #    piece before, so the next piece starts with a word.
    for i in range(stop, start, -1):
        if text[i - 1].isspace() and not text[i].isspace():
            return i
    # 3. Any other cut touching whitespace (the window ends inside a run of
    #    whitespace, or the piece is one word followed by a long gap).
    for i in range(stop, start, -1):
        if text[i - 1].isspace() or text[i].isspace():
            return i
    # 4. One word longer than the window: nothing to do but cut through it.
    return stop


def split_text(text: str, limit: int = SPEAK_CHAR_LIMIT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters for ``Speak`` messages.

    Each piece is as long as it can be while ending at the best boundary in
    reach, in this order of preference:

    1. a sentence boundary: after ``.``, ``!``, ``?``, an ellipsis, or the
       ideographic full stop and fullwidth ``!`` / ``?`` (no space needed),
       possibly followed by closing quotes or brackets, and whitespace; or at a
       line break. Abbreviations such as ``"Dr. Smith"`` count too: harmless,
       since that is still a word boundary;
    2. a word boundary: the cut is made before a word, so whitespace stays at
       the end of the previous piece;
    3. only when a single run of non-whitespace characters is longer than
       ``limit`` (a URL, a long number, text in a script without spaces) is
       that run cut, after exactly ``limit`` characters of the piece.

    Guarantees: ``"".join(split_text(t, n)) == t``; every piece is non-empty
    and at most ``limit`` characters long; a piece ends next to whitespace,
    after a CJK full stop, or, only in case 3, inside an over-long word.
    Text that fits is returned as one piece; empty text gives ``[]``.
    Characters are counted as Python counts them (code points).

    Raises:
        ValueError: ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    start, size = 0, len(text)
    while size - start > limit:
        end = _cut(text, start, limit)
        pieces.append(text[start:end])
        start = end
    if start < size:
        pieces.append(text[start:])
    return pieces


# --- rate limits ----------------------------------------------------------------


class SpeakLimits:
    """Track ``Speak`` characters and ``Flush`` messages against the server's limits.

    A sans-IO sliding window: the caller passes the current time (any
    monotonic clock in seconds, such as ``trio.current_time()``) to every
    method, and records what it sends. A send at time ``t`` counts against the
    limit until ``t + window``; at that moment it no longer does. Real
    servers may count a little differently, so a sender that wants a margin
    can construct this with slightly lower limits.

    Args:
        max_chars: Characters allowed per window (2400 on Deepgram).
        max_flushes: ``Flush`` messages allowed per window (20 on Deepgram).
        window: The window length in seconds (60 on Deepgram).
    """

    def __init__(
        self,
        *,
        max_chars: int = SPEAK_CHARS_PER_WINDOW,
        max_flushes: int = FLUSH_LIMIT,
        window: float = WINDOW,
    ) -> None:
        if max_chars < 1 or max_flushes < 1:
            raise ValueError("limits must be at least 1")
        if not window > 0 or math.isinf(window):
            raise ValueError("window must be a positive, finite number of seconds")
        self.max_chars = max_chars
        self.max_flushes = max_flushes
        self.window = window
        self._chars: deque[tuple[float, int]] = deque()
        self._flushes: deque[float] = deque()
        self._last = -math.inf

    # -- recording

    def _check_time(self, now: float) -> None:
        if math.isnan(now):
            raise ValueError("time must be a number")
        if now < self._last:
            raise ValueError(f"time went backwards: {now} after {self._last}")
        self._last = now

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._chars and self._chars[0][0] <= horizon:
            self._chars.popleft()
        while self._flushes and self._flushes[0] <= horizon:
            self._flushes.popleft()

    def record_chars(self, count: int, now: float) -> None:
        """Record that ``count`` characters of ``Speak`` text were sent at ``now``.

        Raises:
            ValueError: ``count`` is negative, or ``now`` is earlier than a
                time recorded before.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        self._check_time(now)
        self._expire(now)
        if count:
            self._chars.append((now, count))

    def record_flush(self, now: float) -> None:
        """Record that a ``Flush`` was sent at ``now``.

        Raises:
            ValueError: ``now`` is earlier than a time recorded before.
        """
        self._check_time(now)
        self._expire(now)
        self._flushes.append(now)

    # -- queries (they never change the state)

    def chars_in_window(self, now: float) -> int:
        """Characters sent within the window that ends at ``now``."""
        horizon = now - self.window
        return sum(count for at, count in self._chars if at > horizon)

    def flushes_in_window(self, now: float) -> int:
        """``Flush`` messages sent within the window that ends at ``now``."""
        horizon = now - self.window
        return sum(1 for at in self._flushes if at > horizon)

    def chars_available(self, now: float) -> int:
        """How many characters may be sent at ``now`` without exceeding the limit."""
        return max(0, self.max_chars - self.chars_in_window(now))

    def chars_delay(self, count: int, now: float) -> float:
        """Seconds to wait from ``now`` before ``count`` more characters may be sent.

        ``0.0`` means "send now". The answer assumes nothing else is sent in
        the meantime.

        Raises:
            ValueError: ``count`` is negative or larger than ``max_chars`` (it
                could never be sent in one go: split it first).
        """
        if count < 0:
            raise ValueError("count must not be negative")
        if count > self.max_chars:
            raise ValueError(
                f"{count} characters can never fit in a window of {self.max_chars}; split the text"
            )
        horizon = now - self.window
        live = [(at, n) for at, n in self._chars if at > horizon]
        excess = sum(n for _, n in live) + count - self.max_chars
        if excess <= 0:
            return 0.0
        # Wait until the oldest sends have expired enough characters.
        for at, n in live:
            excess -= n
            if excess <= 0:
                return max(0.0, at + self.window - now)
        raise AssertionError("unreachable: count <= max_chars")  # pragma: no cover

    def flush_delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before one more ``Flush`` may be sent (``0.0``: now)."""
        horizon = now - self.window
        live = [at for at in self._flushes if at > horizon]
        if len(live) < self.max_flushes:
            return 0.0
        oldest_to_expire = live[len(live) - self.max_flushes]
        return max(0.0, oldest_to_expire + self.window - now)
