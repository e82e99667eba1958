"""The client's websocket transport (``dgtrio/_transport.py``) on its own.

The rest of the suite drives the transport through real sessions; these tests
pin down what the sessions rely on, against two kinds of peer:

* the in-process Deepgram server (``open_fake_deepgram``), a real
  trio-websocket server, for the ordinary paths;
* a *raw* server written here on wsproto's server side, for what no polite
  server does: fragmented messages, a close frame without a code, a ping
  right after our close frame, hanging up mid-handshake, broken frames.

Timing tests run under the autojump clock; nothing sleeps for real.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from dgtrio import ConnectError, HandshakeError
from dgtrio._transport import Transport, TransportClosed, frame_message, open_transport
from dgtrio.testing import DeepgramServer
from tests.conftest import API_KEY

LISTEN = "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000"
AUTH = [("Authorization", f"Token {API_KEY}")]

# A self-signed certificate for 127.0.0.1 and localhost (EC P-256, valid until
# 2126), made for these tests with ``openssl req -x509``; it protects nothing.
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBrzCCAVWgAwIBAgIUHUGXZm5dFV79u7mL0hNmTmwEVAMwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZGd0cmlvIHRlc3QwIBcNMjYxMTIzMjIyNDQ2WhgPMjEyNjEw
MzAyMjI0NDZaMBYxFDASBgNVBAMMC2RndHJpbyB0ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEEuTVq97rHHa+Ed4IMAHC9G1RKpAqefPW0PpRGXVXMytQ/0xF
Gi6cLe39yARieE2PXzpjRJaS1daRDzTGCnpSXKN/MH0wHQYDVR0OBBYEFHfa8IAF
mOgW1GMqOeHiVpDeo6RjMB8GA1UdIwQYMBaAFHfa8IAFmOgW1GMqOeHiVpDeo6Rj
MBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATAPBgNVHRMBAf8EBTADAQH/MA4G
A1UdDwEB/wQEAwIChDAKBggqhkjOPQQDAgNIADBFAiEAkYAO/JWGod+Pux3urg3q
/SG1lrpqbR+eA+EByFxwlOwCICPx4Y/tUihHqxVjKs+UoDMS/cPaJ2cniRiwr/B1
wf7i
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8qq8X7N9kPjVPKuU
uBNdjQEyJBqjZ8xpEvoKW6Ow/FChRANCAAQS5NWr3uscdr4R3ggwAcL0bVEqkCp5
89bQ+lEZdVczK1D/TEUaLpwt7f3IBGJ4TY9fOmNElpLV1pEPNMYKelJc
-----END PRIVATE KEY-----
"""


# ------------------------------------------------------------------ a raw server


class Peer:
    """The server's end of one connection, driven by the test through wsproto."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.request: Request | None = None
        self._pending: deque[Event] = deque()

    async def request_received(self) -> bool:
        """Wait for the upgrade request; False if the client gave up before."""
        try:
            event = await self.next_event()
        except trio.BrokenResourceError:  # a TLS handshake the client refused
            return False
        if event is None:
            return False
        assert isinstance(event, Request)
        self.request = event
        return True

    async def accept(self) -> None:
        """Answer the upgrade."""
        await self.send(AcceptConnection(extra_headers=[(b"dg-request-id", b"raw-1")]))

    async def next_event(self) -> Event | None:
        """The next event from the client; ``None`` at the end of the stream."""
        while not self._pending:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            if not data:
                return None
            self.ws.receive_data(bytes(data))
            self._pending.extend(self.ws.events())
        return self._pending.popleft()

    async def send(self, *events: Event) -> None:
        """Send events in one write."""
        await self.stream.send_all(b"".join(self.ws.send(e) for e in events))

    async def send_ping_anyway(self, payload: bytes) -> None:
        """A ping frame built by hand (wsproto refuses one after the peer's close)."""
        await self.stream.send_all(bytes([0x89, len(payload)]) + payload)

    async def next_message(self) -> Any:
        """The next whole message; any other event but a ping instead."""
        parts: list[Any] = []
        while True:
            event = await self.next_event()
            if isinstance(event, TextMessage | BytesMessage):
                parts.append(event.data)
                if event.message_finished:
                    return "".join(parts) if isinstance(parts[0], str) else b"".join(parts)
            elif isinstance(event, Ping):
                await self.send(event.response())
            else:
                return event

    async def messages_until_close(self) -> tuple[list[Any], Event | None]:
        """Whole messages until the client's close frame (or the end)."""
        messages: list[Any] = []
        while True:
            message = await self.next_message()
            if isinstance(message, str | bytes):
                messages.append(message)
            else:
                return messages, message


Handler = Callable[[Peer], Awaitable[None]]


@asynccontextmanager
async def raw_server(
    handler: Handler, *, upgrade: bool = True, tls: Path | None = None
) -> AsyncIterator[str]:
    """Serve ``handler`` on loopback; yields a ``ws://`` (``wss://`` with ``tls``) URL.

    With ``upgrade`` the handshake is answered first; without, the handler
    gets the peer right after the request arrived, to answer as it likes.
    """
    context: ssl.SSLContext | None = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")

    async def serve_one(tcp: trio.SocketStream) -> None:
        stream: trio.abc.Stream = tcp
        if context is not None:
            stream = trio.SSLStream(tcp, context, server_side=True)
        peer = Peer(stream)
        try:
            if await peer.request_received():
                if upgrade:
                    await peer.accept()
                await handler(peer)
        finally:
            await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, serve_one, 0)
        port = listeners[0].socket.getsockname()[1]
        try:
            yield f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/v1/listen"
        finally:
            nursery.cancel_scope.cancel()


