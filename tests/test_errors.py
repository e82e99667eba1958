"""The error tree: plain data (copy, deepcopy, pickle), useful text, and the public surface.

STYLE.md §2 rule 7 (exceptions survive copy and pickle) and rule 1 (``__all__``
matches the exports, public names live in ``dgtrio``), plus the details the
session layer relies on: ``reason_code`` from close reasons and the fields
``HandshakeError`` derives from error bodies.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dgtrio
from dgtrio import _errors
from dgtrio._errors import (
    AckTimeoutError,
    ConfigurationError,
    ConnectError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramError,
    HandshakeError,
    InsecureTransportError,
    InternalError,
    MessageDecodeError,
    ProtocolError,
    RequestError,
    ServerError,
    SessionClosedError,
    reason_code,
)

FIXTURES = Path("/work/shared/fixtures")
CLOSE_FIXTURES = sorted((FIXTURES / "close").glob("*.json"))
HANDSHAKE_FIXTURES = sorted((FIXTURES / "handshake").glob("*.json"))


def examples() -> list[DeepgramError]:
    """At least one instance of every error class, with every attribute set."""
    reply = {"type": "ConfigureFailure", "code": "C", "description": "d"}
    return [
        DeepgramError("base"),
        ConfigurationError("encoding='mulaw' needs sample_rate"),
        InsecureTransportError("ws://speech.example.com/v1/listen"),
        ConnectError("DNS lookup failed", "wss://api.deepgram.com/v1/listen"),
        HandshakeError(
            "wss://api.deepgram.com/v1/listen",
            401,
            dg_error="Invalid credentials.",
            request_id="3b7f3c04",
            body={"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "x": [1, {}]},
            headers={"dg-error": "Invalid credentials.", "dg-request-id": "3b7f3c04"},
        ),
        HandshakeError("wss://h/v1/speak", 503, body="<html>unavailable</html>", headers={}),
        HandshakeError("wss://h/v1/speak", 400, headers={"content-length": "0"}),
        ConnectionClosedError(1011, "timeout. See https://dpgr.am/net0001", "req-1"),
        ConnectionClosedError(1006),
        ConnectionDeadError("no pong within 10 s", "req-2"),
        ConnectionDeadError("send stalled"),
        ServerError("INTERNAL_SERVER_ERROR", "boom", {"type": "Error", "code": "X"}),
        MessageDecodeError(
            "malformed Results message",
            raw='{"type":"Results"}',
            errors=["required field missing @ $.channel"],
            message_type="Results",
        ),
        MessageDecodeError("invalid JSON", raw=b"\xff"),
        RequestError("CONFIGURE_KEYTERM_LIMIT_EXCEEDED", "too many keyterms", reply),
        ProtocolError("cannot send audio before Settings"),
        SessionClosedError("cannot send audio: CloseStream was already sent"),
        AckTimeoutError("Welcome", 5.0),
        InternalError("unexpected state"),
    ]


EXAMPLES = examples()


def _pickled(protocol: int) -> Callable[[Any], Any]:
    def round_trip(error: Any) -> Any:
        return pickle.loads(pickle.dumps(error, protocol=protocol))

    return round_trip


COPIES: dict[str, Callable[[Any], Any]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    **{f"pickle{p}": _pickled(p) for p in range(pickle.HIGHEST_PROTOCOL + 1)},
}


def public_state(error: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(error).items() if not k.startswith("__")}


def test_every_error_class_has_an_example() -> None:
    assert {type(e).__name__ for e in EXAMPLES} == set(_errors.__all__)


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_errors_are_plain_data(error: DeepgramError, how: str) -> None:
    clone = COPIES[how](error)
    assert type(clone) is type(error)
    assert clone.args == error.args
    assert public_state(clone) == public_state(error)
    assert str(clone) == str(error)
    assert repr(clone) == repr(error)


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_deepcopy_does_not_share_mutable_state(error: DeepgramError) -> None:
    clone = copy.deepcopy(error)
    for name, value in public_state(error).items():
        if isinstance(value, (dict, list)):
            assert getattr(clone, name) is not value


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle5"])
def test_handshake_error_without_headers_copies_its_args(how: str) -> None:
    error = HandshakeError("wss://h/v1/speak", 400)
    clone = COPIES[how](error)
    assert public_state(clone) == public_state(error)  # this part holds
    assert clone.args == error.args


def test_errors_survive_being_raised_and_copied_with_a_cause() -> None:
    try:
        try:
            raise OSError("connection refused")
        except OSError as exc:
            raise ConnectError("could not connect", "wss://h") from exc
    except ConnectError as exc:
        error = exc
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.message, clone.url) == ("could not connect", "wss://h")


# --- str() -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "fragments"),
    [
        (ConfigurationError("needs sample_rate"), ["needs sample_rate"]),
        (InsecureTransportError("ws://h/v1"), ["ws://h/v1", "wss://", "allow_insecure=True"]),
        (ConnectError("DNS lookup failed", "wss://h/v1"), ["DNS lookup failed", "wss://h/v1"]),
        (
            HandshakeError(
                "wss://h", 401, request_id="r-1", body={"err_code": "INVALID_AUTH", "err_msg": "m"}
            ),
            ["401", "INVALID_AUTH", "m", "r-1"],
        ),
        (HandshakeError("wss://h", 429, dg_error="slow down"), ["429", "slow down"]),
        (
            ConnectionClosedError(1011, "See https://dpgr.am/net0001", "r-2"),
            ["1011", "See https://dpgr.am/net0001", "r-2"],
        ),
        (ConnectionDeadError("no pong within 10 s", "r-3"), ["1006", "no pong within 10 s", "r-3"]),
        (ServerError("INTERNAL_SERVER_ERROR", "boom"), ["INTERNAL_SERVER_ERROR", "boom"]),
        (
            MessageDecodeError("malformed Results message", raw="{}", errors=["a @ $.x", "b @ $"]),
            ["malformed Results message", "a @ $.x", "b @ $"],
        ),
        (
            RequestError("CONFIGURE_ALREADY_PENDING", "one at a time"),
            ["CONFIGURE_ALREADY_PENDING", "one at a time"],
        ),
        (AckTimeoutError("SettingsApplied", 2.5), ["SettingsApplied", "2.5"]),
        (SessionClosedError("CloseStream was already sent"), ["CloseStream was already sent"]),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else "",
)
def test_str_is_informative(error: DeepgramError, fragments: list[str]) -> None:
    text = str(error)
    for fragment in fragments:
        assert fragment in text


def test_handshake_str_never_shows_request_headers() -> None:
    # Only the *response* is kept: an Authorization header cannot be in it.
    error = HandshakeError("wss://h", 401, headers={"dg-error": "bad", "content-type": "json"})
    assert "Authorization" not in str(error)
    assert "Token" not in repr(error)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (ServerError(None, "desc"), "desc"),
        (ServerError("CODE", None), "CODE"),
        (RequestError(None, "desc"), "desc"),
        (RequestError("CODE", None), "CODE"),
    ],
    ids=["server-no-code", "server-no-description", "request-no-code", "request-no-description"],
)
def test_str_with_missing_parts(error: DeepgramError, text: str) -> None:
    assert text in str(error)
    assert "None" not in str(error)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServerError(None, "desc"), "Deepgram reported a fatal error: desc"),
        (ServerError("CODE", None), "Deepgram reported a fatal error CODE"),
        (ServerError("C", "two  spaces"), "Deepgram reported a fatal error C: two  spaces"),
        (RequestError("C", "ends with a colon:"), "request refused: C: ends with a colon:"),
    ],
    ids=["no-code", "no-description", "double-space", "trailing-colon"],
)
def test_str_reproduces_the_server_text_verbatim(error: DeepgramError, expected: str) -> None:
    assert str(error) == expected


# --- reason codes ----------------------------------------------------------------


@pytest.mark.parametrize("path", CLOSE_FIXTURES, ids=lambda p: p.name)
def test_reason_code_of_captured_close_frames(path: Path) -> None:
    frame = json.loads(path.read_text())
    reason = frame["close_reason"]
    match = re.search(r"dpgr\.am/([a-z]+)(\d{4})", reason)
    expected = f"{match.group(1).upper()}-{match.group(2)}" if match else None
    assert reason_code(reason) == expected
    error = ConnectionClosedError(frame["close_code"], reason)
    assert error.reason_code == expected
    assert pickle.loads(pickle.dumps(error)).reason_code == expected


def test_the_captures_hold_both_kinds_of_reason() -> None:
    codes = {reason_code(json.loads(p.read_text())["close_reason"]) for p in CLOSE_FIXTURES}
    assert {"NET-0001", "NET-0000", None} <= codes


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("NET-0001", "NET-0001"),
        ("DATA-0000: could not detect the audio format", "DATA-0000"),
        ("closing (NET-0000)", "NET-0000"),
        ("See https://dpgr.am/net0001", "NET-0001"),
        ("See https://dpgr.am/net0001.", "NET-0001"),
        ("See https://dpgr.am/data-0000", "DATA-0000"),
        ("bad audio, see dpgr.am/data0000 and NET-0001", "DATA-0000"),  # the first one wins
        ("", None),
        (None, None),
        ("normal closure", None),
        ("NET-00012", None),
        ("net-0001", None),
        ("see https://dpgr.am/net001", None),
    ],
)
def test_reason_code(reason: str | None, code: str | None) -> None:
    assert reason_code(reason) == code
    assert ConnectionClosedError(1011, reason).reason_code == code


PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz .,;:!?()'\"", max_size=40)


@settings(deadline=None)
@given(
    before=PROSE,
    after=PROSE,
    letters=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6),
    digits=st.from_regex(r"\A[0-9]{4}\Z"),
    as_link=st.booleans(),
)
def test_reason_code_is_found_in_any_sentence(
    before: str, after: str, letters: str, digits: str, as_link: bool
) -> None:
    token = f"https://dpgr.am/{letters.lower()}{digits}" if as_link else f"{letters}-{digits}"
    assert reason_code(f"{before} {token} {after}") == f"{letters}-{digits}"


@settings(deadline=None)
@given(reason=PROSE)
def test_prose_without_a_code_has_no_reason_code(reason: str) -> None:
    assert reason_code(reason) is None


def test_connection_dead_error_is_a_1006_close_without_a_code() -> None:
    error = ConnectionDeadError("no pong within 10 s", "r")
    assert isinstance(error, ConnectionClosedError)
    assert (error.code, error.reason, error.reason_code) == (1006, "no pong within 10 s", None)


# --- HandshakeError bodies -------------------------------------------------------

#: err_code / err_msg each fixture body must give.
HANDSHAKE_EXPECTED: dict[str, tuple[str | None, str | None]] = {
    "ErrorBody-1.json": (
        "INVALID_QUERY_PARAMETER",
        "Failed to deserialize query parameters: invalid value: integer `0`, "
        "expected a nonzero u32",
    ),
    "ErrorBody-2.json": ("Bad Request", "Invalid query string."),
    "ErrorBody-3.json": ("INVALID_AUTH", "Invalid credentials."),
    "ErrorBody-4.json": ("INVALID_JSON", "Invalid JSON submitted."),
    "ErrorBody-5.json": ("INVALID_AUTH", "Invalid credentials."),
    "ErrorBody-6.json": (
        "INSUFFICIENT_PERMISSIONS",
        "Project does not have access to the requested model.",
    ),
    "ErrorBody-7.json": ("PROJECT_NOT_FOUND", "Project not found."),
    "ErrorBody-8.json": ("TOO_MANY_REQUESTS", "Too many requests. Please try again later"),
    "ErrorBody-9.json": ("Bad Request", "Bad Request: No such model/version combination found."),
    "ErrorBody-10.json": ("Too Many Requests", "Please try again later."),
}
#: The shape the 2025 docs' asyncapi describes ({error_code: int, error_message}); schema-derived.
ASYNCAPI_SHAPE = "ErrorBody-11.json"


def test_every_handshake_fixture_has_an_expectation() -> None:
    assert {p.name for p in HANDSHAKE_FIXTURES} == {*HANDSHAKE_EXPECTED, ASYNCAPI_SHAPE}


@pytest.mark.parametrize(
    "path",
    [p for p in HANDSHAKE_FIXTURES if p.name in HANDSHAKE_EXPECTED],
    ids=lambda p: p.name,
)
def test_handshake_error_reads_the_error_body(path: Path) -> None:
    body = json.loads(path.read_text())
    err_code, err_msg = HANDSHAKE_EXPECTED[path.name]
    error = HandshakeError("wss://h/v1/listen", 400, body=body)
    assert (error.err_code, error.err_msg) == (err_code, err_msg)
    assert error.body == body
    text = str(error)
    assert "400" in text
    assert err_code is not None
    assert err_code in text
    assert err_msg is not None
    assert err_msg in text
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.err_code, clone.err_msg) == (err_code, err_msg)
    # A text body (not JSON) has no code or message, and that is fine.
    plain = HandshakeError("wss://h/v1/listen", 400, body=path.read_text())
    assert (plain.err_code, plain.err_msg) == (None, None)


def test_handshake_error_reads_the_asyncapi_error_shape() -> None:
    body = json.loads((FIXTURES / "handshake" / ASYNCAPI_SHAPE).read_text())
    error = HandshakeError("wss://h/v1/listen", 401, body=body)
    assert error.err_msg == "Invalid credentials."
    assert "Invalid credentials." in str(error)


def test_dg_error_header_wins_over_the_body_in_str() -> None:
    body = {"err_code": "INVALID_AUTH", "err_msg": "from the body"}
    error = HandshakeError("wss://h", 401, dg_error="from the header", body=body)
    assert "from the header" in str(error)
    assert error.err_msg == "from the body"


@pytest.mark.parametrize(
    "body",
    [{"err_code": 401, "err_msg": ["x"]}, {"err_code": None}, {}, [], "text", None],
    ids=repr,
)
def test_odd_bodies_give_no_code_and_no_crash(body: Any) -> None:
    error = HandshakeError("wss://h", 500, body=body)
    assert (error.err_code, error.err_msg) == (None, None)
    assert "500" in str(error)


# --- the public tree and the exports ---------------------------------------------


def diagram() -> dict[str, str | None]:
    """Class name -> parent name, as drawn in ``dgtrio._errors``' module docstring."""
    doc = _errors.__doc__
    assert doc is not None
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "DeepgramError")
    root_column = lines[start].index("DeepgramError")
    parents: dict[str, str | None] = {"DeepgramError": None}
    stack = ["DeepgramError"]
    for line in lines[start + 1 :]:
        match = re.match(r"^([ │├└─]*)([A-Z]\w+)", line)
        if not line.strip() or match is None:
            break
        depth = (match.start(2) - root_column) // 4
        assert depth >= 1, line
        del stack[depth:]
        parents[match.group(2)] = stack[-1]
        stack.append(match.group(2))
    return parents


