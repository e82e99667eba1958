"""/v2/listen (Flux) end to end: the client against the fake server over a real websocket."""

from __future__ import annotations

import array
import itertools
import logging
import math
from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import (
    AckTimeoutError,
    ConfigurationError,
    ConnectionClosedError,
    ConnectionDeadError,
    DeepgramClient,
    HandshakeError,
    RequestError,
    ServerError,
    SessionClosedError,
    UnknownMessage,
)
from dgtrio._audio import wav_header
from dgtrio._server.fake_engine import VOCABULARY
from dgtrio.listen.v2 import (
    CloseStream,
    Configure,
    ConfigureSuccess,
    Connected,
    Error,
    ForceEndTurn,
    ListenV2ControlMessage,
    ListenV2MediaMessage,
    ListenV2Session,
    Thresholds,
    TurnEvent,
    TurnInfo,
    TurnTrigger,
    Warning,
)
from dgtrio.testing import CloseConnection, DeepgramServer, SendFrames, Stall, speech

FLUX: dict[str, Any] = {"model": "flux-general-en", "encoding": "linear16", "sample_rate": 16000}
STEP = 2560  # 80 ms of 16 kHz linear16, the chunk size Deepgram recommends for Flux


async def send_audio(session: ListenV2Session, audio: bytes, chunk: int = STEP) -> None:
    for offset in range(0, len(audio), chunk):
        await session.send_media(audio[offset : offset + chunk])


async def drain(session: ListenV2Session) -> list[Any]:
    return [event async for event in session]


def turn_infos(events: list[Any]) -> list[TurnInfo]:
    return [e for e in events if isinstance(e, TurnInfo)]


def kinds(events: list[Any]) -> list[str]:
    """The state changes of the stream, Updates left out."""
    return [e.event for e in turn_infos(events) if e.event != TurnEvent.UPDATE]


def changes(events: list[Any]) -> list[tuple[str, str]]:
    """The state changes of the stream: (event, transcript), Updates left out."""
    return [(e.event, e.transcript) for e in turn_infos(events) if e.event != TurnEvent.UPDATE]


def tone(seconds: float, amplitude: int = 3000, rate: int = 16000) -> bytes:
    """A 220 Hz sine: speech by energy, but not a test tone."""
    count = round(seconds * rate)
    samples = array.array(
        "h", (round(amplitude * math.sin(2 * math.pi * 220 * i / rate)) for i in range(count))
    )
    return samples.tobytes()


async def test_connect_returns_once_the_server_said_connected(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=0, reading=False, writing=True))  # Connected is held back

    async def release() -> None:
        connection = await server.wait_for_connection()
        await trio.sleep(2)
        connection.resume()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(release)
        async with client.listen.v2.connect(**FLUX) as session:
            assert trio.current_time() == pytest.approx(2)
            assert session.connected == Connected(0, server.last.request_id)
            assert session.connected.request_id == session.request_id
            assert await session.receive() is session.connected  # still delivered, first


async def test_a_server_that_never_says_connected_is_a_timeout(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=0, reading=False, writing=True))
    with pytest.raises(AckTimeoutError) as info:
        async with client.listen.v2.connect(**FLUX, request_options={"connect_timeout": 3}):
            pytest.fail("entered without Connected")  # pragma: no cover
    assert info.value.waiting_for == "Connected"
    # 3 s for Connected, then the prompt close waits at most 1 s for the hung server.
    assert 3 <= trio.current_time() <= 4 + 1e-9
    server.last.resume()
    with trio.fail_after(5):
        await server.last.closed.wait()  # the client did close the connection


async def test_a_close_before_connected_is_the_close_error(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(CloseConnection(1011, "NET-0000", after=0))
    with pytest.raises(ConnectionClosedError) as info:
        async with client.listen.v2.connect(**FLUX):
            pytest.fail("entered without Connected")  # pragma: no cover
    assert info.value.code == 1011
    assert info.value.reason_code == "NET-0000"


async def test_cancelled_while_waiting_for_connected(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=0, reading=False, writing=True))
    with trio.move_on_after(1) as scope:
        async with client.listen.v2.connect(**FLUX):
            pytest.fail("entered without Connected")  # pragma: no cover
    assert scope.cancelled_caught


