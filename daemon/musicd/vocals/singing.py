"""The singing transform: spoken words moved onto the vocal line's notes with PSOLA.

Each word is spoken on its own, cut into its syllables at the loudness dips between vowels,
and resynthesised by Praat's overlap-add (parselmouth): the pitch follows the notes (with a
short glide into each note and a delayed vibrato), the vowel is stretched to fill the note
and the consonants keep their spoken length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import parselmouth
from parselmouth.praat import call
from scipy.signal import find_peaks, resample_poly

from musicd.vocals.melody import SungNote, VocalLine

log = logging.getLogger(__name__)

FRAME_S = 0.005
VIBRATO_HZ = 5.5
VIBRATO_CENTS = 22.0
VIBRATO_DELAY_S = 0.22
GLIDE_S = 0.045
PITCH_STEP_S = 0.03  # pitch points along a held note (the vibrato's shape)
PAD_S = 0.05  # silence around each word while it is analysed
MAX_ONSET_SHARE = 0.45  # consonants before the vowel take at most this share of a short note
EDGE_FADE_S = 0.006

# (samples, sample_rate) for (text, language, register)
SpeakFn = Callable[[str, str, str], tuple[np.ndarray, int]]


@dataclass(frozen=True)
class WordNotes:
    """The notes one spoken unit (a word, or one CJK character) is sung on, by syllable."""

    text: str
    language: str
    syllables: tuple[tuple[SungNote, ...], ...]

    @property
    def start_beat(self) -> float:
        return self.syllables[0][0].note.start_beat


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def group_words(vocal: VocalLine) -> list[WordNotes]:
    """The vocal line's notes gathered per word, and per syllable within each word."""
    languages = {index: line.language for index, line in enumerate(vocal.lines)}
    words: list[WordNotes] = []
    current: list[list[SungNote]] = []
    current_word = -1
    for sung in vocal.notes:
        if sung.word_index != current_word:
            if current:
                words.append(_word(current, vocal, languages))
            current, current_word = [], sung.word_index
        if sung.continuation and current:
            current[-1].append(sung)
        else:
            current.append([sung])
    if current:
        words.append(_word(current, vocal, languages))
    return words


def _word(syllables: list[list[SungNote]], vocal: VocalLine, languages: dict[int, str]) -> WordNotes:
    first = syllables[0][0]
    return WordNotes(
        vocal.words[first.word_index],
        languages.get(first.line_index, "en"),
        tuple(tuple(s) for s in syllables),
    )


