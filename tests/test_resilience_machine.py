"""A hypothesis state machine of client actions and server faults on /v1/listen.

Hypothesis builds the program: rules say sentences, pause, finalize in
silence, or break the live connection (drop it, drop it mid-frame, close it
with 1011 or 1012, stall its replies), with preconditions keeping the program
valid. The teardown runs the program once against the fake server under the
autojump clock, with a reconnect policy that always recovers, and checks:

* **nothing lost, nothing twice, one timeline**: the words of the final
  results, with their times, are exactly the words of the audio sent, decoded
  directly from the test tones with their times in the whole stream;
* every fault led to exactly one ``Reconnecting``/``Reconnected`` pair;
* the session ended normally (``Metadata`` last) and no task outlived it.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from dgtrio import Reconnected, Reconnecting, ReconnectPolicy
from dgtrio._server.fake_speech import decode_words
from dgtrio.listen.v1 import Metadata, Results
from dgtrio.testing import open_fake_deepgram, speech

SENTENCES = ["hello there.", "book a table for two.", "yes please.", "one two three four."]
FAULTS = ["drop", "drop-mid-frame", "close-1011", "close-1012", "stall"]
RATE = 16000
WATCHDOG = 2.0


class ListenResilience(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.steps: list[tuple[Any, ...]] = []
        self.said = 0

    @rule(sentence=st.sampled_from(SENTENCES), chunk=st.sampled_from([320, 640, 3200]))
    def say(self, sentence: str, chunk: int) -> None:
        self.steps.append(("say", sentence, chunk))
        self.said += 1

    @rule(seconds=st.floats(min_value=0.0, max_value=9.0))
    def pause(self, seconds: float) -> None:
        self.steps.append(("pause", seconds))

    @precondition(lambda self: self.said > 0)
    @rule()
    def finalize(self) -> None:
        self.steps.append(("finalize",))

    @rule(kind=st.sampled_from(FAULTS))
    def fault(self, kind: str) -> None:
        self.steps.append(("fault", kind))

    def teardown(self) -> None:
        trio.run(self.execute, clock=trio.testing.MockClock(autojump_threshold=0))

    async def execute(self) -> None:
        policy = ReconnectPolicy(jitter=lambda: 0.5, min_uptime=0, max_attempts=8)
        audio = bytearray()
        events: list[Any] = []
        faults = 0
        recovered = trio.Event()
        async with open_fake_deepgram() as server:
            client = server.client()
            async with (
                client.listen.v1.connect(
                    model="nova-3",
                    encoding="linear16",
                    sample_rate=RATE,
                    interim_results=True,
                    reconnect=policy,
                    request_options={"response_timeout": WATCHDOG},
                ) as session,
                trio.open_nursery() as nursery,
            ):

                async def collect() -> None:
                    async for event in session:
                        events.append(event)
                        if isinstance(event, Reconnected):
                            recovered.set()

                nursery.start_soon(collect)
                for step in self.steps:
                    if step[0] == "say":
                        pcm = speech(step[1], sample_rate=RATE, trailing_silence=0.4)
                        audio += pcm
                        for i in range(0, len(pcm), step[2]):
                            await session.send_media(pcm[i : i + step[2]])
                            await trio.sleep(step[2] / (2 * RATE))
                    elif step[0] == "pause":
                        await trio.sleep(step[1])
                    elif step[0] == "finalize":
                        await session.finalize(timeout=1)
                    else:
                        # Break the live connection once the last recovery is complete.
                        with trio.fail_after(120):
                            while sum(isinstance(e, Reconnected) for e in events) < faults:
                                recovered = trio.Event()
                                await recovered.wait()
                        connection = server.last
                        faults += 1
                        if step[1] == "drop":
                            await connection.drop()
                        elif step[1] == "drop-mid-frame":
                            await connection.drop(mid_frame=True)
                        elif step[1] == "close-1011":
                            await connection.close(1011, "See https://dpgr.am/net0000")
                        elif step[1] == "close-1012":
                            await connection.close(1012, "restart")
                        else:
                            # Replies stop; keep audio flowing past the watchdog's window.
                            connection.stall(reading=False, writing=True)
                            for _ in range(int((WATCHDOG + 0.5) / 0.02)):
                                await session.send_media(bytes(640))
                                audio += bytes(640)
                                await trio.sleep(0.02)
                await session.close_stream()
            await trio.testing.wait_all_tasks_blocked()
        assert trio.current_time() < 600, "the program took implausibly long"

        expected = [
            (w.word.strip(".,?!-"), round(w.start / RATE, 3), round(w.end / RATE, 3))
            for w in decode_words(bytes(audio), RATE)
        ]
        got = [
            (w.word, w.start, w.end)
            for e in events
            if isinstance(e, Results) and e.is_final
            for w in e.words
        ]
        assert [w[0] for w in got] == [w[0] for w in expected]
        for (_, start, end), (_, want_start, want_end) in zip(got, expected, strict=True):
            assert abs(start - want_start) < 0.0015
            assert abs(end - want_end) < 0.0015
        assert sum(isinstance(e, Reconnecting) for e in events) >= faults
        assert sum(isinstance(e, Reconnected) for e in events) == faults
        assert isinstance(events[-1], Metadata)


TestListenResilience = ListenResilience.TestCase
TestListenResilience.settings = settings(
    TestListenResilience.settings,
    max_examples=max(25, settings().max_examples // 4),  # 250 with the "thorough" profile
    stateful_step_count=8,
)
