"""Save received audio as a WAV file.

:class:`WavWriter` is a small, synchronous file helper on top of the standard
library's :mod:`wave` module. Text-to-speech and agent sessions deliver raw
audio with no container; this puts the right header in front of it.

Writes block. For a handful of chunks that is harmless inside an async
program; for long streams, either accept short blocking writes (they go to the
OS page cache) or hand the chunks to a thread, e.g. with
``trio.to_thread.run_sync(writer.write, chunk)``.
"""

from __future__ import annotations

import array
import os
import sys
import wave
from types import TracebackType
from typing import BinaryIO

from ._audio import bytes_per_sample, decode_to_pcm16
from ._common import AudioChunk

__all__ = ["WavWriter"]

_SUPPORTED = ("linear16", "mulaw", "alaw")


def _check_encoding(encoding: str) -> None:
    if encoding not in _SUPPORTED:
        raise ValueError(
            f"cannot write {encoding!r} audio to WAV (supported: {', '.join(_SUPPORTED)})"
        )


class WavWriter:
    """Write raw audio to a 16-bit PCM WAV file.

    ``linear16`` audio is written as it is; ``mulaw`` and ``alaw`` (G.711)
    are decoded to 16-bit PCM first, because :mod:`wave` writes only PCM. The
    header is completed when the writer is closed, so the file must be
    seekable (any regular file is). Use it as a context manager, or call
    :meth:`close`.

    The encoding and sample rate may be given up front or left to the first
    :class:`~dgtrio._common.AudioChunk` written, which carries both. Chunks
    that disagree with the file's format are refused rather than silently
    mixed in.

    Args:
        file: A path, or a binary file object opened for writing (it is not
            closed by :meth:`close`).
        encoding: The encoding of the audio that will be written: ``linear16``,
            ``mulaw`` or ``alaw``.
        sample_rate: Samples per second.
        channels: Interleaved channels in the audio (1 for every Deepgram
            text-to-speech stream).

    Raises:
        ValueError: An unsupported encoding, or a non-positive rate or
            channel count.
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        *,
        encoding: str | None = None,
        sample_rate: int | None = None,
        channels: int = 1,
    ) -> None:
        if encoding is not None:
            _check_encoding(encoding)
        if sample_rate is not None and sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        if channels <= 0:
            raise ValueError("channels must be positive")
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.channels = channels
        self._file = file
        self._wave: wave.Wave_write | None = None
        self._pending = b""  # the start of a sample frame cut off by the last write
        self._frames = 0
        self._closed = False

    # -- writing

    def write(
        self,
        audio: AudioChunk | bytes | bytearray | memoryview,
    ) -> None:
        """Append audio: an :class:`~dgtrio._common.AudioChunk` or raw bytes.

        Raw bytes are taken to be in the writer's encoding; an ``AudioChunk``
        must match it (and fills it in when it was not given). A chunk may
        end in the middle of a sample frame (half a ``linear16`` sample, or
        some channels of a multichannel frame): the rest is kept for the next
        write, and dropped at :meth:`close` if it never comes.

        Raises:
            ValueError: The writer is closed; the encoding or rate is unknown
                (raw bytes before any format was set); or a chunk's format
                differs from the file's.
        """
        if self._closed:
            raise ValueError("write to a closed WavWriter")
        if isinstance(audio, AudioChunk):
            self._adopt(audio.encoding, audio.sample_rate)
            data = audio.data
        else:
            data = bytes(audio)
        if self.encoding is None or self.sample_rate is None:
            raise ValueError(
                "the audio's encoding and sample_rate are unknown: pass them to WavWriter "
                "or write an AudioChunk that carries them"
            )
        if not data:
            return
        block = bytes_per_sample(self.encoding) * self.channels
        data = self._pending + data
        cut = len(data) - len(data) % block
        data, self._pending = data[:cut], data[cut:]
        self._write_pcm(decode_to_pcm16(data, self.encoding))

    def _adopt(self, encoding: str, sample_rate: int | None) -> None:
        _check_encoding(encoding)
        if self.encoding is None:
            self.encoding = encoding
        elif encoding != self.encoding:
            raise ValueError(
                f"chunk encoding {encoding!r} differs from the file's {self.encoding!r}"
            )
        if sample_rate is None:
            return
        if self.sample_rate is None:
            self.sample_rate = sample_rate
        elif sample_rate != self.sample_rate:
            raise ValueError(
                f"chunk sample rate {sample_rate} differs from the file's {self.sample_rate}"
            )

    def _open(self) -> wave.Wave_write:
        assert self.sample_rate is not None
        file = self._file
        target = os.fspath(file) if isinstance(file, (str, os.PathLike)) else file
        # Closed in close(): the writer outlives this method.
        handle = wave.open(target, "wb")  # noqa: SIM115
        handle.setnchannels(self.channels)
        handle.setsampwidth(2)
        handle.setframerate(self.sample_rate)
        return handle

    def _write_pcm(self, pcm: bytes) -> None:
        if not pcm:
            return
        if self._wave is None:
            self._wave = self._open()
        if sys.byteorder == "big":  # pragma: no cover - little-endian CI
            # wave expects native-order samples and swaps them on big-endian
            # hosts; ours are little-endian already.
            samples = array.array("h", pcm)
            samples.byteswap()
            pcm = samples.tobytes()
        self._wave.writeframes(pcm)
        self._frames += len(pcm) // (2 * self.channels)

    # -- state

    @property
    def frames_written(self) -> int:
        """Sample frames written so far (one sample per channel each)."""
        return self._frames

    @property
    def duration(self) -> float:
        """Seconds of audio written so far."""
        return self._frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- closing

    def close(self) -> None:
        """Finish the header and close the file (a file object passed in stays open).

        A file is written even when no audio was, provided the sample rate is
        known; otherwise nothing is created. An incomplete trailing sample
        frame is dropped. Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._wave is None and self.sample_rate is not None:
            self._wave = self._open()
        if self._wave is not None:
            self._wave.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
