"""The runnable examples under docs/examples work against the fake server."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio.testing

import dgtrio.testing
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


def _docs_example(text: str, start: str) -> dict[str, Any]:
    """Run the indented code that follows the line ``start`` in ``text``; return its names."""
    lines = text.splitlines()
    first = lines.index(start) + 1
    while not lines[first].strip() or lines[first].strip().startswith(":"):
        first += 1
    indent = len(lines[first]) - len(lines[first].lstrip())
    body = []
    for line in lines[first:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(textwrap.dedent("\n".join(body)), start, "exec"), namespace)
    return namespace


async def test_the_first_test_of_the_testing_page_passes() -> None:
    page = (EXAMPLES.parent / "testing.rst").read_text(encoding="utf-8")
    assert page.index("A first test") < page.index(".. code-block:: python")
    example = _docs_example(page, ".. code-block:: python")
    await example["test_transcript_reaches_the_app"]()


async def test_the_example_in_the_testing_module_docstring_passes() -> None:
    assert dgtrio.testing.__doc__ is not None
    example = _docs_example(dgtrio.testing.__doc__, "::")
    await example["test_my_app"]()
