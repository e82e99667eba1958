"""Speak text with Aura, sentence by sentence, and save the audio as a WAV file.

Usage::

    python docs/examples/speak_to_wav.py OUT.wav "Hi. Bye."         # Deepgram: DEEPGRAM_API_KEY
    python docs/examples/speak_to_wav.py OUT.wav "Hi. Bye." --fake  # dgtrio.testing, no key

Text usually arrives in pieces (from a language model, say). Each piece is
sent as it comes; a ``Flush`` after each sentence has it spoken at once, so
playback can start before the text is complete. ``close()`` then lets the
server finish and close, and the audio loop ends by itself.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import trio

from dgtrio import DeepgramClient, DeepgramError
from dgtrio.testing import open_fake_deepgram


async def speak_to_wav(client: DeepgramClient, text: str, path: Path) -> float:
    """Speak ``text`` one sentence at a time into the WAV file ``path``; return its seconds."""
    async with client.speak.v1.connect(
        model="aura-2-asteria-en", encoding="linear16", sample_rate=24000
    ) as session:

        async def writer() -> None:
            for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
                await session.send_text(sentence + " ")
                await session.flush()  # returns once this sentence's audio has been sent
                print(f"spoken: {sentence}")
            await session.close()  # nothing more to say: the server closes when done

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            # Reads every chunk, in order, until the server closes the connection.
            seconds = await session.write_wav(path)
    return seconds


async def main(argv: list[str]) -> int:
    """Command line: ``OUT.wav TEXT [--fake]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", type=Path)
    parser.add_argument("text")
    parser.add_argument("--fake", action="store_true", help="use dgtrio.testing's local server")
    args = parser.parse_args(argv)
    try:
        if args.fake:
            async with open_fake_deepgram() as server:
                seconds = await speak_to_wav(server.client(), args.text, args.wav)
        else:
            seconds = await speak_to_wav(DeepgramClient(), args.text, args.wav)
    except DeepgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {seconds:.2f} s of audio to {args.wav}")
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1:]))
