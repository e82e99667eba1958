"""Client-side function calls: the registry, the dispatcher, and the fake server's side."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing

from dgtrio import ConnectionClosedError, DeepgramClient
from dgtrio._server.agent_v1 import (
    CallFunction,
    Conversation,
    Reply,
    ResponderResult,
    agent_options,
    configure_agent,
    echo_responder,
)
from dgtrio.agent.v1 import (
    AgentThinking,
    ConversationText,
    Function,
    FunctionCallCancelled,
    FunctionCallRequest,
    FunctionCallResponse,
    FunctionRegistry,
    History,
    HistoryFunctionCall,
    error_content,
)
from dgtrio.testing import DeepgramServer, SendFrames, open_fake_deepgram, speech
from tests.test_agent_v1 import assistant_said, make_settings, say, until

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"

WEATHER = Function(
    name="get_weather",
    description="Today's weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
SETTINGS = make_settings(
    functions=[WEATHER, Function(name="add"), Function(name="hang_up"), Function(name="lookup")]
)


def calls(*requests: CallFunction) -> Any:
    """A responder that makes ``requests`` (together), then says their results."""

    async def responder(conversation: Conversation) -> ResponderResult:
        await trio.lowlevel.checkpoint()
        last = conversation.messages[-1]
        if last.function_calls is not None:
            return Reply(" | ".join(call.response for call in last.function_calls))
        return list(requests)

    return responder


def responses(server: DeepgramServer) -> list[FunctionCallResponse]:
    return [m for m in server.last.received if isinstance(m, FunctionCallResponse)]


async def test_a_registered_function_is_called_and_its_result_used(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    received: list[str] = []

    async def get_weather(city: str) -> dict[str, Any]:
        received.append(city)
        await trio.lowlevel.checkpoint()
        return {"city": city, "forecast": "sunny"}

    async with client.agent.v1.connect(settings=SETTINGS, functions=[get_weather]) as agent:
        await say(agent, "get weather in paris.")
        events = await until(agent, assistant_said)
    assert received == ["paris"]
    [request] = [e for e in events if isinstance(e, FunctionCallRequest)]
    [call] = request.functions
    assert (call.name, call.client_side, call.parse_arguments()) == (
        "get_weather",
        True,
        {"city": "paris"},
    )
    content = '{"city":"paris","forecast":"sunny"}'
    assert responses(server) == [
        FunctionCallResponse(id=call.id, name="get_weather", content=content)
    ]
    [record] = [e for e in events if isinstance(e, History) and e.is_function_calls]
    assert record.function_calls is not None and record.function_calls[0].response == content
    spoken = [e.content for e in events if isinstance(e, ConversationText)]
    assert spoken == ["get weather in paris.", content]


async def test_registration_styles(client: DeepgramClient, server: DeepgramServer) -> None:
    configure_agent(
        server,
        responder=calls(
            CallFunction("get_weather", {"city": "oslo"}),
            CallFunction("add", {"a": 2, "b": 3}),
            CallFunction("hang_up"),
            CallFunction("lookup", {"key": "k"}),
        ),
    )
    async with client.agent.v1.connect() as agent:

        @agent.function
        async def get_weather(city: str) -> str:
            return f"rain in {city}"

        @agent.function("add", description="Adds")
        async def adder(a: int, b: int) -> int:
            return a + b

        agent.functions["hang_up"] = lambda: "bye"  # a sync handler is fine for quick work
        registry = agent.functions
        registry.register(name="lookup")(lambda key: {"key": key})

        await agent.apply_settings(SETTINGS)  # registered before Settings: nothing is missed
        await agent.inject_user_message("go")
        events = await until(agent, assistant_said)
    assert {r.name: r.content for r in responses(server)} == {
        "get_weather": "rain in oslo",
        "add": "5",
        "hang_up": "bye",
        "lookup": '{"key":"k"}',
    }
    assert events[-1].content == 'rain in oslo | 5 | bye | {"key":"k"}'


async def test_a_registry_describes_its_functions_and_can_be_shared(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    functions = FunctionRegistry()

    @functions.register(parameters={"type": "object", "properties": {}})
    async def lookup() -> str:
        """Look something up.

        Longer text that the LLM does not need.
        """
        return "found"

    functions.register("add", description="Adds two numbers")(lambda a, b: a + b)
    assert functions.definitions() == (
        Function(
            name="lookup",
            description="Look something up.",
            parameters={"type": "object", "properties": {}},
        ),
        Function(name="add", description="Adds two numbers"),
    )
    assert list(functions) == ["lookup", "add"] and len(functions) == 2
    assert "lookup" in repr(functions)

    configure_agent(server, responder=calls(CallFunction("lookup")))
    for _ in range(2):
        async with client.agent.v1.connect(settings=SETTINGS, functions=functions) as agent:
            assert agent.functions is functions
            await agent.inject_user_message("go")
            await until(agent, assistant_said)
    assert [r.content for r in responses(server)] == ["found"]


def test_registry_refuses_what_it_cannot_name_or_call() -> None:
    functions = FunctionRegistry({"a": lambda: 1})
    with pytest.raises(TypeError, match="give a name"):
        functions.register(lambda: 2)
    with pytest.raises(TypeError, match="not callable"):
        functions["b"] = "not a function"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="non-empty string"):
        functions[""] = lambda: 3
    with pytest.raises(TypeError, match="a handler or a name"):
        functions.register(42)  # type: ignore[call-overload]
    del functions["a"]
    assert not functions


@pytest.mark.parametrize(
    ("result", "content"),
    [
        ("plain text", "plain text"),
        ({"temp": 21.5, "ok": True}, '{"temp":21.5,"ok":true}'),
        ([1, 2], "[1,2]"),
        (None, "null"),
        (7, "7"),
    ],
)
async def test_return_values_become_content(
    client: DeepgramClient, server: DeepgramServer, result: Any, content: str
) -> None:
    async def lookup() -> Any:
        return result

    configure_agent(server, responder=calls(CallFunction("lookup")))
    async with client.agent.v1.connect(settings=SETTINGS, functions={"lookup": lookup}) as agent:
        await agent.inject_user_message("go")
        await until(agent, assistant_said)
    assert [r.content for r in responses(server)] == [content]


async def test_a_failing_handler_is_answered_with_an_error_and_logged(
    client: DeepgramClient, server: DeepgramServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def lookup() -> str:
        raise ValueError("secret database password in this message")

    configure_agent(server, responder=calls(CallFunction("lookup")))
    with caplog.at_level(logging.ERROR, logger="dgtrio"):
        async with client.agent.v1.connect(settings=SETTINGS, functions=[lookup]) as agent:
            await agent.inject_user_message("go")
            first = await until(agent, assistant_said)
            await agent.inject_user_message("again")  # the session goes on
            second = await until(agent, assistant_said)
    expected = error_content("function 'lookup' failed (ValueError)")
    assert [r.content for r in responses(server)] == [expected, expected]
    assert json.loads(expected) == {"error": "function 'lookup' failed (ValueError)"}
    assert first[-1].content == second[-1].content == expected
    assert "secret" not in expected
    [record, _] = [r for r in caplog.records if r.name == "dgtrio"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)


async def test_an_unknown_function_is_answered_with_an_error(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    configure_agent(server, responder=calls(CallFunction("hang_up")))
    async with client.agent.v1.connect(settings=SETTINGS, functions={"lookup": lambda: 1}) as agent:
        await agent.inject_user_message("go")
        await until(agent, assistant_said)
    [response] = responses(server)
    assert response.name == "hang_up"
    assert json.loads(response.content) == {
        "error": "function 'hang_up' is not available: this client has no handler for it"
    }


async def test_arguments_that_do_not_fit_are_the_llms_mistake_even_with_fail_fast(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    async def add(a: int, b: int) -> int:
        return a + b  # pragma: no cover - never called

    broken = (
        '{"type":"FunctionCallRequest","functions":[{"id":"x1","name":"add",'
        '"arguments":"{not json","client_side":true}]}'
    )
    server.inject(SendFrames([broken], after=2))
    configure_agent(server, responder=calls(CallFunction("add", {"a": 1, "c": 2})))
    async with client.agent.v1.connect(settings=SETTINGS, functions=[add], fail_fast=True) as agent:
        await agent.inject_user_message("go")
        await until(agent, assistant_said)
    contents = {r.id: json.loads(r.content)["error"] for r in responses(server)}
    assert contents["x1"].startswith("the arguments of 'add' are not a JSON object")
    assert contents["call_dgtrio_1"].startswith("the arguments do not fit 'add'")


async def test_a_cancelled_call_is_cancelled_and_not_answered(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    started = trio.Event()
    outcome: list[str] = []

    async def lookup() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            outcome.append("cancelled")

    async def responder(conversation: Conversation) -> ResponderResult:
        await trio.lowlevel.checkpoint()
        if conversation.last_user_text == "look it up":
            return CallFunction("lookup")
        return Reply(conversation.last_user_text or "")

    configure_agent(server, responder=responder)
    async with client.agent.v1.connect(settings=SETTINGS, functions=[lookup]) as agent:
        await agent.inject_user_message("look it up")
        await started.wait()
        await say(agent, "never mind.")  # barge-in: the server drops the pending call
        events = await until(agent, assistant_said)
    [cancelled] = [e for e in events if isinstance(e, FunctionCallCancelled)]
    assert [f.name for f in cancelled.functions] == ["lookup"]
    assert outcome == ["cancelled"]
    assert responses(server) == []
    assert events[-1].content == "never mind."  # the next turn went on


async def test_fail_fast_ends_the_session_with_the_handlers_own_exception(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    error = ValueError("handler bug")

    async def lookup() -> str:
        raise error

    configure_agent(server, responder=calls(CallFunction("lookup")))
    with pytest.raises(ValueError) as info:
        async with client.agent.v1.connect(
            settings=SETTINGS, functions=[lookup], fail_fast=True
        ) as agent:
            await agent.inject_user_message("go")
            async for _ in agent:
                pass
    assert info.value is error  # not an ExceptionGroup
    assert responses(server) == []
    await server.last.closed.wait()


async def test_without_handlers_calls_are_left_to_the_caller(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    configure_agent(server, responder=calls(CallFunction("lookup", {"q": "x"})))
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.inject_user_message("go")
        [*_, request] = await until(agent, lambda e: isinstance(e, FunctionCallRequest))
        await trio.sleep(0.01)
        assert responses(server) == []  # nobody answered for us
        [call] = request.functions
        answer = FunctionCallResponse(id=call.id, name=call.name, content="by hand")
        await agent.send_function_call_response(answer)
        events = await until(agent, assistant_said)
    assert events[-1].content == "by hand"


async def test_server_side_and_legacy_requests(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    frames = [
        '{"type":"FunctionCallRequest","functions":[{"id":"s1","name":"lookup",'
        '"arguments":"{}","client_side":false}]}',
        '{"type":"FunctionCallRequest","function_name":"lookup","function_call_id":"old1",'
        '"input":{"q":"legacy"}}',
    ]
    server.inject(SendFrames(frames, after=2))
    seen: list[str] = []

    async def lookup(q: str = "") -> str:
        seen.append(q)
        return "ok"

    async with client.agent.v1.connect(settings=SETTINGS, functions=[lookup]) as agent:
        await until(agent, lambda e: isinstance(e, FunctionCallRequest) and bool(e.function_name))
        with trio.fail_after(1):
            await server.last.wait_for_frames(2)  # Settings, then our answer
    assert seen == ["legacy"]  # the server-side call was not run
    assert responses(server) == [FunctionCallResponse(id="old1", name="lookup", content="ok")]


async def test_calls_of_one_request_run_concurrently(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    first, second = trio.Event(), trio.Event()

    async def add() -> str:
        first.set()
        await second.wait()
        return "add done"

    async def lookup() -> str:
        second.set()
        await first.wait()
        return "lookup done"

    configure_agent(server, responder=calls(CallFunction("add"), CallFunction("lookup")))
    async with client.agent.v1.connect(settings=SETTINGS, functions=[add, lookup]) as agent:
        await agent.inject_user_message("go")
        with trio.fail_after(5):
            events = await until(agent, assistant_said)
    assert events[-1].content == "add done | lookup done"


async def test_running_handlers_end_with_the_session(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    started = trio.Event()
    outcome: list[str] = []

    async def lookup() -> str:
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            outcome.append("cancelled")

    configure_agent(server, responder=calls(CallFunction("lookup")))
    async with client.agent.v1.connect(settings=SETTINGS, functions=[lookup]) as agent:
        await agent.inject_user_message("go")
        await started.wait()
        leaving = trio.current_time()
    assert trio.current_time() - leaving < 0.1
    assert outcome == ["cancelled"]
    assert responses(server) == []


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_docs_example_runs(
    capsys: pytest.CaptureFixture[str], autojump_clock: trio.testing.MockClock
) -> None:
    example = load_example("agent_with_function")
    await example.main()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "user: please get weather in paris.",
        "(the agent calls get_weather)",
        "assistant: It is sunny in Paris today.",
        "(27360 bytes of agent speech)",
    ]
    page = (EXAMPLES.parent / "agent.rst").read_text()
    assert "\n".join(f"    {line}" for line in out) in page  # the page shows this very output


async def test_the_docs_example_against_the_test_fixture(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    example = load_example("agent_with_function")
    lines = await example.converse(client, speech("get weather in rome."))
    assert lines == ["user: get weather in rome.", "assistant: It is sunny in Rome today."]
    [request] = [m for m in server.last.received if isinstance(m, type(example.SETTINGS))]
    functions: Sequence[Function] = request.agent.think.functions
    assert [f.name for f in functions] == ["get_weather"]
    assert functions[0].description == "Today's weather in a city."


async def test_a_responder_that_never_replies_is_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(RuntimeError) as info:
        async with open_fake_deepgram() as server:
            configure_agent(server, max_function_rounds=2)
            server_options = agent_options(server)
            assert server_options.max_function_rounds == 2

            async def endless(conversation: Conversation) -> ResponderResult:
                await trio.lowlevel.checkpoint()
                return CallFunction("hang_up")

            server_options.responder = endless
            with pytest.raises(ConnectionClosedError):
                async with server.client().agent.v1.connect(
                    settings=SETTINGS, functions={"hang_up": lambda: "ok"}
                ) as agent:
                    await agent.inject_user_message("go")
                    await until(agent, lambda e: False)
    assert "more than 2 times" in str(info.value.__cause__)
    assert len(responses(server)) == 3  # the first round and two more


async def test_a_reused_call_id_cancels_the_earlier_call(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    request = (
        '{"type":"FunctionCallRequest","functions":[{"id":"dup","name":"lookup",'
        '"arguments":"{\\"n\\": %d}","client_side":true}]}'
    )
    server.inject(SendFrames([request % 1, request % 2], after=2))
    outcome: list[str] = []

    async def lookup(n: int) -> str:
        if n == 1:
            try:
                await trio.sleep_forever()
            finally:
                outcome.append("first cancelled")
        return "second"

    async with client.agent.v1.connect(settings=SETTINGS, functions=[lookup]):
        with trio.fail_after(5):
            await server.last.wait_for_frames(2)
    assert outcome == ["first cancelled"]
    assert responses(server) == [FunctionCallResponse(id="dup", name="lookup", content="second")]


async def test_a_handler_without_a_signature_is_called_as_is(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    configure_agent(server, responder=calls(CallFunction("lookup", {"a": 1})))
    async with client.agent.v1.connect(settings=SETTINGS, functions={"lookup": dict}) as agent:
        await agent.inject_user_message("go")
        await until(agent, assistant_said)
    assert [r.content for r in responses(server)] == ['{"a":1}']


async def test_an_answer_without_an_id_is_matched_by_name(
    client: DeepgramClient, server: DeepgramServer
) -> None:
    configure_agent(server, responder=calls(CallFunction("lookup")))
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.inject_user_message("go")
        await until(agent, lambda e: isinstance(e, FunctionCallRequest))
        await agent.send_function_call_response(FunctionCallResponse(name="lookup", content="42"))
        events = await until(agent, assistant_said)
    assert events[-1].content == "42"


@pytest.mark.parametrize(
    ("result", "complaint"),
    [
        (CallFunction("not_declared"), "does not declare"),
        ([Reply("not a call")], "returned"),
    ],
)
async def test_a_responder_bug_fails_the_connection_and_the_server(
    autojump_clock: trio.testing.MockClock, result: Any, complaint: str
) -> None:
    async def responder(conversation: Conversation) -> ResponderResult:
        await trio.lowlevel.checkpoint()
        return result  # type: ignore[no-any-return]

    with pytest.raises(RuntimeError, match="test server failed") as info:
        async with open_fake_deepgram() as server:
            configure_agent(server, responder=responder)
            with pytest.raises(ConnectionClosedError) as closed:
                async with server.client().agent.v1.connect(settings=SETTINGS) as agent:
                    await agent.inject_user_message("go")
                    await until(agent, lambda e: False)
            assert closed.value.code == 1011
    assert complaint in str(info.value.__cause__)


def conversation(*said: str, functions: Sequence[Function] = (WEATHER,)) -> Conversation:
    return Conversation(
        tuple(History(role="user", content=text) for text in said), tuple(functions)
    )


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("hello there.", Reply("hello there.", thought="The user said: hello there.")),
        ("get weather in new york.", CallFunction("get_weather", {"city": "new york"})),
        ("please Get Weather for Oslo!", CallFunction("get_weather", {"city": "oslo"})),
        ("get weather.", CallFunction("get_weather", {})),
        ("get weather in", CallFunction("get_weather", {})),
        ("weather in oslo", Reply("weather in oslo", thought="The user said: weather in oslo")),
    ],
)
async def test_the_echo_responder(said: str, expected: Any) -> None:
    assert await echo_responder(conversation(said)) == expected


async def test_the_echo_responder_more() -> None:
    no_schema = Function(name="hang_up")
    assert await echo_responder(conversation("hang up now", functions=[no_schema])) == (
        CallFunction("hang_up")
    )
    assert await echo_responder(Conversation(())) == Reply("", thought="The user said: ")
    result = HistoryFunctionCall(id="1", name="f", client_side=True, arguments="{}", response="r1")
    after_call = Conversation((History(function_calls=[result, result]),))
    assert await echo_responder(after_call) == Reply("r1 r1")
    assert after_call.last_user_text is None
    assert conversation("x").function("get_weather") is WEATHER
    assert conversation("x").function("nope") is None


async def test_end_of_turn_is_configurable(
    client: DeepgramClient, server: DeepgramServer, autojump_clock: trio.testing.MockClock
) -> None:
    assert configure_agent(server, end_of_turn_ms=1000).end_of_turn_ms == 1000
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await say(agent, "one. two.", trailing_silence=1.2)  # 300 ms after "one." is no end
        events = await until(agent, assistant_said)
    assert [e.content for e in events if isinstance(e, ConversationText)] == ["one. two."] * 2


async def test_a_plain_string_reply(client: DeepgramClient, server: DeepgramServer) -> None:
    async def responder(conversation: Conversation) -> ResponderResult:
        await trio.lowlevel.checkpoint()
        return "plain"

    configure_agent(server, responder=responder)
    async with client.agent.v1.connect(settings=SETTINGS) as agent:
        await agent.inject_user_message("go")
        events = await until(agent, assistant_said)
    assert not any(isinstance(e, AgentThinking) for e in events)  # no thought, no AgentThinking
    assert events[-1].content == "plain"
