"""``open_local_deepgram``: the Deepgram-protocol server with the offline engines behind it."""

from __future__ import annotations

import ctypes.util
import importlib.util
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from .._server.agent_v1 import Responder
from .._server.core import DeepgramServer
from ..testing import serve_deepgram
from ._engine import LocalEngine
from ._espeak import DEFAULT_VOICE
from ._pool import LocalEngineError

__all__ = ["missing_dependencies", "open_local_deepgram", "supports_language"]

logger = logging.getLogger("dgtrio.server")

#: How to get the offline engines, for error messages.
_INSTALL_HINT = "pip install 'dgtrio[local]'"


def supports_language(language: str | None) -> bool:
    """Whether the local recognizer serves ``language``: :meth:`LocalEngine.supports_language`."""
    return LocalEngine.supports_language(language)


def missing_dependencies() -> list[str]:
    """Name what the offline engines need and cannot find (empty: all present).

    Checks without importing or loading anything: ``pocketsphinx`` (speech to
    text) and espeak-ng, from the ``espeakng-loader`` wheel or the system's
    ``libespeak-ng`` (text to speech).
    """
    missing = []
    if not _importable("pocketsphinx"):
        missing.append("pocketsphinx")
    if not _importable("espeakng_loader") and ctypes.util.find_library("espeak-ng") is None:
        missing.append("espeak-ng (espeakng-loader)")
    return missing


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken package, or one blocked in sys.modules
        return False


@asynccontextmanager
async def _serve_local(
    engine: LocalEngine,
    *,
    host: str,
    port: int,
    api_key: str | None,
    access_tokens: Iterable[str],
    idle_timeout: float,
    strict_query: bool,
    agent_responder: Responder | None,
) -> AsyncIterator[DeepgramServer]:
    async with AsyncExitStack() as stack:
        try:
            engine.statistics()
        except LocalEngineError:  # not running yet: it lives as long as the server
            await stack.enter_async_context(engine)
        server = await stack.enter_async_context(
            serve_deepgram(
                engine,
                host=host,
                port=port,
                api_key=api_key,
                access_tokens=access_tokens,
                idle_timeout=idle_timeout,
                strict_query=strict_query,
                agent_responder=agent_responder,
            )
        )
        try:
            yield server
        finally:
            # A failing engine (a worker process killed, espeak-ng refusing a
            # request) already closed its connection with 1011; that is the
            # engine's failure, not a bug in the server, so it must not fail
            # the whole server when the block ends.
            engine_failures = [e for e in server.errors if isinstance(e, LocalEngineError)]
            for failure in engine_failures:
                server.errors.remove(failure)
                logger.warning("local engine failure (connection closed with 1011): %s", failure)


def open_local_deepgram(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    access_tokens: Iterable[str] = (),
    idle_timeout: float = 10.0,
    strict_query: bool = True,
    engine: LocalEngine | None = None,
    agent_responder: Responder | None = None,
    voice: str = DEFAULT_VOICE,
    voices: Mapping[str, str] | None = None,
    warm_workers: int = 1,
    max_workers: int | None = None,
) -> AbstractAsyncContextManager[DeepgramServer]:
    """Run a Deepgram-protocol server with the offline engines, for the block.

    The same server as :func:`dgtrio.testing.open_fake_deepgram` (routing,
    handshake, protocol, timeouts and close codes are shared), with
    :class:`LocalEngine` behind it: speech is really recognised (pocketsphinx,
    US English) and really synthesised (espeak-ng), with no key and no
    network::

        async with open_local_deepgram() as server:
            client = server.client()
            async with client.listen.v1.connect(model="nova-3", interim_results=True) as s:
                ...

    Entering starts the recognizer pool and waits until ``warm_workers``
    processes have loaded their model (about a second); leaving stops it.

    Args:
        host: Interface to bind (loopback by default; anything else is
            reachable from the network and logs a warning).
        port: Port to bind (0: a free one; see ``server.port``).
        api_key: The only API key accepted (``None``: any credentials, but
            some ``Authorization`` header is still required).
        access_tokens: Bearer tokens accepted.
        idle_timeout: Seconds without a client frame before ``/v1/listen``
            closes with 1011 ``NET-0001`` (the service's 10 s).
        strict_query: Refuse unknown query parameters with 400, as the
            service does.
        engine: A :class:`LocalEngine` you configured yourself; it is started
            for the block unless it is already running. When given,
            ``voice``, ``voices``, ``warm_workers`` and ``max_workers`` are
            ignored.
        agent_responder: What the voice agent on ``/v1/agent/converse``
            answers (default: :func:`dgtrio.testing.echo_responder`, which
            says the user's words back and calls a client-side function whose
            name the user says).
        voice: espeak-ng voice for ``/v1/speak`` and the agent (see
            :class:`LocalEngine`).
        voices: Maps model names clients send to espeak-ng voices.
        warm_workers: Recognizer processes kept ready (each ~100 MB).
        max_workers: Most concurrent recognition streams (default: four per CPU).

    Yields:
        The :class:`~dgtrio.testing.DeepgramServer`: ``server.client()`` gives
        a client for it, ``server.url`` its address.

    Raises:
        LocalEngineError: The engines are not installed (the message says
            how to install them) or a recognizer process could not start.

    A connection whose engine fails (a worker process dies) is closed with
    1011; the server carries on and the failure is logged, not raised.
    """
    if engine is None:
        missing = missing_dependencies()
        if missing:
            raise LocalEngineError(
                f"the local engines need {' and '.join(missing)}: {_INSTALL_HINT}"
            )
        engine = LocalEngine(
            voice=voice, voices=voices, warm_workers=warm_workers, max_workers=max_workers
        )
    return _serve_local(
        engine,
        host=host,
        port=port,
        api_key=api_key,
        access_tokens=access_tokens,
        idle_timeout=idle_timeout,
        strict_query=strict_query,
        agent_responder=agent_responder,
    )
