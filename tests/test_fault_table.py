"""Every row of the fault table (``tests/faults.py``), against the real client and the fake server.

Each test holds one socket's standard conversation twice: once healthy (the
baseline: what the application should end up with, and where the fault point
falls in the server's messages), once broken by the row's fault, with
reconnect off or on. The outcome is asserted exactly as the table documents
it, and ``docs/_generated/faults.rst`` is checked to be the table as rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
import trio
import trio.testing

from dgtrio import (
    AudioChunk,
    ConnectionDeadError,
    DeepgramClient,
    DeepgramError,
    MessageDecodeError,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    SessionClosedError,
    is_retryable,
)
from dgtrio.listen.v1 import Results
from dgtrio.listen.v2 import TurnEvent, TurnInfo
from dgtrio.speak.v1 import Flushed, FlushLostError
from dgtrio.testing import DeepgramServer, DropConnection, speech
from tests import faults
from tests.faults import (
    GARBAGE_BINARY,
    REQUEST_ID,
    ROWS,
    SOME_TEXT,
    Delivered,
    Ended,
    Err,
    Opened,
    Outcome,
    Raised,
    Recovered,
    Resumed,
    Row,
    Undetected,
)
from tests.test_agent_v1 import assistant_said, make_settings
from tests.test_resilience_listen_v1 import RAW, SENTENCES, finals
from tests.test_resilience_listen_v2 import FLUX, STEP, turns
from tests.test_resilience_speak_v1 import AURA, flushed_speech

#: The policy of the "reconnect on" column (``faults.POLICY_TEXT``).
POLICY = ReconnectPolicy(jitter=lambda: 1.0, min_uptime=0.5)
#: Virtual seconds after which a conversation is declared hung.
HUNG_AFTER = 600.0
GENERATED = Path(__file__).parent.parent / "docs" / "_generated" / "faults.rst"


# --- one conversation's record ------------------------------------------------------


@attrs.define
class Trace:
    """What the application saw in one conversation (or in two, when the agent resumed)."""

    events: list[Any] = attrs.field(factory=list)
    #: The session's failure, and where it came out: "connect" or "stream".
    error: BaseException | None = None
    where: str | None = None
    #: What the sending side was told (the reading side reports failures).
    send_errors: list[BaseException] = attrs.field(factory=list)
    #: Raised when leaving ``async with`` after the failure had been delivered.
    exit_error: BaseException | None = None
    hung: bool = False
    #: Agent: the events of the session resumed with ``resume_settings()``.
    resumed: list[Any] = attrs.field(factory=list)


class Reader:
    """Reads a session in the background; malformed frames are recorded in place."""

    def __init__(self, session: Any, trace: Trace) -> None:
        self.session = session
        self.trace = trace
        self.events: list[Any] = []
        self.done = trio.Event()
        self._changed = trio.Event()

    async def run(self) -> None:
        try:
            while True:
                try:
                    event = await self.session.receive()
                except MessageDecodeError as exc:
                    event = exc  # delivered at its position; the stream goes on
                except trio.EndOfChannel:
                    return
                except DeepgramError as exc:
                    self.trace.error, self.trace.where = exc, "stream"
                    return
                self.events.append(event)
                self._changed.set()
                self._changed = trio.Event()
        finally:
            self.done.set()
            self._changed.set()

    async def wait_for(self, predicate: Callable[[Any], bool], count: int = 1) -> bool:
        """Wait until ``count`` events match; ``False`` if the stream ended first."""
        while sum(1 for e in self.events if predicate(e)) < count:
            if self.done.is_set():
                return False
            await self._changed.wait()
        return True


# --- the four conversations ------------------------------------------------------------


class Conversation:
    """A socket's standard conversation, as the table's header describes it."""

    socket: ClassVar[str]

    def connect(
        self, client: DeepgramClient, policy: ReconnectPolicy | None
    ) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def talk(self, session: Any, reader: Reader, trace: Trace) -> None:
        """The application's side; a failure stops it (the reader reports it)."""
        raise NotImplementedError

    def is_point(self, message: Any) -> bool:
        """The message after which the fault strikes (both sides of the wire)."""
        raise NotImplementedError

    def product(self, events: Sequence[Any]) -> list[Any]:
        """What the application ends up with: finals, turns, spoken text, replies."""
        raise NotImplementedError

    async def run(
        self, client: DeepgramClient, policy: ReconnectPolicy | None, *, resume: bool = False
    ) -> Trace:
        trace = Trace()
        with trio.move_on_after(HUNG_AFTER) as scope:
            await self._session(self.connect(client, policy), trace)
        trace.hung = scope.cancelled_caught
        return trace

    async def _session(self, opening: AbstractAsyncContextManager[Any], trace: Trace) -> None:
        reader: Reader | None = None
        try:
            async with opening as session, trio.open_nursery() as nursery:
                reader = Reader(session, trace)
                nursery.start_soon(reader.run)
                try:
                    await self.talk(session, reader, trace)
                except DeepgramError as exc:
                    trace.send_errors.append(exc)
                await reader.done.wait()
        except DeepgramError as exc:
            if reader is None:
                trace.error, trace.where = exc, "connect"
            else:
                trace.exit_error = exc
        finally:
            if reader is not None:
                trace.events.extend(reader.events)


