"""Harmony: the plan's progressions as timed chords, voice-led voicings, shared timing helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from musicd.music.sections import Section
from musicd.music.theory import Chord, parse_roman, pitch_class, scale_pitch_classes

if TYPE_CHECKING:
    from musicd.music.plan import Plan


@dataclass(frozen=True)
class ChordSpan:
    """One chord sounding from start_beat for duration_beats inside one section."""

    start_beat: float
    duration_beats: float
    chord: Chord
    section_index: int
    bar: int  # bar number in the song
    bar_in_section: int


@dataclass(frozen=True)
class Context:
    """What every part composer reads from the plan."""

    plan: Plan
    spans: tuple[ChordSpan, ...]
    tonic_pc: int
    scale: frozenset[int]
    beats_per_bar: float

    @property
    def sections(self) -> tuple[Section, ...]:
        return self.plan.form

    @property
    def length_beats(self) -> float:
        return self.plan.bars * self.beats_per_bar

    def section_start_beat(self, index: int) -> float:
        return self.plan.form[index].start_bar * self.beats_per_bar

    def spans_in_bar(self, bar: int) -> list[ChordSpan]:
        return [s for s in self.spans if s.bar == bar]

    def chord_at(self, beat: float) -> ChordSpan:
        for span in self.spans:
            if span.start_beat <= beat + 1e-9 < span.start_beat + span.duration_beats:
                return span
        return self.spans[-1]

    def scale_pitches(self, low: int, high: int) -> list[int]:
        return [p for p in range(low, high + 1) if p % 12 in self.scale]

    @property
    def final_bar(self) -> int:
        return self.plan.bars - 1


def make_context(plan: Plan) -> Context:
    tonic_pc = pitch_class(plan.key_tonic)
    beats_per_bar = plan.beats_per_bar
    spans = []
    for index, (section, bars) in enumerate(zip(plan.form, plan.progressions)):
        for offset, symbols in enumerate(bars):
            chords = symbols.split()
            bar = section.start_bar + offset
            each = beats_per_bar / len(chords)
            for k, symbol in enumerate(chords):
                spans.append(
                    ChordSpan(
                        bar * beats_per_bar + k * each,
                        each,
                        parse_roman(symbol, tonic_pc, plan.mode),
                        index,
                        bar,
                        offset,
                    )
                )
    return Context(plan, tuple(spans), tonic_pc, scale_pitch_classes(tonic_pc, plan.mode), beats_per_bar)


# --- voicings -----------------------------------------------------------------------------


def chord_voicing_pcs(chord: Chord, style: str, max_notes: int) -> list[int]:
    """The pitch classes a voicing uses, most important first."""
    tones = list(chord.tones)
    if style == "power":
        return [tones[0], tones[2]]
    if len(tones) > max_notes:  # drop the fifth first, then the root (the bass has it)
        if len(tones) > 4:
            tones.remove(chord.tones[2])
        if len(tones) > max_notes:
            tones.remove(chord.tones[0])
    return tones[:max_notes]


def _candidates(pcs: Sequence[int], low: int, high: int) -> list[tuple[int, ...]]:
    """Close-position voicings (every inversion) of `pcs` lying within [low, high]."""
    out = []
    for rotation in range(len(pcs)):
        order = list(pcs[rotation:]) + list(pcs[:rotation])
        for base in range(low, low + 12):
            if base % 12 != order[0]:
                continue
            for octave in range(0, 4):
                notes = [base + 12 * octave]
                for pc in order[1:]:
                    nxt = notes[-1] + 1
                    while nxt % 12 != pc:
                        nxt += 1
                    notes.append(nxt)
                if notes[-1] <= high and notes[0] >= low:
                    out.append(tuple(notes))
    return out


def _movement(a: Sequence[int], b: Sequence[int]) -> float:
    """Voice-leading distance: each new note to its nearest old note and back (common tones 0)."""
    return sum(min(abs(n - o) for o in a) for n in b) + sum(min(abs(o - n) for n in b) for o in a)


def voice_lead(
    chords: Sequence[Chord], style: str, low: int, high: int, max_notes: int = 4, center: int | None = None
) -> list[tuple[int, ...]]:
    """Voicings for a chord sequence that move as little as possible between chords,
    drifting back toward `center` so the part stays in its register."""
    center = center if center is not None else (low + high) // 2
    voicings: list[tuple[int, ...]] = []
    previous: tuple[int, ...] | None = None
    for chord in chords:
        pcs = chord_voicing_pcs(chord, style, max_notes)
        if style == "power":
            root = min(p for p in range(low, low + 12) if p % 12 == pcs[0])
            voicing: tuple[int, ...] = (root, root + 7, root + 12)
        else:
            if style == "open" and len(pcs) >= 3:  # spread: root low, the rest an octave up
                cands = [(c[0], *[n + 12 for n in c[1:]]) for c in _candidates(pcs, low, high - 12)]
                cands = [c for c in cands if c[-1] <= high + 7] or _candidates(pcs, low, high)
            else:
                cands = _candidates(pcs, low, high)
            if not cands:
                cands = _candidates(pcs, low - 12, high + 12)

            def cost(c: tuple[int, ...]) -> float:
                drift = abs(sum(c) / len(c) - center) * 0.35
                return (_movement(previous, c) if previous else 0.0) + drift

            voicing = min(cands, key=lambda c: (cost(c), c))
        voicings.append(voicing)
        previous = voicing
    return voicings


# --- timing and dynamics --------------------------------------------------------------------


def swing_unit_beats(plan: Plan) -> float:
    """The subdivision that swing delays for this genre: eighths when swung hard, else 16ths."""
    try:
        from musicd.music.compose.grooves import GROOVES

        family = GROOVES.get(plan.groove)
        if family is not None:
            return family.swing_unit_beats
    except ImportError:  # the drum tables are optional for melodic parts
        pass
    return 0.5 if plan.swing >= 0.5 else 0.25


def swing_beat(beat: float, swing: float, unit: float) -> float:
    """Delay off-beat subdivisions by `swing` times the unit (1/3 on 8ths = triplet swing),
    the same feel the drum part plays."""
    if swing <= 0:
        return beat
    position = beat / unit
    whole = round(position)
    if abs(position - whole) > 1e-6 or whole % 2 == 0:
        return beat
    return beat + swing * unit


def velocity(base: float, energy: float, accent: float = 0.0, jitter: float = 0.0) -> int:
    """A MIDI velocity scaled by section energy (0..1)."""
    value = base * (0.72 + 0.38 * energy) + accent + jitter
    return int(min(127, max(1, round(value))))
