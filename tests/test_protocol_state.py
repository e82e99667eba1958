"""``ListenV1Protocol`` as a sans-IO state machine (no trio, no sockets).

The rules (protocol.md §2): ``CloseStream`` half-closes, so nothing may be
sent after it; a ``from_finalize`` Results answers a ``Finalize``;
``ConfigureSuccess``/``ConfigureFailure`` answer a ``Configure`` (the failure
as a ``RequestError``); nothing else answers anything. Checked case by case
and by a hypothesis state machine over random send/receive sequences.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dgtrio import MediaMessage, ProtocolError, RequestError, SessionClosedError, UnknownMessage
from dgtrio._protocol import Ack, ProtocolState
from dgtrio.listen.v1 import (
    Channel,
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Error,
    Finalize,
    KeepAlive,
    ListenV1Protocol,
    Metadata,
    Results,
    SpeechStarted,
    UtteranceEnd,
)


def results(*, from_finalize: bool = False, is_final: bool = True) -> Results:
    return Results(
        channel_index=(0, 1),
        duration=1.0,
        start=0.0,
        channel=Channel(alternatives=()),
        is_final=is_final,
        from_finalize=from_finalize,
    )


OUTGOING: list[Any] = [
    MediaMessage(b"\x00\x01"),
    KeepAlive(),
    Finalize(),
    Finalize(1),
    Configure(keyterms=["a"]),
    Configure(features={"numerals": True}),
    CloseStream(),
]
NOT_ANSWERS: list[Any] = [
    results(),
    results(is_final=False),
    Metadata(request_id="r"),
    SpeechStarted(channel=(0,), timestamp=1.0),
    UtteranceEnd(channel=(0, 1), last_word_end=2.0),
    Error(description="bad", variant="SchemaError"),
    UnknownMessage("BrandNew", {"type": "BrandNew"}),
    UnknownMessage(None, {}),
]


def test_the_protocol_knows_its_close_and_keepalive_messages() -> None:
    assert ListenV1Protocol.close_message == CloseStream()
    assert ListenV1Protocol.keepalive_message == KeepAlive()
    assert issubclass(ListenV1Protocol, ProtocolState)
    assert 1000 in ListenV1Protocol.normal_close_codes


@pytest.mark.parametrize("message", OUTGOING, ids=repr)
def test_anything_may_be_sent_while_open(message: Any) -> None:
    protocol = ListenV1Protocol()
    assert not protocol.closing
    protocol.check_send(message)
    protocol.sent(message)
    assert protocol.closing is isinstance(message, CloseStream)


@pytest.mark.parametrize("message", OUTGOING, ids=repr)
def test_nothing_may_be_sent_after_close_stream(message: Any) -> None:
    protocol = ListenV1Protocol()
    protocol.check_send(CloseStream())
    protocol.sent(CloseStream())
    assert protocol.closing
    with pytest.raises(SessionClosedError, match="CloseStream was already sent") as info:
        protocol.check_send(message)
    assert isinstance(info.value, ProtocolError)  # the caller's misuse, not a network failure
    kind = "audio" if isinstance(message, MediaMessage) else type(message).__name__
    assert f"cannot send {kind}" in str(info.value)


def test_check_send_alone_does_not_close() -> None:
    # Only sent() records a send: a refused or cancelled send leaves the state as it was.
    protocol = ListenV1Protocol()
    protocol.check_send(CloseStream())
    assert not protocol.closing
    protocol.check_send(MediaMessage(b"\x00"))


def test_receiving_does_not_reopen() -> None:
    protocol = ListenV1Protocol()
    protocol.sent(CloseStream())
    for event in [*NOT_ANSWERS, results(from_finalize=True), ConfigureSuccess()]:
        protocol.received(event)
    assert protocol.closing


def test_a_from_finalize_results_answers_the_finalize() -> None:
    event = results(from_finalize=True)
    assert ListenV1Protocol().received(event) == Ack("finalize", event)


def test_configure_success_answers_the_configure() -> None:
    event = ConfigureSuccess(request_id="r", keyterms=("a",))
    ack = ListenV1Protocol().received(event)
    assert ack == Ack("configure", event)
    assert ack is not None
    assert ack.value is event


def test_configure_failure_answers_the_configure_with_a_request_error() -> None:
    event = ConfigureFailure(
        request_id="r", code="CONFIGURE_KEYTERM_LIMIT_EXCEEDED", description="too many keyterms"
    )
    ack = ListenV1Protocol().received(event)
    assert ack is not None
    assert (ack.key, ack.value) == ("configure", None)
    assert isinstance(ack.error, RequestError)
    assert ack.error.code == "CONFIGURE_KEYTERM_LIMIT_EXCEEDED"
    assert ack.error.description == "too many keyterms"
    assert ack.error.reply is event
    assert "CONFIGURE_KEYTERM_LIMIT_EXCEEDED" in str(ack.error)


@pytest.mark.parametrize("event", NOT_ANSWERS, ids=repr)
def test_other_events_answer_nothing(event: Any) -> None:
    protocol = ListenV1Protocol()
    assert protocol.received(event) is None


def test_a_results_that_only_looks_like_an_answer_is_not_one() -> None:
    # Dispatch is on the class, not on a duck-typed attribute.
    class Lookalike:
        from_finalize = True

    assert ListenV1Protocol().received(Lookalike()) is None


# --- the state machine ------------------------------------------------------------

OUTGOING_ST: st.SearchStrategy[Any] = st.one_of(
    st.binary(min_size=1, max_size=8).map(MediaMessage),
    st.just(KeepAlive()),
    st.builds(Finalize, st.none() | st.integers(0, 3)),
    st.builds(
        Configure,
        keyterms=st.none() | st.lists(st.text(max_size=5), max_size=2),
        features=st.none()
        | st.dictionaries(st.sampled_from(["numerals", "punctuate"]), st.booleans()),
    ),
    st.just(CloseStream()),
)
INCOMING_ST: st.SearchStrategy[Any] = st.one_of(
    st.builds(results, from_finalize=st.booleans(), is_final=st.booleans()),
    st.builds(ConfigureSuccess, request_id=st.text(max_size=4)),
    st.builds(
        ConfigureFailure,
        request_id=st.text(max_size=4),
        code=st.sampled_from(["CONFIGURE_ALREADY_PENDING", "CONFIGURE_INTERNAL_ERROR", ""]),
        description=st.text(max_size=10),
    ),
    st.sampled_from(NOT_ANSWERS),
)


class ListenV1ProtocolMachine(RuleBasedStateMachine):
    """Random interleavings of sends and receives against a model of the rules."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol = ListenV1Protocol()
        self.close_stream_sent = False
        self.sent_after_close = 0

    @rule(message=OUTGOING_ST)
    def send(self, message: Any) -> None:
        if self.close_stream_sent:
            with pytest.raises(SessionClosedError):
                self.protocol.check_send(message)
            return
        self.protocol.check_send(message)
        self.protocol.sent(message)
        if isinstance(message, CloseStream):
            self.close_stream_sent = True

    @precondition(lambda self: self.close_stream_sent)
    @rule(message=OUTGOING_ST)
    def record_a_send_after_close(self, message: Any) -> None:
        # A session that ignored check_send would still not reopen the protocol.
        self.protocol.sent(message)
        self.sent_after_close += 1

    @rule(event=INCOMING_ST)
    def receive(self, event: Any) -> None:
        ack = self.protocol.received(event)
        if isinstance(event, Results):
            assert ack == (Ack("finalize", event) if event.from_finalize else None)
        elif isinstance(event, ConfigureSuccess):
            assert ack == Ack("configure", event)
        elif isinstance(event, ConfigureFailure):
            assert ack is not None
            assert (ack.key, ack.value) == ("configure", None)
            assert isinstance(ack.error, RequestError)
            assert (ack.error.code, ack.error.description, ack.error.reply) == (
                event.code,
                event.description,
                event,
            )
        else:
            assert ack is None

    @invariant()
    def closing_means_close_stream_was_sent(self) -> None:
        assert self.protocol.closing is self.close_stream_sent


ListenV1ProtocolMachine.TestCase.settings = settings(
    deadline=None, max_examples=60, stateful_step_count=30
)
TestListenV1Protocol = ListenV1ProtocolMachine.TestCase
