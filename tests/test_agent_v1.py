"""/v1/agent/converse end to end: the client against the fake server over a real websocket."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import (
    AckTimeoutError,
    AudioChunk,
    ConnectionClosedError,
    DeepgramClient,
    ProtocolError,
    ServerError,
    SessionClosedError,
    SessionState,
    UnknownMessage,
)
from dgtrio._audio import decode_to_pcm16
from dgtrio._server.agent_v1 import Conversation, Reply, configure_agent
from dgtrio._server.engines import Hypothesis, RecognizerOptions
from dgtrio._server.fake_engine import FakeRecognizer
from dgtrio.agent.v1 import (
    Agent,
    AgentAudioDone,
    AgentStartedSpeaking,
    AgentThinking,
    AgentV1ControlMessage,
    AgentV1FunctionCallResponseMessage,
    AgentV1InjectAgentMessageMessage,
    AgentV1InjectUserMessageMessage,
    AgentV1MediaMessage,
    AgentV1Protocol,
    AgentV1Session,
    AgentV1UpdatePromptMessage,
    AgentV1UpdateSpeakMessage,
    AudioConfig,
    AudioInput,
    AudioOutput,
    Context,
    ConversationText,
    CustomToThinkProvider,
    DeepgramListenProviderV1,
    DeepgramListenProviderV2,
    DeepgramSpeakProvider,
    Error,
    Flags,
    ForceEndTurn,
    Function,
    FunctionCallResponse,
    History,
    InjectAgentMessage,
    InjectionRefused,
    InjectUserMessage,
    KeepAlive,
    ListenSettings,
    ListenUpdated,
    OpenAiThinkProvider,
    PromptUpdated,
    Settings,
    SettingsApplied,
    SpeakSettings,
    SpeakUpdated,
    ThinkLiveSettings,
    ThinkLiveUpdated,
    ThinkSettings,
    ThinkUpdated,
    UpdateListen,
    UpdatePrompt,
    UpdateSpeak,
    UpdateThink,
    UpdateThinkLive,
    UserStartedSpeaking,
    Warning,
    Welcome,
)
from dgtrio.testing import CloseConnection, DeepgramServer, SendFrames, Stall, speech

CHUNK = 640  # 20 ms of 16 kHz linear16


def make_settings(
    *,
    input_encoding: str = "linear16",
    input_rate: int = 16000,
    output: AudioOutput | None = None,
    functions: Sequence[Function] = (),
    greeting: str | None = None,
    listen: ListenSettings | None = None,
    prompt: str | None = None,
    flags: Flags | None = None,
    context: Context | None = None,
) -> Settings:
    """Agent settings the fake server accepts (16 kHz linear16 in and out by default)."""
    return Settings(
        audio=AudioConfig(
            input=AudioInput(input_encoding, input_rate),
            output=output or AudioOutput("linear16", 16000),
        ),
        agent=Agent(
            context=context,
            listen=listen or ListenSettings(DeepgramListenProviderV1(model="nova-3")),
            think=ThinkSettings(
                OpenAiThinkProvider(model="gpt-4o-mini"),
                functions=list(functions) or None,
                prompt=prompt,
            ),
            speak=SpeakSettings(DeepgramSpeakProvider(model="aura-2-thalia-en")),
            greeting=greeting,
        ),
        flags=flags,
    )


SETTINGS = make_settings()


async def say(
    agent: AgentV1Session,
    text: str,
    *,
    encoding: str = "linear16",
    rate: int = 16000,
    trailing_silence: float = 0.5,
) -> None:
    """Stream ``text`` as the user's voice, in 20 ms chunks."""
    audio = speech(text, sample_rate=rate, encoding=encoding, trailing_silence=trailing_silence)
    chunk = rate // 50 * (2 if encoding == "linear16" else 1)
    for offset in range(0, len(audio), chunk):
        await agent.send_media(audio[offset : offset + chunk])


