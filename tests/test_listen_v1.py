"""/v1/listen end to end: the client against the fake server over a real websocket."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import pytest
import trio
import trio.testing

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

from dgtrio import (
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramClient,
    EventType,
    HandshakeError,
    InternalError,
    MessageDecodeError,
    RequestError,
    SessionClosedError,
    UnknownMessage,
)
from dgtrio.listen.v1 import (
    CloseStream,
    Configure,
    ConfigureSuccess,
    Finalize,
    KeepAlive,
    ListenV1ControlMessage,
    ListenV1MediaMessage,
    ListenV1Session,
    Metadata,
    Results,
    SpeechStarted,
    UtteranceEnd,
)
from dgtrio.testing import CloseConnection, DeepgramServer, SendFrames, Stall, speech
from tests.conftest import API_KEY

LINEAR16: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}
CHUNK = 640  # 20 ms of 16 kHz linear16


async def send_audio(session: ListenV1Session, audio: bytes, chunk: int = CHUNK) -> None:
    for offset in range(0, len(audio), chunk):
        await session.send_media(audio[offset : offset + chunk])


async def drain(session: ListenV1Session) -> list[Any]:
    return [event async for event in session]


def finals(events: list[Any]) -> list[str]:
    return [e.transcript for e in events if isinstance(e, Results) and e.is_final and e.transcript]


async def test_transcribes_speech_and_ends_with_metadata(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16, punctuate=True) as session:
        await send_audio(session, speech("Hello world. Book a table for two."))
        await session.close_stream()
        events = await drain(session)
    assert finals(events) == ["Hello world.", "Book a table for two."]
    assert [type(e) for e in events[-2:]] == [Results, Metadata]
    assert events[-1].request_id == server.last.request_id == session.request_id
    assert session.close_code == 1000
    assert server.last.received[-1] == CloseStream()
    words = [w for e in events if isinstance(e, Results) and e.is_final for w in e.words]
    assert [w.word for w in words] == ["hello", "world", "book", "a", "table", "for", "two"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))


async def test_interim_results_speech_started_and_utterance_end(client: DeepgramClient) -> None:
    options = {**LINEAR16, "interim_results": True, "vad_events": True, "utterance_end_ms": 1000}
    async with client.listen.v1.connect(**options) as session:
        await send_audio(session, speech("one two three.", trailing_silence=1.5))
        await session.close_stream()
        events = await drain(session)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SpeechStarted"
    interims = [e.transcript for e in events if isinstance(e, Results) and not e.is_final]
    # A word-by-word partial, then an empty interim once a second of silence has
    # passed (the service keeps answering about once a second with interim results).
    assert interims == ["one", "one two", "one two three", ""]
    speech_final = next(e for e in events if isinstance(e, Results) and e.speech_final)
    utterance_end = next(e for e in events if isinstance(e, UtteranceEnd))
    assert kinds.index("UtteranceEnd") > events.index(speech_final)
    assert utterance_end.last_word_end == pytest.approx(speech_final.words[-1].end, abs=1e-3)


async def test_query_parameters_are_encoded_as_deepgram_expects(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(
        **LINEAR16,
        interim_results=True,
        endpointing=False,
        keyterm=["customer service", "dgtrio"],
        extra={"team": "a:b", "run": 7},
        replace={"foo": "bar"},
        redact=["pci", "ssn"],
        tag="t1",
        smart_format="true",
        request_options={"additional_query_parameters": {"diarize": True}},
    ):
        pass
    assert server.last.handshake.query == (
        ("model", "nova-3"),
        ("encoding", "linear16"),
        ("endpointing", "false"),
        ("extra", "team:a:b"),
        ("extra", "run:7"),
        ("interim_results", "true"),
        ("keyterm", "customer service"),
        ("keyterm", "dgtrio"),
        ("redact", "pci"),
        ("redact", "ssn"),
        ("replace", "foo:bar"),
        ("sample_rate", "16000"),
        ("smart_format", "true"),
        ("tag", "t1"),
        ("diarize", "true"),
    )


async def test_credentials_and_headers(server: DeepgramServer) -> None:
    client = DeepgramClient(API_KEY, environment=server.environment, headers={"X-App": "me"})
    async with client.listen.v1.connect(**LINEAR16):
        pass
    headers = server.last.handshake.headers
    assert headers["authorization"] == f"Token {API_KEY}"
    assert headers["x-app"] == "me"
    assert headers["user-agent"].startswith("dgtrio/")
    assert headers["x-deepgram-session-id"] == client.session_id

    server.access_tokens.add("jwt-abc")
    bearer = DeepgramClient(access_token="jwt-abc", environment=server.environment)
    async with bearer.listen.v1.connect(**LINEAR16):
        pass
    assert server.last.handshake.headers["authorization"] == "Bearer jwt-abc"

    anonymous = DeepgramClient(environment=server.environment)
    async with anonymous.listen.v1.connect(**LINEAR16, authorization=f"token {API_KEY}"):
        pass
    assert server.last.handshake.headers["authorization"] == f"token {API_KEY}"

    options = {"additional_headers": {"authorization": "Bearer jwt-abc"}}
    async with client.listen.v1.connect(**LINEAR16, request_options=options):  # type: ignore[arg-type]
        pass
    assert server.last.handshake.headers["authorization"] == "Bearer jwt-abc"


async def test_wrong_key_is_a_handshake_error_with_the_servers_details(
    server: DeepgramServer,
) -> None:
    client = DeepgramClient("wrong-secret-key", environment=server.environment)
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(**LINEAR16):
            pytest.fail("connected with a wrong key")  # pragma: no cover
    error = info.value
    assert error.status == 401
    assert error.dg_error == "Invalid credentials."
    assert error.err_code == "INVALID_AUTH"
    assert error.request_id and error.headers["dg-request-id"] == error.request_id
    assert isinstance(error.body, dict)
    assert error.body["request_id"] == error.request_id
    assert "wrong-secret-key" not in str(error) + repr(error) + repr(error.headers)
    assert not server.connections


async def test_unknown_query_parameter_is_refused_with_400(client: DeepgramClient) -> None:
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v1.connect(
            **LINEAR16, request_options={"additional_query_parameters": {"bogus": 1}}
        ):
            pass  # pragma: no cover
    assert info.value.status == 400
    assert info.value.err_code == "INVALID_QUERY_PARAMETER"
    assert "unknown field `bogus`" in str(info.value)


async def test_keepalive_is_sent_only_when_idle(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await trio.sleep(21)
        idle_keepalives = server.last.received.count(KeepAlive())
        for _ in range(500):  # 10 s of audio, sent in real time
            await session.send_media(bytes(CHUNK))
            await trio.sleep(0.02)
        busy_keepalives = server.last.received.count(KeepAlive()) - idle_keepalives
    assert idle_keepalives == 5  # at 4, 8, 12, 16 and 20 s
    assert busy_keepalives == 0


async def test_without_keepalive_the_server_times_out_with_net_0001(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    options = {"keepalive_interval": None}
    events: list[Any] = []
    with pytest.raises(ConnectionClosedError) as info:
        async with client.listen.v1.connect(**LINEAR16, request_options=options) as session:  # type: ignore[arg-type]
            async for event in session:
                events.append(event)
    assert info.value.code == 1011
    assert info.value.reason_code == "NET-0001"
    assert events[-1].sha256 == "incomplete"  # Metadata is delivered before the error
    assert trio.current_time() == pytest.approx(10, abs=0.5)


async def test_finalize_returns_the_from_finalize_results(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(**LINEAR16, endpointing=False) as session:
        await send_audio(session, speech("push to talk", trailing_silence=0))
        result = await session.finalize()
        assert result is not None
        assert result.from_finalize and result.is_final
        assert result.transcript == "push to talk"
        await session.close_stream()
        events = await drain(session)
    assert result in events  # also delivered to the iterator


async def test_finalize_without_an_answer_returns_none_after_the_timeout(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        start = trio.current_time()
        assert await session.finalize(timeout=2) is None  # nothing buffered: no answer
        assert trio.current_time() - start == pytest.approx(2)


async def test_nothing_can_be_sent_after_close_stream(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await session.close_stream()
        with pytest.raises(SessionClosedError, match="CloseStream was already sent"):
            await session.send_media(b"\x00\x00")
        with pytest.raises(SessionClosedError):
            await session.keep_alive()
        await drain(session)


async def test_leaving_normally_closes_gracefully(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await send_audio(session, speech("bye now.", trailing_silence=0))
    connection = server.last
    assert connection.received[-1] == CloseStream()
    assert isinstance(connection.sent[-1], Metadata)
    assert connection.close_code == 1000
    assert session.statistics().events_discarded >= 1


async def test_an_error_in_user_code_comes_out_as_itself(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    cause = RuntimeError("the cause")
    with pytest.raises(KeyError) as info:
        async with client.listen.v1.connect(**LINEAR16) as session:
            await session.send_media(bytes(CHUNK))
            try:
                raise ValueError("the context")
            except ValueError:
                raise KeyError("mine") from cause
    assert info.value.__cause__ is cause
    assert isinstance(info.value.__context__, ValueError)
    assert CloseStream() not in server.last.received  # prompt close, no drain


async def test_an_exception_group_from_user_code_comes_out_unchanged(
    client: DeepgramClient,
) -> None:
    async def fail(error: Exception) -> None:
        raise error

    first, second = ValueError("one"), KeyError("two")
    with pytest.raises(BaseExceptionGroup) as info:
        async with client.listen.v1.connect(**LINEAR16), trio.open_nursery() as nursery:
            nursery.start_soon(fail, first)
            nursery.start_soon(fail, second)
    assert not isinstance(info.value, InternalError)
    assert set(map(id, info.value.exceptions)) == {id(first), id(second)}


async def test_outer_cancellation_closes_promptly(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.move_on_after(3) as scope:
        async with client.listen.v1.connect(**LINEAR16):
            await trio.sleep_forever()
    assert scope.cancelled_caught
    await server.last.closed.wait()
    assert trio.current_time() - 3 < 0.1


async def test_receive_is_cancel_safe(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        with trio.move_on_after(0.01):
            await session.receive()
        await send_audio(session, speech("still here."))
        await session.close_stream()
        assert finals(await drain(session)) == ["still here"]


async def test_undecodable_frames_raise_in_place_and_the_stream_goes_on(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(
        SendFrames(
            [
                "this is not json",
                '{"type":"BrandNewEvent","x":1}',
                '{"type":"SpeechStarted","channel":"zero","timestamp":"soon"}',
                '{"type":"SpeechStarted","channel":[0],"timestamp":1.5}',
            ]
        )
    )
    async with client.listen.v1.connect(**LINEAR16) as session:
        with pytest.raises(MessageDecodeError) as bad_json:
            await session.receive()
        assert bad_json.value.raw == "this is not json"
        unknown = await session.receive()
        assert unknown == UnknownMessage("BrandNewEvent", {"type": "BrandNewEvent", "x": 1})
        with pytest.raises(MessageDecodeError) as malformed:
            await session.receive()
        assert malformed.value.message_type == "SpeechStarted"
        assert any("$.channel" in e for e in malformed.value.errors)
        assert any("$.timestamp" in e for e in malformed.value.errors)
        assert await session.receive() == SpeechStarted((0,), 1.5)


async def test_abnormal_close_is_a_typed_error_after_the_events_before_it(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(
        SendFrames(['{"type":"SpeechStarted","channel":[0],"timestamp":0.5}']),
        CloseConnection(1011, "Deepgram did not provide a response. See https://dpgr.am/net0000"),
    )
    async with client.listen.v1.connect(**LINEAR16) as session:
        assert isinstance(await session.receive(), SpeechStarted)
        with pytest.raises(ConnectionClosedError) as info:
            await session.receive()
        with pytest.raises(ConnectionClosedError):  # sending says so too
            await session.send_media(b"\x01\x00")
    assert info.value.code == 1011
    assert info.value.reason_code == "NET-0000"
    assert info.value.request_id == session.request_id


async def test_an_error_the_caller_never_saw_is_raised_on_exit(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(CloseConnection(1011, "NET-0000"))
    with pytest.raises(ConnectionClosedError, match="1011"):
        async with client.listen.v1.connect(**LINEAR16) as session:
            await server.wait_for_connection()
            await server.last.closed.wait()
            await trio.testing.wait_all_tasks_blocked()
            assert session.close_code == 1011


async def test_empty_audio_is_dropped_and_an_empty_frame_closes_with_data_0000(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await session.send_media(b"")
        await session.send_media(ListenV1MediaMessage(b""))
        await session.send_raw(b"")  # what an SDK without the guard would send
        with pytest.raises(ConnectionClosedError) as info:
            await drain(session)
    assert info.value.code == 1008
    assert info.value.reason_code == "DATA-0000"
    assert server.last.received == [b""]


async def test_configure_succeeds_or_raises(client: DeepgramClient, server: DeepgramServer) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        reply = await session.configure(keyterms=["dgtrio"], features={"numerals": True})
        assert reply == ConfigureSuccess(request_id=session.request_id or "", keyterms=("dgtrio",))
    assert Configure(("dgtrio",), {"numerals": True}) in server.last.received

    async with client.listen.v1.connect(
        model="nova-2", encoding="mulaw", sample_rate=8000
    ) as session:
        with pytest.raises(RequestError) as info:
            await session.configure(keyterms=["dgtrio"])
    assert info.value.code == "CONFIGURE_KEYTERMS_NOT_SUPPORTED"


async def test_only_one_configure_is_in_flight(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        connection = await server.wait_for_connection()
        connection.stall(reading=False, writing=True)  # the server reads but cannot answer
        replies: list[Any] = []

        async def configure(term: str) -> None:
            replies.append(await session.configure(keyterms=[term]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(configure, "first")
            await connection.wait_for_frames(1)
            nursery.start_soon(configure, "second")
            await trio.testing.wait_all_tasks_blocked()
            assert [type(f) for f in connection.received] == [Configure]  # the second waits
            connection.resume()
    assert [r.keyterms for r in replies] == [("first",), ("second",)]


async def test_official_sdk_names_work(client: DeepgramClient, server: DeepgramServer) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await session.send_media(ListenV1MediaMessage(b"\x01\x00" * 160))
        await session.send_media(ListenV1MediaMessage(data=b"\x02\x00" * 160))
        await session.send_control(ListenV1ControlMessage(type="KeepAlive"))
        await session.send_control(ListenV1ControlMessage(type="Finalize"))
        await session.send_control(ListenV1ControlMessage(type="CloseStream"))
        await drain(session)
    assert server.last.received[:2] == [b"\x01\x00" * 160, b"\x02\x00" * 160]
    assert server.last.received[2:4] == [KeepAlive(), Finalize()]
    assert server.last.received[-1] == CloseStream()


async def test_callback_style(client: DeepgramClient) -> None:
    seen: list[tuple[str, Any]] = []

    async def on_message(message: Any) -> None:
        seen.append(("message", type(message).__name__))

    async with client.listen.v1.connect(**LINEAR16) as session:
        session.on(EventType.OPEN, lambda _: seen.append(("open", None)))
        session.on(EventType.MESSAGE, on_message)
        session.on("close", lambda _: seen.append(("close", None)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.start_listening)
            await send_audio(session, speech("hi."))
            await session.close_stream()
    assert seen[0] == ("open", None)
    assert seen[-1] == ("close", None)
    assert ("message", "Metadata") in seen


async def test_callback_errors_go_to_error_handlers_or_propagate(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    errors: list[BaseException] = []
    server.inject(SendFrames(["{oops"]), CloseConnection(1011, "NET-0000"))
    async with client.listen.v1.connect(**LINEAR16) as session:
        session.on(EventType.ERROR, errors.append)
        await session.start_listening()
    assert [type(e) for e in errors] == [MessageDecodeError, ConnectionClosedError]

    def boom(message: Any) -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        async with client.listen.v1.connect(**LINEAR16) as session:
            session.on(EventType.MESSAGE, boom)
            await send_audio(session, speech("x."))
            await session.close_stream()
            await session.start_listening()


async def test_a_peer_that_stops_reading_fails_sends_after_the_bound(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(reading=True, writing=True))
    options = {"send_timeout": 5.0, "keepalive_interval": None}
    with pytest.raises(ConnectionDeadError) as info:
        async with client.listen.v1.connect(**LINEAR16, request_options=options) as session:  # type: ignore[arg-type]
            chunk = bytes(64 * 1024)
            while True:  # fill the kernel buffers until the writer is stuck
                await session.send_media(chunk)
    assert "could not be sent within 5 s" in str(info.value)


async def test_statistics_and_repr(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(**LINEAR16) as session:
        await session.send_media(bytes(CHUNK))
        await session.close_stream()
        await drain(session)
        stats = session.statistics()
    assert stats.audio_bytes_sent == CHUNK
    assert stats.close_code == 1000
    assert stats.request_id == session.request_id
    assert stats.frames_sent == 2  # the audio and CloseStream
    assert "ListenV1Session" in repr(session) and API_KEY not in repr(session)
