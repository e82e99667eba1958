"""Messages of the agent socket: every fixture, legacy shapes, round trips, strictness."""

from __future__ import annotations

import contextlib
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

from dgtrio._codec import EXTRAS, UnknownMessage
from dgtrio._common import AudioChunk
from dgtrio._errors import MessageDecodeError
from dgtrio.agent.v1 import _messages as m
from dgtrio.agent.v1 import _seed as seed
from dgtrio.agent.v1._messages import (
    SCHEMA,
    AgentStartedSpeaking,
    ConversationText,
    Error,
    FunctionCall,
    FunctionCallRequest,
    FunctionCallResponse,
    History,
    InjectAgentMessage,
    Warning,
    Welcome,
)
from dgtrio.agent.v1._settings import Settings

SETTINGS = settings(max_examples=40, deadline=None)


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
FIXTURE_FILES = sorted(FIXTURES.glob("*.json")) if FIXTURES else []

#: Fixtures that are not a modelled server message, and what they parse to.
SPECIAL = {
    # Written by SDK 4's to_dict, which dropped "type".
    "AgentStartedSpeaking-1.json": None,
    "AgentStartedSpeaking-2.json": None,
    # Undocumented, gone since August 2025: delivered as an unknown message.
    "EndOfThought-1.json": "EndOfThought",
}


def _fixture(name: str) -> str:
    if FIXTURES is None:
        pytest.skip("fixture folder agent-v1 not found (set DGTRIO_FIXTURES)")
    return (FIXTURES / name).read_text()


# --- fixtures ------------------------------------------------------------------------


def test_fixture_folder_found() -> None:
    if FIXTURES is None:
        pytest.skip("fixture folder agent-v1 not found (set DGTRIO_FIXTURES)")
    assert len(FIXTURE_FILES) >= 46


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_parses(path: Path) -> None:
    text = path.read_text()
    name = path.name.split("-")[0]
    message: Any
    if name == "Settings":
        message = SCHEMA.parse_client(text)
        expected: type = Settings if path.name != "Settings-3.json" else UnknownMessage
    elif path.name in SPECIAL:
        message = SCHEMA.parse_server(text)
        assert isinstance(message, UnknownMessage)
        assert message.type == SPECIAL[path.name]
        assert message.raw == json.loads(text)
        return
    else:
        message = SCHEMA.parse_server(text)
        expected = getattr(m, name)
    assert type(message) is expected
    if isinstance(message, UnknownMessage):
        return
    reparse = SCHEMA.parse_client if name == "Settings" else SCHEMA.parse_server
    assert reparse(SCHEMA.serialize(message)) == message
    # Everything the capture said is said again (defaults may be added).
    captured = json.loads(text)
    encoded = json.loads(SCHEMA.serialize(message))
    ignored = (
        {"function_name", "function_call_id", "input"} if name == "FunctionCallRequest" else set()
    )
    assert {k: encoded.get(k) for k in captured if k not in ignored} == {
        k: v for k, v in captured.items() if k not in ignored
    }


def test_sdk4_frames_without_type_parse_once_tagged() -> None:
    raw = json.loads(_fixture("AgentStartedSpeaking-1.json"))
    message = SCHEMA.parse_server(json.dumps({"type": "AgentStartedSpeaking", **raw}))
    assert message == AgentStartedSpeaking(
        total_latency=0.834087238, tts_latency=0.305673514, ttt_latency=0.528413404
    )


def test_welcome_current_and_legacy() -> None:
    current = SCHEMA.parse_server(_fixture("Welcome-2.json"))
    assert current == Welcome(request_id="ba5e6d59-c4f2-4701-8360-dd25a2bc47e9")
    assert current.id == "ba5e6d59-c4f2-4701-8360-dd25a2bc47e9"
    legacy = SCHEMA.parse_server(_fixture("Welcome-4.json"))
    assert isinstance(legacy, Welcome)
    assert legacy.request_id == ""
    assert legacy.session_id == "fc553ec9-5874-49ca-a47c-b670d525a4b1"
    assert legacy.id == "fc553ec9-5874-49ca-a47c-b670d525a4b1"


