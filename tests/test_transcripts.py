"""Transcript assembly: utterances from listen v1 results, turns from Flux TurnInfo."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio._codec import UnknownMessage
from dgtrio.listen.v1 import _messages as v1
from dgtrio.listen.v1._messages import Alternative, Channel, Results, UtteranceEnd, Word
from dgtrio.listen.v2 import _messages as v2
from dgtrio.listen.v2._messages import TurnInfo, TurnWord
from dgtrio.transcripts import (
    AssembledStream,
    ClosedBy,
    TranscriptAssembler,
    Turn,
    TurnAssembler,
    TurnStream,
    Utterance,
    UtteranceStream,
)

SETTINGS = settings(max_examples=100, deadline=None)

WordSpec = tuple[str, float, float]


def results(
    words: list[WordSpec],
    *,
    start: float | None = None,
    end: float | None = None,
    is_final: bool = False,
    speech_final: bool = False,
    from_finalize: bool = False,
    channel: int = 0,
    channels: int = 1,
) -> Results:
    """A Results frame whose transcript is its words joined by spaces."""
    built = tuple(Word(w, s, e, 0.9, punctuated_word=w) for w, s, e in words)
    if start is None:
        start = words[0][1] if words else 0.0
    if end is None:
        end = words[-1][2] if words else start + 0.5
    return Results(
        channel_index=(channel, channels),
        duration=end - start,
        start=start,
        channel=Channel((Alternative(" ".join(w for w, _, _ in words), 0.9, built),)),
        is_final=is_final,
        speech_final=speech_final,
        from_finalize=from_finalize,
    )


def utterance_end(last_word_end: float, channel: int = 0, channels: int = 1) -> UtteranceEnd:
    return UtteranceEnd(channel=(channel, channels), last_word_end=last_word_end)


def summary(utterances: list[Utterance]) -> list[tuple[str, tuple[Word, ...], ClosedBy]]:
    return [(u.text, u.words, u.closed_by) for u in utterances]


# --- listen v1: examples ---------------------------------------------------------------------


def test_interims_replace_and_finals_accumulate() -> None:
    asm = TranscriptAssembler()
    assert asm.feed(results([("hel", 0.0, 0.3)])) == ()
    assert asm.interim_text() == "hel"
    assert asm.feed(results([("hello", 0.0, 0.4), ("wor", 0.5, 0.7)])) == ()
    assert asm.interim_text() == "hello wor"  # replaced, not appended
    assert asm.current_text() == "hello wor"
    assert asm.feed(results([("hello", 0.0, 0.4)], is_final=True)) == ()
    assert asm.interim_text() == ""
    assert asm.final_text() == "hello"
    asm.feed(results([("world", 0.5, 0.9)]))
    assert asm.current_text() == "hello world"
    assert [w.word for w in asm.current_words()] == ["hello", "world"]
    (done,) = asm.feed(results([("world", 0.5, 0.9)], is_final=True, speech_final=True))
    assert done.text == "hello world"
    assert [w.word for w in done.words] == ["hello", "world"]
    assert (done.start, done.end, done.channel) == (0.0, 0.9, 0)
    assert done.closed_by is ClosedBy.SPEECH_FINAL
    assert str(done.closed_by) == "speech_final"
    assert len(done.segments) == 2
    assert asm.current_text() == ""
    assert asm.utterances == (done,)


def test_utterance_end_closes_and_a_late_one_closes_nothing() -> None:
    asm = TranscriptAssembler()
    asm.feed(results([("one", 1.0, 1.2)], is_final=True))
    (done,) = asm.feed(utterance_end(1.2))
    assert (done.text, done.closed_by) == ("one", ClosedBy.UTTERANCE_END)
    # Closed by speech_final, then the UtteranceEnd for the same words arrives
    # after the next utterance started.
    asm.feed(results([("two", 3.0, 3.2)], is_final=True, speech_final=True))
    asm.feed(results([("three", 5.0, 5.3)], is_final=True))
    assert asm.feed(utterance_end(3.2)) == ()
    assert asm.final_text() == "three"
    assert asm.feed(utterance_end(3.2)) == ()  # repeated: still nothing
    (last,) = asm.feed(utterance_end(5.3))
    assert last.text == "three"
    assert [u.text for u in asm.utterances] == ["one", "two", "three"]


def test_utterance_end_with_negative_last_word_end_closes_everything() -> None:
    asm = TranscriptAssembler()
    asm.feed(results([("a", 1.0, 1.1)], is_final=True))
    asm.feed(results([("b", 9.0, 9.1)], is_final=True))
    (done,) = asm.feed(utterance_end(-1))
    assert done.text == "a b"


def test_empty_finals_produce_no_utterance() -> None:
    asm = TranscriptAssembler()
    assert asm.feed(results([], start=0.0, end=0.7, is_final=True, speech_final=True)) == ()
    assert asm.feed(utterance_end(0.7)) == ()
    assert asm.flush() == ()
    # An empty final in the middle of an utterance adds nothing to its text.
    asm.feed(results([("a", 1.0, 1.1)], is_final=True))
    asm.feed(results([], start=1.1, end=1.5, is_final=True))
    (done,) = asm.feed(results([("b", 1.6, 1.7)], is_final=True, speech_final=True))
    assert done.text == "a b"
    assert asm.utterances == (done,)


def test_utterance_without_words_takes_its_span_from_the_segments() -> None:
    asm = TranscriptAssembler()
    bare = attrs.evolve(
        results([], start=2.0, end=3.0, is_final=True, speech_final=True),
        channel=Channel((Alternative("uh huh", 0.5, ()),)),
    )
    (done,) = asm.feed(bare)
    assert (done.text, done.words, done.start, done.end) == ("uh huh", (), 2.0, 3.0)


def test_finalize_commits_only_when_asked() -> None:
    frame = results([("push", 0.0, 0.3)], is_final=True, from_finalize=True)
    assert TranscriptAssembler().feed(frame) == ()
    (done,) = TranscriptAssembler(commit_on_finalize=True).feed(frame)
    assert done.closed_by is ClosedBy.FINALIZE


def test_flush_closes_open_utterances_per_channel() -> None:
    asm = TranscriptAssembler()
    asm.feed(results([("left", 0.0, 0.5)], is_final=True, channel=0, channels=2))
    asm.feed(results([("right", 0.1, 0.6)], is_final=True, channel=1, channels=2))
    asm.feed(results([("lef", 0.6, 0.8)], channel=0, channels=2))
    asm.feed(results([("interim only", 0.7, 0.9)], channel=1, channels=2))
    assert asm.channels == (0, 1)
    assert asm.current_text(0) == "left lef"
    assert asm.current_text(1) == "right interim only"
    assert asm.current_text(5) == ""
    assert asm.current_words(5) == ()
    done = asm.flush()
    assert [(u.channel, u.text, u.closed_by) for u in done] == [
        (0, "left", ClosedBy.END_OF_STREAM),
        (1, "right", ClosedBy.END_OF_STREAM),
    ]
    assert asm.interim_text(0) == asm.interim_text(1) == ""
    assert asm.flush() == ()


def test_flush_can_keep_the_interim() -> None:
    asm = TranscriptAssembler()
    asm.feed(results([("settled", 0.0, 0.5)], is_final=True))
    asm.feed(results([("dangling", 0.6, 0.9)]))
    (done,) = asm.flush(include_interim=True)
    assert done.text == "settled dangling"


def test_channels_are_independent() -> None:
    asm = TranscriptAssembler()
    asm.feed(results([("a", 0.0, 0.2)], is_final=True, channel=1, channels=2))
    assert asm.feed(utterance_end(0.2, channel=0, channels=2)) == ()
    (done,) = asm.feed(utterance_end(0.2, channel=1, channels=2))
    assert (done.channel, done.text) == (1, "a")


def test_other_events_are_ignored_and_history_can_be_off() -> None:
    asm = TranscriptAssembler(history=False)
    for event in (
        v1.SpeechStarted(channel=(0,), timestamp=0.5),
        v1.Metadata(request_id="r"),
        UnknownMessage("New", {"type": "New"}),
        "not even a message",
    ):
        assert asm.feed(event) == ()
    (done,) = asm.feed(results([("x", 0.0, 0.1)], is_final=True, speech_final=True))
    assert done.text == "x"
    assert asm.utterances == ()


def _fixture_dir(name: str) -> Path | None:
    for base in (
        os.environ.get("DGTRIO_FIXTURES", ""),
        str(Path(__file__).parent / "fixtures"),
        "/work/shared/fixtures",
    ):
        if base and (Path(base) / name).is_dir():
            return Path(base) / name
    return None


def test_captured_frames() -> None:
    folder = _fixture_dir("listen-v1")
    if folder is None:
        pytest.skip("fixture folder listen-v1 not found (set DGTRIO_FIXTURES)")

    def load(name: str) -> object:
        return v1.SCHEMA.parse_server((folder / f"{name}.json").read_text())

    asm = TranscriptAssembler()
    assert asm.feed(load("Results-14")) == ()  # interim
    assert asm.interim_text() == "Paris at a moment"
    (first,) = asm.feed(load("Results-15"))  # speech_final
    assert first.text == "Paris at a moment's notice."
    assert first.words[0].word == "paris"
    assert asm.feed(load("Results-16")) == ()  # interim of the next utterance
    assert asm.feed(load("Results-17")) == ()  # final, not speech_final, at 9.6 s
    # The late UtteranceEnd (last_word_end 8.8) belongs to words already closed.
    assert asm.feed(load("UtteranceEnd-1")) == ()
    assert asm.final_text() == "My name was Rupert Pennace. I came of an old family"
    # An empty speech_final closes what is pending.
    (second,) = asm.feed(load("Results-12"))
    assert second.text == "My name was Rupert Pennace. I came of an old family"
    assert second.start == pytest.approx(9.92)


# --- listen v1: the property --------------------------------------------------------------------
#
# A script is a list of utterances; an utterance is a list of final segments;
# a segment is a list of words. It is rendered to what a server sends:
# interim revisions, the final, speech_final and/or UtteranceEnd (sometimes
# late), and noise; the assembler must recover each utterance exactly.

word_text = st.text(st.sampled_from("abcdefg'"), min_size=1, max_size=5)


@st.composite
def scripts(draw: st.DrawFn, channel: int = 0, channels: int = 1) -> tuple[list[Any], list[Any]]:
    """Return (events, expected) for one channel."""
    n_utterances = draw(st.integers(1, 5))
    clock = 0  # milliseconds, so timings are exact
    rendered: list[list[Any]] = []  # events of each utterance
    closers: list[int] = []  # index, in each utterance's events, of its closing final
    expected: list[tuple[str, tuple[Word, ...], ClosedBy]] = []
    ues: list[tuple[UtteranceEnd | None, bool]] = []  # (UtteranceEnd, late?)

    for u in range(n_utterances):
        clock += draw(st.integers(1500, 4000))  # a gap longer than utterance_end_ms
        n_segments = draw(st.integers(1, 4))
        segments: list[list[WordSpec]] = []
        for _ in range(n_segments):
            words: list[WordSpec] = []
            for _ in range(draw(st.integers(0, 4))):
                clock += draw(st.integers(0, 300))
                duration = draw(st.integers(20, 600))
                words.append((draw(word_text), clock / 1000, (clock + duration) / 1000))
                clock += duration
            segments.append(words)
        if not any(segments):
            segments[-1] = [(draw(word_text), clock / 1000, (clock + 100) / 1000)]
            clock += 100
        last = u == n_utterances - 1
        ending = draw(
            st.sampled_from(["speech_final", "utterance_end", "both"] + (["none"] if last else []))
        )
        events: list[Any] = []
        seg_clock = None
        for i, words in enumerate(segments):
            start = words[0][1] if words else (seg_clock or clock / 1000)
            end = words[-1][2] if words else start + 0.25
            seg_clock = end
            for _ in range(draw(st.integers(0, 3))):  # interim revisions
                revision = [
                    (draw(word_text), s, e)
                    for (_, s, e) in words[: draw(st.integers(0, len(words)))]
                ]
                if draw(st.booleans()):
                    events.append(v1.SpeechStarted(channel=(channel,), timestamp=start))
                events.append(
                    results(revision, start=start, end=end, channel=channel, channels=channels)
                )
            speech_final = i == len(segments) - 1 and ending in ("speech_final", "both")
            events.append(
                results(
                    words,
                    start=start,
                    end=end,
                    is_final=True,
                    speech_final=speech_final,
                    channel=channel,
                    channels=channels,
                )
            )
        closers.append(len(events) - 1)
        all_words = [w for seg in segments for w in seg]
        ue = None
        if ending in ("utterance_end", "both"):
            ue = utterance_end(all_words[-1][2], channel, channels)
        ues.append((ue, ue is not None and not last and draw(st.booleans())))
        closed_by = {
            "speech_final": ClosedBy.SPEECH_FINAL,
            "both": ClosedBy.SPEECH_FINAL,
            "utterance_end": ClosedBy.UTTERANCE_END,
            "none": ClosedBy.END_OF_STREAM,
        }[ending]
        text = " ".join(" ".join(w for w, _, _ in seg) for seg in segments if seg)
        built = tuple(Word(w, s, e, 0.9, punctuated_word=w) for w, s, e in all_words)
        expected.append((text, built, closed_by))
        rendered.append(events)

    # Place each UtteranceEnd: right after its utterance, or late, among the
    # next utterance's events but before that one closes.
    for u, (ue, late) in enumerate(ues):
        if ue is None:
            continue
        if late:
            at = draw(st.integers(0, closers[u + 1]))
            rendered[u + 1].insert(at, ue)
            closers[u + 1] += 1
        else:
            rendered[u].append(ue)
    flat = [event for events in rendered for event in events]
    if draw(st.booleans()):
        flat.append(v1.Metadata(request_id="r"))
    return flat, expected


@SETTINGS
@given(scripts())
def test_assembler_recovers_the_script(script: tuple[list[Any], list[Any]]) -> None:
    events, expected = script
    asm = TranscriptAssembler()
    closed: list[Utterance] = []
    for event in events:
        closed.extend(asm.feed(event))
        if isinstance(event, Results) and not event.is_final:
            assert asm.interim_text() == event.transcript
            assert asm.current_text().endswith(event.transcript)
        elif isinstance(event, Results):
            assert asm.interim_text() == ""
    closed.extend(asm.flush())
    assert summary(closed) == expected
    assert asm.utterances == tuple(closed)
    # assemble() is the same fold.
    assert summary(TranscriptAssembler().assemble(events)) == expected
    for utterance in closed:
        assert utterance.start == utterance.words[0].start
        assert utterance.end == utterance.words[-1].end


@SETTINGS
@given(scripts(0, 2), scripts(1, 2), st.randoms(use_true_random=False))
def test_multichannel_streams_are_assembled_per_channel(
    left: tuple[list[Any], list[Any]], right: tuple[list[Any], list[Any]], rng: Any
) -> None:
    # Interleave the two channels at random, keeping each channel's order.
    pending = [list(left[0]), list(right[0])]
    merged: list[Any] = []
    while pending[0] or pending[1]:
        side = rng.choice([i for i in (0, 1) if pending[i]])
        merged.append(pending[side].pop(0))
    closed = TranscriptAssembler().assemble(merged)
    assert summary([u for u in closed if u.channel == 0]) == left[1]
    assert summary([u for u in closed if u.channel == 1]) == right[1]


# --- Flux --------------------------------------------------------------------------------------


def turn_info(
    event: str,
    index: int,
    transcript: str,
    *,
    words: tuple[TurnWord, ...] = (),
    trigger: str | None = None,
    seq: int = 0,
    window: tuple[float, float] = (0.0, 1.0),
) -> TurnInfo:
    return TurnInfo(
        sequence_id=seq,
        event=event,
        turn_index=index,
        audio_window_start=window[0],
        audio_window_end=window[1],
        transcript=transcript,
        end_of_turn_confidence=0.5,
        words=words,
        trigger=trigger,
    )


def test_turns_close_on_end_of_turn() -> None:
    asm = TurnAssembler()
    assert asm.current is None
    assert asm.current_text == ""
    assert asm.feed(v2.Connected(sequence_id=0)) == ()
    assert asm.feed(turn_info("Update", 0, "")) == ()
    assert asm.feed(turn_info("StartOfTurn", 0, "We,")) == ()
    assert asm.current_text == "We,"
    assert asm.feed(turn_info("Update", 0, "We the people")) == ()
    current = asm.current
    assert current is not None
    assert (current.index, current.text, current.complete) == (0, "We the people", False)
    assert asm.feed(turn_info("EagerEndOfTurn", 0, "We the people.")) == ()
    assert asm.feed(turn_info("TurnResumed", 0, "We the people of")) == ()
    words = (TurnWord("We", 0.9, 0.3, 0.7), TurnWord("people.", 0.9, 0.8, 1.2))
    (done,) = asm.feed(
        turn_info("EndOfTurn", 0, "We the people of the US.", words=words, trigger="model")
    )
    assert (done.index, done.text, done.words, done.complete, done.trigger) == (
        0,
        "We the people of the US.",
        words,
        True,
        "model",
    )
    assert asm.current is None
    # A stray message for the closed turn changes nothing.
    assert asm.feed(turn_info("Update", 0, "We the people of the US.")) == ()
    assert asm.current is None
    assert asm.turns == (done,)


def test_unfinished_turn_is_the_last_update() -> None:
    asm = TurnAssembler()
    asm.feed(turn_info("Update", 3, "Hello"))
    asm.feed(turn_info("Update", 3, "Hello there", window=(0.0, 1.5)))
    (done,) = asm.flush()
    assert (done.index, done.text, done.complete, done.end) == (3, "Hello there", False, 1.5)
    assert asm.flush() == ()


def test_turn_index_jump_closes_the_open_turn() -> None:
    asm = TurnAssembler()
    asm.feed(turn_info("Update", 0, "lost end"))
    (abandoned,) = asm.feed(turn_info("Update", 1, "next"))
    assert (abandoned.index, abandoned.text, abandoned.complete) == (0, "lost end", False)
    # A message of the abandoned turn arriving afterwards is ignored.
    assert asm.feed(turn_info("EndOfTurn", 0, "lost end")) == ()
    # Both close at once when the next turn's first message is its end.
    asm2 = TurnAssembler()
    asm2.feed(turn_info("Update", 0, "a"))
    closed = asm2.feed(turn_info("EndOfTurn", 1, "b"))
    assert [(t.index, t.text, t.complete) for t in closed] == [(0, "a", False), (1, "b", True)]


def test_empty_turns_are_skipped() -> None:
    asm = TurnAssembler()
    assert asm.feed(turn_info("EndOfTurn", 0, "", trigger="manual")) == ()
    asm.feed(turn_info("Update", 1, ""))
    assert asm.flush() == ()
    assert asm.turns == ()


def test_captured_flux_frames() -> None:
    folder = _fixture_dir("listen-v2")
    if folder is None:
        pytest.skip("fixture folder listen-v2 not found (set DGTRIO_FIXTURES)")
    names = ["Connected-1", "TurnInfo-1", "TurnInfo-2", "TurnInfo-3", "TurnInfo-4"]
    names += ["TurnInfo-5", "ConfigureSuccess-1", "TurnInfo-6", "TurnInfo-7", "TurnInfo-8"]
    names += ["TurnInfo-9"]
    events = [v2.SCHEMA.parse_server((folder / f"{n}.json").read_text()) for n in names]
    asm = TurnAssembler()
    closed: list[Turn] = []
    for event in events:
        closed.extend(asm.feed(event))
    (turn,) = closed
    assert turn.complete
    assert turn.trigger is None  # the 2026-07 capture predates trigger
    assert turn.text.startswith("We the people of the United States, in order to form")
    assert turn.words[-1] == TurnWord("America.", 1.0, 18.16, 18.4)
    assert asm.current is not None
    assert asm.current.index == 1
    assert asm.flush() == ()  # turn 1 has no text yet


turn_words = st.lists(word_text, min_size=1, max_size=5)


@st.composite
def flux_scripts(draw: st.DrawFn) -> tuple[list[Any], list[tuple[int, str, bool]]]:
    events: list[Any] = [v2.Connected(sequence_id=0)]
    expected: list[tuple[int, str, bool]] = []
    n_turns = draw(st.integers(1, 5))
    for index in range(n_turns):
        final = " ".join(draw(turn_words))
        if draw(st.booleans()):
            events.append(turn_info("Update", index, ""))
        started = False
        for _ in range(draw(st.integers(0, 4))):
            revision = " ".join(draw(st.lists(word_text, max_size=4)))
            kind = "Update" if started or not draw(st.booleans()) else "StartOfTurn"
            started = started or kind == "StartOfTurn"
            events.append(turn_info(kind, index, revision))
        if draw(st.booleans()):
            events.append(turn_info("EagerEndOfTurn", index, final))
            if draw(st.booleans()):
                events.append(turn_info("TurnResumed", index, final + " and"))
        if draw(st.booleans()):
            events.append(v2.ConfigureSuccess(sequence_id=1, keyterms=("x",)))
        last = index == n_turns - 1
        if last and draw(st.booleans()):
            # The stream ends mid-turn: the last update is the text.
            tail = " ".join(draw(turn_words))
            events.append(turn_info("Update", index, tail))
            expected.append((index, tail, False))
            break
        trigger = draw(st.sampled_from([None, "model", "manual", "timeout"]))
        events.append(turn_info("EndOfTurn", index, final, trigger=trigger))
        expected.append((index, final, True))
        if draw(st.booleans()):  # a stray repeat for the closed turn
            events.append(turn_info("Update", index, final))
    return events, expected


@SETTINGS
@given(flux_scripts())
def test_turn_assembler_recovers_the_script(
    script: tuple[list[Any], list[tuple[int, str, bool]]],
) -> None:
    events, expected = script
    asm = TurnAssembler()
    closed: list[Turn] = []
    for event in events:
        closed.extend(asm.feed(event))
        if isinstance(event, TurnInfo) and not event.is_end_of_turn and asm.current:
            assert asm.current_text == asm.current.text
    closed.extend(asm.flush())
    assert [(t.index, t.text, t.complete) for t in closed] == expected
    assert [(t.index, t.text, t.complete) for t in TurnAssembler().assemble(events)] == expected


# --- the async wrapper -------------------------------------------------------------------------


class FakeSession:
    """An async iterable of events, as a session is."""

    def __init__(self, events: list[Any], error: BaseException | None = None) -> None:
        self.events = list(events)
        self.error = error
        self.pulled = 0

    def __aiter__(self) -> FakeSession:
        return self

    async def __anext__(self) -> Any:
        if not self.events:
            if self.error is not None:
                raise self.error
            raise StopAsyncIteration
        self.pulled += 1
        return self.events.pop(0)


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in stream]


V1_EVENTS = [
    results([("hi", 0.0, 0.2)]),
    results([("hi", 0.0, 0.2)], is_final=True, speech_final=True),
    results([("there", 2.0, 2.3)], is_final=True),
    utterance_end(2.3),
    results([("tail", 4.0, 4.2)], is_final=True),
]


async def test_stream_utterances_yields_as_they_close() -> None:
    session = FakeSession(V1_EVENTS)
    stream = UtteranceStream(session)
    assert isinstance(stream, AssembledStream)
    assert stream.__aiter__() is stream
    first = await stream.__anext__()
    assert first.text == "hi"
    assert session.pulled == 2  # nothing read ahead
    rest = await collect(stream)
    assert [(u.text, u.closed_by) for u in rest] == [
        ("there", ClosedBy.UTTERANCE_END),
        ("tail", ClosedBy.END_OF_STREAM),
    ]
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()
    assert stream.assembler.utterances == ()  # it keeps no history


async def test_stream_without_flush_and_abandoning_the_loop() -> None:
    session = FakeSession(V1_EVENTS)
    assembler = TranscriptAssembler()
    stream = AssembledStream(session, assembler, flush=False)
    async for utterance in stream:
        assert utterance.text == "hi"
        break
    # The source is untouched by the abandoned loop and can be read on.
    assert await session.__anext__() is V1_EVENTS[2]
    assert [u.text for u in await collect(stream)] == []  # utterance_end(2.3) finds nothing
    assert assembler.final_text() == "tail"


async def test_stream_propagates_source_errors() -> None:
    session = FakeSession(V1_EVENTS[:2], error=RuntimeError("connection lost"))
    stream = UtteranceStream(session)
    assert (await stream.__anext__()).text == "hi"
    with pytest.raises(RuntimeError, match="connection lost"):
        await stream.__anext__()


async def test_stream_turns() -> None:
    session = FakeSession(
        [
            turn_info("Update", 0, "one"),
            turn_info("EndOfTurn", 0, "one."),
            turn_info("Update", 1, "two"),
        ]
    )
    turns = await collect(TurnStream(session))
    assert [(t.text, t.complete) for t in turns] == [("one.", True), ("two", False)]
