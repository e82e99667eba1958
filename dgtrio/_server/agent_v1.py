"""``/v1/agent/converse`` on the server side: protocol.md §5 with a scripted agent.

What it does, as the service does:

* ``Welcome`` first; then exactly one ``Settings``, answered by
  ``SettingsApplied`` (and the ``greeting``, spoken). Anything else first is
  ``Error`` ``NON_SETTINGS_MESSAGE_BEFORE_SETTINGS``, a second Settings
  ``SETTINGS_ALREADY_APPLIED``, a frame that is not a known message
  ``UNPARSABLE_CLIENT_MESSAGE`` (a known message with a bad field names the
  field), nothing from the client for ``idle_timeout`` seconds
  ``CLIENT_MESSAGE_TIMEOUT``, settings this server cannot honour
  ``INVALID_SETTINGS``. Every ``Error`` is followed by a close without a
  status code (the client sees 1005).
* The user's audio (``linear16``, ``mulaw`` or ``alaw``, at the rate of
  ``audio.input``) goes to the engine's recognizer. Speech starting sends
  ``UserStartedSpeaking``; a pause of ``end_of_turn_ms`` (or ``ForceEndTurn``
  with a Flux listener) ends the user's turn: ``ConversationText`` and
  ``History`` for it, then the agent's reply.
* The reply comes from a :data:`Responder`: an async callable that gets the
  :class:`Conversation` so far (with the client-side functions Settings
  declares) and returns the text to say, or function calls to make. A call
  is sent as ``FunctionCallRequest``; the server waits for the
  ``FunctionCallResponse`` of each, records the results (``History``), and
  asks the responder again. A reply is spoken: ``AgentThinking`` (when the
  reply has a thought), ``AgentStartedSpeaking``, the audio (synthesized at
  the output rate, encoded as ``audio.output`` asks), ``ConversationText``,
  ``AgentAudioDone``, ``History``. ``History`` messages stop with
  ``flags.history=false``.
* Speech from the user while the agent is in a turn interrupts it (barge-in):
  pending client-side calls are cancelled with ``FunctionCallCancelled``.
* ``UpdatePrompt``/``UpdateSpeak``/``UpdateThink``/``UpdateThink_Live``/
  ``UpdateListen`` take effect and are acknowledged; ``InjectUserMessage``
  starts a turn; ``InjectAgentMessage`` is spoken, or refused with
  ``InjectionRefused`` when its behavior is ``default`` and a turn is in
  progress (the user speaking or the agent busy); ``queue`` waits its turn and
  ``interrupt`` cuts in. ``ForceEndTurn`` without a Flux listener gets a
  ``Warning`` ``FORCE_END_TURN_UNSUPPORTED``. ``KeepAlive`` only keeps the
  connection open.

Timing is audio time and the agent's audio is sent as fast as it is made, so
tests run under trio's autojump clock. Configure a server's agent with
:func:`configure_agent`.
"""

from __future__ import annotations

import contextlib
import re
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, NoReturn, TypeAlias

import attrs
import trio
from wsproto.frame_protocol import CloseReason

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from .._audio import decode_to_pcm16, encode_from_pcm16
from .._codec import UnknownMessage, dumps
from .._session import _raise_single
from ..agent.v1._messages import (
    SCHEMA,
    AgentAudioDone,
    AgentStartedSpeaking,
    AgentThinking,
    CancelledFunction,
    ConversationText,
    CustomToThinkProvider,
    Error,
    ForceEndTurn,
    FunctionCall,
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
    UserStartedSpeaking,
    Warning,
    Welcome,
)
from ..agent.v1._settings import (
    Agent,
    DeepgramListenProviderV2,
    Function,
    History,
    HistoryFunctionCall,
    ListenSettings,
    Settings,
    SpeakSettings,
    ThinkSettings,
)
from .core import (
    ClientGone,
    DeepgramServer,
    Endpoint,
    Malformed,
    ServerConnection,
    register_endpoint,
)
from .engines import Hypothesis, Recognizer, RecognizerOptions, SpeechBegan, SynthesisOptions

