"""The official SDK's voice agent example, on trio: only the imports and the task changed.

Upstream (``examples/agent/v1/connect/async.py``) runs ``start_listening`` as
an asyncio task; here it runs in a nursery. The client reads
``DEEPGRAM_API_KEY`` (and ``DEEPGRAM_AGENT_URL``, to point it at a local
server).
"""

import trio

from dgtrio import AsyncDeepgramClient
from dgtrio.core.events import EventType
from dgtrio.extensions.types.sockets import (
    AgentV1Agent,
    AgentV1AudioConfig,
    AgentV1AudioInput,
    AgentV1DeepgramSpeakProvider,
    AgentV1Listen,
    AgentV1ListenProvider,
    AgentV1OpenAiThinkProvider,
    AgentV1SettingsMessage,
    AgentV1SocketClientResponse,
    AgentV1SpeakProviderConfig,
    AgentV1Think,
)

client = AsyncDeepgramClient()


async def main() -> None:
    try:
        async with client.agent.v1.connect() as agent:
            settings = AgentV1SettingsMessage(
                audio=AgentV1AudioConfig(
                    input=AgentV1AudioInput(encoding="linear16", sample_rate=16000)
                ),
                agent=AgentV1Agent(
                    listen=AgentV1Listen(
                        provider=AgentV1ListenProvider(
                            type="deepgram", model="nova-3", smart_format=True
                        )
                    ),
                    think=AgentV1Think(
                        provider=AgentV1OpenAiThinkProvider(
                            type="open_ai", model="gpt-4o-mini", temperature=0.7
                        )
                    ),
                    speak=AgentV1SpeakProviderConfig(
                        provider=AgentV1DeepgramSpeakProvider(
                            type="deepgram", model="aura-2-asteria-en"
                        )
                    ),
                ),
            )

            print("Send SettingsConfiguration message")
            await agent.send_settings(settings)

            def on_message(message: AgentV1SocketClientResponse) -> None:
                if isinstance(message, bytes):
                    print("Received audio event")
                else:
                    msg_type = getattr(message, "type", "Unknown")
                    print(f"Received {msg_type} event")

            agent.on(EventType.OPEN, lambda _: print("Connection opened"))
            agent.on(EventType.MESSAGE, on_message)
            agent.on(EventType.CLOSE, lambda _: print("Connection closed"))
            agent.on(EventType.ERROR, lambda error: print(f"Caught: {error}"))

            # EXAMPLE ONLY: listen for a moment, then stop (upstream: a task it cancels).
            async with trio.open_nursery() as nursery:
                nursery.start_soon(agent.start_listening)
                await trio.sleep(3)
                nursery.cancel_scope.cancel()
    except Exception as e:
        print(f"Caught: {e}")


if __name__ == "__main__":
    trio.run(main)
