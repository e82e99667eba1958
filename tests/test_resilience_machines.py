"""Hypothesis state machines of client actions and server faults, one per reconnecting socket.

Hypothesis builds a program: rules say sentences, pause, finalize or end a
turn, send text and flush, or break the live connection (drop it, drop it
mid-frame, close it with 1011 or 1012, stall it), with preconditions keeping
the program valid. The teardown runs the program once against the fake
server under the autojump clock, with a reconnect policy that always
recovers, and checks the invariants of the fault table for any sequence:

* **listen v1**: nothing lost, nothing twice, one timeline: the words of the
  final results, with their times, are exactly the words of the audio sent,
  decoded directly from the test tones with their times in the whole stream;
  the session ended normally (``Metadata`` last); every fault led to exactly
  one ``Reconnected``.
* **Flux**: the words of the ``EndOfTurn`` events, with their times, are
  exactly the words of the audio sent (decoded straight from the test tones,
  with their times in the whole stream); turns are numbered 0, 1, 2... with
  no gap and no repeat, whatever the faults; every fault led to exactly one
  ``Reconnected``.
* **speak**: the audio between consecutive ``Flushed`` (audio cut off by a
  failure left out) says exactly the text of each flush, in order, once; a
  flush cut off by a failure raised ``FlushLostError`` and was reported in
  ``Reconnected.lost_flushes``, and saying its text again completed it;
  every fault led to exactly one ``Reconnected``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from dgtrio import AudioChunk, Reconnected, Reconnecting, ReconnectPolicy
from dgtrio._server.fake_speech import decode_words, normalize_text
from dgtrio.listen.v1 import Metadata, Results
from dgtrio.listen.v2 import TurnEvent, TurnInfo
from dgtrio.speak.v1 import FlushLostError
from dgtrio.testing import DeepgramServer, ServerConnection, open_fake_deepgram, speech
from tests.test_resilience_speak_v1 import flushed_speech

SENTENCES = ["hello there.", "book a table for two.", "yes please.", "one two three four."]
RATE = 16000
WATCHDOG = 2.0
FAULTS = ["drop", "drop-mid-frame", "close-1011", "close-1012", "stall"]
#: Under hypothesis's "ci" profile, 15 programs each; "thorough": 250.
EXAMPLES = max(15, settings().max_examples // 4)
POLICY = ReconnectPolicy(jitter=lambda: 0.5, min_uptime=0, max_attempts=8)


def plain(word: str) -> str:
    """A word as the tones carry it, without punctuation (the services add it)."""
    return normalize_text(word).strip(".,?!-")


async def break_connection(connection: ServerConnection, kind: str) -> None:
    """Inflict ``kind`` on a live connection."""
    if kind == "drop":
        await connection.drop()
    elif kind == "drop-mid-frame":
        await connection.drop(mid_frame=True)
    elif kind == "close-1011":
        await connection.close(1011, "See https://dpgr.am/net0000")
    elif kind == "close-1012":
        await connection.close(1012, "restart")
    else:
        raise AssertionError(kind)


class Recoveries:
    """Counts ``Reconnected`` events and lets a program wait for the last recovery."""

    def __init__(self) -> None:
        self.faults = 0
        self.done = 0
        self._changed = trio.Event()

    def saw(self, event: Any) -> None:
        if isinstance(event, Reconnected):
            self.done += 1
            self._changed.set()
            self._changed = trio.Event()

    async def settled(self) -> None:
        """Return once every fault so far has been recovered from."""
        with trio.fail_after(120):
            while self.done < self.faults:
                await self._changed.wait()

    async def inflict(self, server: DeepgramServer, kind: str) -> None:
        await self.settled()
        self.faults += 1
        await break_connection(server.last, kind)

    async def stall(self, server: DeepgramServer, *, reading: bool) -> None:
        """Stall the live connection's writing (and reading)."""
        await self.settled()
        self.faults += 1
        server.last.stall(reading=reading, writing=True)

    def check(self, events: list[Any]) -> None:
        """Every fault was followed by exactly one recovery."""
        assert sum(isinstance(e, Reconnecting) for e in events) >= self.faults
        assert self.done == self.faults


