"""The official SDK's ``deepgram.core.events``: :class:`~dgtrio.EventType` lives here too."""

from .._events import EventType

__all__ = ["EventType"]
