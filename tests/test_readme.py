"""README.rst's Python examples run, unchanged, against the fake server.

Every ``.. code-block:: python`` in the README is extracted and run by the
test registered (with :func:`runs`) for the section it is in; a block that
only shows a fragment must be preceded by the comment :data:`FRAGMENT`, and is
then only compiled. A block that is neither fails
``test_every_python_block_is_run_or_marked_as_a_fragment``.

The examples build their client with ``DeepgramClient()``, which reads
``DEEPGRAM_API_KEY``, ``DEEPGRAM_PRODUCTION_URL`` and ``DEEPGRAM_AGENT_URL``:
the :func:`environment` fixture points those at the ``server`` fixture (which
accepts only ``API_KEY``), as ``docs/testing.rst`` tells users to do for code
that builds its own client. Blocks are compiled with README.rst's line
numbers, so a traceback points at the README line that failed.
"""

from __future__ import annotations

import ast
import re
import textwrap
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

import dgtrio.testing
from dgtrio.agent.v1 import Agent, FunctionCallResponse, ThinkSettings
from dgtrio.agent.v1 import Settings as AgentSettings
from dgtrio.listen.v2 import Configure, Thresholds
from dgtrio.speak.v1 import Close, Flush, Speak
from dgtrio.testing import DeepgramServer, DropConnection, decode_text, speech
from tests.conftest import API_KEY

ROOT = Path(__file__).parent.parent
README = ROOT / "README.rst"

#: The rST comment that, right before a python code block, marks it as a fragment.
FRAGMENT = ".. fragment: compiled by tests/test_readme.py, not run"

_TITLE_UNDERLINE = re.compile(r"([=\-~^\"'`#*+])\1+")
_ANY_PYTHON_DIRECTIVE = re.compile(
    r"^\s*\.\.\s+(code-block|code|sourcecode)::\s*(python3?|py)\s*$", re.M
)


@dataclass(frozen=True)
class Block:
    section: str
    line: int  # README line of the block's first line of code (1-based)
    code: str
    fragment: bool


def python_blocks(text: str) -> list[Block]:
    """Every ``.. code-block:: python`` of ``text``, with its section title."""
    lines = text.splitlines()
    blocks: list[Block] = []
    section = ""
    previous = ""  # the last non-blank line before the current one
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            line.strip()
            and _TITLE_UNDERLINE.fullmatch(following)
            and len(following) >= len(line.rstrip())
        ):
            section = line.strip()
        if line.strip() == ".. code-block:: python":
            indent = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and lines[j].strip().startswith(":"):
                j += 1  # directive options
            body: list[str] = []
            first: int | None = None
            while j < len(lines) and (
                not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
            ):
                if first is None and lines[j].strip():
                    first = j + 1
                body.append(lines[j])
                j += 1
            assert first is not None, f"README.rst:{i + 1}: empty code block"
            code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
            blocks.append(Block(section, first, code, previous.strip() == FRAGMENT))
            previous = ""
            i = j
            continue
        if line.strip():
            previous = line
        i += 1
    return blocks


BLOCKS = python_blocks(README.read_text())


def compile_block(block: Block) -> Any:
    # Blank lines first, so the code object's line numbers are README.rst's. A
    # fragment may use ``await`` and ``async with`` outside a function.
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if block.fragment else 0
    return compile("\n" * (block.line - 1) + block.code, str(README), "exec", flags=flags)


def run_block(block: Block) -> dict[str, Any]:
    """Execute ``block`` as a module; return its namespace."""
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile_block(block), namespace)
    return namespace


def example(section: str) -> dict[str, Any]:
    """Run the one python block of ``section``; return what it defined."""
    [block] = [b for b in BLOCKS if b.section == section and not b.fragment]
    return run_block(block)


#: Section title -> the name of the test that runs its block.
RUNNERS: dict[str, str] = {}
TestT = TypeVar("TestT", bound=Callable[..., Awaitable[None]])


def runs(section: str) -> Callable[[TestT], TestT]:
    """Register the decorated test as the one that runs ``section``'s block."""

    def register(test: TestT) -> TestT:
        assert section not in RUNNERS, section
        RUNNERS[section] = test.__name__
        return test

    return register


@pytest.fixture
async def environment(server: DeepgramServer, monkeypatch: pytest.MonkeyPatch) -> DeepgramServer:
    """Make ``DeepgramClient()`` connect to ``server`` with ``API_KEY``."""
    monkeypatch.setenv("DEEPGRAM_API_KEY", API_KEY)
    monkeypatch.setenv("DEEPGRAM_PRODUCTION_URL", server.url)
    monkeypatch.setenv("DEEPGRAM_AGENT_URL", server.url)
    return server


def chunked(audio: bytes, milliseconds: int) -> list[bytes]:
    """16 kHz linear16 ``audio`` in chunks of ``milliseconds``."""
    size = 32 * milliseconds
    return [audio[offset : offset + size] for offset in range(0, len(audio), size)]


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# --------------------------------------------------------------- the README itself


def test_every_python_block_is_run_or_marked_as_a_fragment() -> None:
    text = README.read_text()
    assert len(BLOCKS) == len(_ANY_PYTHON_DIRECTIVE.findall(text))  # none escapes the parser
    sections = [block.section for block in BLOCKS if not block.fragment]
    assert len(sections) == len(set(sections)), "one runnable block per section"
    assert set(sections) == set(RUNNERS)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line {b.line}" for b in BLOCKS])