class Program(RuleBasedStateMachine):
    """A program of steps, built by the rules and run once by the teardown."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[Any, ...]] = []
        self.said = 0

    @rule(seconds=st.floats(min_value=0.0, max_value=6.0))
    def pause(self, seconds: float) -> None:
        self.steps.append(("pause", seconds))

    @rule(kind=st.sampled_from(FAULTS))
    def fault(self, kind: str) -> None:
        self.steps.append(("fault", kind))

    def teardown(self) -> None:
        trio.run(self.execute, clock=trio.testing.MockClock(autojump_threshold=0))

    async def execute(self) -> None:
        raise NotImplementedError


class Speaking(Program):
    """The listen sockets' programs: sentences spoken in real time, faults between.

    A subclass says how to connect, what its own step does (``Finalize``,
    ``ForceEndTurn``) and which words came back, with their times.
    """

    chunks: tuple[int, ...] = ()
    trailing_silence = 0.4
    #: Silence sent before closing (Flux: so that the last turn ends).
    final_silence = 0.0

    @rule(sentence=st.sampled_from(SENTENCES), chunk=st.sampled_from([0, 1, 2]))
    def say(self, sentence: str, chunk: int) -> None:
        self.steps.append(("say", sentence, self.chunks[chunk]))
        self.said += 1

    def connect(self, client: Any) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def own_step(self, session: Any) -> None:
        raise NotImplementedError

    def words(self, events: list[Any]) -> list[tuple[str, float | None, float | None]]:
        raise NotImplementedError

    async def execute(self) -> None:
        audio = bytearray()
        events: list[Any] = []
        recoveries = Recoveries()
        async with open_fake_deepgram() as server:
            async with (
                self.connect(server.client()) as session,
                trio.open_nursery() as nursery,
            ):

                async def collect() -> None:
                    async for event in session:
                        events.append(event)
                        recoveries.saw(event)

                async def send(pcm: bytes, chunk: int) -> None:
                    audio.extend(pcm)
                    for i in range(0, len(pcm), chunk):
                        await session.send_media(pcm[i : i + chunk])
                        await trio.sleep(chunk / (2 * RATE))  # real time

                nursery.start_soon(collect)
                for step in self.steps:
                    if step[0] == "say":
                        pcm = speech(
                            step[1], sample_rate=RATE, trailing_silence=self.trailing_silence
                        )
                        await send(pcm, step[2])
                    elif step[0] == "pause":
                        await trio.sleep(step[1])
                    elif step[0] == "own":
                        await self.own_step(session)
                    elif step[1] == "stall":
                        # Replies stop; audio keeps flowing past the watchdog's window.
                        await recoveries.stall(server, reading=False)
                        await send(bytes(int((WATCHDOG + 0.5) * RATE) * 2), 640)
                    else:
                        await recoveries.inflict(server, step[1])
                await send(bytes(int(self.final_silence * RATE) * 2), 2560)
                await recoveries.settled()
                await session.close_stream()
            await trio.testing.wait_all_tasks_blocked()
        assert trio.current_time() < 900, "the program took implausibly long"

        # Nothing lost, nothing twice, one timeline.
        expected = [
            (plain(w.word), w.start / RATE, w.end / RATE) for w in decode_words(bytes(audio), RATE)
        ]
        got = self.words(events)
        assert [w[0] for w in got] == [w[0] for w in expected]
        for (_, start, end), (_, want_start, want_end) in zip(got, expected, strict=True):
            assert start is not None and abs(start - want_start) < 0.0015
            assert end is not None and abs(end - want_end) < 0.0015
        recoveries.check(events)


# --- listen v1 ---------------------------------------------------------------------------


class ListenResilience(Speaking):
    chunks = (320, 640, 3200)

    @precondition(lambda self: self.said > 0)
    @rule()
    def finalize(self) -> None:
        self.steps.append(("own",))

    def connect(self, client: Any) -> AbstractAsyncContextManager[Any]:
        return client.listen.v1.connect(  # type: ignore[no-any-return]
            model="nova-3",
            encoding="linear16",
            sample_rate=RATE,
            interim_results=True,
            reconnect=POLICY,
            request_options={"response_timeout": WATCHDOG},
        )

    async def own_step(self, session: Any) -> None:
        await session.finalize(timeout=1)

    def words(self, events: list[Any]) -> list[tuple[str, float | None, float | None]]:
        assert isinstance(events[-1], Metadata)  # the session ended normally
        finals = [e for e in events if isinstance(e, Results) and e.is_final]
        return [(plain(w.word), w.start, w.end) for e in finals for w in e.words]


TestListenResilience = ListenResilience.TestCase
TestListenResilience.settings = settings(
    TestListenResilience.settings,
    max_examples=max(25, settings().max_examples // 4),  # 250 with the "thorough" profile
    stateful_step_count=8,
)


# --- Flux ------------------------------------------------------------------------------


class FluxResilience(Speaking):
    chunks = (1280, 2560, 5120)
    trailing_silence = 1.0
    final_silence = 2.0

    @precondition(lambda self: self.said > 0)
    @rule()
    def force_end_turn(self) -> None:
        self.steps.append(("own",))

    def connect(self, client: Any) -> AbstractAsyncContextManager[Any]:
        return client.listen.v2.connect(  # type: ignore[no-any-return]
            model="flux-general-en",
            encoding="linear16",
            sample_rate=RATE,
            reconnect=POLICY,
            request_options={"response_timeout": WATCHDOG},
        )

    async def own_step(self, session: Any) -> None:
        await session.force_end_turn()

    def words(self, events: list[Any]) -> list[tuple[str, float | None, float | None]]:
        ends = [e for e in events if isinstance(e, TurnInfo) and e.event == TurnEvent.END_OF_TURN]
        assert [e.turn_index for e in ends] == list(range(len(ends)))  # no gap, no repeat
        return [(plain(w.word), w.start, w.end) for e in ends for w in e.words]


TestFluxResilience = FluxResilience.TestCase
TestFluxResilience.settings = settings(
    TestFluxResilience.settings, max_examples=EXAMPLES, stateful_step_count=8
)


# --- speak ---------------------------------------------------------------------------


class SpeakResilience(Program):
    def __init__(self) -> None:
        super().__init__()
        self.pending = False

    @rule(sentence=st.sampled_from(SENTENCES))
    def text(self, sentence: str) -> None:
        self.steps.append(("text", sentence))
        self.pending = True

    @precondition(lambda self: self.pending)
    @rule()
    def flush(self) -> None:
        self.steps.append(("flush",))
        self.pending = False

    @precondition(lambda self: self.pending)
    @rule()
    def flush_and_drop_while_speaking(self) -> None:
        self.steps.append(("flush-drop",))
        self.pending = False

    async def execute(self) -> None:
        events: list[Any] = []
        recoveries = Recoveries()
        flushed_texts: list[str] = []  # what each completed flush should have said
        lost: list[int] = []
        unflushed: list[str] = []
        first_audio = trio.Event()
        async with open_fake_deepgram() as server:
            client = server.client()
            async with (
                client.speak.v1.connect(
                    model="aura-2-asteria-en",
                    encoding="linear16",
                    sample_rate=24000,
                    reconnect=POLICY,
                    request_options={"ping_interval": 2.0, "ping_timeout": 2.0},
                ) as session,
                trio.open_nursery() as nursery,
            ):

                async def collect() -> None:
                    nonlocal first_audio
                    async for event in session:
                        events.append(event)
                        recoveries.saw(event)
                        if isinstance(event, AudioChunk):
                            first_audio.set()

                async def flush() -> None:
                    text = " ".join(unflushed)
                    unflushed.clear()
                    while True:
                        try:
                            await session.flush()
                        except FlushLostError as exc:
                            # Documented: the session goes on; say the text again.
                            lost.append(exc.index)
                            await session.send_text(text)
                            continue
                        break
                    flushed_texts.append(text)

                nursery.start_soon(collect)
                for step in self.steps:
                    if step[0] == "text":
                        await session.send_text(step[1] + " ")
                        unflushed.append(step[1])
                    elif step[0] == "flush":
                        await flush()
                    elif step[0] == "flush-drop":
                        await recoveries.settled()
                        first_audio = trio.Event()
                        async with trio.open_nursery() as speaking:
                            speaking.start_soon(flush)
                            await first_audio.wait()
                            await recoveries.inflict(server, "drop")
                    elif step[0] == "pause":
                        await trio.sleep(step[1])
                    elif step[1] == "stall":
                        await recoveries.stall(server, reading=True)
                    else:
                        await recoveries.inflict(server, step[1])
                if unflushed:
                    await flush()
                await recoveries.settled()
                await session.close()
            await trio.testing.wait_all_tasks_blocked()
        assert trio.current_time() < 900, "the program took implausibly long"

        assert flushed_speech(events) == [normalize_text(text) for text in flushed_texts]
        reported = [i for e in events if isinstance(e, Reconnected) for i in e.lost_flushes]
        assert reported == lost
        recoveries.check(events)


TestSpeakResilience = SpeakResilience.TestCase
TestSpeakResilience.settings = settings(
    TestSpeakResilience.settings, max_examples=EXAMPLES, stateful_step_count=8
)
