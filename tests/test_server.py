"""The fake server itself: audio formats, recording, faults, and the standalone command."""

from __future__ import annotations

import array
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from dgtrio import ConnectionClosedError, DeepgramClient, DeepgramClientEnvironment, HandshakeError
from dgtrio._audio import wav_header
from dgtrio._server.engines import EngineError, Hypothesis, RecognizerOptions
from dgtrio._server.fake_engine import FakeEngine, FakeRecognizer
from dgtrio.listen.v1 import Results
from dgtrio.listen.v2 import TurnInfo
from dgtrio.testing import (
    DeepgramServer,
    DropConnection,
    decode_text,
    open_fake_deepgram,
    speech,
)

LINEAR16: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}


async def transcripts(session: Any, audio: bytes, chunk: int = 800) -> list[Any]:
    for offset in range(0, len(audio), chunk):
        await session.send_media(audio[offset : offset + chunk])
    await session.close_stream()
    return [e async for e in session if isinstance(e, Results) and e.is_final and e.transcript]


def test_speech_helper_round_trips_in_every_encoding() -> None:
    for encoding in ("linear16", "mulaw", "alaw"):
        for rate in (8000, 16000, 48000):
            audio = speech("Room 42, please!", sample_rate=rate, encoding=encoding)
            if encoding != "linear16":
                from dgtrio._audio import decode_to_pcm16

                audio = decode_to_pcm16(audio, encoding)
            assert decode_text(audio, rate) == "room 42, please!"


async def test_mulaw_at_8khz(client: DeepgramClient) -> None:
    audio = speech("call me back.", sample_rate=8000, encoding="mulaw")
    async with client.listen.v1.connect(model="nova-3", encoding="mulaw", sample_rate=8000) as s:
        results = await transcripts(s, audio, chunk=160)
    assert [r.transcript for r in results] == ["call me back"]


async def test_wav_is_detected_from_its_header(client: DeepgramClient) -> None:
    pcm = speech("from a file.", sample_rate=22050)
    wav = wav_header(encoding="linear16", sample_rate=22050, data_size=len(pcm)) + pcm
    async with client.listen.v1.connect(model="nova-3") as session:  # no encoding: containerized
        results = await transcripts(session, wav, chunk=1000)
    assert [r.transcript for r in results] == ["from a file"]


