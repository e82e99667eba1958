"""Server side of listen_v2 (endpoint registered here once implemented)."""
