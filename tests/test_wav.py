"""WavWriter: received audio to a WAV file."""

from __future__ import annotations

import io
import itertools
import struct
import wave
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dgtrio._audio import alaw_to_pcm16, mulaw_to_pcm16, parse_wav_header
from dgtrio._common import AudioChunk
from dgtrio._wav import WavWriter


def _read(data: bytes) -> tuple[wave._wave_params, bytes]:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getparams(), reader.readframes(reader.getnframes())


def _pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def test_linear16_chunks_are_written_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    with WavWriter(path) as writer:
        writer.write(AudioChunk(_pcm(1, -2, 300), "linear16", 24000))
        writer.write(AudioChunk(_pcm(-32768, 32767), "linear16", 24000))
        assert writer.frames_written == 5
        assert writer.duration == pytest.approx(5 / 24000)
    assert writer.closed
    params, frames = _read(path.read_bytes())
    assert (params.nchannels, params.sampwidth, params.framerate, params.nframes) == (
        1,
        2,
        24000,
        5,
    )
    assert frames == _pcm(1, -2, 300, -32768, 32767)
    info = parse_wav_header(path.read_bytes()[:64])
    assert (info.encoding, info.sample_rate, info.data_size) == ("linear16", 24000, 10)


@pytest.mark.parametrize(
    ("encoding", "decode"), [("mulaw", mulaw_to_pcm16), ("alaw", alaw_to_pcm16)]
)
def test_g711_is_decoded_to_pcm(encoding: str, decode: object) -> None:
    raw = bytes(range(256))
    out = io.BytesIO()
    with WavWriter(out, encoding=encoding, sample_rate=8000) as writer:
        writer.write(raw[:100])
        writer.write(AudioChunk(raw[100:], encoding, 8000))
    assert not out.closed  # a file object passed in stays open
    params, frames = _read(out.getvalue())
    assert (params.sampwidth, params.framerate, params.nframes) == (2, 8000, 256)
    assert callable(decode)
    assert frames == decode(raw)


def test_raw_bytes_with_the_format_given_up_front() -> None:
    out = io.BytesIO()
    with WavWriter(out, encoding="linear16", sample_rate=16000) as writer:
        writer.write(_pcm(7, 8))
        writer.write(bytearray(_pcm(9)))
        writer.write(memoryview(_pcm(10)))
        writer.write(b"")
    assert _read(out.getvalue())[1] == _pcm(7, 8, 9, 10)


def test_odd_byte_is_carried_to_the_next_write() -> None:
    out = io.BytesIO()
    data = _pcm(1000, -1000, 5)
    with WavWriter(out, encoding="linear16", sample_rate=8000) as writer:
        writer.write(data[:3])
        assert writer.frames_written == 1
        writer.write(data[3:5])
        writer.write(data[5:] + b"\x01")  # a dangling half sample at the end
    assert _read(out.getvalue())[1] == data


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_any_chunking_gives_the_same_file(data: bytes, cuts: list[int]) -> None:
    data = data[: len(data) - len(data) % 2]
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]
    out = io.BytesIO()
    with WavWriter(out, encoding="linear16", sample_rate=24000) as writer:
        for piece in pieces:
            writer.write(piece)
    assert _read(out.getvalue())[1] == data


def test_format_comes_from_the_first_chunk_and_must_stay() -> None:
    writer = WavWriter(io.BytesIO())
    with pytest.raises(ValueError, match="unknown"):
        writer.write(b"\x00\x00")
    writer.write(AudioChunk(_pcm(1), "linear16", 48000))
    assert (writer.encoding, writer.sample_rate) == ("linear16", 48000)
    with pytest.raises(ValueError, match="sample rate"):
        writer.write(AudioChunk(_pcm(1), "linear16", 24000))
    with pytest.raises(ValueError, match="encoding"):
        writer.write(AudioChunk(b"\x00", "mulaw", 48000))
    writer.write(AudioChunk(_pcm(2), "linear16", None))  # no rate: taken as the file's
    writer.close()
    writer.close()  # harmless
    with pytest.raises(ValueError, match="closed"):
        writer.write(_pcm(3))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="opus"):
        WavWriter(io.BytesIO(), encoding="opus")
    with pytest.raises(ValueError, match="sample_rate"):
        WavWriter(io.BytesIO(), sample_rate=0)
    with pytest.raises(ValueError, match="channels"):
        WavWriter(io.BytesIO(), channels=0)
    with pytest.raises(ValueError, match="linear32"):
        WavWriter(io.BytesIO()).write(AudioChunk(b"\x00" * 4, "linear32", 16000))


def test_empty_file_when_nothing_was_written(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    WavWriter(path, encoding="mulaw", sample_rate=8000).close()
    params, frames = _read(path.read_bytes())
    assert (params.framerate, params.nframes, frames) == (8000, 0, b"")
    # Without a known rate there is no header to write, so no file.
    never = tmp_path / "never.wav"
    WavWriter(never).close()
    assert not never.exists()


def test_stereo(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with WavWriter(str(path), encoding="linear16", sample_rate=8000, channels=2) as writer:
        writer.write(_pcm(1, 2, 3, 4))
        assert writer.frames_written == 2
    params, frames = _read(path.read_bytes())
    assert (params.nchannels, params.nframes, frames) == (2, 2, _pcm(1, 2, 3, 4))


def test_partial_frames_wait_for_their_other_channels() -> None:
    out = io.BytesIO()
    with WavWriter(out, encoding="mulaw", sample_rate=8000, channels=2) as writer:
        writer.write(b"\x01\x02\x03")
        assert writer.frames_written == 1
        writer.write(b"\x04\x05")  # the 5 is half a frame, dropped at close
        assert writer.frames_written == 2
    params, frames = _read(out.getvalue())
    assert (params.nframes, frames) == (2, mulaw_to_pcm16(b"\x01\x02\x03\x04"))
