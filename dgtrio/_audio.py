"""Sans-IO audio helpers: G.711 codecs, sample-rate conversion, WAV headers, energy.

Pure Python on top of :mod:`array` and byte-level tricks, so the core keeps
no native dependency (``audioop`` is deprecated and gone in Python 3.13). Speed
is adequate for tests and for one or two live streams per process; the offline
engines do their heavy lifting elsewhere.

All PCM here is signed 16-bit little-endian mono unless a name says otherwise.
"""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Sequence

import attrs

__all__ = [
    "ENCODINGS",
    "Resampler",
    "WavInfo",
    "alaw_to_pcm16",
    "bytes_per_sample",
    "decode_to_pcm16",
    "encode_from_pcm16",
    "mulaw_to_pcm16",
    "parse_wav_header",
    "pcm16_to_alaw",
    "pcm16_to_mulaw",
    "rms",
    "wav_header",
]

#: Raw encodings the helpers here can decode and encode.
ENCODINGS = ("linear16", "mulaw", "alaw")

_BIG_ENDIAN = sys.byteorder == "big"


def bytes_per_sample(encoding: str) -> int:
    """Bytes per sample of a raw encoding (``linear16`` 2, ``mulaw``/``alaw`` 1, ``linear32`` 4)."""
    try:
        return {"linear16": 2, "mulaw": 1, "alaw": 1, "linear32": 4}[encoding]
    except KeyError:
        raise ValueError(f"unsupported raw encoding {encoding!r}") from None


# --- G.711 -------------------------------------------------------------------