async def until(agent: AgentV1Session, done: Callable[[Any], bool]) -> list[Any]:
    """Collect events up to and including the first for which ``done`` is true."""
    events = []
    with trio.fail_after(20):  # a guard: the server's clock-free replies take no time
        async for event in agent:
            events.append(event)
            if done(event):
                break
    return events


def assistant_said(event: Any) -> bool:
    return isinstance(event, History) and event.role == "assistant"


def kinds(events: Sequence[Any]) -> list[str]:
    """Event type names, with runs of audio chunks collapsed to one "Audio"."""
    names: list[str] = []
    for event in events:
        name = type(event).__name__
        if name == "AudioChunk" and names and names[-1] == "Audio":
            continue
        names.append("Audio" if name == "AudioChunk" else name)
    return names


def heard(chunks: Sequence[AudioChunk]) -> str:
    """What the fake recognizer hears in the agent's audio."""
    first = chunks[0]
    assert first.sample_rate is not None
    pcm = decode_to_pcm16(b"".join(c.data for c in chunks), first.encoding)
    recognizer = FakeRecognizer(RecognizerOptions(sample_rate=first.sample_rate))
    events = [*recognizer.feed_nowait(pcm), *recognizer.finalize_nowait()]
    return " ".join(
        w.word for e in events if isinstance(e, Hypothesis) and e.final for w in e.words
    )


# --- opening ---------------------------------------------------------------------------