async def test_query_parameters_are_encoded_as_deepgram_expects(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(
        model="flux-general-multi",
        encoding="linear16",
        sample_rate=16000,
        eager_eot_threshold=0.5,
        eot_threshold=0.8,
        eot_timeout_ms=3000,
        keyterm=["Deepgram", "customer service"],
        language_hint=["en", "es"],
        mip_opt_out=True,
        numerals=False,
        profanity_filter=True,
        redact="numbers",
        tag=["a", "b"],
    ):
        pass
    assert server.last.handshake.query == (
        ("model", "flux-general-multi"),
        ("encoding", "linear16"),
        ("sample_rate", "16000"),
        ("eager_eot_threshold", "0.5"),
        ("eot_threshold", "0.8"),
        ("eot_timeout_ms", "3000"),
        ("keyterm", "Deepgram"),
        ("keyterm", "customer service"),
        ("language_hint", "en"),
        ("language_hint", "es"),
        ("mip_opt_out", "true"),
        ("numerals", "false"),
        ("profanity_filter", "true"),
        ("redact", "numbers"),
        ("tag", "a"),
        ("tag", "b"),
    )


async def test_invalid_parameters_are_refused(client: DeepgramClient) -> None:
    with pytest.raises(ConfigurationError, match="needs sample_rate"):
        client.listen.v2.connect(model="flux-general-en", encoding="linear16")
    with pytest.raises(HandshakeError) as info:
        async with client.listen.v2.connect(**FLUX, eot_threshold=0.2):
            pass  # pragma: no cover
    assert info.value.status == 400
    assert "eot_threshold" in str(info.value)
    with pytest.raises(HandshakeError, match="Flux models"):
        async with client.listen.v2.connect(model="nova-3"):
            pass  # pragma: no cover
    with pytest.raises(HandshakeError, match="eot_timeout_ms: expected milliseconds"):
        async with client.listen.v2.connect(**FLUX, eot_timeout_ms=100):
            pass  # pragma: no cover


async def test_a_turn_from_start_to_end_of_turn(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, speech("Book a table for two.", trailing_silence=1.0))
        await session.close_stream()
        events = await drain(session)
    assert session.close_code == 1005  # Flux closes without a status: a normal end
    assert [e.sequence_id for e in events] == list(range(len(events)))
    assert session.sequence_gaps == 0
    assert isinstance(events[0], Connected)
    assert kinds(events) == ["StartOfTurn", "EndOfTurn"]
    infos = turn_infos(events)
    start = next(e for e in infos if e.event == TurnEvent.START_OF_TURN)
    end = next(e for e in infos if e.is_end_of_turn)
    assert start.transcript and "Book a table for two.".startswith(start.transcript)
    assert end.transcript == "Book a table for two."
    assert end.trigger == TurnTrigger.MODEL
    assert end.end_of_turn_confidence >= 0.7
    assert [w.word for w in end.words] == ["Book", "a", "table", "for", "two."]
    assert end.audio_window_start == 0
    last_word_end = end.words[-1].end
    assert last_word_end is not None
    assert 0.35 <= end.audio_window_end - last_word_end < 0.35 + 0.08 + 1e-9
    assert all(e.turn_index == 0 for e in infos[: infos.index(end) + 1])
    after = infos[infos.index(end) + 1 :]
    assert after
    assert all(e.turn_index == 1 and e.event == "Update" for e in after)
    assert all(e.audio_window_start == end.audio_window_end for e in after)
    assert all(e.request_id == session.request_id for e in infos)
    # An Update at least every 0.24 s of audio; windows never go back.
    ends = [e.audio_window_end for e in infos]
    assert ends == sorted(ends)
    assert max(b - a for a, b in itertools.pairwise(ends)) <= 0.24 + 1e-9
    assert server.last.received[-1] == CloseStream()


async def test_eager_end_of_turn_then_turn_resumed(client: DeepgramClient) -> None:
    async with client.listen.v2.connect(**FLUX, eager_eot_threshold=0.5) as session:
        await send_audio(session, speech("Hello world. Book a table.", trailing_silence=1.0))
        await session.close_stream()
        events = await drain(session)
    assert changes(events) == [
        ("StartOfTurn", "Hello"),
        ("EagerEndOfTurn", "Hello world."),  # the 0.3 s pause between sentences
        ("TurnResumed", "Hello world. Book"),
        ("EagerEndOfTurn", "Hello world. Book a table."),
        ("EndOfTurn", "Hello world. Book a table."),  # the eager transcript, as promised
    ]


async def test_without_model_end_of_turn_the_timeout_ends_the_turn(
    client: DeepgramClient,
) -> None:
    options = {**FLUX, "eot_threshold": 1.0, "eot_timeout_ms": 1000}
    async with client.listen.v2.connect(**options) as session:
        await send_audio(session, speech("Wait for it", trailing_silence=1.5))
        await session.close_stream()
        events = await drain(session)
    assert kinds(events) == ["StartOfTurn", "EndOfTurn"]
    end = next(e for e in turn_infos(events) if e.is_end_of_turn)
    assert end.transcript == "Wait for it"
    assert end.trigger == TurnTrigger.TIMEOUT
    last_word_end = end.words[-1].end
    assert last_word_end is not None
    assert 1.0 <= end.audio_window_end - last_word_end < 1.0 + 0.08 + 1e-9


async def test_force_end_turn_before_any_audio_is_ignored(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await session.force_end_turn()
        await session.close_stream()
        events = await drain(session)
    assert [type(e) for e in events] == [Connected]
    assert server.last.received == [ForceEndTurn(), CloseStream()]


async def test_force_end_turn_ends_the_turn_manually(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX, eot_threshold=1.0) as session:
        await send_audio(session, speech("hold on", trailing_silence=0.3))
        await session.force_end_turn()
        await session.send_control(ListenV2ControlMessage(type="ForceEndTurn"))  # no turn: ignored
        await send_audio(session, speech("next", trailing_silence=0.2))
        await session.close_stream()
        events = await drain(session)
    assert kinds(events) == ["StartOfTurn", "EndOfTurn", "StartOfTurn"]
    end = next(e for e in turn_infos(events) if e.is_end_of_turn)
    assert end.transcript == "Hold on"
    assert end.trigger == TurnTrigger.MANUAL
    sent = len(speech("hold on", trailing_silence=0.3)) / 32000
    assert end.audio_window_end == pytest.approx(sent)  # all the audio before ForceEndTurn
    assert server.last.messages_received().count(ForceEndTurn()) == 2


async def test_close_stream_leaves_the_last_update_as_the_final_text(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, speech("still talking", trailing_silence=0.05))
        await session.close_stream()
        with pytest.raises(SessionClosedError, match="CloseStream was already sent"):
            await session.send_media(b"\x00\x00")
        with pytest.raises(SessionClosedError):
            await session.force_end_turn()
        events = await drain(session)
    last = events[-1]
    assert isinstance(last, TurnInfo)
    assert last.event == TurnEvent.UPDATE  # no EndOfTurn for the open turn
    assert last.transcript == "Still talking"
    assert not any(e.is_end_of_turn for e in turn_infos(events))
    assert session.close_code == 1005
    assert server.last.close_code == 1005


async def test_leaving_the_block_closes_gracefully(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, speech("bye now.", trailing_silence=0))
    connection = server.last
    assert connection.received[-1] == CloseStream()
    assert connection.close_code == 1005
    assert session.statistics().events_discarded >= 1


async def test_configure_applies_to_the_audio_after_it(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX, keyterm="Deepgram") as session:
        reply = await session.configure(eot_threshold=1.0, keyterms=["dgtrio"], numerals=True)
        assert reply == ConfigureSuccess(
            sequence_id=reply.sequence_id,
            request_id=session.request_id or "",
            thresholds=Thresholds(None, 1.0, 5000),
            keyterms=("dgtrio",),
            numerals=True,
            profanity_filter=False,
        )
        await send_audio(session, speech("no end in sight", trailing_silence=1.0))
        await session.close_stream()
        events = await drain(session)
    assert reply in events
    assert not any(e.is_end_of_turn for e in turn_infos(events))  # the model no longer ends turns
    assert Configure(Thresholds(eot_threshold=1.0), ("dgtrio",), None, True) in (
        server.last.messages_received()
    )


async def test_configure_failure_raises_and_the_session_goes_on(client: DeepgramClient) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        with pytest.raises(RequestError) as info:
            await session.configure(eager_eot_threshold=0.95)
        assert info.value.code == "INVALID_THRESHOLD"
        assert "eager_eot_threshold" in (info.value.description or "")
        reply = await session.configure(Configure(Thresholds(eot_timeout_ms=800)))
        assert reply.thresholds == Thresholds(None, 0.7, 800)
        with pytest.raises(ConfigurationError):
            await session.configure(Configure(), numerals=True)


async def test_only_one_configure_is_in_flight(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        connection = server.last
        connection.stall(reading=False, writing=True)  # the server reads but cannot answer
        replies: list[ConfigureSuccess] = []

        async def configure(term: str) -> None:
            replies.append(await session.configure(keyterms=[term]))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(configure, "first")
            await connection.wait_for_frames(1)
            nursery.start_soon(configure, "second")
            await trio.testing.wait_all_tasks_blocked()
            assert [type(f) for f in connection.received] == [Configure]  # the second waits
            connection.resume()
    assert [r.keyterm_list for r in replies] == [("first",), ("second",)]


async def test_an_unparsable_message_gets_a_fatal_error(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    events: list[Any] = []
    async with client.listen.v2.connect(**FLUX) as session:
        await session.send_raw('{"type":"KeepAlive"}')  # not a Flux message
        with pytest.raises(ServerError) as info:
            async for event in session:
                events.append(event)
    assert isinstance(events[-1], Error)  # delivered first, then the session ends
    assert info.value.code == "UNPARSABLE_CLIENT_MESSAGE"
    assert info.value.message is events[-1]
    assert server.last.close_code == 1005
    assert session.close_code == 1005  # the reader read on, briefly, to learn it


async def test_an_injected_error_ends_the_session_and_is_raised_on_exit(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    error = '{"type":"Error","sequence_id":1,"code":"INTERNAL_SERVER_ERROR","description":"boom"}'
    server.inject(SendFrames([error], after=1))
    with pytest.raises(ServerError, match="INTERNAL_SERVER_ERROR"):
        async with client.listen.v2.connect(**FLUX):
            await trio.sleep(1)  # the Error arrives while nobody reads


async def test_unknown_messages_and_sequence_gaps(
    client: DeepgramClient, server: DeepgramServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.inject(
        SendFrames(
            [
                '{"type":"FutureThing","sequence_id":1,"x":2}',
                '{"type":"Warning","sequence_id":4,"code":"SLOW","description":"hm"}',
                '{"type":"Warning","sequence_id":3,"code":"LATE","description":"hm"}',
            ],
            after=1,
        )
    )
    with caplog.at_level(logging.WARNING, logger="dgtrio"):
        async with client.listen.v2.connect(**FLUX) as session:
            assert isinstance(await session.receive(), Connected)
            unknown = await session.receive()
            raw = {"type": "FutureThing", "sequence_id": 1, "x": 2}
            assert unknown == UnknownMessage("FutureThing", raw)
            assert await session.receive() == Warning(4, "", "SLOW", "hm")
            assert await session.receive() == Warning(3, "", "LATE", "hm")
            assert session.sequence_gaps == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("jumped from 1 to 4: 2 server message(s)" in m for m in messages)
    assert any("went back from 4 to 3" in m for m in messages)


async def test_pings_keep_an_idle_session_alive(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await trio.sleep(95)  # Flux has no KeepAlive message: pings every 10 s instead
        await send_audio(session, speech("still here"))
        await session.close_stream()
        events = await drain(session)
    assert kinds(events) == ["StartOfTurn", "EndOfTurn"]
    assert server.last.messages_received() == [CloseStream()]  # pings are not messages


async def test_a_missing_pong_is_a_dead_connection(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=1))  # after Connected the server hangs: no pong
    with pytest.raises(ConnectionDeadError, match="no pong within 20 s"):
        async with client.listen.v2.connect(**FLUX) as session:
            await drain(session)
    assert trio.current_time() == pytest.approx(30, abs=1)  # 10 s idle, then 20 s for the pong


async def test_mulaw_and_wav_audio(client: DeepgramClient) -> None:
    options: dict[str, Any] = {"model": "flux-general-en", "encoding": "mulaw", "sample_rate": 8000}
    async with client.listen.v2.connect(**options) as session:
        await send_audio(session, speech("mu law works.", sample_rate=8000, encoding="mulaw"), 640)
        await session.close_stream()
        assert ("EndOfTurn", "Mu law works.") in changes(await drain(session))

    pcm = speech("wave files work.", sample_rate=24000)
    wav = wav_header(encoding="linear16", sample_rate=24000, data_size=len(pcm)) + pcm
    async with client.listen.v2.connect(model="flux-general-en") as session:
        await send_audio(session, wav[:20], 7)  # the header arrives in pieces
        await send_audio(session, wav[20:], 4000)
        await session.close_stream()
        assert ("EndOfTurn", "Wave files work.") in changes(await drain(session))


async def test_audio_the_server_cannot_decode_is_a_fatal_error(client: DeepgramClient) -> None:
    options: dict[str, Any] = {"model": "flux-general-en", "encoding": "opus", "sample_rate": 48000}
    with pytest.raises(ServerError) as info:
        async with client.listen.v2.connect(**options) as session:
            await session.send_media(b"\x01" * 100)
            await drain(session)
    assert info.value.code == "UNSUPPORTED_AUDIO_FORMAT"
    with pytest.raises(ServerError, match="Could not detect the audio format"):
        async with client.listen.v2.connect(model="flux-general-en") as session:
            await session.send_media(b"OggS" + bytes(100))  # no encoding, and not WAV
            await drain(session)
    stereo = wav_header(encoding="linear16", sample_rate=16000, channels=2) + bytes(640)
    with pytest.raises(ServerError, match="2-channel"):
        async with client.listen.v2.connect(model="flux-general-en") as session:
            await session.send_media(stereo)
            await drain(session)


def strip(info: TurnInfo) -> tuple[Any, ...]:
    return (info.event, info.turn_index, info.audio_window_end, info.transcript, info.words)


@pytest.mark.parametrize("chunk", [STEP, 1001, 64000])
async def test_speech_by_energy_is_deterministic_however_it_is_chunked(
    client: DeepgramClient, chunk: int
) -> None:
    audio = bytes(3200) + tone(0.6) + bytes(32000)
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, audio, chunk)
        await session.close_stream()
        events = turn_infos(await drain(session))
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, audio, STEP)
        await session.close_stream()
        reference = turn_infos(await drain(session))
    assert [strip(e) for e in events] == [strip(e) for e in reference]
    words = [w.word.lower() for w in next(e for e in events if e.is_end_of_turn).words]
    assert len(words) == 2  # 0.6 s of voice: two pseudo-words of 0.25 s, the rest dropped
    assert set(words) <= set(VOCABULARY)


async def test_official_sdk_names_work(client: DeepgramClient, server: DeepgramServer) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await session.send_media(ListenV2MediaMessage(data=b"\x01\x00" * 160))
        await session.send_media(ListenV2MediaMessage(b"\x02\x00" * 160))
        await session.send_control(ListenV2ControlMessage(type="CloseStream"))
        await drain(session)
    assert server.last.received == [b"\x01\x00" * 160, b"\x02\x00" * 160, CloseStream()]
    with pytest.raises(TypeError):
        await session.send_control("CloseStream")  # type: ignore[arg-type]


async def test_an_error_in_user_code_comes_out_as_itself(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    with pytest.raises(KeyError) as info:
        async with client.listen.v2.connect(**FLUX) as session:
            await session.send_media(bytes(STEP))
            raise KeyError("mine")
    assert info.value.args == ("mine",)
    assert CloseStream() not in server.last.received  # prompt close, no drain


async def test_statistics_and_repr(client: DeepgramClient) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await session.send_media(bytes(STEP))
        await session.close_stream()
        await drain(session)
        stats = session.statistics()
    assert stats.audio_bytes_sent == STEP
    assert stats.close_code == 1005
    assert stats.frames_sent == 2
    assert "ListenV2Session" in repr(session)


def test_the_facade_exports_exactly_its_public_names() -> None:
    import dgtrio.listen.v2 as facade

    public = {name for name in vars(facade) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(facade, name), type(facade))}
    assert set(facade.__all__) == public - modules
    assert len(facade.__all__) == len(set(facade.__all__))
    assert facade.ListenV2MediaMessage is facade.MediaMessage
