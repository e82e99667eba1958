"""UtteranceStream and TurnStream on live sessions against the fake server."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio import ConnectionClosedError, DeepgramClient
from dgtrio.listen.v1 import ListenV1Session
from dgtrio.listen.v2 import ListenV2Session, TurnTrigger
from dgtrio.testing import CloseConnection, DeepgramServer, open_fake_deepgram, speech
from dgtrio.transcripts import ClosedBy, Turn, TurnStream, Utterance, UtteranceStream

NOVA: dict[str, Any] = {"model": "nova-3", "encoding": "linear16", "sample_rate": 16000}
FLUX: dict[str, Any] = {"model": "flux-general-en", "encoding": "linear16", "sample_rate": 16000}
CHUNK = 2560  # 80 ms


async def send_audio(session: ListenV1Session | ListenV2Session, audio: bytes) -> None:
    for offset in range(0, len(audio), CHUNK):
        await session.send_media(audio[offset : offset + CHUNK])


# --- listen v1: utterances ----------------------------------------------------------


async def test_utterances_arrive_as_they_close(client: DeepgramClient) -> None:
    options = {**NOVA, "punctuate": True, "interim_results": True}
    utterances: list[Utterance] = []
    async with client.listen.v1.connect(**options) as session:
        first_heard = trio.Event()

        async def pump() -> None:
            await send_audio(session, speech("Hello world."))
            await first_heard.wait()  # the first utterance came out before any more audio
            await send_audio(session, speech("Book a table for two."))
            await session.close_stream()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            stream = UtteranceStream(session)
            async for utterance in stream:
                utterances.append(utterance)
                first_heard.set()
            assert stream.assembler.current_text() == ""
    assert [u.text for u in utterances] == ["Hello world.", "Book a table for two."]
    assert {u.closed_by for u in utterances} == {ClosedBy.SPEECH_FINAL}
    assert [w.word for w in utterances[1].words] == ["book", "a", "table", "for", "two"]
    assert utterances[0].end <= utterances[1].start
    assert utterances[0].start == utterances[0].words[0].start


async def test_utterance_end_closes_utterances_without_endpointing(client: DeepgramClient) -> None:
    options = {**NOVA, "interim_results": True, "utterance_end_ms": 1000, "endpointing": False}
    async with client.listen.v1.connect(**options) as session:
        await send_audio(session, speech("one two three", trailing_silence=0))
        assert await session.finalize() is not None  # a final without speech_final
        await send_audio(session, bytes(2 * 24000))  # 1.5 s of silence: UtteranceEnd
        await send_audio(session, speech("four five", trailing_silence=0))
        await session.close_stream()
        utterances = [u async for u in UtteranceStream(session)]
    assert [(u.text, u.closed_by) for u in utterances] == [
        ("one two three", ClosedBy.UTTERANCE_END),
        ("four five", ClosedBy.SPEECH_FINAL),  # CloseStream's last result
    ]


async def test_finalize_can_commit_an_utterance(client: DeepgramClient) -> None:
    async with client.listen.v1.connect(**NOVA, endpointing=False) as session:
        await send_audio(session, speech("push to talk", trailing_silence=0))
        assert await session.finalize() is not None
        await session.close_stream()
        utterances = [u async for u in UtteranceStream(session, commit_on_finalize=True)]
    assert [(u.text, u.closed_by) for u in utterances] == [("push to talk", ClosedBy.FINALIZE)]


async def test_an_error_reaches_the_loop_unchanged_and_the_open_text_stays_readable(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    server.inject(CloseConnection(1011, "NET-0000", after=2))  # two interims, then gone
    options = {**NOVA, "interim_results": True}
    async with client.listen.v1.connect(**options) as session:
        await send_audio(session, speech("never finished", trailing_silence=0.05))
        stream = UtteranceStream(session)
        with pytest.raises(ConnectionClosedError) as info:
            async for _ in stream:
                pytest.fail("nothing was closed")  # pragma: no cover
        assert info.value.reason_code == "NET-0000"
        assert stream.assembler.current_text() == "never finished"


# --- listen v2 (Flux): turns -----------------------------------------------------------


async def test_turns_and_the_unfinished_last_one(client: DeepgramClient) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, speech("Hello there.", trailing_silence=1.0))
        await send_audio(session, speech("how are you", trailing_silence=0.1))
        await session.close_stream()
        turns = [t async for t in TurnStream(session)]
    assert [(t.index, t.text, t.complete, t.trigger) for t in turns] == [
        (0, "Hello there.", True, TurnTrigger.MODEL),
        (1, "How are you", False, None),  # CloseStream: the last Update is the final text
    ]
    assert turns[0].end <= turns[1].start
    assert [w.word for w in turns[1].words] == ["How", "are", "you"]


async def test_without_flush_the_unfinished_turn_is_not_yielded(client: DeepgramClient) -> None:
    async with client.listen.v2.connect(**FLUX) as session:
        await send_audio(session, speech("Done.", trailing_silence=1.0))
        await send_audio(session, speech("and then", trailing_silence=0.1))
        await session.close_stream()
        stream = TurnStream(session, flush=False)
        turns = [t async for t in stream]
        assert stream.assembler.current_text == "And then"
    assert [t.text for t in turns] == ["Done."]


async def test_turns_while_audio_is_still_flowing(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    turns: list[Turn] = []
    async with client.listen.v2.connect(**FLUX, eot_threshold=1.0) as session:
        turn_seen = trio.Event()

        async def pump() -> None:
            await send_audio(session, speech("first turn", trailing_silence=0.2))
            await session.force_end_turn()
            await turn_seen.wait()
            await send_audio(session, speech("second turn", trailing_silence=0.2))
            await session.force_end_turn()
            await session.close_stream()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            async for turn in TurnStream(session):
                turns.append(turn)
                turn_seen.set()
    assert [(t.text, t.trigger) for t in turns] == [
        ("First turn", TurnTrigger.MANUAL),
        ("Second turn", TurnTrigger.MANUAL),
    ]


# --- end to end: what is said is what is assembled ------------------------------------

words = st.lists(
    st.sampled_from(["book", "a", "table", "for", "two", "please", "now"]), min_size=1, max_size=5
)


@settings(max_examples=12)
@given(st.lists(words, min_size=1, max_size=3))
async def test_each_sentence_said_is_one_turn_and_one_utterance(sentences: list[list[str]]) -> None:
    texts = [" ".join(sentence) + "." for sentence in sentences]
    expected = [text[0].upper() + text[1:] for text in texts]
    async with open_fake_deepgram() as server:
        client = server.client()
        async with client.listen.v2.connect(**FLUX) as flux:
            for text in texts:
                await send_audio(flux, speech(text, trailing_silence=1.0))
            await flux.close_stream()
            turns = [t async for t in TurnStream(flux)]
        async with client.listen.v1.connect(**NOVA, punctuate=True) as nova:
            for text in texts:
                await send_audio(nova, speech(text, trailing_silence=1.0))
            await nova.close_stream()
            utterances = [u async for u in UtteranceStream(nova)]
    assert [(t.text, t.complete) for t in turns] == [(text, True) for text in expected]
    assert [u.text for u in utterances] == expected