__all__ = [
    "AgentServerOptions",
    "CallFunction",
    "Conversation",
    "Reply",
    "Responder",
    "ResponderResult",
    "agent_options",
    "configure_agent",
    "echo_responder",
    "serve_agent_v1",
]

_RAW_ENCODINGS = ("linear16", "mulaw", "alaw")
#: The service's words for a frame that is not any client message (captured).
_UNPARSABLE = "Text message received from client did not match any of the formats we expect."
_DEFAULT_RATE = 24000


# --- the responder interface ---------------------------------------------------------


@attrs.frozen
class Conversation:
    """What a responder sees: the conversation so far and what the agent may do.

    Attributes:
        messages: The conversation, oldest first, as :class:`History` items:
            Settings' ``agent.context.messages``, then every user and agent
            turn and every function call with its result (the same items the
            server sends as ``History``).
        functions: The client-side functions the agent may call (Settings'
            ``think.functions`` without an ``endpoint``, as last updated).
        prompt: The system prompt, as last set or updated.
    """

    messages: tuple[History, ...]
    functions: tuple[Function, ...] = ()
    prompt: str | None = None

    @property
    def last_user_text(self) -> str | None:
        """What the user said last, if anything."""
        for item in reversed(self.messages):
            if item.role == "user" and item.content is not None:
                return item.content
        return None

    def function(self, name: str) -> Function | None:
        """The client-side function called ``name``, if Settings declares one."""
        return next((f for f in self.functions if f.name == name), None)


@attrs.frozen
class Reply:
    """A responder's answer: what the agent says.

    Attributes:
        text: The words to speak.
        thought: Sent first as ``AgentThinking`` when given.
    """

    text: str
    thought: str | None = None


