"""The client: environments, credentials, options, and failures to connect."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import trio
import trio.testing

from dgtrio import (
    AsyncDeepgramClient,
    ConfigurationError,
    ConnectError,
    DeepgramClient,
    DeepgramClientEnvironment,
    HandshakeError,
    InsecureTransportError,
)
from dgtrio.testing import DeepgramServer, RejectHandshake
from tests.conftest import API_KEY

LINEAR16: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}


def test_environment_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DeepgramClientEnvironment.PRODUCTION.production == "wss://api.deepgram.com"
    assert DeepgramClientEnvironment.PRODUCTION.agent == "wss://agent.deepgram.com"
    monkeypatch.setenv("DEEPGRAM_PRODUCTION_URL", "ws://127.0.0.1:1/")
    monkeypatch.setenv("DEEPGRAM_AGENT_URL", "ws://127.0.0.1:2")
    env = DeepgramClientEnvironment.from_env()
    assert (env.production, env.agent) == ("ws://127.0.0.1:1", "ws://127.0.0.1:2")
    assert DeepgramClient("k").environment == env
    with pytest.raises(ConfigurationError, match="ws:// or wss://"):
        DeepgramClientEnvironment(production="https://api.deepgram.com")
    # The official SDK's four-field form is accepted.
    sdk_style = DeepgramClientEnvironment(
        base="https://x", production="wss://x", agent="wss://y", agent_rest="https://y"
    )
    assert sdk_style.production == "wss://x"


def test_credentials_come_from_the_environment_and_never_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", "env-secret-987")
    client = DeepgramClient()
    assert client.has_credentials
    assert "env-secret-987" not in repr(client) + str(vars(client).get("listen"))
    assert client._authorization(None) == "Token env-secret-987"
    token_client = AsyncDeepgramClient(access_token="jwt-secret-654")
    assert token_client._authorization(None) == "Bearer jwt-secret-654"
    assert "jwt-secret-654" not in repr(token_client)
    assert AsyncDeepgramClient is DeepgramClient


async def test_credentials_never_reach_logs_or_errors(
    server: DeepgramServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = DeepgramClient(API_KEY, environment=server.environment)
    async with good.listen.v1.connect(**LINEAR16) as session:
        await session.send_media(bytes(640))
        await session.close_stream()
        async for _ in session:
            pass
    bad = DeepgramClient("wrong-key-that-must-not-leak", environment=server.environment)
    with pytest.raises(HandshakeError) as info:
        async with bad.listen.v1.connect(**LINEAR16):
            pass  # pragma: no cover
    text = caplog.text + str(info.value) + repr(info.value) + repr(vars(info.value))
    assert API_KEY not in text
    assert "wrong-key-that-must-not-leak" not in text
    assert "dgtrio" in caplog.text  # the loggers did log


def test_credentials_over_plain_ws_to_a_remote_host_are_refused() -> None:
    env = DeepgramClientEnvironment(production="ws://deepgram.example", agent="ws://x.example")
    client = DeepgramClient("secret", environment=env)
    with pytest.raises(InsecureTransportError) as info:
        client.listen.v1.connect(**LINEAR16)
    assert "secret" not in str(info.value)
    assert "deepgram.example" in str(info.value)
    # Without credentials there is nothing to leak.
    DeepgramClient(environment=env, allow_insecure=False).listen.v1.connect(**LINEAR16)
    # Loopback and explicit opt-in are allowed.
    for host in ("ws://127.0.0.1:1", "ws://localhost:1", "ws://[::1]:1"):
        DeepgramClient("k", environment=DeepgramClientEnvironment(host, host)).listen.v1.connect(
            **LINEAR16
        )
    DeepgramClient("k", environment=env, allow_insecure=True).listen.v1.connect(**LINEAR16)


def test_invalid_parameters_fail_before_any_io() -> None:
    client = DeepgramClient("k", environment=DeepgramClientEnvironment("ws://127.0.0.1:1"))
    with pytest.raises(ConfigurationError, match="needs sample_rate"):
        client.listen.v1.connect(model="nova-3", encoding="linear16")
    with pytest.raises(ConfigurationError, match="needs interim_results"):
        client.listen.v1.connect(model="nova-3", utterance_end_ms=1000)
    with pytest.raises(ConfigurationError, match="unknown request_options"):
        client.listen.v1.connect(model="nova-3", request_options=cast("Any", {"conect_timeout": 1}))
    with pytest.raises(ConfigurationError, match="positive number"):
        client.listen.v1.connect(model="nova-3", request_options={"close_timeout": -1})
    with pytest.raises(ConfigurationError, match="finite"):
        client.listen.v1.connect(model="nova-3", endpointing=float("nan"))  # type: ignore[arg-type]


async def test_a_path_prefix_in_the_environment_is_kept(server: DeepgramServer) -> None:
    env = DeepgramClientEnvironment(production=server.url + "/proxy", agent=server.url)
    client = DeepgramClient(API_KEY, environment=env)
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(**LINEAR16):
            pass  # pragma: no cover
    assert info.value.status == 404
    assert server.handshakes[-1].path == "/proxy/v1/listen"


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    client = DeepgramClient("k", environment=DeepgramClientEnvironment(f"ws://127.0.0.1:{port}"))
    with pytest.raises(ConnectError, match="could not connect") as info:
        async with client.listen.v1.connect(**LINEAR16):
            pass  # pragma: no cover
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.url.startswith(f"ws://127.0.0.1:{port}/v1/listen?")


@asynccontextmanager
async def raw_listener(behaviour: str) -> AsyncIterator[str]:
    async def handler(stream: trio.SocketStream) -> None:
        async with stream:
            if behaviour == "hang up":
                await stream.receive_some()
                return
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, handler, 0)
        port = listeners[0].socket.getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}"
        finally:
            nursery.cancel_scope.cancel()


async def test_a_server_that_hangs_up_during_the_upgrade() -> None:
    async with raw_listener("hang up") as url:
        client = DeepgramClient("k", environment=DeepgramClientEnvironment(url))
        with pytest.raises(ConnectError, match="closed the connection during the handshake"):
            async with client.listen.v1.connect(**LINEAR16):
                pass  # pragma: no cover


async def test_a_server_that_never_answers_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with raw_listener("silent") as url:
        client = DeepgramClient("k", environment=DeepgramClientEnvironment(url))
        with pytest.raises(ConnectError, match="within 3 s"):
            async with client.listen.v1.connect(**LINEAR16, request_options={"connect_timeout": 3}):
                pass  # pragma: no cover
        assert trio.current_time() == pytest.approx(3)


async def test_any_rejection_is_reported_with_its_details(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(
        RejectHandshake(
            429,
            headers={"dg-error": "Too many requests.", "retry-after": "2"},
            body=b'{"err_code":"TOO_MANY_REQUESTS","err_msg":"Slow down","request_id":"r-1"}',
        )
    )
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(**LINEAR16):
            pass  # pragma: no cover
    error = info.value
    assert (error.status, error.err_code, error.err_msg) == (429, "TOO_MANY_REQUESTS", "Slow down")
    assert error.dg_error == "Too many requests."
    assert error.headers["retry-after"] == "2"
    assert error.request_id  # the dg-request-id header wins over the body
    assert "429" in str(error) and "Too many requests." in str(error)

    server.inject(RejectHandshake(503, body=b"<html>upstream down</html>"))
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(**LINEAR16):
            pass  # pragma: no cover
    assert info.value.body == "<html>upstream down</html>"
    assert info.value.err_code is None
