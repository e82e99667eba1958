"""The fault table: what each socket does when the server misbehaves.

One row per socket and fault, with the documented outcome twice: with
reconnect off (the default) and on (``reconnect=ReconnectPolicy(...)``; the
agent has no reconnect, its "on" column is what the application does with
:meth:`~dgtrio.agent.v1.AgentV1Session.resume_settings`). Every outcome is
taken from the documentation (``docs/reconnecting.rst``, the module
docstrings of ``dgtrio/_session.py``, ``dgtrio/_reconnect.py`` and the socket
sessions, protocol.md §1.6-1.8), never from a run; ``tests/test_fault_table.py``
runs each row against the real client and the fake server and asserts it.

An outcome is one of:

* :class:`Raised`: the exact error type and fields, and where it comes out
  (``connect()`` or ``receive()``);
* :class:`Recovered`: a transparent recovery, one ``Reconnecting`` per attempt
  and one ``Reconnected``, with nothing lost, nothing twice and one timeline
  (speak: flushes that were being spoken are reported lost, as documented);
* :class:`Delivered`: an item in the event stream at the frame's position
  (a ``MessageDecodeError`` raised by ``receive()``, an ``UnknownMessage``,
  an ``AudioChunk``), the conversation otherwise unchanged;
* :class:`Ended`: a normal end of the stream, no error and no reconnect;
* :class:`Resumed` (agent): raised, then continued by the application on a
  new session with ``resume_settings()``;
* :class:`Undetected`: nothing notices the fault with the default options;
* :class:`Opened` (a refused first handshake, with a policy): ``connect()``
  retries with the backoff and the session opens as without the fault.

``python -m tests.faults > docs/_generated/faults.rst`` writes the table for
the docs; a test checks that the file is up to date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

import attrs

from dgtrio import (
    AudioChunk,
    ConnectionClosedError,
    ConnectionDeadError,
    HandshakeError,
    MessageDecodeError,
    ServerError,
    UnknownMessage,
    is_retryable,
)
from dgtrio.speak.v1 import CharacterRateLimitError, ConnectionTimeLimitError, TextTooLongError
from dgtrio.testing import (
    CloseConnection,
    DropConnection,
    Fault,
    RejectHandshake,
    SendFrames,
    Stall,
)

__all__ = [
    "FAULTS",
    "POLICY_TEXT",
    "ROWS",
    "SOCKETS",
    "Delivered",
    "Ended",
    "Err",
    "FaultSpec",
    "Opened",
    "Raised",
    "Recovered",
    "Resumed",
    "Row",
    "Undetected",
    "render",
]

#: The sockets, as ``client.<socket>.connect``.
SOCKETS = ("listen.v1", "listen.v2", "speak.v1", "agent.v1")
SOCKET_TITLES = {
    "listen.v1": "listen v1",
    "listen.v2": "listen v2 (Flux)",
    "speak.v1": "speak v1",
    "agent.v1": "agent v1",
}
#: Where each socket's standard conversation is broken (the fault point).
FAULT_POINTS = {
    "listen.v1": "after the first final result",
    "listen.v2": "after the first ``EndOfTurn``",
    "speak.v1": "after the first ``Flushed``",
    "agent.v1": "after the agent's first reply",
}
#: The policy of the "reconnect on" column (test_fault_table.POLICY builds it).
POLICY_TEXT = "ReconnectPolicy(min_uptime=0.5) with the jitter pinned to 1"


class _Placeholder:
    """A value known only when the row runs."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


#: The ``dg-request-id`` of the connection that failed.
REQUEST_ID: Any = _Placeholder("<request id of the failed connection>")
#: Any non-empty tuple of strings (the JSON parser's own words).
SOME_TEXT: Any = _Placeholder("<the parser's message>")

# --- faults ---------------------------------------------------------------------

