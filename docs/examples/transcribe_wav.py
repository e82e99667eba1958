"""Stream a WAV file to /v1/listen in real time and print what was said.

Usage::

    python docs/examples/transcribe_wav.py FILE.wav          # Deepgram; needs DEEPGRAM_API_KEY
    python docs/examples/transcribe_wav.py FILE.wav --fake   # dgtrio.testing's server, no key

The file is sent as it is (WAV is "containerized" audio: no ``encoding``
parameter), in 100 ms chunks paced at real time, the way a live source would
deliver it. ``docs/examples/hello.wav`` is made of dgtrio's test tones, so the
fake server recognizes it exactly.
"""

from __future__ import annotations

import argparse
import io
import sys
import wave
from pathlib import Path

import trio

from dgtrio import DeepgramClient, DeepgramError
from dgtrio.listen.v1 import Results
from dgtrio.testing import open_fake_deepgram


async def transcribe(client: DeepgramClient, path: Path, speed: float) -> list[str]:
    """Send ``path`` to ``/v1/listen``; return the final transcripts."""
    data = await trio.Path(path).read_bytes()
    with wave.open(io.BytesIO(data), "rb") as wav:
        bytes_per_second = wav.getframerate() * wav.getnchannels() * wav.getsampwidth()
    chunk = bytes_per_second // 10  # 100 ms
    finals: list[str] = []
    options = {"model": "nova-3", "punctuate": True, "interim_results": True}
    async with client.listen.v1.connect(**options) as session:

        async def pump() -> None:
            for offset in range(0, len(data), chunk):
                await session.send_media(data[offset : offset + chunk])
                if speed:
                    await trio.sleep(0.1 / speed)
            await session.close_stream()  # the server sends what is left, then closes

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump)
            async for event in session:
                if isinstance(event, Results) and event.is_final and event.transcript:
                    print(f"[{event.start:6.2f}s] {event.transcript}")
                    finals.append(event.transcript)
    return finals


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", type=Path)
    parser.add_argument("--fake", action="store_true", help="use dgtrio.testing's local server")
    parser.add_argument("--speed", type=float, default=1.0, help="pace (0: as fast as possible)")
    args = parser.parse_args(argv)
    try:
        if args.fake:
            async with open_fake_deepgram() as server:
                await transcribe(server.client(), args.wav, args.speed)
        else:
            await transcribe(DeepgramClient(), args.wav, args.speed)
    except DeepgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main, sys.argv[1:]))
