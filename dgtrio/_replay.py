"""Audio replay across reconnections, shared by the speech-to-text sessions.

A session that reconnects (rule 7 of :mod:`dgtrio._session`) must send again
the audio the server had not finalized when the connection failed, and must
move the new connection's timestamps onto the session's timeline. Both
listen sockets do it the same way, through an :class:`AudioReplay`:

* :meth:`AudioReplay.record` is the session's ``_before_media_sent``: every
  audio frame is kept as it goes out (for containerized input, the WAV header
  is recognized first and kept apart, to be sent again before the audio);
* :meth:`AudioReplay.finalized` is called with the end of each finalized
  span (listen v1: a final ``Results``; Flux: an ``EndOfTurn``), and drops the
  audio before it;
* :meth:`AudioReplay.resend` sends the header and the kept audio on a new
  connection and returns the time offset of the new connection's zero.

Raw audio (``encoding`` and ``sample_rate`` in the query) and WAV are
replayed exactly. For other containers the size of a second of audio is
unknown: nothing is replayed and the timeline continues from the end of the
last finalized span (documented as best effort).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import attrs

from ._audio import bytes_per_sample, parse_wav_header
from ._reconnect import ReconnectPolicy, ReplayBuffer
from ._transport import Transport

__all__ = ["AudioFormat", "AudioReplay"]

#: Bound of the buffer while the format is still unknown (the largest raw format).
_UNKNOWN_RATE = 48000 * 4 * 8


@attrs.frozen
class AudioFormat:
    """How many bytes a second of audio takes, when that is known."""

    bytes_per_second: int | None
    frame_size: int = 1

    @classmethod
    def from_url(cls, url: str) -> AudioFormat:
        """The raw format a session URL declares (``encoding``, ``sample_rate``, ``channels``)."""
        query = dict(parse_qsl(urlsplit(url).query))
        encoding, rate = query.get("encoding"), query.get("sample_rate")
        try:
            width = bytes_per_sample(encoding or "")
            channels = int(query.get("channels") or 1)
            return cls(width * channels * int(rate or ""), width * channels)
        except ValueError:
            return cls(None)

    def position(self, seconds: float) -> int:
        """The byte offset of ``seconds`` of audio, on a sample frame boundary."""
        assert self.bytes_per_second is not None
        offset = int(seconds * self.bytes_per_second)
        return offset - offset % self.frame_size


class AudioReplay:
    """The audio a listen session must send again after a reconnection.

    Args:
        url: The session's URL (its query declares raw formats).
        policy: The session's reconnect policy (``replay_seconds`` bounds the
            buffer); ``None`` or a zero bound disables replay.
    """

    def __init__(self, url: str, policy: ReconnectPolicy | None) -> None:
        self.format = AudioFormat.from_url(url)
        self._seconds = policy.replay_seconds if policy is not None else 0.0
        self._buffer: ReplayBuffer | None = None
        if self._seconds > 0:
            rate = self.format.bytes_per_second or _UNKNOWN_RATE
            self._buffer = ReplayBuffer(int(self._seconds * rate))
        self._header = b""  # containerized audio: the bytes before the samples
        self._header_done = self.format.bytes_per_second is not None
        #: End (session seconds) of the last finalized span.
        self.finalized_until = 0.0
        self._reported_overflow = 0
        self._last_replayed = 0.0

    def record(self, data: bytes) -> None:
        """Keep an audio frame that is about to be sent."""
        buffer = self._buffer
        if buffer is None:
            return
        if not self._header_done:
            self._header += data
            try:
                info = parse_wav_header(self._header[:65536])
            except ValueError as exc:
                if "incomplete" not in str(exc) and len(self._header) < 65536:
                    self._header_done = True  # not WAV: nothing can be replayed exactly
                    self._header, self._buffer = b"", None
                return
            self._header_done = True
            data, self._header = self._header[info.data_offset :], self._header[: info.data_offset]
            width = max(info.bits_per_sample // 8, 1) * info.channels
            self.format = AudioFormat(info.sample_rate * width, width)
            buffer.limit = int(self._seconds * info.sample_rate * width)
            if not data:
                return
        buffer.append(data)

    def finalized(self, end: float) -> None:
        """The server finalized everything up to ``end`` (session seconds)."""
        if end <= self.finalized_until:
            return
        self.finalized_until = end
        if self._buffer is not None and self.format.bytes_per_second:
            self._buffer.release(self.format.position(end))

    async def resend(self, transport: Transport) -> float:
        """Send the header and the kept audio on ``transport``.

        Returns:
            The session time at which the new connection's audio starts: the
            offset to add to every timestamp it reports.
        """
        buffer, rate = self._buffer, self.format.bytes_per_second
        if buffer is None or not rate:
            self._last_replayed = 0.0
            return self.finalized_until  # best effort: nothing to replay
        if self._header:
            await transport.send(self._header)
        for chunk in buffer.chunks():
            await transport.send(chunk)
        self._last_replayed = len(buffer) / rate
        return buffer.start / rate

    def report(self) -> dict[str, float]:
        """The :class:`~dgtrio.Reconnected` fields: audio replayed by the last resend, and lost.

        ``replayed_seconds`` is what the last :meth:`resend` sent again;
        ``lost_seconds`` what the buffer's bound dropped since the last report.
        """
        buffer, rate = self._buffer, self.format.bytes_per_second
        if buffer is None or not rate:
            return {"replayed_seconds": 0.0, "lost_seconds": 0.0}
        lost = (buffer.overflowed - self._reported_overflow) / rate
        self._reported_overflow = buffer.overflowed
        return {"replayed_seconds": self._last_replayed, "lost_seconds": lost}
