"""The official SDK's listen v2 (Flux) example, on trio: only the imports and the task changed.

Upstream (``examples/listen/v2/connect/async.py``) runs ``start_listening`` as an
asyncio task; here it runs in a nursery. The client reads ``DEEPGRAM_API_KEY``
(and ``DEEPGRAM_PRODUCTION_URL``, to point it at a local server).
"""

import trio

from dgtrio import AsyncDeepgramClient
from dgtrio.core.events import EventType
from dgtrio.extensions.types.sockets import ListenV2SocketClientResponse

client = AsyncDeepgramClient()


async def main() -> None:
    try:
        async with client.listen.v2.connect(
            model="flux-general-en", encoding="linear16", sample_rate="16000"
        ) as connection:

            def on_message(message: ListenV2SocketClientResponse) -> None:
                msg_type = getattr(message, "type", "Unknown")
                print(f"Received {msg_type} event")

            connection.on(EventType.OPEN, lambda _: print("Connection opened"))
            connection.on(EventType.MESSAGE, on_message)
            connection.on(EventType.CLOSE, lambda _: print("Connection closed"))
            connection.on(EventType.ERROR, lambda error: print(f"Caught: {error}"))

            # EXAMPLE ONLY: listen for a moment, then stop (upstream: a task it cancels).
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection.start_listening)
                await trio.sleep(3)
                nursery.cancel_scope.cancel()
    except Exception as e:
        print(f"Caught: {e}")


if __name__ == "__main__":
    trio.run(main)
