"""Speech from espeak-ng, in process through libespeak-ng (ctypes): one word at a time.

Each call returns the word's samples (float32, mono) at espeak's own sample rate with the
leading and trailing silence trimmed. A lock serialises calls: the library is not reentrant.
EspeakSinger sings a vocal line with it (the singing transform, singing.py): the default singer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from musicd.engines.base import Availability, Singer
from musicd.errors import ResourceMissingError

if TYPE_CHECKING:
    from musicd.vocals.melody import VocalLine

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ESPEAK_RATE = 1
_ESPEAK_PITCH = 3
_ESPEAK_RANGE = 4
_EE_OK = 0
SPEECH_RATE_WPM = 150  # a little slower than espeak's default: longer, clearer vowels
SILENCE_DBFS = -45.0

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class EspeakInfo:
    sample_rate: int
    version: str


class _Espeak:
    """The loaded library; one per process."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self.lib = ctypes.CDLL(name)
        except OSError as exc:
            raise ResourceMissingError(
                "espeak-ng is not installed (libespeak-ng.so.1 not found); install the Debian "
                "package espeak-ng (`apt-get install espeak-ng`) or set vocals.engine: none"
            ) from exc
        lib = self.lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, None, 0)
        if rate <= 0:
            raise ResourceMissingError(
                "espeak-ng could not start (its data folder is missing?); "
                "reinstall the Debian package espeak-ng"
            )
        self.sample_rate = int(rate)
        self.version = (lib.espeak_Info(None) or b"").decode("utf-8", "replace")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: ctypes would free it
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: tuple[str, int] | None = None
        self.lock = threading.Lock()

    def _collect(self, wav: Any, count: int, _events: int) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def synth(self, text: str, voice: str, pitch: int = 40) -> np.ndarray:
        with self.lock:
            if (voice, pitch) != self._voice:
                if not any(
                    self.lib.espeak_SetVoiceByName(name.encode()) == _EE_OK
                    for name in _voice_candidates(voice)
                ):
                    raise ResourceMissingError(
                        f"espeak-ng has no voice {voice!r}; `espeak-ng --voices` lists them"
                    )
                self._voice = (voice, pitch)
                self.lib.espeak_SetParameter(_ESPEAK_RATE, SPEECH_RATE_WPM, 0)
                self.lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0)
                self.lib.espeak_SetParameter(_ESPEAK_RANGE, 10, 0)
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(data)
            self.lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0


def _voice_candidates(voice: str) -> list[str]:
    """The name, then its language without the region ("fr-fr+f3" -> "fr+f3"): the library
    looks voices up by file name, where the command line also matches languages."""
    name, plus, variant = voice.partition("+")
    names = [voice, name.split("-")[0] + plus + variant]
    if plus:
        names += [name, name.split("-")[0]]
    return list(dict.fromkeys(names))


_instance: _Espeak | None = None
_instance_lock = threading.Lock()


def _engine() -> _Espeak:
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = _Espeak()
        return _instance


def espeak_info() -> EspeakInfo:
    """The library's sample rate and version (loads it; ResourceMissingError if absent)."""
    engine = _engine()
    return EspeakInfo(engine.sample_rate, engine.version)


def trim_silence(audio: np.ndarray, sample_rate: int, threshold_dbfs: float = SILENCE_DBFS) -> np.ndarray:
    """The audio between the first and last 5 ms frame louder than the threshold."""
    frame = max(1, sample_rate // 200)
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms) > threshold_dbfs)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def speak_word(text: str, voice: str) -> tuple[np.ndarray, int]:
    """(samples, sample_rate): `text` spoken by espeak-ng voice `voice`, silence trimmed."""
    engine = _engine()
    return trim_silence(engine.synth(text, voice), engine.sample_rate), engine.sample_rate


# The spoken voice each register starts from: a variant near the sung range keeps the pitch
# shift small (espeak-ng variants: +m3 male, +f3 female).
REGISTER_VARIANTS: dict[str, tuple[str, int]] = {"low": ("+m3", 35), "high": ("+f3", 55)}


def speak(text: str, language: str, register: str) -> tuple[np.ndarray, int]:
    """(samples, sample_rate): `text` spoken in `language` by the register's voice variant."""
    from musicd.music.languages import espeak_voice

    variant, pitch = REGISTER_VARIANTS.get(register, REGISTER_VARIANTS["low"])
    engine = _engine()
    audio = engine.synth(text, espeak_voice(language) + variant, pitch)
    return trim_silence(audio, engine.sample_rate), engine.sample_rate


def espeak_unavailable_reason() -> str | None:
    """None when espeak-ng can speak here, else why not."""
    try:
        _engine()
    except ResourceMissingError as exc:
        return str(exc)
    return None


class EspeakSinger(Singer):
    """espeak-ng's words moved onto the notes: always there where the library is installed."""

    name = "espeak"
    label = "espeak-ng"

    def availability(self) -> Availability:
        problem = espeak_unavailable_reason()
        if problem is not None:
            return Availability(False, problem)
        return Availability(True, "espeak-ng is the default singing voice")

    def voice_for(self, language: str, register: str) -> tuple[str, str]:
        from musicd.music.languages import espeak_voice

        variant, _pitch = REGISTER_VARIANTS.get(register, REGISTER_VARIANTS["low"])
        try:
            voice = espeak_voice(language) + variant
        except KeyError:
            voice = language + variant
        return voice, "GPL-3.0-or-later (espeak-ng)"

    def sing(self, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
        from musicd.vocals.singing import sing_vocal_line

        return sing_vocal_line(vocal, speak, sample_rate, n_samples)