def _arguments(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@attrs.frozen
class CallFunction:
    """A responder's answer: call a client-side function first.

    Attributes:
        name: The function (one of :attr:`Conversation.functions`).
        arguments: Its arguments (sent as JSON text).
    """

    name: str
    arguments: Mapping[str, Any] = attrs.field(factory=dict, converter=_arguments)


#: What a responder may return: text to say (``str`` or :class:`Reply`), or one
#: or several functions to call (called together, in one ``FunctionCallRequest``).
ResponderResult: TypeAlias = str | Reply | CallFunction | Sequence[CallFunction]
#: The agent's brain on the test server: gets the conversation, returns the next step.
Responder: TypeAlias = Callable[[Conversation], Awaitable[ResponderResult]]

_PREPOSITIONS = frozenset({"in", "for", "at", "of", "on", "to", "about", "with", "from"})


async def echo_responder(conversation: Conversation) -> ResponderResult:
    """The default responder: say back what the user said, calling a function when named.

    1. Right after function calls, say their results (``response`` texts,
       joined by spaces).
    2. If the user's words contain a client-side function's name, with
       underscores read as spaces (``"get weather in paris"`` names
       ``get_weather``), call it. When its JSON Schema has exactly one
       property, that property gets the words after the name, without a
       leading preposition and trailing punctuation (``{"city": "paris"}``);
       otherwise the arguments are empty.
    3. Otherwise say the user's words back, with the thought
       ``"The user said: <words>"``.
    """
    await trio.lowlevel.checkpoint()
    messages = conversation.messages
    if messages and messages[-1].function_calls is not None:
        return Reply(" ".join(call.response for call in messages[-1].function_calls))
    text = conversation.last_user_text or ""
    words = [w.strip(".,?!").lower() for w in text.split()]
    for function in conversation.functions:
        name = (function.name or "").lower().split("_")
        for start in range(len(words) - len(name) + 1):
            if words[start : start + len(name)] == name:
                return CallFunction(
                    function.name or "", _guess_arguments(function, words[start + len(name) :])
                )
    return Reply(text, thought=f"The user said: {text}")


def _guess_arguments(function: Function, rest: list[str]) -> dict[str, Any]:
    properties = (function.parameters or {}).get("properties")
    if not isinstance(properties, Mapping) or len(properties) != 1:
        return {}
    rest = [w for w in rest if w]
    if rest and rest[0] in _PREPOSITIONS:
        rest = rest[1:]
    if not rest:
        return {}
    (name,) = properties
    return {name: " ".join(rest)}


@attrs.define
class AgentServerOptions:
    """How a server's ``/v1/agent/converse`` behaves (see :func:`configure_agent`).

    Attributes:
        responder: Produces the agent's replies (default :func:`echo_responder`).
        end_of_turn_ms: Silence that ends the user's turn.
        max_function_rounds: Function-call rounds allowed before a reply; a
            responder that keeps calling is a bug and fails the connection.
    """

    responder: Responder = echo_responder
    end_of_turn_ms: int = 400
    max_function_rounds: int = 8


_OPTIONS: weakref.WeakKeyDictionary[DeepgramServer, AgentServerOptions] = (
    weakref.WeakKeyDictionary()
)


def agent_options(server: DeepgramServer) -> AgentServerOptions:
    """The agent options of ``server`` (defaults until :func:`configure_agent` changes them)."""
    options = _OPTIONS.get(server)
    if options is None:
        options = _OPTIONS[server] = AgentServerOptions()
    return options


def configure_agent(
    server: DeepgramServer,
    *,
    responder: Responder | None = None,
    end_of_turn_ms: int | None = None,
    max_function_rounds: int | None = None,
) -> AgentServerOptions:
    """Change how ``server``'s agent behaves, for connections opened from now on.

    Args:
        server: The server.
        responder: Produces replies and function calls (see :data:`Responder`).
        end_of_turn_ms: Silence, in ms, that ends the user's turn (default 400).
        max_function_rounds: Function-call rounds allowed per reply (default 8).

    Returns:
        The server's options (change their attributes directly too).
    """
    options = agent_options(server)
    if responder is not None:
        options.responder = responder
    if end_of_turn_ms is not None:
        options.end_of_turn_ms = end_of_turn_ms
    if max_function_rounds is not None:
        options.max_function_rounds = max_function_rounds
    return options


# --- the session ----------------------------------------------------------------------


class _Fatal(Exception):
    """Internal: an Error was sent and the connection closed; stop."""


@attrs.frozen
class _Respond:
    """A turn: ask the responder (after the user spoke or a user message was injected)."""


@attrs.frozen
class _Say:
    """A turn: say ``text`` (a greeting or an injected agent message)."""

    text: str


_Turn: TypeAlias = _Respond | _Say


class _PendingCall:
    def __init__(self, call: FunctionCall) -> None:
        self.call = call
        self.done = trio.Event()
        self.content = ""


def _primary(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) and value else value


def _bad_field(error: Any) -> str | None:
    for problem in getattr(error, "errors", ()):
        match = re.search(r"@ \$\.([\w.\[\]]+)", problem)
        if match:
            return re.sub(r"\[\d+\]", "", match.group(1))
    return None


class _AgentV1:
    def __init__(self, conn: ServerConnection, options: AgentServerOptions) -> None:
        self.conn = conn
        self.options = options
        self.settings: Settings | None = None
        self.messages: list[History] = []
        self.functions: tuple[Function, ...] = ()
        self.prompt: str | None = None
        self.history = True
        self.flux = False
        self.think_live = False
        self.in_encoding = "linear16"
        self.in_rate = _DEFAULT_RATE
        self.out_encoding = "linear16"
        self.out_rate = _DEFAULT_RATE
        self.voice = ""
        self.speed = 1.0
        self.recognizer: Recognizer | None = None
        self.pending_audio = b""
        self.user_speaking = False
        self.user_words: list[str] = []
        self.turns: deque[_Turn] = deque()
        self.wake = trio.Event()
        self.busy = False
        self.turn_scope: trio.CancelScope | None = None
        self.calls: dict[str, _PendingCall] = {}
        self.call_count = 0

    # -- the two tasks

    async def run(self, stack: AsyncExitStack) -> None:
        await self.conn.send(Welcome(request_id=self.conn.request_id))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._agent_loop)
            try:
                await self._receive_loop(stack)
            finally:
                nursery.cancel_scope.cancel()

    async def _receive_loop(self, stack: AsyncExitStack) -> None:
        timeout = self.conn.server.idle_timeout
        with contextlib.suppress(ClientGone, _Fatal):
            while True:
                with trio.move_on_after(timeout) as idle:
                    item = await self.conn.receive()
                if idle.cancelled_caught:
                    await self._fatal(
                        "CLIENT_MESSAGE_TIMEOUT",
                        f"No message was received from the client within {timeout:g} seconds.",
                    )
                await self._handle(item, stack)

    async def _agent_loop(self) -> None:
        with contextlib.suppress(ClientGone):
            while True:
                while not self.turns:
                    self.busy = False
                    self.wake = trio.Event()
                    await self.wake.wait()
                turn = self.turns.popleft()
                self.busy = True
                with trio.CancelScope() as scope:
                    self.turn_scope = scope
                    if isinstance(turn, _Say):
                        await self._speak(turn.text)
                    else:
                        await self._respond()
                self.turn_scope = None

    def _enqueue(self, turn: _Turn, *, first: bool = False) -> None:
        if first:
            self.turns.appendleft(turn)
        else:
            self.turns.append(turn)
        self.wake.set()

    @property
    def in_turn(self) -> bool:
        return self.user_speaking or self.busy or bool(self.turns)

    # -- client frames

    async def _handle(self, item: Any, stack: AsyncExitStack) -> None:
        if isinstance(item, Malformed):
            field = _bad_field(item.error)
            if field is None:
                await self._fatal("UNPARSABLE_CLIENT_MESSAGE", _UNPARSABLE)
            await self._fatal(
                "UNPARSABLE_CLIENT_MESSAGE",
                f"Error parsing client message. Check the {field} field against the API spec.",
            )
        if isinstance(item, UnknownMessage):
            await self._fatal("UNPARSABLE_CLIENT_MESSAGE", _UNPARSABLE)
        if self.settings is None:
            if not isinstance(item, Settings):
                kind = "audio" if isinstance(item, bytes) else type(item).type
                await self._fatal(
                    "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS",
                    f"The first message must be Settings, but {kind} arrived before it.",
                )
            await self._apply_settings(item, stack)
        elif isinstance(item, bytes):
            await self._audio(item)
        elif isinstance(item, Settings):
            await self._fatal(
                "SETTINGS_ALREADY_APPLIED",
                "Settings were already applied; change them with the Update messages.",
            )
        elif isinstance(item, FunctionCallResponse):
            self._function_result(item)
        elif isinstance(item, InjectAgentMessage):
            await self._inject_agent(item)
        elif isinstance(item, InjectUserMessage):
            await self._user_turn(item.content)
        elif isinstance(item, ForceEndTurn):
            await self._force_end_turn()
        elif isinstance(item, (KeepAlive, CustomToThinkProvider)):
            pass
        else:
            await self._update(item)

    async def _fatal(self, code: str, description: str) -> NoReturn:
        await self.conn.send(Error(description=description, code=code))
        await self.conn.close(CloseReason.NO_STATUS_RCVD)  # the service sends no status code
        raise _Fatal(code)

    # -- settings and updates

    async def _apply_settings(self, settings: Settings, stack: AsyncExitStack) -> None:
        problem = self._check(settings)
        if problem is not None:
            await self._fatal("INVALID_SETTINGS", problem)
        self.settings = settings
        audio = settings.audio
        if audio.input is not None:
            self.in_encoding, self.in_rate = audio.input.encoding, audio.input.sample_rate
        if audio.output is not None:
            self.out_encoding = audio.output.encoding or "linear16"
            self.out_rate = audio.output.sample_rate or _DEFAULT_RATE
        if settings.flags is not None and settings.flags.history is False:
            self.history = False
        agent = settings.agent
        if isinstance(agent, Agent):
            if agent.context is not None and agent.context.messages:
                self.messages.extend(agent.context.messages)
            if agent.listen is not None:
                self._listen(agent.listen)
            if agent.think is not None:
                self._think(agent.think)
            if agent.speak is not None:
                self._speak_settings(agent.speak)
            self.think_live = agent.think_live is not None
        self.recognizer = await stack.enter_async_context(
            self.conn.server.engine.recognizer(
                RecognizerOptions(
                    sample_rate=self.in_rate,
                    endpointing_ms=self.options.end_of_turn_ms,
                    interim_results=False,
                )
            )
        )
        await self.conn.send(SettingsApplied())
        if isinstance(agent, Agent) and agent.greeting:
            self._enqueue(_Say(agent.greeting))

    def _check(self, settings: Settings) -> str | None:
        audio = settings.audio
        if audio.input is not None:
            if audio.input.encoding not in _RAW_ENCODINGS:
                return (
                    f"audio.input.encoding {audio.input.encoding!r}: dgtrio's test server "
                    f"decodes only {', '.join(_RAW_ENCODINGS)}"
                )
            if audio.input.sample_rate < 1000:
                return f"audio.input.sample_rate {audio.input.sample_rate} is too low"
        output = audio.output
        if output is not None:
            if output.encoding is not None and output.encoding not in _RAW_ENCODINGS:
                return (
                    f"audio.output.encoding {output.encoding!r}: dgtrio's test server "
                    f"produces only {', '.join(_RAW_ENCODINGS)}"
                )
            if output.container not in (None, "none"):
                return f"audio.output.container {output.container!r}: only 'none' is produced here"
            if output.sample_rate is not None and output.sample_rate < 1000:
                return f"audio.output.sample_rate {output.sample_rate} is too low"
        agent = settings.agent
        if not isinstance(agent, Agent):
            return None
        thinks = agent.think if isinstance(agent.think, tuple) else (agent.think,)
        for think in thinks:
            for function in (think.functions if think is not None else None) or ():
                problem = _check_function(function, agent.think_live is not None)
                if problem is not None:
                    return problem
        return None

    def _listen(self, listen: ListenSettings) -> None:
        provider = listen.provider
        self.flux = isinstance(provider, DeepgramListenProviderV2) or (
            getattr(provider, "version", None) == "v2"
        )

    def _think(self, think: ThinkSettings | tuple[ThinkSettings, ...]) -> None:
        primary: ThinkSettings = _primary(think)
        self.functions = tuple(f for f in primary.functions or () if f.endpoint is None)
        if primary.prompt is not None:
            self.prompt = primary.prompt

    def _speak_settings(self, speak: SpeakSettings | tuple[SpeakSettings, ...]) -> None:
        primary: SpeakSettings = _primary(speak)
        provider = primary.provider
        voice = getattr(provider, "model", None) or getattr(provider, "model_id", None)
        self.voice = voice if isinstance(voice, str) else ""
        speed = getattr(provider, "speed", None)
        self.speed = float(speed) if isinstance(speed, (int, float)) and speed > 0 else 1.0

    async def _update(self, item: Any) -> None:
        if isinstance(item, UpdatePrompt):
            self.prompt = item.prompt
            await self.conn.send(PromptUpdated())
        elif isinstance(item, UpdateSpeak):
            self._speak_settings(item.speak)
            await self.conn.send(SpeakUpdated())
        elif isinstance(item, UpdateThink):
            self._think(item.think)
            await self.conn.send(ThinkUpdated())
        elif isinstance(item, UpdateThinkLive):
            self.think_live = True
            await self.conn.send(ThinkLiveUpdated())
        elif isinstance(item, UpdateListen):
            self._listen(item.listen)
            await self.conn.send(ListenUpdated())
        else:  # pragma: no cover - every client message is handled
            raise TypeError(f"unexpected client message {item!r}")

    # -- the user's side

    async def _audio(self, data: bytes) -> None:
        recognizer = self.recognizer
        if recognizer is None:  # pragma: no cover - opened with the settings
            return
        width = 2 if self.in_encoding == "linear16" else 1
        data = self.pending_audio + data
        cut = len(data) - len(data) % width
        data, self.pending_audio = data[:cut], data[cut:]
        if data:
            await self._recognized(await recognizer.feed(decode_to_pcm16(data, self.in_encoding)))

    async def _recognized(self, events: Sequence[Any], *, end_turn: bool = False) -> None:
        for event in events:
            if isinstance(event, SpeechBegan):
                self.user_speaking = True
                await self.conn.send(UserStartedSpeaking())
                await self._interrupt()
            elif isinstance(event, Hypothesis) and event.final:
                self.user_words.extend(w.word for w in event.words)
                if event.end_of_speech:
                    await self._end_user_turn()
        if end_turn:
            await self._end_user_turn()

    async def _end_user_turn(self) -> None:
        self.user_speaking = False
        words, self.user_words = self.user_words, []
        if words:
            await self._user_turn(" ".join(words))

    async def _force_end_turn(self) -> None:
        if not self.flux:
            await self.conn.send(
                Warning(
                    description="ForceEndTurn needs a Flux listener (listen.provider.version v2).",
                    code="FORCE_END_TURN_UNSUPPORTED",
                )
            )
            return
        if self.recognizer is not None and (self.user_speaking or self.user_words):
            await self._recognized(await self.recognizer.finalize(), end_turn=True)

    async def _user_turn(self, text: str) -> None:
        await self.conn.send(ConversationText(role="user", content=text))
        await self._record(History(role="user", content=text))
        self._enqueue(_Respond())

    async def _record(self, item: History) -> None:
        self.messages.append(item)
        if self.history:
            await self.conn.send(item)

    async def _interrupt(self) -> None:
        """Barge-in: abandon the agent's turn, cancelling its pending function calls."""
        if self.turn_scope is None:
            return
        pending = [p.call for p in self.calls.values() if not p.done.is_set()]
        self.calls.clear()
        self.turn_scope.cancel()
        if pending:
            await self.conn.send(
                FunctionCallCancelled(tuple(CancelledFunction(c.id, c.name) for c in pending))
            )

    async def _inject_agent(self, message: InjectAgentMessage) -> None:
        if message.is_dynamic:
            if not self.think_live:
                await self.conn.send(
                    InjectionRefused("A dynamic injection needs agent.think_live in Settings.")
                )
                return
            text = "are you still there?"
        else:
            text = message.message or ""
        if not text.strip():
            await self.conn.send(InjectionRefused("There is nothing to say."))
            return
        behavior = message.behavior or "default"
        if behavior == "interrupt":
            await self._interrupt()
            self._enqueue(_Say(text), first=True)
        elif behavior == "queue":
            self._enqueue(_Say(text))
        elif self.in_turn:
            await self.conn.send(
                InjectionRefused(
                    "A turn is in progress; inject again when the agent is idle, or use the "
                    "behavior queue or interrupt."
                )
            )
        else:
            self._enqueue(_Say(text))

    def _function_result(self, response: FunctionCallResponse) -> None:
        pending = self.calls.get(response.id) if response.id is not None else None
        if pending is None and response.id is None:
            pending = next((p for p in self.calls.values() if p.call.name == response.name), None)
        if pending is not None and not pending.done.is_set():
            pending.content = response.content
            pending.done.set()

    # -- the agent's side

    def _conversation(self) -> Conversation:
        return Conversation(tuple(self.messages), self.functions, self.prompt)

    async def _respond(self) -> None:
        for _ in range(self.options.max_function_rounds + 1):
            result = await self.options.responder(self._conversation())
            if isinstance(result, str):
                result = Reply(result)
            if isinstance(result, Reply):
                await self._speak(result.text, result.thought)
                return
            calls = [result] if isinstance(result, CallFunction) else list(result)
            await self._call_functions(calls)
        raise RuntimeError(
            f"the agent responder asked for function calls more than "
            f"{self.options.max_function_rounds} times in a row"
        )

    async def _call_functions(self, requested: Sequence[CallFunction]) -> None:
        entries = []
        for request in requested:
            if not isinstance(request, CallFunction):
                raise TypeError(f"the agent responder returned {request!r}")
            if self._conversation().function(request.name) is None:
                raise ValueError(
                    f"the agent responder called {request.name!r}, which Settings does not "
                    "declare as a client-side function"
                )
            self.call_count += 1
            entries.append(
                FunctionCall(
                    id=f"call_dgtrio_{self.call_count}",
                    name=request.name,
                    arguments=dumps(dict(request.arguments)),
                    client_side=True,
                )
            )
        pending = [_PendingCall(call) for call in entries]
        self.calls.update((p.call.id, p) for p in pending)
        try:
            await self.conn.send(FunctionCallRequest(tuple(entries)))
            for item in pending:
                await item.done.wait()
        finally:
            for item in pending:
                self.calls.pop(item.call.id, None)
        record = History(
            function_calls=[
                HistoryFunctionCall(
                    id=p.call.id,
                    name=p.call.name,
                    client_side=True,
                    arguments=p.call.arguments,
                    response=p.content,
                )
                for p in pending
            ]
        )
        await self._record(record)

    async def _speak(self, text: str, thought: str | None = None) -> None:
        conn = self.conn
        if thought is not None:
            await conn.send(AgentThinking(thought))
        await conn.send(AgentStartedSpeaking(total_latency=0.0, tts_latency=0.0, ttt_latency=0.0))
        options = SynthesisOptions(sample_rate=self.out_rate, voice=self.voice, speed=self.speed)
        async for pcm in conn.server.engine.synthesize(text, options):
            await conn.send_audio(encode_from_pcm16(pcm, self.out_encoding))
        await conn.send(ConversationText(role="assistant", content=text))
        await conn.send(AgentAudioDone())
        await self._record(History(role="assistant", content=text))


def _check_function(function: Function, think_live: bool) -> str | None:
    name = function.name or "?"
    fillers = (
        function.initial_agent_filler,
        function.agent_filler_max_count,
        function.agent_filler_interval_ms,
    )
    if not think_live and any(value is not None for value in fillers):
        return f"function {name}: agent filler settings need agent.think_live"
    interval = function.agent_filler_interval_ms
    if (function.agent_filler_max_count or 0) > 0 and (
        interval is None or not 1000 <= interval <= 60000
    ):
        return f"function {name}: agent_filler_interval_ms must be 1000-60000 with fillers"
    return None


async def serve_agent_v1(conn: ServerConnection) -> None:
    """Run ``/v1/agent/converse`` on an accepted connection."""
    session = _AgentV1(conn, agent_options(conn.server))
    async with AsyncExitStack() as stack:
        try:
            await session.run(stack)
        except BaseExceptionGroup as group:  # one task's error (or a fault), as itself
            _raise_single(group, None)


ENDPOINT = register_endpoint(Endpoint("/v1/agent/converse", SCHEMA, serve_agent_v1, {}))
