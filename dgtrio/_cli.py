"""The ``dgtrio`` command: transcribe, speak, talk to an agent, serve, demo.

::

    dgtrio listen talk.wav               # stream a WAV file to /v1/listen in real time
    dgtrio speak "Hello there." -o hello.wav
    dgtrio agent question.wav -o answer.wav
    dgtrio serve --engine local          # the local Deepgram-protocol server, standalone
    dgtrio demo                          # offline: local TTS -> /v1/listen -> word error rate

``listen``, ``speak`` and ``agent`` talk to Deepgram with the key in
``DEEPGRAM_API_KEY``. With ``--local`` they start the offline local server
(``dgtrio[local]``) in the same process and use it instead: no key, no
network. ``--fake`` does the same with :mod:`dgtrio.testing`'s deterministic
server, which understands only its own test tones.

Exit status: 0 on success; 1 when something failed while running (the
server refused or closed the connection, an engine failed); 2 for bad usage
or bad input, found before anything is sent (an unknown option, a missing or
unreadable file, audio that is not a WAV, an unsupported encoding, no API
key); 130 when interrupted. Errors are one line on standard error,
``dgtrio: error: ...``.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import inspect
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import statistics
import sys
import types
import typing
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import IO, Any, BinaryIO, NoReturn, TextIO

import attrs
import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

from . import (
    AudioChunk,
    ConnectionClosedError,
    DeepgramClient,
    DeepgramError,
    SessionClosedError,
    UnknownMessage,
    __version__,
)
from ._audio import parse_wav_header

__all__ = ["CommandError", "main"]

PROG = "dgtrio"
#: Exit statuses.
OK, FAILURE, USAGE, INTERRUPTED = 0, 1, 2, 130

#: Raw encodings the command line can stream (it must know their byte rate).
RAW_ENCODINGS: Mapping[str, int] = {"linear16": 2, "linear32": 4, "mulaw": 1, "alaw": 1}
#: What the local and fake servers decode (Deepgram also takes linear32).
_SERVER_ENCODINGS = ("linear16", "mulaw", "alaw")
#: Deepgram accepts live audio at up to this multiple of real time.
SERVICE_SPEED_LIMIT = 1.25
#: Audio per frame sent, in seconds.
CHUNK_SECONDS = 0.1
#: Inputs at least this long get a progress display on a terminal.
LONG_INPUT_SECONDS = 30.0
#: /v1/speak limits: characters per Speak message, characters per minute.
SPEAK_MESSAGE_LIMIT = 2000
SPEAK_MINUTE_LIMIT = 2400

#: The demo's sentences (the first ones of ``benchmarks/local_engines.py``'s set).
DEMO_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "I would like to book a table for two people tomorrow evening.",
    "Hello, this is a test of the local speech server.",
    "The weather today is sunny with a high of seventy degrees.",
    "Please send the report to my office before noon on Friday.",
    "We need three more chairs for the meeting room.",
    "The train to Boston leaves from platform number nine.",
    "Can you turn the music down a little bit?",
    "My phone battery is almost empty again.",
    "They opened a new coffee shop near the river last week.",
)


class CommandError(Exception):
    """A failure the command reports as one line, with an exit status.

    Args:
        message: What went wrong (printed after ``dgtrio: error:``).
        status: :data:`USAGE` (2) for bad usage or input, :data:`FAILURE` (1)
            for a failure while running.
    """

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message, status)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


# --- argument parsing ---------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (``dgtrio: error: ...``) and status 2."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')", USAGE)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        """Parse; unknown options are reported by the subcommand's parser (its help is the one)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            owner: argparse.ArgumentParser = getattr(parsed, "parser", self)
            owner.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def _docstring_args(function: Callable[..., object]) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring: name -> one-line text."""
    found: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for line in (inspect.getdoc(function) or "").splitlines():
        if line.strip() == "Args:":
            in_args = True
            continue
        if not in_args:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^ {4}(\w+): (.*)$", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current is not None and line.strip():
            found[current] += " " + line.strip()
    # Plain text for the terminal: no reStructuredText literals; argparse
    # treats % specially in help text.
    return {
        name: re.sub(r"``(.*?)``", r"\1", text).replace("%", "%%") for name, text in found.items()
    }


def _union_members(annotation: object) -> tuple[object, ...]:
    """The members of a union annotation, nested unions flattened (itself if not a union)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return (annotation,)
    return tuple(m for arg in typing.get_args(annotation) for m in _union_members(arg))


def _endpointing(value: str) -> int | bool:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected milliseconds or true/false, not {value!r}"
        ) from None


def _add_query_options(
    parser: argparse.ArgumentParser,
    connect: Callable[..., object],
    *,
    defaults: Mapping[str, object],
    skip: Sequence[str] = ("authorization", "request_options", "reconnect"),
) -> list[str]:
    """Add one option per query parameter of a ``connect()`` method; return their names.

    Types come from the signature: flags for booleans (``--x``/``--no-x``),
    integers, repeatable options for parameters that take several values,
    strings otherwise; help texts come from its docstring. Names the parser
    already has (the command line's own options) are left alone.
    """
    hints = typing.get_type_hints(connect)
    docs = _docstring_args(connect)
    group = parser.add_argument_group("query parameters (omitted unless given)")
    taken = {action.dest for action in parser._actions}
    names: list[str] = []
    for name, parameter in inspect.signature(connect).parameters.items():
        if parameter.kind is not parameter.KEYWORD_ONLY or name in skip or name in taken:
            continue
        names.append(name)
        flag = "--" + name.replace("_", "-")
        help_text = docs.get(name, "")
        default = defaults.get(name)
        if default is not None:
            help_text += f" (default here: {default})"
        members = _union_members(hints.get(name, str))
        many = any(typing.get_origin(m) in (Sequence, Mapping) for m in members)
        kwargs: dict[str, Any] = {"dest": name, "default": default, "help": help_text}
        if many:
            kwargs.update(action="append", metavar="VALUE")
        elif bool in members and int in members:
            kwargs.update(type=_endpointing, metavar="MS|false")
        elif bool in members:
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif int in members:
            kwargs.update(type=int, metavar="N")
        elif float in members:
            kwargs.update(type=float, metavar="X")
        else:
            kwargs.update(metavar=name.upper())
        group.add_argument(flag, **kwargs)
    return names


