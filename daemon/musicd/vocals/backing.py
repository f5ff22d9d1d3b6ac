"""Backing voices for the chorus, where the genre wants them (pop, rnb, soul): a double of the
lead and harmony lines on the chords' tones, quieter than the lead and panned to the sides.

- A double is the lead's chorus take through a slowly moving delay (about 12-22 ms, swinging
  by about 1.2 ms at a fraction of a hertz): a second take's small lag and a few cents of drift,
  without drifting out of time. Doubles come in pairs, one each side.
- A harmony is the chorus sung again by the same singer on other notes: each note moved to the
  nearest chord tone a third above (or a fourth, when the melody sits on the chord's fifth) or
  below, else to the scale's third (a passing note); a harmony that would climb above the voice's
  range drops an octave (a sixth under the melody).

Verses are never doubled: only notes of lines in a chorus are. Delays, drift and phases come
from the seed, so the same seed gives the same backing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from musicd.music.theory import scale_pitch_classes
from musicd.vocals.bus import BackingVoice
from musicd.vocals.melody import VOICE_RANGES, ChordTime, SungNote, VocalLine

log = logging.getLogger(__name__)

BACKED_SECTIONS = ("chorus",)
DOUBLE_DELAY_MS = (12.0, 22.0)  # the range each double's mean lag is drawn from
DOUBLE_SWING_MS = 1.2  # how far the lag moves: 2*pi*f*swing, about 3-8 cents of drift
DOUBLE_RATE_HZ = (0.25, 0.6)
LINE_LEAD_S = 0.1  # a chorus line's backing opens this long before its first note...
LINE_TAIL_S = 0.35  # ...and closes this long after its last
FADE_S = 0.02


@dataclass(frozen=True)
class ChorusVoices:
    """What a genre adds to its choruses: doubles (pan, gain dB) and harmonies (direction,
    pan, gain dB)."""

    doubles: tuple[tuple[float, float], ...]
    harmonies: tuple[tuple[str, float, float], ...]


CHORUS_VOICES: dict[str, ChorusVoices] = {
    "pop": ChorusVoices(((-0.8, -8.0), (0.8, -8.0)), (("above", 0.5, -7.0),)),
    "rnb": ChorusVoices(((-0.7, -9.0), (0.7, -9.0)), (("above", -0.5, -7.0),)),
    # gospel-tinged: a stacked pair around the lead, one above and one below, no double
    "soul": ChorusVoices((), (("above", -0.5, -7.0), ("below", 0.5, -8.0))),
}


def chorus_voices(genres: Sequence[str]) -> ChorusVoices | None:
    """The first of `genres` (the main genre first) that backs its choruses, or None."""
    for genre in genres:
        if genre in CHORUS_VOICES:
            return CHORUS_VOICES[genre]
    return None


def backed_lines(vocal: VocalLine) -> list[int]:
    """Indices of the lines sung in a backed section (the choruses)."""
    return [i for i, line in enumerate(vocal.lines) if line.section in BACKED_SECTIONS]


def harmony_pitch(pitch: int, chord: Sequence[int], scale: frozenset[int], direction: str, top: int) -> int:
    """The harmony note for melody `pitch` over `chord` (pitch classes): the nearest chord tone
    a third or a fourth `direction` ("above"/"below"), else the scale's third there (parallel
    thirds through passing notes); one above `top` drops an octave."""
    sign = 1 if direction == "above" else -1
    tones = set(chord)
    candidates = [pitch + sign * k for k in (3, 4, 5) if (pitch + sign * k) % 12 in tones]
    if not candidates:
        candidates = [pitch + sign * k for k in (3, 4) if (pitch + sign * k) % 12 in scale] or [
            pitch + sign * 4
        ]
    chosen = candidates[0]
    return chosen - 12 if chosen > top else chosen


def chord_at(chords: Sequence[ChordTime], beat: float) -> tuple[int, ...]:
    """The pitch classes sounding at `beat` (the last chord that started by then)."""
    current: tuple[int, ...] = chords[0].tones if chords else ()
    for chord in chords:
        if chord.start_beat <= beat + 1e-6:
            current = chord.tones
        else:
            break
    return current


def harmony_line(
    vocal: VocalLine, chords: Sequence[ChordTime], key_tonic: str, mode: str, direction: str
) -> VocalLine:
    """The chorus notes of `vocal` moved to a harmony `direction` (lines and words unchanged)."""
    keep = set(backed_lines(vocal))
    scale = scale_pitch_classes(key_tonic, mode)
    top = VOICE_RANGES.get(vocal.voice, (45, 79))[1] + 3
    notes: list[SungNote] = []
    for sung in vocal.notes:
        if sung.line_index not in keep:
            continue
        pitch = harmony_pitch(sung.note.pitch, chord_at(chords, sung.note.start_beat), scale, direction, top)
        notes.append(replace(sung, note=replace(sung.note, pitch=pitch)))
    return VocalLine(tuple(notes), vocal.lines, vocal.words, vocal.tempo_bpm, vocal.voice)


def chorus_gate(vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
    """float32 gain, 1 over the backed lines (with a little lead-in and tail), 0 elsewhere,
    with FADE_S ramps."""
    t = np.arange(n_samples) / sample_rate
    gain = np.zeros(n_samples, np.float32)
    for index in backed_lines(vocal):
        line = vocal.lines[index]
        a = vocal.beats_to_seconds(line.start_beat) - LINE_LEAD_S
        b = vocal.beats_to_seconds(line.end_beat) + LINE_TAIL_S
        lo, hi = max(0, int((a - FADE_S) * sample_rate)), min(n_samples, int((b + FADE_S) * sample_rate) + 1)
        part = t[lo:hi]
        ramp = np.minimum(
            np.clip((part - a + FADE_S) / FADE_S, 0, 1), np.clip((b + FADE_S - part) / FADE_S, 0, 1)
        )
        gain[lo:hi] = np.maximum(gain[lo:hi], ramp.astype(np.float32))
    return gain


def double_take(
    take: np.ndarray, sample_rate: int, delay_ms: float, rate_hz: float, phase: float
) -> np.ndarray:
    """`take` read through a delay of `delay_ms` swinging by DOUBLE_SWING_MS at `rate_hz`
    (linear interpolation; only the stretch where `take` sounds is computed)."""
    out = np.zeros(len(take), np.float32)
    sounding = np.flatnonzero(take)
    if sounding.size == 0:
        return out
    reach = int(np.ceil((delay_ms + DOUBLE_SWING_MS) / 1000.0 * sample_rate)) + 2
    n = np.arange(sounding[0], min(len(take), sounding[-1] + reach))
    lag = (delay_ms + DOUBLE_SWING_MS * np.sin(2 * np.pi * rate_hz * n / sample_rate + phase)) * (
        sample_rate / 1000.0
    )
    position = n - lag
    index = np.floor(position).astype(np.int64)
    frac = (position - index).astype(np.float32)
    inside = (index >= 0) & (index + 1 < len(take))
    index = np.where(inside, index, 0)
    value = take[index] * (1 - frac) + take[index + 1] * frac
    out[n] = np.where(inside, value, 0.0)
    return out


def make_doubles(
    lead: np.ndarray, vocal: VocalLine, sample_rate: int, voices: ChorusVoices, rng: np.random.Generator
) -> tuple[list[BackingVoice], list[dict[str, Any]]]:
    """The doubles of `lead`'s chorus lines and their manifest records."""
    if not voices.doubles:
        return [], []
    chorus = lead * chorus_gate(vocal, sample_rate, len(lead))
    parts: list[BackingVoice] = []
    records: list[dict[str, Any]] = []
    for pan, gain_db in voices.doubles:
        delay_ms = float(rng.uniform(*DOUBLE_DELAY_MS))
        rate_hz = float(rng.uniform(*DOUBLE_RATE_HZ))
        phase = float(rng.uniform(0, 2 * np.pi))
        parts.append(BackingVoice(double_take(chorus, sample_rate, delay_ms, rate_hz, phase), pan, gain_db))
        cents = 1200 * np.log2(1 + 2 * np.pi * rate_hz * DOUBLE_SWING_MS / 1000)
        records.append(
            {
                "part": "double",
                "sections": list(BACKED_SECTIONS),
                "lines": len(backed_lines(vocal)),
                "pan": pan,
                "gain_db": gain_db,
                "delay_ms": round(delay_ms, 1),
                "drift_cents": round(float(cents), 1),
            }
        )
    return parts, records
