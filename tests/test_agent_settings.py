"""The agent's Settings tree: fixtures, pass-through, unions, round trips, SDK 5 names."""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio._codec import CONVERTER, EXTRAS, UnknownMessage
from dgtrio._common import MediaMessage
from dgtrio._errors import MessageDecodeError
from dgtrio.agent.v1 import _seed as seed
from dgtrio.agent.v1 import _settings as s
from dgtrio.agent.v1._messages import (
    SCHEMA,
    FunctionCallResponse,
    InjectAgentMessage,
    InjectUserMessage,
    KeepAlive,
    UpdateListen,
    UpdatePrompt,
    UpdateSpeak,
    UpdateThink,
    UpdateThinkLive,
)

SETTINGS = settings(max_examples=60, deadline=None)


def _fixture_dir(name: str) -> Path | None:
    candidates = [
        os.environ.get("DGTRIO_FIXTURES", ""),
        str(Path(__file__).parent / "fixtures"),
        "/work/shared/fixtures",
    ]
    for base in candidates:
        if base and (Path(base) / name).is_dir():
            return Path(base) / name
    return None


FIXTURES = _fixture_dir("agent-v1")


def _fixture(name: str) -> str:
    if FIXTURES is None:
        pytest.skip("fixture folder agent-v1 not found (set DGTRIO_FIXTURES)")
    return (FIXTURES / name).read_text()


def _wire(message: Any) -> Any:
    """The JSON value a message encodes to."""
    return json.loads(SCHEMA.serialize(message))


def _reparse(message: Any) -> Any:
    return SCHEMA.parse_client(SCHEMA.serialize(message))


# --- fixtures ------------------------------------------------------------------------


def test_settings_fixture_flux_bedrock() -> None:
    text = _fixture("Settings-1.json")
    message = SCHEMA.parse_client(text)
    assert isinstance(message, s.Settings)
    assert message.audio.input == s.AudioInput(encoding="linear16", sample_rate=24000)
    agent = message.agent
    assert isinstance(agent, s.Agent)
    assert agent.listen is not None
    assert agent.listen.provider == s.DeepgramListenProviderV2(model="flux-general-en")
    assert isinstance(agent.think, s.ThinkSettings)
    provider = agent.think.provider
    assert isinstance(provider, s.AwsBedrockThinkProvider)
    assert provider.model == "openai.gpt-oss-120b-1:0"
    assert provider.credentials is not None
    assert provider.credentials.type == "iam"
    assert provider.credentials.region == "us-east-2"
    assert agent.think.endpoint == s.Endpoint(
        url="https://bedrock-runtime.us-east-2.amazonaws.com/"
    )
    assert isinstance(agent.speak, s.SpeakSettings)
    assert agent.speak.provider == s.DeepgramSpeakProvider(model="flux-alexis-en")
    assert _wire(message) == json.loads(text)


def test_settings_fixture_full_tree() -> None:
    text = _fixture("Settings-2.json")
    message = SCHEMA.parse_client(text)
    assert isinstance(message, s.Settings)
    assert message.experimental is False
    assert message.audio.output == s.AudioOutput(
        encoding="mp3", sample_rate=24000, bitrate=48000, container="none"
    )
    agent = message.agent
    assert isinstance(agent, s.Agent)
    assert agent.language == "en"
    assert agent.greeting == "Hello! How can I help you today?"
    # No "version" (the docs' and SDK 5's shape): Nova, and the absence is kept.
    assert agent.listen is not None
    assert agent.listen.provider == s.DeepgramListenProviderV1(
        version=None, model="nova-3", keyterms=("hello", "goodbye")
    )
    assert isinstance(agent.think, s.ThinkSettings)
    assert agent.think.context_length == "max"
    assert agent.think.provider == s.OpenAiThinkProvider(model="gpt-4o-mini", temperature=0.7)
    assert agent.think.functions is not None
    (function,) = agent.think.functions
    assert function.name == "check_order_status"
    assert function.parameters is not None
    assert function.parameters["required"] == ["order_id"]
    assert function.endpoint == s.Endpoint(
        url="https://api.example.com/orders/status",
        method="post",
        headers={"authorization": "Bearer {{token}}"},
    )
    # "headers" is not a field of a Deepgram speak provider: it passes through.
    assert isinstance(agent.speak, s.SpeakSettings)
    assert agent.speak.provider.extra_fields == {"headers": {"authorization": "Bearer {{token}}"}}
    assert _wire(message) == json.loads(text)