def _add_server_choice(parser: argparse.ArgumentParser, *, json_help: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        action="store_true",
        help="use the offline local server, started in this process (dgtrio[local]; "
        "no key, no network)",
    )
    where.add_argument(
        "--fake",
        action="store_true",
        help="use dgtrio.testing's deterministic server, started in this process "
        "(it understands only dgtrio's test tones)",
    )
    parser.add_argument("--json", action="store_true", help=json_help)


def _speed(value: str) -> float:
    if value in ("max", "0"):
        return 0.0
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', not {value!r}") from None
    if not speed > 0:
        raise argparse.ArgumentTypeError(f"must be positive (or 'max'), not {value!r}")
    return speed


def _add_speed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X",
        help="pace of the audio sent, in multiples of real time (default 1; Deepgram "
        f"accepts up to {SERVICE_SPEED_LIMIT}; with --local or --fake any value, or 'max' "
        "for as fast as possible)",
    )


def _build_parser() -> _Parser:
    from .listen.v1 import ListenV1Client
    from .speak.v1 import SpeakV1Client

    parser = _Parser(
        prog=PROG,
        description="Deepgram's realtime APIs from the command line, or offline with --local.",
        epilog="Without --local or --fake, DEEPGRAM_API_KEY must hold a Deepgram API key. "
        "Exit status: 0 ok, 1 failure while running, 2 bad usage or input.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listen = commands.add_parser(
        "listen",
        help="transcribe a WAV file (or raw audio) as a live stream on /v1/listen",
        description="Stream audio to /v1/listen at real-time pace and print what is said. "
        "A WAV file is sent as it is (its header says the format); raw audio needs "
        "--encoding and --sample-rate. On a terminal the text of the utterance in "
        "progress is updated in place.",
    )
    listen.add_argument("input", metavar="FILE", help="a WAV file, raw audio, or - for stdin")
    _add_speed(listen)
    _add_server_choice(listen, json_help="print every server message as one JSON line")
    listen.set_defaults(
        parser=listen,
        run=_run_listen,
        query=_add_query_options(
            listen,
            ListenV1Client.connect,
            defaults={"model": "nova-3", "interim_results": True, "punctuate": True},
        ),
    )

    speak = commands.add_parser(
        "speak",
        help="synthesize text on /v1/speak into a WAV file",
        description="Send text to /v1/speak and write the audio to a WAV file.",
    )
    speak.add_argument("text", metavar="TEXT", help="the text to say, or - to read it from stdin")
    speak.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV to write")
    _add_server_choice(speak, json_help="print the server's messages (not the audio) as JSON lines")
    speak.set_defaults(
        parser=speak,
        run=_run_speak,
        query=_add_query_options(
            speak,
            SpeakV1Client.connect,
            defaults={"model": "aura-2-thalia-en", "encoding": "linear16"},
        ),
    )

    agent = commands.add_parser(
        "agent",
        help="talk to the voice agent on /v1/agent/converse with a WAV file",
        description="Play a WAV file (or raw audio) to the voice agent as the user's "
        "microphone, print the conversation, and save the agent's audio.",
    )
    agent.add_argument("input", metavar="FILE", help="the user's audio: a WAV file, raw, or -")
    agent.add_argument("-o", "--output", metavar="OUT.wav", help="save the agent's audio here")
    agent.add_argument("--encoding", choices=sorted(RAW_ENCODINGS), help="raw input's encoding")
    agent.add_argument("--sample-rate", type=int, metavar="N", help="raw input's sample rate")
    agent.add_argument(
        "--prompt",
        default="You are a helpful assistant. Keep answers short.",
        help="the agent's instructions (think.prompt)",
    )
    agent.add_argument("--greeting", help="what the agent says first (default: nothing)")
    agent.add_argument(
        "--listen-model",
        default="nova-3",
        metavar="MODEL",
        help="speech recognition model (default nova-3)",
    )
    agent.add_argument(
        "--think-provider",
        default="open_ai",
        choices=sorted(_THINK_PROVIDERS),
        metavar="NAME",
        help=f"language model provider: {', '.join(sorted(_THINK_PROVIDERS))} (default open_ai)",
    )
    agent.add_argument(
        "--think-model",
        default="gpt-4o-mini",
        metavar="MODEL",
        help="language model (default gpt-4o-mini)",
    )
    agent.add_argument(
        "--speak-model",
        default="aura-2-thalia-en",
        metavar="MODEL",
        help="voice (default aura-2-thalia-en)",
    )
    agent.add_argument(
        "--output-sample-rate",
        type=int,
        default=24000,
        metavar="N",
        help="sample rate of the agent's linear16 audio (default 24000)",
    )
    agent.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="after the input ends, how long to wait for the agent to finish, sending "
        "silence in real time (default 10)",
    )
    _add_speed(agent)
    _add_server_choice(agent, json_help="print the server's messages (not the audio) as JSON lines")
    agent.set_defaults(parser=agent, run=_run_agent)

    serve = commands.add_parser(
        "serve",
        help="run a Deepgram-protocol server (local engines or the fake one)",
        description="Serve /v1/listen, /v2/listen, /v1/speak and /v1/agent/converse until "
        "interrupted. Prints 'listening on ws://HOST:PORT' when ready.",
    )
    serve.add_argument(
        "--engine",
        choices=("local", "fake"),
        default="local",
        help="local: pocketsphinx and espeak-ng (dgtrio[local]); fake: dgtrio.testing's "
        "deterministic engine (default: local)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; anything else is reachable from the network)",
    )
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    serve.add_argument("--api-key", help="the only API key accepted (default: any credentials)")
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds without a client frame before /v1/listen closes with NET-0001",
    )
    serve.add_argument(
        "--lenient-query", action="store_true", help="accept unknown query parameters"
    )
    serve.add_argument(
        "--max-streams",
        type=int,
        metavar="N",
        help="local engine: most concurrent recognition streams (default: four per CPU)",
    )
    serve.add_argument(
        "--warm", type=int, default=1, metavar="N", help="local engine: recognizers kept ready"
    )
    serve.add_argument("--voice", help="local engine: the espeak-ng voice")
    serve.set_defaults(parser=serve, run=_run_serve)

    demo = commands.add_parser(
        "demo",
        help="an offline transcription round trip with word error rate (needs dgtrio[local])",
        description="Synthesize a few sentences with the local text to speech, stream them "
        "through /v1/listen of the local server started in this process, and print each "
        "sentence next to its transcript with the word error rate. No key, no network.",
    )
    demo.add_argument(
        "--sentences",
        type=int,
        default=5,
        choices=range(1, len(DEMO_SENTENCES) + 1),
        metavar="N",
        help=f"how many sentences (1-{len(DEMO_SENTENCES)}, default 5)",
    )
    demo.add_argument("--voice", help="the espeak-ng voice (default en-us+klatt4)")
    _add_speed(demo)
    demo.set_defaults(parser=demo, run=_run_demo)
    return parser


