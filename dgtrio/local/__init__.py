"""Offline speech engines for the local Deepgram-protocol server (``dgtrio[local]``).

:class:`LocalEngine` lets the local server transcribe and speak for real with
no API key and no network: speech-to-text is pocketsphinx 5 (CMU, BSD; US
English acoustic model, dictionary and language model shipped in its wheel),
text-to-speech is espeak-ng (GPL-3.0-or-later, loaded at run time through the
``espeakng-loader`` wheel, or a system ``libespeak-ng.so.1``). Install with::

    pip install 'dgtrio[local]'

Nothing is downloaded at run time.

:func:`open_local_deepgram` runs the Deepgram-protocol server with these
engines inside your program (``dgtrio serve`` runs it standalone, and
``--local`` on the ``dgtrio`` commands starts it in-process)::

    async with open_local_deepgram() as server:
        client = server.client()  # no key, no network

How it behaves
--------------

* **Recognition** runs in worker processes (a pocketsphinx decoder holds the
  GIL), one stream per worker, from a pool kept warm; several streams run at
  real time on one core. Input at any sample rate is resampled to 16 kHz;
  8 kHz telephony audio works but recognises worse.
* **Events**: :class:`~dgtrio._server.engines.SpeechBegan` when pocketsphinx's
  voice-activity endpointer hears speech, partial hypotheses as the decoder
  goes (at most every ``partial_interval`` of audio), and a final hypothesis
  with word times (seconds of audio from the stream start) and confidences
  (lattice posteriors; uncalibrated).
* **Endpointing**: the endpointer decides over a fixed 300 ms window, which is
  the floor: ``endpointing_ms`` below :data:`ENDPOINTING_FLOOR_MS` behaves like
  300 ms (Deepgram's default of 10 ms included); larger values hold the
  utterance open for the extra silence and continue it if speech resumes.
  ``None`` ends utterances only on ``finalize`` (plus a safety valve after two
  minutes of speech).
* **Determinism**: each stream starts from the decoder's initial cepstral
  mean, so the same audio gives the same words on any worker. Because that
  initial mean fits most audio poorly, a stream's first utterance is decoded a
  second time with the mean measured on it (``refine_first_utterance``; it
  delays that one final by ~0.1-0.2 s per second of speech). espeak-ng's
  output differs slightly between calls: compare transcripts with a
  tolerance, never hash synthesized audio.
* **Accuracy**: espeak-ng's robotic voice is hard for pocketsphinx. With the
  default voice (``en-us+klatt4``) expect about 25 % word errors on ordinary
  sentences, 35 % with ``en-us+m6`` and 70 % with espeak's plain ``en-us``;
  8 kHz µ-law roughly doubles the errors (``benchmarks/local_engines.py``
  measures this). Assert on keywords or with a WER bound
  (:func:`word_error_rate`), not on exact text.
"""

from ._engine import LocalEngine
from ._espeak import DEFAULT_VOICE, EspeakError
from ._pool import LocalEngineError, PoolStatistics, WorkerCrashedError
from ._server import missing_dependencies, open_local_deepgram, supports_language
from ._sphinx import ENDPOINTING_FLOOR_MS, normalize_words, word_error_rate

__all__ = [
    "DEFAULT_VOICE",
    "ENDPOINTING_FLOOR_MS",
    "EspeakError",
    "LocalEngine",
    "LocalEngineError",
    "PoolStatistics",
    "WorkerCrashedError",
    "missing_dependencies",
    "normalize_words",
    "open_local_deepgram",
    "supports_language",
    "word_error_rate",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
