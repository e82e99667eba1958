"""The official SDK's speak v1 example, on trio: only the imports and the task changed.

Upstream (``examples/speak/v1/connect/async.py``) runs ``start_listening`` as an
asyncio task; here it runs in a nursery. The client reads ``DEEPGRAM_API_KEY``
(and ``DEEPGRAM_PRODUCTION_URL``, to point it at a local server).
"""

import trio

from dgtrio import AsyncDeepgramClient
from dgtrio.core.events import EventType
from dgtrio.extensions.types.sockets import SpeakV1ControlMessage, SpeakV1SocketClientResponse

client = AsyncDeepgramClient()


async def main() -> None:
    try:
        async with client.speak.v1.connect(
            model="aura-2-asteria-en", encoding="linear16", sample_rate=24000
        ) as connection:

            def on_message(message: SpeakV1SocketClientResponse) -> None:
                if isinstance(message, bytes):
                    print("Received audio event")
                else:
                    msg_type = getattr(message, "type", "Unknown")
                    print(f"Received {msg_type} event")

            connection.on(EventType.OPEN, lambda _: print("Connection opened"))
            connection.on(EventType.MESSAGE, on_message)
            connection.on(EventType.CLOSE, lambda _: print("Connection closed"))
            connection.on(EventType.ERROR, lambda error: print(f"Caught: {error}"))

            # EXAMPLE ONLY: listen for a moment, then stop (upstream: a task it cancels).
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection.start_listening)

                # Send control messages
                await connection.send_control(SpeakV1ControlMessage(type="Flush"))
                await connection.send_control(SpeakV1ControlMessage(type="Close"))

                await trio.sleep(3)
                nursery.cancel_scope.cancel()
    except Exception as e:
        print(f"Caught: {e}")


if __name__ == "__main__":
    trio.run(main)
