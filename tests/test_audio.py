"""Sans-IO audio helpers: G.711 against a reference written here, resampling, WAV, energy.

The G.711 reference follows the standard's tables rather than the bit tricks
of ``dgtrio/_audio.py``: a code is (sign, segment, step); its value is the
middle of its decision interval; encoding finds the interval that holds the
sample by searching the sorted decision thresholds. 16-bit samples are cut to
the 14-bit (µ-law) or 13-bit (A-law) range by an arithmetic shift, as the
classic Sun ``g711.c`` (and hence ``audioop``) does. The checks are
exhaustive: every code and every 16-bit sample.
"""

from __future__ import annotations

import bisect
import io
import math
import struct
import wave
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio._audio import (
    ENCODINGS,
    Resampler,
    WavInfo,
    alaw_to_pcm16,
    bytes_per_sample,
    decode_to_pcm16,
    encode_from_pcm16,
    mulaw_to_pcm16,
    parse_wav_header,
    pcm16_to_alaw,
    pcm16_to_mulaw,
    rms,
    wav_header,
)

SETTINGS = settings(deadline=None)
ALL_SAMPLES = range(-32768, 32768)


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data[: len(data) - len(data) % 2]))


# --- a reference G.711 from the standard's tables ---------------------------------


def mulaw_reference_value(segment: int, step: int) -> int:
    """µ-law reconstruction value in 14-bit units: the middle of the interval."""
    return ((2 * step + 33) << segment) - 33


def alaw_reference_value(segment: int, step: int) -> int:
    """A-law reconstruction value in 13-bit units, doubled (so it is an integer)."""
    if segment == 0:
        return 2 * step + 1
    return (2 * step + 33) << (segment - 1)


def mulaw_ref_decode(code: int) -> int:
    bits = ~code & 0xFF  # µ-law codes are sent inverted
    magnitude = mulaw_reference_value((bits >> 4) & 7, bits & 15) * 4
    return -magnitude if bits & 0x80 else magnitude


def alaw_ref_decode(code: int) -> int:
    bits = code ^ 0x55  # A-law codes are sent with the even bits inverted
    magnitude = alaw_reference_value((bits >> 4) & 7, bits & 15) * 8
    return magnitude if bits & 0x80 else -magnitude


# Lower decision thresholds, as (threshold, segment, step), in the 14-/13-bit domain.
MULAW_THRESHOLDS = sorted((((16 + q) << (s + 1)) - 33, s, q) for s in range(8) for q in range(16))
ALAW_THRESHOLDS = sorted(
    ((2 * q if s == 0 else (16 + q) << s), s, q) for s in range(8) for q in range(16)
)


def _interval(thresholds: list[tuple[int, int, int]], magnitude: int) -> tuple[int, int]:
    index = bisect.bisect_right([t for t, _, _ in thresholds], magnitude) - 1
    _, segment, step = thresholds[index]
    return segment, step


def mulaw_ref_encode(sample: int) -> int:
    value = sample >> 2  # 14-bit
    negative = value < 0
    segment, step = _interval(MULAW_THRESHOLDS, -value if negative else value)
    return (0x7F if negative else 0xFF) ^ ((segment << 4) | step)


def alaw_ref_encode(sample: int) -> int:
    value = sample >> 3  # 13-bit
    negative = value < 0
    segment, step = _interval(ALAW_THRESHOLDS, -value - 1 if negative else value)
    return (0x55 if negative else 0xD5) ^ ((segment << 4) | step)


def test_reference_agrees_with_published_vectors() -> None:
    # Well-known G.711 values (ITU-T G.711 tables; also every softphone's test suite).
    assert [mulaw_ref_decode(c) for c in (0xFF, 0x7F, 0x80, 0x00, 0xFE, 0x7E)] == [
        0, 0, 32124, -32124, 8, -8,
    ]  # fmt: skip
    assert [alaw_ref_decode(c) for c in (0xD5, 0x55, 0xAA, 0x2A, 0xD4, 0x54)] == [
        8, -8, 32256, -32256, 24, -24,
    ]  # fmt: skip
    assert mulaw_ref_encode(0) == 0xFF
    assert mulaw_ref_encode(-1) == 0x7E  # Sun g711.c: -1 >> 2 == -1, one step below zero
    assert mulaw_ref_encode(32767) == 0x80
    assert mulaw_ref_encode(-32768) == 0x00
    assert alaw_ref_encode(0) == 0xD5
    assert alaw_ref_encode(-1) == 0x55
    assert alaw_ref_encode(32767) == 0xAA
    assert alaw_ref_encode(-32768) == 0x2A


