"""Compatibility package: the official SDK's ``deepgram.extensions`` names."""
