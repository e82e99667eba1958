"""/v1/speak end to end: the client against the fake server over a real websocket."""

from __future__ import annotations

import copy
import pickle
import wave
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from dgtrio import (
    AudioChunk,
    ConnectionClosedError,
    DeepgramClient,
    HandshakeError,
    ProtocolError,
    SessionClosedError,
)
from dgtrio._audio import decode_to_pcm16
from dgtrio._server.fake_speech import encode_text, normalize_text
from dgtrio.speak.v1 import (
    CharacterRateLimitError,
    Clear,
    Cleared,
    Close,
    ConnectionTimeLimitError,
    Flush,
    Flushed,
    Metadata,
    Speak,
    SpeakLimits,
    SpeakV1ControlMessage,
    SpeakV1Protocol,
    SpeakV1Session,
    SpeakV1TextMessage,
    TextTooLongError,
    Warning,
)
from dgtrio.testing import CloseConnection, DeepgramServer, SendFrames, decode_text

AURA: dict[str, Any] = {"model": "aura-2-asteria-en", "encoding": "linear16", "sample_rate": 24000}
LONG = " ".join(f"Sentence number {i} is here." for i in range(40))  # about 11 s of audio


async def drain(session: SpeakV1Session) -> list[Any]:
    return [event async for event in session]


def audio_of(events: list[Any]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, AudioChunk))


def spoken(audio: bytes, encoding: str, rate: int) -> str:
    return decode_text(decode_to_pcm16(audio, encoding), rate)


@pytest.mark.parametrize(
    ("encoding", "rate"), [("linear16", 24000), ("mulaw", 8000), ("alaw", 16000)]
)
async def test_text_becomes_audio_in_the_requested_format(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock, encoding: str, rate: int
) -> None:
    text = "Hello world. This is dgtrio speaking."
    async with client.speak.v1.connect(
        model="aura-2-asteria-en", encoding=encoding, sample_rate=rate
    ) as session:
        await session.send_text(text)
        flushed = await session.flush()
        assert flushed == Flushed(0)
        first = await session.receive()
        assert isinstance(first, Metadata)
        assert first is session.metadata
        assert first.model_name == "aura-2-asteria-en"
        stream = session.audio(until_flushed=True)
        chunks = [chunk async for chunk in stream]
        assert stream.skipped == [flushed]
    assert {(c.encoding, c.sample_rate) for c in chunks} == {(encoding, rate)}
    audio = b"".join(c.data for c in chunks)
    assert spoken(audio, encoding, rate) == normalize_text(text)
    width = 2 if encoding == "linear16" else 1
    assert len(audio) // width == len(encode_text(text, rate)) // 2  # proportional to the text
    assert sum(c.duration or 0 for c in chunks) == pytest.approx(len(audio) / width / rate)


async def test_the_default_encoding_and_rate(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.speak.v1.connect() as session:
        assert (session.encoding, session.sample_rate) == ("linear16", 24000)
    assert server.last.handshake.query == ()
    async with client.speak.v1.connect(encoding="mulaw") as session:
        assert (session.encoding, session.sample_rate) == ("mulaw", 8000)


async def test_query_parameters_and_speed(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    text = "Quick now."
    durations = []
    for speed in (1.0, 2.0):
        async with client.speak.v1.connect(**AURA, speed=speed, mip_opt_out=True) as session:
            await session.send_text(text)
            await session.close()
            audio = audio_of(await drain(session))
            assert spoken(audio, "linear16", 24000) == "quick now."
            durations.append(len(audio))
    assert server.last.handshake.query == (
        ("model", "aura-2-asteria-en"),
        ("encoding", "linear16"),
        ("sample_rate", "24000"),
        ("speed", "2.0"),
        ("mip_opt_out", "true"),
    )
    assert durations[1] == pytest.approx(durations[0] / 2, rel=0.01)


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ({"encoding": "opus"}, "linear16, mulaw and alaw"),
        ({"sample_rate": 44100}, "one of 8000, 16000, 24000, 32000, 48000"),
        ({"speed": 0}, "a positive number"),
    ],
)
async def test_invalid_parameters_are_refused(
    client: DeepgramClient, option: dict[str, Any], problem: str
) -> None:
    with pytest.raises(HandshakeError) as info:
        async with client.speak.v1.connect(**option):
            pass  # pragma: no cover
    assert info.value.status == 400
    assert problem in str(info.value)


