"""dgtrio: a trio-native client for Deepgram's realtime WebSocket APIs."""
