"""Compatibility package: the official SDK's ``deepgram.extensions.types`` names."""
