"""Flux conversational transcription, ``/v2/listen`` (public facade to come)."""
