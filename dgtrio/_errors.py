"""The dgtrio exception tree.

Every error dgtrio raises on purpose is a :class:`DeepgramError`. Foreign
exceptions (trio-websocket, ``OSError``, cattrs) are translated where they
enter the library and chained with ``raise ... from``::

    DeepgramError
    ├── ConfigurationError         bad arguments, found before any I/O
    │   └── InsecureTransportError credentials over plain ws:// to a remote host
    ├── ConnectError               could not open the connection (DNS, TCP, TLS, timeout)
    │   └── HandshakeError         the server answered the upgrade with an HTTP error
    ├── ConnectionClosedError      the connection ended abnormally (close code, reason)
    │   └── ConnectionDeadError    the peer stopped answering (no pong, no reply, send stalled)
    ├── ServerError                the server reported a fatal error message
    ├── MessageDecodeError         the server sent a frame we cannot decode
    ├── RequestError               the server refused a request (ConfigureFailure, ...)
    ├── ProtocolError              this program broke the protocol (refused locally)
    │   └── SessionClosedError     the session, or its sending side, is already closed
    ├── AckTimeoutError            an acknowledgement did not arrive in time
    └── InternalError              a bug in dgtrio; please report it

Split the way trio splits its own errors: *your misuse* (``ProtocolError``,
``SessionClosedError``, ``ConfigurationError``) is separate from *peer or
network* failures (``ConnectError``, ``ConnectionClosedError``) and from the
*peer breaking the protocol* (``MessageDecodeError``).

Exceptions are plain data: every constructor argument is passed to
``Exception.__init__`` and kept as an attribute, so errors survive
``copy.copy`` and ``pickle`` (useful across processes and in test reports).
No error ever carries a credential: handshake errors hold the *response*, never
the request headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AckTimeoutError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosedError",
    "ConnectionDeadError",
    "DeepgramError",
    "HandshakeError",
    "InsecureTransportError",
    "InternalError",
    "MessageDecodeError",
    "ProtocolError",
    "RequestError",
    "ServerError",
    "SessionClosedError",
]

# A bare code ("NET-0001") or the link the service puts in its sentences
# ("... See https://dpgr.am/net0001").
_REASON_CODE = re.compile(r"\b([A-Z]+-\d{4})\b|dpgr\.am/([a-z]+)-?(\d{4})\b")

#: Close codes that end a session normally (1005 is "no status code", which Flux
#: and the agent use after a graceful end).
NORMAL_CLOSE_CODES = frozenset({1000, 1005})


class DeepgramError(Exception):
    """Base class of every error dgtrio raises on purpose."""


class ConfigurationError(DeepgramError, ValueError):
    """An argument is invalid; raised before anything is sent."""


class InsecureTransportError(ConfigurationError):
    """Credentials would be sent in clear text to a host that is not loopback.

    Pass ``allow_insecure=True`` to :class:`~dgtrio.DeepgramClient` if you
    really mean it (for example a self-hosted server on a private network).
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url

    def __str__(self) -> str:
        return (
            f"refusing to send credentials over unencrypted {self.url}: use wss://, "
            "a loopback host, or DeepgramClient(allow_insecure=True)"
        )