def test_error_shapes() -> None:
    current = SCHEMA.parse_server(_fixture("Error-1.json"))
    assert current == Error(
        description="Text message received from client did not match any of the formats we expect.",
        code="UNPARSABLE_CLIENT_MESSAGE",
    )
    sdk4 = SCHEMA.parse_server(_fixture("Error-4.json"))
    assert isinstance(sdk4, Error)
    assert sdk4.code is None
    assert sdk4.message == ""
    assert sdk4.text.startswith("Error parsing client message.")
    legacy = SCHEMA.parse_server(_fixture("Error-8.json"))
    assert isinstance(legacy, Error)
    assert legacy.description == ""
    assert legacy.code is None
    assert (
        legacy.text
        == "Text message received from client did not match any of the formats we expect."
    )


def test_warning() -> None:
    assert SCHEMA.parse_server(_fixture("Warning-1.json")) == Warning(
        description="Audio quality is below recommended threshold", code="AUDIO_QUALITY_WARNING"
    )


def test_conversation_text_behavior_defaults_to_default() -> None:
    message = SCHEMA.parse_server(_fixture("ConversationText-2.json"))
    assert message == ConversationText(role="user", content="")
    assert message.conversational_behavior == "default"
    multi = SCHEMA.parse_server(
        '{"type":"ConversationText","role":"user","content":"Hola","conversational_behavior":'
        '"default","languages_hinted":["es","en"],"languages":["es"]}'
    )
    assert isinstance(multi, ConversationText)
    assert multi.languages == ("es",)
    assert multi.languages_hinted == ("es", "en")


def test_function_call_request_and_arguments() -> None:
    message = SCHEMA.parse_server(_fixture("FunctionCallRequest-3.json"))
    assert isinstance(message, FunctionCallRequest)
    (call,) = message.functions
    assert call == FunctionCall(
        id="call_C2G4dr6K2zWSDFrayoZj0hAA",
        name="end_call",
        arguments='{"reason":"customer said goodbye"}',
        client_side=True,
    )
    assert call.parse_arguments() == {"reason": "customer said goodbye"}
    empty = SCHEMA.parse_server(_fixture("FunctionCallRequest-1.json"))
    assert isinstance(empty, FunctionCallRequest)
    assert empty.functions[0].parse_arguments() == {}
    assert FunctionCall("i", "n", "", True).parse_arguments() == {}


def test_gemini_thought_signature() -> None:
    message = SCHEMA.parse_server(
        '{"type":"FunctionCallRequest","functions":[{"id":"a","name":"f","arguments":"{}",'
        '"client_side":true,"thought_signature":"c2ln"}]}'
    )
    assert isinstance(message, FunctionCallRequest)
    assert message.functions[0].thought_signature == "c2ln"


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"', "3"])
def test_bad_function_arguments_raise_decode_error(arguments: str) -> None:
    call = FunctionCall("id", "lookup", arguments, True)
    with pytest.raises(MessageDecodeError) as info:
        call.parse_arguments()
    assert info.value.raw == arguments
    assert "lookup" in str(info.value)


def test_legacy_function_call_request() -> None:
    message = SCHEMA.parse_server(_fixture("FunctionCallRequest-5.json"))
    assert isinstance(message, FunctionCallRequest)
    assert message.functions == ()
    assert message.function_name == "get_weather"
    assert message.function_call_id == "fc_12345678-90ab-cdef-1234-567890abcdef"
    assert message.input == {"location": "Fremont, CA 94539"}


def test_server_function_call_response_id_is_optional() -> None:
    with_id = SCHEMA.parse_server(_fixture("FunctionCallResponse-1.json"))
    assert isinstance(with_id, FunctionCallResponse)
    assert with_id.id == "fc_12345678-90ab-cdef-1234-567890abcdef"
    without = SCHEMA.parse_server('{"type":"FunctionCallResponse","name":"f","content":"ok"}')
    assert without == FunctionCallResponse(name="f", content="ok")
    # The client sends the same shape.
    assert SCHEMA.parse_client(SCHEMA.serialize(with_id)) == with_id


def test_history_conversation_shape() -> None:
    message = SCHEMA.parse_server(_fixture("History-1.json"))
    assert message == History(role="user", content="Yes.")
    assert isinstance(message, History)
    assert message.is_conversation
    assert not message.is_function_calls


def test_history_function_call_shape_batches_calls() -> None:
    message = SCHEMA.parse_server(_fixture("History-5.json"))
    assert isinstance(message, History)
    assert message.is_function_calls
    assert message.role is None
    assert message.function_calls is not None
    assert [c.name for c in message.function_calls] == ["get_current_time", "check_business_status"]
    assert all(c.client_side is False for c in message.function_calls)
    first = message.function_calls[0]
    assert json.loads(first.response)["timezone"] == "Europe/London"