def test_every_python_block_compiles(block: Block) -> None:
    compile_block(block)


def test_the_documentation_section_lists_every_docs_page() -> None:
    text = README.read_text()
    listed = text[text.index("\nDocumentation\n-------------\n") :]
    pages = sorted(page.name for page in (ROOT / "docs").glob("*.rst") if page.stem != "index")
    assert len(pages) >= 14
    assert [page for page in pages if f"``docs/{page}``" not in listed] == []


# ------------------------------------------------------------------- the examples


@runs("Live transcription")
async def test_live_transcription(
    environment: DeepgramServer,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    transcribe = example("Live transcription")["transcribe"]
    await transcribe(chunked(speech("Book a table for two. At eight tonight."), 20))
    assert printed(capsys) == ["book a table for two", "at eight tonight"]
    handshake = environment.last.handshake
    assert handshake.path == "/v1/listen"
    assert handshake.headers["authorization"] == f"Token {API_KEY}"  # from DEEPGRAM_API_KEY
    assert handshake.params["interim_results"] == ["true"]
    assert environment.last.close_code == 1000  # CloseStream, then a normal close


@runs("Conversational turns with Flux")
async def test_flux_turns(
    environment: DeepgramServer,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    follow_turns = example("Conversational turns with Flux")["follow_turns"]
    audio = speech("I would like a table for two.", trailing_silence=1.0)
    audio += speech("At eight tonight.", trailing_silence=0.0)  # cut off by close_stream()
    await follow_turns(chunked(audio, 80))
    assert printed(capsys) == [
        "turn 0: I would like a table for two.",
        "turn 1: At eight tonight. (unfinished)",
    ]
    connection = environment.last
    assert connection.handshake.path == "/v2/listen"
    assert connection.received[0] == Configure(Thresholds(eot_threshold=0.8), ["Deepgram"])


@runs("Streaming text to speech")
async def test_speak_to_wav(
    environment: DeepgramServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    speak = example("Streaming text to speech")["speak"]
    path = tmp_path / "booked.wav"
    await speak(["Hello.", "Your table is booked."], path)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        frames = wav.getnframes()
        audio = wav.readframes(frames)
    assert len(audio) == 2 * frames > 0  # the header's length is the data's
    assert decode_text(audio, 24000) == "hello. your table is booked."
    assert printed(capsys) == [f"{frames / 24000:.2f} s of speech in {path}"]
    assert environment.last.received == [
        Speak("Hello."),
        Flush(),
        Speak("Your table is booked."),
        Flush(),
        Close(),
    ]


@runs("The voice agent")
async def test_voice_agent_with_a_function(
    environment: DeepgramServer,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    ask = example("The voice agent")["ask"]
    reply = await ask("What is the weather in Paris?")
    assert printed(capsys) == [
        "user: What is the weather in Paris?",
        "assistant: It is sunny in Paris.",
    ]
    assert decode_text(reply, 24000) == "it is sunny in paris."  # the agent's speech, whole
    received = environment.last.received
    [settings] = [m for m in received if isinstance(m, AgentSettings)]
    assert isinstance(settings.agent, Agent)
    assert isinstance(settings.agent.think, ThinkSettings)
    [function] = settings.agent.think.functions or ()
    assert (function.name, function.description) == ("weather", "Today's weather in a city.")
    [response] = [m for m in received if isinstance(m, FunctionCallResponse)]
    assert (response.name, response.content) == ("weather", "It is sunny in Paris.")


@runs("Reconnecting and liveness")
async def test_reconnect_keeps_every_final_once(
    environment: DeepgramServer,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    transcribe = example("Reconnecting and liveness")["transcribe_through_outages"]
    audio = chunked(speech("One two three. Four five six. Seven eight nine."), 20)
    await transcribe(audio)
    baseline = printed(capsys)
    assert [line.split("] ")[1] for line in baseline] == [
        "one two three",
        "four five six",
        "seven eight nine",
    ]

    before = len(environment.connections)
    environment.inject(DropConnection(after=2))  # mid-stream: after two results
    await transcribe(audio)
    lines = printed(capsys)
    assert len(environment.connections) == before + 2
    lost = [i for i, line in enumerate(lines) if line.startswith("connection lost: ")]
    back = [i for i, line in enumerate(lines) if line.startswith("reconnected, ")]
    assert len(lost) == len(back) == 1
    assert re.fullmatch(r"connection lost: connection closed with code 1006 .*", lines[lost[0]])
    assert re.fullmatch(r"reconnected, replayed \d+\.\d\d s of audio", lines[back[0]])
    assert 0 < lost[0] < back[0] < len(lines) - 1  # finals on both sides of the outage
    assert API_KEY not in "\n".join(lines)
    # The same finals, once each, on the same timeline as without the drop.
    assert [line for line in lines if line.startswith("[")] == baseline


@runs("Test your application without Deepgram")
async def test_the_testing_example_passes_and_can_fail(
    monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    await example("Test your application without Deepgram")["test_books_a_table"]()

    # The example's assertion is live: audio that says something else fails it.
    monkeypatch.setattr(
        dgtrio.testing, "speech", lambda text, **kwargs: speech("Book a table for three.")
    )
    with pytest.raises(AssertionError):
        await example("Test your application without Deepgram")["test_books_a_table"]()
