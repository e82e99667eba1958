"""Follow a conversation's turns with Flux, the way a voice agent does.

Usage::

    python docs/examples/flux_turns.py          # against dgtrio.testing's server, no key needed

A voice agent wants to answer as soon as the user is done, and no sooner.
With ``eager_eot_threshold`` set, Flux says ``EagerEndOfTurn`` when the user
has *probably* finished: the agent starts drafting its reply. If the user goes
on, ``TurnResumed`` says to throw the draft away; ``EndOfTurn`` says to send
it. This example prints those decisions for audio streamed in real time.
"""

from __future__ import annotations

import trio

from dgtrio import DeepgramClient
from dgtrio.listen.v2 import TurnEvent, TurnInfo
from dgtrio.testing import open_fake_deepgram, speech

RATE = 16000
CHUNK = RATE * 2 * 80 // 1000  # 80 ms of linear16, the chunk size Flux works best with


async def follow_turns(client: DeepgramClient, audio: bytes) -> list[str]:
    """Stream ``audio`` (16 kHz linear16) to Flux in real time; return each finished turn."""
    finished: list[str] = []
    async with client.listen.v2.connect(
        model="flux-general-en",
        encoding="linear16",
        sample_rate=RATE,
        eager_eot_threshold=0.5,
    ) as session:

        async def microphone() -> None:
            for offset in range(0, len(audio), CHUNK):
                await session.send_media(audio[offset : offset + CHUNK])
                await trio.sleep(0.08)  # as fast as someone speaks
            await session.close_stream()  # the last turn's final text comes in an Update

        async with trio.open_nursery() as nursery:
            nursery.start_soon(microphone)
            last: TurnInfo | None = None
            async for event in session:
                if not isinstance(event, TurnInfo):
                    continue
                last = event
                at = f"{event.audio_window_end:5.2f}s"
                if event.event == TurnEvent.EAGER_END_OF_TURN:
                    print(f"[{at}] probably done, drafting a reply to: {event.transcript}")
                elif event.event == TurnEvent.TURN_RESUMED:
                    print(f"[{at}] not done after all, dropping the draft")
                elif event.event == TurnEvent.END_OF_TURN:
                    print(f"[{at}] turn {event.turn_index} over ({event.trigger}): send the reply")
                    finished.append(event.transcript)
            if last is not None and not last.is_end_of_turn and last.transcript:
                print(f"[stream closed] unfinished turn: {last.transcript}")
                finished.append(last.transcript)
    return finished


async def main() -> None:
    """Play a short conversation to the fake server (its tones carry the exact words)."""
    audio = (
        speech("I would like a table. For two, please.", trailing_silence=1.0)
        + speech("At eight tonight.", trailing_silence=1.0)
        + speech("And one more thing", trailing_silence=0.2)
    )
    async with open_fake_deepgram() as server:
        turns = await follow_turns(server.client(), audio)
    print(f"{len(turns)} turns")


if __name__ == "__main__":
    trio.run(main)
