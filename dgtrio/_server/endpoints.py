"""Importing this module registers every socket with the protocol server."""

from . import agent_v1, listen_v1, listen_v2, speak_v1

__all__ = ["agent_v1", "listen_v1", "listen_v2", "speak_v1"]