def test_reference_decoding_is_symmetric_and_monotonic() -> None:
    mu = sorted(mulaw_ref_decode(c) for c in range(256))
    assert mu == sorted(-v for v in mu)
    a = sorted(alaw_ref_decode(c) for c in range(256))
    assert a == sorted(-v for v in a)
    assert len(set(a)) == 256  # A-law has no negative zero
    assert len(set(mu)) == 255  # µ-law has two codes for zero


# --- the library against the reference ---------------------------------------------

CODES = bytes(range(256))


def test_mulaw_decodes_every_code_like_the_reference() -> None:
    assert samples(mulaw_to_pcm16(CODES)) == [mulaw_ref_decode(c) for c in CODES]


def test_alaw_decodes_every_code_like_the_reference() -> None:
    assert samples(alaw_to_pcm16(CODES)) == [alaw_ref_decode(c) for c in CODES]


def test_mulaw_encodes_every_sample_like_the_reference() -> None:
    encoded = pcm16_to_mulaw(pcm(*ALL_SAMPLES))
    assert list(encoded) == [mulaw_ref_encode(s) for s in ALL_SAMPLES]


def test_alaw_encodes_every_sample_like_the_reference() -> None:
    encoded = pcm16_to_alaw(pcm(*ALL_SAMPLES))
    assert list(encoded) == [alaw_ref_encode(s) for s in ALL_SAMPLES]


def test_encoding_a_decoded_code_gives_the_code_back() -> None:
    assert pcm16_to_alaw(alaw_to_pcm16(CODES)) == CODES
    # µ-law has a negative zero (0x7F); it decodes to 0, which encodes as 0xFF.
    expected = bytes(0xFF if c == 0x7F else c for c in CODES)
    assert pcm16_to_mulaw(mulaw_to_pcm16(CODES)) == expected


@pytest.mark.parametrize(
    ("encode", "decode", "shift"),
    [(pcm16_to_mulaw, mulaw_to_pcm16, 2), (pcm16_to_alaw, alaw_to_pcm16, 3)],
    ids=["mulaw", "alaw"],
)
def test_decoding_an_encoded_sample_is_off_by_at_most_half_a_step(
    encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes], shift: int
) -> None:
    out = samples(decode(encode(pcm(*ALL_SAMPLES))))
    peak = max(out)
    worst_relative = 0.0
    for sample, back in zip(ALL_SAMPLES, out, strict=True):
        if abs(sample) > peak:
            assert back == math.copysign(peak, sample)  # clipped to the largest code
            continue
        # Half a step is about 1/32 of the value (segments double the step as
        # the values double), plus what the shift to 14 or 13 bits drops.
        error = abs(back - sample)
        assert error <= abs(sample) / 32 + (2 << shift), (sample, back)
        if abs(sample) > 1000:
            worst_relative = max(worst_relative, error / abs(sample))
    assert worst_relative > 0.025  # and the bound is tight