class Listening(Conversation):
    """Spoken sentences in real time, then ``CloseStream``."""

    audio: ClassVar[bytes]
    frame: ClassVar[int]  # bytes of 16 kHz linear16 per send

    async def talk(self, session: Any, reader: Reader, trace: Trace) -> None:
        for offset in range(0, len(self.audio), self.frame):
            await session.send_media(self.audio[offset : offset + self.frame])
            await trio.sleep(self.frame / 32000)
        await session.close_stream()


class ListenV1(Listening):
    socket = "listen.v1"
    audio = b"".join(speech(s, trailing_silence=0.4) for s in SENTENCES)
    frame = 640  # 20 ms

    def connect(
        self, client: DeepgramClient, policy: ReconnectPolicy | None
    ) -> AbstractAsyncContextManager[Any]:
        return client.listen.v1.connect(**RAW, interim_results=True, reconnect=policy)

    def is_point(self, message: Any) -> bool:
        return isinstance(message, Results) and message.is_final and bool(message.transcript)

    def product(self, events: Sequence[Any]) -> list[Any]:
        return finals(list(events))


class ListenV2(Listening):
    socket = "listen.v2"
    audio = b"".join(speech(s, trailing_silence=1.0) for s in SENTENCES)
    frame = STEP  # 80 ms

    def connect(
        self, client: DeepgramClient, policy: ReconnectPolicy | None
    ) -> AbstractAsyncContextManager[Any]:
        return client.listen.v2.connect(**FLUX, reconnect=policy)

    def is_point(self, message: Any) -> bool:
        return isinstance(message, TurnInfo) and message.event == TurnEvent.END_OF_TURN

    def product(self, events: Sequence[Any]) -> list[Any]:
        return turns(list(events))


class SpeakV1(Conversation):
    socket = "speak.v1"
    texts = ("The first sentence is spoken here.", "And then a second one follows it.")

    def connect(
        self, client: DeepgramClient, policy: ReconnectPolicy | None
    ) -> AbstractAsyncContextManager[Any]:
        return client.speak.v1.connect(**AURA, reconnect=policy)

    async def talk(self, session: Any, reader: Reader, trace: Trace) -> None:
        for text in self.texts:
            await session.send_text(text)
            try:
                await session.flush()
            except FlushLostError as exc:
                # Documented: the session goes on; the application says it again.
                trace.send_errors.append(exc)
                await session.send_text(text)
                await session.flush()
        await session.close()

    def is_point(self, message: Any) -> bool:
        return isinstance(message, Flushed)

    def product(self, events: Sequence[Any]) -> list[Any]:
        return flushed_speech(events)


class AgentV1(Conversation):
    socket = "agent.v1"
    messages: tuple[str, ...] = ("one two three", "four five six", "seven eight nine")

    def connect(
        self, client: DeepgramClient, policy: ReconnectPolicy | None
    ) -> AbstractAsyncContextManager[Any]:
        assert policy is None  # the agent has no automatic reconnect
        return client.agent.v1.connect(settings=make_settings())

    async def talk(self, session: Any, reader: Reader, trace: Trace) -> None:
        for count, text in enumerate(self.messages, 1):
            await session.inject_user_message(text)
            if not await reader.wait_for(assistant_said, count):
                return
        await session.aclose()

    async def run(
        self, client: DeepgramClient, policy: ReconnectPolicy | None, *, resume: bool = False
    ) -> Trace:
        trace = Trace()
        with trio.move_on_after(HUNG_AFTER) as scope:
            session_box: list[Any] = []
            opening = client.agent.v1.connect(settings=make_settings())
            await self._session(_Remember(opening, session_box), trace)
            if resume and trace.error is not None and is_retryable(trace.error):
                # Documented: continue on a new session with resume_settings().
                (failed,) = session_box
                answered = self.product(trace.events)
                rest = self.messages[len(answered) :]
                second = Trace()
                resumed = client.agent.v1.connect(settings=failed.resume_settings())
                await AgentV1Rest(rest)._session(resumed, second)
                assert second.error is None, second.error
                trace.resumed = second.events
        trace.hung = scope.cancelled_caught
        return trace

    def is_point(self, message: Any) -> bool:
        return assistant_said(message)

    def product(self, events: Sequence[Any]) -> list[Any]:
        return [e.content for e in events if assistant_said(e)]


