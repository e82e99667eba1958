"""The voice agent API, v1: ``/v1/agent/converse`` (public facade to come)."""