# --- output -------------------------------------------------------------------------


class _Screen:
    """Lines on stdout, and one status line redrawn in place on a terminal.

    The status line goes to stdout when it is a terminal (interim text and
    progress), else to stderr when that is one (progress only), else nowhere.
    """

    def __init__(self, *, interim: bool) -> None:
        self.out: TextIO = sys.stdout
        self.status_stream: TextIO | None = None
        self.interim = False
        if _isatty(sys.stdout):
            self.status_stream, self.interim = sys.stdout, interim
        elif _isatty(sys.stderr):
            self.status_stream = sys.stderr
        self._status = ""
        self._drawn = False

    def line(self, text: str) -> None:
        """Print a line where the status line was (the next :meth:`status` redraws it)."""
        self._erase()
        print(text, file=self.out, flush=True)

    def status(self, text: str) -> None:
        """Replace the status line."""
        if text == self._status and self._drawn:
            return
        self._status = text
        if text:
            self._draw()
        else:
            self._erase()

    def close(self) -> None:
        """Remove the status line."""
        self._status = ""
        self._erase()

    def _draw(self) -> None:
        stream = self.status_stream
        if stream is None or not self._status:
            return
        width = max(shutil.get_terminal_size().columns - 1, 10)
        text = self._status
        if len(text) > width:
            text = "..." + text[-(width - 3) :]
        stream.write("\r" + text + "\x1b[K")
        stream.flush()
        self._drawn = True

    def _erase(self) -> None:
        if self._drawn and self.status_stream is not None:
            self.status_stream.write("\r\x1b[K")
            self.status_stream.flush()
            self._drawn = False


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def _json_line(schema: Any, event: object) -> str:
    if isinstance(event, UnknownMessage):
        return json.dumps(dict(event.raw), separators=(",", ":"))
    return str(schema.serialize(event))


