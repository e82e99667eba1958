"""The Deepgram-protocol server: listener, handshake, routing, recording, faults.

Written once for every socket and every engine. An endpoint module (one per
socket: ``listen_v1.py``...) registers a handler that speaks its protocol
through a :class:`ServerConnection`, using the same message classes and
:class:`~dgtrio._codec.Schema` the client uses, from the other side of the
wire. The speech work is delegated to a :class:`~dgtrio._server.engines.SpeechEngine`.

Everything a test may want to observe is recorded on the connection (the
handshake, every frame in both directions, the close), and everything a test
may want to break can be scheduled with :meth:`DeepgramServer.inject`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import attrs
import trio
import trio_websocket

from .._client import DeepgramClient, DeepgramClientEnvironment
from .._codec import Schema, UnknownMessage, dumps
from .._errors import MessageDecodeError
from .._transport import ReaderGuard
from .engines import EngineError, SpeechEngine, unsupported_language

__all__ = [
    "CloseConnection",
    "DeepgramServer",
    "DropConnection",
    "Endpoint",
    "Fault",
    "HandshakeRecord",
    "Malformed",
    "RejectHandshake",
    "SendFrames",
    "ServerConnection",
    "Stall",
    "register_endpoint",
]

logger = logging.getLogger("dgtrio.server")


# --- faults ---------------------------------------------------------------------


@attrs.frozen
class RejectHandshake:
    """Answer the websocket upgrade with an HTTP error.

    Attributes:
        status: The HTTP status.
        headers: Extra response headers (``dg-request-id`` is always added).
        body: The response body; by default Deepgram's JSON error shape.
    """

    status: int = 401
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes | None = None


@attrs.frozen
class CloseConnection:
    """Close the websocket with ``code`` and ``reason`` once ``after`` messages were sent."""

    code: int = 1011
    reason: str = ""
    after: int = 0


def _frame_tuple(frames: Iterable[str | bytes]) -> tuple[str | bytes, ...]:
    return tuple(frames)


@attrs.frozen
class SendFrames:
    """Send these raw frames (``str`` as text, ``bytes`` as binary) after ``after`` messages."""

    frames: tuple[str | bytes, ...] = attrs.field(converter=_frame_tuple)
    after: int = 0


@attrs.frozen
class Stall:
    """Stop reading and/or writing once ``after`` messages were sent (the server hangs)."""

    after: int = 0
    reading: bool = True
    writing: bool = True


@attrs.frozen
class Mute:
    """Keep reading but send nothing more once ``after`` messages were sent.

    The connection stays healthy (TCP is fine, websocket pings still get
    pongs) but no message comes back: only a response watchdog catches it.
    """

    after: int = 0


@attrs.frozen
class DropConnection:
    """Drop the TCP connection without a close frame after ``after`` messages.

    With ``mid_frame``, first send half of a websocket frame.
    """

    after: int = 0
    mid_frame: bool = False


Fault: TypeAlias = RejectHandshake | CloseConnection | SendFrames | Stall | Mute | DropConnection


# --- a stream the server can pause and break --------------------------------


class _ControlledStream(trio.abc.Stream):
    """The server's side of a connection, which a test can stall and break.

    A stall takes effect at once: bytes that arrive while reading is stalled
    are held (not handed to the websocket layer) until :meth:`resume`, and
    an :meth:`abort` while stalled discards them, as a real hung server would.
    """

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.reading = trio.Event()
        self.reading.set()
        self.writing = trio.Event()
        self.writing.set()
        self.aborted = False
        self.bytes_received = 0
        self.bytes_sent = 0
        # The websocket layer's frames and a test's raw bytes (half a frame
        # before a drop) must not interleave. Flags, not a lock: a lock's
        # extra checkpoint on every send would let trio-websocket close the
        # stream before its close reply leaves.
        self.sending = False
        self.raw_done: trio.Event | None = None

    def _check(self) -> None:
        if self.aborted:
            raise trio.BrokenResourceError("the test dropped the connection")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if not self.writing.is_set():
            await self.writing.wait()
        if self.raw_done is not None:
            await self.raw_done.wait()
        self._check()
        self.bytes_sent += len(data)
        self.sending = True
        try:
            await self.inner.send_all(data)
        finally:
            self.sending = False

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if not self.reading.is_set():
            await self.reading.wait()
        self._check()
        data = await self.inner.receive_some(max_bytes)
        if not self.reading.is_set():  # stalled meanwhile: hold the bytes
            await self.reading.wait()
        self._check()
        self.bytes_received += len(data)
        return data

    async def abort(self) -> None:
        """Drop the TCP connection; tasks held by a stall are released and fail."""
        self.aborted = True
        await trio.aclose_forcefully(self.inner)
        self.reading.set()
        self.writing.set()

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- connections --------------------------------------------------------------


@attrs.frozen
class HandshakeRecord:
    """What the client sent in its upgrade request.

    Attributes:
        path: The request path without the query.
        query: The query parameters, in order, decoded.
        headers: The request headers, lowercase names (the last value wins).
    """

    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]

    @property
    def params(self) -> dict[str, list[str]]:
        """The query parameters as a mapping of name to all its values."""
        result: dict[str, list[str]] = {}
        for key, value in self.query:
            result.setdefault(key, []).append(value)
        return result

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name``."""
        values = self.params.get(name)
        return values[-1] if values else default


