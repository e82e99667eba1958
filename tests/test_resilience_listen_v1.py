"""Reconnect and liveness on /v1/listen, against the fake server's faults."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import (
    ConnectError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramClient,
    DeepgramClientEnvironment,
    DeepgramError,
    HandshakeError,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    is_retryable,
)
from dgtrio._audio import wav_header
from dgtrio.listen.v1 import Results
from dgtrio.testing import (
    CloseConnection,
    DeepgramServer,
    DropConnection,
    RejectHandshake,
    Stall,
    speech,
)
from tests.conftest import API_KEY

RAW: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}
SENTENCES = ["one two three.", "four five six.", "seven eight nine.", "ten eleven."]
NO_JITTER = ReconnectPolicy(jitter=lambda: 1.0, min_uptime=0.5)


async def converse(
    client: DeepgramClient,
    *,
    policy: ReconnectPolicy | None,
    options: dict[str, Any] | None = None,
    container: bool = False,
) -> list[Any]:
    """Stream SENTENCES in real time, close the stream, return every event."""
    audio = b"".join(speech(s, trailing_silence=0.4) for s in SENTENCES)
    connect = dict(RAW)
    if container:
        audio = wav_header(encoding="linear16", sample_rate=16000, data_size=len(audio)) + audio
        connect = {"model": "nova-3"}
    events: list[Any] = []
    async with (
        client.listen.v1.connect(
            **connect,
            reconnect=policy,
            request_options=options or {},  # type: ignore[arg-type]
        ) as session,
        trio.open_nursery() as nursery,
    ):

        async def pump() -> None:
            try:
                for offset in range(0, len(audio), 640):
                    await session.send_media(audio[offset : offset + 640])
                    await trio.sleep(0.02)
                await session.close_stream()
            except DeepgramError:
                pass  # the reading side reports the failure

        nursery.start_soon(pump)
        async for event in session:
            events.append(event)
    return events


def finals(events: list[Any]) -> list[tuple[str, float, float]]:
    return [
        (e.transcript, round(e.start, 3), round(e.words[0].start, 3))
        for e in events
        if isinstance(e, Results) and e.is_final and e.transcript
    ]


@pytest.fixture
async def baseline(client: DeepgramClient, autojump_clock: trio.testing.MockClock) -> list[Any]:
    return finals(await converse(client, policy=None))


@pytest.mark.parametrize(
    "fault",
    [
        DropConnection(after=2),
        DropConnection(after=3, mid_frame=True),
        CloseConnection(
            1011, "Deepgram did not provide a response. See https://dpgr.am/net0000", after=2
        ),
        CloseConnection(1012, "service restart", after=3),
    ],
    ids=["drop", "drop-mid-frame", "1011-NET-0000", "1012"],
)
@pytest.mark.parametrize("container", [False, True], ids=["raw", "wav"])
async def test_transparent_recovery(
    client: DeepgramClient,
    server: DeepgramServer,
    baseline: list[Any],
    fault: Any,
    container: bool,
    autojump_clock: trio.testing.MockClock,
) -> None:
    server.inject(fault)  # the first connection fails, the next is healthy
    before = len(server.connections)
    events = await converse(client, policy=NO_JITTER, container=container)
    assert finals(events) == baseline  # nothing lost, nothing twice, one timeline
    reconnecting = [e for e in events if isinstance(e, Reconnecting)]
    reconnected = [e for e in events if isinstance(e, Reconnected)]
    assert len(reconnecting) == len(reconnected) == 1
    assert reconnecting[0].attempt == 1
    assert reconnected[0].time_offset > 0
    assert reconnected[0].replayed_seconds > 0
    assert reconnected[0].lost_seconds == 0
    assert reconnected[0].request_id == server.last.request_id
    assert len(server.connections) - before == 2
    if container:  # the WAV header was sent again before the replayed audio
        assert server.last.received[0][:4] == b"RIFF"


async def test_without_a_policy_the_failure_is_raised(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(DropConnection(after=2))
    with pytest.raises(ConnectionClosedError) as info:
        await converse(client, policy=None)
    assert info.value.code == 1006
    assert len(server.connections) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (CloseConnection(1008, "DATA-0000: the audio cannot be decoded", after=1), 1008),
        (CloseConnection(1009, "BIG-0001", after=1), 1009),
    ],
)
async def test_bad_input_is_final_even_with_a_policy(
    client: DeepgramClient,
    server: DeepgramServer,
    fault: Any,
    code: int,
    autojump_clock: trio.testing.MockClock,
) -> None:
    server.inject(fault)
    with pytest.raises(ConnectionClosedError) as info:
        await converse(client, policy=NO_JITTER)
    assert info.value.code == code
    assert len(server.connections) == 1


async def test_a_rejected_reconnect_is_final(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(DropConnection(after=1))
    server.inject(RejectHandshake(401))
    with pytest.raises(HandshakeError) as info:
        await converse(client, policy=NO_JITTER)
    assert info.value.status == 401
    assert len(server.handshakes) == 2


async def test_rate_limited_reconnects_back_off_and_succeed(
    client: DeepgramClient,
    server: DeepgramServer,
    baseline: list[Any],
    autojump_clock: trio.testing.MockClock,
) -> None:
    server.inject(DropConnection(after=2))
    server.inject(RejectHandshake(429), connections=2)
    events = await converse(client, policy=NO_JITTER)
    assert trio.current_time() > 3.5  # the backoff really waited
    assert finals(events) == baseline
    delays = [e.delay for e in events if isinstance(e, Reconnecting)]
    assert delays == [0.5, 1.0, 2.0]  # exponential (jitter pinned to its maximum)
    assert [e.attempt for e in events if isinstance(e, Reconnecting)] == [1, 2, 3]


async def test_a_server_that_keeps_dropping_does_not_loop_forever(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(DropConnection(after=0), connections=None)  # accept, then drop at once
    policy = ReconnectPolicy(jitter=lambda: 1.0, max_attempts=4)
    with pytest.raises(ConnectionClosedError) as info:
        await converse(client, policy=policy)
    assert info.value.code == 1006
    assert len(server.connections) == 4  # the first connection and three more attempts
    assert any("gave up reconnecting" in note for note in getattr(info.value, "__notes__", []))


async def test_the_hook_can_refresh_credentials_or_veto(
    server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.access_tokens.add("fresh-token")
    seen: list[Reconnecting] = []

    async def refresh(event: Reconnecting) -> str:
        seen.append(event)
        return "Bearer fresh-token"

    client = DeepgramClient(API_KEY, environment=server.environment)
    server.inject(DropConnection(after=2))
    events = await converse(
        client, policy=ReconnectPolicy(jitter=lambda: 0.0, on_reconnect=refresh)
    )
    assert len(seen) == 1
    assert server.last.handshake.headers["authorization"] == "Bearer fresh-token"
    assert "fresh-token" not in repr(events)

    server.inject(DropConnection(after=2))
    with pytest.raises(ConnectionClosedError):
        await converse(client, policy=ReconnectPolicy(on_reconnect=lambda event: False))


async def test_a_transient_refusal_of_the_first_connect_is_retried(
    client: DeepgramClient,
    server: DeepgramServer,
    baseline: list[Any],
    autojump_clock: trio.testing.MockClock,
) -> None:
    server.inject(RejectHandshake(503), connections=2)
    handshakes = len(server.handshakes)
    started = trio.current_time()
    events = await converse(client, policy=NO_JITTER)
    assert finals(events) == baseline
    assert len(server.handshakes) - handshakes == 3
    assert trio.current_time() - started >= 0.5 + 1.0  # the policy's backoff
    assert not [e for e in events if isinstance(e, (Reconnecting, Reconnected))]

    # Without a policy it is raised at once.
    server.inject(RejectHandshake(503))
    with pytest.raises(HandshakeError) as info:
        await converse(client, policy=None)
    assert info.value.status == 503


async def test_the_first_connect_gives_up_within_the_policy(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(RejectHandshake(429), connections=None)
    handshakes = len(server.handshakes)
    policy = ReconnectPolicy(jitter=lambda: 1.0, max_attempts=2)
    with pytest.raises(HandshakeError) as info:
        await converse(client, policy=policy)
    assert info.value.status == 429
    assert len(server.handshakes) - handshakes == 3  # the first try and two more
    assert any(
        "gave up connecting after 3 attempt(s)" in note
        for note in getattr(info.value, "__notes__", [])
    ) or sys.version_info < (3, 11)


async def test_the_hook_runs_before_a_retried_first_connect(
    server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.access_tokens.add("fresh-token")
    seen: list[Reconnecting] = []

    def refresh(event: Reconnecting) -> str:
        seen.append(event)
        return "Bearer fresh-token"

    client = DeepgramClient(API_KEY, environment=server.environment)
    server.inject(RejectHandshake(503))
    await converse(client, policy=ReconnectPolicy(jitter=lambda: 0.0, on_reconnect=refresh))
    (event,) = seen
    assert event.attempt == 1
    assert isinstance(event.cause, HandshakeError) and event.cause.status == 503
    assert server.last.handshake.headers["authorization"] == "Bearer fresh-token"

    server.inject(RejectHandshake(503))
    with pytest.raises(HandshakeError):  # vetoed: the refusal is raised
        await converse(client, policy=ReconnectPolicy(on_reconnect=lambda event: False))


async def test_a_first_connect_to_nowhere_is_retried_and_then_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = DeepgramClient(
        API_KEY, environment=DeepgramClientEnvironment(production=f"ws://127.0.0.1:{port}")
    )
    policy = ReconnectPolicy(jitter=lambda: 1.0, max_attempts=3)
    started = trio.current_time()
    with pytest.raises(ConnectError) as info:
        await converse(client, policy=policy)
    assert is_retryable(info.value)
    assert trio.current_time() - started >= 0.5 + 1.0 + 2.0


async def test_watchdog_catches_a_server_that_stops_answering(
    client: DeepgramClient,
    server: DeepgramServer,
    baseline: list[Any],
    autojump_clock: trio.testing.MockClock,
) -> None:
    server.inject(Stall(after=3, reading=False, writing=True))
    options = {"response_timeout": 3.0}
    with pytest.raises(ConnectionDeadError, match="got no reply"):
        await converse(client, policy=None, options=options)

    server.inject(Stall(after=3, reading=False, writing=True))
    events = await converse(client, policy=NO_JITTER, options=options)
    assert finals(events) == baseline
    cause = next(e.cause for e in events if isinstance(e, Reconnecting))
    assert isinstance(cause, ConnectionDeadError)


@pytest.mark.parametrize("interim", [True, False])
async def test_with_interim_results_the_watchdog_is_on_by_default(
    client: DeepgramClient,
    server: DeepgramServer,
    interim: bool,
    autojump_clock: trio.testing.MockClock,
) -> None:
    audio = speech("one two three.", trailing_silence=20.0)  # 20 s of audio flow

    async def stream() -> None:
        async with client.listen.v1.connect(**RAW, interim_results=interim) as session:
            connection = await server.wait_for_connection()
            connection.mute()  # it hears, but never answers
            for offset in range(0, len(audio), 640):
                await session.send_media(audio[offset : offset + 640])
                await trio.sleep(0.02)

    started = trio.current_time()
    if not interim:
        await stream()  # no watchdog: the audio goes out, the close times out quietly
        assert trio.current_time() - started > 20
        return
    with pytest.raises(ConnectionDeadError, match="got no reply from the server for 10 s"):
        await stream()
    assert trio.current_time() - started == pytest.approx(10.0, abs=1.0)
