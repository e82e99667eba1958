"""Shared fixtures: a fake Deepgram server per test, and a client pointed at it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from dgtrio import DeepgramClient
from dgtrio.testing import DeepgramServer, open_fake_deepgram

# Two cores in CI: no deadlines, modest example counts; DGTRIO_HYPOTHESIS=thorough for more.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("DGTRIO_HYPOTHESIS", "ci"))

API_KEY = "dgtrio-test-key-5f2c"


@pytest.fixture
async def server() -> AsyncIterator[DeepgramServer]:
    """A fake Deepgram server on loopback that accepts only :data:`API_KEY`."""
    async with open_fake_deepgram(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def client(server: DeepgramServer) -> DeepgramClient:
    """A client for :func:`server`."""
    return DeepgramClient(API_KEY, environment=server.environment)
