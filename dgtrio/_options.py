"""Connection options: what a caller may tune per client and per connect."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

import attrs

from ._errors import ConfigurationError
from ._query import QueryValue

if TYPE_CHECKING:
    from ._reconnect import ReconnectPolicy

__all__ = ["RequestOptions", "SessionOptions"]


class RequestOptions(TypedDict, total=False):
    """Per-connect options, given as ``request_options={...}``.

    The first two keys are the official SDK's; the rest tune the session.
    Every key is optional.

    Attributes:
        additional_headers: Extra handshake headers (they override the
            client's ``headers``; an ``Authorization`` here overrides the
            credentials).
        additional_query_parameters: Extra query parameters, encoded like the
            named ones.
        connect_timeout: Seconds to open the connection (TCP, TLS, upgrade and,
            where the socket has one, the server's hello). Default 10.
        close_timeout: Seconds a graceful close may take (draining final
            results after ``CloseStream``). Default 10.
        timeout_in_seconds: The official SDK's name for ``connect_timeout``.
        keepalive_interval: Seconds without an outgoing frame after which a
            ``KeepAlive`` message is sent (listen v1: 4, agent: 8, others do
            not use it). ``None`` disables it.
        ping_interval: Seconds without an outgoing frame (KeepAlive messages
            do not count) after which a websocket ping is sent (listen v2 and
            speak: 10, listen v1 and agent: 20). ``None`` disables it.
        ping_timeout: Seconds to wait for a pong before the connection is
            declared dead (default 20).
        send_timeout: Seconds one frame may take to leave; a peer that stops
            reading makes sends fail with ConnectionDeadError (default 30).
        receive_buffer_size: Events buffered for the reader of the session
            (default 256); when full, the session stops reading the socket
            until you catch up.
        send_buffer_size: Outgoing frames buffered before ``send_media`` waits
            (default 64).
        max_message_size: Largest incoming message in bytes (default 1 MiB).
        response_timeout: Seconds of silence from the server, while audio is
            being sent, after which the connection is declared dead (a
            watchdog against a stream that is open but no longer answers).
            ``None`` (the default on ``/v1/listen``) disables it.
    """

    additional_headers: Mapping[str, str]
    additional_query_parameters: Mapping[str, QueryValue]
    connect_timeout: float
    close_timeout: float
    timeout_in_seconds: float
    keepalive_interval: float | None
    ping_interval: float | None
    ping_timeout: float
    send_timeout: float | None
    receive_buffer_size: int
    send_buffer_size: int
    max_message_size: int
    response_timeout: float | None


_KNOWN_KEYS = frozenset(RequestOptions.__annotations__)
_UNSET: float = -1.0


@attrs.frozen
class SessionOptions:
    """Resolved session settings (see :class:`RequestOptions` for meanings)."""

    connect_timeout: float = 10.0
    close_timeout: float = 10.0
    keepalive_interval: float | None = None
    ping_interval: float | None = None
    ping_timeout: float = 20.0
    send_timeout: float | None = 30.0
    receive_buffer_size: int = 256
    send_buffer_size: int = 64
    max_message_size: int = 1 << 20
    ssl_context: ssl.SSLContext | None = None
    reconnect: ReconnectPolicy | None = None
    response_timeout: float | None = None

    @classmethod
    def resolve(
        cls,
        request_options: RequestOptions | Mapping[str, object] | None,
        *,
        keepalive_interval: float | None = None,
        ping_interval: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reconnect: ReconnectPolicy | None = None,
        response_timeout: float | None = None,
    ) -> SessionOptions:
        """Merge a socket's defaults with the caller's ``request_options``.

        Raises:
            ConfigurationError: An unknown key or a value of the wrong type.
        """
        given = dict(request_options or {})
        unknown = set(given) - _KNOWN_KEYS - {"max_retries", "additional_body_parameters"}
        if unknown:
            raise ConfigurationError(
                f"unknown request_options key(s): {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_KNOWN_KEYS))}"
            )
        values: dict[str, object] = {
            "keepalive_interval": keepalive_interval,
            "ping_interval": ping_interval,
            "ssl_context": ssl_context,
            "reconnect": reconnect,
            "response_timeout": response_timeout,
        }
        if "timeout_in_seconds" in given:
            values["connect_timeout"] = given["timeout_in_seconds"]
        for key in (
            "connect_timeout",
            "close_timeout",
            "keepalive_interval",
            "ping_interval",
            "ping_timeout",
            "send_timeout",
            "response_timeout",
        ):
            if key in given:
                value = given[key]
                optional = key in (
                    "keepalive_interval",
                    "ping_interval",
                    "send_timeout",
                    "response_timeout",
                )
                if value is None and optional:
                    values[key] = None
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ConfigurationError(
                        f"request_options[{key!r}] must be a positive number"
                        + (" or None" if optional else "")
                        + f", got {value!r}"
                    )
                values[key] = float(value)
        for key in ("receive_buffer_size", "send_buffer_size", "max_message_size"):
            if key in given:
                value = given[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigurationError(
                        f"request_options[{key!r}] must be a positive integer, got {value!r}"
                    )
                values[key] = value
        return cls(**values)  # type: ignore[arg-type]