async def test_a_rate_the_encoding_lacks_is_refused(client: DeepgramClient) -> None:
    with pytest.raises(ConnectionClosedError) as closed:
        async with client.speak.v1.connect(encoding="mulaw", sample_rate=24000) as session:
            await drain(session)
    assert closed.value.code == 1008
    assert "8000 or 16000" in (closed.value.reason or "")


async def test_flushes_are_numbered_and_an_empty_flush_has_no_audio(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        assert await session.flush() == Flushed(0)
        await session.send_text("one.")
        assert await session.flush() == Flushed(1)
        await session.close()
        events = await drain(session)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Metadata", "Flushed"]  # nothing to speak: no audio
    assert kinds[-1] == "Flushed"
    assert spoken(audio_of(events), "linear16", 24000) == "one."


async def test_long_text_is_split_at_word_boundaries_and_paced(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    text = " ".join(f"word{i}" for i in range(800))  # 6289 characters, no sentence ends
    async with client.speak.v1.connect(**AURA) as session:
        await session.send_text(text)
        await session.clear()  # not a minute of audio, thanks
    pieces = [m.text for m in server.last.messages_received() if isinstance(m, Speak)]
    assert "".join(pieces) == text
    assert [len(p) for p in pieces] == [1994, 2000, 2000, 295]
    assert all(p.endswith(" ") for p in pieces[:-1])  # never inside a word
    # 2400 characters a minute: the second piece waits for the first to age out, the
    # third for the second; the fourth fits next to the third.
    assert trio.current_time() == pytest.approx(120, abs=1)
    assert server.last.close_code == 1000


async def test_flushes_wait_for_the_limit_instead_of_being_ignored(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        times = []
        for _ in range(21):
            await session.send_control(SpeakV1ControlMessage(type="Flush"))
            times.append(trio.current_time())
        await session.close()
        events = await drain(session)
    assert times[19] < 1
    assert times[20] == pytest.approx(times[0] + 60)
    assert [e.sequence_id for e in events if isinstance(e, Flushed)] == list(range(21))
    assert not session.warnings
    assert not any(isinstance(m, Warning) for m in server.last.sent)


async def test_the_server_ignores_flushes_past_its_limit_with_a_warning(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        session.limits = SpeakLimits(max_flushes=100)  # let the server find out
        for _ in range(21):
            await session.send_control(Flush())
        await session.close()
        events = await drain(session)
    assert len([e for e in events if isinstance(e, Flushed)]) == 20
    (warning,) = session.warnings
    assert warning in events
    assert warning.effective_code == "EXCESSIVE_FLUSH"
    assert warning.warn_code == "EXCESSIVE_FLUSH"  # the spelling captured from the service


async def test_clear_stops_the_audio_and_releases_the_flush_it_dropped(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    results: list[Flushed | None] = []
    async with client.speak.v1.connect(**AURA) as session:
        await session.send_text(LONG)

        async def flush() -> None:
            results.append(await session.flush())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flush)
            assert isinstance(await session.receive(), Metadata)
            first = await session.receive()
            assert isinstance(first, AudioChunk)  # speaking has begun
            cleared = await session.clear()
        assert cleared == Cleared(0)
        assert results == [None]  # the flush was dropped, not answered
        await session.send_text("After.")
        assert await session.flush() == Flushed(1)
        await session.close()
        events = await drain(session)
    before = events[: events.index(cleared)]
    after = events[events.index(cleared) :]
    assert 0 < len(first) + len(audio_of(before)) < len(encode_text(LONG, 24000)) // 4
    assert spoken(audio_of(after), "linear16", 24000) == "after."


async def test_close_delivers_the_rest_of_the_audio_then_the_stream_ends(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        await session.send_text("Goodbye now.")
        await session.close()
        with pytest.raises(SessionClosedError, match="Close was already sent"):
            await session.send_text("more")
        with pytest.raises(SessionClosedError):
            await session.flush()
        events = await drain(session)
    assert spoken(audio_of(events), "linear16", 24000) == "goodbye now."
    assert not any(isinstance(e, Flushed) for e in events)
    assert session.close_code == 1000
    assert server.last.received[-1] == Close()


async def test_leaving_the_block_sends_close_and_waits_for_the_server(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        await session.send_text("Unheard words.")
    assert server.last.received == [Speak("Unheard words."), Close()]
    assert server.last.close_code == 1000
    assert sum(isinstance(f, bytes) for f in server.last.sent) > 0  # the audio was read...
    assert session.statistics().events_discarded > 0  # ...and discarded


async def test_a_long_close_is_bounded_by_close_timeout(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    options: Any = {"close_timeout": 1.0}
    start = trio.current_time()
    codes: list[int] = []
    try:
        async with client.speak.v1.connect(**AURA, request_options=options) as session:
            await session.send_text(LONG)
    except ConnectionClosedError as exc:
        # Whether the cut close is reported depends on scheduling in the core (reported).
        codes.append(exc.code)
    assert codes in ([], [1006])
    assert trio.current_time() - start == pytest.approx(1.0, abs=0.1)

    # To leave while the server is still speaking, clear first: the close is then quick.
    start = trio.current_time()
    async with client.speak.v1.connect(**AURA, request_options=options) as session:
        await session.send_text(LONG)
        await session.send_control(Flush())
        async for _ in session.audio():
            break  # speaking has begun
        await session.clear()
    assert server.last.close_code == 1000
    assert trio.current_time() - start < 0.1


async def test_close_codes_map_to_typed_errors(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(TextTooLongError) as too_long:
        async with client.speak.v1.connect(**AURA) as session:
            await session.send_raw(f'{{"type":"Speak","text":"{"a" * 2001}"}}')
            await drain(session)
    assert (too_long.value.code, too_long.value.reason_code) == (1009, "BIG-0001")

    with pytest.raises(CharacterRateLimitError) as too_fast:
        async with client.speak.v1.connect(**AURA) as session:
            session.limits = SpeakLimits(max_chars=10**6)  # let the server find out
            await session.send_text("a " * 2000)
            await drain(session)
    assert (too_fast.value.code, too_fast.value.reason_code) == (1008, "DATA-0001")
    assert isinstance(too_fast.value, ConnectionClosedError)

    start = trio.current_time()
    options: Any = {"ping_interval": 7}  # pings keep it alive (and miss the closing instant)
    with pytest.raises(ConnectionTimeLimitError) as too_long_lived:
        async with client.speak.v1.connect(**AURA, request_options=options) as session:
            await drain(session)
    assert (too_long_lived.value.code, too_long_lived.value.reason_code) == (1011, "NET-0003")
    assert trio.current_time() - start == pytest.approx(3600)


async def test_invalid_messages_close_the_connection(client: DeepgramClient) -> None:
    with pytest.raises(ConnectionClosedError) as unknown:
        async with client.speak.v1.connect(**AURA) as session:
            await session.send_raw('{"type":"KeepAlive"}')
            await drain(session)
    assert (unknown.value.code, unknown.value.reason_code) == (1008, "DATA-0000")
    assert type(unknown.value) is ConnectionClosedError

    with pytest.raises(ConnectionClosedError) as binary:
        async with client.speak.v1.connect(**AURA) as session:
            await session.send_raw(b"\x00\x01")
            await drain(session)
    assert (binary.value.code, binary.value.reason_code) == (1003, "MESSAGE-0000")


async def test_audio_cannot_be_sent_and_empty_text_is_not(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        with pytest.raises(ProtocolError, match="takes text, not audio"):
            await session.send_media(b"\x00\x00")
        with pytest.raises(TypeError):
            await session.send_text(b"bytes")  # type: ignore[arg-type]
        await session.send_text("")
    assert server.last.received == [Close()]


async def test_a_flush_waiting_when_the_connection_fails_raises(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(CloseConnection(1011, "NET-0000: internal error", after=2))
    with pytest.raises(ConnectionClosedError, match="NET-0000"):
        async with client.speak.v1.connect(**AURA) as session:
            await session.send_text(LONG)
            await session.flush()


async def test_warnings_in_both_spellings(client: DeepgramClient, server: DeepgramServer) -> None:
    server.inject(
        SendFrames(
            [
                '{"type":"Warning","warn_code":"EXCESSIVE_FLUSH","warn_msg":"slow down"}',
                '{"type":"Warning","code":"SOMETHING","description":"else"}',
            ],
            after=1,
        )
    )
    async with client.speak.v1.connect(**AURA) as session:
        await session.close()
        events = await drain(session)
    assert [(w.effective_code, w.effective_description) for w in session.warnings] == [
        ("EXCESSIVE_FLUSH", "slow down"),
        ("SOMETHING", "else"),
    ]
    assert list(session.warnings) == [e for e in events if isinstance(e, Warning)]


async def test_official_sdk_names_work(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.speak.v1.connect(**AURA) as session:
        await session.send_text(SpeakV1TextMessage(text="Hi there."))
        await session.send_control(SpeakV1ControlMessage(type="Flush"))
        await session.send_control(SpeakV1ControlMessage(type="Clear"))
        await session.send_control(SpeakV1ControlMessage(type="Close"))
        events = await drain(session)
        with pytest.raises(TypeError):
            await session.send_control("Flush")  # type: ignore[arg-type]
    assert server.last.received == [Speak("Hi there."), Flush(), Clear(), Close()]
    # The Clear came right behind the Flush: the server dropped it after the first chunk.
    assert [type(e).__name__ for e in events if not isinstance(e, AudioChunk)] == [
        "Metadata",
        "Cleared",
    ]


async def test_write_wav(
    client: DeepgramClient, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    text = "Save me to a file."
    others: list[Any] = []
    async with client.speak.v1.connect(model="aura-2-luna-en", encoding="mulaw") as session:
        await session.send_text(text)
        await session.send_control(Flush())
        seconds = await session.write_wav(
            tmp_path / "a.wav", until_flushed=True, on_event=others.append
        )
        await session.send_text(text)
        await session.close()
        seconds_b = await session.write_wav(tmp_path / "b.wav")
    assert [type(e) for e in others] == [Metadata, Flushed]
    for name, duration in (("a.wav", seconds), ("b.wav", seconds_b)):
        with wave.open(str(tmp_path / name), "rb") as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
            assert wav.getnframes() / 8000 == pytest.approx(duration)
            assert decode_text(wav.readframes(wav.getnframes()), 8000) == normalize_text(text)


# --- sans-IO: matching flushes to Flushed messages ----------------------------------


@given(st.lists(st.sampled_from(["flush", "clear", "server", "finish", "client"]), max_size=60))
def test_every_flush_is_answered_once_by_its_own_flushed_or_a_clear(steps: list[str]) -> None:
    """The protocol against a model server: FIFO both ways, a Clear drops pending flushes."""
    protocol = SpeakV1Protocol()
    to_server: deque[str] = deque()
    to_client: deque[Any] = deque()
    pending: deque[int] = deque()  # flush ids the server is still synthesizing
    server_flushes = server_clears = 0
    answered: dict[int, Any] = {}

    def step(kind: str) -> None:
        nonlocal server_flushes, server_clears
        if kind in ("flush", "clear"):
            message = Flush() if kind == "flush" else Clear()
            protocol.check_send(message)
            protocol.sent(message)
            to_server.append(kind)
        elif kind == "server" and to_server:
            if to_server.popleft() == "flush":
                pending.append(server_flushes)
                server_flushes += 1
            else:
                pending.clear()
                to_client.append(Cleared(server_clears))
                server_clears += 1
        elif kind == "finish" and pending:
            to_client.append(Flushed(pending.popleft()))
        elif kind == "client" and to_client:
            event = to_client.popleft()
            ack = protocol.received(event)
            assert ack is not None
            if isinstance(event, Flushed):
                index = int(ack.key.removeprefix("flush#"))
                assert index == event.sequence_id  # the n-th Flushed answers the n-th Flush
                assert index not in answered
                answered[index] = event
            else:
                assert ack.key == "clear"
                for index in protocol.cancelled:
                    assert index not in answered
                    answered[index] = None
                protocol.cancelled.clear()

    for kind in steps:
        step(kind)
    while to_server or pending or to_client:  # let everything settle
        for kind in ("server", "finish", "client"):
            step(kind)
    assert sorted(answered) == list(range(protocol.flushes_sent))


@pytest.mark.parametrize(
    "error_class", [TextTooLongError, CharacterRateLimitError, ConnectionTimeLimitError]
)
def test_close_errors_are_plain_data(error_class: type[ConnectionClosedError]) -> None:
    error = error_class(1008, "DATA-0001: too fast", "req-1")
    for clone in (copy.copy(error), copy.deepcopy(error), pickle.loads(pickle.dumps(error))):
        assert type(clone) is error_class
        assert (clone.code, clone.reason, clone.reason_code, clone.request_id) == (
            1008,
            "DATA-0001: too fast",
            "DATA-0001",
            "req-1",
        )
        assert (
            str(clone) == "connection closed with code 1008: DATA-0001: too fast (request_id=req-1)"
        )


def test_the_facade_exports_exactly_its_public_names() -> None:
    import dgtrio.speak.v1 as facade

    public = {name for name in vars(facade) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(facade, name), type(facade))}
    assert set(facade.__all__) == public - modules
    assert len(facade.__all__) == len(set(facade.__all__))