def test_legacy_settings_configuration_is_unknown() -> None:
    message = SCHEMA.parse_client(_fixture("Settings-3.json"))
    assert isinstance(message, UnknownMessage)
    assert message.type == "SettingsConfiguration"
    assert message.raw["agent"]["think_model"] == "gpt-4"


# --- pass-through of what dgtrio does not model ----------------------------------------

UNKNOWN_EVERYWHERE = {
    "type": "Settings",
    "future_top": {"a": [1, 2.5, None, "x"]},
    "audio": {
        "input": {"encoding": "linear16", "sample_rate": 16000, "channels": 2},
        "output": {"encoding": "opus", "bitrate": 32000, "frame_ms": 20},
        "echo_cancel": True,
    },
    "agent": {
        "context": {
            "messages": [
                {"type": "History", "role": "user", "content": "hi", "ts": 1},
                {
                    "type": "History",
                    "function_calls": [
                        {
                            "id": "c",
                            "name": "f",
                            "client_side": True,
                            "arguments": "{}",
                            "response": "ok",
                            "latency": 0.25,
                        }
                    ],
                },
            ],
            "summary": "earlier",
        },
        "listen": {
            "provider": {"type": "deepgram", "version": "v2", "model": "flux-general-en", "x": 1},
            "vad": "aggressive",
        },
        "think": [
            {
                "provider": {"type": "x_ai", "model": "grok-4", "temperature": 0.2, "nested": {}},
                "endpoint": {"url": "https://x.ai", "headers": {"k": "v"}, "timeout_ms": 900},
                "functions": [{"name": "f", "strict": True}],
                "reasoning": {"budget": 100},
            },
            {"provider": {"type": "open_ai", "model": "gpt-5-nano", "service_tier": "flex"}},
        ],
        "think_live": {
            "provider": {"type": "deepgram", "version": "v1", "mood": "calm"},
            "other": 1,
        },
        "speak": [
            {"provider": {"type": "playht", "voice": "s3://v", "quality": "premium"}},
            {"provider": {"type": "deepgram", "model": "aura-2-thalia-en", "pitch": -1}},
        ],
        "messages": [{"legacy": True}],
    },
    "flags": {"history": False, "latency_reports": True},
}


def test_unknown_fields_and_providers_survive_a_round_trip() -> None:
    text = json.dumps(UNKNOWN_EVERYWHERE)
    message = SCHEMA.parse_client(text)
    assert isinstance(message, s.Settings)
    assert message.extra_fields == {"future_top": {"a": [1, 2.5, None, "x"]}}
    assert message.audio.input is not None
    assert message.audio.input.extra_fields == {"channels": 2}
    agent = message.agent
    assert isinstance(agent, s.Agent)
    assert agent.extra_fields == {"messages": [{"legacy": True}]}
    assert isinstance(agent.think, tuple)
    primary, fallback = agent.think
    assert primary.provider == s.GenericThinkProvider(
        "x_ai", extra_fields={"model": "grok-4", "temperature": 0.2, "nested": {}}
    )
    assert isinstance(fallback.provider, s.OpenAiThinkProvider)
    assert fallback.provider.extra_fields == {"service_tier": "flex"}
    assert isinstance(agent.speak, tuple)
    assert agent.speak[0].provider == s.GenericSpeakProvider(
        "playht", extra_fields={"voice": "s3://v", "quality": "premium"}
    )
    assert agent.context is not None
    assert agent.context.messages is not None
    assert agent.context.messages[1].function_calls is not None
    assert agent.context.messages[1].function_calls[0].extra_fields == {"latency": 0.25}
    # The same JSON comes back, and encoding is stable to the byte.
    encoded = SCHEMA.serialize(message)
    assert json.loads(encoded) == UNKNOWN_EVERYWHERE
    assert SCHEMA.serialize(SCHEMA.parse_client(encoded)) == encoded