async def open_only(url: str, **kwargs: Any) -> Transport:
    """Open a transport to ``url`` (the nursery argument goes unused)."""
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        try:
            return await open_transport(nursery, url, AUTH, **kwargs)
        except Exception as exc:
            failure = exc  # raised outside the nursery: no exception group
    raise failure


@asynccontextmanager
async def connected(url: str, **kwargs: Any) -> AsyncIterator[Transport]:
    """A transport to ``url``, its stream closed on the way out."""
    transport = await open_only(url, **kwargs)
    try:
        yield transport
    finally:
        await transport.aclose_stream()


async def read_until_closed(transport: Transport, into: list[Any] | None = None) -> None:
    """Be the reader: receive until the connection is over."""
    while True:
        try:
            message = await transport.receive()
        except TransportClosed:
            return
        if into is not None:
            into.append(message)


async def close_politely(peer: Peer) -> None:
    """Answer the client's close frame, then hang up."""
    _, event = await peer.messages_until_close()
    if isinstance(event, CloseConnection):
        await peer.send(event.response())


# -------------------------------------------------------------- the handshake


async def test_open_records_the_response_headers_and_request_id(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport:
        assert transport.request_id == server.last.request_id
        assert transport.response_headers["dg-request-id"] == server.last.request_id
        assert all(name == name.lower() for name in transport.response_headers)
        assert transport.url == server.url + LISTEN
        assert transport.close_code is None
        assert transport.reader_error is None
        assert "open" in repr(transport)
        await transport.aclose()
        assert transport.close_code == 1000
    assert server.last.handshake.headers["authorization"] == f"Token {API_KEY}"


async def test_a_rejection_becomes_a_handshake_error_with_the_servers_details() -> None:
    async def reject(peer: Peer) -> None:
        body = b'{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"r-9"}'
        headers = [(b"dg-error", b"Invalid credentials."), (b"content-length", b"%d" % len(body))]
        await peer.send(RejectConnection(status_code=401, headers=headers, has_body=True))
        await peer.send(RejectData(body))

    async with raw_server(reject, upgrade=False) as url:
        with pytest.raises(HandshakeError) as info:
            await open_only(url)
    error = info.value
    assert error.status == 401
    assert error.dg_error == "Invalid credentials."
    assert error.request_id == "r-9"
    assert error.body == {
        "err_code": "INVALID_AUTH",
        "err_msg": "Invalid credentials.",
        "request_id": "r-9",
    }
    assert error.err_code == "INVALID_AUTH"


@pytest.mark.parametrize(
    ("response", "body"),
    [
        (b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\ndg-request-id: r-1\r\n\r\nbusy", "busy"),
        (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\ndg-request-id: r-1\r\n\r\n", None),
        # A body that lasts until the end of the stream, and one cut short by it.
        (b"HTTP/1.0 502 Bad Gateway\r\ndg-request-id: r-1\r\n\r\nupstream gone", "upstream gone"),
        (
            b"HTTP/1.1 500 Oops\r\ncontent-length: 100\r\ndg-request-id: r-1\r\n\r\npartial",
            "partial",
        ),
    ],
)
async def test_rejections_with_text_empty_and_unframed_bodies(
    response: bytes, body: str | None
) -> None:
    async def reject(peer: Peer) -> None:
        await peer.stream.send_all(response)

    async with raw_server(reject, upgrade=False) as url:
        with pytest.raises(HandshakeError) as info:
            await open_only(url)
    assert info.value.status == int(response.split()[1])
    assert info.value.body == body
    assert info.value.request_id == "r-1"


async def test_hanging_up_during_the_upgrade_is_a_connect_error() -> None:
    async def hang_up(peer: Peer) -> None:
        pass

    async with raw_server(hang_up, upgrade=False) as url:
        with pytest.raises(ConnectError, match="closed the connection during the handshake"):
            await open_only(url)


async def test_a_bad_upgrade_answer_is_a_connect_error() -> None:
    async def bad_accept(peer: Peer) -> None:
        await peer.stream.send_all(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
            b"connection: upgrade\r\nsec-websocket-accept: wrong\r\n\r\n"
        )
        await trio.sleep_forever()

    async with raw_server(bad_accept, upgrade=False) as url:
        with pytest.raises(ConnectError, match="websocket upgrade failed: Bad accept token"):
            await open_only(url)


async def test_a_silent_server_is_a_connect_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async def silent(peer: Peer) -> None:
        await trio.sleep_forever()

    async with raw_server(silent, upgrade=False) as url:
        started = trio.current_time()
        with pytest.raises(ConnectError, match="no websocket connection within 4 s"):
            await open_only(url, connect_timeout=4)
        assert trio.current_time() - started == pytest.approx(4)


async def test_frames_that_came_with_the_upgrade_answer_are_received() -> None:
    async def eager(peer: Peer) -> None:
        accept = peer.ws.send(AcceptConnection())
        first = peer.ws.send(TextMessage('{"type":"Metadata"}'))
        await peer.stream.send_all(accept + first)
        await close_politely(peer)

    async with raw_server(eager, upgrade=False) as url, connected(url) as transport:
        assert await transport.receive() == '{"type":"Metadata"}'
        await transport.aclose()


# ------------------------------------------------------------------ receiving


async def test_fragmented_messages_are_reassembled_around_a_ping() -> None:
    pongs: list[bytes] = []

    async def fragments(peer: Peer) -> None:
        await peer.send(TextMessage("héllo, ", message_finished=False))
        await peer.send(Ping(b"mid-message"))  # control frames may come between fragments
        await peer.send(TextMessage("wörld", message_finished=True))
        await peer.send(
            BytesMessage(b"\x00\x01", message_finished=False),
            BytesMessage(b"\x02", message_finished=False),
            BytesMessage(b"\x03", message_finished=True),
        )
        event = await peer.next_event()
        assert isinstance(event, Pong)
        pongs.append(event.payload)
        await close_politely(peer)

    async with raw_server(fragments) as url, connected(url) as transport:
        assert await transport.receive() == "héllo, wörld"
        assert await transport.receive() == b"\x00\x01\x02\x03"
        await transport.aclose()
    assert pongs == [b"mid-message"]


async def test_the_fake_servers_frames_arrive_whole(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:
        big = "x" * 200_000

        async def send_both() -> None:
            await server.last.send_raw(big)
            await server.last.send_raw(b"\x00" * 70_000)

        nursery.start_soon(send_both)  # more than the socket buffers hold: read meanwhile
        assert await transport.receive() == big
        assert await transport.receive() == b"\x00" * 70_000
        await transport.aclose()


@pytest.mark.parametrize("fragmented", [False, True])
async def test_a_message_over_max_message_size_closes_1009(fragmented: bool) -> None:
    closes: list[Event | None] = []

    async def too_big(peer: Peer) -> None:
        await peer.send(BytesMessage(b"a" * 100))  # exactly the limit: fine
        if fragmented:
            await peer.send(
                BytesMessage(b"b" * 60, message_finished=False),
                BytesMessage(b"b" * 60, message_finished=True),
            )
        else:
            await peer.send(BytesMessage(b"b" * 101))
        await peer.send(BytesMessage(b"never delivered"))
        _, event = await peer.messages_until_close()
        closes.append(event)

    async with raw_server(too_big) as url, connected(url, max_message_size=100) as transport:
        assert await transport.receive() == b"a" * 100
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        assert info.value.code == 1009
        assert info.value.reason == "message over 100 bytes"
        with pytest.raises(TransportClosed) as again:
            await transport.receive()
        assert (again.value.code, again.value.reason) == (1009, "message over 100 bytes")
        with pytest.raises(TransportClosed):
            await transport.send(b"too late")
    assert len(closes) == 1
    assert isinstance(closes[0], CloseConnection)
    assert closes[0].code == 1009


async def test_messages_before_the_close_frame_come_first_and_the_end_sticks() -> None:
    async def burst(peer: Peer) -> None:
        await peer.send(TextMessage("one"), TextMessage("two"), CloseConnection(4000, "bye"))
        event = await peer.next_event()
        assert isinstance(event, CloseConnection)  # our answer
        assert event.code == 4000

    async with raw_server(burst) as url, connected(url) as transport:
        assert await transport.receive() == "one"
        assert await transport.receive() == "two"
        for _ in range(2):
            with pytest.raises(TransportClosed) as info:
                await transport.receive()
            assert (info.value.code, info.value.reason) == (4000, "bye")
        assert transport.close_code == 4000
        with pytest.raises(TransportClosed) as sending:
            await transport.send("after the close")
        assert sending.value.code == 4000
        await transport.aclose()  # nothing left to do: returns at once


async def test_a_close_frame_without_a_code_is_1005() -> None:
    answers: list[Event | None] = []

    async def bare_close(peer: Peer) -> None:
        await peer.stream.send_all(b"\x88\x00")  # a close frame with no payload
        answers.append(await peer.next_event())

    async with raw_server(bare_close) as url, connected(url) as transport:
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
    assert (info.value.code, info.value.reason) == (1005, None)
    assert isinstance(answers[0], CloseConnection)
    assert answers[0].code == 1005  # our answer carried no code either


@pytest.mark.parametrize("mid_frame", [False, True])
async def test_the_end_of_the_stream_without_a_close_frame_is_1006(
    server: DeepgramServer, mid_frame: bool
) -> None:
    async with connected(server.url + LISTEN) as transport:
        await server.last.send_raw("before")
        await server.last.drop(mid_frame=mid_frame)
        assert await transport.receive() == "before"
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        assert (info.value.code, info.value.reason) == (1006, None)
        with pytest.raises(TransportClosed) as sending:
            await transport.send(b"\x00\x00")
        assert sending.value.code == 1006


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x83\x00", 1002),  # a reserved opcode
        (b"\x81\x82\x00\x00\x00\x00ab", 1002),  # a masked frame from the server
        (b"\x81\x02\xc3\x28", 1007),  # text that is not UTF-8
    ],
)
async def test_a_frame_that_breaks_the_protocol_fails_the_connection(
    frame: bytes, code: int
) -> None:
    closes: list[Event | None] = []

    async def broken(peer: Peer) -> None:
        await peer.stream.send_all(frame)
        closes.append(await peer.next_event())

    async with raw_server(broken) as url, connected(url) as transport:
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        assert info.value.code == code
    assert isinstance(closes[0], CloseConnection)
    assert closes[0].code == code


async def test_a_second_receiver_is_refused(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:
        nursery.start_soon(transport.receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await transport.receive()
        await server.last.send_raw("for the first receiver")


# -------------------------------------------------------------------- pinging


async def test_ping_waits_for_its_pong(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:

        async def reader() -> None:
            with pytest.raises(TransportClosed):
                while True:
                    await transport.receive()

        nursery.start_soon(reader)
        with trio.fail_after(5):
            await transport.ping()
            await transport.ping()
        await transport.aclose()


async def test_a_pong_answers_every_earlier_ping_and_a_stray_one_is_ignored() -> None:
    async def answer_the_last(peer: Peer) -> None:
        pings: list[bytes] = []
        while len(pings) < 3:
            event = await peer.next_event()
            assert isinstance(event, Ping)
            pings.append(event.payload)
        assert len(set(pings)) == 3  # every ping has a payload of its own
        await peer.send(Pong(b"nobody's"), Pong(pings[1]))
        await peer.send(Pong(pings[2]))
        await close_politely(peer)

    async with raw_server(answer_the_last) as url, connected(url) as transport:
        answered: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_until_closed, transport)  # the reader sees the pongs

            async def ping(n: int) -> None:
                await transport.ping()
                answered.append(n)

            for n in range(3):
                nursery.start_soon(ping, n)
                await trio.testing.wait_all_tasks_blocked()
            await transport.aclose()  # after the pongs: the peer answers the close
        assert sorted(answered) == [0, 1, 2]


async def test_a_ping_waiting_when_the_connection_ends_raises(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:
        server.last.stall(reading=True, writing=False)  # no pong will come
        outcome: list[int] = []

        async def ping() -> None:
            with pytest.raises(TransportClosed) as info:
                await transport.ping()
            outcome.append(info.value.code)

        nursery.start_soon(ping)
        await trio.testing.wait_all_tasks_blocked()
        await server.last.abort()
        with pytest.raises(TransportClosed):
            await transport.receive()
    assert outcome == [1006]
    with pytest.raises(TransportClosed):
        await transport.ping()


# -------------------------------------------------------------------- sending


async def test_concurrent_senders_keep_call_order(server: DeepgramServer) -> None:
    calls: list[bytes] = []
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:
        go = trio.Event()

        async def sender(task: int) -> None:
            await go.wait()
            for n in range(5):
                frame = b"%03d-%d" % (task, n) + bytes(634)
                calls.append(frame)  # the call order, with no yield before send()
                await transport.send(frame)

        for task in range(50):
            nursery.start_soon(sender, task)
        await trio.testing.wait_all_tasks_blocked()
        go.set()
        await trio.testing.wait_all_tasks_blocked()
        await server.last.wait_for_frames(250)
        nursery.start_soon(read_until_closed, transport)  # reads the close answer
        await transport.aclose()
    assert server.last.received == calls
    assert calls != sorted(calls)  # the senders really did interleave


async def test_senders_blocked_by_a_full_socket_keep_call_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    received: list[Any] = []

    async def slow_reader(peer: Peer) -> None:
        await trio.sleep(1)  # the client's socket buffers fill up meanwhile
        messages, event = await peer.messages_until_close()
        received.extend(messages)
        assert isinstance(event, CloseConnection)
        await peer.send(event.response())

    calls: list[bytes] = []
    async with raw_server(slow_reader) as url, connected(url) as transport:
        async with trio.open_nursery() as nursery:

            async def sender(task: int) -> None:
                for n in range(6):
                    frame = b"%02d-%d" % (task, n) * 65536  # 320 KiB
                    calls.append(frame)
                    await transport.send(frame)

            for task in range(8):
                nursery.start_soon(sender, task)
        await transport.aclose()
    assert len(received) == 48
    assert received == calls


# Payload sizes around the three header forms of RFC 6455 (7-bit, 16-bit, 64-bit length).
_EDGES = st.sampled_from([0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 65537, 100_003])


@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200),
        _EDGES.map(lambda n: bytes(i % 251 for i in range(n))),
        _EDGES.map(lambda n: "é" * (n // 2)),
    )
)
def test_frame_message_builds_one_masked_frame_that_wsproto_reads_back(
    message: str | bytes,
) -> None:
    server = Connection(ConnectionType.SERVER)
    frame = frame_message(message)
    assert frame[1] & 0x80  # masked, as a client must
    server.receive_data(frame)
    kind = TextMessage if isinstance(message, str) else BytesMessage
    everything = list(server.events())
    events = [e for e in everything if isinstance(e, kind)]
    assert len(events) == len(everything)  # nothing else came
    parts: list[Any] = [e.data for e in events]
    assert ("".join(parts) if isinstance(message, str) else b"".join(parts)) == message
    assert events[-1].message_finished


def test_every_frame_gets_a_fresh_mask() -> None:
    masks = {frame_message(b"same payload")[2:6] for _ in range(64)}
    assert len(masks) > 60  # os.urandom: a repeat among 64 is a ~1e-6 event


async def test_send_nowait_writes_a_whole_frame_without_a_checkpoint() -> None:
    received: list[Any] = []

    async def reader(peer: Peer) -> None:
        messages, event = await peer.messages_until_close()
        received.extend(messages)
        if isinstance(event, CloseConnection):
            await peer.send(event.response())

    async with raw_server(reader) as url, connected(url) as transport:
        with trio.testing.assert_no_checkpoints():
            assert transport.send_nowait(b"\x01\x02") is None
            assert transport.send_nowait('{"type":"KeepAlive"}') is None
        await transport.aclose()
    assert received == [b"\x01\x02", '{"type":"KeepAlive"}']


async def test_send_nowait_hands_back_the_rest_when_the_socket_is_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start_reading = trio.Event()
    received: list[Any] = []

    async def late_reader(peer: Peer) -> None:
        await start_reading.wait()
        messages, event = await peer.messages_until_close()
        received.extend(messages)
        assert isinstance(event, CloseConnection)
        await peer.send(event.response())

    frames = [bytes([n]) * 65536 for n in range(256)]
    async with raw_server(late_reader) as url, connected(url) as transport:
        count = 0
        for frame in frames:  # until loopback's buffers are full
            count += 1
            rest = transport.send_nowait(frame)
            if rest is not None:
                break
        else:  # pragma: no cover - 16 MiB unread would fill any loopback buffer
            pytest.fail("the socket never filled")
        assert 0 < len(rest) <= len(frame)
        # The lock is held for the rest: nothing may jump in before it.
        with pytest.raises(trio.WouldBlock):
            transport.send_nowait(b"jumping the queue")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(transport.send, b"after the rest")
            await trio.testing.wait_all_tasks_blocked()
            start_reading.set()
            await transport.send_rest(rest)
        await transport.aclose()
    assert received == [*frames[:count], b"after the rest"]


async def test_send_nowait_is_not_for_tls_streams(tls_files: Path) -> None:
    echoed: list[Any] = []

    async def echo(peer: Peer) -> None:
        echoed.append(await peer.next_message())
        await close_politely(peer)

    context = ssl.create_default_context(cadata=TEST_CERT)
    async with raw_server(echo, tls=tls_files) as url, connected(url, ssl_context=context) as t:
        with pytest.raises(trio.WouldBlock):
            t.send_nowait(b"over TLS")  # nothing sent
        await t.send(b"over TLS")
        with trio.fail_after(5):
            await t.aclose()
    assert echoed == [b"over TLS"]


async def test_send_nowait_after_the_peers_close_raises_its_close() -> None:
    async def closes(peer: Peer) -> None:
        await peer.send(CloseConnection(1011, "bye"))
        await peer.next_event()

    async with raw_server(closes) as url, connected(url) as transport:
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        assert info.value.code == 1011
        with pytest.raises(TransportClosed) as again:
            transport.send_nowait(b"too late")
        assert (again.value.code, again.value.reason) == (1011, "bye")


async def test_text_and_binary_frames(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport:
        await transport.send('{"type":"KeepAlive"}')
        await transport.send(b"\x01\x00")
        await server.last.wait_for_frames(2)
        assert server.last.received[1] == b"\x01\x00"
        assert type(server.last.received[0]).__name__ == "KeepAlive"
        await transport.aclose()


async def test_a_cancelled_send_in_the_middle_of_a_frame_stops_all_sending(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_reads(peer: Peer) -> None:
        await trio.sleep_forever()

    async with raw_server(never_reads) as url, connected(url) as transport:
        with trio.move_on_after(1) as scope:
            # More than loopback's socket buffers hold while nobody reads.
            await transport.send(bytes(16 << 20))
        assert scope.cancelled_caught
        with trio.fail_after(1), pytest.raises(TransportClosed) as info:
            await transport.send(b"a frame after a cut one")  # refused, not queued
        assert info.value.code == 1006
        with trio.fail_after(1):
            await transport.aclose()  # no close frame after half a frame: just hang up


# ------------------------------------------------------------------- closing


async def test_aclose_is_idempotent(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport:
        await transport.aclose(4001, "done here")
        await transport.aclose()
        assert transport.close_code == 4001  # the server echoes our code
        with pytest.raises(TransportClosed):
            await transport.send(b"\x00\x00")
        with pytest.raises(TransportClosed):
            await transport.receive()
    assert server.last.close_code == 4001
    assert server.last.close_reason == "done here"


async def test_aclose_with_a_reader_running(server: DeepgramServer) -> None:
    async with connected(server.url + LISTEN) as transport, trio.open_nursery() as nursery:
        ended: list[int] = []

        async def reader() -> None:
            with pytest.raises(TransportClosed) as info:
                while True:
                    await transport.receive()
            ended.append(info.value.code)

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await transport.aclose()
    assert ended == [1000]


async def test_aclose_is_bounded_by_the_callers_scope(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hung_up = trio.Event()

    async def never_answers(peer: Peer) -> None:
        _, event = await peer.messages_until_close()
        assert isinstance(event, CloseConnection)
        assert await peer.next_event() is None  # the client hung up in the end
        hung_up.set()

    async with raw_server(never_answers) as url, connected(url) as transport:
        started = trio.current_time()
        with trio.move_on_after(3):
            await transport.aclose()
        assert trio.current_time() - started == pytest.approx(3)
        await hung_up.wait()
        with pytest.raises(TransportClosed) as info:
            await transport.receive()
        assert info.value.code == 1006
        await transport.aclose()  # and again: nothing to wait for


async def test_a_ping_after_our_close_frame_is_not_answered_and_does_not_raise() -> None:
    after_close: list[Event | None] = []

    async def ping_then_close(peer: Peer) -> None:
        _, event = await peer.messages_until_close()
        assert isinstance(event, CloseConnection)
        await peer.send_ping_anyway(b"late")
        await peer.send(event.response())
        after_close.append(await peer.next_event())

    # Once with the reader running, once with aclose() reading by itself.
    for with_reader in (True, False):
        async with raw_server(ping_then_close) as url, connected(url) as transport:
            async with trio.open_nursery() as nursery:
                if with_reader:
                    nursery.start_soon(read_until_closed, transport)
                    await trio.testing.wait_all_tasks_blocked()
                await transport.aclose()
            assert transport.close_code == 1000
    assert after_close == [None, None]  # no pong, just the end of the stream


async def test_a_ping_racing_our_close_frame_does_not_raise(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The race trio-websocket lost: the peer's ping is handled while our close
    frame waits for the send lock, and answering it is refused once the lock
    comes free. Nothing must escape."""
    may_read = trio.Event()
    pinged = trio.Event()

    async def ping_while_stalled(peer: Peer) -> None:
        await pinged.wait()
        await peer.send(Ping(b"racing"))
        await may_read.wait()
        _, event = await peer.messages_until_close()
        assert isinstance(event, CloseConnection)
        await peer.send(event.response())

    async with raw_server(ping_while_stalled) as url, connected(url) as transport:
        async with trio.open_nursery() as nursery:
            sending = trio.Event()

            async def big_sender() -> None:
                sending.set()
                await transport.send(bytes(16 << 20))  # blocks, holding the send lock

            nursery.start_soon(big_sender)
            await sending.wait()
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(transport.aclose)  # queued behind the big frame
            await trio.testing.wait_all_tasks_blocked()
            pinged.set()
            reader_done: list[int] = []

            async def reader() -> None:
                with pytest.raises(TransportClosed) as info:
                    await transport.receive()  # sees the ping, queues its pong
                reader_done.append(info.value.code)

            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            may_read.set()
        assert reader_done == [1000]


# ------------------------------------------------------------------------ TLS


@pytest.fixture
def tls_files(tmp_path: Path) -> Path:
    (tmp_path / "cert.pem").write_text(TEST_CERT)
    (tmp_path / "key.pem").write_text(TEST_KEY)
    return tmp_path


async def test_tls_sends_and_receives_whole_frames(tls_files: Path) -> None:
    echoed: list[Any] = []

    async def echo(peer: Peer) -> None:
        while len(echoed) < 2:
            echoed.append(await peer.next_message())
        await peer.send(TextMessage(f"got {len(echoed)}"))
        await close_politely(peer)

    context = ssl.create_default_context(cadata=TEST_CERT)
    async with raw_server(echo, tls=tls_files) as url, connected(url, ssl_context=context) as t:
        await t.send("hello")
        await t.send(bytes(300_000))
        with trio.fail_after(5):
            assert await t.receive() == "got 2"
            await t.aclose()
    assert echoed == ["hello", bytes(300_000)]


async def test_an_untrusted_certificate_is_a_tls_error(tls_files: Path) -> None:
    async def unreachable(peer: Peer) -> None:
        raise AssertionError("no upgrade over an untrusted connection")  # pragma: no cover

    async with raw_server(unreachable, upgrade=False, tls=tls_files) as url:
        with pytest.raises(ConnectError, match="TLS handshake failed") as info:
            await open_only(url)
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
