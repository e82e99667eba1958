"""Messages of /v1/speak: fixtures, both Warning spellings, round trips, seed classes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio._codec import UnknownMessage
from dgtrio._errors import MessageDecodeError
from dgtrio.speak.v1 import _messages as m
from dgtrio.speak.v1._messages import (
    SCHEMA,
    Clear,
    Cleared,
    Close,
    Error,
    Flush,
    Flushed,
    Metadata,
    Speak,
    SpeakV1ControlMessage,
    SpeakV1TextMessage,
    Warning,
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


FIXTURES = _fixture_dir("speak-v1")
FIXTURE_FILES = sorted(FIXTURES.glob("*.json")) if FIXTURES else []


# --- fixtures ---------------------------------------------------------------------


def test_fixture_folder_found() -> None:
    if FIXTURES is None:
        pytest.skip("fixture folder speak-v1 not found (set DGTRIO_FIXTURES)")
    assert len(FIXTURE_FILES) >= 9


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_parses_to_its_class(path: Path) -> None:
    expected = getattr(m, path.name.split("-")[0])
    text = path.read_text()
    message = SCHEMA.parse_server(text)
    assert type(message) is expected
    assert SCHEMA.parse_server(SCHEMA.serialize(message)) == message
    captured = json.loads(text)
    encoded = json.loads(SCHEMA.serialize(message))
    assert {k: encoded.get(k) for k in captured} == captured


def test_metadata_capture() -> None:
    message = SCHEMA.parse_server(
        '{"type":"Metadata","request_id":"5c9ad493-468c-47ba-8548-78bb57a0a628",'
        '"model_name":"aura-asteria-en","model_version":"2024-11-19.0",'
        '"model_uuid":"ecb76e9d-f2db-4127-8060-79b05590d22f"}'
    )
    assert message == Metadata(
        request_id="5c9ad493-468c-47ba-8548-78bb57a0a628",
        model_name="aura-asteria-en",
        model_version="2024-11-19.0",
        model_uuid="ecb76e9d-f2db-4127-8060-79b05590d22f",
    )
    with_more = SCHEMA.parse_server(
        '{"type":"Metadata","request_id":"r","additional_model_uuids":["a","b"]}'
    )
    assert isinstance(with_more, Metadata)
    assert with_more.additional_model_uuids == ("a", "b")


def test_flushed_and_cleared_are_distinct_classes() -> None:
    # The official SDK parses Cleared as its Flushed class; dgtrio dispatches on the tag.
    assert SCHEMA.parse_server('{"type":"Flushed","sequence_id":0}') == Flushed(0)
    assert SCHEMA.parse_server('{"type":"Cleared","sequence_id":3}') == Cleared(3)
    assert Flushed(0) != Cleared(0)  # type: ignore[comparison-overlap]


# --- Warning and Error: both spellings ------------------------------------------------------


def test_warning_as_captured_uses_warn_code_and_warn_msg() -> None:
    message = SCHEMA.parse_server(
        '{"type": "Warning", "warn_code": "EXCESSIVE_FLUSH",'
        ' "warn_msg": "Rate limit exceeded for flushes. Please try again later."}'
    )
    assert isinstance(message, Warning)
    assert message.code is None
    assert message.warn_code == "EXCESSIVE_FLUSH"
    assert message.effective_code == "EXCESSIVE_FLUSH"
    assert message.effective_description == (
        "Rate limit exceeded for flushes. Please try again later."
    )
    assert str(message) == (
        "EXCESSIVE_FLUSH: Rate limit exceeded for flushes. Please try again later."
    )


def test_warning_in_spec_spelling() -> None:
    message = SCHEMA.parse_server(
        '{"type":"Warning","code":"EXCESSIVE_FLUSH","description":"slow down"}'
    )
    assert message == Warning(code="EXCESSIVE_FLUSH", description="slow down")
    assert isinstance(message, Warning)
    assert message.effective_code == "EXCESSIVE_FLUSH"
    assert message.effective_description == "slow down"
    assert message.warn_code is None


def test_warning_prefers_spec_spelling_and_tolerates_neither() -> None:
    both = Warning(code="A", description="a", warn_code="B", warn_msg="b")
    assert (both.effective_code, both.effective_description) == ("A", "a")
    mixed = Warning(description="only text", warn_code="ONLY_CODE")
    assert (mixed.effective_code, mixed.effective_description) == ("ONLY_CODE", "only text")
    empty = SCHEMA.parse_server('{"type":"Warning"}')
    assert empty == Warning()
    assert isinstance(empty, Warning)
    assert empty.effective_code is None
    assert str(empty) == "Warning"
    assert str(Warning(warn_msg="no code:")) == "no code:"


def test_warning_round_trips_in_the_spelling_it_was_built_with() -> None:
    legacy = Warning(warn_code="X", warn_msg="y")
    assert json.loads(SCHEMA.serialize(legacy)) == {
        "type": "Warning",
        "warn_code": "X",
        "warn_msg": "y",
    }
    spec = Warning(code="X", description="y")
    assert json.loads(SCHEMA.serialize(spec)) == {
        "type": "Warning",
        "code": "X",
        "description": "y",
    }


def test_error_shapes() -> None:
    mock = SCHEMA.parse_server(
        '{"type": "Error", "err_code": "RATE_LIMIT", "err_msg": "Rate limit exceeded."}'
    )
    assert isinstance(mock, Error)
    assert (mock.effective_code, mock.effective_description) == (
        "RATE_LIMIT",
        "Rate limit exceeded.",
    )
    assert str(mock) == "RATE_LIMIT: Rate limit exceeded."
    spec = SCHEMA.parse_server(
        '{"type":"Error","code":"DATA-0000","description":"bad","request_id":"r"}'
    )
    assert isinstance(spec, Error)
    assert (spec.effective_code, spec.effective_description, spec.request_id) == (
        "DATA-0000",
        "bad",
        "r",
    )


# --- unknown and malformed --------------------------------------------------------------------


def test_unknown_types_become_unknown_messages() -> None:
    # The old asyncapi's lowercase control replies are not real tags.
    for tag in ("flush", "Audio", "errorResponse"):
        message = SCHEMA.parse_server(json.dumps({"type": tag, "sequence_id": 1}))
        assert message == UnknownMessage(tag, {"type": tag, "sequence_id": 1})
    untagged = SCHEMA.parse_server('{"err_code":"X"}')
    assert isinstance(untagged, UnknownMessage)
    assert untagged.type is None


@pytest.mark.parametrize(
    ("frame", "path"),
    [
        ('{"type":"Flushed"}', "required field missing @ $.sequence_id"),
        ('{"type":"Flushed","sequence_id":"0"}', "@ $.sequence_id"),
        ('{"type":"Cleared","sequence_id":0.5}', "@ $.sequence_id"),
        ('{"type":"Metadata","model_name":"x"}', "required field missing @ $.request_id"),
        (
            '{"type":"Metadata","request_id":"r","additional_model_uuids":"u"}',
            "@ $.additional_model_uuids",
        ),
        ('{"type":"Warning","warn_code":429}', "@ $.warn_code"),
        ('{"type":"Error","err_msg":["x"]}', "@ $.err_msg"),
    ],
)
def test_malformed_known_messages_raise_with_paths(frame: str, path: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_server(frame)
    assert info.value.message_type == json.loads(frame)["type"]
    assert any(path in line for line in info.value.errors), info.value.errors


# --- client messages and seed classes -----------------------------------------------------------


def test_client_messages_serialize() -> None:
    assert json.loads(SCHEMA.serialize(Speak("Hello."))) == {"type": "Speak", "text": "Hello."}
    for cls in (Flush, Clear, Close):
        assert json.loads(SCHEMA.serialize(cls())) == {"type": cls.type}
    frame = SCHEMA.serialize(Speak("x"))
    assert frame.startswith('{"type":"Speak"')


def test_client_frames_parse_with_the_same_schema() -> None:
    assert SCHEMA.parse_client('{"type":"Speak","text":"hi"}') == Speak("hi")
    assert SCHEMA.parse_client('{"type":"Flush"}') == Flush()
    assert SCHEMA.parse_client('{"type":"Clear"}') == Clear()
    assert SCHEMA.parse_client('{"type":"Close"}') == Close()
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_client('{"type":"Speak"}')
    assert any("$.text" in line for line in info.value.errors)
    assert isinstance(SCHEMA.parse_client('{"type":"KeepAlive"}'), UnknownMessage)


def test_seed_text_message() -> None:
    for seed in (SpeakV1TextMessage(text="x"), SpeakV1TextMessage(type="Speak", text="x")):
        assert json.loads(SCHEMA.serialize(seed)) == {"type": "Speak", "text": "x"}
        assert SCHEMA.serialize(seed) == SCHEMA.serialize(Speak("x"))
        assert seed.to_message() == Speak("x")
    with pytest.raises(ValueError, match="type"):
        SpeakV1TextMessage(type="Flush", text="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "cls"), [("Flush", Flush), ("Clear", Clear), ("Close", Close)])
def test_seed_control_message(kind: Any, cls: type) -> None:
    seed = SpeakV1ControlMessage(type=kind)
    assert seed.to_message() == cls()
    assert json.loads(SCHEMA.serialize(seed)) == {"type": kind}


def test_seed_control_message_rejects_other_types() -> None:
    with pytest.raises(ValueError, match="type"):
        SpeakV1ControlMessage(type="Speak")  # type: ignore[arg-type]


# --- round trips -------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
maybe_text = st.none() | text
ints = st.integers(min_value=-(2**53), max_value=2**53)

server_messages = st.one_of(
    st.builds(
        Metadata,
        text,
        text,
        text,
        text,
        st.none() | st.lists(text, max_size=3).map(tuple),
    ),
    st.builds(Flushed, ints),
    st.builds(Cleared, ints),
    st.builds(Warning, maybe_text, maybe_text, maybe_text, maybe_text),
    st.builds(Error, maybe_text, maybe_text, maybe_text, maybe_text, maybe_text),
)
client_messages = st.one_of(
    st.builds(Speak, text), st.just(Flush()), st.just(Clear()), st.just(Close())
)


@SETTINGS
@given(server_messages)
def test_server_messages_round_trip(message: object) -> None:
    assert SCHEMA.parse_server(SCHEMA.serialize(message)) == message


@SETTINGS
@given(client_messages)
def test_client_messages_round_trip(message: object) -> None:
    assert SCHEMA.parse_client(SCHEMA.serialize(message)) == message


def test_schema_lists_every_class() -> None:
    assert set(SCHEMA.server_classes) == {Metadata, Flushed, Cleared, Warning, Error}
    assert set(SCHEMA.client_classes) == {Speak, Flush, Clear, Close}
