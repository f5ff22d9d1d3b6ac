"""The mbrola singer: MBROLA diphone voices, which take each phoneme's length and pitch points.

espeak-ng's MBROLA voices (`mb-us1`, `mb-de2`, ...) give each word's phonemes in the MBROLA
voice's own phoneme set (`espeak-ng -v mb-us1 -q --pho WORD`, one call per word, cached); the
phonemes are matched to the sung syllables (alignment.py), pitch points every PITCH_STEP_S follow
the notes with glide and vibrato, and one .pho file for the whole song (pauses as `_`) is rendered
by the `mbrola` program at the voice's rate (16 kHz) and resampled to the song's rate.

MBROLA is Debian contrib (the program, AGPL-3) and its voices non-free (free to use, not to be
sold or built into a product that is sold): `make voices` installs them when a person asks.
Every language with an installed voice (and an espeak-ng `mb-` voice file for it) can be sung;
the low register takes a male voice where there is one, the high register a female one.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from musicd.engines.base import Availability, Singer
from musicd.errors import ResourceMissingError
from musicd.vocals.alignment import align_word, note_contour, syllable_spans
from musicd.vocals.melody import VocalLine
from musicd.vocals.singing import group_words

log = logging.getLogger(__name__)

MBROLA_DIRS = (Path("/usr/share/mbrola"), Path("/usr/local/share/mbrola"))
LICENCE = "MBROLA voice licence: free to use, not to be sold (Debian non-free); mbrola program AGPL-3.0"
PITCH_STEP_S = 0.025
SAMPA_VOWEL_START = set("aeiouyAEIOUVQ@{}&236789")
MAX_SILENCE_MS = 1000  # pauses are written in pieces no longer than this
TAIL_MS = 200
INSTALL_HINT = "run `make voices` (adds Debian contrib/non-free, installs mbrola and its voices)"


@dataclass(frozen=True)
class MbrolaVoice:
    """An installed MBROLA voice and the espeak-ng voice that writes its phonemes."""

    name: str  # us1
    espeak_voice: str  # mb-us1
    languages: tuple[str, ...]  # en-us, en
    gender: str  # male | female | ""
    database: Path

    def speaks(self, language: str) -> bool:
        code = language.lower().split("-")[0]
        return any(lang.split("-")[0] == code for lang in self.languages)


def mbrola_program() -> str | None:
    return shutil.which("mbrola")


@functools.lru_cache(maxsize=1)
def _espeak_data_dir() -> Path | None:
    program = shutil.which("espeak-ng")
    if program is None:
        return None
    try:
        text = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=10, process_group=0
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"Data at:\s*(\S+)", text)
    return Path(found.group(1)) if found else None


def _database(name: str) -> Path | None:
    for folder in MBROLA_DIRS:
        for candidate in (folder / name / name, folder / name):
            if candidate.is_file():
                return candidate
    return None


@functools.lru_cache(maxsize=1)
def installed_voices() -> tuple[MbrolaVoice, ...]:
    """The MBROLA voices whose database and espeak-ng `mb-` voice file are both installed."""
    data = _espeak_data_dir()
    if data is None or not (data / "voices" / "mb").is_dir():
        return ()
    voices = []
    for path in sorted((data / "voices" / "mb").glob("mb-*")):
        if path.name.count("-") != 1:  # mb-de2-en: a German voice reading English
            continue
        languages, gender, database = [], "", None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "language":
                languages.append(parts[1])
            elif len(parts) >= 2 and parts[0] == "gender":
                gender = parts[1]
            elif len(parts) >= 2 and parts[0] == "mbrola":
                database = _database(parts[1])
        if database is not None and languages:
            voices.append(MbrolaVoice(path.name[3:], path.name, tuple(languages), gender, database))
    return tuple(voices)


DEFAULT_REGIONS = {"en": "en-us"}  # a language without a region sings in this one first


def voice_for(language: str, register: str) -> MbrolaVoice | None:
    """The installed voice for `language`: male for the low register, female for the high one;
    one of the asked region first (en-gb: en1), else of the default region (en: en-us)."""
    voices = [v for v in installed_voices() if v.speaks(language)]
    if not voices:
        return None
    asked = language.lower().replace("_", "-")
    region = asked if "-" in asked else DEFAULT_REGIONS.get(asked, "")
    voices.sort(key=lambda v: region not in v.languages)  # stable: sorted by name within each
    wanted = "female" if register == "high" else "male"
    return next((v for v in voices if v.gender == wanted), voices[0])


def mbrola_unavailable_reason() -> str | None:
    if mbrola_program() is None:
        return f"the mbrola program is not installed; {INSTALL_HINT}"
    if shutil.which("espeak-ng") is None:
        return "espeak-ng (which writes MBROLA's phonemes) is not installed"
    if not installed_voices():
        return f"no MBROLA voice is installed; {INSTALL_HINT}"
    return None


# --- phonemes -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def word_phonemes(word: str, espeak_voice: str) -> tuple[tuple[str, float], ...]:
    """(phoneme, spoken seconds) of one word in the MBROLA voice's phoneme set; pauses dropped."""
    try:
        result = subprocess.run(
            ["espeak-ng", "-v", espeak_voice, "-q", "--pho", word],
            capture_output=True,
            text=True,
            timeout=30,
            process_group=0,  # its own group: a terminal's Ctrl-C reaches musicd, not the child
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise ResourceMissingError(
            f"espeak-ng could not write phonemes for {espeak_voice} ({error})"
        ) from error
    phonemes = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] != "_" and not parts[0].startswith(";"):
            try:
                phonemes.append((parts[0], float(parts[1]) / 1000.0))
            except ValueError:
                continue
    return tuple(phonemes)