@pytest.mark.parametrize(
    "provider",
    [
        {"type": "deepgram", "version": "v3", "model": "nova-9"},
        {"type": "assemblyai", "model": "best"},
        {"model": "nova-3"},
    ],
)
def test_unknown_listen_providers_pass_through(provider: dict[str, Any]) -> None:
    message = SCHEMA.parse_client(
        json.dumps({"type": "UpdateListen", "listen": {"provider": provider}})
    )
    assert isinstance(message, UpdateListen)
    assert isinstance(message.listen.provider, s.GenericListenProvider)
    assert _wire(message) == {"type": "UpdateListen", "listen": {"provider": provider}}


def test_listen_provider_dispatch_by_version() -> None:
    def provider(body: dict[str, Any]) -> Any:
        message = SCHEMA.parse_client(
            json.dumps({"type": "UpdateListen", "listen": {"provider": body}})
        )
        assert isinstance(message, UpdateListen)
        return message.listen.provider

    v1 = provider({"type": "deepgram", "version": "v1", "model": "nova-3", "language": "multi"})
    assert v1 == s.DeepgramListenProviderV1(model="nova-3", language="multi")
    v2 = provider({"type": "deepgram", "version": "v2", "model": "flux-general-multi"})
    assert v2 == s.DeepgramListenProviderV2(model="flux-general-multi")
    bare = provider({"type": "deepgram", "model": "nova-2", "smart_format": True})
    assert bare == s.DeepgramListenProviderV1(version=None, model="nova-2", smart_format=True)


def test_hand_built_nova_provider_sends_its_version() -> None:
    listen = s.ListenSettings(provider=s.DeepgramListenProviderV1(model="nova-3"))
    assert _wire(UpdateListen(listen))["listen"]["provider"] == {
        "type": "deepgram",
        "version": "v1",
        "model": "nova-3",
    }
    flux = s.DeepgramListenProviderV2(
        model="flux-general-en", eot_threshold=0.8, eot_timeout_ms=3000, keyterms=["Acme"]
    )
    assert _wire(UpdateListen(s.ListenSettings(provider=flux)))["listen"]["provider"] == {
        "type": "deepgram",
        "version": "v2",
        "model": "flux-general-en",
        "eot_threshold": 0.8,
        "eot_timeout_ms": 3000,
        "keyterms": ["Acme"],
    }


def test_extra_fields_can_be_sent_but_never_override_modelled_ones() -> None:
    provider = s.OpenAiThinkProvider(model="gpt-4o", extra_fields={"model": "ignored", "seed": 7})
    assert _wire(UpdateThink(s.ThinkSettings(provider)))["think"]["provider"] == {
        "type": "open_ai",
        "model": "gpt-4o",
        "seed": 7,
    }


def test_generic_provider_builds_any_provider() -> None:
    think = s.ThinkSettings(s.GenericThinkProvider("x_ai", extra_fields={"model": "grok-3"}))
    assert _wire(UpdateThink(think)) == {
        "type": "UpdateThink",
        "think": {"provider": {"type": "x_ai", "model": "grok-3"}},
    }


# --- constructors --------------------------------------------------------------------


def test_constructors_take_lists_and_single_items() -> None:
    speak = s.SpeakSettings(s.DeepgramSpeakProvider(model="aura-2-thalia-en"))
    think = s.ThinkSettings(s.OpenAiThinkProvider(model="gpt-4o-mini"), functions=[s.Function("f")])
    agent = s.Agent(think=[think], speak=[speak, speak])
    assert agent.think == (think,)
    assert agent.speak == (speak, speak)
    assert think.functions == (s.Function("f"),)
    assert s.Agent(speak=speak).speak is speak
    assert UpdateSpeak([speak]).speak == (speak,)
    assert UpdateThink(think).think is think
    assert s.Settings(s.AudioConfig(), "agent-id", tags="one").tags == ("one",)
    assert s.Context(messages=[s.History("user", "hi")]).messages == (s.History("user", "hi"),)


def test_think_live_defaults() -> None:
    live = s.ThinkLiveSettings()
    assert _wire(UpdateThinkLive(live)) == {
        "type": "UpdateThink_Live",
        "think_live": {"provider": {"type": "deepgram", "version": "v1"}},
    }


