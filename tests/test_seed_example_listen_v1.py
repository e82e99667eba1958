"""The official SDK's listen v1 example runs on trio with only its imports changed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import trio.testing

from dgtrio.listen.v1 import CloseStream
from dgtrio.testing import DeepgramServer
from tests.conftest import API_KEY

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples" / "seed"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"seed_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_seed_listen_v1_example(
    server: DeepgramServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", API_KEY)
    monkeypatch.setenv("DEEPGRAM_PRODUCTION_URL", server.url)
    example = load_example("listen_v1")
    await example.main()
    assert capsys.readouterr().out.splitlines() == ["Connection opened"]
    connection = server.last
    assert connection.handshake.query == (("model", "nova-3"),)
    assert connection.handshake.headers["authorization"] == f"Token {API_KEY}"
    assert connection.received == [CloseStream()]  # leaving the block closed it gracefully
    assert connection.close_code == 1000
