"""A warm pool of worker processes that run pocketsphinx streams.

Why processes: a pocketsphinx decoder holds the GIL while it decodes, so in one
process three live streams already run slower than real time. Each worker
process here loads one decoder (0.3-0.9 s, ~90 MB) and serves one stream at a
time, stream after stream; the pool keeps ``warm`` idle workers started ahead
of demand and grows on demand up to ``max_workers``.

How the trio side waits (rule 1)
    Workers are started with :func:`trio.run_process` and talk over their
    stdin/stdout pipes. trio wraps those pipes in non-blocking streams that
    park on the file descriptor with ``trio.lowlevel.wait_readable`` /
    ``wait_writable``. So the event loop never blocks, no thread is tied up per
    waiting stream, and cancellation is native: a task parked on a pipe just
    stops waiting. (``trio.to_thread.run_sync`` on a blocking ``recv`` would
    hold a thread per live stream, and cancelling it would mean abandoning a
    thread that is still blocked in ``recv`` and will swallow the next reply.)

Wire format (rule 2)
    A frame is a 4-byte big-endian length, then a 1-byte kind, then a body.
    The parent sends ``O`` (open a stream; JSON settings), ``A`` (audio; raw
    PCM), ``F`` (finalize) and ``C`` (close the stream, reset the decoder).
    The worker answers *every* request with exactly one ``E`` (JSON events) or
    ``X`` (an error message), and announces itself once with ``R`` (ready) or
    ``X`` (could not load). No pickle: nothing executable crosses the pipe.

Cancellation (rule 3)
    A request is "send a frame, then read its reply"; the pipe must never be
    left with half a frame in either direction:

    * The send is preceded by a cancellation check and then runs *shielded*
      (bounded by :data:`SEND_TIMEOUT`): once the first byte is written the
      whole frame goes. A worker that stops reading for that long is killed.
    * The reply is read *unshielded*, into a per-worker buffer, so a cancelled
      wait loses nothing: the worker still owes that reply, and the next
      request on the stream reads it first and returns its events ahead of its
      own. A cancelled ``feed`` therefore never corrupts the worker: its audio
      was either not sent at all (cancelled before sending) or was recognised
      and its events arrive with the next call.
    * Leaving a stream's ``async with`` never awaits (it may run because the
      task was cancelled). The worker goes to a pool task that drains owed
      replies, sends ``C`` and only then returns it to the idle list; if
      anything about that fails or takes longer than :data:`RECYCLE_TIMEOUT`,
      the worker is killed and replaced.

Worker death (rule 4)
    Each worker has a pool task waiting for its process to exit. When a
    worker dies (crash, OOM, ``kill -9``), a stream using it gets
    :class:`WorkerCrashedError` from its next (or current) call, an idle one is
    dropped, and the pool starts a replacement to stay warm. A worker that
    fails to *start* (pocketsphinx missing, bad decoder configuration) fails
    the checkouts waiting for it with its error; the next checkout tries again.

Shutdown (rule 5)
    Leaving the pool's ``async with`` closes every worker's stdin (workers exit
    at end of input), waits up to :data:`SHUTDOWN_GRACE` seconds, shielded,
    then cancels the pool's tasks, which kills any worker still running.
    Workers ignore SIGINT, so Ctrl+C reaches only the parent and shutdown stays
    orderly; they also exit by themselves if the parent dies (their stdin ends).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import attrs
import trio

from .._errors import DeepgramError
from .._server.engines import (
    EngineError,
    Hypothesis,
    RecognizedWord,
    RecognizerEvent,
    SpeechBegan,
)

if TYPE_CHECKING:
    from ._sphinx import StreamSettings

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "LocalEngineError",
    "PoolStatistics",
    "WorkerCrashedError",
    "WorkerPool",
    "open_worker_pool",
]

#: Longest a worker may take to accept one request frame before it is killed.
SEND_TIMEOUT = 10.0
#: Longest recycling a released worker (drain, close, reset) may take.
RECYCLE_TIMEOUT = 30.0
#: How long shutdown waits for workers to exit at end of input before killing them.
SHUTDOWN_GRACE = 5.0

_HEADER = 4
_READ_SIZE = 65536


class LocalEngineError(DeepgramError, EngineError):
    """The local speech engine failed: missing dependency, worker failure, closed pool."""


class WorkerCrashedError(LocalEngineError):
    """The worker process serving a stream died; the stream cannot continue.

    The pool replaces the worker, so opening a new stream works.

    Attributes:
        pid: The worker's process id.
        returncode: Its exit status when known (negative: killed by that
            signal, as in :mod:`subprocess`), else ``None``.
    """

    def __init__(self, pid: int, returncode: int | None) -> None:
        super().__init__(pid, returncode)
        self.pid = pid
        self.returncode = returncode

    def __str__(self) -> str:
        if self.returncode is None:
            how = "exited unexpectedly"
        elif self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            how = f"was killed by {name}"
        else:
            how = f"exited with status {self.returncode}"
        return f"the speech worker process {self.pid} {how}; the stream cannot continue"


@attrs.frozen
class PoolStatistics:
    """A snapshot of a :class:`WorkerPool`.

    Attributes:
        idle: Workers ready for a stream.
        busy: Workers serving (or being recycled after) a stream.
        starting: Workers being started.
        started: Workers started successfully since the pool opened.
        lost: Workers that died, or were killed, while the pool was open.
    """

    idle: int
    busy: int
    starting: int
    started: int
    lost: int


# -- framing and event encoding ---------------------------------------------------


def _frame(kind: bytes, body: bytes = b"") -> bytes:
    return (len(body) + 1).to_bytes(_HEADER, "big") + kind + body


def _encode_events(events: Sequence[RecognizerEvent]) -> bytes:
    out: list[list[Any]] = []
    for event in events:
        if isinstance(event, SpeechBegan):
            out.append(["b", event.time])
        else:
            words = [[w.word, w.start, w.end, w.confidence] for w in event.words]
            out.append(["h", event.final, event.end_of_speech, event.time, words])
    return json.dumps(out, separators=(",", ":")).encode()


def _decode_events(body: bytes) -> list[RecognizerEvent]:
    events: list[RecognizerEvent] = []
    for item in json.loads(body):
        if item[0] == "b":
            events.append(SpeechBegan(float(item[1])))
        else:
            words = tuple(
                RecognizedWord(str(w), float(s), float(e), float(c)) for w, s, e, c in item[4]
            )
            events.append(Hypothesis(words, bool(item[1]), bool(item[2]), float(item[3])))
    return events


def _settings_json(settings: StreamSettings) -> bytes:
    return json.dumps(attrs.asdict(settings)).encode()


# -- the worker process -------------------------------------------------------------


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None  # end of input: the parent closed the pipe or died
    return data


def _worker_main(config: Mapping[str, Any]) -> None:  # pragma: no cover - runs in the worker
    """Serve requests on stdin/stdout until stdin ends (the worker's entry point)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol on a private copy of stdout, and point fd 1 at stderr so
    # that stray prints from C libraries cannot corrupt a frame.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # A broken pipe means the parent went away: nobody is left to answer.
    with suppress(BrokenPipeError), replies:
        _serve(config, sys.stdin.buffer, replies)


def _serve(
    config: Mapping[str, Any], requests: BinaryIO, replies: BinaryIO
) -> None:  # pragma: no cover - runs in the worker
    def reply(kind: bytes, body: bytes = b"") -> None:
        replies.write(_frame(kind, body))
        replies.flush()

    from ._sphinx import SphinxModel, SphinxStream, StreamSettings

    try:
        model = SphinxModel(**config)
    except Exception as exc:
        reply(b"X", str(exc).encode())
        return
    info = {"pid": os.getpid(), "version": model.version, "load_seconds": model.load_seconds}
    reply(b"R", json.dumps(info).encode())
    stream: SphinxStream | None = None
    while True:
        header = _read_exact(requests, _HEADER)
        if header is None:
            return
        payload = _read_exact(requests, int.from_bytes(header, "big"))
        if payload is None:
            return
        kind, body = payload[:1], payload[1:]
        try:
            if kind == b"O":
                if stream is not None:
                    stream.close()
                stream = SphinxStream(model, StreamSettings(**json.loads(body)))
                events: Sequence[RecognizerEvent] = ()
            elif kind == b"C":
                if stream is not None:
                    stream.close()
                stream = None
                events = ()
            elif stream is None:
                raise RuntimeError("no stream is open on this worker")
            elif kind == b"A":
                events = stream.feed(body)
            elif kind == b"F":
                events = stream.finalize()
            else:
                raise RuntimeError(f"unknown request {kind!r}")
        except Exception as exc:
            reply(b"X", f"{type(exc).__name__}: {exc}".encode())
        else:
            reply(b"E", _encode_events(events))


def _worker_command(config: Mapping[str, Any]) -> list[str]:
    # The worker imports dgtrio from wherever this process did, even if that
    # directory was put on sys.path at run time (pytest, a checkout).
    root = str(Path(__file__).resolve().parents[2])
    boot = (
        "import json, sys; a = json.loads(sys.argv[1]); sys.path[:0] = a['path']; "
        "from dgtrio.local._pool import _worker_main; _worker_main(a['config'])"
    )
    return [sys.executable, "-c", boot, json.dumps({"path": [root], "config": dict(config)})]


async def _kill(process: trio.Process) -> None:
    process.kill()


# -- the parent's view of one worker --------------------------------------------


@attrs.define(eq=False)
class _Worker:
    """One worker process and the parent's end of its pipes."""

    process: trio.Process
    _send: trio.abc.SendStream
    _receive: trio.abc.ReceiveStream
    _buffer: bytearray = attrs.Factory(bytearray)
    _owed: int = 0  # replies the worker still owes us (see rule 3)
    _lock: trio.Lock = attrs.Factory(trio.Lock)
    _failure: LocalEngineError | None = None
    info: dict[str, Any] = attrs.Factory(dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def usable(self) -> bool:
        return self._failure is None and self.process.returncode is None

    def fail(self, error: LocalEngineError) -> None:
        """Mark the worker unusable and make sure its process goes away."""
        if self._failure is None:
            self._failure = error
        if self.process.returncode is None:
            self.process.kill()

    async def _died(self) -> NoReturn:
        """Raise the error for a worker whose pipe broke or ended."""
        if self._failure is None:
            # The pipe ends a moment before the process is reaped; wait a little
            # so the error can say how it died. (A cancel here is harmless: the
            # next call finds the pipe ended again.)
            with trio.move_on_after(1.0):
                await self.process.wait()
        error = self._failure or WorkerCrashedError(self.pid, self.process.returncode)
        self.fail(error)
        raise error

    async def _read_frame(self) -> tuple[bytes, bytes]:
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER:
                size = int.from_bytes(buffer[:_HEADER], "big")
                if len(buffer) >= _HEADER + size:
                    frame = bytes(buffer[_HEADER : _HEADER + size])
                    del buffer[: _HEADER + size]
                    return frame[:1], frame[1:]
            try:
                data = await self._receive.receive_some(_READ_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                await self._died()
            buffer += data

    async def handshake(self) -> None:
        """Wait for the worker's ready (or failure) announcement."""
        kind, body = await self._read_frame()
        if kind == b"X":
            error = LocalEngineError(f"the speech worker could not start: {body.decode()}")
            self.fail(error)
            raise error
        self.info = json.loads(body)

    async def request(self, kind: bytes, body: bytes = b"") -> list[RecognizerEvent]:
        """Send one request and return its events, plus those of any reply owed."""
        async with self._lock:
            if self._failure is not None:
                # A copy per raise, so tracebacks do not pile up on one object.
                raise copy.copy(self._failure)
            events: list[RecognizerEvent] = []
            error: LocalEngineError | None = None
            while self._owed:  # replies to requests whose caller was cancelled
                reply = await self._read_frame()
                self._owed -= 1
                error = error or self._collect(reply, events)
            if error is not None:
                raise error
            await trio.lowlevel.checkpoint_if_cancelled()
            broken = False
            with trio.CancelScope(shield=True), trio.move_on_after(SEND_TIMEOUT) as timer:
                try:
                    await self._send.send_all(_frame(kind, body))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    broken = True
            if broken:
                await self._died()
            if timer.cancelled_caught:
                stalled = LocalEngineError(f"speech worker {self.pid} stopped reading requests")
                self.fail(stalled)
                raise stalled
            self._owed += 1
            reply = await self._read_frame()
            self._owed -= 1
            error = self._collect(reply, events)
            if error is not None:
                raise error
            return events

    @staticmethod
    def _collect(
        reply: tuple[bytes, bytes], events: list[RecognizerEvent]
    ) -> LocalEngineError | None:
        kind, body = reply
        if kind == b"E":
            events.extend(_decode_events(body))
            return None
        return LocalEngineError(f"the speech worker failed: {body.decode(errors='replace')}")

    async def close_input(self) -> None:
        """Close the worker's stdin; it exits once it has read everything."""
        await self._send.aclose()


# -- the pool ---------------------------------------------------------------------


@attrs.define(eq=False)
class RemoteStream:
    """A recognition stream served by a pool worker (a :class:`~dgtrio._server.engines.Recognizer`).

    Calls are serialised; do not use the stream after its ``async with`` ends.
    """

    _worker: _Worker
    _released: bool = False

    @property
    def worker_pid(self) -> int:
        """The process id of the worker serving this stream."""
        return self._worker.pid

    async def _call(self, kind: bytes, body: bytes = b"") -> list[RecognizerEvent]:
        if self._released:
            await trio.lowlevel.checkpoint()
            raise LocalEngineError("the recognition stream is closed")
        return await self._worker.request(kind, body)

    async def feed(self, pcm: bytes) -> Sequence[RecognizerEvent]:
        """Recognise the next chunk of 16-bit mono PCM (see the module docstring, rule 3)."""
        return await self._call(b"A", bytes(pcm))

    async def finalize(self) -> Sequence[RecognizerEvent]:
        """Settle the utterance in progress; the last event is a final hypothesis."""
        return await self._call(b"F")


@attrs.define(eq=False)
class WorkerPool:
    """Worker processes running pocketsphinx, kept warm (see the module docstring).

    Create one with :func:`open_worker_pool`. The pool grows to the peak number
    of concurrent streams (up to ``max_workers``) and keeps those workers.
    """

    _nursery: trio.Nursery
    _warm: int
    _max_workers: int
    _config: Mapping[str, Any]
    _start_timeout: float
    _idle: list[_Worker] = attrs.Factory(list)
    _workers: set[_Worker] = attrs.Factory(set)  # started and not yet exited
    _starting: int = 0
    _waiting: int = 0
    _started: int = 0
    _lost: int = 0
    _closing: bool = False
    _wakeup: trio.lowlevel.ParkingLot = attrs.Factory(trio.lowlevel.ParkingLot)
    _start_failures: int = 0
    _last_start_error: LocalEngineError | None = None
    _all_gone: trio.Event = attrs.Factory(trio.Event)

    def statistics(self) -> PoolStatistics:
        """Count idle, busy and starting workers, and workers started and lost."""
        idle = sum(1 for w in self._idle if w.usable)
        busy = sum(1 for w in self._workers if w.usable) - idle
        return PoolStatistics(idle, busy, self._starting, self._started, self._lost)

    # -- workers' lifecycle --------------------------------------------------

    def _room(self) -> bool:
        return not self._closing and len(self._workers) + self._starting < self._max_workers

    def _spawn(self) -> None:
        self._starting += 1
        self._nursery.start_soon(self._run_worker)

    def _top_up(self) -> None:
        """Start workers until ``warm`` are idle or starting (within ``max_workers``).

        After a failed start only checkouts start workers, so a broken
        installation does not respawn in a loop.
        """
        if self._last_start_error is not None:
            return
        idle = sum(1 for w in self._idle if w.usable)
        while idle + self._starting < self._warm and self._room():
            self._spawn()

    async def _run_worker(self) -> None:
        """Start one worker, hand it to the pool, and watch it until it exits.

        Never raises (except Cancelled): start failures are parked for the
        checkouts waiting on them.
        """
        worker: _Worker | None = None
        error: LocalEngineError | None = None
        try:
            async with trio.open_nursery() as nursery:
                try:
                    process: trio.Process = await nursery.start(
                        partial(
                            trio.run_process,
                            _worker_command(self._config),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            check=False,
                            deliver_cancel=_kill,
                        )
                    )
                except OSError as exc:  # could not even start the interpreter
                    error = LocalEngineError(f"cannot start a speech worker: {exc}")
                    return
                assert process.stdin is not None
                assert process.stdout is not None
                candidate = _Worker(process, process.stdin, process.stdout)
                try:
                    with trio.fail_after(self._start_timeout):
                        await candidate.handshake()
                except LocalEngineError as exc:
                    error = exc
                except trio.TooSlowError:
                    error = LocalEngineError(
                        f"the speech worker did not start within {self._start_timeout} s"
                    )
                if error is not None:
                    candidate.fail(error)
                    return
                worker = candidate
                self._starting -= 1
                self._started += 1
                self._last_start_error = None
                self._workers.add(worker)
                if self._closing:
                    await worker.close_input()  # shutdown began while it started
                self._add_idle(worker)
                # run_process keeps this nursery open until the process exits.
        finally:
            if worker is None:
                self._starting -= 1
                if error is not None:
                    self._start_failures += 1
                    self._last_start_error = error
                    self._wakeup.unpark_all()
            else:
                self._workers.discard(worker)
                if self._closing:
                    worker.fail(LocalEngineError("the local engine is closed"))
                else:
                    self._lost += 1
                    worker.fail(WorkerCrashedError(worker.pid, worker.process.returncode))
            if self._closing and not self._workers and not self._starting:
                self._all_gone.set()
            self._top_up()

    def _add_idle(self, worker: _Worker) -> None:
        if self._closing or not worker.usable:
            return
        self._idle.append(worker)
        self._wakeup.unpark()

    async def _recycle(self, worker: _Worker) -> None:
        """Reset a released worker and return it to the idle list (rule 3). Never raises."""
        with trio.move_on_after(RECYCLE_TIMEOUT) as timer:
            try:
                await worker.request(b"C")
            except LocalEngineError as exc:
                worker.fail(exc)
                return
        if timer.cancelled_caught:
            worker.fail(LocalEngineError(f"speech worker {worker.pid} did not reset in time"))
            return
        self._add_idle(worker)

    # -- public ----------------------------------------------------------

    async def _checkout(self) -> _Worker:
        # Checkpoint first: once a worker is popped, nothing may be cancelled
        # before the caller owns it.
        await trio.lowlevel.checkpoint()
        failures = self._start_failures
        while True:
            if self._closing:
                raise LocalEngineError("the local engine is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.usable:
                    self._top_up()
                    return worker
            if self._start_failures != failures and self._last_start_error is not None:
                raise self._last_start_error
            # Make sure a worker is on its way for every waiting checkout.
            if self._starting <= self._waiting and self._room():
                self._spawn()
            self._waiting += 1
            try:
                await self._wakeup.park()
            finally:
                self._waiting -= 1

    @asynccontextmanager
    async def open_stream(self, settings: StreamSettings) -> AsyncIterator[RemoteStream]:
        """Check out a worker (waiting for one if all are busy) and open a stream on it.

        Raises:
            LocalEngineError: A worker could not start, or the pool is closed.
        """
        for attempt in range(2):
            worker = await self._checkout()
            try:
                await worker.request(b"O", _settings_json(settings))
            except WorkerCrashedError:
                # It died while idle, before the pool noticed: try another once.
                if attempt:
                    raise
            except BaseException:
                self._release(worker)
                raise
            else:
                break
        stream = RemoteStream(worker)
        try:
            yield stream
        finally:
            stream._released = True
            self._release(worker)

    def _release(self, worker: _Worker) -> None:
        """Take back a checked-out worker without waiting (rule 3)."""
        if worker.usable and not self._closing:
            self._nursery.start_soon(self._recycle, worker)
        else:
            worker.fail(LocalEngineError("the local engine is closed"))

    async def _wait_ready(self) -> None:
        failures = self._start_failures
        while self._starting and self._start_failures == failures:
            await self._wakeup.park()
        if self._start_failures != failures and self._last_start_error is not None:
            raise self._last_start_error

    async def _shutdown(self) -> None:
        self._closing = True
        self._wakeup.unpark_all()
        self._all_gone = trio.Event()
        with trio.move_on_after(SHUTDOWN_GRACE, shield=True):
            for worker in list(self._workers):
                await worker.close_input()
            if self._workers or self._starting:
                await self._all_gone.wait()


def _reraise(exc: BaseException) -> NoReturn:
    context = exc.__context__  # a plain raise inside except would overwrite it
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


@asynccontextmanager
async def open_worker_pool(
    *,
    warm: int = 1,
    max_workers: int | None = None,
    decoder_config: Mapping[str, str | int | float | bool | None] | None = None,
    start_timeout: float = 60.0,
) -> AsyncIterator[WorkerPool]:
    """Start a pool of pocketsphinx worker processes; shut it down on exit.

    Entering waits until ``warm`` workers are ready, so a missing dependency
    fails here rather than on the first stream.

    Args:
        warm: Idle workers to keep ready (0 starts workers only on demand).
        max_workers: Most worker processes at once, busy or idle; a checkout
            beyond that waits for a stream to end. Default: four per CPU.
        decoder_config: Extra pocketsphinx configuration for every worker's
            decoder (see :class:`~dgtrio.local._sphinx.SphinxModel`).
        start_timeout: Seconds a worker may take to start and load its model.

    Raises:
        LocalEngineError: A worker could not start. An error raised in the
            ``async with`` body comes out as itself, not wrapped in an
            exception group.
    """
    if warm < 0:
        raise ValueError(f"warm must be >= 0, not {warm}")
    limit = 4 * (os.cpu_count() or 1) if max_workers is None else max_workers
    if limit < max(1, warm):
        raise ValueError(f"max_workers must be at least max(1, warm), not {max_workers}")
    try:
        async with trio.open_nursery() as nursery:
            pool = WorkerPool(nursery, warm, limit, dict(decoder_config or {}), start_timeout)
            try:
                pool._top_up()
                await pool._wait_ready()
                yield pool
            finally:
                await pool._shutdown()
                nursery.cancel_scope.cancel(reason="dgtrio local worker pool closed")
    except BaseExceptionGroup as group:
        # Our tasks never raise (rules 3-4), so a group holds the caller's own
        # error plus Cancelled: re-raise that one error unwrapped (STYLE 3.5).
        leaves = _leaves(group)
        fatal = [e for e in leaves if isinstance(e, (KeyboardInterrupt, SystemExit))]
        real = [e for e in leaves if not isinstance(e, trio.Cancelled)]
        if fatal:
            _reraise(fatal[0])
        if len(real) == 1:
            _reraise(real[0])
        if not real:
            _reraise(leaves[0])
        raise LocalEngineError(
            "several errors at once in the local engine's pool (a bug; please report it)"
        ) from group


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        if isinstance(inner, BaseExceptionGroup):
            found.extend(_leaves(inner))
        else:
            found.append(inner)
    return found