@attrs.frozen
class Malformed:
    """A client text frame the server could not decode."""

    raw: str
    error: MessageDecodeError


class ClientGone(Exception):
    """Internal: the client's side of the connection is closed."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _StopHandler(Exception):
    """Internal: a fault ended the connection; the handler must stop."""


class ServerConnection:
    """One client connection, as the server sees it.

    Handlers use :meth:`receive` and :meth:`send`; tests read the records
    (:attr:`handshake`, :attr:`received`, :attr:`sent`, :attr:`close_code`)
    and may act on a live connection (:meth:`send_raw`, :meth:`close`).
    """

    def __init__(
        self,
        server: DeepgramServer,
        endpoint: Endpoint,
        handshake: HandshakeRecord,
        ws: trio_websocket.WebSocketConnection,
        stream: _ControlledStream,
        faults: Sequence[Fault],
        request_id: str,
    ) -> None:
        self.server = server
        self.endpoint = endpoint
        self.handshake = handshake
        self.request_id = request_id
        #: Client frames in order: decoded messages, ``bytes`` audio, :class:`Malformed`.
        self.received: list[Any] = []
        #: Server frames in order: messages sent with :meth:`send`, raw frames, audio.
        self.sent: list[Any] = []
        #: The close code once the connection has closed.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: Set when the connection is over.
        self.closed = trio.Event()
        self._ws = ws
        self._stream = stream
        self._faults = [f for f in faults if not isinstance(f, RejectHandshake)]
        #: Set by :meth:`mute` (or a :class:`Mute` fault): nothing more is sent.
        self.muted = False
        self._messages_sent = 0
        self._new_frame = trio.Event()

    def __repr__(self) -> str:
        return f"<ServerConnection {self.handshake.path} request_id={self.request_id}>"

    @property
    def schema(self) -> Schema[Any, Any]:
        """The endpoint's message schema."""
        return self.endpoint.schema

    @property
    def audio_received(self) -> bytes:
        """All binary frames received, concatenated."""
        return b"".join(f for f in self.received if isinstance(f, bytes))

    def messages_received(self) -> list[Any]:
        """The decoded text frames received (audio left out)."""
        return [f for f in self.received if not isinstance(f, bytes)]

    async def wait_for_frames(self, count: int) -> None:
        """Wait until at least ``count`` client frames were received (or the end)."""
        while len(self.received) < count and not self.closed.is_set():
            event = self._new_frame = trio.Event()
            await event.wait()

    # -- receiving

    async def receive(self) -> Any:
        """The next client frame: a decoded message, ``bytes``, or :class:`Malformed`.

        Raises:
            ClientGone: The connection is closed.
        """
        try:
            frame = await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            reason = exc.reason
            self._record_close(reason.code if reason else None, reason.reason if reason else None)
            raise ClientGone(self.close_code, self.close_reason) from None
        item: Any
        if isinstance(frame, bytes):
            item = frame
        else:
            try:
                item = self.schema.parse_client(frame)
            except MessageDecodeError as exc:
                item = Malformed(frame, exc)
        self.received.append(item)
        self._new_frame.set()
        return item

    # -- sending

    async def send(self, message: Any) -> None:
        """Send a server message (encoded with the endpoint's schema)."""
        await self._send_frame(self.schema.serialize(message), message)

    async def send_audio(self, data: bytes) -> None:
        """Send a binary frame."""
        await self._send_frame(data, data)

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame exactly as given (for tests that need a broken server)."""
        await self._send_frame(frame, frame, count=False)

    async def _send_frame(self, frame: str | bytes, record: Any, *, count: bool = True) -> None:
        if self.muted:
            await trio.lowlevel.checkpoint()
            return  # a hung backend: the frame never leaves
        try:
            await self._ws.send_message(frame)
        except trio_websocket.ConnectionClosed as exc:
            reason = exc.reason
            self._record_close(reason.code if reason else None, reason.reason if reason else None)
            raise ClientGone(self.close_code, self.close_reason) from None
        self.sent.append(record)
        if count:
            self._messages_sent += 1
            await self.apply_faults()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket with ``code`` and ``reason`` (a close frame)."""
        if self.close_code is None:
            self._record_close(code, reason)
        with trio.move_on_after(self.server.close_timeout):
            await self._ws.aclose(code, reason)

    def mute(self) -> None:
        """Keep reading, but send nothing more (a backend that hangs while the socket lives).

        Unlike a writing :meth:`stall`, the handler does not block: it goes on
        reading and working, and what it sends is dropped (and not recorded).
        """
        self.muted = True

    def stall(self, *, reading: bool = True, writing: bool = True) -> None:
        """Stop reading and/or writing this connection's stream until :meth:`resume`."""
        if reading and self._stream.reading.is_set():
            self._stream.reading = trio.Event()
        if writing and self._stream.writing.is_set():
            self._stream.writing = trio.Event()

    def resume(self) -> None:
        """Undo :meth:`stall` (or a :class:`Stall` fault)."""
        self._stream.reading.set()
        self._stream.writing.set()

    async def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self._record_close(1006, None)
        await self._stream.abort()

    async def drop(self, *, mid_frame: bool = False) -> None:
        """Drop the TCP connection; with ``mid_frame``, first send half a websocket frame."""
        stream = self._stream
        if mid_frame and not stream.sending:
            # A text frame header announcing 100 bytes, then 10 of them. (A
            # send in progress is cut off mid-frame by the abort anyway.)
            done = stream.raw_done = trio.Event()
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                try:
                    await stream.inner.send_all(b"\x81\x64" + b'{"type":"R')
                finally:
                    done.set()
        await self.abort()

    def _record_close(self, code: int | None, reason: str | None) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closed.set()
        self._new_frame.set()

    # -- faults

    async def apply_faults(self) -> None:
        """Fire the scheduled faults that are due (called after every message sent)."""
        while self._faults:
            due = [f for f in self._faults if f.after <= self._messages_sent]
            if not due:
                return
            fault = due[0]
            self._faults.remove(fault)
            logger.debug("%r: injecting %r", self, fault)
            if isinstance(fault, SendFrames):
                for frame in fault.frames:
                    await self.send_raw(frame)
            elif isinstance(fault, CloseConnection):
                await self.close(fault.code, fault.reason or None)
                raise _StopHandler
            elif isinstance(fault, DropConnection):
                await self.drop(mid_frame=fault.mid_frame)
                raise _StopHandler
            elif isinstance(fault, Stall):
                self.stall(reading=fault.reading, writing=fault.writing)
            elif isinstance(fault, Mute):
                self.mute()