class _Formatter(logging.Formatter):
    """Log records as ``dgtrio: level: message``, with or without tracebacks."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """One line per record; a traceback below it only if asked for."""
        text = f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"
        if self.tracebacks and record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _configure_logging(*, tracebacks: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(tracebacks=tracebacks))
    logger = logging.getLogger("dgtrio")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


# --- where the client connects ---------------------------------------------------------


def _check_local_engines() -> None:
    """Fail before anything starts, with the install command, if the offline engines are missing."""
    from .local import missing_dependencies

    missing = missing_dependencies()
    if missing:
        raise CommandError(
            f"the local engines are not installed (missing: {', '.join(missing)}); "
            "install them with: pip install 'dgtrio[local]'",
            USAGE,
        )


def _check_credentials(args: argparse.Namespace) -> None:
    if args.local:
        _check_local_engines()
        return
    if args.fake:
        return
    if not DeepgramClient().has_credentials:
        raise CommandError(
            "DEEPGRAM_API_KEY is not set: export your Deepgram API key, or add --local "
            "to use the offline local server",
            USAGE,
        )


def _check_speed(args: argparse.Namespace) -> None:
    if args.local or args.fake:
        return
    host = DeepgramClient().environment.production
    if not re.search(r"[./]deepgram\.com(:\d+)?$", host):
        return  # DEEPGRAM_PRODUCTION_URL points elsewhere: its own rules apply
    if args.speed == 0 or args.speed > SERVICE_SPEED_LIMIT:
        shown = "max" if args.speed == 0 else f"{args.speed:g}"
        raise CommandError(
            f"--speed {shown}: Deepgram accepts audio at up to {SERVICE_SPEED_LIMIT}x real "
            "time; use --local for any speed",
            USAGE,
        )


@asynccontextmanager
async def _client(
    args: argparse.Namespace, *, voice: str | None = None
) -> AsyncIterator[DeepgramClient]:
    if args.local:
        from .local import open_local_deepgram

        options: dict[str, Any] = {"voice": voice} if voice else {}
        async with open_local_deepgram(**options) as server:
            yield server.client()
    elif args.fake:
        from .testing import open_fake_deepgram

        async with open_fake_deepgram() as server:
            yield server.client()
    else:
        yield DeepgramClient()


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a group: a Deepgram error first, then any other."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        elif not isinstance(item, trio.Cancelled):
            leaves.append(item)
    for kind in (KeyboardInterrupt, CommandError, DeepgramError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0] if leaves else group


def _run_async(function: Callable[..., Any], *args: Any) -> int:
    """Run ``function`` under trio; turn expected failures into :class:`CommandError`."""
    try:
        try:
            status: int = trio.run(function, *args)
        except BaseExceptionGroup as group:
            raise _first_error(group) from None
    except DeepgramError as exc:
        raise CommandError(_describe(exc)) from exc
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise CommandError(str(exc)) from exc
    return status


def _describe(exc: DeepgramError) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())  # one line


# --- audio input --------------------------------------------------------------------------


@attrs.define
class _Input:
    """Audio to stream: where it comes from, its format and how to pace it."""

    name: str
    stream: BinaryIO
    first: bytes  # bytes already read, sent first
    encoding: str
    sample_rate: int
    channels: int
    header: int  # bytes at the start of ``first`` that are not samples
    params: dict[str, Any]  # encoding/sample_rate/channels for the query (raw audio)
    seconds: float | None  # duration, when known
    is_pipe: bool

    @property
    def frame(self) -> int:
        return RAW_ENCODINGS.get(self.encoding, 2) * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.frame * self.sample_rate

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def _read_head(stream: BinaryIO, *, pipe: bool) -> bytes:
    """The first bytes: enough to see whether this is a WAV and to parse its header."""
    if not pipe:
        return stream.read(65536)
    head = b""
    read1 = getattr(stream, "read1", stream.read)
    while len(head) < 65536:
        data = read1(65536 - len(head))
        if not data:
            break
        head += data
        if len(head) >= 12 and not _is_wav(head):
            break
        if _is_wav(head):
            try:
                parse_wav_header(head)
            except ValueError as exc:
                if "incomplete" in str(exc):
                    continue
            break
    return head


def _is_wav(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _open_input(
    source: str,
    *,
    encoding: str | None,
    sample_rate: int | None,
    channels: int | None,
    keep_header: bool,
) -> _Input:
    """Open and inspect the audio input; raise :class:`CommandError` (status 2) if it is unusable.

    Args:
        source: A path, or ``-`` for standard input.
        encoding: ``--encoding`` (raw audio), if given.
        sample_rate: ``--sample-rate``, if given.
        channels: ``--channels``, if given.
        keep_header: Send a WAV file as it is (``/v1/listen`` reads the header)
            rather than only its samples.
    """
    if source == "-":
        stream: BinaryIO = sys.stdin.buffer
        name, size, pipe = "standard input", None, True
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed by _Input.close
            stat = os.fstat(stream.fileno())
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror or exc}", USAGE) from None
        name, size, pipe = source, stat.st_size, not os.path.isfile(source)
    try:
        return _inspect_input(
            stream,
            name,
            size,
            pipe,
            encoding=encoding,
            sample_rate=sample_rate,
            channels=channels,
            keep_header=keep_header,
        )
    except BaseException:
        if stream is not sys.stdin.buffer:
            stream.close()
        raise


def _inspect_input(
    stream: BinaryIO,
    name: str,
    size: int | None,
    pipe: bool,
    *,
    encoding: str | None,
    sample_rate: int | None,
    channels: int | None,
    keep_header: bool,
) -> _Input:
    try:
        head = _read_head(stream, pipe=pipe)
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}", USAGE) from None
    if not head:
        raise CommandError(f"{name} is empty: no audio to send", USAGE)
    if encoding is not None and encoding not in RAW_ENCODINGS:
        raise CommandError(
            f"unsupported encoding {encoding!r}: the command line streams raw "
            f"{', '.join(RAW_ENCODINGS)} audio, or WAV files",
            USAGE,
        )
    if not _is_wav(head):
        if encoding is None:
            raise CommandError(
                f"{name} is not a WAV file (no RIFF/WAVE header); for raw audio give "
                "--encoding and --sample-rate",
                USAGE,
            )
        if sample_rate is None:
            raise CommandError(f"raw {encoding} audio needs --sample-rate", USAGE)
        count = channels or 1
        params: dict[str, Any] = {"encoding": encoding, "sample_rate": sample_rate}
        if channels is not None:
            params["channels"] = channels
        width = RAW_ENCODINGS[encoding] * count
        seconds = size / (width * sample_rate) if size else None
        return _Input(name, stream, head, encoding, sample_rate, count, 0, params, seconds, pipe)
    try:
        info = parse_wav_header(head)
    except ValueError as exc:
        raise CommandError(f"{name}: {exc}", USAGE) from None
    given = {"encoding": encoding, "sample_rate": sample_rate, "channels": channels}
    actual = {"encoding": info.encoding, "sample_rate": info.sample_rate, "channels": info.channels}
    clashes = [
        f"--{k.replace('_', '-')} {v}" for k, v in given.items() if v not in (None, actual[k])
    ]
    if clashes:
        raise CommandError(
            f"{name} is a WAV file ({info.encoding}, {info.sample_rate} Hz, "
            f"{info.channels} channel{'s' if info.channels > 1 else ''}): "
            f"{' and '.join(clashes)} contradict{'s' if len(clashes) == 1 else ''} its "
            "header; leave the format options out",
            USAGE,
        )
    if info.encoding not in RAW_ENCODINGS:
        raise CommandError(
            f"{name}: unsupported WAV encoding {info.encoding} (use linear16, linear32, "
            "mulaw or alaw)",
            USAGE,
        )
    data_size = info.data_size
    if data_size is None and size is not None:
        data_size = size - info.data_offset
    width = RAW_ENCODINGS[info.encoding] * info.channels
    seconds = data_size / (width * info.sample_rate) if data_size is not None else None
    as_is = keep_header and all(v is None for v in given.values())
    if as_is:
        first, header, params = head, info.data_offset, {}
    else:
        first, header = head[info.data_offset :], 0
        params = dict(actual)
    return _Input(
        name,
        stream,
        first,
        info.encoding,
        info.sample_rate,
        info.channels,
        header,
        params,
        seconds,
        pipe,
    )


async def _chunks(audio: _Input, seconds: float = CHUNK_SECONDS) -> AsyncIterator[bytes]:
    """The input in frames of ``seconds`` of audio (the first one with the WAV header)."""
    size = max(audio.frame, int(audio.bytes_per_second * seconds) // audio.frame * audio.frame)
    stream = audio.stream
    read = getattr(stream, "read1", stream.read) if audio.is_pipe else stream.read
    pending = bytearray(audio.first)
    want = audio.header + size
    done = False
    while True:
        while len(pending) < want and not done:
            data = await trio.to_thread.run_sync(read, 65536)
            if data:
                pending += data
            else:
                done = True
        if not pending:
            return
        chunk = bytes(pending[:want])
        del pending[:want]
        want = size
        yield chunk


async def _stream_audio(
    send: Callable[[bytes], Any],
    audio: _Input,
    speed: float,
    on_progress: Callable[[float], None] = lambda _: None,
) -> float:
    """Send the input paced like a live source (each chunk once it "was recorded").

    Returns the seconds of audio sent.
    """
    start = trio.current_time()
    position = 0.0
    header = audio.header
    async for chunk in _chunks(audio):
        samples = len(chunk) - header
        header = 0
        position += samples / audio.bytes_per_second
        if speed > 0:
            await trio.sleep_until(start + position / speed)
        await send(chunk)
        on_progress(position)
    return position


# --- listen ---------------------------------------------------------------------------


def _run_listen(args: argparse.Namespace) -> int:
    if args.local:
        from .local import supports_language

        if not supports_language(args.language):
            raise CommandError(
                f"--language {args.language}: the local server recognizes English only", USAGE
            )
    audio = _open_input(
        args.input,
        encoding=args.encoding,
        sample_rate=args.sample_rate,
        channels=args.channels,
        keep_header=True,
    )
    try:
        if (args.local or args.fake) and audio.encoding not in _SERVER_ENCODINGS:
            raise CommandError(
                f"{audio.name}: {audio.encoding} audio: the {'local' if args.local else 'fake'} "
                f"server decodes {', '.join(_SERVER_ENCODINGS)} only",
                USAGE,
            )
        _check_speed(args)
        _check_credentials(args)
        _configure_logging(tracebacks=False)
        return _run_async(_listen, args, audio)
    finally:
        audio.close()


async def _listen(args: argparse.Namespace, audio: _Input) -> int:
    from .listen.v1 import SCHEMA, Error, Results
    from .transcripts import TranscriptAssembler, Utterance

    query = {name: getattr(args, name) for name in args.query}
    for name in ("encoding", "sample_rate", "channels"):
        query[name] = audio.params.get(name)
    screen = _Screen(interim=not args.json)
    assembler = TranscriptAssembler(history=False)
    long_input = audio.seconds is not None and audio.seconds >= LONG_INPUT_SECONDS
    position = 0.0
    channels: set[int] = set()
    utterances = 0
    last_channel = 0

    def redraw() -> None:
        if args.json:
            return
        parts = []
        if long_input and audio.seconds is not None:
            parts.append(f"[{_clock(position)} / {_clock(audio.seconds)}]")
        if screen.interim:
            prefix = f"ch{last_channel} " if len(channels) > 1 else ""
            text = assembler.current_text(last_channel)
            if text:
                parts.append(prefix + text)
        screen.status(" ".join(parts))

    def progress(seconds: float) -> None:
        nonlocal position
        position = seconds
        redraw()

    def show(utterance: Utterance) -> None:
        nonlocal utterances
        utterances += 1
        prefix = f"ch{utterance.channel} " if len(channels) > 1 else ""
        screen.line(f"[{utterance.start:7.2f}s] {prefix}{utterance.text}")

    async with _client(args) as client, client.listen.v1.connect(**query) as session:

        async def pump() -> None:
            try:
                await _stream_audio(session.send_media, audio, args.speed, progress)
                await session.close_stream()
            except (ConnectionClosedError, SessionClosedError):
                pass  # the server closed early; reading the session reports why

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump)
                async for event in session:
                    if args.json:
                        print(_json_line(SCHEMA, event), flush=True)
                        continue
                    if isinstance(event, Results) and event.channel_index:
                        last_channel = event.channel_index[0]
                        channels.add(last_channel)
                    elif isinstance(event, Error):
                        _warn(f"the server reported: {event.description}")
                    for utterance in assembler.feed(event):
                        show(utterance)
                    redraw()
            for utterance in assembler.flush():
                show(utterance)
        finally:
            screen.close()
    if not args.json and not utterances:
        print("(no speech recognized)", file=sys.stderr)
    return OK


# --- speak ------------------------------------------------------------------------------


def _text_pieces(text: str) -> list[str]:
    """Cut text into Speak messages of at most 2000 characters, at sentence ends if possible.

    Sentences are packed into a message while they fit; a sentence longer
    than a message is cut between words (a word longer than that, alone).
    """
    pieces: list[str] = []
    current = ""

    def add(part: str) -> None:
        nonlocal current
        candidate = f"{current} {part}" if current else part
        if len(candidate) > SPEAK_MESSAGE_LIMIT and current:
            pieces.append(current)
            candidate = part
        current = candidate

    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
        if len(sentence) <= SPEAK_MESSAGE_LIMIT:
            add(sentence)
            continue
        for word in sentence.split(" "):
            add(word)
    if current:
        pieces.append(current)
    return pieces


def _run_speak(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        raise CommandError("no text to speak", USAGE)
    if len(text) > SPEAK_MINUTE_LIMIT:
        raise CommandError(
            f"the text has {len(text)} characters; /v1/speak accepts at most "
            f"{SPEAK_MINUTE_LIMIT} a minute: split it",
            USAGE,
        )
    if args.encoding is not None and args.encoding not in ("linear16", "mulaw", "alaw"):
        raise CommandError(
            f"unsupported encoding {args.encoding!r}: a WAV file takes linear16, mulaw or alaw",
            USAGE,
        )
    if args.sample_rate is None:  # the service's defaults, said out loud for the WAV header
        args.sample_rate = 24000 if args.encoding == "linear16" else 8000
    _check_credentials(args)
    try:
        output = open(args.output, "wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}", USAGE) from None
    ok = False
    try:
        _configure_logging(tracebacks=False)
        status = _run_async(_speak, args, _text_pieces(text), output)
        ok = True
        return status
    finally:
        output.close()
        if not ok:
            with contextlib.suppress(OSError):
                os.unlink(args.output)


async def _speak(args: argparse.Namespace, pieces: list[str], output: BinaryIO) -> int:
    from .speak.v1 import SCHEMA, Flush

    query = {name: getattr(args, name) for name in args.query}

    def on_event(event: object) -> None:
        if args.json:
            print(_json_line(SCHEMA, event), flush=True)

    async with _client(args) as client, client.speak.v1.connect(**query) as session:

        async def writer() -> None:
            try:
                for piece in pieces:
                    await session.send_text(piece)
                await session.send_control(Flush())
                await session.close()
            except (ConnectionClosedError, SessionClosedError):
                pass  # the server closed early; reading the audio reports why

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            seconds = await session.write_wav(output, on_event=on_event)
    if not args.json:
        print(f"wrote {seconds:.2f} s of audio to {args.output}")
    return OK


# --- agent ------------------------------------------------------------------------------


def _think_providers() -> dict[str, Callable[[str], Any]]:
    from .agent.v1 import (
        AnthropicThinkProvider,
        DeepgramThinkProvider,
        GoogleThinkProvider,
        GroqThinkProvider,
        OpenAiThinkProvider,
    )

    return {
        "open_ai": OpenAiThinkProvider,
        "anthropic": AnthropicThinkProvider,
        "google": GoogleThinkProvider,
        "groq": GroqThinkProvider,
        "deepgram": DeepgramThinkProvider,
    }


_THINK_PROVIDERS = ("anthropic", "deepgram", "google", "groq", "open_ai")


@attrs.define
class _AgentState:
    """What the conversation is doing, to know when it is over."""

    user_speaking: bool = False
    awaiting_reply: bool = False
    agent_speaking: bool = False
    silence_sent: float = 0.0  # seconds of silence sent after the input ended
    input_done: bool = False

    @property
    def finished(self) -> bool:
        return (
            self.input_done
            and self.silence_sent >= 1.0
            and not (self.user_speaking or self.awaiting_reply or self.agent_speaking)
        )


def _run_agent(args: argparse.Namespace) -> int:
    audio = _open_input(
        args.input,
        encoding=args.encoding,
        sample_rate=args.sample_rate,
        channels=None,
        keep_header=False,
    )
    try:
        if audio.channels != 1:
            raise CommandError(f"{audio.name}: the agent takes mono audio", USAGE)
        if audio.encoding == "linear32":
            raise CommandError(
                f"{audio.name}: the agent takes linear16, mulaw or alaw audio", USAGE
            )
        _check_speed(args)
        _check_credentials(args)
        output = None
        if args.output is not None:
            try:
                output = open(args.output, "wb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise CommandError(
                    f"cannot write {args.output}: {exc.strerror or exc}", USAGE
                ) from None
        try:
            _configure_logging(tracebacks=False)
            return _run_async(_agent, args, audio, output)
        finally:
            if output is not None:
                output.close()
    finally:
        audio.close()


async def _agent(args: argparse.Namespace, audio: _Input, output: BinaryIO | None) -> int:
    from .agent.v1 import (
        SCHEMA,
        Agent,
        AgentAudioDone,
        AgentStartedSpeaking,
        AudioConfig,
        AudioInput,
        AudioOutput,
        ConversationText,
        DeepgramListenProviderV1,
        DeepgramSpeakProvider,
        FunctionCallRequest,
        ListenSettings,
        Settings,
        SpeakSettings,
        ThinkSettings,
        UserStartedSpeaking,
        Warning,
    )
    from .speak.v1 import WavWriter

    settings = Settings(
        audio=AudioConfig(
            input=AudioInput(encoding=audio.encoding, sample_rate=audio.sample_rate),
            output=AudioOutput(encoding="linear16", sample_rate=args.output_sample_rate),
        ),
        agent=Agent(
            listen=ListenSettings(provider=DeepgramListenProviderV1(model=args.listen_model)),
            think=ThinkSettings(
                provider=_think_providers()[args.think_provider](args.think_model),
                prompt=args.prompt,
            ),
            speak=SpeakSettings(provider=DeepgramSpeakProvider(model=args.speak_model)),
            greeting=args.greeting,
        ),
    )
    state = _AgentState()
    writer = (
        WavWriter(output, encoding="linear16", sample_rate=args.output_sample_rate)
        if output is not None
        else None
    )
    timed_out = False
    async with _client(args) as client, client.agent.v1.connect(settings=settings) as session:

        async def microphone(cancel: trio.CancelScope) -> None:
            nonlocal timed_out
            try:
                await _stream_audio(session.send_media, audio, args.speed)
                state.input_done = True
                silence = b"\0" * (audio.bytes_per_second // 10 // audio.frame * audio.frame)
                if audio.encoding == "mulaw":
                    silence = b"\xff" * len(silence)
                elif audio.encoding == "alaw":
                    silence = b"\xd5" * len(silence)
                start = trio.current_time()
                while not state.finished:
                    if state.silence_sent >= args.wait:
                        timed_out = True
                        break
                    # Silence goes at real-time pace whatever --speed says: it
                    # stands for the time the agent takes to answer.
                    await trio.sleep_until(start + state.silence_sent + 0.1)
                    await session.send_media(silence)
                    state.silence_sent += 0.1
            except (ConnectionClosedError, SessionClosedError):
                pass
            cancel.cancel()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(microphone, nursery.cancel_scope)
                async for event in session:
                    if isinstance(event, AudioChunk):
                        if writer is not None:
                            writer.write(event)
                        continue
                    if args.json:
                        print(_json_line(SCHEMA, event), flush=True)
                    if isinstance(event, UserStartedSpeaking):
                        state.user_speaking = True
                    elif isinstance(event, ConversationText):
                        if event.role == "user":
                            state.user_speaking, state.awaiting_reply = False, True
                        if not args.json:
                            role = "agent" if event.role == "assistant" else event.role
                            print(f"{role}: {event.content}", flush=True)
                    elif isinstance(event, AgentStartedSpeaking):
                        state.agent_speaking = True
                    elif isinstance(event, AgentAudioDone):
                        state.agent_speaking = state.awaiting_reply = False
                    elif isinstance(event, FunctionCallRequest) and not args.json:
                        for call in event.functions:
                            print(f"(the agent calls {call.name}({call.arguments}))", flush=True)
                    elif isinstance(event, Warning):
                        _warn(f"the agent warned: {event.code} {event.description}".strip())
        finally:
            if writer is not None:
                writer.close()
    if timed_out:
        _warn(f"stopped waiting for the agent {args.wait:g} s after the input ended")
    if writer is not None and not args.json:
        print(f"saved {writer.duration:.2f} s of agent audio to {args.output}")
    return OK


# --- serve -------------------------------------------------------------------------------


def _run_serve(args: argparse.Namespace) -> int:
    from ._transport import is_loopback_host

    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: not a port number", USAGE)
    if args.engine == "local":
        _check_local_engines()
    _configure_logging(tracebacks=True)
    if not is_loopback_host(args.host):
        # Said once, here, in the command line's words (the library's own
        # warning says the same about its test server).
        logging.getLogger("dgtrio").handlers[-1].addFilter(_drop_exposure_warning)
        _warn(
            f"--host {args.host}: the server is reachable from the network"
            + ("" if args.api_key else " and accepts any credentials (see --api-key)")
        )
    try:
        return _run_async(_serve, args)
    except KeyboardInterrupt:  # pragma: no cover - signals are received below
        return OK


def _drop_exposure_warning(record: logging.LogRecord) -> bool:
    return "reachable from the network" not in str(record.msg)


async def _serve(args: argparse.Namespace) -> int:
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "api_key": args.api_key,
        "idle_timeout": args.idle_timeout,
        "strict_query": not args.lenient_query,
    }
    if args.engine == "fake":
        from .testing import open_fake_deepgram

        server_cm = open_fake_deepgram(**common)
    else:
        from .local import open_local_deepgram

        if args.voice:
            common["voice"] = args.voice
        server_cm = open_local_deepgram(
            **common, warm_workers=args.warm, max_workers=args.max_streams
        )
    # SIGINT and SIGTERM stop the server in order, even while it starts (the
    # local engine's worker processes are shut down), with status 0.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
            try:
                async with server_cm as server:
                    print(f"listening on {server.url}", flush=True)
                    key = "the --api-key value" if args.api_key else "anything"
                    print(
                        f"clients: DEEPGRAM_PRODUCTION_URL={server.url} "
                        f"DEEPGRAM_AGENT_URL={server.url} DEEPGRAM_API_KEY=<{key}>; "
                        "Ctrl+C stops",
                        file=sys.stderr,
                        flush=True,
                    )
                    await trio.sleep_forever()
            except OSError as exc:
                raise CommandError(
                    f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
                ) from None
    return OK


# --- demo ---------------------------------------------------------------------------------

_DEMO_RATE = 16000
_DEMO_LEAD = 0.2  # silence before each sentence, seconds
_DEMO_TAIL = 0.8  # silence after each sentence's speech, seconds


def _speech_length(pcm: bytes, rate: int) -> float:
    """Seconds from the start of ``pcm`` to the end of its last loud 10 ms."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    step = rate // 100
    last = 0
    for start in range(0, len(samples), step):
        window = samples[start : start + step]
        if window and max(abs(s) for s in window) > 500:
            last = start + len(window)
    return last / rate


