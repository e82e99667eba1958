"""The sans-IO half of reconnecting: classification, backoff, the replay buffer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dgtrio import (
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ConnectionDeadError,
    HandshakeError,
    MessageDecodeError,
    ReconnectPolicy,
    ServerError,
)
from dgtrio._reconnect import ReplayBuffer, is_retryable


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (HandshakeError("u", 400), False),
        (HandshakeError("u", 401), False),
        (HandshakeError("u", 402), False),
        (HandshakeError("u", 403), False),
        (HandshakeError("u", 404), False),
        (HandshakeError("u", 408), True),
        (HandshakeError("u", 429), True),
        (HandshakeError("u", 500), True),
        (HandshakeError("u", 503), True),
        (ConnectionClosedError(1006), True),
        (ConnectionClosedError(1001, "going away"), True),
        (ConnectionClosedError(1011, "See https://dpgr.am/net0001"), True),
        (ConnectionClosedError(1011, "NET-0003"), True),
        (ConnectionClosedError(1012, "restart"), True),
        (ConnectionClosedError(1013, "try again later"), True),
        (ConnectionClosedError(1008, "DATA-0000"), False),
        (ConnectionClosedError(1008, "DATA-0001"), False),
        (ConnectionClosedError(1009, "BIG-0001"), False),
        (ConnectionClosedError(1003, "MESSAGE-0000"), False),
        (ConnectionClosedError(1002, "protocol error"), False),
        (ConnectionDeadError("no pong"), True),
        (ConnectError("could not connect: refused", "ws://x"), True),
        (ConnectError("no websocket connection within 10 s", "ws://x"), True),
        (ConnectError("TLS handshake failed: certificate verify failed", "wss://x"), False),
        (ServerError("INTERNAL_SERVER_ERROR", "boom"), False),
        (MessageDecodeError("x", raw="x"), False),
        (ValueError("not ours"), False),
    ],
)
def test_classification(error: BaseException, retry: bool) -> None:
    assert is_retryable(error) is retry


def test_backoff_is_exponential_with_full_jitter() -> None:
    top = ReconnectPolicy(initial_delay=0.5, multiplier=2, max_delay=6, jitter=lambda: 1.0)
    assert [top.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]
    bottom = ReconnectPolicy(jitter=lambda: 0.0)
    assert bottom.delay(5) == 0.0
    middle = ReconnectPolicy(initial_delay=1, jitter=lambda: 0.25)
    assert middle.delay(3) == pytest.approx(1.0)


@given(st.integers(min_value=1, max_value=50))
def test_default_jitter_stays_within_the_bound(attempt: int) -> None:
    policy = ReconnectPolicy()
    bound = min(policy.max_delay, policy.initial_delay * policy.multiplier ** (attempt - 1))
    assert 0 <= policy.delay(attempt) <= bound


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(initial_delay=-1)
    with pytest.raises(ValueError, match="min_uptime"):
        ReconnectPolicy(min_uptime=-1)


@given(
    chunks=st.lists(st.binary(min_size=1, max_size=50), max_size=30),
    limit=st.integers(min_value=1, max_value=400),
    releases=st.lists(st.integers(min_value=0, max_value=2000), max_size=5),
)
def test_replay_buffer_keeps_exactly_the_unreleased_tail(
    chunks: list[bytes], limit: int, releases: list[int]
) -> None:
    buffer = ReplayBuffer(limit)
    stream = b""
    start = overflowed = 0  # the model: where the buffer must start, what overflowed
    for i, chunk in enumerate(chunks):
        buffer.append(chunk)
        stream += chunk
        if len(stream) - limit > start:
            overflowed += len(stream) - limit - start
            start = len(stream) - limit
        if i < len(releases):
            buffer.release(releases[i])
            start = max(start, min(releases[i], len(stream)))
        assert buffer.start == start
        assert buffer.overflowed == overflowed
        assert b"".join(buffer.chunks()) == stream[start:]
        assert len(buffer) == len(stream) - start <= limit