async def test_unsupported_audio_closes_with_data_0000(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(model="nova-3") as session:
        await session.send_media(b"OggS" + bytes(400))
        with pytest.raises(ConnectionClosedError) as info:
            async for _ in session:
                pass
    assert (info.value.code, info.value.reason_code) == (1008, "DATA-0000")


async def test_multichannel_runs_one_recognizer_per_channel(client: DeepgramClient) -> None:
    left = array.array("h", speech("left side.", trailing_silence=0.3))
    right = array.array("h", speech("right.", trailing_silence=0.3))
    right.extend([0] * (len(left) - len(right)))
    stereo = array.array("h", [0] * (2 * len(left)))
    stereo[0::2], stereo[1::2] = left, right
    async with client.listen.v1.connect(**LINEAR16, channels=2, multichannel=True) as session:
        results = await transcripts(session, stereo.tobytes(), chunk=1280)
    by_channel = {r.channel_index: r.transcript for r in results}
    assert by_channel == {(0, 2): "left side", (1, 2): "right"}


async def test_the_server_records_everything(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.listen.v1.connect(**LINEAR16, tag=["a", "b"]) as session:
        await transcripts(session, speech("ok."))
    connection = server.last
    assert connection.handshake.params["tag"] == ["a", "b"]
    assert connection.handshake.param("sample_rate") == "16000"
    assert decode_text(connection.audio_received, 16000) == "ok."
    assert [type(m).__name__ for m in connection.messages_received()] == ["CloseStream"]
    assert type(connection.sent[-1]).__name__ == "Metadata"
    assert connection.close_code == 1000


async def test_a_dropped_connection_mid_frame_is_1006(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(DropConnection(after=0, mid_frame=True))
    async with client.listen.v1.connect(**LINEAR16) as session:
        with pytest.raises(ConnectionClosedError) as info:
            async for _ in session:
                pass
    assert info.value.code == 1006


async def test_a_handler_crash_is_not_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    from dgtrio._server import listen_v1
    from dgtrio.testing import open_fake_deepgram

    async def broken(self: Any, stack: Any) -> None:
        raise ZeroDivisionError("server bug")

    monkeypatch.setattr(listen_v1._ListenV1, "run", broken)
    with pytest.raises(RuntimeError, match="test server failed") as info:
        async with (
            open_fake_deepgram() as server,
            server.client().listen.v1.connect(**LINEAR16) as session,
        ):
            with pytest.raises(ConnectionClosedError) as closed:
                async for _ in session:
                    pass
            assert closed.value.code == 1011
    assert isinstance(info.value.__cause__, ZeroDivisionError)


async def test_python_m_dgtrio_testing_serves_standalone() -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "dgtrio.testing", "--port", "0", "--api-key", "k1"],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                line += await process.stdout.receive_some(1)
        url = line.decode().split()[-1]
        assert url.startswith("ws://127.0.0.1:")
        client = DeepgramClient("k1", environment=DeepgramClientEnvironment(url, url))
        async with client.listen.v1.connect(**LINEAR16) as session:
            results = await transcripts(session, speech("over the wire."))
        assert [r.transcript for r in results] == ["over the wire"]
    finally:
        process.terminate()
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:  # pragma: no cover
            process.kill()
            await process.wait()


class EnglishOnlyEngine(FakeEngine):
    """A fake engine that says which languages it knows, and can break."""

    def __init__(self) -> None:
        super().__init__("english-only")
        self.broken = False

    @staticmethod
    def supports_language(language: str) -> bool:
        return language.lower().startswith("en")

    @asynccontextmanager
    async def recognizer(self, options: RecognizerOptions) -> AsyncIterator[FakeRecognizer]:
        if self.broken:
            raise EngineError("the recognizer process died")
        async with super().recognizer(options) as recognizer:
            yield recognizer


async def test_an_engine_refuses_languages_it_does_not_know_at_the_handshake() -> None:
    async with open_fake_deepgram(engine=EnglishOnlyEngine()) as server:
        client = server.client()
        with pytest.raises(HandshakeError) as info:
            async with client.listen.v1.connect(**LINEAR16, language="fr"):
                pass  # pragma: no cover
        assert info.value.status == 400
        assert "language 'fr' is not available on this server (english-only)" in str(info.value)
        async with client.listen.v1.connect(**LINEAR16, language="en-GB") as session:
            results = await transcripts(session, speech("good day."))
        assert [r.transcript for r in results] == ["good day"]


async def test_an_engine_failure_closes_its_connection_with_1011_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = EnglishOnlyEngine()
    async with open_fake_deepgram(engine=engine) as server:
        client = server.client()
        engine.broken = True
        with pytest.raises(ConnectionClosedError) as info:
            async with client.listen.v1.connect(**LINEAR16) as session:
                await transcripts(session, speech("lost."))
        assert info.value.code == 1011
        assert info.value.reason == "speech engine failure: the recognizer process died"
        engine.broken = False
        async with client.listen.v1.connect(**LINEAR16) as session:
            results = await transcripts(session, speech("still here."))
        assert [r.transcript for r in results] == ["still here"]
        assert server.errors == []  # not a server bug
    assert "the speech engine failed" in caplog.text


class HoldingEngine(FakeEngine):
    """The fake engine, but its endpointer never says the speaker stopped."""

    @asynccontextmanager
    async def recognizer(self, options: RecognizerOptions) -> AsyncIterator[Any]:
        async with super().recognizer(options) as recognizer:
            yield _Holding(recognizer)


class _Holding:
    def __init__(self, inner: FakeRecognizer) -> None:
        self.inner = inner

    @staticmethod
    def _hold(events: Any) -> list[Any]:
        return [
            attrs.evolve(e, end_of_speech=False) if isinstance(e, Hypothesis) else e for e in events
        ]

    async def feed(self, pcm: bytes) -> list[Any]:
        return self._hold(await self.inner.feed(pcm))

    async def finalize(self) -> list[Any]:
        return self._hold(await self.inner.finalize())


@pytest.mark.parametrize("holding", [False, True])
async def test_flux_turns_end_where_the_engine_endpointing_says(
    holding: bool, autojump_clock: trio.testing.MockClock
) -> None:
    engine = HoldingEngine() if holding else FakeEngine()
    async with open_fake_deepgram(engine=engine) as server:
        client = server.client()
        flux: dict[str, Any] = {
            "model": "flux-general-en",
            "encoding": "linear16",
            "sample_rate": 16000,
        }
        async with client.listen.v2.connect(**flux) as session:
            audio = speech("hello there.", trailing_silence=2.0)
            for offset in range(0, len(audio), 2560):
                await session.send_media(audio[offset : offset + 2560])
            await session.close_stream()
            events = [e.event for e in [e async for e in session] if isinstance(e, TurnInfo)]
    # The same audio: an end of turn only when the engine's endpointer ends the speech.
    assert ("EndOfTurn" in events) is not holding