class AgentV1Rest(AgentV1):
    """The agent conversation's remaining messages, on a resumed session."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)


class _Remember:
    """An opening context manager that keeps the session it opened."""

    def __init__(self, opening: AbstractAsyncContextManager[Any], box: list[Any]) -> None:
        self.opening = opening
        self.box = box

    async def __aenter__(self) -> Any:
        session = await self.opening.__aenter__()
        self.box.append(session)
        return session

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self.opening.__aexit__(*exc_info)


CONVERSATIONS: dict[str, Conversation] = {
    c.socket: c for c in (ListenV1(), ListenV2(), SpeakV1(), AgentV1())
}


@attrs.frozen
class Baseline:
    """A healthy conversation: its product and where each fault point falls."""

    product: list[Any]
    points: dict[str, int]


_BASELINES: dict[str, Baseline] = {}


async def baseline(
    conversation: Conversation, client: DeepgramClient, server: DeepgramServer
) -> Baseline:
    """The healthy run (computed once per socket; the fake server is deterministic)."""
    cached = _BASELINES.get(conversation.socket)
    if cached is not None:
        return cached
    trace = await conversation.run(client, None)
    assert trace.error is None and not trace.hung and not trace.send_errors, trace
    sent = server.last.sent
    reply = next(i for i, m in enumerate(sent) if conversation.is_point(m))
    audio = next((i for i, m in enumerate(sent) if isinstance(m, bytes)), -1)
    result = Baseline(
        conversation.product(trace.events), {"reply": reply + 1, "audio": audio + 1, "open": 0}
    )
    assert len(result.product) >= 2, result  # the fault leaves something to lose
    _BASELINES[conversation.socket] = result
    return result


# --- checking an outcome ---------------------------------------------------------------


def check_error(actual: BaseException | None, err: Err, request_id: str | None) -> None:
    assert type(actual) is err.error, f"expected {err.error.__name__}, got {actual!r}"
    for name, value in err.fields.items():
        got = getattr(actual, name)
        if value is REQUEST_ID:
            assert got == request_id, (name, got, request_id)
        elif value is SOME_TEXT:
            assert got and all(isinstance(text, str) and text for text in got), (name, got)
        else:
            assert got == value, (name, got, value)
    if err.details:
        assert isinstance(actual, ConnectionDeadError)
        assert actual.detail in err.details, actual.detail
    assert is_retryable(actual) == err.retryable


def of_type(events: Sequence[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def check(
    expected: Outcome,
    trace: Trace,
    base: Baseline,
    conversation: Conversation,
    request_ids: Sequence[str],
) -> None:
    """Assert that ``trace`` is the documented ``expected`` outcome."""
    events = trace.events
    if not isinstance(expected, Undetected):
        assert not trace.hung, f"the conversation hung: {trace}"
    if isinstance(expected, Raised):
        failed = request_ids[-1] if request_ids else None
        check_error(trace.error, expected.error, failed)
        assert trace.where == expected.where
        assert trace.exit_error is None, trace.exit_error  # one error out, once
        assert len(of_type(events, Reconnecting)) == expected.reconnecting
        assert len(of_type(events, Reconnected)) == expected.reconnected
        notes = getattr(trace.error, "__notes__", [])
        if expected.gave_up is None:
            assert not any("gave up" in note for note in notes), notes
        else:
            wanted = f"gave up reconnecting after {expected.gave_up} attempt"
            assert any(wanted in note for note in notes), notes
        if expected.where == "stream":
            # Nothing the server finished before the failure is lost.
            got = conversation.product(events)
            assert got == base.product[: len(got)]
        return
    if isinstance(expected, Recovered):
        assert trace.error is None and trace.exit_error is None, trace
        # Nothing lost, nothing twice, one timeline.
        assert conversation.product(events) == base.product
        causes = [e.cause for e in of_type(events, Reconnecting)]
        assert len(causes) == len(expected.causes), causes
        for number, (cause, err) in enumerate(zip(causes, expected.causes, strict=True)):
            check_error(cause, err, request_ids[number] if number < len(request_ids) else None)
        (reconnected,) = of_type(events, Reconnected)
        assert reconnected.lost_seconds == 0
        assert reconnected.lost_flushes == expected.lost_flushes
        lost = [e.index for e in trace.send_errors if isinstance(e, FlushLostError)]
        assert tuple(lost) == expected.lost_flushes
        assert reconnected.request_id == request_ids[-1]
        return
    if isinstance(expected, Delivered):
        assert trace.error is None and trace.exit_error is None, trace
        assert not trace.send_errors, trace.send_errors
        (position,) = [i for i, e in enumerate(events) if _is_item(e, expected)]
        item = events[position]
        for name, value in expected.fields.items():
            got = getattr(item, name)
            if value is SOME_TEXT:
                assert got and all(isinstance(text, str) and text for text in got), got
            else:
                assert got == value, (name, got, value)
        assert conversation.is_point(events[position - 1]), events[position - 1]
        rest = events[:position] + events[position + 1 :]
        assert conversation.product(rest) == base.product  # the conversation is unchanged
        assert not of_type(events, Reconnecting)
        return
    if isinstance(expected, Ended):
        assert trace.error is None and trace.exit_error is None, trace
        assert not of_type(events, Reconnecting)
        got = conversation.product(events)
        assert got == base.product[: len(got)] and len(got) < len(base.product), got
        assert all(type(e) is SessionClosedError for e in trace.send_errors), trace.send_errors
        return
    if isinstance(expected, Opened):
        assert trace.error is None and trace.exit_error is None, trace
        assert conversation.product(events) == base.product
        assert not of_type(events, Reconnecting)  # nothing to announce: nothing was sent
        return
    if isinstance(expected, Resumed):
        check_error(trace.error, expected.error, request_ids[0] if request_ids else None)
        assert trace.where == "stream" and trace.exit_error is None
        combined = conversation.product(trace.events) + conversation.product(trace.resumed)
        assert combined == base.product
        return
    assert trace.hung and trace.error is None, trace


def _is_item(event: Any, expected: Delivered) -> bool:
    if expected.item is AudioChunk:
        return isinstance(event, AudioChunk) and event.data == GARBAGE_BINARY
    return type(event) is expected.item


# --- the table ---------------------------------------------------------------------------


@pytest.mark.parametrize("reconnect", [False, True], ids=["off", "on"])
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_fault(
    row: Row,
    reconnect: bool,
    client: DeepgramClient,
    server: DeepgramServer,
    autojump_clock: trio.testing.MockClock,
) -> None:
    conversation = CONVERSATIONS[row.socket]
    base = await baseline(conversation, client, server)
    agent = row.socket == "agent.v1"
    policy = POLICY if reconnect and not agent else None
    fault = row.fault
    expected = row.on if reconnect else row.off

    async def attempt(*plan: Any, every: bool = False, resume: bool = False) -> Trace:
        first = len(server.connections)
        server.inject(*plan, connections=None if every else 1)
        trace = await conversation.run(client, policy, resume=resume)
        ids = [c.request_id for c in server.connections[first:]]
        if trace.where == "connect" and fault.handshake is not None:
            ids.append(f"dgtrio-{fault.handshake}")
        trace_ids.extend(ids)
        return trace

    trace_ids: list[str] = []
    point = base.points[fault.point]
    if fault.handshake is not None and policy is not None:
        # The first connect() with a policy: retried when transient (rule 8).
        assert row.on_connect is not None
        refused = len(server.handshakes)
        started = trio.current_time()
        trace = await attempt(*fault.build(0))
        check(row.on_connect, trace, base, conversation, trace_ids)
        if isinstance(row.on_connect, Opened):
            handshakes = len(server.handshakes) - refused
            assert handshakes == row.on_connect.retries + 1, handshakes
            assert trio.current_time() - started >= POLICY.delay(1)  # it backed off
        # A reconnect that meets the refusal: the first connection drops at the point.
        trace_ids.clear()
        server.inject(DropConnection(after=base.points["reply"]))
        trace = await attempt(*fault.build(0))
        ids = [*trace_ids[:1], f"dgtrio-{fault.handshake}", *trace_ids[1:]]
        check(row.on, trace, base, conversation, ids)
        return
    trace = await attempt(
        *fault.build(point), every=fault.every_connection, resume=isinstance(expected, Resumed)
    )
    check(expected, trace, base, conversation, trace_ids)


def test_the_docs_show_the_current_table() -> None:
    """``docs/_generated/faults.rst`` is ``python -m tests.faults`` (regenerate it if not)."""
    assert GENERATED.read_text(encoding="utf-8") == faults.render()


def test_every_socket_meets_every_common_fault() -> None:
    common = {f.key for f in faults.FAULTS["listen.v1"]}
    assert {"drop-mid-frame", "stall-writing", "wrong-types", "accept-close"} <= common
    for socket in faults.SOCKETS:
        assert common <= {row.fault.key for row in ROWS if row.socket == socket}