def test_history_events_seed_a_new_context() -> None:
    events = [SCHEMA.parse_server(_fixture(f"History-{n}.json")) for n in (1, 2, 3)]
    assert all(isinstance(e, History) for e in events)
    settings_message = SCHEMA.parse_client(
        json.dumps(
            {
                "type": "Settings",
                "audio": {},
                "agent": {
                    "context": {
                        "messages": [json.loads(_fixture(f"History-{n}.json")) for n in (1, 2, 3)]
                    }
                },
            }
        )
    )
    assert isinstance(settings_message, Settings)
    assert not isinstance(settings_message.agent, str)
    assert settings_message.agent.context is not None
    assert settings_message.agent.context.messages == tuple(events)


def test_unknown_and_undocumented_types() -> None:
    end = SCHEMA.parse_server(_fixture("EndOfThought-1.json"))
    assert end == UnknownMessage("EndOfThought", {"type": "EndOfThought"})
    weird = SCHEMA.parse_server('{"type": ["History"], "role": "user"}')
    assert isinstance(weird, UnknownMessage)
    assert weird.type is None


def test_custom_think_provider_payloads() -> None:
    inbound = SCHEMA.parse_server('{"type":"__customFromThinkProvider","content":{"a":[1,2]}}')
    assert inbound == m.CustomFromThinkProvider({"a": [1, 2]})
    outbound = m.CustomToThinkProvider(["anything", 1])
    assert json.loads(SCHEMA.serialize(outbound)) == {
        "type": "__customToThinkProvider",
        "content": ["anything", 1],
    }


def test_client_messages_on_the_wire() -> None:
    def wire(message: Any) -> Any:
        return json.loads(SCHEMA.serialize(message))

    assert wire(m.UpdatePrompt("Be terse.")) == {"type": "UpdatePrompt", "prompt": "Be terse."}
    assert wire(m.InjectUserMessage("hi")) == {"type": "InjectUserMessage", "content": "hi"}
    assert wire(InjectAgentMessage("Hold on", behavior="queue")) == {
        "type": "InjectAgentMessage",
        "message": "Hold on",
        "behavior": "queue",
    }
    assert wire(InjectAgentMessage(is_dynamic=True, behavior="interrupt")) == {
        "type": "InjectAgentMessage",
        "behavior": "interrupt",
        "is_dynamic": True,
    }
    assert wire(FunctionCallResponse(id="call_1", name="f", content="{}")) == {
        "type": "FunctionCallResponse",
        "id": "call_1",
        "name": "f",
        "content": "{}",
    }
    assert wire(m.KeepAlive()) == {"type": "KeepAlive"}
    assert wire(m.ForceEndTurn()) == {"type": "ForceEndTurn"}


def test_schema_covers_every_message_class() -> None:
    tags = {cls.type for cls in SCHEMA.server_classes}  # type: ignore[attr-defined]
    assert tags == {
        "Welcome", "SettingsApplied", "ConversationText", "UserStartedSpeaking", "AgentThinking",
        "FunctionCallRequest", "FunctionCallResponse", "FunctionCallCancelled",
        "AgentStartedSpeaking", "AgentAudioDone", "PromptUpdated", "SpeakUpdated", "ThinkUpdated",
        "ThinkLiveUpdated", "ListenUpdated", "InjectionRefused", "LatencyReport",
        "FrustrationDetected", "History", "__customFromThinkProvider", "Error", "Warning",
    }  # fmt: skip
    client_tags = {cls.type for cls in SCHEMA.client_classes}  # type: ignore[attr-defined]
    assert client_tags == {
        "Settings", "UpdatePrompt", "UpdateSpeak", "UpdateThink", "UpdateThink_Live",
        "UpdateListen", "InjectUserMessage", "InjectAgentMessage", "FunctionCallResponse",
        "KeepAlive", "ForceEndTurn", "__customToThinkProvider",
    }  # fmt: skip


def test_event_union_includes_audio_and_unknown() -> None:
    members = set(get_args(m.AgentV1Event))
    assert AudioChunk in members
    assert UnknownMessage in members
    assert set(SCHEMA.server_classes) <= members
    assert set(SCHEMA.client_classes) == set(get_args(m.AgentV1ClientMessage))
    assert seed.AgentV1SocketClientResponse == m.AgentV1Event