def test_saved_agent_configuration_id() -> None:
    message = s.Settings(audio=s.AudioConfig(), agent="4b4f7d06-saved")
    assert _wire(message) == {"type": "Settings", "audio": {}, "agent": "4b4f7d06-saved"}
    assert _reparse(message) == message


def test_secrets_are_masked_in_repr() -> None:
    creds = s.AwsCredentials(
        type="sts", access_key_id="AKIA", secret_access_key="s3cr3t", session_token="tok"
    )
    endpoint = s.Endpoint(url="https://llm", headers={"Authorization": "Bearer hunter2"})
    text = repr(creds) + repr(endpoint)
    assert "s3cr3t" not in text
    assert "tok'" not in text
    assert "hunter2" not in text
    assert "Authorization" in text
    assert "AKIA" in text


def test_history_shapes() -> None:
    said = s.History(role="assistant", content="Hello")
    called = s.History(function_calls=[s.HistoryFunctionCall("c", "f", True, "{}", "ok")])
    assert said.is_conversation
    assert not said.is_function_calls
    assert called.is_function_calls
    assert not called.is_conversation
    assert _wire(said) == {"type": "History", "role": "assistant", "content": "Hello"}
    assert _wire(called) == {
        "type": "History",
        "function_calls": [
            {"id": "c", "name": "f", "client_side": True, "arguments": "{}", "response": "ok"}
        ],
    }


# --- strictness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            {"audio": {"input": {"encoding": "linear16", "sample_rate": 16000.0}}},
            "$.audio.input.sample_rate",
        ),
        ({"audio": {"output": {"bitrate": "48k"}}}, "$.audio.output.bitrate"),
        ({"agent": {"think": {"provider": {"type": "open_ai"}}}}, "$.agent.think.provider.model"),
        ({"agent": {"think": {"provider": {"model": "gpt-4o"}}}}, "$.agent.think.provider"),
        ({"agent": {"think": {"provider": "open_ai"}}}, "$.agent.think.provider"),
        ({"agent": {"think": {"prompt": "hi"}}}, "$.agent.think.provider"),
        ({"agent": {"think": {"provider": None}}}, "$.agent.think.provider"),
        ({"agent": {"speak": {"provider": None}}}, "$.agent.speak.provider"),
        (
            {"agent": {"think": [{"provider": {"type": "groq"}, "context_length": "min"}]}},
            "$.agent.think[0].context_length",
        ),
        (
            {"agent": {"speak": {"provider": {"type": "cartesia", "model_id": "sonic-2"}}}},
            "$.agent.speak.provider.voice",
        ),
        (
            {"agent": {"speak": [{"provider": {"type": "aws_polly", "voice": "Amy"}}]}},
            "$.agent.speak[0].provider.engine",
        ),
        (
            {"agent": {"listen": {"provider": {"type": "deepgram", "version": "v2"}}}},
            "$.agent.listen.provider.model",
        ),
        (
            {"agent": {"listen": {"provider": {"type": "deepgram", "keyterms": "x"}}}},
            "$.agent.listen.provider.keyterms",
        ),
        (
            {"agent": {"context": {"messages": [{"type": "History", "function_calls": [{}]}]}}},
            "$.agent.context.messages[0].function_calls[0]",
        ),
        ({"agent": 7}, "$.agent"),
        ({"tags": "solo"}, "$.tags"),
        ({"flags": {"history": "yes"}}, "$.flags.history"),
    ],
)
def test_malformed_settings_are_refused_with_a_path(body: dict[str, Any], where: str) -> None:
    frame = {"type": "Settings", "audio": {}, "agent": {}, **body}
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_client(json.dumps(frame))
    assert info.value.message_type == "Settings"
    assert any(where in error for error in info.value.errors), info.value.errors


def test_settings_needs_audio_and_agent() -> None:
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_client('{"type": "Settings", "agent": "id"}')
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_client('{"type": "Settings", "audio": {}}')


# --- the official SDK 5 names ------------------------------------------------------------
#
# The expected JSON below was produced by SDK 5.3.4 itself:
#   json.dumps(message.dict(exclude_unset=True, exclude_none=True))
# which is what its socket client sends.

