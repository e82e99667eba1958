"""Reconnect on /v1/speak: unflushed text is sent again, lost flushes are reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import (
    AudioChunk,
    ConnectionClosedError,
    DeepgramClient,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
)
from dgtrio._audio import decode_to_pcm16
from dgtrio.speak.v1 import Clear, Cleared, Close, Flush, Flushed, FlushLostError, Speak
from dgtrio.speak.v1._session import SpeakV1Session
from dgtrio.testing import DeepgramServer, decode_text

AURA: dict[str, Any] = {"model": "aura-2-asteria-en", "encoding": "linear16", "sample_rate": 24000}
LONG = " ".join(f"Sentence number {i} is here." for i in range(40))  # about 11 s of audio
POLICY = ReconnectPolicy(jitter=lambda: 1.0, min_uptime=0.5)


class Reader:
    """Reads a session in the background and lets the test wait for an event."""

    def __init__(self, session: SpeakV1Session) -> None:
        self.session = session
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self.done = trio.Event()
        self._changed = trio.Event()

    async def run(self) -> None:
        try:
            async for event in self.session:
                self.events.append(event)
                self._changed.set()
                self._changed = trio.Event()
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()
            self._changed.set()

    async def wait_for(self, predicate: Callable[[Any], bool]) -> Any:
        with trio.fail_after(120):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                if self.done.is_set():
                    raise AssertionError(f"the stream ended first: {self.error!r}")
                await self._changed.wait()

    def audio_after(self, event: Any) -> bytes:
        """The audio received after ``event`` (by identity)."""
        start = next(i for i, e in enumerate(self.events) if e is event)
        return b"".join(e for e in self.events[start:] if isinstance(e, AudioChunk))


@asynccontextmanager
async def speaking(
    client: DeepgramClient, policy: ReconnectPolicy | None = POLICY
) -> AsyncIterator[tuple[SpeakV1Session, Reader]]:
    async with (
        client.speak.v1.connect(**AURA, reconnect=policy) as session,
        trio.open_nursery() as nursery,
    ):
        reader = Reader(session)
        nursery.start_soon(reader.run)
        yield session, reader
        nursery.cancel_scope.cancel()


def said(audio: bytes) -> str:
    return decode_text(decode_to_pcm16(audio, "linear16"), 24000)


def flushed_speech(events: Sequence[Any]) -> list[str]:
    """The text heard between flushes (audio cut off by a failure is left out)."""
    spoken: list[str] = []
    audio = b""
    for event in events:
        if isinstance(event, AudioChunk):
            audio += event.data
        elif isinstance(event, Flushed):
            spoken.append(said(audio))
            audio = b""
        elif isinstance(event, Reconnected):
            audio = b""  # its flush is reported lost and said again
    return spoken


async def test_unflushed_text_is_sent_again_and_spoken(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with speaking(client) as (session, reader):
        conn = await server.wait_for_connection()
        await session.send_text("First part.")
        first = await session.flush()
        assert first is not None
        await session.send_text("Second part, not yet flushed.")
        await conn.wait_for_frames(3)  # Speak, Flush, Speak
        await conn.drop()
        reconnected = await reader.wait_for(lambda e: isinstance(e, Reconnected))
        assert reconnected.lost_flushes == ()
        assert reconnected.note is None
        second = await session.flush()
        assert isinstance(second, Flushed)
        assert "second part" in said(reader.audio_after(reconnected)).lower()
        await session.close()
        await reader.done.wait()
    assert reader.error is None
    new = server.connections[-1]
    assert new.messages_received()[:2] == [Speak("Second part, not yet flushed."), Flush()]
    assert isinstance(new.messages_received()[-1], Close)
    assert sum(isinstance(e, Reconnecting) for e in reader.events) == 1


async def test_a_flush_being_spoken_is_reported_lost(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with speaking(client) as (session, reader):
        conn = await server.wait_for_connection()
        await session.send_text(LONG)
        async with trio.open_nursery() as nursery:
            outcome: list[Any] = []

            async def flush() -> None:
                try:
                    outcome.append(await session.flush())
                except FlushLostError as exc:
                    outcome.append(exc)

            nursery.start_soon(flush)
            await reader.wait_for(lambda e: isinstance(e, AudioChunk))
            await conn.drop()
        (error,) = outcome
        assert isinstance(error, FlushLostError)
        assert error.index == 0
        assert error.code == "FLUSH_LOST"
        assert "flush #0" in str(error)
        reconnected = await reader.wait_for(lambda e: isinstance(e, Reconnected))
        assert reconnected.lost_flushes == (0,)
        assert reconnected.note is not None and "lost" in reconnected.note
        # The session goes on: the long text is not spoken again, new text is.
        await session.send_text("After the failure.")
        flushed = await session.flush()
        assert flushed is not None
        assert said(reader.audio_after(reconnected)).lower() == "after the failure."
    assert Speak(LONG) not in server.connections[-1].messages_received()


async def test_an_unanswered_clear_is_sent_again(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with speaking(client) as (session, reader):
        conn = await server.wait_for_connection()
        await session.send_text(LONG)
        async with trio.open_nursery() as nursery:
            results: dict[str, Any] = {}

            async def flush() -> None:
                results["flush"] = await session.flush()

            async def clear() -> None:
                results["clear"] = await session.clear()

            nursery.start_soon(flush)
            await reader.wait_for(lambda e: isinstance(e, AudioChunk))
            conn.stall(reading=True, writing=False)  # the Clear is never read
            nursery.start_soon(clear)
            await trio.sleep(1)
            await conn.drop()
        assert results["flush"] is None  # dropped by the Clear, as without a failure
        assert isinstance(results["clear"], Cleared)
        reconnected = await reader.wait_for(lambda e: isinstance(e, Reconnected))
        assert reconnected.lost_flushes == ()
    assert server.connections[-1].messages_received()[0] == Clear()


async def test_close_is_sent_again_after_the_unflushed_text(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with speaking(client) as (session, reader):
        conn = await server.wait_for_connection()
        await session.send_text("The last words.")
        await conn.wait_for_frames(1)
        conn.stall(reading=True, writing=False)
        await session.close()
        await trio.sleep(1)
        await conn.drop()
        await reader.done.wait()
    assert reader.error is None
    (reconnected,) = (e for e in reader.events if isinstance(e, Reconnected))
    assert said(reader.audio_after(reconnected)).lower() == "the last words."
    assert server.connections[-1].messages_received() == [Speak("The last words."), Close()]
    assert server.connections[-1].close_code == 1000


async def test_without_reconnect_a_drop_is_raised(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(ConnectionClosedError) as info:
        async with client.speak.v1.connect(**AURA) as session:
            await session.send_text("Hello.")
            conn = await server.wait_for_connection()
            await conn.wait_for_frames(1)
            await conn.drop()
            async for _ in session:
                pass
    assert info.value.code == 1006
    assert len(server.connections) == 1


def test_flush_lost_error_copies() -> None:
    import copy
    import pickle

    error = FlushLostError(3, "req-1")
    for clone in (copy.copy(error), pickle.loads(pickle.dumps(error))):
        assert isinstance(clone, FlushLostError)
        assert (clone.index, clone.request_id, str(clone)) == (3, "req-1", str(error))
