"""An in-process Deepgram-protocol server for tests: yours and dgtrio's.

::

    from dgtrio.testing import open_fake_deepgram, speech

    async def test_my_app():
        async with open_fake_deepgram() as server:
            client = server.client()
            async with client.listen.v1.connect(
                model="nova-3", encoding="linear16", sample_rate=16000, punctuate=True
            ) as session:
                await session.send_media(speech("book a table for two."))
                await session.close_stream()
                texts = [e.transcript async for e in session if e.type == "Results" and e.is_final]
        assert "book a table for two." in " ".join(texts).lower()

The server speaks the real protocols over loopback, built on the same
message classes as the client. Its deterministic engine recognizes *test
tones*: audio made by :func:`speech` carries its text exactly, through
``linear16``, ``mulaw`` and ``alaw`` at any rate, so a test can say precise
words and get them back. Other audio (a real recording) is segmented by
energy into deterministic pseudo-words.

Everything is recorded on :attr:`DeepgramServer.connections` (handshake,
frames both ways, close), and faults can be scheduled with
:meth:`DeepgramServer.inject`. ``python -m dgtrio.testing --port 8765``
runs the same server standalone, for clients in other languages.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from .._audio import encode_from_pcm16
from .._server.agent_v1 import (
    AgentServerOptions,
    CallFunction,
    Conversation,
    Reply,
    Responder,
    ResponderResult,
    configure_agent,
    echo_responder,
)
from .._server.core import (
    ClientGone,
    CloseConnection,
    DeepgramServer,
    DropConnection,
    Fault,
    HandshakeRecord,
    Malformed,
    Mute,
    RejectHandshake,
    SendFrames,
    ServerConnection,
    Stall,
)
from .._server.engines import SpeechEngine
from .._server.fake_engine import FakeEngine
from .._server.fake_speech import decode_text, encode_text
from .._session import _raise_single

__all__ = [
    "AgentServerOptions",
    "CallFunction",
    "ClientGone",
    "CloseConnection",
    "Conversation",
    "DeepgramServer",
    "DropConnection",
    "FakeEngine",
    "Fault",
    "HandshakeRecord",
    "Malformed",
    "Mute",
    "RejectHandshake",
    "Reply",
    "Responder",
    "ResponderResult",
    "SendFrames",
    "ServerConnection",
    "Stall",
    "configure_agent",
    "decode_text",
    "echo_responder",
    "open_fake_deepgram",
    "serve_deepgram",
    "speech",
]

logger = logging.getLogger("dgtrio.server")


def speech(
    text: str,
    *,
    sample_rate: int = 16000,
    encoding: str = "linear16",
    leading_silence: float = 0.0,
    trailing_silence: float = 0.5,
) -> bytes:
    """Audio that the fake server recognizes as exactly ``text``.

    Sentences end with a pause, so endpointing closes each one with a
    ``speech_final`` result. Text is lowercased; characters outside letters,
    digits, ``'`` and ``.,?!-`` are dropped.

    Args:
        text: What the audio says.
        sample_rate: Samples per second.
        encoding: ``linear16``, ``mulaw`` or ``alaw``.
        leading_silence: Seconds of silence first.
        trailing_silence: Seconds of silence last (so the last utterance ends).
    """
    pcm = encode_text(
        text,
        sample_rate,
        leading_silence=leading_silence,
        trailing_silence=trailing_silence,
    )
    return encode_from_pcm16(pcm, encoding)


@asynccontextmanager
async def serve_deepgram(
    engine: SpeechEngine,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    access_tokens: Iterable[str] = (),
    idle_timeout: float = 10.0,
    strict_query: bool = True,
    agent_responder: Responder | None = None,
) -> AsyncIterator[DeepgramServer]:
    """Run a :class:`DeepgramServer` with ``engine`` for the duration of the block.

    Binds loopback unless ``host`` says otherwise. A handler that crashed
    (a server bug) is re-raised when the block ends, so it cannot go unseen.
    """
    from .._transport import is_loopback_host

    if not is_loopback_host(host):
        logger.warning("dgtrio test server listening on %s: reachable from the network", host)
    server = DeepgramServer(
        engine,
        api_key=api_key,
        access_tokens=access_tokens,
        idle_timeout=idle_timeout,
        strict_query=strict_query,
    )
    if agent_responder is not None:
        configure_agent(server, responder=agent_responder)
    body: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, host, port)
            try:
                yield server
            except BaseException as exc:
                body = exc
                raise
            finally:
                nursery.cancel_scope.cancel(reason="dgtrio test server stopped")
    except BaseExceptionGroup as group:
        _raise_single(group, body)
    if server.errors:
        raise RuntimeError(
            f"the dgtrio test server failed: {server.errors[0]!r}"
        ) from server.errors[0]


def open_fake_deepgram(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    access_tokens: Iterable[str] = (),
    idle_timeout: float = 10.0,
    strict_query: bool = True,
    engine: SpeechEngine | None = None,
    agent_responder: Responder | None = None,
) -> AbstractAsyncContextManager[DeepgramServer]:
    """Run the deterministic fake Deepgram server on loopback for the block.

    Args:
        host: Interface to bind (loopback by default).
        port: Port to bind (0: a free one; see ``server.port``).
        api_key: The only API key accepted (``None``: any credentials, but
            some ``Authorization`` header is still required).
        access_tokens: Bearer tokens accepted.
        idle_timeout: Seconds without a client frame before ``/v1/listen``
            closes with 1011 ``NET-0001`` (the service's 10 s); the agent
            answers the same silence with ``CLIENT_MESSAGE_TIMEOUT``.
        strict_query: Refuse unknown query parameters with 400, as the
            service does.
        engine: Another :class:`~dgtrio._server.engines.SpeechEngine`.
        agent_responder: What the voice agent on ``/v1/agent/converse``
            answers: an async callable given the :class:`Conversation` so far,
            returning the reply text or :class:`CallFunction` requests
            (default: :func:`echo_responder`).

    Yields:
        The :class:`DeepgramServer`: ``server.client()`` gives a client for it,
        ``server.environment`` an environment pointing at it.
    """
    return serve_deepgram(
        engine or FakeEngine(),
        host=host,
        port=port,
        api_key=api_key,
        access_tokens=access_tokens,
        idle_timeout=idle_timeout,
        strict_query=strict_query,
        agent_responder=agent_responder,
    )
