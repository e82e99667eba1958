"""The official SDK's callback style, on top of the pull-based session.

``session.on(EventType.MESSAGE, handler)`` plus ``await
session.start_listening()`` works as in the official SDK, with two
differences that follow from trio's rule that errors are never lost:

* a handler that raises stops ``start_listening`` with that exception (the
  official SDK's 4.x line ran handlers as fire-and-forget tasks and lost it);
* an error is passed to the ``ERROR`` handlers when there are any, and raised
  from ``start_listening`` when there are none.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from ._errors import DeepgramError, MessageDecodeError

__all__ = ["CallbackMixin", "EventType", "Handler"]

#: A callback: sync or async, taking the event's payload.
Handler = Callable[[Any], "Awaitable[Any] | Any"]


class EventType(str, enum.Enum):
    """The events of the callback style (the official SDK's ``EventType``)."""

    #: ``start_listening`` began; the handler gets ``None``.
    OPEN = "open"
    #: A message from the server; the handler gets the typed message.
    MESSAGE = "message"
    #: An error; the handler gets the exception.
    ERROR = "error"
    #: The stream ended; the handler gets ``None``.
    CLOSE = "close"


class CallbackMixin:
    """Adds ``on()`` and ``start_listening()`` to a session."""

    def __init__(self) -> None:
        self._handlers: dict[EventType, list[Handler]] = {kind: [] for kind in EventType}

    def on(self, event: EventType | str, handler: Handler) -> None:
        """Register ``handler`` (sync or async) for ``event``.

        Several handlers per event are allowed; they run in registration
        order, one at a time, in the task running :meth:`start_listening`.
        """
        self._handlers[EventType(event)].append(handler)

    async def _emit(self, event: EventType, payload: Any) -> None:
        for handler in list(self._handlers[event]):
            result = handler(payload)
            if inspect.isawaitable(result):
                await result

    async def start_listening(self) -> None:
        """Dispatch events to the registered handlers until the stream ends.

        Emits ``OPEN``, then ``MESSAGE`` per event, then ``CLOSE``. A decode
        error goes to the ``ERROR`` handlers and listening continues; an error
        that ends the session goes to the ``ERROR`` handlers, then ``CLOSE``.
        Without ``ERROR`` handlers, errors are raised. Run it in a nursery to
        keep sending meanwhile::

            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.start_listening)
                await session.send_media(chunk)
        """
        receive: Callable[[], Awaitable[Any]] = self.receive  # type: ignore[attr-defined]
        await self._emit(EventType.OPEN, None)
        while True:
            try:
                event = await receive()
            except trio.EndOfChannel:
                break
            except MessageDecodeError as exc:
                if not self._handlers[EventType.ERROR]:
                    raise
                await self._emit(EventType.ERROR, exc)
                continue
            except DeepgramError as exc:
                if not self._handlers[EventType.ERROR]:
                    raise
                await self._emit(EventType.ERROR, exc)
                break
            await self._emit(EventType.MESSAGE, event)
        await self._emit(EventType.CLOSE, None)
