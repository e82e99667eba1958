"""The ``dgtrio`` command line, run as the user runs it: a subprocess on real files.

``--fake`` runs are fast and exact (``docs/examples/hello.wav`` is made of the
fake server's test tones). ``--local`` runs use the real offline engines and
are checked with keywords and a word-error-rate bound, never by hashing audio.
Every bad input ends with one ``dgtrio: error: ...`` line and a non-zero
status. A few pure pieces (pacing, text splitting, the status line) are
tested in process, on trio's autojump clock.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from dgtrio import _cli
from dgtrio._audio import parse_wav_header, wav_header
from dgtrio.testing import speech

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "docs" / "examples" / "hello.wav"
HELLO_TEXT = [
    "Hello from dgtrio.",
    "This file is made of test tones, so the fake server hears every word.",
]
BOOK = "I would like to book a table for two people tomorrow evening."
GUARD = 60  # seconds any one command may take

LOCAL = importlib.util.find_spec("pocketsphinx") is not None and (
    importlib.util.find_spec("espeakng_loader") is not None
)
needs_local = pytest.mark.skipif(not LOCAL, reason="needs dgtrio[local]")


def environment(**extra: str) -> dict[str, str]:
    """This environment without Deepgram settings (and dgtrio importable from the checkout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPGRAM_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def dgtrio(
    *args: str | Path, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dgtrio ARGS`` to completion."""
    result = subprocess.run(
        [sys.executable, "-m", "dgtrio", *map(str, args)],
        input=stdin,
        capture_output=True,
        env=env or environment(),
        timeout=GUARD,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed run (asserting that it is one line and nothing else)."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dgtrio: error: "), result.stderr
    assert result.stdout == ""
    return lines[0].removeprefix("dgtrio: error: ")


def utterances(stdout: str) -> list[str]:
    """The text of ``[   1.23s] text`` lines."""
    return [line.split("] ", 1)[1] for line in stdout.splitlines() if line.startswith("[")]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def write_wav(path: Path, pcm: bytes, rate: int = 16000) -> Path:
    path.write_bytes(wav_header(encoding="linear16", sample_rate=rate, data_size=len(pcm)) + pcm)
    return path


# -- listen, speak and agent on the fake server ---------------------------------------


def test_listen_transcribes_a_wav_file() -> None:
    result = dgtrio("listen", HELLO, "--fake", "--speed", "max")
    assert result.returncode == 0, result.stderr
    assert utterances(result.stdout) == HELLO_TEXT
    assert result.stderr == ""


def test_listen_raw_audio_from_stdin_as_json_lines() -> None:
    info = parse_wav_header(HELLO.read_bytes()[:4096])
    raw = HELLO.read_bytes()[info.data_offset :]
    result = dgtrio(
        "listen", "-", "--fake", "--speed", "max", "--json",
        "--encoding", "linear16", "--sample-rate", "16000", "--no-punctuate", "--vad-events",
        stdin=raw,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "SpeechStarted"
    assert kinds[-1] == "Metadata"
    assert "Results" in kinds
    finals = [
        e["channel"]["alternatives"][0]["transcript"]
        for e in events
        if e["type"] == "Results" and e["is_final"]
    ]
    assert " ".join(filter(None, finals)) == " ".join(HELLO_TEXT).lower().replace(",", "").replace(
        ".", ""
    )
    assert events[-1]["duration"] == pytest.approx(len(raw) / 32000, abs=0.01)


def test_speak_writes_a_wav_file(tmp_path: Path) -> None:
    out = tmp_path / "book.wav"
    result = dgtrio("speak", "Book a table for two.", "-o", out, "--fake")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rf"wrote \d+\.\d\d s of audio to {re.escape(str(out))}\n", result.stdout)
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        assert wav.getnframes() > 24000 // 2


def test_speak_mulaw_from_stdin_then_listen_to_it(tmp_path: Path) -> None:
    out = tmp_path / "phone.wav"
    text = "Your table is booked. See you at eight!"
    result = dgtrio("speak", "-", "-o", out, "--fake", "--encoding", "mulaw", stdin=text.encode())
    assert result.returncode == 0, result.stderr
    info = parse_wav_header(out.read_bytes()[:4096])
    # mulaw's own default rate; the WAV holds it decoded to 16-bit PCM
    assert (info.encoding, info.sample_rate) == ("linear16", 8000)
    heard = dgtrio("listen", out, "--fake", "--speed", "max")
    assert heard.returncode == 0, heard.stderr
    assert utterances(heard.stdout) == ["Your table is booked.", "See you at eight!"]


def test_agent_prints_the_conversation_and_saves_its_audio(tmp_path: Path) -> None:
    question = write_wav(
        tmp_path / "question.wav", speech("What time is it?", trailing_silence=0.2)
    )
    answer = tmp_path / "answer.wav"
    result = dgtrio("agent", question, "--fake", "--speed", "max", "-o", answer)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["user: what time is it?", "agent: what time is it?"]  # the echo agent
    assert re.fullmatch(r"saved (\d+\.\d\d) s of agent audio to .*answer\.wav", lines[2])
    with wave.open(str(answer)) as wav:
        assert wav.getframerate() == 24000 and wav.getnframes() > 0


# -- serve ---------------------------------------------------------------------------


async def read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        assert chunk, f"the server exited before printing a line: {data!r}"
        data += chunk
    return data.decode()


async def start_server(nursery: trio.Nursery, *args: str) -> tuple[trio.Process, str]:
    """Start ``dgtrio serve --engine fake ARGS``; return it and its URL once it listens."""
    command = [sys.executable, "-m", "dgtrio", "serve", "--engine", "fake", "--port", "0", *args]
    run = partial(
        trio.run_process,
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        check=False,
    )
    process: trio.Process = await nursery.start(run)
    assert process.stdout is not None
    line = await read_line(process.stdout)
    match = re.fullmatch(r"listening on (ws://\S+)\n", line)
    assert match, line
    return process, match.group(1)


async def run_async(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = await trio.run_process(
        [sys.executable, "-m", "dgtrio", *map(str, args)],
        capture_stdout=True,
        capture_stderr=True,
        env=env,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


async def test_serve_on_loopback_with_a_key_rejects_others_and_stops_on_sigterm() -> None:
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            server, url = await start_server(nursery, "--api-key", "right-key")
            assert url.startswith("ws://127.0.0.1:")
            # The client side without --fake/--local, pointed at the server by
            # the environment, as at Deepgram: the right key works...
            right = environment(DEEPGRAM_API_KEY="right-key", DEEPGRAM_PRODUCTION_URL=url)
            ok = await run_async("listen", HELLO, "--speed", "4", env=right)
            assert ok.returncode == 0, ok.stderr
            assert utterances(ok.stdout) == HELLO_TEXT
            # ...a wrong one is refused with the server's reasons.
            wrong = environment(DEEPGRAM_API_KEY="wrong-key", DEEPGRAM_PRODUCTION_URL=url)
            refused = await run_async("listen", HELLO, env=wrong)
            assert refused.returncode == 1
            message = error_line(refused)
            assert "HTTP 401" in message and "INVALID_AUTH" in message  # dg-error
            assert re.search(r"request_id=[0-9a-f-]{36}", message)
            server.send_signal(signal.SIGTERM)
            assert await server.wait() == 0
            assert server.stderr is not None
            rest = (await server.stderr.receive_some(65536)).decode()
            assert "warning" not in rest


async def test_serve_warns_when_bound_beyond_loopback() -> None:
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            server, url = await start_server(nursery, "--host", "0.0.0.0")
            assert url.startswith("ws://0.0.0.0:")
            server.send_signal(signal.SIGINT)
            assert await server.wait() == 0
            assert server.stderr is not None
            logged = b""
            while chunk := await server.stderr.receive_some(65536):
                logged += chunk
    warnings = [line for line in logged.decode().splitlines() if "warning" in line]
    assert warnings == [
        "dgtrio: warning: --host 0.0.0.0: the server is reachable from the network and "
        "accepts any credentials (see --api-key)"
    ]


# -- bad input: one line, non-zero status ---------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    result = dgtrio("listen", tmp_path / "nowhere.wav", "--fake")
    assert result.returncode == 2
    assert (
        error_line(result) == f"cannot read {tmp_path / 'nowhere.wav'}: No such file or directory"
    )


def test_not_a_wav_file() -> None:
    result = dgtrio("listen", ROOT / "README.rst", "--fake")
    assert result.returncode == 2
    assert "README.rst is not a WAV file" in error_line(result)
    assert "--encoding and --sample-rate" in error_line(result)


def test_unsupported_raw_encoding(tmp_path: Path) -> None:
    raw = tmp_path / "audio.raw"
    raw.write_bytes(b"\0" * 3200)
    result = dgtrio("listen", raw, "--fake", "--encoding", "opus", "--sample-rate", "16000")
    assert result.returncode == 2
    assert error_line(result).startswith("unsupported encoding 'opus'")


def test_unsupported_wav_encoding(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)  # IEEE float, 32 bits
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 400)
    floats = tmp_path / "float.wav"
    floats.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 400) + body + b"\0" * 400)
    result = dgtrio("listen", floats, "--fake")
    assert result.returncode == 2
    assert "unsupported WAV encoding float32" in error_line(result)


def test_unknown_option() -> None:
    result = dgtrio("listen", HELLO, "--fake", "--loudness", "11")
    assert result.returncode == 2
    assert error_line(result) == (
        "unrecognized arguments: --loudness 11 (see 'dgtrio listen --help')"
    )


def test_missing_api_key_mentions_local() -> None:
    result = dgtrio("listen", HELLO)
    assert result.returncode == 2
    message = error_line(result)
    assert "DEEPGRAM_API_KEY" in message and "--local" in message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "the following arguments are required: COMMAND", id="no-command"),
        pytest.param(
            ["listen", "EMPTY", "--fake"], "EMPTY is empty: no audio to send", id="empty-file"
        ),
        pytest.param(
            ["listen", "RAW", "--fake", "--encoding", "linear16"],
            "raw linear16 audio needs --sample-rate",
            id="raw-without-rate",
        ),
        pytest.param(
            ["listen", str(HELLO), "--fake", "--sample-rate", "8000"],
            "--sample-rate 8000 contradicts its header",
            id="contradicting-wav",
        ),
        pytest.param(
            ["listen", str(HELLO), "--speed", "2"],
            "Deepgram accepts audio at up to 1.25x real time; use --local",
            id="too-fast-for-deepgram",
        ),
        pytest.param(
            ["listen", str(HELLO), "--local", "--language", "fr"],
            "--language fr: the local server recognizes English only",
            id="local-language",
        ),
        pytest.param(
            ["listen", "RAW", "--local", "--encoding", "linear32", "--sample-rate", "8000"],
            "linear32 audio: the local server decodes linear16, mulaw, alaw only",
            id="local-linear32",
        ),
        pytest.param(["speak", " ", "-o", "OUT", "--fake"], "no text to speak", id="no-text"),
        pytest.param(
            ["speak", "hi", "-o", "OUT", "--fake", "--encoding", "opus"],
            "unsupported encoding 'opus'",
            id="speak-encoding",
        ),
        pytest.param(
            ["speak", "hi", "-o", "NODIR/out.wav", "--fake"],
            "cannot write NODIR/out.wav: No such file or directory",
            id="unwritable-output",
        ),
        pytest.param(["serve", "--port", "70000"], "--port 70000: not a port number", id="port"),
        pytest.param(
            ["demo", "--sentences", "99"], "argument --sentences: invalid choice", id="demo-count"
        ),
    ],
)
def test_bad_usage_in_process(
    argv: Sequence[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The same checks as above, run through main() to keep the file fast.
    for name in [k for k in os.environ if k.startswith("DEEPGRAM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEEPGRAM_API_KEY", "some-key")
    (tmp_path / "EMPTY").write_bytes(b"")
    (tmp_path / "RAW").write_bytes(b"\0" * 3200)
    monkeypatch.chdir(tmp_path)
    assert _cli.main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("dgtrio: error: ")
    assert message in captured.err
    assert not (tmp_path / "OUT").exists()


def test_help_lists_every_query_parameter_in_plain_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _cli.main(["listen", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--utterance-end-ms", "--vad-events", "--no-interim-results", "--keyterm"):
        assert option in text
    assert "``" not in text


def test_server_failure_while_running_is_one_line_with_status_1() -> None:
    # The fake server cannot decode linear32; the close reason is reported.
    raw = HELLO.read_bytes()[44:]
    result = dgtrio(
        "listen", "-", "--fake", "--speed", "max", "--encoding", "linear32", "--sample-rate",
        "8000", stdin=raw,
    )  # fmt: skip
    assert result.returncode == 2  # refused before connecting: the fake server cannot take it
    assert "linear32 audio: the fake server decodes" in error_line(result)


# -- the local engines ------------------------------------------------------------------


@needs_local
def test_demo_transcribes_offline() -> None:
    result = dgtrio("demo", "--sentences", "3", "--speed", "max")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    said = re.findall(r"^ *\d+  said   (.*)$", out, re.M)
    heard = re.findall(r"^ +heard  (.*)   \(WER \d+%\)$", out, re.M)
    assert len(said) == len(heard) == 3
    assert {"table", "people", "tomorrow"} <= words(heard[1])
    match = re.search(r"Word error rate: ([\d.]+)% \(\d+ errors in 31 words\)", out)
    assert match and float(match.group(1)) <= 50, out


@needs_local
def test_local_speak_listen_and_agent_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "book.wav"
    spoken = dgtrio("speak", BOOK, "-o", out, "--local", "--sample-rate", "48000")
    assert spoken.returncode == 0, spoken.stderr
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == 48000  # listen resamples it to 16 kHz
        assert 2.0 < wav.getnframes() / 48000 < 6.0
    heard = dgtrio("listen", out, "--local", "--speed", "max")
    assert heard.returncode == 0, heard.stderr
    [text] = utterances(heard.stdout)
    assert text[0].isupper()  # punctuate is on by default
    assert {"book", "table", "people", "tomorrow"} <= words(text)
    # The agent hears the same file and (the default echo responder) says it back.
    answer = tmp_path / "answer.wav"
    talk = dgtrio("agent", out, "--local", "--speed", "max", "-o", answer)
    assert talk.returncode == 0, talk.stderr
    user = re.search(r"^user: (.*)$", talk.stdout, re.M)
    agent = re.search(r"^agent: (.*)$", talk.stdout, re.M)
    assert user and agent, talk.stdout
    assert {"table", "tomorrow"} <= words(user.group(1))
    with wave.open(str(answer)) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0


# -- pieces, in process ------------------------------------------------------------------


async def test_audio_is_paced_like_a_live_source(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pcm = b"\1\0" * 16000 * 2  # 2 s
    audio = _cli._Input("test", io.BytesIO(), pcm, "linear16", 16000, 1, 0, {}, 2.0, is_pipe=False)
    sent: list[tuple[float, int]] = []

    async def send(chunk: bytes) -> None:
        sent.append((trio.current_time(), len(chunk)))

    seconds = await _cli._stream_audio(send, audio, speed=2.0)
    assert seconds == pytest.approx(2.0)
    assert [size for _, size in sent] == [3200] * 20  # 100 ms frames
    # Each frame leaves once it "was recorded", at twice real time.
    assert [t for t, _ in sent] == pytest.approx([(i + 1) * 0.05 for i in range(20)])


def test_long_text_is_cut_at_sentence_ends() -> None:
    sentence = "This sentence has exactly forty-four chars. "
    pieces = _cli._text_pieces(sentence * 100)
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.endswith("chars.") for p in pieces)
    assert " ".join(pieces) == (sentence * 100).strip()
    words = _cli._text_pieces("word " * 1000)  # one long sentence: cut between words
    assert [len(p) for p in words] == [1999, 1999, 1000 * 5 - 1 - 2 * 2000]
    assert " ".join(words) == ("word " * 1000).strip()


def test_status_line_is_redrawn_in_place_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    screen = _cli._Screen(interim=True)
    screen.status("hello wor")
    screen.status("hello world")
    screen.line("[   0.00s] Hello world.")
    screen.close()
    assert terminal.getvalue() == (
        "\rhello wor\x1b[K\rhello world\x1b[K\r\x1b[K[   0.00s] Hello world.\n"
    )


# -- more of the command's edges, as subprocesses ------------------------------------------


def test_every_listen_query_parameter_is_an_option() -> None:
    from dgtrio.listen.v1 import ListenV1Client

    result = dgtrio("listen", "--help")
    assert result.returncode == 0
    skip = {"self", "authorization", "request_options", "reconnect"}
    wanted = [n for n in inspect.signature(ListenV1Client.connect).parameters if n not in skip]
    assert len(wanted) >= 31
    missing = [n for n in wanted if "--" + n.replace("_", "-") not in result.stdout]
    assert missing == []


def test_listen_a_wav_from_stdin() -> None:
    result = dgtrio("listen", "-", "--fake", "--speed", "max", stdin=HELLO.read_bytes())
    assert result.returncode == 0, result.stderr
    assert utterances(result.stdout) == HELLO_TEXT


def test_listen_paces_a_file_in_real_time(tmp_path: Path) -> None:
    """At --speed 2, 2 s of audio take at least 1 s to send (the fake server never waits)."""
    path = write_wav(tmp_path / "two.wav", speech("Hello.", trailing_silence=1.7))
    seconds = (path.stat().st_size - 44) / 32000
    assert seconds >= 2.0
    started = time.monotonic()
    result = dgtrio("listen", path, "--fake", "--speed", "2")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= seconds / 2
    assert utterances(result.stdout) == ["Hello."]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_the_interim_text_is_redrawn_in_place(tmp_path: Path) -> None:
    import pty

    # 31 s of audio: long enough for the progress display.
    long = write_wav(tmp_path / "long.wav", speech("Hello from dgtrio.", trailing_silence=30.5))
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dgtrio", "listen", "--fake", "--speed", "40", str(long)],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=environment(COLUMNS="80"),
    )
    os.close(slave)
    output = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        output += data
    os.close(master)
    assert process.wait(GUARD) == 0
    assert process.stderr is not None
    assert process.stderr.read() == b""
    process.stderr.close()
    text = output.decode()
    assert re.search(r"\r\[0:00 / 0:3\d\] Hello from\x1b\[K", text)  # in progress, in place
    assert "\r\x1b[K[   0.00s] Hello from dgtrio.\r\n" in text  # then committed
    assert re.search(r"\r\[0:2\d / 0:3\d\]\x1b\[K", text)  # the position moves on


def test_a_reader_that_goes_away_stops_the_command_quietly() -> None:
    argv = ["listen", "--fake", "--speed", "max", "--json", str(HELLO)]
    process = subprocess.Popen(
        [sys.executable, "-m", "dgtrio", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    assert process.wait(GUARD) in (0, 1)
    assert b"Traceback" not in process.stderr.read()
    process.stderr.close()


async def test_a_server_closing_the_stream_is_one_line_with_status_1() -> None:
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            server, url = await start_server(nursery)
            env = environment(DEEPGRAM_API_KEY="any", DEEPGRAM_PRODUCTION_URL=url)
            # Deepgram takes linear32; the fake server closes with 1008 DATA-0000.
            argv = ["listen", "-", "--encoding", "linear32", "--sample-rate", "8000"]
            completed = await trio.run_process(
                [sys.executable, "-m", "dgtrio", *argv],
                stdin=b"\0" * 32000,
                capture_stdout=True,
                capture_stderr=True,
                env=env,
                check=False,
            )
            result = subprocess.CompletedProcess(
                completed.args,
                completed.returncode,
                completed.stdout.decode(),
                completed.stderr.decode(),
            )
            server.send_signal(signal.SIGINT)
            assert await server.wait() == 0
    assert result.returncode == 1
    message = error_line(result)
    assert "code 1008" in message and "DATA-0000" in message and "request_id=" in message


def test_a_server_that_is_not_there_is_one_line_with_status_1() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = environment(DEEPGRAM_API_KEY="k", DEEPGRAM_PRODUCTION_URL=f"ws://127.0.0.1:{port}")
    result = dgtrio("listen", HELLO, env=env)
    assert result.returncode == 1
    assert f"could not connect: all attempts to connect to 127.0.0.1:{port} failed" in (
        error_line(result)
    )


def test_serve_on_a_busy_port_is_one_line_with_status_1() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dgtrio("serve", "--engine", "fake", "--port", str(port))
    assert result.returncode == 1
    assert error_line(result).startswith(f"cannot listen on 127.0.0.1:{port}: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["speak", "word " * 600, "-o", "out.wav", "--fake"],
            "the text has 3000 characters; /v1/speak accepts at most 2400 a minute",
            id="too-much-text",
        ),
        pytest.param(["speak", "Hi.", "--fake"], "-o/--output", id="speak-without-output"),
        pytest.param(
            ["agent", "stereo.wav", "--fake"], "stereo.wav: the agent takes mono audio", id="stereo"
        ),
        pytest.param(["frobnicate"], "invalid choice: 'frobnicate'", id="unknown-command"),
        pytest.param(
            ["listen", str(HELLO), "--fake", "--endpointing", "soon"],
            "argument --endpointing: expected milliseconds or true/false, not 'soon'",
            id="bad-option-value",
        ),
        pytest.param(["listen", ".", "--fake"], "cannot read .: Is a directory", id="directory"),
    ],
)
def test_more_bad_input_as_subprocesses(argv: list[str], message: str, tmp_path: Path) -> None:
    stereo = wav_header(encoding="linear16", sample_rate=16000, channels=2, data_size=6400)
    (tmp_path / "stereo.wav").write_bytes(stereo + b"\0" * 6400)
    result = subprocess.run(
        [sys.executable, "-m", "dgtrio", *argv],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=tmp_path,
        timeout=GUARD,
        check=False,
    )
    assert result.returncode == 2
    assert message in error_line(subprocess.CompletedProcess(argv, 2, "", result.stderr))
    assert not (tmp_path / "out.wav").exists()  # nothing half-written is left behind


def test_without_the_engines_local_commands_say_how_to_install_them() -> None:
    hide = (
        "import sys; sys.modules['pocketsphinx'] = None; "
        "from dgtrio._cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for argv in (["demo"], ["listen", str(HELLO), "--local"], ["serve"]):
        result = subprocess.run(
            [sys.executable, "-c", hide, *argv],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=GUARD,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        message = error_line(subprocess.CompletedProcess(argv, 2, "", result.stderr))
        assert "pocketsphinx" in message and "pip install 'dgtrio[local]'" in message


def test_the_installed_command_is_the_same_program() -> None:
    script = Path(sys.executable).with_name("dgtrio")
    if not script.exists():
        pytest.skip("no dgtrio script next to this Python (pip install -e . creates it)")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=GUARD, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("dgtrio ")
