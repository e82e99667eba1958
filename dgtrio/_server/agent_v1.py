"""Server side of agent_v1 (endpoint registered here once implemented)."""