Handler: TypeAlias = Callable[[ServerConnection], Awaitable[None]]
#: Validates one query value; returns an error message or None.
ParamCheck: TypeAlias = Callable[[str], "str | None"]


@attrs.frozen
class Endpoint:
    """A socket the server serves.

    Attributes:
        path: The request path, e.g. ``/v1/listen``.
        schema: The socket's message schema.
        handler: Runs the protocol on an accepted connection.
        params: Known query parameters and their validators; others are
            refused with 400 ``INVALID_QUERY_PARAMETER`` like the service does.
        required: Query parameters that must be present.
    """

    path: str
    schema: Schema[Any, Any]
    handler: Handler
    params: Mapping[str, ParamCheck]
    required: tuple[str, ...] = ()


_ENDPOINTS: dict[str, Endpoint] = {}


def register_endpoint(endpoint: Endpoint) -> Endpoint:
    """Make every server serve ``endpoint``."""
    _ENDPOINTS[endpoint.path] = endpoint
    return endpoint


def check_bool(value: str) -> str | None:
    """Validate a boolean query value."""
    return None if value in ("true", "false") else f"expected true or false, got {value!r}"


def check_int(value: str) -> str | None:
    """Validate an integer query value."""
    try:
        int(value)
    except ValueError:
        return f"expected an integer, got {value!r}"
    return None


def check_positive_int(value: str) -> str | None:
    """Validate a positive integer query value."""
    error = check_int(value)
    if error is None and int(value) <= 0:
        return f"expected a nonzero u32, got {value!r}"
    return error


