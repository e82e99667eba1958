"""The official SDK's voice agent example runs on trio with only its imports changed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import trio.testing

import dgtrio.agent.v1 as agent_v1
import dgtrio.extensions.types.sockets as sockets
from dgtrio.agent.v1 import AgentV1SettingsMessage, KeepAlive, MediaMessage, Settings
from dgtrio.testing import DeepgramServer
from tests.conftest import API_KEY

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples" / "seed"

#: The agent names the example imports from dgtrio.extensions.types.sockets.
SEED_NAMES = (
    "AgentV1Agent",
    "AgentV1AudioConfig",
    "AgentV1AudioInput",
    "AgentV1DeepgramSpeakProvider",
    "AgentV1Listen",
    "AgentV1ListenProvider",
    "AgentV1OpenAiThinkProvider",
    "AgentV1SettingsMessage",
    "AgentV1SocketClientResponse",
    "AgentV1SpeakProviderConfig",
    "AgentV1Think",
)


def load_example(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for seed_name in SEED_NAMES:
        assert getattr(sockets, seed_name) is getattr(agent_v1, seed_name)  # exported
    spec = importlib.util.spec_from_file_location(f"seed_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_seed_agent_v1_example(
    server: DeepgramServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    autojump_clock: trio.testing.MockClock,
) -> None:
    monkeypatch.setenv("DEEPGRAM_API_KEY", API_KEY)
    monkeypatch.setenv("DEEPGRAM_AGENT_URL", server.url)
    example = load_example("agent_v1", monkeypatch)
    start = trio.current_time()
    await example.main()
    assert trio.current_time() - start == pytest.approx(3.0)  # closing cost nothing
    assert capsys.readouterr().out.splitlines() == [
        "Send SettingsConfiguration message",
        "Connection opened",
        "Received Welcome event",
        "Received SettingsApplied event",
    ]
    connection = server.last
    assert connection.handshake.path == "/v1/agent/converse"
    assert connection.handshake.query == ()
    assert connection.handshake.headers["authorization"] == f"Token {API_KEY}"
    [settings] = connection.received
    assert isinstance(settings, Settings)
    assert settings.audio.input is not None and settings.audio.input.sample_rate == 16000
    assert connection.close_code == 1000


def test_the_seed_settings_reach_the_server_as_sdk_5_sent_them() -> None:
    settings = AgentV1SettingsMessage(
        audio=agent_v1.AgentV1AudioConfig(
            input=agent_v1.AgentV1AudioInput(encoding="linear16", sample_rate=16000)
        ),
        agent=agent_v1.AgentV1Agent(
            think=agent_v1.AgentV1Think(
                provider=agent_v1.AgentV1OpenAiThinkProvider(
                    type="open_ai", model="gpt-4o-mini", temperature=0.7
                )
            ),
        ),
    )
    frame = agent_v1.SCHEMA.serialize(settings)
    assert frame.startswith('{"type":"Settings"')
    assert '"experimental":false' in frame and '"language":"en"' in frame
    assert agent_v1.AgentV1MediaMessage is MediaMessage
    assert agent_v1.AgentV1ControlMessage(type="KeepAlive").to_message() == KeepAlive()
