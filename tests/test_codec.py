"""The sans-IO codec on /v1/listen: fixtures, schema drift, round trips, fast path vs cattrs.

What this file proves (see ``dgtrio/_codec.py`` for the numbered rules):

* every captured listen-v1 frame parses to the class its file name says, and a
  strict converter (``forbid_extra_keys=True``) finds no field we do not model;
* encode then decode is the identity for every listen-v1 message class;
* the compiled fast path and the cattrs path agree on arbitrary Results-shaped
  (and other message-shaped) JSON, right or wrong (rule 5);
* arbitrary frames give a message, ``UnknownMessage`` or ``MessageDecodeError``
  and nothing else (rules 1 and 6);
* decode errors are exact, path-level and carry the raw frame (rule 6);
* typing is strict: no coercion, ints for floats, null for optionals (rule 3);
* encoding omits ``None``, writes the tag first and keeps ``0`` and ``[]``.
"""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import cattrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dgtrio import MessageDecodeError, UnknownMessage, _codec
from dgtrio._codec import CONVERTER, WIRE_NAME, _compile_structure, message_tag
from dgtrio.listen import v1
from dgtrio.listen.v1 import (
    SCHEMA,
    Alternative,
    Channel,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Error,
    Finalize,
    KeepAlive,
    Metadata,
    ModelInfo,
    Results,
    ResultsMetadata,
    SpeechStarted,
    UtteranceEnd,
    Word,
)

FIXTURES = Path("/work/shared/fixtures/listen-v1")
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))

SERVER_CLASSES: tuple[type, ...] = SCHEMA.server_classes
CLIENT_CLASSES: tuple[type, ...] = SCHEMA.client_classes
SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# --- helpers ------------------------------------------------------------------------