class ConnectError(DeepgramError):
    """The connection could not be opened.

    The original cause (``OSError``, a TLS error, a timeout) is chained as
    ``__cause__``.

    Attributes:
        url: The URL that was being opened (it never contains credentials).
        message: What went wrong, in words.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message, url)
        self.message = message
        self.url = url

    def __str__(self) -> str:
        return f"{self.message} ({self.url})"


class HandshakeError(ConnectError):
    """The server refused the websocket upgrade with an HTTP error status.

    Attributes:
        status: The HTTP status code, for example 401.
        dg_error: The ``dg-error`` response header, a human-readable reason.
        request_id: The ``dg-request-id`` response header (or the body's
            ``request_id``); quote it when you contact Deepgram.
        body: The response body: the parsed JSON object when it is JSON,
            else the text, else ``None``.
        headers: The response headers, lowercase names.
        err_code: ``err_code`` from a JSON body, e.g. ``INVALID_AUTH``.
        err_msg: ``err_msg`` from a JSON body.
    """

    def __init__(
        self,
        url: str,
        status: int,
        *,
        dg_error: str | None = None,
        request_id: str | None = None,
        body: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # Everything goes through Exception.__init__ so copy/pickle round-trip.
        DeepgramError.__init__(self, url, status, dg_error, request_id, body, headers)
        self.message = f"handshake rejected with HTTP {status}"
        self.url = url
        self.status = status
        self.dg_error = dg_error
        self.request_id = request_id
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        err_code = err_msg = None
        if isinstance(body, Mapping):
            # Observed: err_code/err_msg; documented alternatives: category/message
            # and (asyncapi) a numeric error_code with error_message.
            err_code = _str_or_none(body.get("err_code") or body.get("category"))
            numeric = body.get("error_code")  # the asyncapi shape: an HTTP status number
            if err_code is None and isinstance(numeric, int) and not isinstance(numeric, bool):
                err_code = str(numeric)
            err_msg = _str_or_none(
                body.get("err_msg") or body.get("message") or body.get("error_message")
            )
        self.err_code = err_code
        self.err_msg = err_msg

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_handshake_error, self.args)

    def __str__(self) -> str:
        parts = [f"Deepgram rejected the connection: HTTP {self.status}"]
        if self.err_code:
            parts.append(self.err_code)
        reason = self.dg_error or self.err_msg
        if reason:
            parts.append(reason)
        text = " ".join(parts[:2]) + (f": {reason}" if reason else "")
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text


def _rebuild_handshake_error(
    url: str,
    status: int,
    dg_error: str | None,
    request_id: str | None,
    body: Mapping[str, Any] | str | None,
    headers: Mapping[str, str] | None,
) -> HandshakeError:
    return HandshakeError(
        url, status, dg_error=dg_error, request_id=request_id, body=body, headers=headers
    )


class ConnectionClosedError(DeepgramError):
    """The connection ended abnormally.

    Attributes:
        code: The websocket close code (1006 when the TCP connection dropped
            without a close frame).
        reason: The close reason text, often a sentence with a link.
        reason_code: The Deepgram code found in the reason, such as
            ``NET-0001`` or ``DATA-0000``, else ``None``.
        request_id: The session's request id, when known.
    """

    def __init__(self, code: int, reason: str | None = None, request_id: str | None = None):
        super().__init__(code, reason, request_id)
        self.code = code
        self.reason = reason
        self.request_id = request_id
        self.reason_code = reason_code(reason)

    def __str__(self) -> str:
        text = f"connection closed with code {self.code}"
        if self.reason:
            text += f": {self.reason}"
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text


class ConnectionDeadError(ConnectionClosedError):
    """The peer stopped responding and dgtrio gave up on the connection.

    Raised when a websocket ping got no pong in time, when a send could not
    complete within its bound (the peer stopped reading), or when audio was
    flowing but nothing came back within the watchdog's window. The code is
    1006 because the close handshake did not happen.

    Attributes:
        detail: What exactly was not answered.
    """

    def __init__(self, detail: str, request_id: str | None = None):
        DeepgramError.__init__(self, detail, request_id)
        self.code = 1006
        self.reason = detail
        self.reason_code = None
        self.detail = detail
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.detail, self.request_id))


class ServerError(DeepgramError):
    """The server sent a fatal ``Error`` message; the session is over.

    Attributes:
        code: The error code, e.g. ``INTERNAL_SERVER_ERROR`` (may be ``None``
            for legacy shapes).
        description: The server's explanation.
        message: The error message object as received.
    """

    def __init__(self, code: str | None, description: str | None, message: Any = None) -> None:
        super().__init__(code, description, message)
        self.code = code
        self.description = description
        self.message = message

    def __str__(self) -> str:
        return _code_and_text("Deepgram reported a fatal error", self.code, self.description)


class MessageDecodeError(DeepgramError):
    """A frame from the peer could not be decoded into a message.

    Attributes:
        message_type: The frame's ``type`` tag when it had one.
        errors: Path-level problems, e.g.
            ``["invalid value for type, expected float @ $.duration"]``.
        raw: The frame exactly as received.
    """

    def __init__(
        self,
        summary: str,
        *,
        raw: str | bytes,
        errors: Sequence[str] = (),
        message_type: str | None = None,
    ) -> None:
        super().__init__(summary, raw, tuple(errors), message_type)
        self.summary = summary
        self.raw = raw
        self.errors = tuple(errors)
        self.message_type = message_type

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_decode_error, (self.summary, self.raw, self.errors, self.message_type))

    def __str__(self) -> str:
        text = self.summary
        if self.errors:
            text += ": " + "; ".join(self.errors)
        return text


def _rebuild_decode_error(
    summary: str, raw: str | bytes, errors: Sequence[str], message_type: str | None
) -> MessageDecodeError:
    return MessageDecodeError(summary, raw=raw, errors=errors, message_type=message_type)


class RequestError(DeepgramError):
    """The server refused a request that it acknowledges (e.g. ``ConfigureFailure``).

    The session stays open.

    Attributes:
        code: The refusal code, e.g. ``CONFIGURE_KEYTERM_LIMIT_EXCEEDED``.
        description: The server's explanation.
        reply: The refusal message as received.
    """

    def __init__(self, code: str | None, description: str | None, reply: Any = None) -> None:
        super().__init__(code, description, reply)
        self.code = code
        self.description = description
        self.reply = reply

    def __str__(self) -> str:
        return _code_and_text("request refused:", self.code, self.description)


class ProtocolError(DeepgramError):
    """This program tried something the protocol does not allow; nothing was sent."""


class SessionClosedError(ProtocolError):
    """The session (or just its sending side) is closed."""


class AckTimeoutError(DeepgramError, TimeoutError):
    """An expected reply (``Connected``, ``Welcome``, ``SettingsApplied``, ...) did not arrive.

    Attributes:
        waiting_for: What was expected.
        timeout: How long dgtrio waited, in seconds.
    """

    def __init__(self, waiting_for: str, timeout: float) -> None:
        super().__init__(waiting_for, timeout)
        self.waiting_for = waiting_for
        self.timeout = timeout

    def __str__(self) -> str:
        return f"no {self.waiting_for} within {self.timeout:g} s"


class InternalError(DeepgramError):
    """Something happened that dgtrio did not expect: a bug. Please report it."""


def _code_and_text(lead: str, code: str | None, text: str | None) -> str:
    """``lead CODE: text``, leaving out whichever part is missing; text verbatim."""
    head = f"{lead} {code}" if code else lead.rstrip(":")
    return f"{head}: {text}" if text else head


def reason_code(reason: str | None) -> str | None:
    """Extract a Deepgram code such as ``NET-0001`` from a close reason, if there is one."""
    match = _REASON_CODE.search(reason or "")
    if match is None:
        return None
    if match.group(1):
        return match.group(1)
    return f"{match.group(2).upper()}-{match.group(3)}"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
