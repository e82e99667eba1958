"""The voice agent's ``Settings`` message and everything it nests (``protocol.md`` §5.4).

The tree, top down::

    Settings                       audio, agent, tags, experimental, mip_opt_out, flags
    ├── AudioConfig                input: AudioInput, output: AudioOutput
    └── Agent | str                a str is the id of a saved agent configuration
        ├── Context                messages: History...
        ├── ListenSettings         provider: DeepgramListenProviderV1 | ...V2
        │                          | GenericListenProvider
        ├── ThinkSettings, or several (the first is primary, the rest fallbacks)
        │   ├── provider           OpenAi | Anthropic | Google | Groq | AwsBedrock | Deepgram
        │   │                      | GenericThinkProvider
        │   ├── endpoint: Endpoint
        │   └── functions: Function...
        ├── ThinkLiveSettings      provider: DeepgramThinkLiveProvider
        └── SpeakSettings, or several (fallbacks)
            ├── provider           Deepgram | ElevenLabs | Cartesia | OpenAi | AwsPolly
            │                      | GenericSpeakProvider
            └── endpoint: Endpoint

Design rules, beyond those of :mod:`dgtrio._codec`:

1. **Nothing is lost in transit.** Every settings object has an
   ``extra_fields`` mapping: keys dgtrio does not model land there when a
   frame is decoded and are written back when it is encoded, so a setting
   Deepgram adds tomorrow can be sent today
   (``ThinkSettings(..., extra_fields={"new_knob": 3})``) and the test
   server echoes what it received.
2. **Providers are picked by their discriminator.** Think and speak
   providers by ``type``, listen providers by ``version`` (``"v1"`` Nova,
   ``"v2"`` Flux). A discriminator dgtrio does not know decodes to the
   ``Generic*Provider`` of that slot, which keeps every key, so a new LLM or
   TTS vendor needs no dgtrio release. A *known* discriminator with fields of
   the wrong shape is an error, never a silent fallback. The hooks that do
   this are registered on :data:`dgtrio._codec.CONVERTER` when this module is
   imported (the codec's fast path defers to cattrs for unions it does not
   inline).
3. **Absence is kept.** A Nova listen provider without ``version`` (the
   official SDK 5's shape, and the docs' examples) decodes to
   :class:`DeepgramListenProviderV1` with ``version=None`` and encodes
   without it; built by hand, the class sends ``"version": "v1"``.
4. **Integers are ints.** Sample rates, bit rates, counts and milliseconds
   are ``int`` fields, so ``16000.0`` is never sent (and is refused when
   decoded).
5. **Sequences are tuples**, but constructors also take lists, as the
   official SDK's constructors do.
6. **Both ``History`` shapes are one class**, :class:`History`, the same one
   the server sends; so the ``History`` events of one session can seed the
   ``context`` of the next unchanged. See its docstring.

Enumerated values (models, voices, encodings) are plain strings: Deepgram
adds models far more often than dgtrio releases. Credentials and header
values are masked in ``repr``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeAlias, Union, get_args, get_origin

import attrs
import cattrs

from ..._codec import CONVERTER, extras_field

__all__ = [
    "Agent",
    "AgentConfigurationId",
    "AnthropicThinkProvider",
    "AudioConfig",
    "AudioInput",
    "AudioOutput",
    "AwsBedrockThinkProvider",
    "AwsCredentials",
    "AwsPollySpeakProvider",
    "CartesiaSpeakProvider",
    "CartesiaVoice",
    "Context",
    "DeepgramListenProviderV1",
    "DeepgramListenProviderV2",
    "DeepgramSpeakProvider",
    "DeepgramThinkLiveProvider",
    "DeepgramThinkProvider",
    "ElevenLabsSpeakProvider",
    "Endpoint",
    "Flags",
    "Function",
    "GenericListenProvider",
    "GenericSpeakProvider",
    "GenericThinkProvider",
    "GoogleThinkProvider",
    "GroqThinkProvider",
    "History",
    "HistoryFunctionCall",
    "ListenProvider",
    "ListenSettings",
    "OpenAiSpeakProvider",
    "OpenAiThinkProvider",
    "Settings",
    "SpeakProvider",
    "SpeakSettings",
    "ThinkLiveSettings",
    "ThinkProvider",
    "ThinkSettings",
]


# --- constructor conveniences ------------------------------------------------


def _str_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Accept any iterable of strings (a lone string is one item)."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _masked(value: Any) -> str:
    return "None" if value is None else "'***'"


def _masked_headers(headers: Mapping[str, str] | None) -> str:
    if headers is None:
        return "None"
    return "{" + ", ".join(f"{name!r}: '***'" for name in headers) + "}"


# --- conversation history ----------------------------------------------------


@attrs.frozen(slots=False)
class HistoryFunctionCall:
    """One function call, with its result, as recorded in a :class:`History`.

    Attributes:
        id: The call's id (the ``id`` of the ``FunctionCallRequest`` entry).
        name: The function's name.
        client_side: Whether the client ran it. Real servers have reported
            ``false`` for calls that the request marked ``client_side: true``.
        arguments: The arguments as JSON text (the server may reorder keys
            relative to the request, so do not compare the text).
        response: The function's result as sent in ``FunctionCallResponse``.
        thought_signature: Gemini's opaque signature, when present.
    """

    id: str
    name: str
    client_side: bool
    arguments: str
    response: str
    thought_signature: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


def _history_calls(
    value: Iterable[HistoryFunctionCall] | None,
) -> tuple[HistoryFunctionCall, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(slots=False)
class History:
    """A piece of conversation history, in either of its two shapes.

    The server sends one after every ``ConversationText`` (the *conversation*
    shape: ``role`` and ``content``) and after function calls (the *function
    call* shape: ``function_calls``, possibly several batched into one), unless
    ``flags.history`` is false. The same objects go into
    :attr:`Context.messages` to give a new session prior conversation, so
    collected ``History`` events can be passed on as they are.

    Both shapes share the wire tag ``"History"``, and a schema maps one tag to
    one class, so this class carries the fields of both: the shape is given by
    the presence of ``function_calls`` (:attr:`is_function_calls`), exactly as
    the official SDKs tell them apart. Build one with either
    ``History(role="user", content="Hi")`` or
    ``History(function_calls=[HistoryFunctionCall(...)])``.

    Attributes:
        role: Conversation shape: ``"user"`` or ``"assistant"``.
        content: Conversation shape: what was said.
        function_calls: Function-call shape: the calls and their results.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: ClassVar[str] = "History"

    role: str | None = None
    content: str | None = None
    function_calls: tuple[HistoryFunctionCall, ...] | None = attrs.field(
        default=None, converter=_history_calls
    )
    extra_fields: Mapping[str, Any] = extras_field()

    @property
    def is_function_calls(self) -> bool:
        """True for the function-call shape (``function_calls`` is present)."""
        return self.function_calls is not None

    @property
    def is_conversation(self) -> bool:
        """True for the conversation shape (``role``/``content``, no ``function_calls``)."""
        return self.function_calls is None


