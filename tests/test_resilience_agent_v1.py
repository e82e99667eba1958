"""The agent after a failure: no silent reconnect, and what a new session needs to continue."""

from __future__ import annotations

import attrs
import pytest
import trio
import trio.testing

from dgtrio import ConnectionClosedError, DeepgramClient, ProtocolError, is_retryable
from dgtrio._server.agent_v1 import Conversation, Reply, configure_agent
from dgtrio.agent.v1 import (
    Agent,
    Context,
    ConversationText,
    DeepgramSpeakProvider,
    History,
    OpenAiThinkProvider,
    Settings,
    SpeakSettings,
    ThinkSettings,
)
from dgtrio.testing import DeepgramServer
from tests.test_agent_v1 import assistant_said, make_settings, until


async def test_a_dropped_conversation_continues_on_a_new_session(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    seen: list[Conversation] = []

    async def responder(conversation: Conversation) -> Reply:
        seen.append(conversation)
        return Reply(f"{conversation.prompt}: {conversation.last_user_text}")

    configure_agent(server, responder=responder)
    settings = make_settings(prompt="first", greeting="Hello there.")
    voice = SpeakSettings(DeepgramSpeakProvider(model="aura-2-zeus-en"))
    with pytest.raises(ConnectionClosedError) as info:
        async with client.agent.v1.connect(settings=settings) as agent:
            await until(agent, assistant_said)  # the greeting
            await agent.inject_user_message("one")
            await until(agent, assistant_said)
            await agent.update_prompt("second")
            await agent.update_speak(voice)
            connection = await server.wait_for_connection()
            await connection.drop()
            async for _ in agent:
                pass
    assert info.value.code == 1006
    assert is_retryable(info.value)  # the application may reconnect

    resumed = agent.resume_settings()
    assert [(h.role, h.content) for h in agent.history] == [
        ("assistant", "Hello there."),
        ("user", "one"),
        ("assistant", "first: one"),
    ]
    assert isinstance(resumed.agent, Agent)
    assert resumed.agent.greeting is None  # no second greeting
    assert resumed.agent.speak == voice
    assert isinstance(resumed.agent.think, ThinkSettings)
    assert resumed.agent.think.prompt == "second"
    assert resumed.agent.context is not None
    assert resumed.agent.context.messages == agent.history

    async with client.agent.v1.connect(settings=resumed) as again:
        await again.inject_user_message("two")
        events = await until(again, assistant_said)
    replies = [e.content for e in events if isinstance(e, ConversationText)]
    assert replies == ["two", "second: two"]
    # The new session's model saw the whole conversation before the new turn.
    assert [(m.role, m.content) for m in seen[-1].messages] == [
        ("assistant", "Hello there."),
        ("user", "one"),
        ("assistant", "first: one"),
        ("user", "two"),
    ]
    assert server.connections[-1].received[0] == resumed


async def test_resume_settings_keeps_earlier_context_and_fallbacks(
    client: DeepgramClient,
) -> None:
    earlier = History(role="user", content="from a previous life")
    fallbacks = (
        ThinkSettings(OpenAiThinkProvider(model="gpt-4o-mini")),
        ThinkSettings(OpenAiThinkProvider(model="gpt-4.1")),
    )
    base = make_settings(context=Context([earlier]))
    assert isinstance(base.agent, Agent)
    settings = attrs.evolve(base, agent=attrs.evolve(base.agent, think=fallbacks))
    async with client.agent.v1.connect(settings=settings) as agent:
        await agent.update_prompt("shared")
        await agent.inject_user_message("hi")
        await until(agent, assistant_said)
    resumed = agent.resume_settings()
    assert isinstance(resumed.agent, Agent)
    assert resumed.agent.context is not None
    assert resumed.agent.context.messages is not None
    assert resumed.agent.context.messages[0] == earlier
    assert [h.content for h in resumed.agent.context.messages[1:]] == ["hi", "hi"]
    assert isinstance(resumed.agent.think, tuple)
    assert [t.prompt for t in resumed.agent.think] == ["shared", "shared"]


async def test_an_update_that_was_not_acknowledged_is_not_resumed(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(ConnectionClosedError):
        async with client.agent.v1.connect(settings=make_settings(prompt="kept")) as agent:
            connection = await server.wait_for_connection()
            connection.stall(reading=True, writing=False)
            with trio.move_on_after(1):
                await agent.update_prompt("never seen")
            await connection.drop()
            async for _ in agent:
                pass
    resumed = agent.resume_settings()
    assert isinstance(resumed.agent, Agent)
    assert isinstance(resumed.agent.think, ThinkSettings)
    assert resumed.agent.think.prompt == "kept"


async def test_resume_settings_needs_settings(client: DeepgramClient) -> None:
    async with client.agent.v1.connect() as agent:
        with pytest.raises(ProtocolError, match="nothing to resume"):
            agent.resume_settings()


async def test_a_saved_configuration_resumes_as_it_is(client: DeepgramClient) -> None:
    settings = Settings(make_settings().audio, agent="saved-agent-id")
    async with client.agent.v1.connect(settings=settings) as agent:
        assert agent.resume_settings() == settings