SEED_EXAMPLE_JSON = (
    '{"type": "Settings", "audio": {"input": {"encoding": "linear16", "sample_rate": 44100}}, '
    '"agent": {"language": "en", "listen": {"provider": {"type": "deepgram", "model": "nova-3", '
    '"smart_format": true}}, "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini", '
    '"temperature": 0.7}, "prompt": "Reply only and explicitly with \\"OK\\"."}, "speak": '
    '{"provider": {"type": "deepgram", "model": "aura-2-asteria-en"}}}, "experimental": false, '
    '"mip_opt_out": false}'
)

SEED_FULL_JSON = (
    '{"type": "Settings", "audio": {"input": {"encoding": "linear16", "sample_rate": 24000}, '
    '"output": {"encoding": "linear16", "sample_rate": 24000, "container": "none"}}, "agent": '
    '{"language": "es", "context": {"messages": [{"type": "History", "role": "user", "content": '
    '"Hola"}, {"type": "History", "function_calls": [{"id": "c1", "name": "f", "client_side": '
    'true, "arguments": "{}", "response": "ok"}]}]}, "listen": {"provider": {"type": "deepgram", '
    '"model": "nova-3", "keyterms": ["Deepgram"], "smart_format": false}}, "think": {"provider": '
    '{"type": "anthropic", "model": "claude-3-5-haiku-latest", "temperature": 0.5}, "endpoint": '
    '{"url": "https://llm.example.com"}, "functions": [{"name": "get_weather", "description": '
    '"Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, '
    '"endpoint": {"url": "https://example.com/w", "headers": {"authorization": "Bearer x"}}}], '
    '"prompt": "Be brief.", "context_length": "max"}, "speak": [{"provider": {"type": '
    '"deepgram", "model": "aura-2-thalia-en"}}, {"provider": {"type": "eleven_labs", "model_id": '
    '"eleven_turbo_v2_5", "language_code": "en"}, "endpoint": {"url": '
    '"wss://api.elevenlabs.io/v1/x", "headers": {"xi-api-key": "k"}}}, {"provider": {"type": '
    '"cartesia", "model_id": "sonic-2", "voice": {"mode": "id", "id": "v1"}, "language": "en"}, '
    '"endpoint": {"url": "https://api.cartesia.ai/tts/bytes"}}, {"provider": {"type": "open_ai", '
    '"model": "tts-1", "voice": "alloy"}, "endpoint": {"url": '
    '"https://api.openai.com/v1/audio/speech"}}, {"provider": {"type": "aws_polly", "voice": '
    '"Joanna", "language_code": "en-US", "engine": "neural", "credentials": {"type": "iam", '
    '"region": "us-east-1", "access_key_id": "AK", "secret_access_key": "SK"}}, "endpoint": '
    '{"url": "https://polly.us-east-1.amazonaws.com/v1/speech"}}], "greeting": "Hi!"}, "tags": '
    '["a", "b"], "experimental": false, "flags": {"history": true}, "mip_opt_out": true}'
)


def test_seed_example_settings_encode_like_the_seed() -> None:
    # The SDK 5 README's agent example, with only its imports changed.
    settings_message = seed.AgentV1SettingsMessage(
        audio=seed.AgentV1AudioConfig(
            input=seed.AgentV1AudioInput(
                encoding="linear16",
                sample_rate=44100,
            )
        ),
        agent=seed.AgentV1Agent(
            listen=seed.AgentV1Listen(
                provider=seed.AgentV1ListenProvider(
                    type="deepgram",
                    model="nova-3",
                    smart_format=True,
                )
            ),
            think=seed.AgentV1Think(
                provider=seed.AgentV1OpenAiThinkProvider(
                    type="open_ai",
                    model="gpt-4o-mini",
                    temperature=0.7,
                ),
                prompt='Reply only and explicitly with "OK".',
            ),
            speak=seed.AgentV1SpeakProviderConfig(
                provider=seed.AgentV1DeepgramSpeakProvider(
                    type="deepgram",
                    model="aura-2-asteria-en",
                )
            ),
        ),
    )
    assert isinstance(settings_message, s.Settings)
    assert _wire(settings_message) == json.loads(SEED_EXAMPLE_JSON)
    assert "version" not in _wire(settings_message)["agent"]["listen"]["provider"]
    # What the test server sees: plain dgtrio classes, the same JSON.
    parsed = _reparse(settings_message)
    assert type(parsed) is s.Settings
    assert _wire(parsed) == json.loads(SEED_EXAMPLE_JSON)
    assert isinstance(parsed.agent, s.Agent)
    assert parsed.agent.listen is not None
    assert isinstance(parsed.agent.listen.provider, s.DeepgramListenProviderV1)


