"""A voice agent that can look up the weather: the LLM calls a function, dgtrio runs it.

Usage::

    python docs/examples/agent_with_function.py

This runs against dgtrio's fake server (no API key, no network): the "user"
is made of test tones that the fake server hears exactly, and its default
agent calls a client-side function whose name the user says. Against
Deepgram, build the client with ``DeepgramClient()`` and stream a
microphone instead; nothing else changes.
"""

from __future__ import annotations

import trio

from dgtrio import AudioChunk, DeepgramClient
from dgtrio.agent.v1 import (
    Agent,
    AgentV1Session,
    AudioConfig,
    AudioInput,
    AudioOutput,
    ConversationText,
    DeepgramListenProviderV1,
    DeepgramSpeakProvider,
    FunctionCallRequest,
    FunctionRegistry,
    ListenSettings,
    OpenAiThinkProvider,
    Settings,
    SpeakSettings,
    ThinkSettings,
)
from dgtrio.testing import open_fake_deepgram, speech

# The functions the agent may call, and the code that runs them.
functions = FunctionRegistry()


@functions.register(
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city's name"}},
        "required": ["city"],
    }
)
async def get_weather(city: str) -> str:
    """Today's weather in a city."""
    await trio.sleep(0.2)  # a real handler would ask a weather service here
    return f"It is sunny in {city.title()} today."


SETTINGS = Settings(
    audio=AudioConfig(
        input=AudioInput(encoding="linear16", sample_rate=16000),
        output=AudioOutput(encoding="linear16", sample_rate=24000),
    ),
    agent=Agent(
        listen=ListenSettings(provider=DeepgramListenProviderV1(model="nova-3")),
        think=ThinkSettings(
            provider=OpenAiThinkProvider(model="gpt-4o-mini"),
            prompt="You are a friendly weather assistant. Keep answers short.",
            functions=functions.definitions(),  # name, description and parameters
        ),
        speak=SpeakSettings(provider=DeepgramSpeakProvider(model="aura-2-thalia-en")),
    ),
)


async def stream(agent: AgentV1Session, audio: bytes) -> None:
    """Send audio in 20 ms chunks at real-time pace, as a microphone would."""
    chunk = 640  # 20 ms of 16 kHz 16-bit mono
    for offset in range(0, len(audio), chunk):
        await agent.send_media(audio[offset : offset + chunk])
        await trio.sleep(0.02)


async def converse(client: DeepgramClient, audio: bytes) -> list[str]:
    """Say ``audio`` to the agent; return the conversation once the agent has answered."""
    lines: list[str] = []
    played = 0
    async with (
        client.agent.v1.connect(settings=SETTINGS, functions=functions) as agent,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(stream, agent, audio)
        async for event in agent:
            if isinstance(event, AudioChunk):
                played += len(event)  # a real program would play it
            elif isinstance(event, FunctionCallRequest):
                names = ", ".join(call.name for call in event.functions)
                print(f"(the agent calls {names})")
            elif isinstance(event, ConversationText):
                lines.append(f"{event.role}: {event.content}")
                print(lines[-1])
                if event.role == "assistant":
                    break
        nursery.cancel_scope.cancel()  # stop the microphone
    print(f"({played} bytes of agent speech)")
    return lines


async def main() -> None:
    async with open_fake_deepgram() as server:
        await converse(server.client(), speech("Please get weather in Paris."))


if __name__ == "__main__":
    trio.run(main)