def check_float(value: str) -> str | None:
    """Validate a number query value."""
    try:
        float(value)
    except ValueError:
        return f"expected a number, got {value!r}"
    return None


def check_str(value: str) -> str | None:
    """Accept any string."""
    return None


def check_pair(value: str) -> str | None:
    """Validate a ``key:value`` query value."""
    return None if ":" in value else f"expected key:value, got {value!r}"


# --- the server -----------------------------------------------------------------


class DeepgramServer:
    """An in-process server speaking Deepgram's realtime protocols over loopback.

    Use :func:`dgtrio.testing.open_fake_deepgram` (deterministic engine) or
    :func:`dgtrio.local.open_local_deepgram` (offline speech engines) rather
    than constructing it.

    Attributes:
        engine: The speech engine behind the protocol.
        api_key: The only API key accepted (``None``: any credentials).
        access_tokens: Bearer tokens accepted besides the API key.
        idle_timeout: Seconds without a client frame before ``/v1/listen``
            closes with 1011 ``NET-0001``, as the service does.
        connections: Every connection so far, in order.
    """

    def __init__(
        self,
        engine: SpeechEngine,
        *,
        api_key: str | None = None,
        access_tokens: Iterable[str] = (),
        idle_timeout: float = 10.0,
        close_timeout: float = 5.0,
        strict_query: bool = True,
    ) -> None:
        from . import endpoints  # noqa: F401  (registers every socket)

        self.engine = engine
        self.api_key = api_key
        self.access_tokens = set(access_tokens)
        self.idle_timeout = idle_timeout
        self.close_timeout = close_timeout
        self.strict_query = strict_query
        self.connections: list[ServerConnection] = []
        self.handshakes: list[HandshakeRecord] = []
        #: Exceptions raised by endpoint handlers (server bugs); each one also
        #: closed its connection with 1011.
        self.errors: list[BaseException] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._plans: deque[list[Fault]] = deque()
        self._standing: list[Fault] = []
        self._new_connection = trio.Event()

    @property
    def url(self) -> str:
        """The websocket root, e.g. ``ws://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}"

    @property
    def environment(self) -> DeepgramClientEnvironment:
        """A client environment pointing every socket at this server."""
        return DeepgramClientEnvironment(production=self.url, agent=self.url)

    def client(self, api_key: str | None = None, **kwargs: Any) -> DeepgramClient:
        """A :class:`~dgtrio.DeepgramClient` for this server (with a valid key by default)."""
        key = api_key if api_key is not None else (self.api_key or "dgtrio-test-key")
        return DeepgramClient(key, environment=self.environment, **kwargs)

    def inject(self, *faults: Fault, connections: int | None = 1) -> None:
        """Schedule faults for the next ``connections`` connections (``None``: all).

        Faults with ``after=N`` fire once the server has sent N messages on
        the connection (0: right after the handshake).
        """
        if connections is None:
            self._standing.extend(faults)
        else:
            for _ in range(connections):
                self._plans.append(list(faults))

    async def wait_for_connection(self, count: int = 1) -> ServerConnection:
        """Wait until at least ``count`` connections were accepted; return the last."""
        while len(self.connections) < count:
            event = self._new_connection = trio.Event()
            await event.wait()
        return self.connections[-1]

    @property
    def last(self) -> ServerConnection:
        """The most recent connection."""
        if not self.connections:
            raise LookupError("no connection yet")
        return self.connections[-1]

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        task_status: trio.TaskStatus[DeepgramServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled; ``nursery.start(server.serve)`` returns once listening."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        sockname = listeners[0].socket.getsockname()
        self.host, self.port = host, sockname[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle_stream, listeners)
            logger.debug("dgtrio server listening on %s", self.url)
            task_status.started(self)
            await trio.sleep_forever()

    async def _handle_stream(self, raw: trio.SocketStream) -> None:
        stream = _ControlledStream(raw)
        try:
            async with trio.open_nursery() as nursery:
                try:
                    await self._handle_connection(nursery, stream)
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(raw)

    async def _handle_connection(self, nursery: trio.Nursery, stream: _ControlledStream) -> None:
        guard = ReaderGuard(nursery)  # the close race must not take the server down
        with trio.move_on_after(self.close_timeout * 2) as scope:
            request = await trio_websocket.wrap_server_stream(guard, stream)  # type: ignore[arg-type]
        if scope.cancelled_caught:
            return
        parts = urlsplit(request.path)
        handshake = HandshakeRecord(
            parts.path,
            tuple(parse_qsl(parts.query, keep_blank_values=True)),
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers},
        )
        self.handshakes.append(handshake)
        request_id = str(uuid.uuid4())
        faults = self._plans.popleft() if self._plans else []
        faults = faults + self._standing
        rejection = next((f for f in faults if isinstance(f, RejectHandshake)), None)
        if rejection is not None:
            await self._reject(request, request_id, rejection.status, None, rejection)
            return
        endpoint = _ENDPOINTS.get(handshake.path.rstrip("/") or "/")
        if endpoint is None:
            await self._reject(request, request_id, 404, ("NOT_FOUND", "Not found."))
            return
        auth_error = self._check_auth(handshake.headers.get("authorization"))
        if auth_error is not None:
            await self._reject(request, request_id, 401, auth_error)
            return
        query_error = self._check_query(endpoint, handshake)
        if query_error is None and endpoint.path in ("/v1/listen", "/v2/listen"):
            query_error = unsupported_language(self.engine, handshake.param("language"))
        if query_error is not None:
            await self._reject(request, request_id, 400, ("INVALID_QUERY_PARAMETER", query_error))
            return
        ws = await request.accept(extra_headers=[(b"dg-request-id", request_id.encode())])
        connection = ServerConnection(self, endpoint, handshake, ws, stream, faults, request_id)
        self.connections.append(connection)
        self._new_connection.set()
        try:
            await connection.apply_faults()
            await endpoint.handler(connection)
        except (ClientGone, _StopHandler):
            pass
        except EngineError as exc:
            # The engine failed (a worker process died...), not the server.
            logger.warning("%r: the speech engine failed: %s", connection, exc)
            with trio.CancelScope(shield=True):
                await connection.close(1011, f"speech engine failure: {exc}"[:120])
        except Exception as exc:
            logger.exception("%r: handler failed", connection)
            self.errors.append(exc)
            with trio.CancelScope(shield=True):
                await connection.close(1011, f"dgtrio server error: {exc!r}"[:120])
        finally:
            connection.closed.set()
            if connection.close_code is None:
                with trio.CancelScope(shield=True), trio.move_on_after(self.close_timeout):
                    await connection.close(1000)

    def _check_auth(self, header: str | None) -> tuple[str, str] | None:
        if header is None:
            return ("INVALID_AUTH", "Invalid credentials.")
        scheme, _, credential = header.partition(" ")
        scheme = scheme.lower()
        if scheme not in ("token", "bearer") or not credential.strip():
            return ("INVALID_AUTH", "Invalid credentials.")
        if self.api_key is None:
            return None
        if scheme == "token" and credential == self.api_key:
            return None
        if scheme == "bearer" and credential in self.access_tokens:
            return None
        return ("INVALID_AUTH", "Invalid credentials.")

    def _check_query(self, endpoint: Endpoint, handshake: HandshakeRecord) -> str | None:
        params = handshake.params
        for name in endpoint.required:
            if name not in params:
                return f"Failed to deserialize query parameters: missing field `{name}`"
        if not self.strict_query:
            return None
        for name, values in params.items():
            check = endpoint.params.get(name)
            if check is None:
                return f"Failed to deserialize query parameters: unknown field `{name}`"
            for value in values:
                problem = check(value)
                if problem is not None:
                    return f"Failed to deserialize query parameters: {name}: {problem}"
        return None

    async def _reject(
        self,
        request: trio_websocket.WebSocketRequest,
        request_id: str,
        status: int,
        error: tuple[str, str] | None,
        fault: RejectHandshake | None = None,
    ) -> None:
        headers = {"dg-request-id": request_id, "content-type": "application/json"}
        body: bytes
        if fault is not None and fault.body is not None:
            body = fault.body
        else:
            code, message = error or ("REJECTED", "Rejected by fault injection.")
            body = dumps({"err_code": code, "err_msg": message, "request_id": request_id}).encode()
            headers["dg-error"] = message
        if fault is not None:
            headers.update(fault.headers)
        await request.reject(
            status,
            extra_headers=[(k.encode(), v.encode()) for k, v in headers.items()],
            body=body,
        )


def unknown_or_malformed_type(item: Any) -> str | None:
    """The ``type`` of an unknown or malformed client frame, for error messages."""
    if isinstance(item, UnknownMessage):
        return item.type
    if isinstance(item, Malformed):
        return item.error.message_type
    return None