def test_seed_full_tree_encodes_like_the_seed() -> None:
    message = seed.AgentV1SettingsMessage(
        audio=seed.AgentV1AudioConfig(
            input=seed.AgentV1AudioInput(),
            output=seed.AgentV1AudioOutput(sample_rate=24000, container="none"),
        ),
        tags=["a", "b"],
        flags=seed.AgentV1Flags(),
        agent=seed.AgentV1Agent(
            language="es",
            context=seed.AgentV1Context(
                messages=[
                    seed.AgentV1HistoryMessage(role="user", content="Hola"),
                    seed.AgentV1HistoryFunctionCalls(
                        function_calls=[
                            seed.AgentV1FunctionCall(
                                id="c1", name="f", client_side=True, arguments="{}", response="ok"
                            )
                        ]
                    ),
                ]
            ),
            listen=seed.AgentV1Listen(
                provider=seed.AgentV1ListenProvider(model="nova-3", keyterms=["Deepgram"])
            ),
            think=seed.AgentV1Think(
                provider=seed.AgentV1AnthropicThinkProvider(
                    model="claude-3-5-haiku-latest", temperature=0.5
                ),
                functions=[
                    seed.AgentV1Function(
                        name="get_weather",
                        description="Weather",
                        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
                        endpoint=seed.AgentV1Endpoint(
                            url="https://example.com/w", headers={"authorization": "Bearer x"}
                        ),
                    )
                ],
                prompt="Be brief.",
                context_length="max",
                endpoint=seed.AgentV1Endpoint(url="https://llm.example.com"),
            ),
            speak=[
                seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1DeepgramSpeakProvider(model="aura-2-thalia-en")
                ),
                seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1ElevenLabsSpeakProvider(
                        model_id="eleven_turbo_v2_5", language_code="en"
                    ),
                    endpoint=seed.AgentV1Endpoint(
                        url="wss://api.elevenlabs.io/v1/x", headers={"xi-api-key": "k"}
                    ),
                ),
                seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1CartesiaSpeakProvider(
                        model_id="sonic-2",
                        voice=seed.AgentV1CartesiaVoice(mode="id", id="v1"),
                        language="en",
                    ),
                    endpoint=seed.AgentV1Endpoint(url="https://api.cartesia.ai/tts/bytes"),
                ),
                seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1OpenAiSpeakProvider(model="tts-1", voice="alloy"),
                    endpoint=seed.AgentV1Endpoint(url="https://api.openai.com/v1/audio/speech"),
                ),
                seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1AwsPollySpeakProvider(
                        voice="Joanna",
                        language_code="en-US",
                        engine="neural",
                        credentials=seed.AgentV1AwsCredentials(
                            type="iam",
                            region="us-east-1",
                            access_key_id="AK",
                            secret_access_key="SK",
                        ),
                    ),
                    endpoint=seed.AgentV1Endpoint(
                        url="https://polly.us-east-1.amazonaws.com/v1/speech"
                    ),
                ),
            ],
            greeting="Hi!",
        ),
        mip_opt_out=True,
    )
    assert _wire(message) == json.loads(SEED_FULL_JSON)
    assert _wire(_reparse(message)) == json.loads(SEED_FULL_JSON)


