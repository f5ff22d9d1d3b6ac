"""The lead melody: short motifs that repeat and vary (A A' B A'), chord tones on strong beats,
scale steps between, phrase endings that breathe, and a chorus that comes back the same."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicd.music.compose.harmony import Context, swing_beat, swing_unit_beats, velocity
from musicd.music.genres import MelodyStyle
from musicd.music.score import Note
from musicd.music.theory import nearest_pitch
from musicd.seeding import stage_rng

# sections the melody sings in, with (density factor, register shift in semitones)
SECTION_SHAPE: dict[str, tuple[float, int]] = {
    "verse": (0.75, -2),
    "pre-chorus": (0.8, 0),
    "chorus": (1.0, 3),
    "drop": (1.0, 3),
    "bridge": (0.85, 1),
    "build": (0.6, 0),
    "breakdown": (0.5, 0),
}
_STEPS = np.array([-4, -3, -2, -1, 0, 1, 2, 3, 4])
_STEP_P = np.array([0.04, 0.05, 0.13, 0.27, 0.02, 0.27, 0.13, 0.05, 0.04])


@dataclass(frozen=True)
class Motif:
    """One bar of melody: onsets and lengths in beats, scale steps between successive notes."""

    onsets: tuple[float, ...]
    lengths: tuple[float, ...]
    steps: tuple[int, ...]  # steps[0] is 0; steps[i] moves from note i-1 to note i


def _rhythm(
    rng: np.random.Generator, bar_beats: float, style: MelodyStyle, density: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    sub = style.subdivision
    slots = int(round(bar_beats / sub))
    weights = np.empty(slots)
    for i in range(slots):
        at = i * sub
        if abs(at - round(at)) < 1e-9:
            weights[i] = 1.6 if at == 0 else 1.2 if abs(at - bar_beats / 2) < 1e-9 else 0.9
        elif abs(at * 2 - round(at * 2)) < 1e-9:
            weights[i] = 0.3 + 0.9 * style.syncopation
        else:
            weights[i] = 0.12 + 0.5 * style.syncopation
    count = int(np.clip(round(density * bar_beats * rng.uniform(0.8, 1.2)), 2, slots))
    chosen = sorted(int(i) for i in rng.choice(slots, size=count, replace=False, p=weights / weights.sum()))
    onsets = tuple(i * sub for i in chosen)
    lengths = []
    for k, start in enumerate(onsets):
        end = onsets[k + 1] if k + 1 < len(onsets) else bar_beats
        gap = end - start
        lengths.append(round(max(min(sub * 0.9, gap), gap * style.legato), 4))
    return onsets, tuple(lengths)


def make_motif(rng: np.random.Generator, bar_beats: float, style: MelodyStyle, density: float) -> Motif:
    onsets, lengths = _rhythm(rng, bar_beats, style, density)
    steps = [0]
    rising = rng.random() < 0.6  # arch: up then down, or the reverse
    for k in range(1, len(onsets)):
        step = int(rng.choice(_STEPS, p=_STEP_P))
        first_half = k < len(onsets) / 2
        if step and (step > 0) != (rising == first_half) and rng.random() < 0.4:
            step = -step
        steps.append(step)
    return Motif(onsets, lengths, tuple(steps))


class _Singer:
    """Realises motifs on the harmony inside a fixed, singable range."""

    def __init__(self, ctx: Context, low: int, high: int) -> None:
        self.ctx = ctx
        self.low, self.high = low, high
        self.scale = ctx.scale_pitches(low, high)

    def chord_tones(self, beat: float) -> list[int]:
        tones = self.ctx.chord_at(beat).chord.tones
        return [p for p in self.scale if p % 12 in tones]

    def snap_to_chord(self, pitch: int, beat: float) -> int:
        tones = self.chord_tones(beat)
        return min(tones, key=lambda p: (abs(p - pitch), p)) if tones else pitch

    def step(self, pitch: int, steps: int) -> int:
        idx = min(range(len(self.scale)), key=lambda i: abs(self.scale[i] - pitch))
        target = idx + steps
        if target < 0 or target >= len(self.scale):
            target = idx - steps  # turn back at the edge of the range
        return self.scale[min(max(target, 0), len(self.scale) - 1)]

    def realise(
        self, motif: Motif, bar_start: float, start_pitch: int, bar_beats: float, upto: float | None = None
    ) -> list[tuple[float, float, int]]:
        out = []
        pitch = start_pitch
        for k, (onset, length, step) in enumerate(zip(motif.onsets, motif.lengths, motif.steps)):
            if upto is not None and onset >= upto:
                break
            beat = bar_start + onset
            pitch = self.snap_to_chord(pitch, beat) if k == 0 else self.step(pitch, step)
            strong = abs(onset - round(onset)) < 1e-9 and (round(onset) % 2 == 0)
            if strong:
                pitch = self.snap_to_chord(pitch, beat)
            out.append((beat, length, pitch))
        return out

    def cadence(
        self, motif: Motif, bar_start: float, start_pitch: int, bar_beats: float, final_tone: str
    ) -> list[tuple[float, float, int]]:
        """The first half of a motif, then a long chord tone and a breath before the next phrase."""
        half = bar_beats / 2
        notes = self.realise(motif, bar_start, start_pitch, bar_beats, upto=half)
        last = notes[-1][2] if notes else start_pitch
        chord = self.ctx.chord_at(bar_start + half).chord
        wanted = chord.root_pc if final_tone == "root" else chord.tones[1]
        targets = [p for p in self.scale if p % 12 == wanted] or self.chord_tones(bar_start + half)
        target = min(targets, key=lambda p: (abs(p - last), p)) if targets else last
        notes = [(b, min(length, bar_start + half - b), p) for b, length, p in notes]
        hold = max(bar_beats - half - 1.0, bar_beats * 0.25)
        notes.append((bar_start + half, hold, target))
        return notes


def _section_line(
    ctx: Context, name: str, bars: int, energy: float, start_beat: float
) -> list[tuple[float, float, int]]:
    """The melody of one section; the same name gives the same line (relative to its start)."""
    plan = ctx.plan
    style = plan.melody
    rng = stage_rng(plan.seed, f"compose.melody.{name}")
    density_factor, shift = SECTION_SHAPE.get(name, (0.7, 0))
    density = style.notes_per_beat * density_factor * (0.75 + 0.4 * energy)
    bar_beats = ctx.beats_per_bar
    low = style.center_pitch - style.range_semitones // 2
    high = low + style.range_semitones
    singer = _Singer(ctx, low, high)
    motif_a = make_motif(rng, bar_beats, style, density)
    motif_b = make_motif(rng, bar_beats, style, density * 1.1)
    motif_b2 = make_motif(rng, bar_beats, style, density)
    anchor = style.center_pitch + shift
    line: list[tuple[float, float, int]] = []
    pitch = anchor
    for bar in range(bars):
        bar_start = start_beat + bar * bar_beats
        in_phrase = bar % 4
        second_phrase = (bar // 4) % 2 == 1
        last_of_phrase = in_phrase == 3 or bar == bars - 1
        if in_phrase == 0:
            pitch = anchor
        if last_of_phrase and bars > 1:
            tone = "root" if second_phrase or bar == bars - 1 else "third"
            notes = singer.cadence(motif_a, bar_start, pitch, bar_beats, tone)
        elif in_phrase == 2:
            notes = singer.realise(motif_b2 if second_phrase else motif_b, bar_start, pitch, bar_beats)
        else:
            notes = singer.realise(motif_a, bar_start, pitch, bar_beats)
        line.extend(notes)
        if notes:
            pitch = notes[-1][2]
    return line


def section_line(
    ctx: Context, name: str, bars: int, energy: float, start_beat: float
) -> list[tuple[float, float, int]]:
    """The rule-based line of one section as (beat, length, pitch); the Magenta engine primes
    its melody RNN with this line's opening."""
    return _section_line(ctx, name, bars, energy, start_beat)


