"""Phonemes onto notes, shared by the singers that get phonemes rather than words (piper, mbrola).

A word's phonemes (vowel or not, and the length the speech engine gave each) are cut into
phonetic syllables at their vowel groups and matched to the word's sung syllables; consonants
keep their spoken length (squeezed on short notes) and the vowel holds the rest of the note, so
each syllable starts exactly on its note. `note_contour` is the sung pitch over time: each note's
pitch with a short glide in from the note before and a delayed vibrato.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicd.vocals.melody import SungNote, VocalLine
from musicd.vocals.singing import GLIDE_S, VIBRATO_CENTS, VIBRATO_DELAY_S, VIBRATO_HZ, WordNotes, midi_to_hz

MAX_CONSONANT_SHARE = 0.45  # onset + coda consonants take at most this share of a short syllable
LAST_VOWEL_SHARE = 0.3  # in a diphthong the last vowel glides in at the end of the held note
GLIDE_GAP_S = 0.3  # a note glides in from the one before when they are at most this far apart


@dataclass(frozen=True)
class TimedPhoneme:
    """One phoneme as sung: its index in the word, start and length (seconds in the song), and
    whether it is the held vowel of its syllable."""

    index: int
    start_s: float
    duration_s: float
    held: bool


def syllable_spans(word: WordNotes, vocal: VocalLine) -> list[tuple[float, float]]:
    """(start, end) seconds of each sung syllable of `word`: first note start to last note end."""
    spans = []
    for notes in word.syllables:
        last = notes[-1].note
        spans.append(
            (
                vocal.beats_to_seconds(notes[0].note.start_beat),
                vocal.beats_to_seconds(last.start_beat + last.duration_beats),
            )
        )
    return spans


def vowel_groups(is_vowel: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, end) index spans of consecutive vowels; a word without any gets its middle one."""
    groups: list[tuple[int, int]] = []
    for index, vowel in enumerate(is_vowel):
        if vowel and groups and groups[-1][1] == index:
            groups[-1] = (groups[-1][0], index + 1)
        elif vowel:
            groups.append((index, index + 1))
    if not groups and is_vowel:
        middle = len(is_vowel) // 2
        groups = [(middle, middle + 1)]
    return groups


def phonetic_syllables(is_vowel: Sequence[bool]) -> list[tuple[int, int, int, int]]:
    """(start, nucleus start, nucleus end, end) per phonetic syllable: consonants between two
    vowel groups go half to the first syllable's coda, the rest (and one at least) to the onset."""
    groups = vowel_groups(is_vowel)
    if not groups:
        return []
    result = []
    start = 0
    for k, (a, b) in enumerate(groups):
        if k + 1 < len(groups):
            between = groups[k + 1][0] - b
            end = b + between // 2
        else:
            end = len(is_vowel)
        result.append((start, a, b, end))
        start = end
    return result


def align_word(
    is_vowel: Sequence[bool], predicted_s: Sequence[float], spans: Sequence[tuple[float, float]]
) -> list[TimedPhoneme]:
    """The word's phonemes timed onto its sung syllables' `spans` (seconds in the song).

    More phonetic syllables than sung ones: a sung syllable takes several and holds the first
    vowel. Fewer: a phonetic syllable spans several sung ones and its vowel holds through them.
    The phonemes fill the word from its first note to its last note's end without gaps.
    """
    n = len(is_vowel)
    if n == 0 or not spans:
        return []
    phonetic = phonetic_syllables(is_vowel)
    m, count = len(phonetic), len(spans)
    chunks: list[tuple[int, int, int, int, float, float]] = []  # start, held a, held b, end, t0, t1
    if m >= count:
        for k in range(count):
            first, last = k * m // count, (k + 1) * m // count - 1
            start, a, b, _ = phonetic[first]
            chunks.append((start, a, b, phonetic[last][3], spans[k][0], spans[k][1]))
    else:
        for j in range(m):
            sung = [k for k in range(count) if k * m // count == j]
            start, a, b, end = phonetic[j]
            chunks.append((start, a, b, end, spans[sung[0]][0], spans[sung[-1]][1]))
    # Chunks meet: a rest inside a word is sung through by the syllable before it.
    timed: list[TimedPhoneme] = []
    for index, (start, a, b, end, t0, t1) in enumerate(chunks):
        if index + 1 < len(chunks):
            t1 = max(t1, chunks[index + 1][4])
        length = max(t1 - t0, 1e-3)
        onset = [predicted_s[i] for i in range(start, a)]
        coda = [predicted_s[i] for i in range(b, end)]
        consonants = sum(onset) + sum(coda)
        squeeze = min(1.0, MAX_CONSONANT_SHARE * length / consonants) if consonants > 0 else 1.0
        held_s = length - consonants * squeeze
        vowels = list(range(a, b))
        if len(vowels) > 1:
            tail = min(predicted_s[vowels[-1]], LAST_VOWEL_SHARE * held_s)
            weights = np.array([max(predicted_s[i], 1e-3) for i in vowels[:-1]])
            held = list(weights / weights.sum() * (held_s - tail)) + [tail]
        else:
            held = [held_s]
        durations = [d * squeeze for d in onset] + held + [d * squeeze for d in coda]
        position = t0
        for offset, duration in enumerate(durations):
            i = start + offset
            timed.append(TimedPhoneme(i, position, float(duration), a <= i < b))
            position += duration
    return timed


def note_contour(notes: Sequence[SungNote], vocal: VocalLine, times_s: np.ndarray) -> np.ndarray:
    """The sung pitch (Hz) at `times_s` (seconds in the song): each note's pitch, a glide in from
    a note just before it and a vibrato that starts VIBRATO_DELAY_S into the note; between and
    around notes the nearest note's pitch."""
    times_s = np.asarray(times_s, dtype=np.float64)
    out = np.zeros(len(times_s))
    if not notes:
        return out
    starts = np.array([vocal.beats_to_seconds(n.note.start_beat) for n in notes])
    ends = np.array([vocal.beats_to_seconds(n.note.start_beat + n.note.duration_beats) for n in notes])
    hz = np.array([midi_to_hz(n.note.pitch) for n in notes])
    index = np.clip(np.searchsorted(starts, times_s, side="right") - 1, 0, len(notes) - 1)
    before = times_s < starts[0]
    index[before] = 0
    t = np.clip(times_s - starts[index], 0.0, None)
    ramp = np.clip((t - VIBRATO_DELAY_S) / 0.25, 0.0, 1.0)
    inside = times_s <= ends[index]
    cents = np.where(
        inside, ramp * VIBRATO_CENTS * np.sin(2 * np.pi * VIBRATO_HZ * (t - VIBRATO_DELAY_S)), 0.0
    )
    value = hz[index] * 2.0 ** (cents / 1200.0)
    previous = np.maximum(index - 1, 0)
    glides = (index > 0) & (starts[index] - ends[previous] <= GLIDE_GAP_S) & (t < GLIDE_S)
    mix = np.clip(t / GLIDE_S, 0.0, 1.0)
    value = np.where(glides, hz[previous] ** (1 - mix) * value**mix, value)
    out[:] = value
    return out
