"""Streaming text-to-speech, ``/v1/speak`` (public facade to come)."""