def is_vowel(phoneme: str) -> bool:
    """SAMPA-style vowels (MBROLA voices name phonemes in SAMPA): a, E, @U, r= (syllabic), ..."""
    return phoneme[:1] in SAMPA_VOWEL_START or "=" in phoneme


# --- singing --------------------------------------------------------------------------------


def pho_text(vocal: VocalLine, register: str, voices: dict[str, MbrolaVoice]) -> tuple[str, MbrolaVoice]:
    """The .pho file for the whole vocal line (one voice: the first line's language's)."""
    words = group_words(vocal)
    voice = voices[words[0].language]
    with ThreadPoolExecutor(max_workers=4) as pool:
        phonemes = list(pool.map(lambda w: word_phonemes(w.text, voice.espeak_voice), words))
    lines: list[str] = []
    clock_ms = 0  # the .pho's time so far (integer ms: rounding never drifts)

    def add(name: str, until_s: float, points: str = "") -> None:
        nonlocal clock_ms
        end_ms = int(round(until_s * 1000.0))
        if end_ms > clock_ms:
            lines.append(f"{name} {end_ms - clock_ms}{points}")
            clock_ms = end_ms

    def pause(until_s: float) -> None:
        while int(round(until_s * 1000.0)) - clock_ms > MAX_SILENCE_MS:
            add("_", (clock_ms + MAX_SILENCE_MS) / 1000.0)
        add("_", until_s)

    for word, sounds in zip(words, phonemes):
        if not sounds:
            log.warning("espeak-ng gave no MBROLA phonemes for %r; the word is left silent", word.text)
            continue
        spans = syllable_spans(word, vocal)
        pause(spans[0][0])
        notes = [n for syllable in word.syllables for n in syllable]
        timed = align_word([is_vowel(p) for p, _ in sounds], [d for _, d in sounds], spans)
        for t in timed:
            start_ms = clock_ms
            end_s = t.start_s + t.duration_s
            length_ms = int(round(end_s * 1000.0)) - start_ms
            if length_ms <= 0:
                continue
            count = max(2, int(length_ms / (PITCH_STEP_S * 1000.0)) + 1)
            fractions = np.linspace(0.0, 1.0, count)
            hz = note_contour(notes, vocal, (start_ms + fractions * length_ms) / 1000.0)
            points = "".join(f" {100 * f:.0f} {h:.1f}" for f, h in zip(fractions, hz))
            add(sounds[t.index][0], end_s, points)
    pause(clock_ms / 1000.0 + TAIL_MS / 1000.0)
    return "\n".join(lines) + "\n_ 1\n", voice


