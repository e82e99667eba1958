"""Reconnect on /v2/listen (Flux): replayed turns, continuous timelines, settings kept."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import (
    ConnectionClosedError,
    DeepgramClient,
    DeepgramError,
    HandshakeError,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
)
from dgtrio.listen.v2 import Configure, Connected, Thresholds, TurnEvent, TurnInfo
from dgtrio.testing import CloseConnection, DeepgramServer, DropConnection, RejectHandshake, speech

FLUX: dict[str, Any] = {"model": "flux-general-en", "encoding": "linear16", "sample_rate": 16000}
SENTENCES = ["one two three.", "four five six.", "seven eight nine.", "ten eleven."]
NO_JITTER = ReconnectPolicy(jitter=lambda: 1.0, min_uptime=0.5)
STEP = 2560  # 80 ms


async def converse(
    client: DeepgramClient,
    *,
    policy: ReconnectPolicy | None,
    configure: Configure | None = None,
) -> list[Any]:
    """Stream SENTENCES in real time (1 s of silence after each), close, return every event."""
    audio = b"".join(speech(s, trailing_silence=1.0) for s in SENTENCES)
    events: list[Any] = []
    async with (
        client.listen.v2.connect(**FLUX, reconnect=policy) as session,
        trio.open_nursery() as nursery,
    ):
        if configure is not None:
            await session.configure(configure)

        async def pump() -> None:
            try:
                for offset in range(0, len(audio), STEP):
                    await session.send_media(audio[offset : offset + STEP])
                    await trio.sleep(0.08)
                await session.close_stream()
            except DeepgramError:
                pass  # the reading side reports the failure

        nursery.start_soon(pump)
        async for event in session:
            events.append(event)
    return events


def turns(events: list[Any]) -> list[tuple[int, str, float, float]]:
    """Every EndOfTurn: (turn index, transcript, window start, first word start)."""
    return [
        (
            e.turn_index,
            e.transcript,
            round(e.audio_window_start, 2),
            round(e.words[0].start or 0.0, 2),
        )
        for e in events
        if isinstance(e, TurnInfo) and e.event == TurnEvent.END_OF_TURN
    ]


@pytest.fixture
async def baseline(client: DeepgramClient, autojump_clock: trio.testing.MockClock) -> list[Any]:
    return turns(await converse(client, policy=None))


@pytest.mark.parametrize(
    "fault",
    [
        DropConnection(after=6),
        DropConnection(after=11, mid_frame=True),
        CloseConnection(1011, "NET-0001", after=14),
        CloseConnection(1012, "service restart", after=18),
    ],
    ids=["drop", "drop-mid-frame", "1011", "1012"],
)
async def test_transparent_recovery(
    client: DeepgramClient,
    server: DeepgramServer,
    baseline: list[Any],
    fault: Any,
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert len(baseline) == len(SENTENCES)
    before = len(server.connections)
    server.inject(fault)
    events = await converse(client, policy=NO_JITTER)
    # Every turn once, in order, numbered and timed as on a connection that never failed.
    assert turns(events) == baseline
    reconnecting = [e for e in events if isinstance(e, Reconnecting)]
    reconnected_events = [e for e in events if isinstance(e, Reconnected)]
    assert len(reconnecting) == len(reconnected_events) == 1
    (reconnected,) = reconnected_events
    assert reconnected.time_offset > 0
    assert reconnected.lost_seconds == 0
    # The new connection's Connected is delivered right after the notice.
    position = events.index(reconnected)
    assert isinstance(events[position - 1], Reconnecting)
    assert isinstance(events[position + 1], Connected)
    assert events[position + 1].request_id == reconnected.request_id
    assert len(server.connections) == before + 2


async def test_replay_starts_after_the_last_end_of_turn(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(CloseConnection(1011, "NET-0001", after=12))
    events = await converse(client, policy=NO_JITTER)
    (reconnected,) = (e for e in events if isinstance(e, Reconnected))
    ends = [
        e.audio_window_end
        for e in events[: events.index(reconnected)]
        if isinstance(e, TurnInfo) and e.event == TurnEvent.END_OF_TURN
    ]
    assert ends, "the fault should come after at least one completed turn"
    # The new connection's audio is the old one's from the last EndOfTurn on.
    offset = 32000 * reconnected.time_offset
    assert reconnected.time_offset == pytest.approx(ends[-1], abs=0.02)
    first, second = server.connections[0].audio_received, server.connections[1].audio_received
    start = int(offset) - int(offset) % 2
    assert second[: len(first) - start] == first[start:]
    assert reconnected.replayed_seconds == pytest.approx((len(first) - start) / 32000, abs=0.1)


async def test_configure_is_applied_again_before_the_replayed_audio(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(DropConnection(after=8))
    first = Configure(thresholds=Thresholds(eot_threshold=0.8), keyterms=("dgtrio",))
    events = await converse(client, policy=NO_JITTER, configure=first)
    assert any(isinstance(e, Reconnected) for e in events)
    sent = [m for m in server.connections[1].messages_received() if isinstance(m, Configure)]
    assert len(sent) == 1
    assert sent[0].thresholds is not None and sent[0].thresholds.eot_threshold == 0.8
    assert sent[0].keyterms == ("dgtrio",)
    # The Configure went out before any audio on the new connection.
    frames = server.connections[1].received
    first_text = next(i for i, f in enumerate(frames) if isinstance(f, Configure))
    first_binary = next(i for i, f in enumerate(frames) if isinstance(f, bytes))
    assert first_text < first_binary


async def test_without_reconnect_the_close_is_raised(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(CloseConnection(1011, "NET-0001", after=8))
    with pytest.raises(ConnectionClosedError) as info:
        await converse(client, policy=None)
    assert info.value.code == 1011
    assert len(server.connections) == 1


async def test_a_final_rejection_on_reconnect_ends_the_session(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(DropConnection(after=8))
    server.inject(RejectHandshake(401, {"dg-error": "Invalid credentials."}))
    with pytest.raises(HandshakeError) as info:
        await converse(client, policy=NO_JITTER)
    assert info.value.status == 401
    assert len(server.handshakes) == 2


def test_merged_configure_keeps_every_setting() -> None:
    from dgtrio.listen.v2._session import _merge_configure

    merged = _merge_configure(
        _merge_configure(
            None, Configure(thresholds=Thresholds(eot_threshold=0.8), keyterms=("a",))
        ),
        Configure(thresholds=Thresholds(eot_timeout_ms=3000), language_hints=("en",)),
    )
    assert merged.thresholds == Thresholds(eot_threshold=0.8, eot_timeout_ms=3000)
    assert merged.keyterms == ("a",)
    assert merged.language_hints == ("en",)