def _mulaw_decode_sample(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    magnitude = ((mantissa << 3) + 0x84) << exponent
    magnitude -= 0x84
    return -magnitude if sign else magnitude


def _alaw_decode_sample(byte: int) -> int:
    byte ^= 0x55
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    step = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return step if sign else -step


def _mulaw_encode_sample(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, clip) + bias
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw_encode_sample(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = sample if sample >= 0 else -sample - 1
    magnitude = min(magnitude, 32767) >> 3
    if magnitude < 32:
        value = magnitude >> 1
    else:
        exponent = 1
        while magnitude >= 64 and exponent < 7:
            magnitude >>= 1
            exponent += 1
        value = (exponent << 4) | ((magnitude >> 1) & 0x0F)
    return (value | sign) ^ 0x55


def _byte_tables(decode: object) -> tuple[bytes, bytes]:
    samples = [decode(b) & 0xFFFF for b in range(256)]  # type: ignore[operator]
    return bytes(s & 0xFF for s in samples), bytes(s >> 8 for s in samples)


_MULAW_LO, _MULAW_HI = _byte_tables(_mulaw_decode_sample)
_ALAW_LO, _ALAW_HI = _byte_tables(_alaw_decode_sample)
# Encoding tables are indexed by (sample >> 2) + 8192: 14-bit resolution is all
# G.711 keeps, and 16384 entries build in a few milliseconds.
_MULAW_ENCODE = bytes(_mulaw_encode_sample((i - 8192) << 2) for i in range(16384))
_ALAW_ENCODE = bytes(_alaw_encode_sample((i - 8192) << 2) for i in range(16384))


def _expand(data: bytes, lo: bytes, hi: bytes) -> bytes:
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(lo)
    out[1::2] = data.translate(hi)
    return bytes(out)


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 µ-law to 16-bit PCM."""
    return _expand(data, _MULAW_LO, _MULAW_HI)


def alaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 A-law to 16-bit PCM."""
    return _expand(data, _ALAW_LO, _ALAW_HI)


def _samples(pcm: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:  # pragma: no cover - little-endian CI
        samples.byteswap()
    return samples


def _pcm(samples: array.array[int]) -> bytes:
    if _BIG_ENDIAN:  # pragma: no cover
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def pcm16_to_mulaw(pcm: bytes) -> bytes:
    """Encode 16-bit PCM as G.711 µ-law."""
    table = _MULAW_ENCODE
    return bytes([table[(s >> 2) + 8192] for s in _samples(pcm)])


def pcm16_to_alaw(pcm: bytes) -> bytes:
    """Encode 16-bit PCM as G.711 A-law."""
    table = _ALAW_ENCODE
    return bytes([table[(s >> 2) + 8192] for s in _samples(pcm)])


def decode_to_pcm16(data: bytes, encoding: str) -> bytes:
    """Decode raw audio in ``encoding`` (see :data:`ENCODINGS`) to 16-bit PCM."""
    if encoding == "linear16":
        return data[: len(data) - len(data) % 2]
    if encoding == "mulaw":
        return mulaw_to_pcm16(data)
    if encoding == "alaw":
        return alaw_to_pcm16(data)
    raise ValueError(f"cannot decode {encoding!r} audio (supported: {', '.join(ENCODINGS)})")


def encode_from_pcm16(pcm: bytes, encoding: str) -> bytes:
    """Encode 16-bit PCM as ``encoding`` (see :data:`ENCODINGS`)."""
    if encoding == "linear16":
        return pcm
    if encoding == "mulaw":
        return pcm16_to_mulaw(pcm)
    if encoding == "alaw":
        return pcm16_to_alaw(pcm)
    raise ValueError(f"cannot encode {encoding!r} audio (supported: {', '.join(ENCODINGS)})")


# --- resampling ----------------------------------------------------------------


class Resampler:
    """Streaming linear-interpolation resampler for 16-bit mono PCM.

    Feed chunks of any size; the output is the same as resampling the
    concatenation at once. Linear interpolation is plenty for speech
    recognition at 8-48 kHz; it is not a high-fidelity converter.
    """

    def __init__(self, rate_in: int, rate_out: int) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError("sample rates must be positive")
        self.rate_in = rate_in
        self.rate_out = rate_out
        # Output sample k sits at input position k * rate_in / rate_out. Keeping
        # k and the input offset as integers makes chunked and one-shot output
        # identical (a float accumulator drifts with the chunking).
        self._next_out = 0
        self._base = 0  # input index of self._history[0]
        self._history: list[int] = []
        self._pending = b""  # an odd trailing byte

    def feed(self, pcm: bytes) -> bytes:
        """Resample the next chunk; returns the output it completes."""
        data = self._pending + pcm
        cut = len(data) - len(data) % 2
        self._pending = data[cut:]
        if self.rate_in == self.rate_out:
            return data[:cut]
        samples = self._history + _samples(data[:cut]).tolist()
        base, end = self._base, self._base + len(samples)
        rate_in, rate_out, k = self.rate_in, self.rate_out, self._next_out
        out = array.array("h")
        while True:
            index, rest = divmod(k * rate_in, rate_out)
            if index + 1 >= end:
                break
            a = samples[index - base]
            out.append(int(a + (samples[index - base + 1] - a) * rest / rate_out))
            k += 1
        self._next_out = k
        drop = min((k * rate_in) // rate_out - base, len(samples))
        self._history = samples[drop:]
        self._base = base + drop
        return _pcm(out)


# --- WAV -----------------------------------------------------------------------


@attrs.frozen
class WavInfo:
    """What a WAV header says about the audio that follows it.

    Attributes:
        encoding: ``linear16``, ``linear32``, ``mulaw``, ``alaw`` or ``float32``.
        sample_rate: Samples per second.
        channels: Channel count.
        bits_per_sample: Bits per sample.
        data_offset: Where the sample data starts in the file.
        data_size: Length of the sample data (``None`` when the header says
            "unknown", as streaming writers do).
    """

    encoding: str
    sample_rate: int
    channels: int
    bits_per_sample: int
    data_offset: int
    data_size: int | None


_WAV_FORMATS = {(1, 16): "linear16", (1, 32): "linear32", (3, 32): "float32", (6, 8): "alaw"}
_WAV_FORMATS[(7, 8)] = "mulaw"


def parse_wav_header(head: bytes) -> WavInfo:
    """Parse a RIFF/WAVE header from the first bytes of a file.

    ``head`` must reach the start of the ``data`` chunk (a few hundred bytes
    is plenty for ordinary files).

    Raises:
        ValueError: Not a WAV file, an encoding we cannot describe, or a
            header longer than ``head``.
    """
    if len(head) < 12:
        if b"RIFF".startswith(head[:4]) and b"WAVE".startswith(head[8:12]):
            raise ValueError("WAV header incomplete: need at least 12 bytes")
        raise ValueError("not a WAV file (no RIFF/WAVE header)")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a WAV file (no RIFF/WAVE header)")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while offset + 8 <= len(head):
        chunk_id = head[offset : offset + 4]
        (size,) = struct.unpack_from("<I", head, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt ":
            if body + 16 > len(head):
                break
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == 0xFFFE and size >= 40 and body + 26 <= len(head):
                (tag,) = struct.unpack_from("<H", head, body + 24)  # WAVE_FORMAT_EXTENSIBLE
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("WAV file has no fmt chunk before its data")
            tag, channels, rate, bits = fmt
            encoding = _WAV_FORMATS.get((tag, bits))
            if encoding is None:
                raise ValueError(f"unsupported WAV encoding (format tag {tag}, {bits} bits)")
            data_size = None if size in (0, 0xFFFFFFFF) else size
            return WavInfo(encoding, rate, channels, bits, body, data_size)
        offset = body + size + (size & 1)
    raise ValueError("WAV header incomplete: no data chunk found")


def wav_header(*, encoding: str, sample_rate: int, channels: int = 1, data_size: int = 0) -> bytes:
    """Build a 44/46-byte WAV header for raw ``linear16``, ``mulaw`` or ``alaw`` data."""
    tag, bits = {"linear16": (1, 16), "mulaw": (7, 8), "alaw": (6, 8)}[encoding]
    block = channels * bits // 8
    extra = b"" if tag == 1 else b"\x00\x00"  # cbSize for non-PCM formats
    fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * block, block, bits)
    fmt += extra
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", len(body) + data_size) + body


# --- energy --------------------------------------------------------------------


def rms(pcm: bytes) -> float:
    """Root-mean-square amplitude of 16-bit PCM (0 for empty input)."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return float((sum(s * s for s in samples) / len(samples)) ** 0.5)


def samples_of(pcm: bytes) -> Sequence[int]:
    """The samples of 16-bit PCM as a sequence of ints."""
    return _samples(pcm)