def test_the_diagram_is_the_tree() -> None:
    drawn = diagram()
    assert set(drawn) == set(_errors.__all__)
    for name, parent in drawn.items():
        cls = getattr(_errors, name)
        if parent is None:
            assert cls.__bases__ == (Exception,)
            continue
        tree_bases = [b for b in cls.__bases__ if issubclass(b, DeepgramError)]
        assert tree_bases == [getattr(_errors, parent)], name


def test_the_diagram_parser_reads_nesting() -> None:
    drawn = diagram()
    assert drawn["InsecureTransportError"] == "ConfigurationError"
    assert drawn["SessionClosedError"] == "ProtocolError"
    assert drawn["InternalError"] == "DeepgramError"
    assert len(drawn) == 14


def test_errors_module_all_lists_every_exception_class() -> None:
    defined = {
        name
        for name, value in vars(_errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert set(_errors.__all__) == defined
    assert set(_errors.__all__) <= set(dgtrio.__all__)


def test_errors_also_inherit_the_builtin_they_resemble() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(AckTimeoutError, TimeoutError)


def test_all_matches_the_exports() -> None:
    assert len(dgtrio.__all__) == len(set(dgtrio.__all__))
    exported = {
        name
        for name, value in vars(dgtrio).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert exported | {"__version__"} == set(dgtrio.__all__)
    namespace: dict[str, Any] = {}
    exec("from dgtrio import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(dgtrio.__all__)


@pytest.mark.parametrize("name", [n for n in dgtrio.__all__ if n != "__version__"])
def test_public_names_live_in_dgtrio(name: str) -> None:
    value = getattr(dgtrio, name)
    assert value.__module__ == "dgtrio"
    if isinstance(value, type):
        # The rewritten __module__ still finds the class: pickling by reference works.
        assert pickle.loads(pickle.dumps(value)) is value
        # Aliases (AsyncDeepgramClient) are fine; the class's own name is public too.
        assert getattr(dgtrio, value.__qualname__) is value


def test_version_is_a_string() -> None:
    assert isinstance(dgtrio.__version__, str)
    assert dgtrio.__version__