#: The fake server's words when nothing came from the client for 10 s (listen v1).
NET_0001_REASON = (
    "Deepgram did not receive audio data or a text message within the timeout window. "
    "See https://dpgr.am/net0001"
)
GARBAGE_TEXT = "\x00{not json at all"
GARBAGE_BINARY = b"\x00\xffdgtrio garbage\xfe"
#: A known message type with one field of the wrong type, per socket.
WRONG_TYPES = {
    "listen.v1": json.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": 0.5,
            "start": "zero",
            "channel": {"alternatives": [{"transcript": "", "confidence": 1.0, "words": []}]},
            "is_final": False,
        }
    ),
    "listen.v2": json.dumps(
        {
            "type": "TurnInfo",
            "sequence_id": 0,
            "event": "Update",
            "turn_index": "first",
            "audio_window_start": 0.0,
            "audio_window_end": 0.1,
            "transcript": "",
            "end_of_turn_confidence": 0.0,
            "words": [],
            "request_id": "dgtrio",
        }
    ),
    "speak.v1": json.dumps(
        {
            "type": "Metadata",
            "request_id": 7,
            "model_name": "aura-2-asteria-en",
            "model_version": "1",
            "model_uuid": "dgtrio",
        }
    ),
    "agent.v1": json.dumps({"type": "ConversationText", "role": "assistant", "content": 42}),
}
WRONG_TYPES_ERRORS = {
    "listen.v1": ("Results", "invalid value for type, expected float @ $.start"),
    "listen.v2": ("TurnInfo", "invalid value for type, expected int @ $.turn_index"),
    "speak.v1": ("Metadata", "invalid value for type, expected str @ $.request_id"),
    "agent.v1": ("ConversationText", "invalid value for type, expected str @ $.content"),
}

