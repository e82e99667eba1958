"""What docs/security.rst promises, each promise tested against the real client and server.

The first promises (keys never in reprs, logs or errors; no credentials over
plain ``ws://`` to a remote host) are in ``test_client.py``; TLS verification
is in ``test_transport.py``. Here: credentials across reconnections, test
servers on loopback, and the bound of every buffer.
"""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing

from dgtrio import (
    ConnectionDeadError,
    DeepgramClient,
    HandshakeError,
    Reconnecting,
    ReconnectPolicy,
    RequestOptions,
)
from dgtrio.testing import (
    CloseConnection,
    DeepgramServer,
    RejectHandshake,
    open_fake_deepgram,
    speech,
)
from tests.conftest import API_KEY

LINEAR16: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}
FRESH = "fresh-token-that-must-not-leak"


async def test_credentials_stay_out_of_reconnect_events_hooks_logs_and_errors(
    server: DeepgramServer,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Reconnecting] = []

    def refresh(event: Reconnecting) -> str:
        seen.append(event)
        return f"Bearer {FRESH}"

    policy = ReconnectPolicy(on_reconnect=refresh, jitter=lambda: 1.0, max_attempts=2)
    # The first connection fails in a retryable way; the refreshed token is then refused.
    server.inject(CloseConnection(1011, "NET-0001", after=1))
    server.inject(RejectHandshake(401, {"dg-error": "Invalid credentials."}))
    client = DeepgramClient(API_KEY, environment=server.environment)
    events: list[Any] = []
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(**LINEAR16, reconnect=policy) as session:
            await session.send_media(speech("hello there.", trailing_silence=0.3))
            async for event in session:
                events.append(event)
    assert seen and info.value.status == 401
    # The refreshed token did reach the server...
    assert server.handshakes[-1].headers["authorization"] == f"Bearer {FRESH}"
    # ... and nothing else shows either credential.
    shown = " ".join(
        [
            caplog.text,
            str(info.value),
            repr(info.value),
            repr(vars(info.value)),
            repr(session),
            repr(session.statistics()),
            *(repr(e) for e in events),
            *(repr(e) + str(e.cause) + repr(vars(e.cause)) for e in seen),
        ]
    )
    assert API_KEY not in shown
    assert FRESH not in shown
    assert "dgtrio" in caplog.text


def _external_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, UDP sends nothing
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_test_servers_bind_loopback_unless_told_otherwise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with open_fake_deepgram() as server:
        assert urlsplit(server.url).hostname == "127.0.0.1"
        external = _external_address()
        if external is not None:  # the port is not reachable from the network
            with pytest.raises(OSError):
                await trio.open_tcp_stream(external, server.port)
    assert "reachable from the network" not in caplog.text
    async with open_fake_deepgram(host="0.0.0.0") as server:
        assert server.port
    assert "reachable from the network" in caplog.text


async def test_the_receive_buffer_is_bounded(
    server: DeepgramServer, client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    # A session nobody reads: the server's messages stop at the bound, and
    # the backpressure reaches the server instead of the client's memory.
    options = RequestOptions(receive_buffer_size=8, keepalive_interval=None)
    async with client.listen.v1.connect(
        **LINEAR16, interim_results=True, request_options=options
    ) as session:
        audio = speech(" ".join(["one two three four five six."] * 20), trailing_silence=0.5)
        for offset in range(0, len(audio), 640):
            await session.send_media(audio[offset : offset + 640])
            await trio.sleep(0.02)
            assert session.statistics().events_buffered <= 8
        assert session.statistics().events_buffered == 8


async def test_the_send_buffer_is_bounded_and_a_stalled_peer_ends_in_a_typed_error(
    server: DeepgramServer, client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    options = RequestOptions(send_buffer_size=4, send_timeout=5.0)
    with pytest.raises(ConnectionDeadError) as info:
        async with client.listen.v1.connect(**LINEAR16, request_options=options) as session:
            connection = await server.wait_for_connection()
            connection.stall(reading=True, writing=True)
            frame = bytes(64000)  # 2 s of audio a frame: the socket buffers fill fast
            while True:
                await session.send_media(frame)
                assert session.statistics().send_buffer_used <= 4
    assert "could not be sent within 5 s" in str(info.value)


async def test_the_replay_buffer_is_bounded_and_reports_what_it_dropped(
    server: DeepgramServer, client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    # No final result for 3 s of audio (one long utterance), a replay bound of 1 s.
    policy = ReconnectPolicy(replay_seconds=1.0, jitter=lambda: 1.0)
    events: list[Any] = []
    async with client.listen.v1.connect(**LINEAR16, reconnect=policy) as session:
        connection = await server.wait_for_connection()
        audio = speech(" ".join(["alpha bravo charlie delta"] * 12) + ".", trailing_silence=0)
        assert len(audio) > 3 * 32000
        for offset in range(0, 3 * 32000, 640):
            await session.send_media(audio[offset : offset + 640])
            await trio.sleep(0.02)
        await connection.drop()
        async for event in session:
            events.append(event)
            if type(event).__name__ == "Reconnected":
                break
    assert not any(type(e).__name__ == "Results" and e.is_final for e in events)
    (reconnected,) = [e for e in events if type(e).__name__ == "Reconnected"]
    assert reconnected.replayed_seconds == pytest.approx(1.0, abs=0.05)
    assert reconnected.lost_seconds == pytest.approx(2.0, abs=0.1)
    replayed = server.connections[-1].audio_received
    assert len(replayed) <= 32000
