"""The official SDK's Flux and speak examples run on trio with only their imports changed.

Also runs the Flux and speak examples of the documentation against the fake server.
"""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path
from types import ModuleType

import pytest
import trio.testing

import dgtrio.extensions.types.sockets as sockets
import dgtrio.listen.v2 as listen_v2
import dgtrio.speak.v1 as speak_v1
from dgtrio import DeepgramClient
from dgtrio.listen.v2 import CloseStream
from dgtrio.speak.v1 import Close, Flush
from dgtrio.testing import DeepgramServer, decode_text, speech
from tests.conftest import API_KEY

DOCS = Path(__file__).parent.parent / "docs" / "examples"

#: The names the two seed examples import from dgtrio.extensions.types.sockets.
SEED_NAMES = {
    "ListenV2SocketClientResponse": listen_v2,
    "ListenV2MediaMessage": listen_v2,
    "ListenV2ControlMessage": listen_v2,
    "SpeakV1SocketClientResponse": speak_v1,
    "SpeakV1TextMessage": speak_v1,
    "SpeakV1ControlMessage": speak_v1,
}


def load(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name, module in SEED_NAMES.items():
        assert getattr(sockets, name) is getattr(module, name)  # the facade exports them
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_the_seed_names_are_dgtrios_own_classes() -> None:
    assert listen_v2.ListenV2MediaMessage is listen_v2.MediaMessage
    assert speak_v1.SpeakV1ControlMessage(type="Flush").to_message() == Flush()
    for name, module in SEED_NAMES.items():
        if hasattr(sockets, name):  # once the facade has them, they must be the same objects
            assert getattr(sockets, name) is getattr(module, name), name


async def test_seed_listen_v2_example(
    server: DeepgramServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", API_KEY)
    monkeypatch.setenv("DEEPGRAM_PRODUCTION_URL", server.url)
    example = load(DOCS / "seed" / "listen_v2.py", monkeypatch)
    start = trio.current_time()
    await example.main()
    assert trio.current_time() - start == pytest.approx(3.0)  # closing cost nothing
    assert capsys.readouterr().out.splitlines() == ["Connection opened", "Received Connected event"]
    connection = server.last
    assert connection.handshake.path == "/v2/listen"
    assert connection.handshake.query == (
        ("model", "flux-general-en"),
        ("encoding", "linear16"),
        ("sample_rate", "16000"),
    )
    assert connection.received == [CloseStream()]  # leaving the block closed it gracefully
    assert connection.close_code == 1005


async def test_seed_speak_v1_example(
    server: DeepgramServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", API_KEY)
    monkeypatch.setenv("DEEPGRAM_PRODUCTION_URL", server.url)
    example = load(DOCS / "seed" / "speak_v1.py", monkeypatch)
    await example.main()
    assert capsys.readouterr().out.splitlines() == [
        "Connection opened",
        "Received Metadata event",
        "Received Flushed event",
        "Connection closed",  # Close: the server closed, which ended the listening loop
    ]
    connection = server.last
    assert connection.handshake.path == "/v1/speak"
    assert connection.handshake.query == (
        ("model", "aura-2-asteria-en"),
        ("encoding", "linear16"),
        ("sample_rate", "24000"),
    )
    assert connection.received == [Flush(), Close()]
    assert connection.close_code == 1000


async def test_flux_turns_example(
    client: DeepgramClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    example = load(DOCS / "flux_turns.py", monkeypatch)
    audio = speech("Yes. Go on.", trailing_silence=1.0) + speech("and then", trailing_silence=0.2)
    start = trio.current_time()
    turns = await example.follow_turns(client, audio)
    assert turns == ["Yes. Go on.", "And then"]
    assert trio.current_time() - start == pytest.approx(len(audio) / 32000, abs=0.2)  # real time
    out = capsys.readouterr().out
    assert "drafting a reply to: Yes." in out
    assert "not done after all" in out
    assert "turn 0 over (model): send the reply" in out
    assert "unfinished turn: And then" in out

    await example.main()
    assert capsys.readouterr().out.splitlines()[-1] == "3 turns"


async def test_speak_to_wav_example(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    example = load(DOCS / "speak_to_wav.py", monkeypatch)
    path = tmp_path / "out.wav"
    assert await example.main([str(path), "Hello there. Is this working?", "--fake"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["spoken: Hello there.", "spoken: Is this working?"]
    assert out[2].startswith("wrote ") and out[2].endswith(f"s of audio to {path}")
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        pcm = wav.readframes(wav.getnframes())
    assert decode_text(pcm, 24000) == "hello there. is this working?"