def sings_in(section_name: str, plan_melody: MelodyStyle) -> bool:
    """Whether the lead melody plays in a section of this name."""
    ambient = plan_melody.notes_per_beat < 0.4
    return section_name in SECTION_SHAPE or (ambient and section_name != "intro")


def melody_part(ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
    plan = ctx.plan
    unit = swing_unit_beats(plan)
    first_energy: dict[str, float] = {}
    for s in plan.form:
        first_energy.setdefault(s.name, s.energy)
    notes: list[Note] = []
    for index, section in enumerate(plan.form):
        sings = sings_in(section.name, plan.melody)
        bars = section.bars - (1 if index == len(plan.form) - 1 else 0)
        if not sings or bars <= 0:
            continue
        start = ctx.section_start_beat(index)
        line = _section_line(ctx, section.name, bars, first_energy[section.name], start)
        for beat, length, pitch in line:
            on_beat = abs(beat - round(beat)) < 1e-6
            notes.append(
                Note(
                    round(swing_beat(beat, plan.swing, unit), 4),
                    round(length, 4),
                    pitch,
                    velocity(96, section.energy, 6 if on_beat else 0, float(rng.normal(0, 4))),
                )
            )
    # the last bar: the tonic, held
    style = plan.melody
    final_start = ctx.final_bar * ctx.beats_per_bar
    previous = notes[-1].pitch if notes else style.center_pitch
    tonic = nearest_pitch(
        ctx.tonic_pc,
        previous,
        style.center_pitch - style.range_semitones // 2,
        style.center_pitch + style.range_semitones // 2,
    )
    notes.append(Note(final_start, ctx.beats_per_bar, tonic, velocity(90, plan.form[-1].energy)))
    return tuple(notes)
