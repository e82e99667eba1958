"""Deepgram text-to-speech sockets (public facade to come)."""
