"""The client: where sessions are opened, credentials live and URLs are built."""

from __future__ import annotations

import functools
import os
import platform
import ssl
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError, InsecureTransportError
from ._options import RequestOptions, SessionOptions
from ._query import QueryValue, encode_query
from ._reconnect import ReconnectPolicy
from ._session import Session, open_session
from ._transport import is_loopback_host

if TYPE_CHECKING:
    from .agent import AgentClient
    from .listen import ListenClient
    from .speak import SpeakClient

__all__ = ["AsyncDeepgramClient", "DeepgramClient", "DeepgramClientEnvironment"]

SessionT = TypeVar("SessionT", bound=Session[Any])

__version__ = "0.1.0.dev0"


def _root(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ConfigurationError(
            f"DeepgramClientEnvironment.{name} must be a ws:// or wss:// URL, got {url!r}"
        )
    return url.rstrip("/")


def _production_root(url: str) -> str:
    return _root(url, "production")


def _agent_root(url: str) -> str:
    return _root(url, "agent")


@attrs.frozen
class DeepgramClientEnvironment:
    """Where the sockets live: one websocket root per host.

    Point it at a local server to test against :mod:`dgtrio.testing` or a
    self-hosted deployment::

        DeepgramClientEnvironment(production="ws://127.0.0.1:8765",
                                  agent="ws://127.0.0.1:8765")

    ``DeepgramClient()`` without an environment uses :meth:`from_env`, so
    ``DEEPGRAM_PRODUCTION_URL`` and ``DEEPGRAM_AGENT_URL`` redirect code you
    cannot edit (the official SDK's examples, for instance).

    Attributes:
        production: Root of ``/v1/listen``, ``/v2/listen`` and ``/v1/speak``.
        agent: Root of ``/v1/agent/converse``.
        base: Accepted for compatibility with the official SDK (REST; unused).
        agent_rest: Accepted for compatibility with the official SDK (unused).
    """

    #: Deepgram's hosted service.
    PRODUCTION: ClassVar[DeepgramClientEnvironment]

    production: str = attrs.field(default="wss://api.deepgram.com", converter=_production_root)
    agent: str = attrs.field(default="wss://agent.deepgram.com", converter=_agent_root)
    base: str | None = attrs.field(default=None, kw_only=True)
    agent_rest: str | None = attrs.field(default=None, kw_only=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeepgramClientEnvironment:
        """The production environment, with roots overridden by environment variables.

        ``DEEPGRAM_PRODUCTION_URL`` replaces :attr:`production` and
        ``DEEPGRAM_AGENT_URL`` replaces :attr:`agent`.
        """
        env = os.environ if environ is None else environ
        return cls(
            production=env.get("DEEPGRAM_PRODUCTION_URL") or "wss://api.deepgram.com",
            agent=env.get("DEEPGRAM_AGENT_URL") or "wss://agent.deepgram.com",
        )


DeepgramClientEnvironment.PRODUCTION = DeepgramClientEnvironment()


class DeepgramClient:
    """The entry point: ``client.listen.v1`` and ``.v2``, ``client.speak.v1``, ``client.agent.v1``.

    A client holds credentials and settings; it owns no connection and no
    task, so it is cheap, reusable and safe to share between tasks. Each
    ``connect()`` opens one session.

    Args:
        api_key: A Deepgram API key, sent as ``Authorization: Token <key>``.
            Defaults to the ``DEEPGRAM_API_KEY`` environment variable.
        access_token: A temporary token (JWT), sent as ``Authorization:
            Bearer <token>``; takes precedence over ``api_key``.
        environment: Where the sockets live (default: Deepgram's service,
            overridable with environment variables; see
            :class:`DeepgramClientEnvironment`).
        headers: Extra headers for every handshake.
        allow_insecure: Allow credentials over plain ``ws://`` to a host that
            is not loopback. Off by default: such credentials are readable by
            anyone on the path.
        ssl_context: TLS settings for ``wss://`` (default: the system's
            trusted certificates, with verification).
        session_id: The ``x-deepgram-session-id`` header value (default: a
            random UUID per client, as the official SDK does).

    Credentials never appear in ``repr()``, log lines or exception messages.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        access_token: str | None = None,
        environment: DeepgramClientEnvironment | None = None,
        headers: Mapping[str, str] | None = None,
        allow_insecure: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        session_id: str | None = None,
    ) -> None:
        if api_key is None and access_token is None:
            api_key = os.environ.get("DEEPGRAM_API_KEY") or None
        self._api_key = api_key
        self._access_token = access_token
        self.environment = environment or DeepgramClientEnvironment.from_env()
        self.headers: dict[str, str] = dict(headers or {})
        self.allow_insecure = allow_insecure
        self.ssl_context = ssl_context
        self.session_id = session_id or str(uuid.uuid4())

    # The socket namespaces import their modules on first use: a program that
    # only transcribes does not pay for the agent's Settings tree.

    @functools.cached_property
    def listen(self) -> ListenClient:
        """``/v1/listen`` and ``/v2/listen``: speech to text."""
        from .listen import ListenClient

        return ListenClient(self)

    @functools.cached_property
    def speak(self) -> SpeakClient:
        """``/v1/speak``: text to speech."""
        from .speak import SpeakClient

        return SpeakClient(self)

    @functools.cached_property
    def agent(self) -> AgentClient:
        """``/v1/agent/converse``: the voice agent."""
        from .agent import AgentClient

        return AgentClient(self)

    @property
    def has_credentials(self) -> bool:
        """Whether an API key or access token is configured (it is never shown)."""
        return bool(self._api_key or self._access_token)

    def __repr__(self) -> str:
        if self._access_token:
            creds = "access token"
        elif self._api_key:
            creds = "API key"
        else:
            creds = "none"
        return (
            f"<DeepgramClient credentials={creds} production={self.environment.production} "
            f"agent={self.environment.agent}>"
        )

    def _authorization(self, override: str | None) -> str | None:
        if override is not None:
            return override
        if self._access_token:
            return f"Bearer {self._access_token}"
        if self._api_key:
            return f"Token {self._api_key}"
        return None

    def _handshake_headers(
        self, authorization: str | None, request_options: RequestOptions | None
    ) -> list[tuple[str, str]]:
        headers: dict[str, str] = {
            "User-Agent": f"dgtrio/{__version__} python/{platform.python_version()}",
            "x-deepgram-session-id": self.session_id,
        }
        headers.update(self.headers)
        auth = self._authorization(authorization)
        if auth is not None:
            headers["Authorization"] = auth
        for key, value in ((request_options or {}).get("additional_headers") or {}).items():
            for existing in [k for k in headers if k.lower() == key.lower()]:
                del headers[existing]
            headers[key] = value
        return list(headers.items())

    def _url(
        self,
        session_class: type[Session[Any]],
        params: Sequence[tuple[str, QueryValue]],
        request_options: RequestOptions | None,
    ) -> str:
        root = getattr(self.environment, session_class.environment_field)
        extra = (request_options or {}).get("additional_query_parameters") or {}
        query = encode_query([*params, *extra.items()])
        return f"{root}{session_class.path}" + (f"?{query}" if query else "")

    def _open(
        self,
        session_class: type[SessionT],
        params: Sequence[tuple[str, QueryValue]],
        *,
        authorization: str | None,
        request_options: RequestOptions | None,
        reconnect: ReconnectPolicy | None = None,
    ) -> AbstractAsyncContextManager[SessionT]:
        """Build the URL, headers and options, then open a session of ``session_class``."""
        url = self._url(session_class, params, request_options)
        headers = self._handshake_headers(authorization, request_options)
        parts = urlsplit(url)
        sends_credentials = any(k.lower() == "authorization" for k, _ in headers)
        if (
            parts.scheme == "ws"
            and sends_credentials
            and not self.allow_insecure
            and not is_loopback_host(parts.hostname or "")
        ):
            raise InsecureTransportError(f"ws://{parts.netloc}{parts.path}")
        options = SessionOptions.resolve(
            request_options,
            keepalive_interval=session_class.default_keepalive_interval,
            ping_interval=session_class.default_ping_interval,
            ssl_context=self.ssl_context,
            reconnect=reconnect,
            response_timeout=session_class.default_response_timeout,
        )
        return open_session(session_class, url, headers, options)


#: The official SDK's async client name; the same class (dgtrio has only one).
AsyncDeepgramClient = DeepgramClient
