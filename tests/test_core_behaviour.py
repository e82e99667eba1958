"""Core behaviours shared by every socket, checked on the simplest one."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
import trio
import trio.testing
from wsproto.utilities import LocalProtocolError

from dgtrio import AudioChunk, DeepgramClient
from dgtrio._transport import ReaderGuard
from dgtrio.testing import DeepgramServer, Stall, speech

LINEAR16: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}


async def test_a_graceful_close_that_runs_out_of_time_is_not_an_error(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=0, reading=False, writing=True))  # never answers CloseStream
    options: Any = {"close_timeout": 3.0}
    async with client.listen.v1.connect(**LINEAR16, request_options=options) as session:
        await session.send_media(speech("hello."))
        started = trio.current_time()
    assert trio.current_time() - started == pytest.approx(3.0, abs=0.1)
    assert session.statistics().state.name == "CLOSED"


async def test_the_reader_guard_ignores_the_close_race_but_records_bugs() -> None:
    async def race() -> None:
        raise LocalProtocolError("Event Pong(payload=b'') cannot be sent in state LOCAL_CLOSING")

    async def bug() -> None:
        raise ZeroDivisionError("a bug")

    async with trio.open_nursery() as nursery:
        guard = ReaderGuard(nursery)
        guard.start_soon(race)
        await trio.testing.wait_all_tasks_blocked()
        assert guard.error is None
        assert not guard.failed.is_set()
        guard.start_soon(bug)
        await guard.failed.wait()
        assert isinstance(guard.error, ZeroDivisionError)


def test_audio_chunks_are_bytes_that_know_their_format() -> None:
    chunk = AudioChunk(b"\x01\x02\x03\x04", "linear16", 24000)
    assert isinstance(chunk, bytes)
    assert chunk == b"\x01\x02\x03\x04"
    assert chunk != AudioChunk(b"\x01\x02\x03\x04", "mulaw", 24000)
    assert chunk == AudioChunk(b"\x01\x02\x03\x04", "linear16", 24000)
    assert chunk.data == b"\x01\x02\x03\x04"
    assert type(chunk.data) is bytes
    assert chunk.duration == pytest.approx(2 / 24000)
    assert AudioChunk(b"x", "opus", 48000).duration is None
    assert AudioChunk(b"xx", "linear16", None).duration is None
    for clone in (copy.copy(chunk), copy.deepcopy(chunk), pickle.loads(pickle.dumps(chunk))):
        assert clone == chunk
        assert (clone.encoding, clone.sample_rate) == ("linear16", 24000)
    assert "4 bytes" in repr(chunk)
    assert "linear16" in repr(chunk)
    table: dict[bytes, int] = {chunk: 1}
    assert table[b"\x01\x02\x03\x04"] == 1  # hashes like its bytes


async def test_every_send_is_a_schedule_point(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    """Rule 9 of dgtrio/_session.py: also a send written at once lets other tasks run."""
    sends = 50
    frame = bytes(64)  # small: loopback's buffers never fill, every send is on the fast path

    class StepCounter(trio.abc.Instrument):
        """Counts how often the sending task is scheduled (once after each yield)."""

        def __init__(self, task: trio.lowlevel.Task) -> None:
            self.task, self.steps = task, 0

        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            self.steps += task is self.task

    async with client.listen.v1.connect(**LINEAR16) as session:
        counter = StepCounter(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(counter)
        try:
            for _ in range(sends):
                await session.send_media(frame)
        finally:
            trio.lowlevel.remove_instrument(counter)
        assert session.statistics().frames_sent == sends
        await server.last.wait_for_frames(sends)
    assert counter.steps == sends


async def test_a_cancelled_send_sends_nothing(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await session.send_media(b"\x01\x00" * 320)
        with trio.CancelScope() as scope:
            scope.cancel()
            await session.send_media(b"\x02\x00" * 320)
        assert scope.cancelled_caught
        await session.send_media(b"\x03\x00" * 320)
        assert session.statistics().frames_sent == 2
        await server.last.wait_for_frames(2)
    audio = [f for f in server.last.received if isinstance(f, bytes)]
    assert audio == [b"\x01\x00" * 320, b"\x03\x00" * 320]
