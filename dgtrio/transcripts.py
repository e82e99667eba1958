"""Assemble streaming transcription events into utterances and turns.

Live transcription arrives as a stream of partial results that revise each
other. This module folds that stream into finished pieces of text, with no I/O:

* :class:`TranscriptAssembler` for ``/v1/listen``: interim ``Results`` replace
  each other, final ``Results`` accumulate, and ``speech_final`` or
  ``UtteranceEnd`` closes an :class:`Utterance`. State is kept per channel.
* :class:`TurnAssembler` for ``/v2/listen`` (Flux): each ``TurnInfo`` replaces
  the previous one of its turn, and ``EndOfTurn`` closes a :class:`Turn`.

Both are folds: :meth:`~TranscriptAssembler.feed` takes one event (anything a
session yields; what does not concern the assembler is ignored) and returns
the tuple of what that event completed, usually empty. ``flush()`` completes
what is still open when the stream ends, and ``assemble(events)`` does both
over an iterable. :class:`UtteranceStream` and :class:`TurnStream` wrap an
async iterable of events, such as a session, and yield what completes::

    async for utterance in UtteranceStream(session):
        print(utterance.text)
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Generic, Protocol, TypeVar

import attrs

from .listen.v1._messages import Results, UtteranceEnd, Word
from .listen.v2._messages import TurnEvent, TurnInfo, TurnWord

__all__ = [
    "AssembledStream",
    "Assembler",
    "ClosedBy",
    "TranscriptAssembler",
    "Turn",
    "TurnAssembler",
    "TurnStream",
    "Utterance",
    "UtteranceStream",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: Slack when comparing an ``UtteranceEnd``'s ``last_word_end`` to word starts.
_TIME_SLACK = 1e-3


class ClosedBy(str, enum.Enum):
    """What closed an :class:`Utterance`."""

    #: A final ``Results`` with ``speech_final`` (endpointing found the end).
    SPEECH_FINAL = "speech_final"
    #: An ``UtteranceEnd`` message (a gap of ``utterance_end_ms`` after the last word).
    UTTERANCE_END = "utterance_end"
    #: A final ``Results`` answering a ``Finalize`` (only with ``commit_on_finalize``).
    FINALIZE = "finalize"
    #: ``flush()``: the stream ended with the utterance still open.
    END_OF_STREAM = "end_of_stream"

    def __str__(self) -> str:
        return self.value


# --- listen v1 -------------------------------------------------------------------


@attrs.frozen
class Utterance:
    """The settled text of one utterance on one channel.

    Attributes:
        text: The final transcripts of the utterance's segments, joined by
            single spaces.
        words: Every word of those segments, in order, with timings.
        start: Start of the first word, in seconds from the stream start (the
            start of the first segment when no segment has words).
        end: End of the last word (or of the last segment, likewise).
        channel: The audio channel, ``channel_index[0]`` of its results.
        closed_by: What ended it.
        segments: The final ``Results`` it was built from (those with text).
    """

    text: str
    words: tuple[Word, ...]
    start: float
    end: float
    channel: int
    closed_by: ClosedBy
    segments: tuple[Results, ...] = attrs.field(repr=False)


def _segment_start(segment: Results) -> float:
    return segment.words[0].start if segment.words else segment.start


def _build_utterance(segments: list[Results], channel: int, closed_by: ClosedBy) -> Utterance:
    words = tuple(word for segment in segments for word in segment.words)
    if words:
        start, end = words[0].start, words[-1].end
    else:
        start, end = segments[0].start, segments[-1].end
    return Utterance(
        text=" ".join(segment.transcript for segment in segments),
        words=words,
        start=start,
        end=end,
        channel=channel,
        closed_by=closed_by,
        segments=tuple(segments),
    )


class _ChannelState:
    """What one channel has in progress."""

    def __init__(self) -> None:
        self.finals: list[Results] = []  # final segments with text, oldest first
        self.interim: Results | None = None  # the latest interim, if newer than any final


class TranscriptAssembler:
    """Fold ``/v1/listen`` events into :class:`Utterance` objects.

    The rules, per channel (``channel_index[0]`` of ``Results``, ``channel[0]``
    of ``UtteranceEnd``):

    * an interim ``Results`` replaces the previous interim (never appended);
    * a final ``Results`` discards the interim and, if its transcript is not
      empty, adds a segment to the utterance in progress;
    * ``speech_final`` closes the utterance in progress;
    * ``UtteranceEnd`` closes the segments that started no later than its
      ``last_word_end`` (all of them when it is negative). An ``UtteranceEnd``
      for an utterance that ``speech_final`` already closed therefore closes
      nothing, even when the next utterance has begun;
    * with ``commit_on_finalize=True``, a final ``Results`` with
      ``from_finalize`` closes the utterance too (handy for push-to-talk);
    * an utterance without text is never produced.

    Other events (``SpeechStarted``, ``Metadata``, ...) are ignored.

    Args:
        commit_on_finalize: Close the utterance on a final ``from_finalize`` result.
        history: Keep every utterance in :attr:`utterances`. Turn off for long
            sessions where the caller keeps what it needs from :meth:`feed`.
    """

    def __init__(self, *, commit_on_finalize: bool = False, history: bool = True) -> None:
        self.commit_on_finalize = commit_on_finalize
        self._history: list[Utterance] | None = [] if history else None
        self._channels: dict[int, _ChannelState] = {}

    # -- the fold

    def feed(self, event: object) -> tuple[Utterance, ...]:
        """Take one event; return the utterances it closed (none or one)."""
        if isinstance(event, Results):
            return self._feed_results(event)
        if isinstance(event, UtteranceEnd):
            return self._feed_utterance_end(event)
        return ()

    def flush(self, *, include_interim: bool = False) -> tuple[Utterance, ...]:
        """Close what every channel has in progress, as at the end of the stream.

        Args:
            include_interim: Also take each channel's latest interim text as if
                it were final (useful when the connection dropped before the
                server could finalize it).

        Returns:
            The closed utterances, by channel number.
        """
        closed: list[Utterance] = []
        for channel in sorted(self._channels):
            state = self._channels[channel]
            interim, state.interim = state.interim, None
            if include_interim and interim is not None and interim.transcript:
                state.finals.append(interim)
            closed.extend(self._close(channel, len(state.finals), ClosedBy.END_OF_STREAM))
        return tuple(closed)

    def assemble(self, events: Iterable[object], *, flush: bool = True) -> list[Utterance]:
        """Feed every event, then (by default) :meth:`flush`; return what closed, in order."""
        closed: list[Utterance] = []
        for event in events:
            closed.extend(self.feed(event))
        if flush:
            closed.extend(self.flush())
        return closed

    # -- state

    @property
    def utterances(self) -> tuple[Utterance, ...]:
        """Every utterance closed so far, in order (empty with ``history=False``)."""
        return tuple(self._history or ())

    @property
    def channels(self) -> tuple[int, ...]:
        """The channels seen so far, in order."""
        return tuple(sorted(self._channels))

    def interim_text(self, channel: int = 0) -> str:
        """Return the latest interim transcript of ``channel`` (``""`` when there is none)."""
        state = self._channels.get(channel)
        return state.interim.transcript if state is not None and state.interim else ""

    def final_text(self, channel: int = 0) -> str:
        """Return the settled text of the utterance in progress on ``channel``."""
        state = self._channels.get(channel)
        return " ".join(s.transcript for s in state.finals) if state is not None else ""

    def current_text(self, channel: int = 0) -> str:
        """Return the utterance in progress as it stands: settled text, then the interim."""
        return " ".join(t for t in (self.final_text(channel), self.interim_text(channel)) if t)

    def current_words(self, channel: int = 0) -> tuple[Word, ...]:
        """Return the words of :meth:`current_text`, settled then interim."""
        state = self._channels.get(channel)
        if state is None:
            return ()
        segments = [*state.finals, *([state.interim] if state.interim else [])]
        return tuple(word for segment in segments for word in segment.words)

    # -- internals

    def _state(self, channel: int) -> _ChannelState:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _ChannelState()
        return state

    def _feed_results(self, results: Results) -> tuple[Utterance, ...]:
        channel = results.channel_index[0] if results.channel_index else 0
        state = self._state(channel)
        if not results.is_final:
            state.interim = results
            return ()
        state.interim = None
        if results.transcript:
            state.finals.append(results)
        if results.speech_final:
            return self._close(channel, len(state.finals), ClosedBy.SPEECH_FINAL)
        if results.from_finalize and self.commit_on_finalize:
            return self._close(channel, len(state.finals), ClosedBy.FINALIZE)
        return ()

    def _feed_utterance_end(self, message: UtteranceEnd) -> tuple[Utterance, ...]:
        channel = message.channel[0] if message.channel else 0
        state = self._state(channel)
        if message.last_word_end < 0:
            count = len(state.finals)
        else:
            limit = message.last_word_end + _TIME_SLACK
            count = 0
            for segment in state.finals:
                if _segment_start(segment) > limit:
                    break
                count += 1
        return self._close(channel, count, ClosedBy.UTTERANCE_END)

    def _close(self, channel: int, count: int, closed_by: ClosedBy) -> tuple[Utterance, ...]:
        """Close the first ``count`` final segments of ``channel`` as one utterance."""
        state = self._channels[channel]
        if count == 0:
            return ()
        segments, state.finals = state.finals[:count], state.finals[count:]
        utterance = _build_utterance(segments, channel, closed_by)
        if self._history is not None:
            self._history.append(utterance)
        return (utterance,)


# --- listen v2 (Flux) ---------------------------------------------------------------


@attrs.frozen
class Turn:
    """The text of one Flux turn.

    Attributes:
        index: The turn's ``turn_index``.
        text: The turn's transcript.
        words: Its words, with timings where the server gave them.
        start: ``audio_window_start`` of the last ``TurnInfo``.
        end: ``audio_window_end`` of the last ``TurnInfo``.
        complete: ``True`` when an ``EndOfTurn`` closed the turn; ``False``
            when the stream ended (or the turn was abandoned) first, in which
            case ``text`` is that of the last update.
        trigger: Why the turn ended, a :class:`~dgtrio.listen.v2._messages.TurnTrigger`
            value, when the server said.
        end_of_turn_confidence: The last confidence that the turn was over.
        languages: Detected languages (multilingual model only).
        info: The ``TurnInfo`` the turn was built from.
    """

    index: int
    text: str
    words: tuple[TurnWord, ...]
    start: float
    end: float
    complete: bool
    trigger: str | None
    end_of_turn_confidence: float
    languages: tuple[str, ...] | None
    info: TurnInfo = attrs.field(repr=False)

    @classmethod
    def from_info(cls, info: TurnInfo, *, complete: bool) -> Turn:
        """Build a turn from the latest ``TurnInfo`` of its ``turn_index``."""
        return cls(
            index=info.turn_index,
            text=info.transcript,
            words=info.words,
            start=info.audio_window_start,
            end=info.audio_window_end,
            complete=complete,
            trigger=info.trigger,
            end_of_turn_confidence=info.end_of_turn_confidence,
            languages=info.languages,
            info=info,
        )


class TurnAssembler:
    """Fold Flux ``TurnInfo`` messages into :class:`Turn` objects.

    Each ``TurnInfo`` replaces the previous one of the same ``turn_index``;
    ``EndOfTurn`` closes the turn. When the stream ends mid-turn (Flux sends
    no ``EndOfTurn`` after ``CloseStream``), :meth:`flush` closes it with the
    text of the last update and ``complete=False``; :attr:`current` shows it
    at any time. Should a ``TurnInfo`` of a later turn arrive while a turn is
    still open, the open turn is closed the same way. Turns without text are
    never produced, and messages for turns already closed are ignored, as is
    anything that is not a ``TurnInfo``.

    Args:
        history: Keep every turn in :attr:`turns`.
    """

    def __init__(self, *, history: bool = True) -> None:
        self._history: list[Turn] | None = [] if history else None
        self._current: TurnInfo | None = None
        self._closed_up_to = -1  # highest turn_index already closed

    def feed(self, event: object) -> tuple[Turn, ...]:
        """Take one event; return the turns it closed (usually none, at most two)."""
        if not isinstance(event, TurnInfo) or event.turn_index <= self._closed_up_to:
            return ()
        closed: list[Turn] = []
        current = self._current
        if current is not None and event.turn_index != current.turn_index:
            if event.turn_index < current.turn_index:
                return ()  # a stale message of an abandoned turn
            closed.extend(self._close(current, complete=False))
        self._current = event
        if event.event == TurnEvent.END_OF_TURN:
            closed.extend(self._close(event, complete=True))
        return tuple(closed)

    def flush(self) -> tuple[Turn, ...]:
        """Close the open turn, if it has text, as the last update left it."""
        if self._current is None:
            return ()
        return self._close(self._current, complete=False)

    def assemble(self, events: Iterable[object], *, flush: bool = True) -> list[Turn]:
        """Feed every event, then (by default) :meth:`flush`; return what closed, in order."""
        closed: list[Turn] = []
        for event in events:
            closed.extend(self.feed(event))
        if flush:
            closed.extend(self.flush())
        return closed

    @property
    def turns(self) -> tuple[Turn, ...]:
        """Every turn closed so far, in order (empty with ``history=False``)."""
        return tuple(self._history or ())

    @property
    def current(self) -> Turn | None:
        """The open turn as the latest ``TurnInfo`` describes it (``complete=False``)."""
        return None if self._current is None else Turn.from_info(self._current, complete=False)

    @property
    def current_text(self) -> str:
        """The transcript of the open turn so far (``""`` when none is open)."""
        return "" if self._current is None else self._current.transcript

    def _close(self, info: TurnInfo, *, complete: bool) -> tuple[Turn, ...]:
        self._current = None
        self._closed_up_to = max(self._closed_up_to, info.turn_index)
        if not info.transcript:
            return ()
        turn = Turn.from_info(info, complete=complete)
        if self._history is not None:
            self._history.append(turn)
        return (turn,)


# --- async wrappers ---------------------------------------------------------------------


class Assembler(Protocol[T_co]):
    """What :class:`AssembledStream` needs: a fold with ``feed`` and ``flush``."""

    def feed(self, event: object, /) -> tuple[T_co, ...]:
        """Take one event; return what it completed."""
        ...

    def flush(self) -> tuple[T_co, ...]:
        """Complete what is still open."""
        ...


class AssembledStream(Generic[T]):
    """Async iterator over what an assembler completes from an async stream of events.

    A plain class with ``__anext__`` rather than an async generator, so it
    holds nothing that needs finalizing: abandoning the loop leaves the event
    source exactly as it was (the session still belongs to whoever opened
    it). Errors from the source propagate unchanged. When the source ends,
    the assembler is flushed (unless ``flush=False``) and what that completes
    is yielded last. It awaits nothing but the source, so it runs under trio
    or asyncio alike.

    Args:
        events: Any async iterable of events, such as a session.
        assembler: The fold to apply, such as :class:`TranscriptAssembler`.
        flush: Flush the assembler when ``events`` ends.
    """

    def __init__(
        self, events: AsyncIterable[Any], assembler: Assembler[T], *, flush: bool = True
    ) -> None:
        self._source = events
        self._iterator: AsyncIterator[Any] | None = None
        self.assembler = assembler
        self._flush = flush
        self._ready: list[T] = []
        self._done = False

    def __aiter__(self) -> AssembledStream[T]:
        return self

    async def __anext__(self) -> T:
        while not self._ready:
            if self._done:
                raise StopAsyncIteration
            if self._iterator is None:
                self._iterator = self._source.__aiter__()
            try:
                event = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._done = True
                if self._flush:
                    self._ready.extend(self.assembler.flush())
                continue
            self._ready.extend(self.assembler.feed(event))
        return self._ready.pop(0)


class UtteranceStream(AssembledStream[Utterance]):
    """Yield the :class:`Utterance` objects a ``/v1/listen`` event stream closes.

    ``async for utterance in UtteranceStream(session): ...``. The
    :class:`TranscriptAssembler` behind it keeps no history; it is the
    stream's :attr:`assembler`, for the interim text of the moment.

    Args:
        events: The session, or any async iterable of its events.
        commit_on_finalize: See :class:`TranscriptAssembler`.
        flush: Close what is still open when ``events`` ends.
    """

    assembler: TranscriptAssembler

    def __init__(
        self, events: AsyncIterable[Any], *, commit_on_finalize: bool = False, flush: bool = True
    ) -> None:
        assembler = TranscriptAssembler(commit_on_finalize=commit_on_finalize, history=False)
        super().__init__(events, assembler, flush=flush)


class TurnStream(AssembledStream[Turn]):
    """Yield the :class:`Turn` objects a ``/v2/listen`` (Flux) event stream closes.

    ``async for turn in TurnStream(session): ...``. The :class:`TurnAssembler`
    behind it keeps no history; it is the stream's :attr:`assembler`, for the
    open turn.

    Args:
        events: The session, or any async iterable of its events.
        flush: Yield the unfinished turn when ``events`` ends.
    """

    assembler: TurnAssembler

    def __init__(self, events: AsyncIterable[Any], *, flush: bool = True) -> None:
        super().__init__(events, TurnAssembler(history=False), flush=flush)