async def test_connect_with_settings_hands_over_after_settings_applied(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        assert agent.welcome is not None
        assert agent.welcome.request_id == server.last.request_id == agent.request_id
        assert agent.settings == SETTINGS
        assert server.last.received == [SETTINGS]
        assert await agent.receive() == agent.welcome  # still delivered, first
        assert await agent.receive() == SettingsApplied()
        with trio.move_on_after(0.05):
            pytest.fail(f"unexpected event {await agent.receive()!r}")
    connection = server.last
    assert connection.handshake.path == "/v1/agent/converse"
    assert [type(m) for m in connection.sent] == [Welcome, SettingsApplied]
    assert connection.close_code == 1000


async def test_seed_style_settings_after_connect(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.agent.v1.connect() as agent:
        assert server.last.received == []
        await agent.send_settings(SETTINGS)
        assert [type(e) for e in [await agent.receive(), await agent.receive()]] == [
            Welcome,
            SettingsApplied,
        ]
    assert server.last.received == [SETTINGS]


async def test_apply_settings_waits_and_returns_settings_applied(client: DeepgramClient) -> None:
    async with client.agent.v1.connect() as agent:
        assert await agent.apply_settings(SETTINGS) == SettingsApplied()
        assert agent.settings is SETTINGS


async def test_anything_before_settings_is_refused_locally(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.agent.v1.connect() as agent:
        attempts = [
            agent.send_media(b"\x00\x01"),
            agent.keep_alive(),
            agent.send_control(AgentV1ControlMessage(type="KeepAlive")),
            agent.update_prompt("Be brief."),
            agent.inject_user_message("hi"),
            agent.inject_agent_message("hi", behavior="queue"),
            agent.send_function_call_response(FunctionCallResponse(id="1", name="f", content="")),
            agent.force_end_turn(),
        ]
        for attempt in attempts:
            with pytest.raises(ProtocolError, match="Settings must be the agent's first message"):
                await attempt
        await agent.apply_settings(SETTINGS)
        with pytest.raises(ProtocolError, match="exactly one per session"):
            await agent.send_settings(SETTINGS)
        with pytest.raises(ProtocolError, match="SETTINGS_ALREADY_APPLIED"):
            await agent.apply_settings(SETTINGS)
        await agent.keep_alive()
    assert server.last.received == [SETTINGS, KeepAlive()]  # nothing refused reached the wire


async def test_settings_of_the_wrong_type_are_a_type_error(client: DeepgramClient) -> None:
    with pytest.raises(TypeError, match="expected Settings"):
        client.agent.v1.connect(settings={"type": "Settings"})  # type: ignore[arg-type]
    async with client.agent.v1.connect() as agent:
        with pytest.raises(TypeError, match="expected Settings"):
            await agent.send_settings(UpdatePrompt("no"))  # type: ignore[arg-type]


async def test_no_welcome_is_an_ack_timeout(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.inject(Stall(after=0))
    with pytest.raises(AckTimeoutError) as info:
        async with client.agent.v1.connect(request_options={"connect_timeout": 3}):
            pytest.fail("handed over without a Welcome")  # pragma: no cover
    assert info.value.waiting_for == "Welcome"
    assert info.value.timeout == 3
    assert trio.current_time() == pytest.approx(3, abs=1.1)


@pytest.mark.parametrize("code", [1011, 1000])
async def test_a_close_before_welcome_is_a_connection_error(
    client: DeepgramClient, server: DeepgramServer, code: int
) -> None:
    server.inject(CloseConnection(code, "going away", after=0))
    with pytest.raises(ConnectionClosedError) as info:
        async with client.agent.v1.connect():
            pytest.fail("handed over without a Welcome")  # pragma: no cover
    assert info.value.code == code


async def test_invalid_settings_come_out_of_connect_as_a_server_error(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    opus = make_settings(input_encoding="opus", input_rate=48000)
    with pytest.raises(ServerError) as info:
        async with client.agent.v1.connect(settings=opus):
            pytest.fail("handed over despite an Error")  # pragma: no cover
    assert info.value.code == "INVALID_SETTINGS"
    assert "opus" in (info.value.description or "")
    assert server.last.close_code == 1005  # the service's Error is followed by no status


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (make_settings(functions=[Function(name="f", initial_agent_filler=True)]), "think_live"),
        (
            Settings(
                audio=AudioConfig(),
                agent=Agent(
                    think_live=ThinkLiveSettings(),
                    think=ThinkSettings(
                        OpenAiThinkProvider(model="gpt-4o"),
                        functions=[Function(name="f", agent_filler_max_count=2)],
                    ),
                ),
            ),
            "1000-60000",
        ),
        (make_settings(input_rate=500), "too low"),
        (make_settings(output=AudioOutput("mp3")), "produces only"),
        (make_settings(output=AudioOutput("linear16", container="wav")), "only 'none'"),
        (make_settings(output=AudioOutput("linear16", 100)), "too low"),
    ],
)
async def test_settings_the_test_server_cannot_honour(
    client: DeepgramClient, settings: Settings, problem: str
) -> None:
    with pytest.raises(ServerError) as info:
        async with client.agent.v1.connect(settings=settings):
            pass  # pragma: no cover
    assert info.value.code == "INVALID_SETTINGS"
    assert problem in str(info.value)


async def test_a_saved_agent_configuration_is_accepted(client: DeepgramClient) -> None:
    settings = Settings(audio=AudioConfig(), agent="a-saved-agent-id")
    async with client.agent.v1.connect(settings=settings) as agent:
        await agent.inject_user_message("hi.")
        events = await until(agent, assistant_said)
    chunk = next(e for e in events if isinstance(e, AudioChunk))
    assert (chunk.encoding, chunk.sample_rate) == ("linear16", 24000)  # the defaults


# --- the server's protocol errors --------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "frame", "code", "description"),
    [
        (False, '{"type":"KeepAlive"}', "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS", "KeepAlive"),
        (False, b"\x00\x00\x00\x00", "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS", "audio"),
        (True, SETTINGS, "SETTINGS_ALREADY_APPLIED", "already applied"),
        (
            True,
            '{"type":"SettingsConfiguration"}',
            "UNPARSABLE_CLIENT_MESSAGE",
            "did not match any of the formats we expect",
        ),
        (True, "not json", "UNPARSABLE_CLIENT_MESSAGE", "formats we expect"),
        (
            False,
            '{"type":"Settings","audio":{},"agent":{"greeting":7}}',
            "UNPARSABLE_CLIENT_MESSAGE",
            "Check the agent.greeting field",
        ),
    ],
)
async def test_the_server_ends_the_session_for_protocol_errors(
    client: DeepgramClient,
    server: DeepgramServer,
    before: bool,
    frame: str | bytes | Settings,
    code: str,
    description: str,
) -> None:
    events: list[Any] = []
    with pytest.raises(ServerError) as info:
        async with client.agent.v1.connect(settings=SETTINGS if before else None) as agent:
            raw = frame if isinstance(frame, (str, bytes)) else agent.schema.serialize(frame)
            await agent.send_raw(raw)  # past the client's own checks
            async for event in agent:
                events.append(event)
    assert info.value.code == code
    assert description in (info.value.description or "")
    assert isinstance(events[-1], Error) and events[-1] is info.value.message
    assert server.last.close_code == 1005


async def test_keepalive_goes_out_only_without_audio(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await trio.sleep(30)
        idle = server.last.received.count(KeepAlive())
        await agent.update_prompt("Messages do not count; only audio does.")
        for _ in range(1000):  # 20 s of silence, streamed in real time
            await agent.send_media(bytes(CHUNK))
            await trio.sleep(0.02)
        streaming = server.last.received.count(KeepAlive()) - idle
        assert agent.state is SessionState.OPEN
    assert idle == 3  # at 8, 16 and 24 s
    assert streaming == 0


async def test_keepalive_waits_for_settings(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect() as agent:
        await trio.sleep(9)
        assert server.last.received == []  # a KeepAlive first would end the session
        await agent.apply_settings(SETTINGS)
        await trio.sleep(8.5)
    assert server.last.received == [SETTINGS, KeepAlive()]


async def test_without_keepalive_the_server_times_out(
    client: DeepgramClient, autojump_clock: trio.testing.MockClock
) -> None:
    options = {"keepalive_interval": None}
    with pytest.raises(ServerError) as info:
        async with client.agent.v1.connect(settings=SETTINGS, request_options=options) as agent:  # type: ignore[arg-type]
            async for _ in agent:
                pass
    assert info.value.code == "CLIENT_MESSAGE_TIMEOUT"
    assert trio.current_time() == pytest.approx(10, abs=0.5)


# --- the conversation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_encoding", "input_rate", "output"),
    [
        ("linear16", 16000, AudioOutput("linear16", 24000)),
        ("mulaw", 8000, AudioOutput("mulaw", 8000)),
        ("alaw", 8000, AudioOutput("alaw", 16000, container="none")),
    ],
)
async def test_a_user_turn_and_the_agents_reply(
    client: DeepgramClient,
    server: DeepgramServer,
    input_encoding: str,
    input_rate: int,
    output: AudioOutput,
) -> None:
    settings = make_settings(input_encoding=input_encoding, input_rate=input_rate, output=output)
    async with client.agent.v1.connect(settings=settings) as agent:
        await say(agent, "hello there.", encoding=input_encoding, rate=input_rate)
        events = await until(agent, assistant_said)
    assert kinds(events) == [
        "Welcome",
        "SettingsApplied",
        "UserStartedSpeaking",
        "ConversationText",
        "History",
        "AgentThinking",
        "AgentStartedSpeaking",
        "Audio",
        "ConversationText",
        "AgentAudioDone",
        "History",
    ]
    texts = [(e.role, e.content) for e in events if isinstance(e, ConversationText)]
    assert texts == [("user", "hello there."), ("assistant", "hello there.")]
    assert next(e for e in events if isinstance(e, AgentThinking)).content == (
        "The user said: hello there."
    )
    chunks = [e for e in events if isinstance(e, AudioChunk)]
    assert {(c.encoding, c.sample_rate) for c in chunks} == {(output.encoding, output.sample_rate)}
    assert heard(chunks) == "hello there."
    assert server.last.audio_received  # the user's audio reached the server


async def test_the_greeting_is_spoken_first(client: DeepgramClient) -> None:
    settings = make_settings(greeting="Hi, how can I help?")
    async with client.agent.v1.connect(settings=settings) as agent:
        events = await until(agent, assistant_said)
    assert kinds(events) == [
        "Welcome",
        "SettingsApplied",
        "AgentStartedSpeaking",
        "Audio",
        "ConversationText",
        "AgentAudioDone",
        "History",
    ]
    assert heard([e for e in events if isinstance(e, AudioChunk)]) == "hi, how can i help?"


async def test_history_can_be_turned_off(client: DeepgramClient) -> None:
    settings = make_settings(flags=Flags(history=False))
    async with client.agent.v1.connect(settings=settings) as agent:
        await agent.inject_user_message("no history please.")
        events = await until(agent, lambda e: isinstance(e, AgentAudioDone))
    assert not any(isinstance(e, History) for e in events)


async def test_the_responder_sees_context_prompt_and_updates(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    seen: list[Conversation] = []

    async def responder(conversation: Conversation) -> Reply:
        seen.append(conversation)
        return Reply(f"prompt is {conversation.prompt}")

    configure_agent(server, responder=responder)
    context = Context(
        [History(role="user", content="earlier"), History(role="assistant", content="ok")]
    )
    settings = make_settings(context=context, prompt="first")
    async with client.agent.v1.connect(settings=settings) as agent:
        await agent.inject_user_message("one")
        first = await until(agent, assistant_said)
        assert await agent.update_prompt("second") == PromptUpdated()
        await agent.inject_user_message("two")
        second = await until(agent, assistant_said)
    assert [m.content for m in seen[0].messages] == ["earlier", "ok", "one"]
    assert seen[0].last_user_text == "one"
    assert [e.content for e in first if isinstance(e, ConversationText)] == [
        "one",
        "prompt is first",
    ]
    assert [e.content for e in second if isinstance(e, ConversationText)][-1] == "prompt is second"
    assert seen[1].messages[-1] == History(role="user", content="two")


async def test_updates_are_acknowledged(client: DeepgramClient, server: DeepgramServer) -> None:
    speak = SpeakSettings(DeepgramSpeakProvider(model="aura-2-zeus-en", speed=1.2))
    think = ThinkSettings(OpenAiThinkProvider(model="gpt-4.1"), prompt="Be terse.")
    listen = ListenSettings(DeepgramListenProviderV2(model="flux-general-en"))
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        assert await agent.update_prompt("Be kind.") == PromptUpdated()
        assert await agent.update_speak([speak, speak]) == SpeakUpdated()
        assert await agent.update_think(think) == ThinkUpdated()
        assert await agent.update_think_live(ThinkLiveSettings()) == ThinkLiveUpdated()
        assert await agent.update_listen(listen) == ListenUpdated()
    assert server.last.received[1:] == [
        UpdatePrompt("Be kind."),
        UpdateSpeak((speak, speak)),
        UpdateThink(think),
        UpdateThinkLive(ThinkLiveSettings()),
        UpdateListen(listen),
    ]


async def test_an_update_without_an_answer_times_out(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        server.last.stall(writing=True, reading=False)
        with pytest.raises(AckTimeoutError, match="no PromptUpdated within 2 s"):
            await agent.update_prompt("hello?", timeout=2)
        server.last.resume()


async def test_the_official_sdks_send_methods(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    speak = AgentV1UpdateSpeakMessage(SpeakSettings(DeepgramSpeakProvider(model="aura-2-zeus-en")))
    sent: list[Any] = [
        speak,
        AgentV1UpdatePromptMessage(prompt="Be brief."),
        UpdateThink(ThinkSettings(OpenAiThinkProvider(model="gpt-4o"))),
        UpdateThinkLive(ThinkLiveSettings()),
        UpdateListen(ListenSettings(DeepgramListenProviderV1(model="nova-3"))),
        AgentV1InjectUserMessageMessage(content="hi"),
        AgentV1InjectAgentMessageMessage(message="Hello!", behavior="queue"),
        AgentV1FunctionCallResponseMessage(id="call_1", name="f", content="{}"),
        KeepAlive(),
        KeepAlive(),
        ForceEndTurn(),
        ForceEndTurn(),
        CustomToThinkProvider({"x": 1}),
    ]
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.send_update_speak(sent[0])
        await agent.send_update_prompt(sent[1])
        await agent.send_update_think(sent[2])
        await agent.send_update_think_live(sent[3])
        await agent.send_update_listen(sent[4])
        await agent.send_inject_user_message(sent[5])
        await agent.send_inject_agent_message(sent[6])
        await agent.send_function_call_response(sent[7])
        await agent.send_control(AgentV1ControlMessage(type="KeepAlive"))
        await agent.send_keep_alive()
        await agent.send_force_end_turn()
        await agent.send_force_end_turn(ForceEndTurn())
        await agent.send_custom_to_think_provider(sent[12])
        await agent.send_media(AgentV1MediaMessage(data=b"\x00\x00"))
        with pytest.raises(TypeError, match="expected UpdatePrompt"):
            await agent.send_update_prompt(UpdateSpeak(sent[0].speak))  # type: ignore[arg-type]
        await until(agent, lambda e: isinstance(e, Warning))  # ForceEndTurn without Flux
    assert server.last.messages_received()[1:] == sent
    assert server.last.audio_received == b"\x00\x00"


async def test_inject_user_message_starts_a_turn(client: DeepgramClient) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.inject_user_message("what time is it?")
        events = await until(agent, assistant_said)
    texts = [(e.role, e.content) for e in events if isinstance(e, ConversationText)]
    assert texts == [("user", "what time is it?"), ("assistant", "what time is it?")]


async def test_inject_agent_message_is_spoken_or_refused(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        assert await agent.inject_agent_message("Are you still there?") is None
        events = await until(agent, assistant_said)
        assert heard([e for e in events if isinstance(e, AudioChunk)]) == "are you still there?"

        # While the user speaks, a default injection is refused...
        audio = speech("one moment please.")
        await agent.send_media(audio[: len(audio) // 2])
        await until(agent, lambda e: isinstance(e, UserStartedSpeaking))
        refused = await agent.inject_agent_message("Sorry?")
        assert isinstance(refused, InjectionRefused)
        assert "turn is in progress" in refused.message
        # ... and queue or interrupt are never refused.
        assert await agent.inject_agent_message("Queued.", behavior="queue") is None
        await agent.send_media(audio[len(audio) // 2 :])
        events = await until(agent, lambda e: isinstance(e, History) and e.content == "Queued.")
        spoken = [e.content for e in events if isinstance(e, ConversationText)]
        assert spoken[0] == "one moment please."
        assert "Queued." in spoken
        assert await agent.inject_agent_message("Now!", behavior="interrupt") is None
        await until(agent, lambda e: isinstance(e, History) and e.content == "Now!")
    assert [m for m in server.last.received if isinstance(m, InjectAgentMessage)] == [
        InjectAgentMessage("Are you still there?"),
        InjectAgentMessage("Sorry?"),
        InjectAgentMessage("Queued.", "queue"),
        InjectAgentMessage("Now!", "interrupt"),
    ]


async def test_dynamic_injection_needs_think_live(client: DeepgramClient) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        refused = await agent.inject_agent_message(is_dynamic=True)
        assert refused is not None and "think_live" in refused.message
        await agent.update_think_live(ThinkLiveSettings())
        assert await agent.inject_agent_message(is_dynamic=True) is None


async def test_an_unanswered_injection_times_out(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        server.last.stall(writing=True, reading=False)
        with pytest.raises(AckTimeoutError, match="InjectionRefused or AgentStartedSpeaking"):
            await agent.inject_agent_message("Hello?", timeout=1)
        server.last.resume()


async def test_force_end_turn_needs_flux(client: DeepgramClient) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.force_end_turn()
        [*_, warning] = await until(agent, lambda e: isinstance(e, Warning))
        assert warning.code == "FORCE_END_TURN_UNSUPPORTED"

    flux = make_settings(listen=ListenSettings(DeepgramListenProviderV2(model="flux-general-en")))
    async with client.agent.v1.connect(settings=flux) as agent:
        await say(agent, "book a table", trailing_silence=0)  # no pause: the turn goes on
        await until(agent, lambda e: isinstance(e, UserStartedSpeaking))
        await agent.force_end_turn()
        events = await until(agent, assistant_said)
    texts = [(e.role, e.content) for e in events if isinstance(e, ConversationText)]
    assert texts == [("user", "book a table"), ("assistant", "book a table")]


async def test_unknown_messages_are_events(client: DeepgramClient, server: DeepgramServer) -> None:
    server.inject(SendFrames(['{"type":"EndOfThought"}'], after=1))
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        events = await until(agent, lambda e: isinstance(e, UnknownMessage))
    assert events[-1] == UnknownMessage("EndOfThought", {"type": "EndOfThought"})


async def test_a_server_error_mid_session_is_fatal(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    error = '{"type":"Error","description":"LLM unavailable","code":"FAILED_TO_THINK"}'
    server.inject(SendFrames([error], after=2))
    with pytest.raises(ServerError) as info:
        async with client.agent.v1.connect(settings=SETTINGS) as agent:
            await until(agent, lambda e: False)
    assert info.value.code == "FAILED_TO_THINK"
    assert "LLM unavailable" in str(info.value)
    with pytest.raises(ServerError):  # sending after it says so too
        await agent.keep_alive()


async def test_an_error_in_user_code_comes_out_as_itself(client: DeepgramClient) -> None:
    cause = RuntimeError("cause")
    with pytest.raises(KeyError) as info:
        async with client.agent.v1.connect(settings=SETTINGS):
            raise KeyError("mine") from cause
    assert info.value.__cause__ is cause


async def test_leaving_sends_what_was_queued_and_closes_at_once(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.inject_user_message("last words")
        start = trio.current_time()
    assert trio.current_time() - start < 0.1  # the agent has no close message to wait on
    await server.last.closed.wait()
    assert server.last.received[-1] == InjectUserMessage("last words")
    assert server.last.close_code == 1000
    assert agent.state is SessionState.CLOSED


@pytest.mark.parametrize("reading", [True, False], ids=["server-hangs", "server-stops-writing"])
async def test_a_close_the_server_never_answers_ends_quietly_after_close_timeout(
    client: DeepgramClient,
    server: DeepgramServer,
    autojump_clock: trio.testing.MockClock,
    reading: bool,
) -> None:
    # Our close frame gets no answer: at close_timeout the session hangs up.
    # That is not an error of the session (nothing was pending), as for the
    # sockets that drain; it used to race the reader into a 1006.
    server.inject(Stall(after=2, reading=reading, writing=True))
    options: Any = {"close_timeout": 3.0}
    async with client.agent.v1.connect(settings=SETTINGS, request_options=options) as agent:
        await agent.keep_alive()
        start = trio.current_time()
    assert trio.current_time() - start == pytest.approx(3.0, abs=0.1)
    assert agent.state is SessionState.CLOSED


async def test_outer_cancellation_closes_promptly(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.move_on_after(3) as scope:
        async with client.agent.v1.connect(settings=SETTINGS):
            await trio.sleep_forever()
    assert scope.cancelled_caught
    await server.last.closed.wait()
    assert trio.current_time() - 3 < 0.1


# --- the protocol, without I/O -------------------------------------------------------------


def test_protocol_rules_without_io() -> None:
    protocol = AgentV1Protocol()
    with pytest.raises(ProtocolError):
        protocol.check_send(KeepAlive())
    settings = make_settings(output=AudioOutput("mulaw"))
    protocol.check_send(settings)
    protocol.sent(settings)
    assert (protocol.output_encoding, protocol.output_sample_rate) == ("mulaw", None)
    protocol.check_send(KeepAlive())
    with pytest.raises(ProtocolError):
        protocol.check_send(settings)
    assert protocol.received(SettingsApplied()).key == "settings"  # type: ignore[union-attr]
    assert protocol.received(ThinkUpdated()).key == "think"  # type: ignore[union-attr]
    refused = InjectionRefused("busy")
    assert protocol.received(refused).value is refused  # type: ignore[union-attr]
    started = AgentStartedSpeaking(0.1, 0.05, 0.05)
    assert protocol.received(started).key == "inject"  # type: ignore[union-attr]
    assert protocol.received(ConversationText("user", "hi")) is None
    fatal = protocol.fatal(Error(description="bad", code="INTERNAL_SERVER_ERROR"))
    assert isinstance(fatal, ServerError) and fatal.code == "INTERNAL_SERVER_ERROR"
    assert protocol.fatal(Warning("meh", "PROMPT_TOO_LONG")) is None

    default = AgentV1Protocol()
    default.sent(make_settings(output=AudioOutput(sample_rate=48000)))
    assert (default.output_encoding, default.output_sample_rate) == ("linear16", 48000)
    untouched = AgentV1Protocol()
    untouched.sent(Settings(audio=AudioConfig(), agent="saved-agent-id"))
    assert (untouched.output_encoding, untouched.output_sample_rate) == ("linear16", 24000)


async def test_statistics_and_repr(client: DeepgramClient) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        assert repr(agent).startswith("<AgentV1Session OPEN request_id=")
        assert agent.statistics().frames_sent >= 1
        assert isinstance(agent.settings, Settings)
    assert isinstance(agent.welcome, Welcome)


def test_the_facade_exports_exactly_its_public_names() -> None:
    import dgtrio.agent.v1 as facade

    public = {name for name in vars(facade) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(facade, name), type(facade))}
    assert set(facade.__all__) == public - modules
    assert all(getattr(facade, name) is not None for name in facade.__all__)


async def test_waiting_requests_end_when_the_server_closes_normally(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        connection = server.last
        connection.stall(reading=True, writing=False)  # the requests are never read
        errors: list[BaseException] = []

        async def wait_for(request: Any) -> None:
            try:
                await request
            except SessionClosedError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            async with trio.open_nursery() as waiting:
                waiting.start_soon(wait_for, agent.update_prompt("hello?"))
                waiting.start_soon(wait_for, agent.inject_agent_message("anyone?"))
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(connection.close, 1000)
            connection.resume()  # let the server finish its close handshake
        assert sorted(str(e) for e in errors) == [
            "the session ended before PromptUpdated arrived",
            "the session ended before the injection was answered",
        ]
        assert [e async for e in agent] == [Welcome(connection.request_id), SettingsApplied()]
    assert agent.close_code == 1000  # and leaving after the server's close is quiet


async def test_an_empty_injection_is_refused(client: DeepgramClient) -> None:
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        refused = await agent.inject_agent_message("  ")
    assert refused == InjectionRefused("There is nothing to say.")


async def test_the_functions_property_takes_only_a_registry(client: DeepgramClient) -> None:
    async with client.agent.v1.connect() as agent:
        with pytest.raises(TypeError, match="FunctionRegistry"):
            agent.functions = {"f": print}  # type: ignore[assignment]