@pytest.mark.parametrize("encoding", ENCODINGS)
@SETTINGS
@given(data=st.binary(max_size=64))
def test_decode_and_encode_dispatch(encoding: str, data: bytes) -> None:
    width = bytes_per_sample(encoding)
    decoded = decode_to_pcm16(data, encoding)
    assert len(decoded) == 2 * (len(data) // width)
    if encoding == "linear16":
        assert decoded == data[: len(decoded)]
        assert encode_from_pcm16(decoded, encoding) == decoded
    else:
        assert decoded == {"mulaw": mulaw_to_pcm16, "alaw": alaw_to_pcm16}[encoding](data)
        reencoded = encode_from_pcm16(decoded, encoding)
        assert decode_to_pcm16(reencoded, encoding) == decoded


def test_unsupported_encodings_are_refused() -> None:
    with pytest.raises(ValueError, match="opus"):
        decode_to_pcm16(b"", "opus")
    with pytest.raises(ValueError, match="flac"):
        encode_from_pcm16(b"", "flac")
    with pytest.raises(ValueError, match="opus"):
        bytes_per_sample("opus")
    assert [bytes_per_sample(e) for e in ("linear16", "mulaw", "alaw", "linear32")] == [2, 1, 1, 4]


def test_odd_trailing_bytes_of_pcm_are_ignored_by_the_encoders() -> None:
    assert pcm16_to_mulaw(pcm(0, 1000) + b"\x01") == pcm16_to_mulaw(pcm(0, 1000))
    assert pcm16_to_alaw(b"\x01") == b""


# --- resampling --------------------------------------------------------------------

RATES = st.sampled_from([8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]) | st.integers(
    1000, 50000
)
SIGNAL = st.lists(st.integers(-32768, 32767), max_size=300).map(lambda s: pcm(*s))


def feed_in_chunks(resampler: Resampler, data: bytes, cuts: list[int]) -> bytes:
    out = b""
    start = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        out += resampler.feed(data[start:cut])
        start = cut
    return out + resampler.feed(data[start:])


@SETTINGS
@given(rate_in=RATES, rate_out=RATES, data=SIGNAL, cuts=st.lists(st.integers(0, 600)))
def test_resampler_output_does_not_depend_on_the_chunking(
    rate_in: int, rate_out: int, data: bytes, cuts: list[int]
) -> None:
    whole = Resampler(rate_in, rate_out).feed(data)
    assert feed_in_chunks(Resampler(rate_in, rate_out), data, cuts) == whole
    # Cuts in the middle of a sample are fine too (odd byte counts).
    odd = [c * 2 + 1 for c in cuts]
    assert feed_in_chunks(Resampler(rate_in, rate_out), data, odd) == whole


@SETTINGS
@given(rate_in=RATES, rate_out=RATES, data=SIGNAL)
def test_resampler_output_has_the_right_length(rate_in: int, rate_out: int, data: bytes) -> None:
    n = len(data) // 2
    out = Resampler(rate_in, rate_out).feed(data)
    assert len(out) % 2 == 0
    produced = len(out) // 2
    # Output sample k sits at input position k * rate_in / rate_out and needs the
    # input sample after it, so all of them up to the last input sample but one.
    expected = 0 if n == 0 else math.ceil((n - 1) * rate_out / rate_in)
    if rate_in == rate_out:
        expected = n  # passthrough
    assert produced == expected
    assert abs(produced - n * rate_out / rate_in) <= rate_out / rate_in + 1


@SETTINGS
@given(rate_in=RATES, rate_out=RATES, data=SIGNAL)
def test_resampled_values_stay_between_their_neighbours(
    rate_in: int, rate_out: int, data: bytes
) -> None:
    source = samples(data)
    out = samples(Resampler(rate_in, rate_out).feed(data))
    for k, value in enumerate(out):
        index, rest = divmod(k * rate_in, rate_out)
        a, b = source[index], source[min(index + 1, len(source) - 1)]
        assert min(a, b) <= value <= max(a, b)
        if rest == 0:
            assert value == a


def test_resampler_known_values() -> None:
    assert samples(Resampler(8000, 16000).feed(pcm(0, 100, 200))) == [0, 50, 100, 150]
    assert samples(Resampler(48000, 16000).feed(pcm(*range(0, 1200, 100)))) == [0, 300, 600, 900]
    assert samples(Resampler(16000, 8000).feed(pcm(5, 6, 7, 8, 9))) == [5, 7]
    assert samples(Resampler(8000, 16000).feed(pcm(0, -100))) == [0, -50]
    constant = pcm(*[1234] * 100)
    assert set(samples(Resampler(44100, 16000).feed(constant))) == {1234}
    same = Resampler(16000, 16000)
    assert same.feed(b"\x01") == b""
    assert same.feed(b"\x02\x03") == b"\x01\x02"


def test_resampler_refuses_bad_rates() -> None:
    for rates in [(0, 16000), (16000, 0), (-8000, 16000)]:
        with pytest.raises(ValueError, match="positive"):
            Resampler(*rates)


def test_resampler_memory_stays_bounded() -> None:
    resampler = Resampler(44100, 16000)
    chunk = pcm(*range(-500, 500))
    for _ in range(50):
        resampler.feed(chunk)
    assert len(resampler._history) <= 4


# --- WAV headers -------------------------------------------------------------------

WAV_BITS = {"linear16": 16, "mulaw": 8, "alaw": 8}


@pytest.mark.parametrize("encoding", sorted(WAV_BITS))
@SETTINGS
@given(
    sample_rate=st.integers(1, 192000),
    channels=st.integers(1, 8),
    data_size=st.integers(0, 2**31),
)
def test_wav_header_round_trip(
    encoding: str, sample_rate: int, channels: int, data_size: int
) -> None:
    header = wav_header(
        encoding=encoding, sample_rate=sample_rate, channels=channels, data_size=data_size
    )
    assert len(header) == (44 if encoding == "linear16" else 46)
    info = parse_wav_header(header)
    assert info == WavInfo(
        encoding=encoding,
        sample_rate=sample_rate,
        channels=channels,
        bits_per_sample=WAV_BITS[encoding],
        data_offset=len(header),
        data_size=data_size or None,  # 0 means "unknown" (streaming writers)
    )
    # Whatever follows the header does not matter.
    assert parse_wav_header(header + b"\x00" * 10) == info


def test_wav_header_is_readable_by_the_standard_library() -> None:
    audio = pcm(1, -2, 3, -4)
    data = wav_header(encoding="linear16", sample_rate=16000, data_size=len(audio)) + audio
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            16000,
            1,
            2,
        )
        assert reader.readframes(10) == audio


def _chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