@pytest.mark.parametrize(
    ("think", "expected"),
    [
        (
            seed.AgentV1Think(
                provider=seed.AgentV1GoogleThinkProvider(model="gemini-2.0-flash", temperature=1.0)
            ),
            '{"provider": {"type": "google", "model": "gemini-2.0-flash", "temperature": 1.0}}',
        ),
        (
            seed.AgentV1Think(provider=seed.AgentV1GroqThinkProvider(model="openai/gpt-oss-20b")),
            '{"provider": {"type": "groq", "model": "openai/gpt-oss-20b"}}',
        ),
        (
            seed.AgentV1Think(
                provider=seed.AgentV1AwsBedrockThinkProvider(
                    model="anthropic/claude-3-5-haiku-20240307-v1:0",
                    credentials=seed.AgentV1AwsCredentials(
                        type="sts",
                        region="us-west-2",
                        access_key_id="A",
                        secret_access_key="S",
                        session_token="T",
                    ),
                ),
                context_length=4000,
            ),
            '{"provider": {"type": "aws_bedrock", "model": '
            '"anthropic/claude-3-5-haiku-20240307-v1:0", "credentials": {"type": "sts", '
            '"region": "us-west-2", "access_key_id": "A", "secret_access_key": "S", '
            '"session_token": "T"}}, "context_length": 4000}',
        ),
    ],
)
def test_seed_think_providers_encode_like_the_seed(think: s.ThinkSettings, expected: str) -> None:
    assert _wire(UpdateThink(think))["think"] == json.loads(expected)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            seed.AgentV1UpdateSpeakMessage(
                speak=seed.AgentV1SpeakProviderConfig(
                    provider=seed.AgentV1DeepgramSpeakProvider(model="aura-2-zeus-en")
                )
            ),
            '{"type": "UpdateSpeak", "speak": {"provider": {"type": "deepgram", "model": '
            '"aura-2-zeus-en"}}}',
        ),
        (
            seed.AgentV1UpdatePromptMessage(prompt="New prompt"),
            '{"type": "UpdatePrompt", "prompt": "New prompt"}',
        ),
        (
            seed.AgentV1InjectUserMessageMessage(content="Hello"),
            '{"type": "InjectUserMessage", "content": "Hello"}',
        ),
        (
            seed.AgentV1InjectAgentMessageMessage(message="One moment"),
            '{"type": "InjectAgentMessage", "message": "One moment"}',
        ),
        (
            seed.AgentV1FunctionCallResponseMessage(
                id="call_1", name="get_weather", content='{"t": 20}'
            ),
            '{"type": "FunctionCallResponse", "name": "get_weather", "content": "{\\"t\\": 20}", '
            '"id": "call_1"}',
        ),
        (seed.AgentV1ControlMessage(type="KeepAlive").to_message(), '{"type": "KeepAlive"}'),
    ],
)
def test_seed_client_messages_encode_like_the_seed(message: Any, expected: str) -> None:
    assert _wire(message) == json.loads(expected)
    assert _reparse(message) == message


def test_seed_listen_provider_defaults() -> None:
    provider = seed.AgentV1ListenProvider(type="deepgram", model="nova-3")
    assert CONVERTER.unstructure(provider) == {
        "type": "deepgram",
        "model": "nova-3",
        "smart_format": False,
    }
    assert isinstance(provider, s.DeepgramListenProviderV1)


def test_seed_control_and_media_messages() -> None:
    assert seed.AgentV1ControlMessage().to_message() == KeepAlive()
    assert seed.AgentV1MediaMessage(data=b"\x00\x01") == MediaMessage(b"\x00\x01")
    assert seed.AgentV1MediaMessage(bytearray(b"ab")).data == b"ab"


def test_seed_aliases_are_dgtrio_classes() -> None:
    assert seed.AgentV1Think is s.ThinkSettings
    assert seed.AgentV1SpeakProviderConfig is s.SpeakSettings
    assert seed.AgentV1HistoryMessage is seed.AgentV1HistoryFunctionCalls is s.History
    assert seed.AgentV1FunctionCallResponseMessage is FunctionCallResponse
    assert seed.AgentV1InjectAgentMessageMessage is InjectAgentMessage
    assert seed.AgentV1InjectUserMessageMessage is InjectUserMessage
    assert seed.AgentV1UpdatePromptMessage is UpdatePrompt
    assert issubclass(seed.AgentV1SettingsMessage, s.Settings)
    assert issubclass(seed.AgentV1Agent, s.Agent)
    for name in seed.__all__:
        assert getattr(seed, name) is not None


# --- property-based round trips ---------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=10)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
_THINK_TYPES = {"open_ai", "anthropic", "google", "groq", "aws_bedrock", "deepgram"}
_SPEAK_TYPES = {"deepgram", "eleven_labs", "cartesia", "open_ai", "aws_polly"}


