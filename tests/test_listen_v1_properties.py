"""Property: random client behaviour never loses, reorders or invents a Results.

Each example runs a fresh fake server and a fresh session under trio's autojump
clock, performs a random sequence of sends, keep-alives, finalizes and pauses,
then ends in one of four ways (close the stream and read to the end, leave the
block, raise, be cancelled). Then:

* the Results the client received are exactly the ones the server sent, in
  order: all of them when the stream was read to its end, a prefix otherwise;
* ``finalize()`` returned a Results the server sent (or None);
* no task the session started is still running.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from dgtrio.listen.v1 import Metadata, Results
from dgtrio.testing import open_fake_deepgram, speech

PHRASES = ["hello there.", "book a table for two.", "one", "yes please", ""]

actions = st.lists(
    st.one_of(
        st.tuples(st.just("media"), st.sampled_from(PHRASES), st.sampled_from([160, 640, 4000])),
        st.tuples(st.just("keepalive")),
        st.tuples(st.just("finalize")),
        st.tuples(st.just("pause"), st.floats(min_value=0, max_value=12)),
    ),
    max_size=10,
)
endings = st.sampled_from(["close_stream", "leave", "raise", "cancel"])


class Boom(Exception):
    pass


def count_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


async def scenario(steps: list[tuple[Any, ...]], ending: str) -> None:
    async with open_fake_deepgram() as server:
        client = server.client()
        await trio.testing.wait_all_tasks_blocked()
        tasks_before = count_tasks()
        received: list[Any] = []
        finalized: list[Results | None] = []
        with trio.CancelScope() as outer:
            try:
                async with (
                    client.listen.v1.connect(
                        model="nova-3", encoding="linear16", sample_rate=16000, interim_results=True
                    ) as session,
                    trio.open_nursery() as nursery,
                ):

                    async def collect() -> None:
                        async for event in session:
                            received.append(event)

                    nursery.start_soon(collect)
                    for step in steps:
                        if step[0] == "media":
                            audio = speech(step[1], trailing_silence=0.2)
                            for i in range(0, len(audio), step[2]):
                                await session.send_media(audio[i : i + step[2]])
                        elif step[0] == "keepalive":
                            await session.keep_alive()
                        elif step[0] == "finalize":
                            finalized.append(await session.finalize(timeout=1))
                        else:
                            await trio.sleep(step[1])
                    if ending == "close_stream":
                        await session.close_stream()
                    elif ending == "leave":
                        nursery.cancel_scope.cancel()
                    elif ending == "raise":
                        raise Boom
                    else:
                        outer.cancel()
            except Boom:
                assert ending == "raise"
        connection = server.last
        await connection.closed.wait()
        await trio.testing.wait_all_tasks_blocked()
        assert count_tasks() == tasks_before, "a session task outlived its block"

    sent = [m for m in connection.sent if isinstance(m, Results)]
    got = [e for e in received if isinstance(e, Results)]
    if ending == "close_stream":
        assert got == sent
        assert isinstance(received[-1], Metadata)
    else:
        assert got == sent[: len(got)]
    assert all(f is None or (f in sent and f.from_finalize) for f in finalized)


@given(actions, endings)
def test_random_interleavings_lose_nothing(steps: list[tuple[Any, ...]], ending: str) -> None:
    trio.run(scenario, steps, ending, clock=trio.testing.MockClock(autojump_threshold=0))