# --- strictness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "where"),
    [
        ('{"type":"Welcome","request_id":5}', "$.request_id"),
        ('{"type":"ConversationText","role":"user"}', "$.content"),
        ('{"type":"ConversationText","role":1,"content":"x"}', "$.role"),
        ('{"type":"AgentThinking"}', "$.content"),
        ('{"type":"FunctionCallRequest","functions":[{"id":"x"}]}', "$.functions[0]"),
        ('{"type":"FunctionCallRequest","functions":{"id":"x"}}', "$.functions"),
        (
            '{"type":"FunctionCallRequest","functions":[{"id":"a","name":"f","arguments":{},'
            '"client_side":true}]}',
            "$.functions[0].arguments",
        ),
        (
            '{"type":"AgentStartedSpeaking","total_latency":"1","tts_latency":1,"ttt_latency":1}',
            "$.total_latency",
        ),
        ('{"type":"LatencyReport","stt_latency":"fast"}', "$.stt_latency"),
        ('{"type":"FrustrationDetected","count":1.5}', "$.count"),
        ('{"type":"History","function_calls":[{"id":"a"}]}', "$.function_calls[0]"),
        ('{"type":"History","role":["user"]}', "$.role"),
        ('{"type":"Error","code":500}', "$.code"),
        ('{"type":"FunctionCallCancelled","functions":[{"name":"f"}]}', "$.functions[0].id"),
    ],
)
def test_malformed_server_messages_are_refused(frame: str, where: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_server(frame)
    assert info.value.message_type == json.loads(frame)["type"]
    assert info.value.raw == frame
    assert any(where in error for error in info.value.errors), info.value.errors


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"InjectAgentMessage","message":"hi","behavior":"shout"}',
        '{"type":"UpdatePrompt"}',
        '{"type":"UpdateSpeak","speak":"aura"}',
        '{"type":"UpdateThink","think":[{"prompt":"x"}]}',
        '{"type":"UpdateThink_Live","think_live":{"provider":{"frustration_max_count":"3"}}}',
        '{"type":"FunctionCallResponse","id":"a","name":"f"}',
        '{"type":"InjectUserMessage","content":null}',
    ],
)
def test_malformed_client_messages_are_refused(frame: str) -> None:
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_client(frame)


@pytest.mark.parametrize("frame", ["not json", "[1, 2]", '"Welcome"', "", "{"])
def test_frames_that_are_not_objects(frame: str) -> None:
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_server(frame)
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_client(frame)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["type", "functions", "role", "content", "function_calls", "code", "request_id"]
        ),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(max_size=5)
            | st.sampled_from([cls.type for cls in SCHEMA.server_classes]),  # type: ignore[attr-defined]
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_arbitrary_objects_never_raise_anything_else(obj: dict[str, Any]) -> None:
    with contextlib.suppress(MessageDecodeError):
        SCHEMA.parse_server(json.dumps(obj))


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
        return _for_class(tp)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(_for_type(args[0]), max_size=3).map(tuple)
    if origin in (dict, Mapping):
        return st.dictionaries(TEXT, _for_type(args[1]), max_size=3)
    if args:  # a union
        return st.one_of([_for_type(arg) for arg in args])
    raise NotImplementedError(tp)


def _extras(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    taken = {f.name for f in attrs.fields(cls)} | {"type"}
    keys = TEXT.filter(lambda k: k not in taken)
    return st.dictionaries(keys, JSON_VALUES, max_size=2)


def _for_class(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.metadata.get(EXTRAS):
            fields[field.name] = _extras(cls)
        else:
            fields[field.name] = _for_type(hints[field.name])
    return st.builds(cls, **fields)


# Settings and the Update* messages that carry settings are covered, provider
# unions included, by tests/test_agent_settings.py.
_SETTINGS_BEARING = {"Settings", "UpdateSpeak", "UpdateThink", "UpdateThink_Live", "UpdateListen"}
SERVER = list(SCHEMA.server_classes)
CLIENT = [cls for cls in SCHEMA.client_classes if cls.type not in _SETTINGS_BEARING]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", SERVER, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_server_messages_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(_for_class(cls))
    text = SCHEMA.serialize(message)
    assert json.loads(text)["type"] == cls.type  # type: ignore[attr-defined]
    assert SCHEMA.parse_server(text) == message
    assert SCHEMA.serialize(SCHEMA.parse_server(text)) == text


@pytest.mark.parametrize("cls", CLIENT, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_client_messages_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(_for_class(cls))
    text = SCHEMA.serialize(message)
    assert SCHEMA.parse_client(text) == message
