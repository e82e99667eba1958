"""Client-side function calls: a registry of handlers and the dispatcher that runs them.

The agent's LLM may call functions that Settings declares without an
``endpoint``; the server then sends a ``FunctionCallRequest`` and waits for a
``FunctionCallResponse`` of the same ``id``. This module does that round trip
for the caller. The rules, numbered so code comments can cite them:

1. **Handlers are looked up by name** in a :class:`FunctionRegistry`. While the
   registry is empty the dispatcher does nothing at all, so code that answers
   ``FunctionCallRequest`` events itself (the official SDK's style) keeps
   working. Once one handler is registered the dispatcher owns every
   client-side call: a name without a handler is answered with an error.
2. **Each call runs as its own task in the session's nursery**, inside a
   cancel scope of its own, with the JSON arguments as keyword arguments.
   Calls of one request run concurrently. Calls end with the session.
3. **Exactly one answer per call, or none.** The return value becomes the
   ``content`` (a ``str`` as it is, anything else as JSON). A call named by
   ``FunctionCallCancelled`` is cancelled and nothing is sent for it, even if
   the handler finished its work regardless.
4. **Errors are answered, logged and contained.** Arguments that are not a
   JSON object, or that do not fit the handler's signature, and an exception
   in the handler are all answered with ``{"error": "..."}`` JSON, so the LLM
   can recover; the handler's own exception is logged on the ``dgtrio`` logger
   (level ERROR, with the traceback) because a bug must not go unseen. The
   error text names the exception's *type* only: exception messages can hold
   secrets and would be sent to Deepgram and the LLM. Return
   ``{"error": "..."}`` yourself to tell the LLM more.
5. **Fail-fast is opt-in.** With ``fail_fast=True`` an exception in a
   handler ends the session instead and comes out of the session's
   ``async with`` as itself (never wrapped in an exception group). Bad
   arguments from the LLM never do: they are the LLM's mistake, not a bug.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol, TypeVar, overload

import trio

from ..._codec import dumps
from ..._errors import DeepgramError, MessageDecodeError
from ._messages import (
    FunctionCall,
    FunctionCallCancelled,
    FunctionCallRequest,
    FunctionCallResponse,
)
from ._settings import Function

__all__ = [
    "FunctionDispatcher",
    "FunctionHandler",
    "FunctionRegistry",
    "Register",
    "error_content",
]

logger = logging.getLogger("dgtrio")

#: A function handler: called with the call's arguments as keyword arguments;
#: async (or, for quick work, sync). Its return value is the call's result.
FunctionHandler = Callable[..., Any]
HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class Register(Protocol):
    """The signature of :meth:`FunctionRegistry.register` (and ``session.function``)."""

    @overload
    def __call__(
        self,
        handler: HandlerT,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> HandlerT: ...

    @overload
    def __call__(
        self,
        function_name: str | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Callable[[HandlerT], HandlerT]: ...


def error_content(message: str) -> str:
    """The ``content`` dgtrio sends for a call that failed: ``{"error": message}`` as JSON."""
    return dumps({"error": message})


class _Entry:
    __slots__ = ("description", "handler", "parameters")

    def __init__(
        self,
        handler: FunctionHandler,
        description: str | None,
        parameters: Mapping[str, Any] | None,
    ) -> None:
        self.handler = handler
        self.description = description
        self.parameters = parameters


class FunctionRegistry(MutableMapping[str, FunctionHandler]):
    """Handlers for the agent's client-side functions, by function name.

    A mutable mapping of name to handler, with a decorator::

        functions = FunctionRegistry()

        @functions.register
        async def get_weather(city: str) -> dict[str, object]:
            return {"city": city, "forecast": "sunny"}

        functions["hang_up"] = end_call          # or by assignment

    Pass it to ``client.agent.v1.connect(functions=functions)`` (so no call
    arriving right after ``SettingsApplied`` is missed), or register on
    ``session.functions`` before sending Settings. One registry may serve
    many sessions.

    Args:
        functions: Initial handlers: a mapping of name to handler, or
            handlers named by their ``__name__``.
        fail_fast: End the session with a handler's exception instead of
            answering the call with an error (see the module docs, rule 5).

    Attributes:
        fail_fast: As above; may be changed at any time.
    """

    def __init__(
        self,
        functions: Mapping[str, FunctionHandler] | Iterable[FunctionHandler] | None = None,
        *,
        fail_fast: bool = False,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self.fail_fast = fail_fast
        if isinstance(functions, Mapping):
            for name, handler in functions.items():
                self[name] = handler
        elif functions is not None:
            for handler in functions:
                self.register(handler)

    # -- the mapping

    def __getitem__(self, name: str) -> FunctionHandler:
        return self._entries[name].handler

    def __setitem__(self, name: str, handler: FunctionHandler) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a function name must be a non-empty string, got {name!r}")
        if not callable(handler):
            raise TypeError(f"the handler of {name!r} is not callable: {handler!r}")
        self._entries[name] = _Entry(handler, None, None)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        names = ", ".join(self._entries)
        return f"<FunctionRegistry [{names}]{' fail_fast' if self.fail_fast else ''}>"

    # -- the decorator

    @overload
    def register(
        self,
        handler: HandlerT,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> HandlerT: ...

    @overload
    def register(
        self,
        function_name: str | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Callable[[HandlerT], HandlerT]: ...

    def register(
        self,
        handler_or_name: Any = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        """Register a handler; usable bare or with arguments, as a decorator or a call.

        ``@functions.register`` names the function after the handler;
        ``@functions.register("get_weather", description=..., parameters=...)``
        (or ``name="get_weather"``) names it explicitly; the description and
        parameters are what :meth:`definitions` reports.

        Args:
            handler_or_name: The handler, or the function's name.
            name: The function's name, as a keyword.
            description: What the function does, for the LLM.
            parameters: JSON Schema of its arguments, for the LLM.

        Returns:
            The handler itself (so decorated functions stay callable), or a
            decorator when called with a name or keywords.
        """
        if callable(handler_or_name):
            return self._add(handler_or_name, name, description, parameters)
        if handler_or_name is not None:
            if not isinstance(handler_or_name, str):
                raise TypeError(f"register() takes a handler or a name, got {handler_or_name!r}")
            name = handler_or_name

        def decorator(handler: HandlerT) -> HandlerT:
            return self._add(handler, name, description, parameters)

        return decorator

    def _add(
        self,
        handler: HandlerT,
        name: str | None,
        description: str | None,
        parameters: Mapping[str, Any] | None,
    ) -> HandlerT:
        if name is None:
            name = getattr(handler, "__name__", None)
            if not isinstance(name, str) or name == "<lambda>":
                raise TypeError(f"give a name for {handler!r}: it has no usable __name__")
        self[name] = handler
        self._entries[name].description = description
        self._entries[name].parameters = parameters
        return handler

    def definitions(self) -> tuple[Function, ...]:
        """The registered functions as Settings' :class:`Function` definitions.

        Name, description and parameters come from :meth:`register`; a
        missing description is taken from the handler's docstring (its first
        paragraph). Put the result in ``ThinkSettings(functions=...)``.
        """
        result = []
        for name, entry in self._entries.items():
            description = entry.description
            if description is None:
                doc = inspect.getdoc(entry.handler)
                description = doc.split("\n\n")[0].replace("\n", " ") if doc else None
            result.append(
                Function(
                    name=name,
                    description=description,
                    parameters=dict(entry.parameters) if entry.parameters is not None else None,
                )
            )
        return tuple(result)


def _calls(request: FunctionCallRequest) -> tuple[FunctionCall, ...]:
    """The calls of a request, the early-access shape included."""
    if request.functions or request.function_name is None:
        return request.functions
    return (
        FunctionCall(
            id=request.function_call_id or "",
            name=request.function_name,
            arguments=dumps(dict(request.input or {})),
            client_side=True,
        ),
    )


class FunctionDispatcher:
    """Runs registered handlers for a session's ``FunctionCallRequest`` events.

    Internal to the session: it is told about requests and cancellations
    from the reader (synchronously, before the event is delivered) and owns
    one cancel scope per running call. See the module docstring.

    Args:
        registry: Where handlers are looked up.
        send: Queues a ``FunctionCallResponse`` on the session.
        owner: Shown in log messages (the session).
    """

    def __init__(
        self,
        registry: FunctionRegistry,
        send: Callable[[FunctionCallResponse], Awaitable[None]],
        owner: object,
    ) -> None:
        self.registry = registry
        self._send = send
        self._owner = owner
        self._nursery: trio.Nursery | None = None
        self._running: dict[str, trio.CancelScope] = {}
        self._closed = False

    def start(self, nursery: trio.Nursery) -> None:
        """Run calls in ``nursery`` (the session's) from now on."""
        self._nursery = nursery

    def close(self) -> None:
        """Cancel every running call and ignore further requests (the session is closing)."""
        self._closed = True
        self._nursery = None
        for scope in self._running.values():
            scope.cancel()

    def dispatch(self, request: FunctionCallRequest) -> None:
        """Start a task for each client-side call of ``request`` (rules 1 and 2)."""
        nursery = self._nursery
        if nursery is None or self._closed or not self.registry:
            return
        for call in _calls(request):
            if not call.client_side:
                continue  # the server runs it and answers itself
            scope = trio.CancelScope()
            previous = self._running.get(call.id)
            if previous is not None:
                logger.debug(
                    "%r: call id %r reused; the earlier call is cancelled", self._owner, call.id
                )
                previous.cancel()
            self._running[call.id] = scope
            nursery.start_soon(self._run, call, scope, name=f"dgtrio function {call.name}")

    def cancel(self, cancelled: FunctionCallCancelled) -> None:
        """Cancel the running calls that ``cancelled`` names (rule 3)."""
        for function in cancelled.functions:
            scope = self._running.get(function.id)
            if scope is not None:
                logger.debug("%r: the server cancelled call %s", self._owner, function.id)
                scope.cancel()

    async def _run(self, call: FunctionCall, scope: trio.CancelScope) -> None:
        try:
            with scope:
                content = await self._call(call, scope)
                if not scope.cancel_called:
                    with contextlib.suppress(DeepgramError):  # the session is over
                        await self._send(
                            FunctionCallResponse(id=call.id, name=call.name, content=content)
                        )
        finally:
            if self._running.get(call.id) is scope:
                del self._running[call.id]

    async def _call(self, call: FunctionCall, scope: trio.CancelScope) -> str:
        handler = self.registry.get(call.name)
        if handler is None:
            logger.debug("%r: no handler for function %r", self._owner, call.name)
            return error_content(
                f"function {call.name!r} is not available: this client has no handler for it"
            )
        try:
            arguments = call.parse_arguments()
        except MessageDecodeError as exc:
            return error_content(f"the arguments of {call.name!r} are not a JSON object ({exc})")
        problem = _signature_problem(handler, arguments)
        if problem is not None:
            return error_content(f"the arguments do not fit {call.name!r}: {problem}")
        try:
            result = handler(**arguments)
            if inspect.isawaitable(result):
                result = await result
            return result if isinstance(result, str) else dumps(result)
        except Exception as exc:
            if self.registry.fail_fast and not scope.cancel_called:
                raise  # rule 5: ends the session with this very exception
            logger.error(
                "%r: function %r (call %s) raised %s; answered with an error",
                self._owner,
                call.name,
                call.id,
                type(exc).__name__,
                exc_info=exc,
            )
            return error_content(f"function {call.name!r} failed ({type(exc).__name__})")


def _signature_problem(handler: FunctionHandler, arguments: Mapping[str, Any]) -> str | None:
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins have none: let the call decide
        return None
    try:
        signature.bind(**arguments)
    except TypeError as exc:
        return str(exc)
    return None
