"""Compatibility package: the official SDK's ``deepgram.core`` names that dgtrio supports."""
