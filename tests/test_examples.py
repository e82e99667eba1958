"""The runnable examples under docs/examples work against the fake server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import trio.testing

from dgtrio import DeepgramClient

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_transcribe_wav_streams_the_sample_file_in_real_time(
    client: DeepgramClient,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    example = load("transcribe_wav")
    finals = await example.transcribe(client, EXAMPLES / "hello.wav", 1.0)
    assert finals == [
        "Hello from dgtrio.",
        "This file is made of test tones, so the fake server hears every word.",
    ]
    assert trio.current_time() == pytest.approx(2.4, abs=0.2)  # paced at real time
    assert "[  0.00s] Hello from dgtrio." in capsys.readouterr().out


async def test_transcribe_wav_command_line(
    capsys: pytest.CaptureFixture[str], autojump_clock: trio.testing.MockClock
) -> None:
    example = load("transcribe_wav")
    assert await example.main([str(EXAMPLES / "hello.wav"), "--fake", "--speed", "0"]) == 0
    assert "hears every word" in capsys.readouterr().out