@attrs.define
class _DemoSentence:
    text: str
    begin: float  # where its lead silence starts, in the stream
    speech_end: float  # where its speech ends
    end: float  # where its trailing silence ends
    words: list[str] = attrs.Factory(list)
    spoken_at: float | None = None  # trio time its speech ended, live
    final_at: float | None = None  # trio time its final result arrived
    shown: bool = False


def _run_demo(args: argparse.Namespace) -> int:
    _check_local_engines()
    _configure_logging(tracebacks=False)
    return _run_async(_demo, args)


async def _synthesize(client: DeepgramClient, text: str) -> bytes:
    from .speak.v1 import Flush

    audio = bytearray()
    async with client.speak.v1.connect(
        model="aura-2-thalia-en", encoding="linear16", sample_rate=_DEMO_RATE
    ) as session:
        await session.send_text(text)
        await session.send_control(Flush())
        await session.close()
        async for chunk in session.audio():
            audio += chunk
    return bytes(audio)


async def _demo(args: argparse.Namespace) -> int:
    from .listen.v1 import Results
    from .local import DEFAULT_VOICE, open_local_deepgram, word_error_rate
    from .transcripts import TranscriptAssembler

    texts = DEMO_SENTENCES[: args.sentences]
    voice = args.voice or DEFAULT_VOICE
    screen = _Screen(interim=True)
    out = screen.line
    out(
        f"dgtrio demo: espeak-ng says {len(texts)} sentences, the local /v1/listen "
        "transcribes them with pocketsphinx; no key, no network."
    )
    async with open_local_deepgram(voice=voice) as server:
        client = server.client()
        clips: list[bytes] = [b""] * len(texts)

        async def synthesize(index: int) -> None:
            clips[index] = await _synthesize(client, texts[index])

        async with trio.open_nursery() as nursery:
            for index in range(len(texts)):
                nursery.start_soon(synthesize, index)
        lead = b"\0\0" * int(_DEMO_LEAD * _DEMO_RATE)
        tail = b"\0\0" * int(_DEMO_TAIL * _DEMO_RATE)
        stream = bytearray()
        sentences: list[_DemoSentence] = []
        for text, clip in zip(texts, clips, strict=True):
            begin = len(stream) / 2 / _DEMO_RATE
            spoken = _speech_length(clip, _DEMO_RATE)
            stream += lead + clip + tail
            sentences.append(
                _DemoSentence(
                    text, begin, begin + _DEMO_LEAD + spoken, len(stream) / 2 / _DEMO_RATE
                )
            )
        total = len(stream) / 2 / _DEMO_RATE
        pace = "as fast as possible" if args.speed == 0 else f"at {args.speed:g}x real time"
        out(
            f"Local server {server.url}: synthesized {total:.1f} s of speech (voice {voice}); "
            f"streaming it {pace} with interim results."
        )
        out("")
        audio = _Input(
            "demo", io.BytesIO(), bytes(stream), "linear16", _DEMO_RATE, 1, 0, {}, total, False
        )
        assembler = TranscriptAssembler(history=False)
        started = 0.0

        def progress(position: float) -> None:
            for sentence in sentences:
                if sentence.spoken_at is None and position >= sentence.speech_end:
                    # When the speech ended on the live schedule the audio is sent on.
                    sentence.spoken_at = started + sentence.speech_end / (args.speed or math.inf)

        def show_done(final_end: float) -> None:
            for number, sentence in enumerate(sentences, 1):
                if sentence.shown or final_end < sentence.speech_end:
                    continue
                sentence.shown = True
                heard = " ".join(sentence.words)
                rate = word_error_rate(sentence.text, heard)
                out(f"{number:2}  said   {sentence.text}")
                out(f"    heard  {heard or '(nothing)'}   (WER {rate:.0%})")

        async with client.listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate=_DEMO_RATE, interim_results=True
        ) as session:

            async def pump() -> None:
                nonlocal started
                started = trio.current_time()
                try:
                    await _stream_audio(session.send_media, audio, args.speed, progress)
                    await session.close_stream()
                except (ConnectionClosedError, SessionClosedError):
                    pass  # the server closed early; reading the session reports why

            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump)
                async for event in session:
                    assembler.feed(event)
                    if isinstance(event, Results) and event.is_final:
                        now = trio.current_time()
                        end = event.start + event.duration
                        for word in event.words:
                            owner = next(
                                (s for s in reversed(sentences) if word.start >= s.begin),
                                sentences[0],
                            )
                            owner.words.append(word.word)
                        for sentence in sentences:
                            if sentence.final_at is None and end >= sentence.speech_end:
                                sentence.final_at = now
                        show_done(end)
                    current = assembler.current_text()
                    screen.status(f"    hearing  {current}" if current else "")
            show_done(float("inf"))
        screen.close()
    words = sum(len(s.text.split()) for s in sentences)
    errors = sum(
        word_error_rate(s.text, " ".join(s.words)) * len(s.text.split()) for s in sentences
    )
    out("")
    out(
        f"Word error rate: {errors / words:.1%} ({round(errors)} errors in {words} words), "
        f"espeak-ng voice {voice}."
    )
    delays = [
        s.final_at - s.spoken_at
        for s in sentences
        if s.final_at is not None and s.spoken_at is not None
    ]
    if delays and args.speed > 0:
        out(
            f"End of speech to final result: median {statistics.median(delays):.2f} s "
            f"(max {max(delays):.2f} s)."
        )
    out("Synthetic speech is hard for pocketsphinx; docs/local.rst has the measured figures.")
    return OK


# --- entry point --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dgtrio`` command; return its exit status.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
    """
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        status: int = args.run(args)
    except CommandError as exc:
        print(f"{PROG}: error: {exc.message}", file=sys.stderr, flush=True)
        return exc.status
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``dgtrio listen x.wav | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILURE
    return status