def typed(value: Any) -> Any:
    """A comparable form of ``value`` that also records every type (so 1 != 1.0 != True)."""
    cls = type(value)
    if attrs.has(cls):
        return (cls, tuple((f.name, typed(getattr(value, f.name))) for f in attrs.fields(cls)))
    if isinstance(value, Mapping):
        return (dict, tuple((k, typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (cls, tuple(typed(v) for v in value))
    return (cls, value)


def expected_json(value: Any) -> Any:
    """Encode ``value`` by the documented rules, independently of the codec."""
    cls = type(value)
    if attrs.has(cls):
        out: dict[str, Any] = {}
        tag = message_tag(cls)
        if tag is not None:
            out["type"] = tag
        for field in attrs.fields(cls):
            item = getattr(value, field.name)
            if item is not None:
                out[field.metadata.get(WIRE_NAME, field.name)] = expected_json(item)
        return out
    if isinstance(value, (list, tuple)):
        return [expected_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: expected_json(v) for k, v in value.items()}
    return value


def _build_strict_converter() -> cattrs.Converter:
    """The codec's own converter factory, but with ``forbid_extra_keys=True``."""
    real = cattrs.Converter

    def strict_converter(**kwargs: Any) -> cattrs.Converter:
        kwargs["forbid_extra_keys"] = True
        return real(**kwargs)

    namespace = vars(_codec)
    saved = namespace["cattrs"]
    namespace["cattrs"] = types.SimpleNamespace(**{**vars(cattrs), "Converter": strict_converter})
    try:
        return _codec._build_converter()
    finally:
        namespace["cattrs"] = saved


STRICT = _build_strict_converter()


def strict_errors(obj: Mapping[str, Any], cls: type) -> list[str]:
    """Errors of the strict converter for a decoded frame (the tag is not a field)."""
    body = {k: v for k, v in obj.items() if k != "type"}
    try:
        STRICT.structure(body, cls)
    except cattrs.BaseValidationError as exc:
        return cattrs.transform_error(exc)
    return []


def resolved_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    attrs.resolve_types(cls)
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    return fields


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


# --- strategies ---------------------------------------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
SHORT_TEXT = st.text(max_size=8)
JSON_SCALARS = st.none() | st.booleans() | INT64 | FINITE | SHORT_TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SHORT_TEXT, inner, max_size=3),
    max_leaves=8,
)

#: One value of every JSON kind, and the near misses of every field type.
PROBES: list[Any] = [
    None, True, False, 0, 1, -1, 2**63, 10**400, 0.0, 1.0, 0.5, -0.0, 1e308,
    "", "x", "1", "1.5", "true", "null",
    [], [0], [1.5], ["x"], [True], [None], [[0]], [{}],
    {}, {"a": 1}, {"a": "b"}, {"a": True}, {"a": None}, {"a": {}}, {"type": "Results"},
]  # fmt: skip


def valid(tp: Any) -> st.SearchStrategy[Any]:
    """Python values of type ``tp`` (attrs instances built with ``st.builds``)."""
    if tp is str:
        return st.text(max_size=12)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return INT64
    if tp is float:
        return FINITE
    if tp is Any:
        return JSON_VALUES
    if attrs.has(tp):
        fields = resolved_fields(tp)
        return st.builds(tp, **{f.name: valid(f.type) for f in fields if f.init})
    origin, args = get_origin(tp), get_args(tp)
    if is_union(tp):
        return st.one_of(*(st.none() if a is type(None) else valid(a) for a in args))
    if origin is tuple:
        return st.lists(valid(args[0]), max_size=3).map(tuple)
    if origin is Literal:
        return st.sampled_from(args)
    if origin is not None and issubclass(origin, Mapping):
        return st.dictionaries(SHORT_TEXT, valid(args[1]), max_size=3)
    raise NotImplementedError(tp)  # pragma: no cover - a new field type needs a strategy


def shaped(tp: Any) -> st.SearchStrategy[Any]:
    """Decoded JSON shaped like ``tp``, right or wrong at every node.

    Objects get random subsets of their fields (so required fields go
    missing), unknown keys, and wrong values of every JSON kind (strings for
    numbers, booleans for ints, null, arrays, nested garbage).
    """
    return st.one_of(_right_json(tp), JSON_VALUES)


def _right_json(tp: Any) -> st.SearchStrategy[Any]:
    if tp is float:
        return FINITE | INT64  # JSON does not tell 1 from 1.0
    if tp in (str, bool, int) or tp is Any:
        return valid(tp)
    if attrs.has(tp):
        fields = resolved_fields(tp)
        required = {f.name: shaped(f.type) for f in fields if f.default is attrs.NOTHING}
        optional = {f.name: shaped(f.type) for f in fields if f.default is not attrs.NOTHING}
        every_subset = st.fixed_dictionaries({}, optional={**required, **optional})
        complete = st.fixed_dictionaries(required, optional=optional)
        extra_keys = st.dictionaries(st.sampled_from(["type", "new_field", "x"]), JSON_VALUES)
        body = st.one_of(complete, every_subset)
        return st.tuples(extra_keys, body).map(lambda pair: {**pair[0], **pair[1]})
    origin, args = get_origin(tp), get_args(tp)
    if is_union(tp):
        return st.one_of(*(st.none() if a is type(None) else shaped(a) for a in args))
    if origin is tuple:
        return st.lists(shaped(args[0]), max_size=3)
    if origin is not None and issubclass(origin, Mapping):
        return st.dictionaries(SHORT_TEXT, shaped(args[1]), max_size=3)
    return valid(tp)


Path_ = tuple[str | int, ...]

#: Wrong values of the kinds a sloppy check lets through, per expected type.
NEAR_MISSES: dict[Any, list[Any]] = {
    int: [True, False, 1.0, 0.0, "1", None, [1]],
    float: [True, False, "1.5", "nan", None, [1.5]],
    bool: [0, 1, "true", "false", None, [True]],
    str: [1, 1.5, True, None, ["x"], {"x": "y"}],
}


def typed_nodes(obj: Any, tp: Any, path: Path_ = ()) -> list[tuple[Path_, Any]]:
    """Every node of JSON ``obj`` with its expected type, absent optional fields too.

    Parts that already have the wrong shape (an earlier fault) are single nodes.
    """
    nodes: list[tuple[Path_, Any]] = [(path, tp)]
    if obj is None:
        return nodes
    if is_union(tp):
        members = [m for m in get_args(tp) if m is not type(None)]
        return nodes + typed_nodes(obj, members[0], path)[1:] if len(members) == 1 else nodes
    if attrs.has(tp) and isinstance(obj, dict):
        for field in resolved_fields(tp):
            key = field.metadata.get(WIRE_NAME, field.name)
            if key in obj:
                nodes += typed_nodes(obj[key], field.type, (*path, key))
            else:
                nodes.append(((*path, key), field.type))
    elif get_origin(tp) is tuple and isinstance(obj, list):
        for index, item in enumerate(obj):
            nodes += typed_nodes(item, get_args(tp)[0], (*path, index))
    elif isinstance(obj, dict) and get_args(tp):
        for key, item in obj.items():
            nodes += typed_nodes(item, get_args(tp)[1], (*path, key))
    return nodes


def _mutate(obj: Any, path: Path_, action: str, garbage: Any) -> Any:
    if not path:
        if action == "add" and isinstance(obj, dict):
            return {**obj, "new_field": garbage}
        return garbage
    head, rest = path[0], path[1:]
    if isinstance(obj, dict):
        if not rest and action == "delete":
            return {k: v for k, v in obj.items() if k != head}
        return {**obj, head: _mutate(obj.get(head), rest, action, garbage)}
    assert isinstance(obj, list) and isinstance(head, int)
    if not rest and action == "delete":
        return obj[:head] + obj[head + 1 :]
    return [*obj[:head], _mutate(obj[head], rest, action, garbage), *obj[head + 1 :]]


def near_misses(tp: Any) -> list[Any] | None:
    """Wrong values for a scalar (or optional scalar) type, else ``None``."""
    if tp in NEAR_MISSES:
        return NEAR_MISSES[tp]
    members = [m for m in get_args(tp) if m is not type(None)] if is_union(tp) else []
    if len(members) == 1 and members[0] in NEAR_MISSES:
        return [v for v in NEAR_MISSES[members[0]] if v is not None]
    return None


@st.composite
def mutated(draw: st.DrawFn, tp: type) -> Any:
    """A valid ``tp`` as JSON, then (mostly one, up to three) faults anywhere in it.

    A fault puts a near miss (a boolean for an int, a string for a float...) at
    a scalar node, or deletes a key or array item, adds an unknown key, or
    puts any JSON value at any node, present or absent. Node types are drawn
    before nodes, so rare types (the ints of ``channel_index``) are hit as
    often as common ones.
    """
    obj = expected_json(draw(valid(tp)))
    for _ in range(draw(st.sampled_from([1, 0, 1, 2, 1, 3]))):
        nodes = typed_nodes(obj, tp)
        scalars = [n for n in nodes if near_misses(n[1]) is not None]
        if scalars and draw(st.sampled_from([True, True, False])):
            kinds = sorted({repr(t) for _, t in scalars})
            kind = draw(st.sampled_from(kinds))
            path, expected = draw(st.sampled_from([n for n in scalars if repr(n[1]) == kind]))
            obj = _mutate(obj, path, "replace", draw(st.sampled_from(near_misses(expected) or [])))
            continue
        kinds = sorted({repr(t) for _, t in nodes})
        kind = draw(st.sampled_from(kinds))
        path, _ = draw(st.sampled_from([n for n in nodes if repr(n[1]) == kind]))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        obj = _mutate(obj, path, action, draw(st.sampled_from(PROBES) | JSON_VALUES))
    return obj


def json_like(tp: type) -> st.SearchStrategy[Any]:
    """Everything the agreement property is tested on."""
    return st.one_of(mutated(tp), shaped(tp), valid(tp).map(expected_json))


# --- fixtures -----------------------------------------------------------------------


def test_fixture_folder_is_there() -> None:
    assert len(FIXTURE_FILES) >= 39


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_parses_to_the_class_its_name_says(path: Path) -> None:
    expected = getattr(v1, path.name.split("-")[0])
    text = path.read_text()
    message = SCHEMA.parse_server(text)
    assert type(message) is expected
    obj = json.loads(text)
    # The fast path took it (it did not need cattrs), and cattrs agrees on the result.
    fast = _compile_structure(expected)(copy.deepcopy(obj))
    assert typed(fast) == typed(message) == typed(CONVERTER.structure(obj, expected))
    # And bytes frames decode the same.
    assert SCHEMA.parse_server(text.encode()) == message


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_has_no_field_we_do_not_model(path: Path) -> None:
    cls = getattr(v1, path.name.split("-")[0])
    assert strict_errors(json.loads(path.read_text()), cls) == []


def test_strict_converter_detects_an_unmodelled_field() -> None:
    obj = json.loads((FIXTURES / "Results-14.json").read_text())
    obj["channel"]["alternatives"][0]["words"][0]["brand_new"] = 1
    obj["metadata"]["also_new"] = "x"
    assert strict_errors(obj, Results) == [
        "extra fields found (brand_new) @ $.channel.alternatives[0].words[0]",
        "extra fields found (also_new) @ $.metadata",
    ]
    # ... which the production converter ignores (rule 2).
    assert isinstance(SCHEMA.parse_server(json.dumps(obj)), Results)


def test_fixture_details() -> None:
    diarized = SCHEMA.parse_server((FIXTURES / "Results-14.json").read_text())
    assert isinstance(diarized, Results)
    assert diarized.metadata.diarize_info is not None
    assert diarized.metadata.diarize_info.arch == "v1"
    assert {w.speaker for w in diarized.words} == {0}
    old = SCHEMA.parse_server((FIXTURES / "Results-23.json").read_text())
    assert isinstance(old, Results)
    assert old.from_finalize is False  # absent from old frames
    metadata = SCHEMA.parse_server((FIXTURES / "Metadata-1.json").read_text())
    assert isinstance(metadata, Metadata)
    assert metadata.models is not None
    assert metadata.model_info is not None
    assert all(isinstance(info, ModelInfo) for info in metadata.model_info.values())
    assert set(metadata.model_info) == set(metadata.models)
    empty = SCHEMA.parse_server((FIXTURES / "Metadata-4.json").read_text())
    assert isinstance(empty, Metadata)
    assert empty.models is None
    assert empty.model_info is None
    assert empty.sha256 == "incomplete"


# --- round trips --------------------------------------------------------------------


@pytest.mark.parametrize("cls", SERVER_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_server_message_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(valid(cls))
    frame = SCHEMA.serialize(message)
    parsed = SCHEMA.parse_server(frame)
    assert parsed == message
    assert typed(parsed) == typed(message)
    assert json.loads(frame) == expected_json(message)
    assert typed(json.loads(frame)) == typed(expected_json(message))
    assert list(json.loads(frame)) == list(expected_json(message))  # the tag first


@pytest.mark.parametrize("cls", CLIENT_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_client_message_round_trip(cls: type, data: st.DataObject) -> None:
    message = data.draw(valid(cls))
    frame = SCHEMA.serialize(message)
    parsed = SCHEMA.parse_client(frame)
    assert parsed == message
    assert typed(parsed) == typed(message)
    assert typed(json.loads(frame)) == typed(expected_json(message))
    assert next(iter(json.loads(frame))) == "type"


def test_round_trip_of_a_full_results() -> None:
    message = Results(
        channel_index=(0, 1),
        duration=1.5,
        start=0.25,
        channel=Channel(
            alternatives=(
                Alternative(
                    "hi there",
                    0.9,
                    (Word("hi", 0.3, 0.5, 0.99, "Hi", speaker=1), Word("there", 0.5, 1.0, 0.8)),
                    languages=("en",),
                ),
            )
        ),
        is_final=True,
        metadata=ResultsMetadata("req", "uuid", ModelInfo("n", "v", "a"), extra={"k": "v"}),
        entities=(),
    )
    frame = SCHEMA.serialize(message)
    assert SCHEMA.parse_server(frame) == message
    assert '"entities":[]' in frame  # an empty tuple is not None: it is sent


# --- fast path vs cattrs (rule 5) ----------------------------------------------------

# Results has its own, longer test; Word and Channel get a closer look of their own.
AGREEMENT_CLASSES: tuple[type, ...] = (
    *(c for c in SERVER_CLASSES if c is not Results),
    Configure,
    Finalize,
    Word,
    Channel,
)


def _outcome(fn: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, fn()
    except Exception:
        return False, None


def check_agreement(cls: type, obj: Any) -> bool:
    """Assert both paths agree on ``obj``; return whether it structured."""
    pristine = copy.deepcopy(obj)
    fast_ok, fast = _outcome(lambda: _compile_structure(cls)(obj))
    assert obj == pristine, "the fast path mutated its input"
    slow_ok, slow = _outcome(lambda: CONVERTER.structure(copy.deepcopy(obj), cls))
    assert fast_ok == slow_ok, f"fast path {'accepted' if fast_ok else 'rejected'} {obj!r}"
    if fast_ok:
        assert typed(fast) == typed(slow)
        assert set(vars(fast)) == {f.name for f in attrs.fields(cls)}
    return fast_ok


@settings(SETTINGS, max_examples=250)
@given(obj=json_like(Results))
def test_fast_path_and_cattrs_agree_on_results_shaped_json(obj: Any) -> None:
    check_agreement(Results, obj)


@pytest.mark.parametrize("cls", AGREEMENT_CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_fast_path_and_cattrs_agree_on_message_shaped_json(cls: type, data: st.DataObject) -> None:
    check_agreement(cls, data.draw(json_like(cls)))


def test_the_agreement_property_reaches_deep_successes_and_failures() -> None:
    # Guard against a vacuous property: the strategy produces Results that the
    # fast path accepts with words in them, and ones rejected only deep inside.
    seen = {"accepted with words": 0, "rejected in a word": 0}

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(obj=json_like(Results))
    def sample(obj: Any) -> None:
        if check_agreement(Results, obj):
            seen["accepted with words"] += bool(CONVERTER.structure(obj, Results).words)
            return
        try:
            CONVERTER.structure(obj, Results)
        except cattrs.BaseValidationError as exc:
            seen["rejected in a word"] += any(".words[" in e for e in cattrs.transform_error(exc))
        except TypeError:
            pass  # not an object at all

    sample()
    assert all(seen.values()), seen


def _attrs_classes_in(tp: Any) -> list[type]:
    if attrs.has(tp):
        return [tp]
    return [c for arg in get_args(tp) for c in _attrs_classes_in(arg)]


def reachable_classes(roots: tuple[type, ...]) -> list[type]:
    found: list[type] = []
    todo = list(roots)
    while todo:
        cls = todo.pop(0)
        if cls not in found:
            found.append(cls)
            todo += [c for f in resolved_fields(cls) for c in _attrs_classes_in(f.type)]
    return found


def minimal_json(tp: Any) -> Any:
    """The smallest valid JSON for ``tp`` (required fields only)."""
    if tp in (str, int, float, bool):
        return tp()
    if attrs.has(tp):
        return {
            f.metadata.get(WIRE_NAME, f.name): minimal_json(f.type)
            for f in resolved_fields(tp)
            if f.default is attrs.NOTHING
        }
    if is_union(tp):
        return None
    if get_origin(tp) is tuple:
        return []
    return {}


ALL_CLASSES = reachable_classes((*SERVER_CLASSES, *CLIENT_CLASSES))


def test_the_fast_path_knows_every_field_class_pair() -> None:
    assert {c.__name__ for c in ALL_CLASSES} >= {
        "Results", "Channel", "Alternative", "Word", "SearchResult", "SearchHit",
        "ResultsMetadata", "ModelInfo", "DiarizeInfo", "Entity", "Metadata", "Configure",
    }  # fmt: skip


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_fast_path_and_cattrs_agree_on_every_field_and_every_kind_of_value(cls: type) -> None:
    # Systematic: each field of each class, in turn, gets each probe value, in an
    # otherwise minimal valid object; the random properties above cover mixtures.
    base = minimal_json(cls)
    assert check_agreement(cls, base)
    accepted = 0
    for field in resolved_fields(cls):
        wire = field.metadata.get(WIRE_NAME, field.name)
        for probe in PROBES:
            accepted += check_agreement(cls, {**base, wire: probe})
        missing = {k: v for k, v in base.items() if k != wire}
        assert check_agreement(cls, missing) is (field.default is not attrs.NOTHING)
    assert accepted > 0 or not attrs.fields(cls)


EDGE_BASE: dict[str, Any] = {
    "channel_index": [0, 1],
    "duration": 1,
    "start": 0,
    "channel": {"alternatives": []},
}
ENTITY = {"label": "L", "value": "v", "confidence": 1, "start_word": 0, "end_word": 1}


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({}, True),
        ({"channel_index": [True]}, False),
        ({"duration": 10**30}, True),  # an int far beyond float precision is still a number
        ({"duration": 10**400}, False),  # ... but not beyond float range
        ({"metadata": None}, False),
        ({"metadata": {"model_info": None, "extra": None, "diarize_info": None}}, True),
        ({"metadata": {"extra": []}}, False),
        ({"metadata": {"extra": {"k": [1, {"x": None}]}}}, True),
        ({"is_final": None}, False),
        ({"entities": [ENTITY]}, True),
        ({"entities": [{**ENTITY, "end_word": 1.0}]}, False),
        ({"channel": {"alternatives": [], "search": [{"query": "q"}]}}, True),
        ({"channel": {"alternatives": [], "search": [{"query": "q", "hits": None}]}}, False),
        ({"channel": {"alternatives": [], "search": None}}, True),
        ({"channel": {"alternatives": None}}, False),
        ({"channel": []}, False),
    ],
)
def test_fast_path_and_cattrs_agree_on_chosen_edge_cases(
    changes: dict[str, Any], accepted: bool
) -> None:
    assert check_agreement(Results, {**EDGE_BASE, **changes}) is accepted


# --- arbitrary frames ---------------------------------------------------------------


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _tagged(cls: type) -> st.SearchStrategy[str]:
    """Frames carrying ``cls``'s tag, with a body that is right or wrong."""

    def frame(body: Any) -> str:
        return json.dumps({**body, "type": message_tag(cls)} if isinstance(body, dict) else body)

    return json_like(cls).map(frame)


KNOWN_TAGGED = st.sampled_from(SERVER_CLASSES).flatmap(_tagged)
NESTED = st.builds(_nested, st.integers(1, 2000), st.sampled_from(["array", "object"]))
FRAMES: st.SearchStrategy[str | bytes] = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=["Cs", "Ll", "Po"])),
    JSON_VALUES.map(json.dumps),
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(),
    NESTED,
    NESTED.map(lambda inner: '{"type":"Results","channel":' + inner + "}"),
    NESTED.map(lambda inner: '{"type":"Metadata","request_id":"r","extra":' + inner + "}"),
    KNOWN_TAGGED,
    KNOWN_TAGGED.map(str.encode),
)


