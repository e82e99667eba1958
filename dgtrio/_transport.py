"""The transport adapter: the only module that touches trio-websocket.

Keeping the websocket library behind this small surface means an upstream API
change (the kind that broke every user of the official SDK when ``websockets``
renamed ``extra_headers``) is fixed here once. The session sees four
operations, ``send``, ``receive``, ``ping`` and ``aclose``, and two
exceptions of ours: :class:`TransportClosed` for "the connection is over" and
the public :class:`~dgtrio.ConnectError` family for "it never opened".

Two things trio-websocket does not do for us, done here:

1. TLS is handshaken *before* the websocket upgrade, so a certificate problem
   is reported as such (trio-websocket would otherwise see a dead stream during
   its upgrade and wait forever for an answer).
2. The raw stream is wrapped so that end-of-file during the upgrade is noticed:
   a server that accepts TCP and hangs up without answering produces a
   :class:`~dgtrio.ConnectError` at once, not a connect timeout.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import trio
import trio.lowlevel
import trio_websocket
from wsproto.utilities import LocalProtocolError

from ._codec import loads
from ._errors import ConfigurationError, ConnectError, HandshakeError

__all__ = ["ReaderGuard", "Transport", "TransportClosed", "is_loopback_host", "open_transport"]

logger = logging.getLogger("dgtrio")

#: Messages trio-websocket may hold for the session's reader (each at most
#: ``max_message_size``; the session's own receive channel holds the rest).
_MESSAGE_QUEUE_SIZE = 16
#: Bytes read from the socket at once.
_RECEIVE_BUFFER_SIZE = 65536


class TransportClosed(Exception):
    """Internal: the websocket is closed (by either side, or the network).

    Attributes:
        code: The close code (1006 when there was no close frame).
        reason: The close reason, if any.
    """

    def __init__(self, code: int, reason: str | None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _WatchedStream(trio.abc.Stream):
    """A pass-through stream that notices end-of-file (used during the upgrade)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.eof = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            data = await self.inner.receive_some(max_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.eof.set()
            raise
        if not data:
            self.eof.set()
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReaderGuard:
    """Stands in for a nursery when trio-websocket starts its reader task.

    trio-websocket raises ``ConnectionRejected`` (and would raise any bug) from
    its background reader, which would tear down the caller's nursery and come
    out as an exception group. The guard runs the reader in the real nursery
    but records such an error instead, so :func:`open_transport` can raise one
    clear :class:`~dgtrio.HandshakeError`.

    One error is not recorded: wsproto's ``LocalProtocolError`` when the peer's
    ping arrives after our close frame went out (trio-websocket then tries to
    answer it in the ``LOCAL_CLOSING`` state). The connection is ending anyway;
    the reader stops and the close proceeds normally.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.error: BaseException | None = None
        self.failed = trio.Event()

    def start_soon(self, fn: Any, *args: Any, name: object = None) -> None:
        async def guarded() -> None:
            try:
                await fn(*args)
            except LocalProtocolError as exc:
                logger.debug("websocket reader stopped while closing: %s", exc)
            except Exception as exc:
                self.error = exc
                self.failed.set()

        self._nursery.start_soon(guarded, name=name or "dgtrio websocket reader")


@attrs.define(eq=False)
class Transport:
    """An open websocket connection.

    Attributes:
        url: The URL it was opened with (never contains credentials).
        response_headers: The server's handshake response headers, lowercase names.
        request_id: The ``dg-request-id`` response header, when present.
    """

    _ws: trio_websocket.WebSocketConnection
    url: str
    response_headers: Mapping[str, str]
    _guard: ReaderGuard
    _stream: trio.abc.Stream

    @property
    def reader_error(self) -> BaseException | None:
        """An unexpected error that stopped trio-websocket's reader (a bug), if any."""
        return self._guard.error

    @property
    def request_id(self) -> str | None:
        """The ``dg-request-id`` response header, when present."""
        return self.response_headers.get("dg-request-id")

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is closed, else ``None``."""
        reason = self._ws.closed
        return None if reason is None else reason.code

    async def send(self, frame: str | bytes) -> None:
        """Send one message (``str`` as a text frame, ``bytes`` as binary)."""
        try:
            await self._ws.send_message(frame)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def receive(self) -> str | bytes:
        """Receive the next message; raises :class:`TransportClosed` at the end."""
        try:
            return await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def ping(self) -> None:
        """Send a ping and wait for its pong."""
        try:
            await self._ws.ping()
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket (close handshake, then TCP). Idempotent.

        Waits for the peer's close frame; bound it with a cancel scope.
        """
        await self._ws.aclose(code, reason)

    async def aclose_stream(self) -> None:
        """Close the TCP (or TLS) stream at once, whatever the websocket state.

        trio-websocket leaves the stream open after a close handshake the
        server started (it waits for the server to hang up); sessions call
        this last so no socket is left to the garbage collector.
        """
        await trio.aclose_forcefully(self._stream)


def _closed(exc: trio_websocket.ConnectionClosed) -> TransportClosed:
    reason = exc.reason
    if reason is None:  # pragma: no cover - trio-websocket always sets one
        return TransportClosed(1006, None)
    return TransportClosed(reason.code, reason.reason)


async def open_transport(
    nursery: trio.Nursery,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float | None = 10.0,
    max_message_size: int = 1 << 20,
) -> Transport:
    """Open a websocket to ``url``; its background task runs in ``nursery``.

    Raises:
        ConfigurationError: The URL is not a ``ws://`` or ``wss://`` URL.
        HandshakeError: The server answered the upgrade with an HTTP error.
        ConnectError: Anything else that prevented the connection (DNS, TCP,
            TLS, the server hanging up, ``connect_timeout``).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(f"not a websocket URL: {url!r} (expected ws:// or wss://)")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    host_header = host if port in (80, 443) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port in (80, 443) else f"[{host}]:{port}"
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]

    stream: trio.abc.Stream | None = None
    try:
        with trio.move_on_after(connect_timeout if connect_timeout is not None else float("inf")):
            try:
                stream = await trio.open_tcp_stream(host, port)
                if secure:
                    tls = trio.SSLStream(
                        stream,
                        ssl_context or ssl.create_default_context(),
                        server_hostname=host,
                        https_compatible=True,
                    )
                    stream = tls
                    await tls.do_handshake()
            except OSError as exc:
                raise ConnectError(f"could not connect: {exc.strerror or exc}", url) from exc
            except trio.BrokenResourceError as exc:
                cause = exc.__cause__ or exc
                raise ConnectError(f"TLS handshake failed: {cause}", url) from cause
            return await _upgrade(
                nursery, stream, url, host_header, resource, extra, max_message_size
            )
        raise ConnectError(f"no websocket connection within {connect_timeout:g} s", url)
    except BaseException:
        if stream is not None:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
        raise


async def _upgrade(
    nursery: trio.Nursery,
    stream: trio.abc.Stream,
    url: str,
    host_header: str,
    resource: str,
    extra: list[tuple[bytes, bytes]],
    max_message_size: int,
) -> Transport:
    watched = _WatchedStream(stream)
    guard = ReaderGuard(nursery)
    ws: trio_websocket.WebSocketConnection | None = None
    async with trio.open_nursery() as race:

        async def upgrade() -> None:
            nonlocal ws
            ws = await trio_websocket.wrap_client_stream(
                guard,  # type: ignore[arg-type]  # only start_soon is used
                watched,  # type: ignore[arg-type]  # any trio Stream works
                host_header,
                resource,
                extra_headers=extra,
                max_message_size=max_message_size,
                # Parse several frames per read, and let trio-websocket's reader
                # run ahead of ours instead of switching tasks after every message
                # (measured: -23 % CPU per message; see benchmarks/README.rst).
                message_queue_size=_MESSAGE_QUEUE_SIZE,
                receive_buffer_size=_RECEIVE_BUFFER_SIZE,
            )
            race.cancel_scope.cancel()

        async def failed() -> None:
            await guard.failed.wait()
            race.cancel_scope.cancel()

        async def hang_up() -> None:
            await watched.eof.wait()
            # Let trio-websocket's reader parse a rejection that arrived
            # together with the end of the stream before giving up.
            await trio.lowlevel.checkpoint()
            race.cancel_scope.cancel()

        race.start_soon(upgrade)
        race.start_soon(failed)
        race.start_soon(hang_up)
    if ws is None:
        if isinstance(guard.error, trio_websocket.ConnectionRejected):
            raise handshake_error(url, guard.error)
        if guard.error is not None:
            raise ConnectError(f"websocket upgrade failed: {guard.error!r}", url) from guard.error
        raise ConnectError("the server closed the connection during the handshake", url)
    response = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in ws.handshake_headers}
    return Transport(ws, url, response, guard, stream)


def handshake_error(url: str, exc: trio_websocket.ConnectionRejected) -> HandshakeError:
    """Translate trio-websocket's rejection into our :class:`~dgtrio.HandshakeError`."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in exc.headers or ()}
    body: Any = None
    if exc.body:
        text = exc.body.decode("utf-8", "replace")
        try:
            body = loads(exc.body)
        except ValueError:
            body = text
    request_id = headers.get("dg-request-id")
    if request_id is None and isinstance(body, Mapping):
        candidate = body.get("request_id")
        request_id = candidate if isinstance(candidate, str) else None
    return HandshakeError(
        url,
        exc.status_code,
        dg_error=headers.get("dg-error"),
        request_id=request_id,
        body=body,
        headers=headers,
    )
