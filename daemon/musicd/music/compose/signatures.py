"""Genre signatures that live in control curves and drum tunings rather than in note rhythms:
the blues player's bends, the cinematic strings' and choir's swells, timpani tuned to the key.

`part_controls` gives each arranged part its control curves (the bass's wobble and 808 glides
come from bass.py as before); `finish_drums` retunes the orchestral kit's timpani. Both are
pure functions of the plan, the notes and a seeded generator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from musicd.music.compose.bass import CC_EXPRESSION, bass_controls
from musicd.music.score import Control, Note, semitones_to_bend
from musicd.music.theory import pitch_class
from musicd.seeding import stage_rng

if TYPE_CHECKING:
    from musicd.music.plan import Plan

# Blues: a long enough melody note is often bent up into from below (a scoop of a semitone or a
# whole tone), the bend released before the next note starts.
BEND_GENRES = frozenset({"blues"})
BEND_MIN_NOTE_BEATS = 0.6
BEND_CHANCE = 0.55
BEND_RISE_BEATS = 0.3
BEND_STEP_BEATS = 1.0 / 32.0
# Cinematic: the sustained parts swell (CC11 expression) into every chord and over builds.
SWELL_GENRES = frozenset({"cinematic"})
SWELL_ROLES = frozenset({"chords", "pads"})
SWELL_FLOOR = 52
SWELL_STEP_BEATS = 0.25
# GS orchestral kit (bank 128, program 48): keys 41..53 are timpani tuned F2..F3.
TIMPANI_LOW_KEY = 41
TIMPANI_LANES = {41: 0, 43: 7, 45: 7, 47: 7, 48: 12, 50: 12}  # tom key -> interval above the tonic
# ... so the kit's cymbals sit elsewhere: crashes and rides move to its concert cymbals, and the
# hi-hats (whose GM keys would strike a timpani) are left out.
ORCHESTRA_CYMBALS = {49: 57, 57: 57, 51: 59, 52: 57, 53: 59, 55: 57, 59: 59}
ORCHESTRA_DROPPED = frozenset({42, 44, 46})


def part_controls(plan: Plan, role: str, notes: tuple[Note, ...]) -> tuple[Control, ...]:
    """The control curves of one arranged part (time-ordered)."""
    genre = plan.genres[0]
    if role == "bass":
        return bass_controls(plan, notes, stage_rng(plan.seed, "compose.bass.controls"))
    if role == "melody" and genre in BEND_GENRES:
        return bend_controls(notes, stage_rng(plan.seed, "compose.melody.bends"))
    if role in SWELL_ROLES and genre in SWELL_GENRES:
        builds = tuple(
            (s.start_bar * plan.beats_per_bar, s.end_bar * plan.beats_per_bar)
            for s in plan.form
            if s.name == "build"
        )
        return swell_controls(notes, builds)
    return ()


def bend_controls(notes: tuple[Note, ...], rng: np.random.Generator) -> tuple[Control, ...]:
    """Pitch bends that scoop into long notes from a semitone or a tone below; every bend is
    back at zero before the next note starts."""
    ordered = sorted(notes, key=lambda n: n.start_beat)
    out: list[Control] = []
    for index, note in enumerate(ordered):
        if note.duration_beats < BEND_MIN_NOTE_BEATS or rng.random() >= BEND_CHANCE:
            continue
        depth = -2.0 if rng.random() < 0.35 else -1.0
        nxt = ordered[index + 1].start_beat if index + 1 < len(ordered) else note.start_beat + 8.0
        rise = min(BEND_RISE_BEATS, 0.5 * note.duration_beats, max(nxt - note.start_beat - 0.05, 0.05))
        steps = max(2, int(round(rise / BEND_STEP_BEATS)))
        for k in range(steps + 1):
            share = k / steps
            bend = semitones_to_bend(depth * (1.0 - share) ** 1.6)
            out.append(Control(round(note.start_beat + rise * share, 4), "bend", 0, bend))
    return _ordered(out)


def swell_controls(notes: tuple[Note, ...], builds: tuple[tuple[float, float], ...]) -> tuple[Control, ...]:
    """Expression swells: from SWELL_FLOOR up to full over the first two thirds of every held
    chord, and one long crescendo across each build section."""
    starts = sorted({n.start_beat for n in notes})
    if not starts:
        return ()
    ends = {s: max(n.start_beat + n.duration_beats for n in notes if n.start_beat == s) for s in starts}
    out: list[Control] = []
    for index, start in enumerate(starts):
        end = min(ends[start], starts[index + 1] if index + 1 < len(starts) else ends[start])
        build = next(((lo, hi) for lo, hi in builds if lo - 1e-6 <= start < hi), None)
        if build is not None:
            lo, hi = build
            ramp_from, ramp_to = lo, hi
        else:
            ramp_from, ramp_to = start, start + (end - start) * 2.0 / 3.0
        if ramp_to - ramp_from < 2 * SWELL_STEP_BEATS:
            continue
        beat = start
        limit = min(end, ramp_to)
        while beat <= limit + 1e-9:
            share = (beat - ramp_from) / (ramp_to - ramp_from)
            value = SWELL_FLOOR + (127 - SWELL_FLOOR) * min(max(share, 0.0), 1.0) ** 1.5
            out.append(Control(round(beat, 4), "cc", CC_EXPRESSION, int(round(value))))
            beat += SWELL_STEP_BEATS
        out.append(Control(round(limit, 4), "cc", CC_EXPRESSION, 127))
    return _ordered(out)


def finish_drums(plan: Plan, notes: tuple[Note, ...]) -> tuple[Note, ...]:
    """The drum notes as the kit plays them: on the orchestral kit the toms are timpani,
    retuned to the key's tonic and fifth, and the cymbals its concert cymbals."""
    if plan.kit != "orchestra":
        return notes
    tonic = pitch_class(plan.key_tonic)
    base = TIMPANI_LOW_KEY + (tonic - 5) % 12  # F is the lowest timpani key
    out = []
    for note in notes:
        if note.pitch in ORCHESTRA_DROPPED:
            continue
        if note.pitch in ORCHESTRA_CYMBALS:
            note = Note(note.start_beat, note.duration_beats, ORCHESTRA_CYMBALS[note.pitch], note.velocity)
            out.append(note)
            continue
        interval = TIMPANI_LANES.get(note.pitch)
        if interval is not None:
            key = base + interval
            while key > TIMPANI_LOW_KEY + 12:
                key -= 12
            note = Note(note.start_beat, note.duration_beats, key, note.velocity)
        out.append(note)
    return tuple(out)


def _ordered(controls: list[Control]) -> tuple[Control, ...]:
    unique: dict[tuple[float, str, int], Control] = {}
    for c in controls:
        unique[(c.beat, c.kind, c.number)] = c  # the later of two at one beat wins
    return tuple(sorted(unique.values(), key=lambda c: (c.beat, c.kind, c.number)))
