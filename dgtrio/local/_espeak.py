"""In-memory speech synthesis with espeak-ng, through ctypes.

espeak-ng has no Python API worth depending on, and running the ``espeak-ng``
program means a subprocess per sentence and a WAV header with placeholder
sizes. The C library is small and stable, so this module binds the five
functions it needs and nothing else:

* ``espeak_Initialize`` in synchronous mode: ``espeak_Synth`` returns only
  when the text is spoken, calling our callback with 16-bit mono chunks (about
  50 ms each) at the library's native rate, 22 050 Hz. Nothing touches the
  disk and no process is started.
* ``espeak_SetVoiceByName`` and ``espeak_SetParameter(espeakRATE)`` for the
  voice and speed.
* ``espeak_Synth`` and ``espeak_Synchronize``.

The library keeps its state in globals and is not re-entrant, so there is one
:class:`Espeak` per process (:func:`get_espeak`) and every call that touches
the library holds one process-wide :class:`threading.Lock`. Synthesis runs at
hundreds of times real time, so the lock is never held for long.

Where the library comes from: the ``espeakng-loader`` wheel (the
``dgtrio[local]`` extra) ships ``libespeak-ng`` and its data; without it we fall
back to a system ``libespeak-ng.so.1`` found by :func:`ctypes.util.find_library`,
which uses its own compiled-in data directory.

espeak-ng's output is *not* byte-identical from one call to the next in the
same process (wave-generator state carries over), so never hash it in tests.
espeak-ng is GPL-3.0-or-later; dgtrio loads it at run time and does not
vendor it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable

import attrs

from ._pool import LocalEngineError

__all__ = [
    "DEFAULT_VOICE",
    "Espeak",
    "EspeakError",
    "get_espeak",
]

#: The voice used when nothing else is asked for: a Klatt-synthesis variant of
#: US English that pocketsphinx recognises better than espeak's default voice
#: (see ``benchmarks/local_engines.py``).
DEFAULT_VOICE = "en-us+klatt4"

#: espeak-ng's default speaking rate, in words per minute (``espeakRATE_NORMAL``).
NORMAL_WPM = 175
#: The range espeak-ng accepts for ``espeakRATE``.
MIN_WPM, MAX_WPM = 80, 450

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EE_OK = 0
_BUFFER_MS = 50

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events): we never
# read the events, so they stay an opaque pointer and need no struct layout.
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(LocalEngineError):
    """espeak-ng could not be loaded, or refused a request."""


def _locate() -> tuple[str, str | None]:
    """Find the shared library and its data directory (``None``: compiled-in)."""
    try:
        import espeakng_loader  # type: ignore[import-untyped]  # no stubs upstream
    except ImportError:
        pass
    else:
        library: str = espeakng_loader.get_library_path()
        data: str = espeakng_loader.get_data_path()
        return library, data
    system = ctypes.util.find_library("espeak-ng")
    if system is None:
        raise EspeakError(
            "espeak-ng is not available: install the 'dgtrio[local]' extra "
            "(espeakng-loader) or the system libespeak-ng"
        )
    return system, None


def _bind(library: ctypes.CDLL) -> None:
    """Declare the prototypes of the functions we call."""
    library.espeak_Initialize.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    library.espeak_Initialize.restype = ctypes.c_int
    library.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    library.espeak_SetSynthCallback.restype = None
    library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    library.espeak_SetVoiceByName.restype = ctypes.c_int
    library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    library.espeak_SetParameter.restype = ctypes.c_int
    library.espeak_Synth.argtypes = [
        ctypes.c_void_p,  # text
        ctypes.c_size_t,  # size (unused in synchronous mode)
        ctypes.c_uint,  # position
        ctypes.c_int,  # position type
        ctypes.c_uint,  # end position
        ctypes.c_uint,  # flags
        ctypes.c_void_p,  # unique identifier out-parameter
        ctypes.c_void_p,  # user data
    ]
    library.espeak_Synth.restype = ctypes.c_int
    library.espeak_Synchronize.argtypes = []
    library.espeak_Synchronize.restype = ctypes.c_int


def words_per_minute(speed: float) -> int:
    """espeak-ng's rate for a speaking-rate multiplier (1.0 is normal), clamped."""
    if not speed > 0:
        raise ValueError(f"speed must be positive, not {speed!r}")
    return max(MIN_WPM, min(MAX_WPM, round(NORMAL_WPM * speed)))