def _extras(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    taken = {f.name for f in attrs.fields(cls)} | {"type"}
    keys = TEXT.filter(lambda k: k not in taken)
    return st.dictionaries(keys, JSON_VALUES, max_size=2)


def _for_type(tp: Any) -> st.SearchStrategy[Any]:
    if tp is str:
        return TEXT
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(2**31), 2**31)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is type(None):
        return st.none()
    if tp is Any:
        return JSON_VALUES
    if isinstance(tp, type) and attrs.has(tp):
        return st.deferred(lambda: _for_class(tp))
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(_for_type(args[0]), max_size=2).map(tuple)
    if origin in (dict, Mapping):
        return st.dictionaries(TEXT, _for_type(args[1]), max_size=2)
    if args:  # a union
        return st.one_of([_for_type(arg) for arg in args])
    raise NotImplementedError(tp)


_SPECIAL: dict[type, st.SearchStrategy[Any]] = {}


def _for_class(cls: type) -> st.SearchStrategy[Any]:
    if cls in _SPECIAL:
        return _SPECIAL[cls]
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.metadata.get(EXTRAS):
            fields[field.name] = _extras(cls)
        else:
            fields[field.name] = _for_type(hints[field.name])
    return st.builds(cls, **fields)


_SPECIAL[s.GenericThinkProvider] = st.builds(
    s.GenericThinkProvider,
    TEXT.filter(lambda t: t not in _THINK_TYPES),
    extra_fields=_extras(s.GenericThinkProvider),
)
_SPECIAL[s.GenericSpeakProvider] = st.builds(
    s.GenericSpeakProvider,
    TEXT.filter(lambda t: t not in _SPEAK_TYPES),
    extra_fields=_extras(s.GenericSpeakProvider),
)
_SPECIAL[s.GenericListenProvider] = st.one_of(
    st.builds(
        s.GenericListenProvider,
        st.none() | TEXT.filter(lambda t: t != "deepgram"),
        st.none() | TEXT,
        extra_fields=_extras(s.GenericListenProvider),
    ),
    st.builds(
        s.GenericListenProvider,
        st.just("deepgram"),
        TEXT.filter(lambda v: v not in ("v1", "v2")),
        extra_fields=_extras(s.GenericListenProvider),
    ),
)


@SETTINGS
@given(_for_class(s.Settings))
def test_settings_round_trip(message: s.Settings) -> None:
    text = SCHEMA.serialize(message)
    parsed = SCHEMA.parse_client(text)
    assert parsed == message
    # The detailed (cattrs) path agrees with the fast path.
    assert CONVERTER.structure(json.loads(text), s.Settings) == message
    assert SCHEMA.serialize(parsed) == text


@SETTINGS
@given(
    st.one_of(
        _for_class(UpdateSpeak),
        _for_class(UpdateThink),
        _for_class(UpdateThinkLive),
        _for_class(UpdateListen),
    )
)
def test_settings_bearing_messages_round_trip(message: Any) -> None:
    assert _reparse(message) == message


@SETTINGS
@given(_for_class(s.Settings))
def test_seed_subclasses_encode_like_their_bases(message: s.Settings) -> None:
    # Rebuilding the top of the tree with SDK 5's classes changes nothing but the class.
    as_seed = seed.AgentV1SettingsMessage(
        audio=message.audio,
        agent=message.agent,
        tags=message.tags,
        experimental=message.experimental,
        mip_opt_out=message.mip_opt_out,
        flags=message.flags,
        extra_fields=message.extra_fields,
    )
    assert _wire(as_seed) == _wire(message)


def _each(union: Any) -> st.SearchStrategy[Any]:
    """Every member of a provider union equally often."""
    return st.one_of([_for_class(member) for member in get_args(union)])


@SETTINGS
@given(
    st.one_of(
        st.builds(UpdateThink, st.builds(s.ThinkSettings, _each(s.ThinkProvider))),
        st.builds(UpdateSpeak, st.builds(s.SpeakSettings, _each(s.SpeakProvider))),
        st.builds(UpdateListen, st.builds(s.ListenSettings, _each(s.ListenProvider))),
    )
)
def test_every_provider_round_trips(message: Any) -> None:
    text = SCHEMA.serialize(message)
    assert SCHEMA.parse_client(text) == message
    assert SCHEMA.serialize(SCHEMA.parse_client(text)) == text