def test_parse_wav_header_skips_other_chunks_and_reads_extensible_format() -> None:
    fmt = struct.pack("<HHIIHH", 0xFFFE, 2, 48000, 48000 * 4, 4, 16)
    fmt += struct.pack("<HHI", 22, 16, 3) + struct.pack("<H", 1) + b"\x00" * 14  # PCM subformat
    head = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"LIST", b"INFOISFT\x03\x00\x00\x00ab\x00")
    head += b"data" + struct.pack("<I", 1000)
    wav = b"RIFF" + struct.pack("<I", len(head) + 1000) + head
    assert parse_wav_header(wav) == WavInfo("linear16", 48000, 2, 16, len(wav), 1000)


@pytest.mark.parametrize(
    ("tag", "bits", "encoding"),
    [(1, 32, "linear32"), (3, 32, "float32"), (6, 8, "alaw"), (7, 8, "mulaw")],
)
def test_parse_wav_header_names_each_format(tag: int, bits: int, encoding: str) -> None:
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 8000 * bits // 8, bits // 8, bits)
    head = b"WAVE" + _chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", 0xFFFFFFFF)
    info = parse_wav_header(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + head)
    assert (info.encoding, info.bits_per_sample, info.data_size) == (encoding, bits, None)


@pytest.mark.parametrize(
    "data",
    [
        b"OggS\x00\x02" + b"\x00" * 40,
        b"RIFX" + b"\x00" * 4 + b"WAVE" + b"\x00" * 32,
        b"RIFF" + b"\x00" * 4 + b"AVI " + b"\x00" * 32,
        b"\x00" * 44,
        b"ID3\x04" + b"\x00" * 60,
    ],
    ids=["ogg", "rifx", "avi", "zeros", "mp3"],
)
def test_parse_wav_header_rejects_other_formats(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a WAV file"):
        parse_wav_header(data)


def test_parse_wav_header_rejects_data_before_fmt_and_unknown_formats() -> None:
    with pytest.raises(ValueError, match="no fmt chunk"):
        parse_wav_header(b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00")
    fmt = struct.pack("<HHIIHH", 0x55, 1, 8000, 1000, 1, 0)  # MP3 in WAV
    with pytest.raises(ValueError, match="format tag 85"):
        parse_wav_header(
            b"RIFF\x00\x00\x00\x00WAVE" + _chunk(b"fmt ", fmt) + b"data\x00\x00\x00\x00"
        )


@pytest.mark.parametrize("encoding", sorted(WAV_BITS))
def test_parse_wav_header_reports_incomplete_headers(encoding: str) -> None:
    header = wav_header(encoding=encoding, sample_rate=8000)
    for length in range(12, len(header)):
        with pytest.raises(ValueError, match="incomplete"):
            parse_wav_header(header[:length])


def test_parse_wav_header_reports_short_prefixes_as_incomplete() -> None:
    header = wav_header(encoding="linear16", sample_rate=8000)
    for length in range(12):
        with pytest.raises(ValueError, match="incomplete"):
            parse_wav_header(header[:length])


# --- energy ------------------------------------------------------------------------


def test_rms_of_known_signals() -> None:
    assert rms(b"") == 0.0
    assert rms(b"\x01") == 0.0  # an odd byte is not a sample
    assert rms(pcm(0, 0, 0)) == 0.0
    assert rms(pcm(1000)) == 1000.0
    assert rms(pcm(-1000, -1000)) == 1000.0
    assert rms(pcm(3000, -3000) * 50) == 3000.0
    assert rms(pcm(3, 4)) == pytest.approx(math.sqrt(12.5))
    assert rms(pcm(-32768)) == 32768.0
    sine = [round(10000 * math.sin(2 * math.pi * 440 * t / 16000)) for t in range(16000)]
    assert rms(pcm(*sine)) == pytest.approx(10000 / math.sqrt(2), rel=1e-3)


@SETTINGS
@given(values=st.lists(st.integers(-32768, 32767), min_size=1, max_size=200))
def test_rms_matches_its_definition(values: list[int]) -> None:
    expected = math.sqrt(sum(v * v for v in values) / len(values))
    assert rms(pcm(*values)) == pytest.approx(expected)
    assert min(abs(v) for v in values) <= rms(pcm(*values)) + 1e-9
    assert rms(pcm(*values)) <= max(abs(v) for v in values) + 1e-9


def test_pcm_is_little_endian_whatever_the_machine() -> None:
    assert rms(b"\x00\x01") == 256.0  # 0x0100
    assert samples(mulaw_to_pcm16(b"\x80")) == [32124]
    assert mulaw_to_pcm16(b"\x80") == b"\x7c\x7d"  # 32124 == 0x7D7C
    assert pcm16_to_mulaw(b"\x7c\x7d") == b"\x80"