@attrs.define(eq=False)
class Espeak:
    """The process's espeak-ng library, initialised and ready to speak.

    Use :func:`get_espeak` rather than constructing one: the library is
    process-global, so a second instance would fight the first over the
    callback. Every method is thread-safe (they serialise on one lock) and
    blocking; call them from a worker thread in async code.

    Attributes:
        sample_rate: The rate of the PCM the library produces (22 050 Hz).
        library_path: Where the shared library was loaded from.
        data_path: Its data directory, or ``None`` for the compiled-in one.
    """

    sample_rate: int
    library_path: str
    data_path: str | None
    _library: ctypes.CDLL = attrs.field(repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)
    # The C callback must stay referenced for as long as the library may call it.
    _callback: object = attrs.field(default=None, repr=False)
    _sink: Callable[[bytes], bool] | None = attrs.field(default=None, repr=False)
    _sink_error: BaseException | None = attrs.field(default=None, repr=False)
    _known_voices: dict[str, bool] = attrs.field(factory=dict, repr=False)

    @classmethod
    def _load(cls) -> Espeak:
        library_path, data_path = _locate()
        try:
            library = ctypes.CDLL(library_path)
        except OSError as exc:
            raise EspeakError(f"cannot load espeak-ng from {library_path}: {exc}") from exc
        _bind(library)
        rate = library.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            _BUFFER_MS,
            data_path.encode() if data_path is not None else None,
            _INITIALIZE_DONT_EXIT,
        )
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (data directory {data_path!r})")
        self = cls(rate, library_path, data_path, library)
        self._callback = _SynthCallback(self._on_audio)
        library.espeak_SetSynthCallback(self._callback)
        return self

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int) -> int:
        # Called by the library on the synthesising thread, with the lock held.
        # An exception must not escape into C: park it and abort synthesis.
        sink = self._sink
        if count <= 0 or sink is None:
            return 0
        try:
            stop = sink(ctypes.string_at(wav, count * 2))
        except BaseException as exc:
            self._sink_error = exc
            return 1
        return 1 if stop else 0

    def _select_voice(self, voice: str) -> bool:
        """Make ``voice`` current; ``False`` if espeak-ng does not know it (lock held)."""
        if "\0" in voice or not voice:
            return False
        ok = self._library.espeak_SetVoiceByName(voice.encode()) == _EE_OK
        self._known_voices[voice] = ok
        return bool(ok)

    def has_voice(self, voice: str) -> bool:
        """Whether espeak-ng knows ``voice`` (``en-us``, ``en-us+klatt4``, ``fr``, ...)."""
        with self._lock:
            known = self._known_voices.get(voice)
            if known is None:
                known = self._select_voice(voice)
            return known

    def speak(
        self,
        text: str,
        on_audio: Callable[[bytes], bool],
        *,
        voice: str = DEFAULT_VOICE,
        speed: float = 1.0,
    ) -> None:
        """Synthesise ``text``, handing each chunk of PCM to ``on_audio`` as it is made.

        ``on_audio`` receives 16-bit mono PCM at :attr:`sample_rate` and returns
        ``True`` to stop early. It runs with the library lock held, so it must
        be quick and must not call back into this object. An exception it
        raises stops synthesis and is re-raised here.

        Raises:
            EspeakError: Unknown voice, or espeak-ng reported an error.
            ValueError: ``speed`` is not positive.
        """
        wpm = words_per_minute(speed)
        data = text.replace("\0", " ").encode("utf-8") + b"\0"
        with self._lock:
            if not self._select_voice(voice):
                raise EspeakError(f"espeak-ng has no voice {voice!r}")
            self._library.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            self._sink, self._sink_error = on_audio, None
            try:
                status = self._library.espeak_Synth(
                    data, len(data), 0, 0, 0, _CHARS_UTF8, None, None
                )
                self._library.espeak_Synchronize()
                error = self._sink_error
            finally:
                self._sink, self._sink_error = None, None
        if error is not None:
            raise error
        if status != _EE_OK:
            raise EspeakError(f"espeak_Synth failed with status {status}")

    def synthesize(self, text: str, *, voice: str = DEFAULT_VOICE, speed: float = 1.0) -> bytes:
        """All of ``text`` as 16-bit mono PCM at :attr:`sample_rate` (see :meth:`speak`)."""
        chunks: list[bytes] = []

        def collect(chunk: bytes) -> bool:
            chunks.append(chunk)
            return False

        self.speak(text, collect, voice=voice, speed=speed)
        return b"".join(chunks)


_instance: Espeak | None = None
_instance_lock = threading.Lock()


def get_espeak() -> Espeak:
    """Return the process's :class:`Espeak`, loading the library on first use.

    Raises:
        EspeakError: espeak-ng is not installed or failed to initialise.
    """
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = Espeak._load()
        return _instance
