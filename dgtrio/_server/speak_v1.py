"""Server side of speak_v1 (endpoint registered here once implemented)."""