#: Handshake refusals as Deepgram words them (protocol.md §1.6): err_code, dg-error.
HANDSHAKES: dict[int, tuple[str, str]] = {
    400: ("INVALID_QUERY_PARAMETER", "Failed to deserialize query parameters: unknown field"),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: ("ASR_PAYMENT_REQUIRED", "Project does not have enough credits."),
    403: ("INSUFFICIENT_PERMISSIONS", "The key does not have access to this model."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
}


def _rejection(status: int) -> RejectHandshake:
    code, text = HANDSHAKES[status]
    request_id = f"dgtrio-{status}"
    body = {"err_code": code, "err_msg": text, "request_id": request_id}
    return RejectHandshake(
        status,
        {"dg-error": text, "dg-request-id": request_id},
        json.dumps(body).encode(),
    )


#: Server faults for a fault point: the number of messages the server sent by then.
Build: TypeAlias = Callable[[int], tuple[Fault, ...]]


@attrs.frozen
class FaultSpec:
    """One fault, as the fake server injects it.

    Attributes:
        key: A short name (test ids).
        title: What happens, for the docs.
        build: The server faults, given the fault point.
        point: Which fault point of the conversation (``"reply"``: the
            socket's, see :data:`FAULT_POINTS`; ``"audio"``: speak's first
            audio chunk; ``"open"``: right after the handshake).
        every_connection: The fault hits every connection, not just the first.
        handshake: The HTTP status when the fault is a refused handshake.
    """

    key: str
    title: str
    build: Build
    point: Literal["reply", "audio", "open"] = "reply"
    every_connection: bool = False
    handshake: int | None = None


def _drop(mid_frame: bool) -> Build:
    return lambda after: (DropConnection(after=after, mid_frame=mid_frame),)


def _close(code: int, reason: str) -> Build:
    return lambda after: (CloseConnection(code, reason, after=after),)


def _frames(*frames: str | bytes) -> Build:
    return lambda after: (SendFrames(frames, after=after),)


def _stall(*, reading: bool) -> Build:
    return lambda after: (Stall(after=after, reading=reading, writing=not reading),)


def _refuse(status: int) -> Build:
    return lambda after: (_rejection(status),)


def _faults(socket: str) -> list[FaultSpec]:
    faults = [
        FaultSpec("drop", "TCP connection dropped", _drop(False)),
        FaultSpec("drop-mid-frame", "TCP connection dropped in the middle of a frame", _drop(True)),
        FaultSpec("close-1000", "close 1000 (normal) before the end", _close(1000, "")),
        FaultSpec("close-1008", "close 1008 ``DATA-0000``", _close(1008, "DATA-0000")),
    ]
    if socket == "speak.v1":
        faults += [
            FaultSpec("close-1008-rate", "close 1008 ``DATA-0001``", _close(1008, "DATA-0001")),
            FaultSpec("close-1009", "close 1009 ``BIG-0001``", _close(1009, "BIG-0001")),
        ]
    faults += [
        FaultSpec("close-1011", "close 1011 ``NET-0001``", _close(1011, "NET-0001")),
        FaultSpec("close-1012", "close 1012 (service restart)", _close(1012, "service restart")),
    ]
    if socket == "speak.v1":
        faults += [
            FaultSpec("close-1011-limit", "close 1011 ``NET-0003``", _close(1011, "NET-0003")),
            FaultSpec(
                "drop-speaking",
                "TCP connection dropped while a flush is spoken",
                _drop(False),
                point="audio",
            ),
        ]
    faults += [
        FaultSpec("stall-reading", "server stops reading", _stall(reading=True)),
        FaultSpec("stall-writing", "server stops writing", _stall(reading=False)),
        FaultSpec("garbage-text", "garbage text frame", _frames(GARBAGE_TEXT)),
        FaultSpec("garbage-binary", "garbage binary frame", _frames(GARBAGE_BINARY)),
        FaultSpec(
            "wrong-types",
            f"``{WRONG_TYPES_ERRORS[socket][0]}`` with a field of the wrong type",
            _frames(WRONG_TYPES[socket]),
        ),
    ]
    faults += [
        FaultSpec(
            f"handshake-{status}",
            f"handshake refused: HTTP {status}",
            _refuse(status),
            point="open",
            handshake=status,
        )
        for status in HANDSHAKES
    ]
    faults.append(
        FaultSpec(
            "accept-close",
            "accepted, then closed at once (1011 ``NET-0000``), every time",
            _close(1011, "NET-0000"),
            point="open",
            every_connection=True,
        )
    )
    return faults


FAULTS = {socket: _faults(socket) for socket in SOCKETS}

# --- outcomes -------------------------------------------------------------------


@attrs.frozen
class Err:
    """An error: its exact type and fields.

    Attributes:
        error: The exact class.
        fields: Attribute values (:data:`REQUEST_ID` and :data:`SOME_TEXT` are
            placeholders for values known only at run time).
        details: For :class:`~dgtrio.ConnectionDeadError`, the ``detail`` it
            may carry: which liveness check noticed first depends on the
            kernel's socket buffers (a send blocks once they are full).
    """

    error: type[BaseException]
    fields: Mapping[str, Any] = attrs.field(factory=dict)
    details: tuple[str, ...] = ()

    @property
    def retryable(self) -> bool:
        """What :func:`dgtrio.is_retryable` says of it."""
        return is_retryable(self.example())

    def example(self) -> BaseException:
        """An instance with these fields (for classification)."""
        fields = self.fields
        if issubclass(self.error, HandshakeError):
            return self.error("ws://example", fields["status"])
        if issubclass(self.error, ConnectionDeadError):
            return self.error(self.details[0] if self.details else "dead")
        if issubclass(self.error, ConnectionClosedError):
            return self.error(fields["code"], fields.get("reason"))
        if issubclass(self.error, ServerError):
            return self.error(fields.get("code"), fields.get("description"))
        return self.error()


@attrs.frozen
class Raised:
    """The session raises ``error``.

    Attributes:
        error: The error.
        where: ``"connect"`` (entering ``async with``) or ``"stream"``
            (``receive()``, after the events received before it).
        reconnecting: ``Reconnecting`` events delivered before it.
        reconnected: ``Reconnected`` events delivered before it.
        gave_up: The attempts counted in the note "dgtrio gave up reconnecting
            after N attempt(s)", when the policy gave up.
    """

    error: Err
    where: Literal["connect", "stream"] = "stream"
    reconnecting: int = 0
    reconnected: int = 0
    gave_up: int | None = None


@attrs.frozen
class Recovered:
    """Transparent recovery.

    One ``Reconnecting`` per attempt (``causes``: the failure each reports),
    then one ``Reconnected``; the finals, turns, flushed text or replies are
    exactly those of a conversation without the fault, with the same times.

    Attributes:
        causes: The ``cause`` of each ``Reconnecting``, in order.
        lost_flushes: Speak: ``Reconnected.lost_flushes`` (their ``flush()``
            raised ``FlushLostError``; the application sent their text again).
    """

    causes: tuple[Err, ...]
    lost_flushes: tuple[int, ...] = ()


@attrs.frozen
class Delivered:
    """An item in the event stream at the bad frame's position; nothing else changes.

    Attributes:
        item: Its class (a ``MessageDecodeError`` is raised by ``receive()``,
            and the next ``receive()`` goes on).
        fields: Its attribute values.
    """

    item: type
    fields: Mapping[str, Any]


@attrs.frozen
class Ended:
    """The stream ends normally at the close: no error, no reconnect.

    What the server had not finished is not delivered, and later sends raise
    :class:`~dgtrio.SessionClosedError`.
    """


@attrs.frozen
class Resumed:
    """Agent: raised as without reconnect; the application continues the conversation.

    It opens a new session with ``resume_settings()`` (the settings in force,
    the history as context, no greeting) and the remaining turns are answered
    as without the fault.
    """

    error: Err


@attrs.frozen
class Undetected:
    """Nothing notices the fault with the default options; the application's
    own timeout must (``note`` says what would)."""

    note: str


@attrs.frozen
class Opened:
    """``connect()`` retried the refused handshake and the session opened.

    Nothing had been sent, so nothing is replayed and no event announces it;
    the conversation is exactly as without the fault.

    Attributes:
        retries: Handshakes refused before the one that succeeded.
    """

    retries: int


Outcome: TypeAlias = Raised | Recovered | Delivered | Ended | Resumed | Undetected | Opened


@attrs.frozen
class Row:
    """A socket, a fault, and the outcome with reconnect off and on."""

    socket: str
    fault: FaultSpec
    off: Outcome
    on: Outcome
    #: A refused handshake with reconnect on: the first ``connect()`` (``on``
    #: is then a reconnect that meets the refusal).
    on_connect: Outcome | None = None

    @property
    def id(self) -> str:
        return f"{self.socket}-{self.fault.key}"


# --- the expected outcomes ---------------------------------------------------------


def _closed(
    code: int,
    reason: str | None,
    reason_code: str | None = None,
    error: type[ConnectionClosedError] = ConnectionClosedError,
) -> Err:
    return Err(
        error,
        {"code": code, "reason": reason, "reason_code": reason_code, "request_id": REQUEST_ID},
    )


def _dead(*details: str) -> Err:
    return Err(
        ConnectionDeadError, {"code": 1006, "reason_code": None, "request_id": REQUEST_ID}, details
    )


def _handshake(status: int) -> Err:
    code, text = HANDSHAKES[status]
    return Err(
        HandshakeError,
        {
            "status": status,
            "dg_error": text,
            "request_id": f"dgtrio-{status}",
            "err_code": code,
            "err_msg": text,
        },
    )


DROPPED = _closed(1006, None)
SEND_BOUND = "a frame could not be sent within 30 s: the server stopped reading"
NO_PONG = "no pong within 20 s"
CLOSE_UNANSWERED = "the close message got no reply from the server for 10 s"


def _expected(socket: str, fault: FaultSpec) -> tuple[Outcome, Outcome]:
    """The documented outcome of ``fault`` on ``socket``: (reconnect off, reconnect on)."""
    agent = socket == "agent.v1"
    speak = socket == "speak.v1"
    key = fault.key

    def transient(error: Err, lost: tuple[int, ...] = ()) -> tuple[Outcome, Outcome]:
        # Retried (docs: "What is retried"); the agent resumes by hand.
        off = Raised(error)
        return off, Resumed(error) if agent else Recovered((error,), lost)

    def final(error: Err) -> tuple[Outcome, Outcome]:
        return Raised(error), Raised(error)

    if key in ("drop", "drop-mid-frame"):
        return transient(DROPPED)
    if key == "drop-speaking":
        return transient(DROPPED, lost=(0,))
    if key == "close-1000":
        return Ended(), Ended()
    if key == "close-1008":
        return final(_closed(1008, "DATA-0000", "DATA-0000"))
    if key == "close-1008-rate":
        return final(_closed(1008, "DATA-0001", "DATA-0001", CharacterRateLimitError))
    if key == "close-1009":
        return final(_closed(1009, "BIG-0001", "BIG-0001", TextTooLongError))
    if key == "close-1011":
        return transient(_closed(1011, "NET-0001", "NET-0001"))
    if key == "close-1011-limit":
        return transient(_closed(1011, "NET-0003", "NET-0003", ConnectionTimeLimitError))
    if key == "close-1012":
        return transient(_closed(1012, "service restart"))
    if key in ("stall-reading", "stall-writing"):
        return _stalled(socket, reading=key == "stall-reading")
    if key == "garbage-text":
        item = Delivered(
            MessageDecodeError,
            {
                "summary": "invalid JSON",
                "raw": GARBAGE_TEXT,
                "message_type": None,
                "errors": SOME_TEXT,
            },
        )
        return item, item
    if key == "garbage-binary":
        if speak or agent:  # binary frames are the agent's audio: nothing tells them apart
            rate = 24000 if speak else 16000
            chunk = {"data": GARBAGE_BINARY, "encoding": "linear16", "sample_rate": rate}
            return Delivered(AudioChunk, chunk), Delivered(AudioChunk, chunk)
        unknown = Delivered(UnknownMessage, {"type": None, "raw": {}, "data": GARBAGE_BINARY})
        return unknown, unknown
    if key == "wrong-types":
        message_type, error = WRONG_TYPES_ERRORS[socket]
        item = Delivered(
            MessageDecodeError,
            {
                "summary": f"malformed {message_type} message",
                "raw": WRONG_TYPES[socket],
                "message_type": message_type,
                "errors": (error,),
            },
        )
        return item, item
    if fault.handshake is not None:
        status = fault.handshake
        refused = _handshake(status)
        off = Raised(refused, where="connect")
        if agent:
            return off, off
        # On: a reconnect that meets the refusal retries it or not (the first
        # connect() does the same: see _at_connect).
        if is_retryable(refused.example()):
            return off, Recovered((DROPPED, refused))
        return off, Raised(refused, reconnecting=1)
    if key == "accept-close":
        closed = _closed(1011, "NET-0000", "NET-0000")
        if socket in ("listen.v2", "agent.v1"):
            # Closed before the hello: connect() raises it, with or without a policy.
            return Raised(closed, where="connect"), Raised(closed, where="connect")
        # Each new connection lives less than min_uptime: a failed attempt each.
        return Raised(closed), Raised(closed, reconnecting=5, reconnected=5, gave_up=6)
    raise AssertionError(f"no expected outcome for {socket} {key}")


def _stalled(socket: str, *, reading: bool) -> tuple[Outcome, Outcome]:
    if socket == "listen.v1":
        if reading:
            # The server hears nothing for 10 s and closes with NET-0001 (protocol.md
            # §1.7) before the watchdog's 10 s of unanswered audio or CloseStream.
            error = _closed(1011, NET_0001_REASON, "NET-0001")
        else:
            # Its replies stop and, blocked on them, its reading: the send bound or
            # the watchdog on CloseStream (with interim_results, 10 s).
            error = _dead(SEND_BOUND, CLOSE_UNANSWERED)
        return Raised(error), Recovered((error,))
    if socket == "listen.v2":
        # Flux: the watchdog (10 s), the send bound or the ping, whichever is first.
        error = _dead(SEND_BOUND, NO_PONG, CLOSE_UNANSWERED)
        return Raised(error), Recovered((error,))
    if socket == "speak.v1":
        # Idle after its Flush: a ping after 10 s, no pong within 20 s. The Flush
        # was on the wire and unanswered: lost (docs: "Speak").
        error = _dead(NO_PONG)
        return Raised(error), Recovered((error,), lost_flushes=(1,))
    if reading:
        # The agent server hears nothing (not even KeepAlive) and ends the session.
        error = Err(
            ServerError,
            {
                "code": "CLIENT_MESSAGE_TIMEOUT",
                "description": "No message was received from the client within 10 seconds.",
            },
        )
        return Raised(error), Raised(error)
    # Its replies stop, and so do its pongs: after 20 s without an outgoing
    # frame (KeepAlive does not count) a ping goes out, and none comes back.
    error = _dead(NO_PONG)
    return Raised(error), Resumed(error)


def _at_connect(socket: str, fault: FaultSpec, off: Outcome) -> Outcome | None:
    """A refused first handshake with a policy: retried if transient (rule 8 of _session.py)."""
    if fault.handshake is None or socket == "agent.v1":
        return None
    if _handshake(fault.handshake).retryable:
        return Opened(retries=1)
    return off


def _row(socket: str, fault: FaultSpec) -> Row:
    off, on = _expected(socket, fault)
    return Row(socket, fault, off, on, _at_connect(socket, fault, off))


ROWS: tuple[Row, ...] = tuple(_row(socket, fault) for socket in SOCKETS for fault in FAULTS[socket])

# --- the docs -------------------------------------------------------------------


def _fields(err: Err) -> str:
    parts = []
    for name, value in err.fields.items():
        if value is REQUEST_ID or value is SOME_TEXT or name == "request_id":
            continue
        if name == "reason" and value is not None and len(value) > 30:
            value = value[:27] + "..."
        parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _err(err: Err) -> str:
    text = f"``{err.error.__name__}``"
    fields = _fields(err)
    if fields:
        text += f" ({fields})"
    if err.details:
        text += " (" + " / ".join(f"*{detail}*" for detail in err.details) + ")"
    return text


def _describe(outcome: Outcome, *, agent: bool = False) -> str:
    if isinstance(outcome, Raised):
        where = "``connect()``" if outcome.where == "connect" else "``receive()``"
        text = f"{_err(outcome.error)} raised by {where}"
        if outcome.gave_up is not None:
            text = (
                f"{outcome.reconnected} reconnections, each closed at once; then {text}, "
                f"noted *gave up after {outcome.gave_up} attempt(s)*"
            )
        elif outcome.reconnecting:
            text = f"one ``Reconnecting``, then {text}"
        if outcome.gave_up is None:
            text += " [retryable]" if outcome.error.retryable else " [final]"
        return text
    if isinstance(outcome, Recovered):
        causes = ", then ".join(_err(cause) for cause in outcome.causes)
        attempts = len(outcome.causes)
        text = "transparent recovery" + (f" after {attempts} attempts" if attempts > 1 else "")
        text += f" (cause: {causes})"
        if outcome.lost_flushes:
            flushes = ", ".join(f"#{i}" for i in outcome.lost_flushes)
            text += (
                f"; flush {flushes} lost (``FlushLostError``, ``Reconnected.lost_flushes``),"
                " its text sent again"
            )
        return text
    if isinstance(outcome, Delivered):
        shown = {k: v for k, v in outcome.fields.items() if k not in ("raw", "data", "errors")}
        fields = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        how = "raised by ``receive()``" if outcome.item is MessageDecodeError else "an event"
        errors = outcome.fields.get("errors")
        if isinstance(errors, tuple):
            fields += f", errors={list(errors)!r}"
        return (
            f"delivered in the stream at its position: ``{outcome.item.__name__}`` ({fields}),"
            f" {how}; the stream goes on"
        )
    if isinstance(outcome, Ended):
        return (
            "the stream ends normally (no error, no reconnect); sends raise ``SessionClosedError``"
        )
    if isinstance(outcome, Resumed):
        return (
            f"{_err(outcome.error)} raised (no automatic reconnect); the application"
            " resumes with ``resume_settings()`` on a new session and the conversation goes on"
        )
    if isinstance(outcome, Opened):
        return (
            f"retried after the backoff; the session opens ({outcome.retries} refusal,"
            " no events: nothing was sent yet)"
        )
    return f"not detected: {outcome.note}"


def _on_cell(row: Row) -> str:
    if row.socket == "agent.v1" and row.on == row.off:
        return "no reconnect: as off"
    if row.on_connect is not None:
        first = "as off" if row.on_connect == row.off else _describe(row.on_connect)
        return f"at ``connect()``: {first}; on a reconnect: {_describe(row.on)}"
    if row.on == row.off:
        return "as off"
    return _describe(row.on)


def totals(rows: tuple[Row, ...] = ROWS) -> dict[str, int]:
    """Counts over every (row, reconnect) cell."""
    counts = {
        "faults tried": 0,
        "transparent recoveries": 0,
        "typed errors": 0,
        "delivered in the stream": 0,
        "normal ends": 0,
        "resumed by the application": 0,
        "opened after a retry": 0,
        "not detected": 0,
    }
    kinds = {
        Recovered: "transparent recoveries",
        Raised: "typed errors",
        Delivered: "delivered in the stream",
        Ended: "normal ends",
        Resumed: "resumed by the application",
        Opened: "opened after a retry",
        Undetected: "not detected",
    }
    for row in rows:
        cells = (row.off, row.on) if row.on_connect is None else (row.off, row.on_connect, row.on)
        for outcome in cells:
            counts["faults tried"] += 1
            counts[kinds[type(outcome)]] += 1
    return counts


def _cell(text: str) -> str:
    return text.replace("\n", " ")


def render(rows: tuple[Row, ...] = ROWS) -> str:
    """The table as reStructuredText (``docs/_generated/faults.rst``)."""
    counts = totals(rows)
    lines = [
        ".. This file is generated from tests/faults.py: do not edit it.",
        "   Regenerate with: python -m tests.faults > docs/_generated/faults.rst",
        "",
        "Each row is a test in ``tests/test_fault_table.py``: the real client",
        "against the fake server (``dgtrio.testing``) over loopback, under trio's",
        "autojump clock, with the default options. Every socket holds a standard",
        "conversation (listen: spoken sentences in real time, 20 ms frames, then",
        "``CloseStream``; Flux: the same, turn by turn; speak: text, flush, text,",
        "flush, close; agent: three user messages and their replies), broken once",
        "by the fault: "
        + "; ".join(f"{SOCKET_TITLES[s]} {FAULT_POINTS[s]}" for s in SOCKETS)
        + ". Reconnect on is "
        + f"``{POLICY_TEXT}``.",
        "A transparent recovery delivers exactly the finals, turns or spoken text of",
        "the same conversation without the fault, with the same timestamps. [final]",
        "and [retryable] are :func:`dgtrio.is_retryable`'s answer.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 10 18 36 36",
        "",
        "   * - socket",
        "     - fault",
        "     - reconnect off",
        "     - reconnect on",
    ]
    for row in rows:
        lines += [
            f"   * - {SOCKET_TITLES[row.socket]}",
            f"     - {_cell(row.fault.title)}",
            f"     - {_cell(_describe(row.off))}",
            f"     - {_cell(_on_cell(row))}",
        ]
    lines += [
        "",
        f"Faults tried: **{counts['faults tried']}** ({len(rows)} faults, with reconnect"
        " off and on; a refused handshake with reconnect on twice: at ``connect()`` and"
        " on a reconnect).",
        f"Transparent recoveries: **{counts['transparent recoveries']}**."
        f" Typed errors: **{counts['typed errors']}**."
        f" Delivered in the stream: **{counts['delivered in the stream']}**."
        f" Normal ends: **{counts['normal ends']}**."
        f" Resumed by the application (agent): **{counts['resumed by the application']}**."
        f" Opened after a retried handshake: **{counts['opened after a retry']}**."
        f" Not detected: **{counts['not detected']}**.",
        "Finals, turns or flushed text lost in a recovery: **0**; delivered twice: **0**.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
