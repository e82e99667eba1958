"""The ``/v1/agent/converse`` session: the voice agent.

What this subclass adds to the generic session (``dgtrio._session``):

1. **The opening.** The server speaks first (``Welcome``); the session is
   handed over only once it has arrived (bounded by ``connect_timeout``). With
   ``connect(settings=...)`` the one ``Settings`` goes out next and the
   session is handed over once ``SettingsApplied`` arrived, so audio can flow
   at once. ``Welcome`` and ``SettingsApplied`` are still delivered as events,
   first in the stream.
2. **Settings first, once.** :class:`AgentV1Protocol` refuses, locally and
   before anything is sent, every message (and audio) before ``Settings``
   and a second ``Settings``; the server would end the session for either.
3. **KeepAlive** goes out after ``keepalive_interval`` seconds (default 8)
   without *audio*, starting once Settings was sent: the agent expects
   continuous audio and a KeepAlive only in its absence.
4. **Acknowledged requests can be awaited**: ``update_*`` return the
   server's ``*Updated`` message; :meth:`AgentV1Session.inject_agent_message`
   returns ``InjectionRefused``, or ``None`` once the agent starts speaking.
   The ``send_*`` methods (the official SDK's names) send without waiting.
   Their ``timeout`` bounds only the wait for the answer and raises the typed
   :class:`~dgtrio.AckTimeoutError` (the request may still take effect), as
   listen's ``configure`` does; wrap a call in ``trio.fail_after`` to bound
   the whole of it.
5. **Function calls** are run by a :class:`~._functions.FunctionDispatcher`
   in the session's nursery (see :mod:`._functions`).
6. **Closing.** The agent has no close message, so a graceful close sends
   whatever was queued and then closes the websocket; it does not wait for the
   server to end the conversation. Running function handlers are cancelled.
7. **No automatic reconnect, but everything to continue.** The conversation
   lives on the server: the LLM's context, the turn being spoken, function
   calls in flight. A new connection has none of it, so a reconnect cannot be
   invisible, and the application must decide what the user hears (docs:
   "Reconnecting"). The session keeps what a new one needs:
   :attr:`AgentV1Session.history` (every ``History`` event) and
   :meth:`AgentV1Session.resume_settings`, the Settings in force (with every
   acknowledged update) plus that history as context, without the greeting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import attrs
import trio

from ..._common import AudioChunk, MediaMessage
from ..._errors import (
    AckTimeoutError,
    DeepgramError,
    ProtocolError,
    ServerError,
    SessionClosedError,
)
from ..._options import RequestOptions, SessionOptions
from ..._protocol import Ack, ProtocolState
from ..._session import _TIMED_OUT, Session
from ..._transport import Transport
from ._functions import FunctionDispatcher, FunctionHandler, FunctionRegistry, Register
from ._messages import (
    SCHEMA,
    AgentStartedSpeaking,
    AgentV1Event,
    CustomToThinkProvider,
    Error,
    ForceEndTurn,
    FunctionCallCancelled,
    FunctionCallRequest,
    FunctionCallResponse,
    InjectAgentMessage,
    InjectionRefused,
    InjectUserMessage,
    KeepAlive,
    ListenUpdated,
    PromptUpdated,
    SettingsApplied,
    SpeakUpdated,
    ThinkLiveUpdated,
    ThinkUpdated,
    UpdateListen,
    UpdatePrompt,
    UpdateSpeak,
    UpdateThink,
    UpdateThinkLive,
    Welcome,
)
from ._seed import AgentV1ControlMessage
from ._settings import (
    Agent,
    Context,
    History,
    ListenSettings,
    Settings,
    SpeakSettings,
    ThinkLiveSettings,
    ThinkSettings,
)

if TYPE_CHECKING:
    from ..._client import DeepgramClient

__all__ = ["AgentV1Client", "AgentV1Protocol", "AgentV1Session"]


#: What the server assumes without ``audio.output``.
DEFAULT_OUTPUT_ENCODING = "linear16"
DEFAULT_OUTPUT_SAMPLE_RATE = 24000

_SETTINGS_FIRST = (
    "Settings must be the agent's first message (the server answers anything else with "
    "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS and ends the session): pass settings= to "
    "connect() or call apply_settings() first"
)
_SETTINGS_ONCE = (
    "Settings was already sent and the agent takes exactly one per session (a second one "
    "ends it with SETTINGS_ALREADY_APPLIED); change parts of it with update_prompt(), "
    "update_speak(), update_think() or update_listen()"
)

#: Acknowledgements: the message that answers each kind of request.
_ACKS: dict[type, str] = {
    SettingsApplied: "settings",
    PromptUpdated: "prompt",
    SpeakUpdated: "speak",
    ThinkUpdated: "think",
    ThinkLiveUpdated: "think_live",
    ListenUpdated: "listen",
}


#: The update messages, by the kind of request they are.
_UPDATES: dict[type, str] = {
    UpdatePrompt: "prompt",
    UpdateSpeak: "speak",
    UpdateThink: "think",
    UpdateThinkLive: "think_live",
    UpdateListen: "listen",
}


def _updated(settings: Settings, update: Any) -> Settings:
    """``settings`` with an acknowledged update applied."""
    agent = settings.agent
    if not isinstance(agent, Agent):
        return settings  # a saved configuration: the server holds it
    cls = update.__class__
    if cls is UpdatePrompt:
        think = agent.think
        if isinstance(think, ThinkSettings):
            agent = attrs.evolve(agent, think=attrs.evolve(think, prompt=update.prompt))
        elif think:
            prompted = tuple(attrs.evolve(t, prompt=update.prompt) for t in think)
            agent = attrs.evolve(agent, think=prompted)
    elif cls is UpdateSpeak:
        agent = attrs.evolve(agent, speak=update.speak)
    elif cls is UpdateThink:
        agent = attrs.evolve(agent, think=update.think)
    elif cls is UpdateThinkLive:
        agent = attrs.evolve(agent, think_live=update.think_live)
    elif cls is UpdateListen:
        agent = attrs.evolve(agent, listen=update.listen)
    return attrs.evolve(settings, agent=agent)


class AgentV1Protocol(ProtocolState):
    """The rules of ``/v1/agent/converse`` (protocol.md §5), without I/O.

    Settings must come first and only once (refused locally with
    :class:`~dgtrio.ProtocolError`). ``SettingsApplied`` and the five
    ``*Updated`` messages acknowledge their requests; ``InjectionRefused``
    and ``AgentStartedSpeaking`` answer a default ``InjectAgentMessage``.
    ``Error`` is fatal.

    Attributes:
        settings: The Settings sent, once sent.
        current_settings: The Settings in force on the server: :attr:`settings`
            with every update the server acknowledged applied.
        output_encoding: The encoding of the agent's audio (from Settings).
        output_sample_rate: Its sample rate, when known.
    """

    keepalive_message: ClassVar[Any] = KeepAlive()
    #: The agent server closes without a status code after an Error (1005).
    normal_close_codes: ClassVar[frozenset[int]] = frozenset({1000, 1005})

    def __init__(self) -> None:
        super().__init__()
        self.settings: Settings | None = None
        self.current_settings: Settings | None = None
        self._updates: dict[str, deque[Any]] = {key: deque() for key in _UPDATES.values()}
        self.output_encoding = DEFAULT_OUTPUT_ENCODING
        self.output_sample_rate: int | None = DEFAULT_OUTPUT_SAMPLE_RATE

    def check_send(self, message: Any) -> None:
        """Refuse anything before Settings, and a second Settings.

        Raises:
            ProtocolError: The message is out of order; nothing was sent.
        """
        super().check_send(message)
        if isinstance(message, Settings):
            if self.settings is not None:
                raise ProtocolError(_SETTINGS_ONCE)
        elif self.settings is None:
            kind = "audio" if isinstance(message, MediaMessage) else type(message).__name__
            raise ProtocolError(f"cannot send {kind} yet: {_SETTINGS_FIRST}")

    def sent(self, message: Any) -> None:
        """Record Settings (and the output audio format it asks for), and updates."""
        super().sent(message)
        key = _UPDATES.get(message.__class__)
        if key is not None:
            self._updates[key].append(message)
        if isinstance(message, Settings):
            self.settings = self.current_settings = message
            output = message.audio.output
            if output is not None:
                self.output_encoding = output.encoding or DEFAULT_OUTPUT_ENCODING
                if output.sample_rate is not None:
                    self.output_sample_rate = output.sample_rate
                elif output.encoding not in (None, DEFAULT_OUTPUT_ENCODING):
                    self.output_sample_rate = None  # the server's default for it is unknown

    def received(self, event: Any) -> Ack | None:
        """Map a received event to the request it answers."""
        cls = event.__class__
        key = _ACKS.get(cls)
        if key is not None:
            pending = self._updates.get(key)
            if pending and self.current_settings is not None:
                self.current_settings = _updated(self.current_settings, pending.popleft())
            return Ack(key, event)
        if cls is InjectionRefused:
            return Ack("inject", event)
        if cls is AgentStartedSpeaking:
            return Ack("inject", event)
        return None

    def fatal(self, event: Any) -> DeepgramError | None:
        """``Error`` ends the session (the server closes right after it)."""
        if event.__class__ is Error:
            return ServerError(event.code, event.text, event)
        return None


class AgentV1Session(Session[AgentV1Event]):
    """A voice agent session on ``/v1/agent/converse``.

    Open it with ``client.agent.v1.connect(settings=...)``. Stream the
    user's audio with :meth:`send_media`; iterate the session for the
    agent's events (``ConversationText``, ``AgentStartedSpeaking``...) and
    its speech, as :class:`~dgtrio.AudioChunk` events in the format of
    ``Settings.audio.output``. Register function handlers on
    :attr:`functions` (or pass ``functions=`` to ``connect``).
    """

    path: ClassVar[str] = "/v1/agent/converse"
    environment_field: ClassVar[str] = "agent"
    schema = SCHEMA
    protocol_class = AgentV1Protocol
    default_keepalive_interval: ClassVar[float | None] = 8.0
    keepalive_counts_media_only: ClassVar[bool] = True
    hello_class: ClassVar[type | None] = Welcome

    _protocol: AgentV1Protocol

    def __init__(self, transport: Transport, options: SessionOptions) -> None:
        super().__init__(transport, options)
        self._dispatcher = FunctionDispatcher(
            FunctionRegistry(), self.send_function_call_response, self
        )
        self._history: list[History] = []

    # ----------------------------------------------------------------- info

    @property
    def welcome(self) -> Welcome | None:
        """The server's ``Welcome`` (always set once the session is handed over)."""
        welcome: Welcome | None = self._hello
        return welcome

    @property
    def settings(self) -> Settings | None:
        """The Settings sent on this session, once sent."""
        return self._protocol.settings

    @property
    def history(self) -> tuple[History, ...]:
        """Every ``History`` event received so far, oldest first.

        The server sends them unless ``Settings.flags.history`` is false. They
        are what :meth:`resume_settings` passes to a new session.
        """
        return tuple(self._history)

    def resume_settings(self) -> Settings:
        """Settings for a new session that continues this conversation.

        The Settings in force now (those sent, with every update the server
        acknowledged), with :attr:`history` appended to the context's
        messages and the greeting removed, so the agent does not greet the
        user again. Use it to reconnect after a failure::

            settings = agent.resume_settings()
            async with client.agent.v1.connect(settings=settings) as agent: ...

        What the new session cannot have: the turn that was being spoken,
        function calls in flight, updates not yet acknowledged. A saved
        agent configuration (``Settings.agent`` as an id) is returned as it is.

        Raises:
            ProtocolError: No Settings was sent on this session yet.
        """
        settings = self._protocol.current_settings
        if settings is None:
            raise ProtocolError("no Settings was sent on this session: nothing to resume")
        agent = settings.agent
        if not isinstance(agent, Agent):
            return settings
        earlier = agent.context.messages if agent.context is not None else None
        messages = (*(earlier or ()), *self._history)
        context = attrs.evolve(agent.context or Context(), messages=messages or None)
        return attrs.evolve(settings, agent=attrs.evolve(agent, context=context, greeting=None))

    @property
    def functions(self) -> FunctionRegistry:
        """Handlers for client-side function calls, by function name.

        Assign a :class:`FunctionRegistry` to share one between sessions.
        """
        return self._dispatcher.registry

    @functions.setter
    def functions(self, registry: FunctionRegistry) -> None:
        if not isinstance(registry, FunctionRegistry):
            raise TypeError(f"expected a FunctionRegistry, got {registry!r}")
        self._dispatcher.registry = registry

    @property
    def function(self) -> Register:
        """Decorator registering a function handler: ``session.functions.register``.

        ``@session.function`` names the function after the handler;
        ``@session.function("name", description=..., parameters=...)`` names
        it explicitly (see :meth:`FunctionRegistry.register`).
        """
        return self.functions.register

    # ------------------------------------------------------------- settings

    async def apply_settings(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> SettingsApplied:
        """Send the session's one Settings and wait for ``SettingsApplied``.

        Not needed with ``connect(settings=...)``, which does it.

        Raises:
            ProtocolError: Settings was already sent.
            ServerError: The server refused the settings (e.g.
                ``INVALID_SETTINGS``); the session is over.
            AckTimeoutError: No ``SettingsApplied`` within ``timeout`` seconds.
        """
        _check_type(settings, Settings)
        reply: SettingsApplied = await self._acknowledged(
            settings, "settings", "SettingsApplied", timeout
        )
        return reply

    async def send_settings(self, settings: Settings) -> None:
        """Send the session's one Settings without waiting (the official SDK's name).

        ``SettingsApplied`` arrives as an event.
        """
        _check_type(settings, Settings)
        await self._send_message(settings)

    # -------------------------------------------------------------- updates

    async def update_prompt(
        self,
        prompt: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> PromptUpdated:
        """Change the system prompt and wait for ``PromptUpdated``.

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
        """
        reply: PromptUpdated = await self._acknowledged(
            UpdatePrompt(prompt), "prompt", "PromptUpdated", timeout
        )
        return reply

    async def update_speak(
        self,
        speak: SpeakSettings | Iterable[SpeakSettings],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> SpeakUpdated:
        """Change the voice (or the voice and its fallbacks) and wait for ``SpeakUpdated``.

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
        """
        reply: SpeakUpdated = await self._acknowledged(
            UpdateSpeak(speak), "speak", "SpeakUpdated", timeout
        )
        return reply

    async def update_think(
        self,
        think: ThinkSettings | Iterable[ThinkSettings],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> ThinkUpdated:
        """Change the LLM (functions and prompt included) and wait for ``ThinkUpdated``.

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
        """
        reply: ThinkUpdated = await self._acknowledged(
            UpdateThink(think), "think", "ThinkUpdated", timeout
        )
        return reply

    async def update_think_live(
        self,
        think_live: ThinkLiveSettings,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> ThinkLiveUpdated:
        """Change Think Live and wait for ``ThinkLiveUpdated``.

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
        """
        reply: ThinkLiveUpdated = await self._acknowledged(
            UpdateThinkLive(think_live), "think_live", "ThinkLiveUpdated", timeout
        )
        return reply

    async def update_listen(
        self,
        listen: ListenSettings,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> ListenUpdated:
        """Change speech recognition and wait for ``ListenUpdated``.

        Raises:
            AckTimeoutError: No answer within ``timeout`` seconds.
        """
        reply: ListenUpdated = await self._acknowledged(
            UpdateListen(listen), "listen", "ListenUpdated", timeout
        )
        return reply

    # ------------------------------------------------------------ injection

    async def inject_user_message(self, content: str) -> None:
        """Make the agent answer as if the user had said ``content`` (no reply to wait for)."""
        await self._send_message(InjectUserMessage(content))

    async def inject_agent_message(
        self,
        message: str | None = None,
        *,
        behavior: Literal["default", "queue", "interrupt"] | None = None,
        is_dynamic: bool | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 (see rule 4)
    ) -> InjectionRefused | None:
        """Make the agent say ``message``; return the refusal, if the server refused.

        Only a ``default`` injection can be refused (the agent is in a turn).
        It waits for the server's decision: :class:`InjectionRefused` is
        returned, and ``None`` once the agent starts speaking
        (``AgentStartedSpeaking``). With ``behavior="queue"`` or
        ``"interrupt"`` the server never refuses and this returns once sent.
        At most one default injection waits at a time (others queue behind
        it), so answers are never mixed up.

        Args:
            message: What to say (omit with ``is_dynamic=True``).
            behavior: ``"default"`` (or ``None``), ``"queue"`` or ``"interrupt"``.
            is_dynamic: Let Think Live write the line.
            timeout: Seconds to wait for the decision.

        Raises:
            AckTimeoutError: Neither answer within ``timeout`` seconds.
        """
        injection = InjectAgentMessage(message, behavior, is_dynamic)
        if behavior in ("queue", "interrupt"):
            await self._send_message(injection)
            return None
        result = await self._request(injection, "inject", ack_timeout=timeout, exclusive=True)
        if result is _TIMED_OUT:
            raise AckTimeoutError("InjectionRefused or AgentStartedSpeaking", timeout)
        if result is None:
            raise SessionClosedError("the session ended before the injection was answered")
        return result if isinstance(result, InjectionRefused) else None

    # ------------------------------------------------------- other controls

    async def keep_alive(self) -> None:
        """Send a ``KeepAlive`` now (normally not needed: it is automatic)."""
        await self._send_message(KeepAlive())

    async def force_end_turn(self) -> None:
        """End the user's turn now (needs a Flux listener; otherwise the server warns)."""
        await self._send_message(ForceEndTurn())

    # ---------------------------------------- the official SDK's send_* names

    async def send_control(self, message: AgentV1ControlMessage | KeepAlive) -> None:
        """Send ``AgentV1ControlMessage(type="KeepAlive")`` (the official SDK 5's name)."""
        if isinstance(message, AgentV1ControlMessage):
            message = message.to_message()
        _check_type(message, KeepAlive)
        await self._send_message(message)

    async def send_keep_alive(self, message: KeepAlive | None = None) -> None:
        """Send a ``KeepAlive`` (the official SDK's name)."""
        await self._send_message(_checked(message, KeepAlive) or KeepAlive())

    async def send_update_prompt(self, message: UpdatePrompt) -> None:
        """Send an ``UpdatePrompt`` without waiting for ``PromptUpdated``."""
        await self._send_message(_checked(message, UpdatePrompt))

    async def send_update_speak(self, message: UpdateSpeak) -> None:
        """Send an ``UpdateSpeak`` without waiting for ``SpeakUpdated``."""
        await self._send_message(_checked(message, UpdateSpeak))

    async def send_update_think(self, message: UpdateThink) -> None:
        """Send an ``UpdateThink`` without waiting for ``ThinkUpdated``."""
        await self._send_message(_checked(message, UpdateThink))

    async def send_update_think_live(self, message: UpdateThinkLive) -> None:
        """Send an ``UpdateThink_Live`` without waiting for ``ThinkLiveUpdated``."""
        await self._send_message(_checked(message, UpdateThinkLive))

    async def send_update_listen(self, message: UpdateListen) -> None:
        """Send an ``UpdateListen`` without waiting for ``ListenUpdated``."""
        await self._send_message(_checked(message, UpdateListen))

    async def send_inject_user_message(self, message: InjectUserMessage) -> None:
        """Send an ``InjectUserMessage``."""
        await self._send_message(_checked(message, InjectUserMessage))

    async def send_inject_agent_message(self, message: InjectAgentMessage) -> None:
        """Send an ``InjectAgentMessage`` without waiting (a refusal arrives as an event)."""
        await self._send_message(_checked(message, InjectAgentMessage))

    async def send_function_call_response(self, message: FunctionCallResponse) -> None:
        """Answer a ``FunctionCallRequest`` entry yourself (same ``id``; content as text)."""
        await self._send_message(_checked(message, FunctionCallResponse))

    async def send_force_end_turn(self, message: ForceEndTurn | None = None) -> None:
        """Send a ``ForceEndTurn`` (the official SDK's name)."""
        await self._send_message(_checked(message, ForceEndTurn) or ForceEndTurn())

    async def send_custom_to_think_provider(self, message: CustomToThinkProvider) -> None:
        """Pass a payload through to a custom think provider (semantics unconfirmed)."""
        await self._send_message(_checked(message, CustomToThinkProvider))

    # ---------------------------------------------------------------- hooks

    async def _acknowledged(self, message: Any, key: str, what: str, wait: float) -> Any:
        result = await self._request(message, key, ack_timeout=wait)
        if result is _TIMED_OUT:
            raise AckTimeoutError(what, wait)
        if result is None:
            raise SessionClosedError(f"the session ended before {what} arrived")
        return result

    def _binary_event(self, data: bytes) -> AudioChunk:
        protocol = self._protocol
        return AudioChunk(data, protocol.output_encoding, protocol.output_sample_rate)

    def _observe(self, event: Any) -> None:
        cls = event.__class__
        if cls is History:
            self._history.append(event)
        elif cls is FunctionCallRequest:
            self._dispatcher.dispatch(event)
        elif cls is FunctionCallCancelled:
            self._dispatcher.cancel(event)

    def _start(self, nursery: trio.Nursery) -> None:
        # The dispatcher runs handlers in the session's nursery, which lives
        # exactly as long as the ``async with`` (rule 1 of dgtrio._session).
        self._dispatcher.start(nursery)
        super()._start(nursery)

    async def _close(self, *, graceful: bool) -> None:
        self._dispatcher.close()
        await super()._close(graceful=graceful)


def _check_type(message: Any, cls: type) -> None:
    if not isinstance(message, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(message).__name__}: {message!r}")


MessageT = TypeVar("MessageT")


def _checked(message: MessageT, cls: type[MessageT]) -> MessageT:
    if message is not None:
        _check_type(message, cls)
    return message


class AgentV1Client:
    """``client.agent.v1``: opens voice agent sessions."""

    def __init__(self, client: DeepgramClient) -> None:
        self._client = client

    def connect(
        self,
        *,
        settings: Settings | None = None,
        functions: FunctionRegistry
        | Mapping[str, FunctionHandler]
        | Iterable[FunctionHandler]
        | None = None,
        fail_fast: bool | None = None,
        authorization: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AbstractAsyncContextManager[AgentV1Session]:
        """Open a voice agent session.

        Use as ``async with client.agent.v1.connect(settings=settings) as
        agent:``. The session is handed over once the server's ``Welcome``
        arrived and, with ``settings``, once it answered ``SettingsApplied``
        (both within ``connect_timeout``); both are also the first events of
        the stream. Without ``settings``, send them with
        :meth:`AgentV1Session.apply_settings` (or the official SDK's
        ``send_settings``) before anything else.

        Leaving the block closes the websocket after sending what was
        queued; running function handlers are cancelled. This context manager
        does not raise ExceptionGroup for errors in your code or in function
        handlers: the error comes out as itself.

        Args:
            settings: The agent's Settings, applied before the session is
                handed over.
            functions: Function handlers: a :class:`FunctionRegistry` (used
                as it is, so it may be shared), a mapping of name to handler,
                or handlers named by their ``__name__``. Registered before
                Settings is sent, so no call is missed.
            fail_fast: End the session with a handler's exception instead of
                answering the call with an error (sets the registry's
                ``fail_fast``; ``None`` leaves it as it is).
            authorization: Replaces the ``Authorization`` header value.
            request_options: Extra headers and query parameters, timeouts
                (``keepalive_interval`` defaults to 8 s here) and session
                tuning; see :class:`~dgtrio.RequestOptions`.

        Raises:
            ServerError: The server refused the settings.
            AckTimeoutError: No ``Welcome`` or ``SettingsApplied`` in time.
        """
        if settings is not None:
            _check_type(settings, Settings)
        if isinstance(functions, FunctionRegistry):
            registry = functions
        else:
            registry = FunctionRegistry(functions)
        if fail_fast is not None:
            registry.fail_fast = fail_fast
        opening = self._client._open(
            AgentV1Session, [], authorization=authorization, request_options=request_options
        )
        return _connect(opening, settings, registry)


@asynccontextmanager
async def _connect(
    opening: AbstractAsyncContextManager[AgentV1Session],
    settings: Settings | None,
    registry: FunctionRegistry,
) -> AsyncIterator[AgentV1Session]:
    async with opening as session:
        session.functions = registry
        if settings is not None:
            timeout = session._options.connect_timeout
            await session.apply_settings(settings, timeout=timeout)
        yield session