def _history_items(value: Iterable[History] | None) -> tuple[History, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(slots=False)
class Context:
    """Prior conversation to seed the session with.

    Attributes:
        messages: :class:`History` items, oldest first, of either shape.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    messages: tuple[History, ...] | None = attrs.field(default=None, converter=_history_items)
    extra_fields: Mapping[str, Any] = extras_field()


# --- audio ---------------------------------------------------------------------


@attrs.frozen(slots=False)
class AudioInput:
    """The format of the audio the client streams to the agent.

    Attributes:
        encoding: ``linear16``, ``linear32``, ``flac``, ``alaw``, ``mulaw``,
            ``amr-nb``, ``amr-wb``, ``opus``, ``ogg-opus``, ``speex`` or ``g729``.
        sample_rate: In Hz, e.g. ``16000``. (Without an ``input`` object the
            server assumes ``linear16`` at 24000 Hz.)
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    encoding: str
    sample_rate: int
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AudioOutput:
    """The format of the agent's speech, as sent in binary frames.

    Attributes:
        encoding: ``linear16``, ``mulaw``, ``alaw``, ``mp3``, ``opus``, ``flac``
            or ``aac``.
        sample_rate: In Hz.
        bitrate: In bits per second, for compressed encodings.
        container: ``none``, ``wav`` or ``ogg``; the server's default is ``none``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    encoding: str | None = None
    sample_rate: int | None = None
    bitrate: int | None = None
    container: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AudioConfig:
    """Input and output audio formats (the ``audio`` object of ``Settings``).

    Attributes:
        input: What the client sends.
        output: What the agent sends back.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    input: AudioInput | None = None
    output: AudioOutput | None = None
    extra_fields: Mapping[str, Any] = extras_field()


# --- listen --------------------------------------------------------------------


@attrs.frozen(slots=False)
class DeepgramListenProviderV1:
    """Speech recognition with Deepgram's v1 API (Nova models).

    Attributes:
        type: Always ``"deepgram"``.
        version: ``"v1"``. ``None`` omits the key, as the official SDK 5 and
            the docs' examples do; the server then picks Nova.
        model: e.g. ``"nova-3"``.
        language: A BCP-47 tag, or ``"multi"`` for code switching.
        keyterms: Terms to boost.
        smart_format: Apply smart formatting to transcripts.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["deepgram"] = attrs.field(default="deepgram", kw_only=True)
    version: Literal["v1"] | None = attrs.field(default="v1", kw_only=True)
    model: str | None = None
    language: str | None = None
    keyterms: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    smart_format: bool | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class DeepgramListenProviderV2:
    """Speech recognition with Deepgram's v2 API (Flux, with turn detection).

    Attributes:
        type: Always ``"deepgram"``.
        version: Always ``"v2"``.
        model: ``"flux-general-en"`` or ``"flux-general-multi"``.
        language_hints: BCP-47 codes to bias ``flux-general-multi`` toward.
        eot_threshold: End-of-turn confidence needed to end a turn (0.5-1.0).
        eager_eot_threshold: Confidence for an eager end of turn (0.3-0.9).
        eot_timeout_ms: End the turn after this much silence regardless.
        keyterms: Terms to boost (changeable mid-session with UpdateListen).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["deepgram"] = attrs.field(default="deepgram", kw_only=True)
    version: Literal["v2"] = attrs.field(default="v2", kw_only=True)
    model: str
    language_hints: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    eot_threshold: float | None = None
    eager_eot_threshold: float | None = None
    eot_timeout_ms: int | None = None
    keyterms: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class GenericListenProvider:
    """A listen provider dgtrio does not model: another ``type`` or ``version``.

    Everything but ``type`` and ``version`` lives in ``extra_fields`` and is
    sent as it is.

    Attributes:
        type: The provider type, if any.
        version: The API version, if any.
        extra_fields: All other keys.
    """

    type: str | None = None
    version: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


#: A listen provider, picked by ``version`` when decoding.
ListenProvider: TypeAlias = (
    DeepgramListenProviderV1 | DeepgramListenProviderV2 | GenericListenProvider
)


@attrs.frozen(slots=False)
class ListenSettings:
    """Speech recognition settings (``agent.listen``, and the body of ``UpdateListen``).

    Attributes:
        provider: The recognizer.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    provider: ListenProvider | None = None
    extra_fields: Mapping[str, Any] = extras_field()


# --- think ---------------------------------------------------------------------


@attrs.frozen(slots=False)
class Endpoint:
    """A custom endpoint: a bring-your-own LLM or TTS, or a server-side function.

    Attributes:
        url: The URL (https; wss only for ElevenLabs TTS).
        headers: Headers to send with each request (values masked in ``repr``).
        method: For a function endpoint: the HTTP method.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    url: str | None = None
    headers: Mapping[str, str] | None = attrs.field(default=None, repr=_masked_headers)
    method: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class Function:
    """A function the LLM may call.

    Without an ``endpoint`` the client runs it: the server sends a
    ``FunctionCallRequest`` and waits for a ``FunctionCallResponse``. With
    one, the server calls the endpoint itself.

    Attributes:
        name: The function's name.
        description: What it does, for the LLM.
        parameters: A JSON Schema object describing its arguments.
        endpoint: Where the server calls it (server-side functions).
        defer_until_eot: Hold the call until the user's turn is confirmed
            (for actions that cannot be undone).
        initial_agent_filler: Speak a filler line while the call runs (needs
            ``think_live``).
        agent_filler_max_count: Further filler lines allowed (needs ``think_live``).
        agent_filler_interval_ms: Silence before each further filler line,
            1000-60000 (needs ``think_live``).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    name: str | None = None
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    endpoint: Endpoint | None = None
    defer_until_eot: bool | None = None
    initial_agent_filler: bool | None = None
    agent_filler_max_count: int | None = None
    agent_filler_interval_ms: int | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AwsCredentials:
    """AWS credentials for Bedrock or Polly (secrets are masked in ``repr``).

    Attributes:
        type: ``"sts"`` (short-lived, with ``session_token``) or ``"iam"``.
        region: e.g. ``"us-east-2"``.
        access_key_id: The access key id.
        secret_access_key: The secret key.
        session_token: The session token (STS only).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = attrs.field(default=None, repr=_masked)
    session_token: str | None = attrs.field(default=None, repr=_masked)
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class OpenAiThinkProvider:
    """OpenAI as the LLM.

    Attributes:
        type: Always ``"open_ai"``.
        model: e.g. ``"gpt-4o-mini"``, ``"gpt-4.1"``, ``"gpt-5-mini"``.
        temperature: 0-2.
        version: The API version, ``"v1"``.
        reasoning_mode: ``none``, ``minimal``, ``low``, ``medium`` or ``high``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["open_ai"] = attrs.field(default="open_ai", kw_only=True)
    model: str
    temperature: float | None = None
    version: str | None = None
    reasoning_mode: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AnthropicThinkProvider:
    """Anthropic as the LLM.

    Attributes:
        type: Always ``"anthropic"``.
        model: e.g. ``"claude-3-5-haiku-latest"``.
        temperature: 0-1.
        version: The API version, ``"v1"``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["anthropic"] = attrs.field(default="anthropic", kw_only=True)
    model: str
    temperature: float | None = None
    version: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class GoogleThinkProvider:
    """Google Gemini as the LLM.

    Attributes:
        type: Always ``"google"``.
        model: e.g. ``"gemini-2.5-flash"``.
        temperature: 0-2.
        version: ``ai-studio-v1beta``, ``gemini-enterprise-agent-v1`` or ``v1beta``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["google"] = attrs.field(default="google", kw_only=True)
    model: str
    temperature: float | None = None
    version: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class GroqThinkProvider:
    """Groq as the LLM.

    Attributes:
        type: Always ``"groq"``.
        model: Defaults to ``"openai/gpt-oss-20b"``.
        temperature: 0-2.
        version: The API version, ``"v1"``.
        reasoning_mode: ``none``, ``minimal``, ``low``, ``medium`` or ``high``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["groq"] = attrs.field(default="groq", kw_only=True)
    model: str = "openai/gpt-oss-20b"
    temperature: float | None = None
    version: str | None = None
    reasoning_mode: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AwsBedrockThinkProvider:
    """AWS Bedrock as the LLM (usually with a Bedrock runtime ``endpoint``).

    Attributes:
        type: Always ``"aws_bedrock"``.
        model: e.g. ``"anthropic/claude-3-5-sonnet-20240620-v1:0"``.
        temperature: 0-2.
        credentials: The AWS credentials to call Bedrock with.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["aws_bedrock"] = attrs.field(default="aws_bedrock", kw_only=True)
    model: str
    temperature: float | None = None
    credentials: AwsCredentials | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class DeepgramThinkProvider:
    """A Deepgram-hosted LLM (early access).

    Attributes:
        type: Always ``"deepgram"``.
        model: e.g. ``"think-fast"``.
        temperature: 0-2.
        version: The API version, ``"v1"``.
        reasoning_mode: Reasoning effort.
        voice_prompt_opt_out: Send the prompt without Deepgram's spoken-style
            preamble.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["deepgram"] = attrs.field(default="deepgram", kw_only=True)
    model: str
    temperature: float | None = None
    version: str | None = None
    reasoning_mode: str | None = None
    voice_prompt_opt_out: bool | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class GenericThinkProvider:
    """An LLM provider dgtrio does not model; all its keys pass through.

    ``GenericThinkProvider("x_ai", extra_fields={"model": "grok-3"})`` sends
    ``{"type": "x_ai", "model": "grok-3"}``.

    Attributes:
        type: The provider type.
        extra_fields: All other keys.
    """

    type: str
    extra_fields: Mapping[str, Any] = extras_field()


#: An LLM provider, picked by ``type`` when decoding.
ThinkProvider: TypeAlias = (
    OpenAiThinkProvider
    | AnthropicThinkProvider
    | GoogleThinkProvider
    | GroqThinkProvider
    | AwsBedrockThinkProvider
    | DeepgramThinkProvider
    | GenericThinkProvider
)


def _functions(value: Iterable[Function] | None) -> tuple[Function, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(slots=False)
class ThinkSettings:
    """The reasoning LLM (``agent.think``, one item of a fallback list, or ``UpdateThink``).

    Attributes:
        provider: The LLM.
        endpoint: A custom LLM endpoint (optional for managed providers).
        functions: Functions the LLM may call.
        prompt: The system prompt.
        context_length: Characters of context to keep, or ``"max"`` (only
            with a custom endpoint).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    provider: ThinkProvider
    endpoint: Endpoint | None = None
    functions: tuple[Function, ...] | None = attrs.field(default=None, converter=_functions)
    prompt: str | None = None
    context_length: Literal["max"] | int | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class DeepgramThinkLiveProvider:
    """Deepgram's Think Live model: backchannels, presence checks, frustration events.

    Attributes:
        type: ``"deepgram"``, the only provider.
        version: ``"v1"``.
        agent_backchannel_sensitivity: How readily the agent says "mhmm"
            while the user speaks (0 disables).
        presence_check_max_count: Prompts after long silence (0 disables).
        presence_check_interval_ms: Time between presence checks.
        frustration_max_count: ``FrustrationDetected`` events before
            ``escalated`` is true (0 disables the events).
        restricted_terms: Terms the Think Live model will not say.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: str = attrs.field(default="deepgram", kw_only=True)
    version: str = attrs.field(default="v1", kw_only=True)
    agent_backchannel_sensitivity: float | None = None
    presence_check_max_count: int | None = None
    presence_check_interval_ms: int | None = None
    frustration_max_count: int | None = None
    restricted_terms: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class ThinkLiveSettings:
    """Think Live (``agent.think_live``); it is off unless this object is sent.

    Attributes:
        provider: The Think Live model and its knobs.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    provider: DeepgramThinkLiveProvider = attrs.field(factory=DeepgramThinkLiveProvider)
    extra_fields: Mapping[str, Any] = extras_field()


# --- speak ---------------------------------------------------------------------


@attrs.frozen(slots=False)
class DeepgramSpeakProvider:
    """Deepgram text to speech (Aura, or Flux TTS with ``version="v2"``).

    Attributes:
        type: Always ``"deepgram"``.
        model: e.g. ``"aura-2-thalia-en"`` or ``"flux-kit-en"``.
        version: ``"v1"`` (Aura, the default) or ``"v2"`` (Flux TTS).
        speed: Speaking rate (Aura 0.7-1.5; Flux 0.5-1.5 in 0.05 steps).
        expressivity: -2 to 2 (Flux TTS only).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["deepgram"] = attrs.field(default="deepgram", kw_only=True)
    model: str
    version: str | None = None
    speed: float | None = None
    expressivity: int | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class ElevenLabsSpeakProvider:
    """ElevenLabs text to speech (needs an ``endpoint``).

    Attributes:
        type: Always ``"eleven_labs"``.
        model_id: e.g. ``"eleven_turbo_v2_5"``.
        version: ``"v1"``.
        language: The language code.
        language_code: Deprecated spelling of ``language``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["eleven_labs"] = attrs.field(default="eleven_labs", kw_only=True)
    model_id: str
    version: str | None = None
    language: str | None = None
    language_code: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class CartesiaVoice:
    """A Cartesia voice.

    Attributes:
        mode: The voice mode, e.g. ``"id"``.
        id: The voice id.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    mode: str
    id: str
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class CartesiaSpeakProvider:
    """Cartesia text to speech (needs an ``endpoint``).

    Attributes:
        type: Always ``"cartesia"``.
        model_id: e.g. ``"sonic-2"``.
        voice: The voice.
        version: e.g. ``"2025-03-17"``.
        language: The language code.
        volume: 0.5-2.0.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["cartesia"] = attrs.field(default="cartesia", kw_only=True)
    model_id: str
    voice: CartesiaVoice
    version: str | None = None
    language: str | None = None
    volume: float | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class OpenAiSpeakProvider:
    """OpenAI text to speech (needs an ``endpoint``).

    Attributes:
        type: Always ``"open_ai"``.
        model: ``"tts-1"`` or ``"tts-1-hd"``.
        voice: e.g. ``"alloy"``.
        version: ``"v1"``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["open_ai"] = attrs.field(default="open_ai", kw_only=True)
    model: str
    voice: str
    version: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class AwsPollySpeakProvider:
    """Amazon Polly text to speech (needs an ``endpoint``).

    Attributes:
        type: Always ``"aws_polly"``.
        voice: e.g. ``"Joanna"``.
        engine: ``generative``, ``long-form``, ``standard`` or ``neural``.
        credentials: The AWS credentials to call Polly with.
        language: e.g. ``"en-US"``.
        language_code: Deprecated spelling of ``language``.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: Literal["aws_polly"] = attrs.field(default="aws_polly", kw_only=True)
    voice: str
    engine: str
    credentials: AwsCredentials
    language: str | None = None
    language_code: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class GenericSpeakProvider:
    """A TTS provider dgtrio does not model; all its keys pass through.

    Attributes:
        type: The provider type.
        extra_fields: All other keys.
    """

    type: str
    extra_fields: Mapping[str, Any] = extras_field()


#: A TTS provider, picked by ``type`` when decoding.
SpeakProvider: TypeAlias = (
    DeepgramSpeakProvider
    | ElevenLabsSpeakProvider
    | CartesiaSpeakProvider
    | OpenAiSpeakProvider
    | AwsPollySpeakProvider
    | GenericSpeakProvider
)


@attrs.frozen(slots=False)
class SpeakSettings:
    """Text to speech (``agent.speak``, one item of a fallback list, or ``UpdateSpeak``).

    Attributes:
        provider: The voice.
        endpoint: Required for non-Deepgram providers.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    provider: SpeakProvider
    endpoint: Endpoint | None = None
    extra_fields: Mapping[str, Any] = extras_field()


# --- the agent and the message -----------------------------------------------------


def _think_or_list(
    value: ThinkSettings | Iterable[ThinkSettings] | None,
) -> ThinkSettings | tuple[ThinkSettings, ...] | None:
    if value is None or isinstance(value, ThinkSettings):
        return value
    return tuple(value)


def _speak_or_list(
    value: SpeakSettings | Iterable[SpeakSettings] | None,
) -> SpeakSettings | tuple[SpeakSettings, ...] | None:
    if value is None or isinstance(value, SpeakSettings):
        return value
    return tuple(value)


@attrs.frozen(slots=False)
class Flags:
    """Feature flags.

    Attributes:
        history: Send ``History`` messages (the server's default is true).
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    history: bool | None = None
    extra_fields: Mapping[str, Any] = extras_field()


@attrs.frozen(slots=False)
class Agent:
    """What the agent listens with, thinks with and speaks with.

    Attributes:
        language: Deprecated: set the language on the listen and speak providers.
        context: Prior conversation.
        listen: Speech recognition.
        think: The LLM, or several: the first is primary, the rest fallbacks.
        think_live: Think Live (off when absent).
        speak: The voice, or several: the first is primary, the rest fallbacks.
            Without it the server picks its default voice.
        greeting: What the agent says first.
        extra_fields: Keys dgtrio does not model, kept for a round trip (the
            legacy ``messages`` key, for one, passes through here).
    """

    language: str | None = None
    context: Context | None = None
    listen: ListenSettings | None = None
    think: ThinkSettings | tuple[ThinkSettings, ...] | None = attrs.field(
        default=None, converter=_think_or_list
    )
    think_live: ThinkLiveSettings | None = None
    speak: SpeakSettings | tuple[SpeakSettings, ...] | None = attrs.field(
        default=None, converter=_speak_or_list
    )
    greeting: str | None = None
    extra_fields: Mapping[str, Any] = extras_field()


#: ``Settings.agent`` as a string: the id of a saved agent configuration.
AgentConfigurationId: TypeAlias = str


@attrs.frozen(slots=False)
class Settings:
    """Configure the agent; the first message of every session, answered by ``SettingsApplied``.

    Attributes:
        audio: Input and output audio formats.
        agent: The agent, or the id of a saved agent configuration.
        tags: Usage-reporting tags.
        experimental: Enable experimental features.
        mip_opt_out: Opt out of the Deepgram Model Improvement Program.
        flags: Feature flags.
        extra_fields: Keys dgtrio does not model, kept for a round trip.
    """

    type: ClassVar[str] = "Settings"

    audio: AudioConfig
    agent: Agent | AgentConfigurationId
    tags: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple)
    experimental: bool | None = None
    mip_opt_out: bool | None = None
    flags: Flags | None = None
    extra_fields: Mapping[str, Any] = extras_field()


# --- decoding the unions -------------------------------------------------------------
#
# Two kinds of union live in this tree. Provider unions are told apart by a key
# of the object (rule 2 of the module docstring). Unions such as
# ``Agent | str`` or ``ThinkSettings | tuple[ThinkSettings, ...]`` are told
# apart by JSON kind; the codec inlines those on its fast path, and the hooks
# below only make its slow path report the member's own path-level errors
# (``... @ $.agent.think.provider.model``) instead of "expected Agent | str".

_NONE = type(None)
_Chooser: TypeAlias = Callable[[Any], "tuple[Any, bool]"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        value.__class__, "a number"
    )


def _is_union_of(members: frozenset[Any]) -> Callable[[Any], bool]:
    """Match ``Union[*members]`` and ``Optional[Union[*members]]``."""

    def predicate(tp: Any) -> bool:
        origin = get_origin(tp)
        if origin is not Union and origin is not types.UnionType:
            return False
        return frozenset(a for a in get_args(tp) if a is not _NONE) == members

    return predicate


def _register_union(union: Any, choose: _Chooser) -> None:
    """Structure ``union`` (and its Optional form) with the member ``choose`` picks.

    ``choose(value)`` returns ``(member, versionless)``; ``versionless`` marks a
    listen provider decoded without its ``version`` key (rule 3).
    """
    members = frozenset(a for a in get_args(union) if a is not _NONE)

    def factory(tp: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
        optional = _NONE in get_args(tp)

        def structure(value: Any, _: Any) -> Any:
            if value is None and optional:
                return None
            member, versionless = choose(value)
            inst = converter.get_structure_hook(member)(value, member)
            if versionless:
                object.__setattr__(inst, "version", None)
            return inst

        return structure

    CONVERTER.register_structure_hook_factory(_is_union_of(members), factory)


def _by_type(table: Mapping[str, type], generic: type, what: str) -> _Chooser:
    def choose(value: Any) -> tuple[Any, bool]:
        if value.__class__ is not dict:
            raise TypeError(f"expected {what} object, got {_kind(value)}")
        tag = value.get("type")
        if tag.__class__ is not str:
            raise ValueError(f"{what} needs a string 'type', got {_kind(tag)}")
        return table.get(tag, generic), False

    return choose


def _choose_listen(value: Any) -> tuple[Any, bool]:
    if value.__class__ is not dict:
        raise TypeError(f"expected a listen provider object, got {_kind(value)}")
    if value.get("type") != "deepgram":
        return GenericListenProvider, False
    if "version" not in value:
        return DeepgramListenProviderV1, True
    version = value["version"]
    if version == "v1":
        return DeepgramListenProviderV1, False
    if version == "v2":
        return DeepgramListenProviderV2, False
    return GenericListenProvider, False


def _by_kind(union: Any) -> _Chooser:
    """Pick the member of a union told apart by JSON kind (object, array, string)."""
    by_kind: dict[type, Any] = {}
    for member in get_args(union):
        if member is _NONE:
            continue
        if attrs.has(member):
            by_kind[dict] = member
        elif get_origin(member) is tuple:
            by_kind[list] = member
        else:
            by_kind[member] = member
    kind_names: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
    names = " or ".join(kind_names[k] for k in by_kind)

    def choose(value: Any) -> tuple[Any, bool]:
        member = by_kind.get(value.__class__)
        if member is None:
            raise TypeError(f"expected {names}, got {_kind(value)}")
        return member, False

    return choose


_THINK_TYPES: Mapping[str, type] = {
    "open_ai": OpenAiThinkProvider,
    "anthropic": AnthropicThinkProvider,
    "google": GoogleThinkProvider,
    "groq": GroqThinkProvider,
    "aws_bedrock": AwsBedrockThinkProvider,
    "deepgram": DeepgramThinkProvider,
}
_SPEAK_TYPES: Mapping[str, type] = {
    "deepgram": DeepgramSpeakProvider,
    "eleven_labs": ElevenLabsSpeakProvider,
    "cartesia": CartesiaSpeakProvider,
    "open_ai": OpenAiSpeakProvider,
    "aws_polly": AwsPollySpeakProvider,
}

_register_union(ThinkProvider, _by_type(_THINK_TYPES, GenericThinkProvider, "a think provider"))
_register_union(SpeakProvider, _by_type(_SPEAK_TYPES, GenericSpeakProvider, "a speak provider"))
_register_union(ListenProvider, _choose_listen)
for _union in (
    Agent | AgentConfigurationId,
    ThinkSettings | tuple[ThinkSettings, ...],
    SpeakSettings | tuple[SpeakSettings, ...],
):
    _register_union(_union, _by_kind(_union))
