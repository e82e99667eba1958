"""Deepgram's voice agent socket (public facade to come)."""