def sing_vocal_line(vocal: VocalLine, speak: SpeakFn, sample_rate: int, n_samples: int) -> np.ndarray:
    """The sung vocal, mono float32 with exactly `n_samples` samples at `sample_rate`."""
    if vocal.is_empty:
        return np.zeros(n_samples, np.float32)
    pieces: list[tuple[float, np.ndarray]] = []
    native_rate = 0
    for word in group_words(vocal):
        audio, native_rate = speak(word.text, word.language, vocal.voice)
        if audio.size == 0:
            log.warning(
                "espeak-ng said nothing for %r (%s); the word is left silent", word.text, word.language
            )
            continue
        sung = sing_word(audio, native_rate, word, vocal)
        pieces.append((vocal.beats_to_seconds(word.start_beat), sung))
    if not pieces:
        return np.zeros(n_samples, np.float32)
    native_len = int(np.ceil(n_samples * native_rate / sample_rate)) + 1
    out = np.zeros(native_len, np.float32)
    for start_s, sung in pieces:
        start = int(round(start_s * native_rate))
        end = min(native_len, start + len(sung))
        if end > start:
            out[start:end] += sung[: end - start]
    if native_rate != sample_rate:
        from math import gcd

        g = gcd(sample_rate, native_rate)
        out = resample_poly(out, sample_rate // g, native_rate // g).astype(np.float32)
    result = np.zeros(n_samples, np.float32)
    result[: min(n_samples, len(out))] = out[:n_samples]
    return result


def syllable_bounds(audio: np.ndarray, sample_rate: int, count: int) -> list[tuple[int, int]]:
    """`count` (start, end) sample spans: cuts at the deepest loudness dips between vowels."""
    if count <= 1:
        return [(0, len(audio))]
    db = _loudness_db(audio, sample_rate)
    hop = int(FRAME_S * sample_rate)
    peaks, props = find_peaks(db, prominence=3.0, distance=max(1, int(0.06 / FRAME_S)))
    if len(peaks) >= count:
        keep = np.sort(peaks[np.argsort(props["prominences"])[::-1][:count]])
        cuts = [int(a + np.argmin(db[a:b])) for a, b in zip(keep[:-1], keep[1:])]
    else:
        cuts = [int(round(len(db) * k / count)) for k in range(1, count)]
    frames = [0] + cuts + [len(db)]
    bounds = [(f * hop, min(len(audio), g * hop)) for f, g in zip(frames[:-1], frames[1:])]
    bounds[-1] = (bounds[-1][0], len(audio))
    return bounds


def _loudness_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    hop = int(FRAME_S * sample_rate)
    n = max(1, len(audio) // hop)
    frames = np.pad(audio, (0, n * hop + hop - len(audio)))[: n * hop].reshape(n, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    smooth = np.convolve(rms, np.ones(5) / 5, mode="same")
    return 20 * np.log10(smooth + 1e-9)


def vowel_span(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """The loud middle of a syllable (its vowel): frames within 10 dB of the loudest one."""
    db = _loudness_db(audio, sample_rate)
    hop = int(FRAME_S * sample_rate)
    peak = int(np.argmax(db))
    loud = db >= db[peak] - 10.0
    start = peak
    while start > 0 and loud[start - 1]:
        start -= 1
    end = peak + 1
    while end < len(db) and loud[end]:
        end += 1
    return start * hop, min(len(audio), end * hop)


def sing_word(audio: np.ndarray, sample_rate: int, word: WordNotes, vocal: VocalLine) -> np.ndarray:
    """One word moved onto its notes; the result starts at the word's first note."""
    bounds = syllable_bounds(audio, sample_rate, len(word.syllables))
    origin = vocal.beats_to_seconds(word.start_beat)
    orig_points: list[float] = [0.0]
    out_points: list[float] = [0.0]
    for (a, b), notes in zip(bounds, word.syllables):
        start_s = vocal.beats_to_seconds(notes[0].note.start_beat) - origin + PAD_S
        end_s = (
            vocal.beats_to_seconds(notes[-1].note.start_beat + notes[-1].note.duration_beats) - origin + PAD_S
        )
        length_s = max(end_s - start_s, 0.05)
        v0, v1 = vowel_span(audio[a:b], sample_rate)
        a_s, b_s = a / sample_rate + PAD_S, b / sample_rate + PAD_S
        v0_s, v1_s = a_s + v0 / sample_rate, a_s + max(v1, v0 + 1) / sample_rate
        onset, coda = v0_s - a_s, b_s - v1_s
        squeeze = min(1.0, MAX_ONSET_SHARE * length_s / max(onset + coda, 1e-6))
        onset_out, coda_out = onset * squeeze, coda * squeeze
        for orig, out in (
            (a_s, start_s),
            (v0_s, start_s + onset_out),
            (v1_s, start_s + length_s - coda_out),
            (b_s, start_s + length_s),
        ):
            if orig > orig_points[-1] + 1e-4 and out > out_points[-1] + 1e-4:
                orig_points.append(orig)
                out_points.append(out)
    total_orig = len(audio) / sample_rate + 2 * PAD_S
    orig_points.append(total_orig)
    out_points.append(out_points[-1] + (total_orig - orig_points[-2]))
    padded = np.concatenate(
        [np.zeros(int(PAD_S * sample_rate)), audio.astype(np.float64), np.zeros(int(PAD_S * sample_rate))]
    )
    sound = parselmouth.Sound(padded, sampling_frequency=sample_rate)
    manipulation = call(sound, "To Manipulation", 0.01, 75, 600)
    pitch_tier = call("Create PitchTier", "sung", 0, total_orig)
    for orig, hz in _pitch_points(word, vocal, origin, np.array(orig_points), np.array(out_points)):
        call(pitch_tier, "Add point", orig, hz)
    call([pitch_tier, manipulation], "Replace pitch tier")
    duration_tier = call("Create DurationTier", "sung", 0, total_orig)
    for (o0, o1), (p0, p1) in zip(
        zip(orig_points[:-1], orig_points[1:]), zip(out_points[:-1], out_points[1:])
    ):
        factor = (p1 - p0) / (o1 - o0)
        eps = min(1e-4, (o1 - o0) / 4)
        call(duration_tier, "Add point", o0 + eps, factor)
        call(duration_tier, "Add point", o1 - eps, factor)
    call([duration_tier, manipulation], "Replace duration tier")
    sung = call(manipulation, "Get resynthesis (overlap-add)").values[0]
    start = int(round(PAD_S * sample_rate))
    end = int(round((out_points[-2]) * sample_rate))
    result = sung[start : max(start + 1, end)].astype(np.float32)
    velocity = np.mean([n.note.velocity for s in word.syllables for n in s]) / 100.0
    return _fade_edges(result * np.float32(velocity), sample_rate)


def _pitch_points(
    word: WordNotes, vocal: VocalLine, origin: float, orig_points: np.ndarray, out_points: np.ndarray
) -> list[tuple[float, float]]:
    """(original time, Hz) points: each note's pitch with a glide in and a delayed vibrato."""
    times_out: list[np.ndarray] = []
    values: list[np.ndarray] = []
    notes = [n for syllable in word.syllables for n in syllable]
    previous_hz: float | None = None
    for sung in notes:
        note = sung.note
        hz = midi_to_hz(note.pitch)
        start = vocal.beats_to_seconds(note.start_beat) - origin + PAD_S
        length = vocal.beats_to_seconds(note.duration_beats)
        t = np.concatenate(
            [np.arange(0.0, min(GLIDE_S, length), 0.015), np.arange(GLIDE_S, length, PITCH_STEP_S)]
        )
        ramp = np.clip((t - VIBRATO_DELAY_S) / 0.25, 0.0, 1.0)
        cents = ramp * VIBRATO_CENTS * np.sin(2 * np.pi * VIBRATO_HZ * (t - VIBRATO_DELAY_S))
        value = hz * 2.0 ** (cents / 1200.0)
        if previous_hz is not None:
            mix = np.clip(t / GLIDE_S, 0.0, 1.0)
            value = previous_hz ** (1 - mix) * value**mix
        times_out.append(start + t)
        values.append(value)
        previous_hz = hz
    orig = np.interp(np.concatenate(times_out), out_points, orig_points)
    hz_all = np.concatenate(values)
    order = np.argsort(orig, kind="stable")
    points: list[tuple[float, float]] = []
    for t_orig, value in zip(orig[order], hz_all[order]):
        if not points or t_orig > points[-1][0] + 1e-5:
            points.append((float(t_orig), float(value)))
    return points


def _fade_edges(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n = min(len(audio) // 2, int(EDGE_FADE_S * sample_rate))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        audio[:n] *= ramp
        audio[-n:] *= ramp[::-1]
    return audio


def voices_for(languages: Sequence[str]) -> dict[str, str]:
    """espeak-ng voice names per language code."""
    from musicd.music.languages import espeak_voice

    return {code: espeak_voice(code) for code in languages}
