"""Messages of /v2/listen (Flux): fixtures, round trips, strictness, seed classes."""

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
from dgtrio.listen.v2 import _messages as m
from dgtrio.listen.v2._messages import (
    SCHEMA,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    Error,
    ForceEndTurn,
    ListenV2ControlMessage,
    Thresholds,
    TurnEvent,
    TurnInfo,
    TurnTrigger,
    TurnWord,
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


FIXTURES = _fixture_dir("listen-v2")
FIXTURE_FILES = sorted(FIXTURES.glob("*.json")) if FIXTURES else []


# --- fixtures ---------------------------------------------------------------------


def test_fixture_folder_found() -> None:
    if FIXTURES is None:
        pytest.skip("fixture folder listen-v2 not found (set DGTRIO_FIXTURES)")
    assert len(FIXTURE_FILES) >= 14


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_parses_to_its_class(path: Path) -> None:
    expected = getattr(m, path.name.split("-")[0])
    text = path.read_text()
    message = SCHEMA.parse_server(text)
    assert type(message) is expected
    # Decoding the re-encoded message gives the same message back.
    assert SCHEMA.parse_server(SCHEMA.serialize(message)) == message
    # Every field the capture holds is modelled (nothing is lost on re-encoding).
    captured = json.loads(text)
    encoded = json.loads(SCHEMA.serialize(message))
    assert {k: encoded.get(k) for k in captured} == captured


def test_configure_success_capture_details() -> None:
    frame = (
        '{"type":"ConfigureSuccess","request_id":"019f4c80-a061-72f2-9780-89f9950b1adb",'
        '"thresholds":{"eot_threshold":0.8,"eager_eot_threshold":0.5,"eot_timeout_ms":5000},'
        '"keyterms":["Deepgram"],"profanity_filter":false,"sequence_id":9}'
    )
    message = SCHEMA.parse_server(frame)
    assert message == ConfigureSuccess(
        sequence_id=9,
        request_id="019f4c80-a061-72f2-9780-89f9950b1adb",
        thresholds=Thresholds(eager_eot_threshold=0.5, eot_threshold=0.8, eot_timeout_ms=5000),
        keyterms=("Deepgram",),
        profanity_filter=False,
    )
    assert isinstance(message, ConfigureSuccess)
    assert message.keyterm_list == ("Deepgram",)
    assert message.language_hints is None


def test_configure_success_accepts_a_single_keyterm_string() -> None:
    message = SCHEMA.parse_server(
        '{"type":"ConfigureSuccess","sequence_id":3,"thresholds":{},"keyterms":"Flux",'
        '"language_hints":["en","de"],"numerals":true}'
    )
    assert isinstance(message, ConfigureSuccess)
    assert message.keyterms == "Flux"
    assert message.keyterm_list == ("Flux",)
    assert message.language_hints == ("en", "de")
    assert message.numerals is True
    assert ConfigureSuccess(sequence_id=1).keyterm_list == ()


def test_turn_info_end_of_turn_without_and_with_trigger() -> None:
    base: dict[str, Any] = {
        "type": "TurnInfo",
        "request_id": "r",
        "event": "EndOfTurn",
        "turn_index": 0,
        "audio_window_start": 0.0,
        "audio_window_end": 1.0,
        "transcript": "Hi.",
        "words": [{"word": "Hi.", "confidence": 0.9}],
        "end_of_turn_confidence": 0.95,
        "sequence_id": 5,
    }
    old = SCHEMA.parse_server(json.dumps(base))
    assert isinstance(old, TurnInfo)
    assert old.trigger is None
    assert old.is_end_of_turn
    assert old.words == (TurnWord("Hi.", 0.9),)  # start/end are optional
    new = SCHEMA.parse_server(json.dumps({**base, "trigger": "manual"}))
    assert isinstance(new, TurnInfo)
    assert new.trigger == TurnTrigger.MANUAL


def test_open_enums_compare_with_strings() -> None:
    wire: str = "EndOfTurn"
    assert wire == TurnEvent.END_OF_TURN
    assert TurnEvent("TurnResumed") is TurnEvent.TURN_RESUMED
    assert str(TurnEvent.UPDATE) == "Update"
    assert f"{TurnTrigger.TIMEOUT}" == "timeout"
    assert {e.value for e in TurnEvent} == {
        "Update",
        "StartOfTurn",
        "EagerEndOfTurn",
        "TurnResumed",
        "EndOfTurn",
    }
    # An event added by Deepgram later still decodes, as a plain string.
    info = SCHEMA.parse_server(
        '{"type":"TurnInfo","event":"SomethingNew","turn_index":1,"audio_window_start":0,'
        '"audio_window_end":1,"transcript":"","end_of_turn_confidence":0,"sequence_id":2}'
    )
    assert isinstance(info, TurnInfo)
    assert info.event == "SomethingNew"
    assert not info.is_end_of_turn
    assert info.audio_window_start == 0.0  # an integer where a float belongs is fine


# --- unknown and malformed --------------------------------------------------------------


def test_unknown_type_becomes_unknown_message() -> None:
    frame = '{"type":"TurnSummary","sequence_id":12,"foo":[1,2]}'
    message = SCHEMA.parse_server(frame)
    assert message == UnknownMessage(
        "TurnSummary", {"type": "TurnSummary", "sequence_id": 12, "foo": [1, 2]}
    )
    # KeepAlive is not a Flux server message either.
    assert isinstance(SCHEMA.parse_server('{"type":"KeepAlive"}'), UnknownMessage)
    # Client tags are not server tags and vice versa.
    assert isinstance(SCHEMA.parse_server('{"type":"CloseStream"}'), UnknownMessage)
    assert isinstance(SCHEMA.parse_client('{"type":"Connected","sequence_id":0}'), UnknownMessage)


@pytest.mark.parametrize(
    ("frame", "paths"),
    [
        ('{"type":"Connected","request_id":"r"}', ["required field missing @ $.sequence_id"]),
        ('{"type":"Connected","sequence_id":"0"}', ["expected int @ $.sequence_id"]),
        ('{"type":"Connected","sequence_id":1.5}', ["expected int @ $.sequence_id"]),
        (
            '{"type":"TurnInfo","sequence_id":1,"event":"Update","turn_index":"0",'
            '"audio_window_start":0,"audio_window_end":1,"transcript":"a",'
            '"end_of_turn_confidence":0.1,"words":[{"word":"a","confidence":"high"}]}',
            ["@ $.turn_index", "@ $.words[0].confidence"],
        ),
        (
            '{"type":"TurnInfo","sequence_id":1,"event":7,"turn_index":0,'
            '"audio_window_start":0,"audio_window_end":1,"transcript":"a",'
            '"end_of_turn_confidence":0.1}',
            ["@ $.event"],
        ),
        (
            '{"type":"ConfigureSuccess","sequence_id":1,"keyterms":5}',
            ["@ $.keyterms"],
        ),
        (
            '{"type":"ConfigureSuccess","sequence_id":1,"thresholds":{"eot_timeout_ms":"5000"}}',
            ["@ $.thresholds.eot_timeout_ms"],
        ),
        ('{"type":"Warning","sequence_id":1,"code":404}', ["@ $.code"]),
        ('{"type":"Error","sequence_id":null}', ["@ $.sequence_id"]),
    ],
)
def test_malformed_known_messages_raise_with_paths(frame: str, paths: list[str]) -> None:
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_server(frame)
    error = info.value
    assert error.raw == frame
    assert error.message_type == json.loads(frame)["type"]
    for path in paths:
        assert any(path in line for line in error.errors), (path, error.errors)


def test_non_json_and_non_objects_raise() -> None:
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_server("not json")
    with pytest.raises(MessageDecodeError):
        SCHEMA.parse_server("[1, 2]")


# --- client messages and seed classes ------------------------------------------------------


def test_client_messages_serialize() -> None:
    assert json.loads(SCHEMA.serialize(CloseStream())) == {"type": "CloseStream"}
    assert json.loads(SCHEMA.serialize(ForceEndTurn())) == {"type": "ForceEndTurn"}
    assert json.loads(SCHEMA.serialize(Configure())) == {"type": "Configure"}
    assert json.loads(SCHEMA.serialize(Configure(numerals=False))) == {
        "type": "Configure",
        "numerals": False,
    }
    configure = Configure(
        thresholds={"eot_threshold": 0.8, "eot_timeout_ms": 3000},
        keyterms=["Deepgram", "Flux"],
        language_hints="en",
    )
    assert configure.thresholds == Thresholds(eot_threshold=0.8, eot_timeout_ms=3000)
    assert configure.keyterms == ("Deepgram", "Flux")
    assert configure.language_hints == ("en",)
    assert json.loads(SCHEMA.serialize(configure)) == {
        "type": "Configure",
        "thresholds": {"eot_threshold": 0.8, "eot_timeout_ms": 3000},
        "keyterms": ["Deepgram", "Flux"],
        "language_hints": ["en"],
    }
    # One keyterm may go as a bare string, as the protocol allows.
    assert json.loads(SCHEMA.serialize(Configure(keyterms="Deepgram")))["keyterms"] == "Deepgram"
    # An empty list clears the keyterms: it is sent, not dropped.
    assert json.loads(SCHEMA.serialize(Configure(keyterms=[])))["keyterms"] == []


def test_configure_passes_extra_fields_through() -> None:
    configure = Configure(numerals=True, extra_fields={"profanity_filter": True})
    frame = SCHEMA.serialize(configure)
    assert json.loads(frame) == {"type": "Configure", "numerals": True, "profanity_filter": True}
    assert SCHEMA.parse_client(frame) == configure


def test_client_frames_parse_with_the_same_schema() -> None:
    assert SCHEMA.parse_client('{"type":"ForceEndTurn"}') == ForceEndTurn()
    assert SCHEMA.parse_client('{"type":"CloseStream"}') == CloseStream()
    parsed = SCHEMA.parse_client(
        '{"type":"Configure","thresholds":{"eager_eot_threshold":0.4},"keyterms":["a"]}'
    )
    assert parsed == Configure(thresholds=Thresholds(eager_eot_threshold=0.4), keyterms=("a",))
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_client('{"type":"Configure","numerals":"yes"}')
    assert any("$.numerals" in line for line in info.value.errors)


@pytest.mark.parametrize(
    ("kind", "expected"), [("CloseStream", CloseStream()), ("ForceEndTurn", ForceEndTurn())]
)
def test_seed_control_message(kind: Any, expected: object) -> None:
    seed = ListenV2ControlMessage(type=kind)
    assert seed.to_message() == expected
    assert json.loads(SCHEMA.serialize(seed)) == {"type": kind}


def test_seed_control_message_rejects_other_types() -> None:
    with pytest.raises(ValueError, match="type"):
        ListenV2ControlMessage(type="KeepAlive")  # type: ignore[arg-type]


# --- round trips -------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
floats = st.floats(allow_nan=False, allow_infinity=False)
ints = st.integers(min_value=-(2**53), max_value=2**53)
str_tuples = st.lists(text, max_size=3).map(tuple)
words = st.builds(TurnWord, text, floats, st.none() | floats, st.none() | floats)
thresholds = st.builds(Thresholds, st.none() | floats, st.none() | floats, st.none() | ints)

server_messages = st.one_of(
    st.builds(Connected, ints, text),
    st.builds(
        TurnInfo,
        sequence_id=ints,
        event=st.sampled_from([e.value for e in TurnEvent]) | text,
        turn_index=ints,
        audio_window_start=floats,
        audio_window_end=floats,
        transcript=text,
        end_of_turn_confidence=floats,
        words=st.lists(words, max_size=3).map(tuple),
        request_id=text,
        trigger=st.none() | st.sampled_from([t.value for t in TurnTrigger]),
        languages=st.none() | str_tuples,
        languages_hinted=st.none() | str_tuples,
    ),
    st.builds(
        ConfigureSuccess,
        sequence_id=ints,
        request_id=text,
        thresholds=st.none() | thresholds,
        keyterms=st.none() | text | str_tuples,
        language_hints=st.none() | str_tuples,
        numerals=st.none() | st.booleans(),
        profanity_filter=st.none() | st.booleans(),
    ),
    st.builds(ConfigureFailure, ints, text, st.none() | text, st.none() | text),
    st.builds(Warning, ints, text, text, text),
    st.builds(Error, ints, text, text),
)

client_messages = st.one_of(
    st.just(CloseStream()),
    st.just(ForceEndTurn()),
    st.builds(
        Configure,
        thresholds=st.none() | thresholds,
        keyterms=st.none() | text | str_tuples,
        language_hints=st.none() | str_tuples,
        numerals=st.none() | st.booleans(),
    ),
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
    assert set(SCHEMA.server_classes) == {
        Connected,
        TurnInfo,
        ConfigureSuccess,
        ConfigureFailure,
        Warning,
        Error,
    }
    assert set(SCHEMA.client_classes) == {CloseStream, ForceEndTurn, Configure}