def same_json(a: Any, b: Any) -> bool:
    """Deep equality with types, without recursion (frames may nest a thousand levels)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True


def _check_frame(
    frame: str | bytes, parse: Callable[[str | bytes], Any], known: tuple[type, ...]
) -> None:
    error: MessageDecodeError | None = None
    try:
        message = parse(frame)
    except MessageDecodeError as exc:
        error = exc
    if error is not None:
        assert error.raw is frame
        assert error.errors, "a decode error explains itself"
        assert all(isinstance(e, str) for e in error.errors)
        # No foreign exception (cattrs' ExceptionGroup, orjson's error) in the chain.
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__
        return
    decoded = orjson.loads(frame)  # the stdlib's recursion limit is lower
    assert isinstance(decoded, dict)
    tag = decoded.get("type")
    if isinstance(message, UnknownMessage):
        assert same_json(message.raw, decoded)
        assert message.type == (tag if isinstance(tag, str) else None)
        assert tag not in {message_tag(c) for c in known}
    else:
        assert type(message) in known
        assert message_tag(type(message)) == tag


@settings(SETTINGS, max_examples=150)
@given(frame=FRAMES)
def test_any_server_frame_gives_a_message_unknown_or_decode_error(frame: str | bytes) -> None:
    _check_frame(frame, SCHEMA.parse_server, SERVER_CLASSES)


@SETTINGS
@given(frame=FRAMES)
def test_any_client_frame_gives_a_message_unknown_or_decode_error(frame: str | bytes) -> None:
    _check_frame(frame, SCHEMA.parse_client, CLIENT_CLASSES)


@pytest.mark.parametrize("depth", [10, 500, 1000, 5000, 100_000])
def test_deeply_nested_frames(depth: int) -> None:
    for kind in ("array", "object"):
        _check_frame(_nested(depth, kind), SCHEMA.parse_server, SERVER_CLASSES)
        frame = '{"type":"Results","channel":' + _nested(depth, kind) + "}"
        _check_frame(frame, SCHEMA.parse_server, SERVER_CLASSES)


NON_STRING_TAGS = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    FINITE,
    st.lists(JSON_VALUES, max_size=3),
    st.dictionaries(SHORT_TEXT, JSON_VALUES, max_size=3),
)


@SETTINGS
@given(tag=NON_STRING_TAGS, body=st.dictionaries(SHORT_TEXT, JSON_VALUES, max_size=3))
def test_non_string_tags_are_unknown_with_no_type(tag: Any, body: dict[str, Any]) -> None:
    obj = {**body, "type": tag}
    frame = json.dumps(obj)
    for parse in (SCHEMA.parse_server, SCHEMA.parse_client):
        message = parse(frame)
        assert isinstance(message, UnknownMessage)
        assert message.type is None
        assert message.raw == json.loads(frame)


@SETTINGS
@given(
    tag=st.text().filter(lambda t: t not in {message_tag(c) for c in SERVER_CLASSES}),
    body=st.dictionaries(SHORT_TEXT, JSON_VALUES, max_size=3),
)
def test_unknown_string_tags_are_delivered_with_their_tag(tag: str, body: dict[str, Any]) -> None:
    frame = json.dumps({**body, "type": tag})
    message = SCHEMA.parse_server(frame)
    assert message == UnknownMessage(tag, json.loads(frame))


def test_missing_tag_and_client_tags_on_the_server_side() -> None:
    assert SCHEMA.parse_server('{"request_id":"r"}') == UnknownMessage(None, {"request_id": "r"})
    assert SCHEMA.parse_server('{"type":"KeepAlive"}') == UnknownMessage(
        "KeepAlive", {"type": "KeepAlive"}
    )
    assert SCHEMA.parse_client('{"type":"Results"}') == UnknownMessage(
        "Results", {"type": "Results"}
    )


# --- error quality ------------------------------------------------------------------


def decode_error(frame: str | bytes) -> MessageDecodeError:
    with pytest.raises(MessageDecodeError) as info:
        SCHEMA.parse_server(frame)
    assert info.value.raw is frame
    return info.value


def test_results_with_a_string_duration_and_no_channel_index() -> None:
    frame = '{"type":"Results","duration":"x","start":0,"channel":{"alternatives":[]}}'
    error = decode_error(frame)
    assert error.errors == (
        "required field missing @ $.channel_index",
        "invalid value for type, expected float @ $.duration",
    )
    assert error.message_type == "Results"
    assert error.summary == "malformed Results message"
    assert "$.duration" in str(error)
    assert "$.channel_index" in str(error)


def test_every_problem_is_reported_with_its_path() -> None:
    frame = (
        '{"type":"Results","channel_index":[0,"1"],"duration":1,"start":0,'
        '"channel":{"alternatives":[{"transcript":"a","confidence":1,'
        '"words":[{"word":"a","start":0,"end":1,"confidence":"x"}]}]},"metadata":null}'
    )
    assert decode_error(frame).errors == (
        "invalid value for type, expected int @ $.channel_index[1]",
        "invalid value for type, expected float @ $.channel.alternatives[0].words[0].confidence",
        "invalid value for type, expected ResultsMetadata @ $.metadata",
    )


def test_nested_map_errors_name_the_key() -> None:
    frame = '{"type":"Metadata","request_id":"r","model_info":{"u1":{"name":1}}}'
    error = decode_error(frame)
    assert error.errors == ("invalid value for type, expected str @ $.model_info['u1'].name",)
    assert error.message_type == "Metadata"


def test_other_messages_report_their_tag() -> None:
    error = decode_error('{"type":"SpeechStarted","channel":"0","timestamp":true}')
    assert error.message_type == "SpeechStarted"
    assert error.errors == (
        "invalid value for type, expected tuple @ $.channel",
        "invalid value for type, expected float @ $.timestamp",
    )
    assert decode_error('{"type":"Metadata"}').errors == ("required field missing @ $.request_id",)


def test_not_json_and_not_an_object() -> None:
    error = decode_error("nope")
    assert error.summary == "invalid JSON"
    assert error.message_type is None
    assert len(error.errors) == 1
    error = decode_error(b"[1]")
    assert error.summary == "expected a JSON object"
    assert error.errors == ("got an array @ $",)
    assert decode_error('"Results"').errors == ("got a string @ $",)
    assert decode_error("null").errors == ("got null @ $",)
    assert decode_error(b"\xff{}").summary == "invalid JSON"


# --- strictness (rule 3) ------------------------------------------------------------

RESULTS_BASE: dict[str, Any] = {
    "type": "Results",
    "channel_index": [0, 1],
    "duration": 1.5,
    "start": 0.0,
    "channel": {"alternatives": [{"transcript": "hi", "confidence": 0.5, "words": []}]},
}


def with_(base: Mapping[str, Any], **changes: Any) -> str:
    return json.dumps({**base, **changes})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"is_final": "yes"}, "invalid value for type, expected bool @ $.is_final"),
        ({"is_final": 1}, "invalid value for type, expected bool @ $.is_final"),
        ({"is_final": None}, "invalid value for type, expected bool @ $.is_final"),
        ({"duration": True}, "invalid value for type, expected float @ $.duration"),
        ({"duration": "1.5"}, "invalid value for type, expected float @ $.duration"),
        ({"channel_index": [0.0]}, "invalid value for type, expected int @ $.channel_index[0]"),
        ({"channel_index": "0"}, "invalid value for type, expected tuple @ $.channel_index"),
        ({"channel_index": {"0": 0}}, "invalid value for type, expected tuple @ $.channel_index"),
        (
            {"channel": {"alternatives": [{"transcript": 5, "confidence": 1}]}},
            "invalid value for type, expected str @ $.channel.alternatives[0].transcript",
        ),
        (
            {"channel": {"alternatives": [{"transcript": ["a"], "confidence": 1}]}},
            "invalid value for type, expected str @ $.channel.alternatives[0].transcript",
        ),
        (
            {"metadata": {"request_id": None}},
            "invalid value for type, expected str @ $.metadata.request_id",
        ),
    ],
)
def test_wrong_types_are_errors_not_coercions(changes: dict[str, Any], error: str) -> None:
    assert decode_error(with_(RESULTS_BASE, **changes)).errors == (error,)


def test_ints_are_accepted_for_floats() -> None:
    message = SCHEMA.parse_server(
        with_(
            RESULTS_BASE,
            duration=2,
            start=0,
            channel={
                "alternatives": [
                    {
                        "transcript": "a",
                        "confidence": 1,
                        "words": [{"word": "a", "start": 0, "end": 1, "confidence": 1}],
                    }
                ]
            },
        )
    )
    assert isinstance(message, Results)
    word = message.words[0]
    values = [message.duration, message.start, word.start, word.end, word.confidence]
    assert all(type(v) is float for v in values)
    assert values == [2.0, 0.0, 0.0, 1.0, 1.0]
    utterance = SCHEMA.parse_server('{"type":"UtteranceEnd","channel":[0,1],"last_word_end":3}')
    assert utterance == UtteranceEnd(channel=(0, 1), last_word_end=3.0)
    assert isinstance(utterance, UtteranceEnd)
    assert type(utterance.last_word_end) is float


def test_null_is_accepted_for_optional_fields() -> None:
    word = {
        "word": "a",
        "start": 0,
        "end": 1,
        "confidence": 1,
        "punctuated_word": None,
        "speaker": None,
        "speaker_confidence": None,
        "language": None,
    }
    frame = with_(
        RESULTS_BASE,
        entities=None,
        channel={
            "alternatives": [
                {
                    "transcript": "a",
                    "confidence": 1,
                    "words": [word],
                    "languages": None,
                    "languages_hinted": None,
                }
            ],
            "search": None,
        },
        metadata={"model_info": None, "diarize_info": None, "extra": None},
    )
    message = SCHEMA.parse_server(frame)
    assert isinstance(message, Results)
    assert message.entities is None
    assert message.words == (Word("a", 0.0, 1.0, 1.0),)
    assert message.metadata == ResultsMetadata()
    assert SCHEMA.parse_server(
        '{"type":"Metadata","request_id":"r","models":null,"model_info":null,"extra":null}'
    ) == Metadata(request_id="r")
    assert SCHEMA.parse_server(
        '{"type":"Error","description":"d","variant":null,"message":null,"code":null}'
    ) == Error(description="d")
    assert SCHEMA.parse_server('{"type":"ConfigureSuccess","keyterms":null}') == ConfigureSuccess()


def test_unknown_fields_are_ignored() -> None:
    message = SCHEMA.parse_server(with_(RESULTS_BASE, brand_new={"x": [1]}, sequence_id=3))
    assert message == SCHEMA.parse_server(json.dumps(RESULTS_BASE))


# --- encoding -----------------------------------------------------------------------


def test_control_messages_encode_exactly() -> None:
    assert SCHEMA.serialize(Finalize()) == '{"type":"Finalize"}'
    assert SCHEMA.serialize(Finalize(0)) == '{"type":"Finalize","channel":0}'
    assert SCHEMA.serialize(KeepAlive()) == '{"type":"KeepAlive"}'
    assert SCHEMA.serialize(CloseStream()) == '{"type":"CloseStream"}'
    assert SCHEMA.serialize(Configure()) == '{"type":"Configure"}'
    assert SCHEMA.serialize(Configure(keyterms=[])) == '{"type":"Configure","keyterms":[]}'
    assert SCHEMA.serialize(Configure(keyterms="one")) == '{"type":"Configure","keyterms":["one"]}'
    assert (
        SCHEMA.serialize(Configure(keyterms=("a", "b"), features={"numerals": False}))
        == '{"type":"Configure","keyterms":["a","b"],"features":{"numerals":false}}'
    )


def test_none_fields_are_omitted_and_falsy_values_kept() -> None:
    frame = SCHEMA.serialize(ConfigureFailure(request_id="", code="C", description=""))
    assert frame == '{"type":"ConfigureFailure","request_id":"","code":"C","description":""}'
    frame = SCHEMA.serialize(Error(description="d", variant=None, message="", code=None))
    assert frame == '{"type":"Error","description":"d","message":""}'
    frame = SCHEMA.serialize(SpeechStarted(channel=(), timestamp=0.0))
    assert frame == '{"type":"SpeechStarted","channel":[],"timestamp":0.0}'
    frame = SCHEMA.serialize(Metadata(request_id="r", extra={"k": None}))
    assert json.loads(frame) == {
        "type": "Metadata",
        "request_id": "r",
        "transaction_key": "",
        "sha256": "",
        "created": "",
        "duration": 0.0,
        "channels": 0,
        "extra": {"k": None},
    }