def render_pho(pho: str, voice: MbrolaVoice) -> tuple[np.ndarray, int]:
    """(samples, rate): `pho` rendered by the mbrola program (-e: skip a missing diphone)."""
    import soundfile

    program = mbrola_program()
    if program is None:
        raise ResourceMissingError(f"the mbrola program is not installed; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="musicd-mbrola-") as folder:
        pho_path, wav_path = Path(folder) / "line.pho", Path(folder) / "line.wav"
        pho_path.write_text(pho, encoding="utf-8")
        try:
            done = subprocess.run(
                [program, "-e", str(voice.database), str(pho_path), str(wav_path)],
                capture_output=True,
                text=True,
                timeout=300,
                process_group=0,  # its own group: a terminal's Ctrl-C reaches musicd, not the child
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise ResourceMissingError(f"mbrola did not run ({error})") from error
        if done.returncode != 0 or not wav_path.is_file():
            raise ResourceMissingError(
                f"mbrola failed on voice {voice.name} (exit {done.returncode}): {done.stderr.strip()[:300]}"
            )
        audio, rate = soundfile.read(str(wav_path), dtype="float32", always_2d=False)
    return np.asarray(audio, np.float32).reshape(-1), int(rate)


def sing_with_mbrola(vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
    """The dry vocal, mono float32 of `n_samples`: each language's lines in its own voice."""
    from scipy.signal import resample_poly

    out = np.zeros(n_samples, np.float32)
    languages = sorted({line.language for line in vocal.lines})
    for language in languages:
        voice = voice_for(language, vocal.voice)
        if voice is None:
            raise ResourceMissingError(f"no MBROLA voice is installed for {language!r}; {INSTALL_HINT}")
        indices = {i for i, line in enumerate(vocal.lines) if line.language == language}
        part = VocalLine(
            tuple(n for n in vocal.notes if n.line_index in indices),
            vocal.lines,
            vocal.words,
            vocal.tempo_bpm,
            vocal.voice,
        )
        if part.is_empty:
            continue
        pho, voice = pho_text(part, vocal.voice, {language: voice})
        audio, rate = render_pho(pho, voice)
        if rate != sample_rate:
            g = gcd(sample_rate, rate)
            audio = resample_poly(audio, sample_rate // g, rate // g).astype(np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0:
            audio *= np.float32(0.7 / peak)
        end = min(n_samples, len(audio))
        out[:end] += audio[:end]
    return out


class MbrolaSinger(Singer):
    """MBROLA diphone voices for every language with one installed (`make voices`)."""

    name = "mbrola"
    label = "mbrola"

    def availability(self) -> Availability:
        problem = mbrola_unavailable_reason()
        if problem is not None:
            return Availability(False, problem)
        names = ", ".join(v.name for v in installed_voices())
        return Availability(True, f"MBROLA diphone voices are installed ({names})")

    def supports(self, language: str) -> str | None:
        if voice_for(language, "low") is not None:
            return None
        installed = sorted({lang for v in installed_voices() for lang in v.languages})
        return f"no MBROLA voice is installed for {language!r} (installed: {', '.join(installed) or 'none'})"

    def voice_for(self, language: str, register: str) -> tuple[str, str]:
        voice = voice_for(language, register)
        return (voice.name if voice else "none", LICENCE)

    def sing(self, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
        if vocal.is_empty:
            return np.zeros(n_samples, np.float32)
        problem = mbrola_unavailable_reason()
        if problem is not None:
            raise ResourceMissingError(problem)
        return sing_with_mbrola(vocal, sample_rate, n_samples)
