"""The bass line: chord roots on the downbeats in the genre's rhythm, with approach notes; the
acid line (a seeded 16-step 303 pattern of roots, octaves and fifths with accents and slides,
one per section); and its genre's control curves: the dubstep wobble and the trap 808 glide."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from musicd.music.compose.harmony import ChordSpan, Context, swing_beat, swing_unit_beats, velocity
from musicd.music.score import BEND_RANGE_SEMITONES, Control, Note, semitones_to_bend
from musicd.music.theory import nearest_pitch

if TYPE_CHECKING:
    from musicd.music.plan import Plan

BASS_LOW, BASS_HIGH, BASS_CENTER = 28, 50, 38

# One bar of (offset beats, length beats, tone) per style, in 4/4; tones: R root, 3 third,
# 5 fifth, 7 seventh (octave if the chord has none), 8 octave, 6 major sixth, b7 minor
# seventh, A approach note into the next chord's root.
PATTERNS: dict[str, tuple[tuple[float, float, str], ...]] = {
    "laid-back": ((0, 1.5, "R"), (2.5, 0.9, "5"), (3.5, 0.45, "A")),
    "boom-bap": ((0, 0.9, "R"), (1.5, 0.45, "R"), (2.5, 0.9, "5"), (3.5, 0.45, "A")),
    "808": ((0, 1.6, "R"), (1.75, 1.1, "R"), (3.0, 0.9, "8")),
    "rolling": tuple((b + o, 0.2, "R") for b in range(4) for o in (0.25, 0.5, 0.75)),
    "offbeat": tuple((b + 0.5, 0.42, "R") for b in range(4)),
    "sub": ((0, 2.4, "R"), (2.75, 1.15, "R")),
    "wobble": (
        (0, 0.9, "R"),
        (1, 0.3, "R"),
        (1.33, 0.3, "R"),
        (1.67, 0.3, "8"),
        (2.5, 0.9, "R"),
        (3.5, 0.45, "8"),
    ),
    "eighths": tuple((i * 0.5, 0.45, "8" if i % 4 == 3 else "R") for i in range(8)),
    "pedal": ((0, 4.0, "R"),),
    "root-fifth": ((0, 1.5, "R"), (2, 1.4, "5"), (3.5, 0.45, "A")),
    "pop": ((0, 1.4, "R"), (1.5, 0.45, "R"), (2, 0.9, "5"), (3, 0.45, "R"), (3.5, 0.45, "A")),
    "root-eighths": tuple((i * 0.5, 0.42, "A" if i == 7 else "R") for i in range(8)),
    "funk": (
        (0, 0.4, "R"),
        (0.75, 0.2, "8"),
        (1.25, 0.2, "R"),
        (1.5, 0.3, "5"),
        (2.5, 0.2, "8"),
        (2.75, 0.2, "R"),
        (3.25, 0.2, "7"),
        (3.5, 0.4, "A"),
    ),
    "octave": tuple((i * 0.5, 0.4, "8" if i % 2 else "R") for i in range(8)),
    "soul": (
        (0, 1.0, "R"),
        (1, 0.45, "3"),
        (1.5, 0.45, "5"),
        (2, 0.9, "8"),
        (3, 0.45, "5"),
        (3.5, 0.45, "A"),
    ),
    "bossa": ((0, 1.45, "R"), (1.5, 0.45, "5"), (2, 1.45, "R"), (3.5, 0.45, "5")),
    "reggae": ((0, 0.9, "R"), (1, 0.4, "R"), (1.5, 0.9, "5"), (3, 0.4, "3"), (3.5, 0.4, "R")),
    "afro": (
        (0, 0.45, "R"),
        (0.75, 0.2, "R"),
        (1.5, 0.45, "5"),
        (2.25, 0.2, "8"),
        (2.75, 0.45, "7"),
        (3.5, 0.45, "5"),
    ),
}
# The acid line: one 16-step bar per section (a 303 pattern), repeated over its bars.
ACID_STEP_BEATS = 0.25
ACID_GATE_BEATS = 0.17  # a plain step; a slide holds to the next step, so the voice glides
ACID_TONES = ("R", "8", "5", "b7", "3")
ACID_TONE_WEIGHTS = (0.46, 0.24, 0.12, 0.1, 0.08)
ACID_REST = 0.25
ACID_ACCENT = 0.3
ACID_SLIDE = 0.22
ACID_ACCENT_VELOCITY = 22

SPARSE = ((0, 3.9, "R"),)
HALF = ((0, 1.9, "R"), (2, 1.9, "5"))
BOOGIE = ("R", "3", "5", "6", "b7", "6", "5", "3")  # boogie-woogie eighths, up and back


def _tone_pc(tone: str, span: ChordSpan, scale: frozenset[int]) -> int:
    tones = span.chord.tones
    root = span.chord.root_pc
    if tone in ("R", "8"):
        return root
    if tone == "3":
        return tones[1]
    if tone == "5":
        return tones[2] if len(tones) > 2 else root
    if tone == "7":
        return tones[3] if len(tones) > 3 else root
    if tone in ("6", "b7"):  # the scale's sixth / seventh above this root
        first, second = (9, 8) if tone == "6" else (10, 11)
        return (root + first) % 12 if (root + first) % 12 in scale else (root + second) % 12
    raise ValueError(tone)


def _approach(ctx: Context, next_root: int, current: int) -> int:
    """A scale tone a step from the next chord's root, on the side nearer the current note."""
    target = nearest_pitch(next_root, current, BASS_LOW, BASS_HIGH)
    below = max((p for p in range(target - 2, target) if p % 12 in ctx.scale), default=target - 1)
    above = min((p for p in range(target + 1, target + 3) if p % 12 in ctx.scale), default=target + 1)
    return below if abs(below - current) <= abs(above - current) else above


def _walking(
    ctx: Context, span: ChordSpan, next_span: ChordSpan | None, root: int, rng: np.random.Generator
) -> list[tuple[float, float, int]]:
    """Quarter notes: root, two chord/scale tones moving toward the next root, an approach."""
    beats = int(round(span.duration_beats))
    if beats <= 0:
        return []
    target = nearest_pitch(
        next_span.chord.root_pc if next_span else span.chord.root_pc, root, BASS_LOW, BASS_HIGH
    )
    line = [root]
    scale = ctx.scale_pitches(BASS_LOW, BASS_HIGH + 5)
    for beat in range(1, beats):
        current = line[-1]
        if beat == beats - 1 and next_span is not None:
            line.append(_approach(ctx, next_span.chord.root_pc, current))
            continue
        direction = 1 if target > current else -1 if target < current else (1 if rng.random() < 0.5 else -1)
        chord_tones = [
            p
            for p in range(current - 7, current + 8)
            if p % 12 in span.chord.tones and p != current and BASS_LOW <= p <= BASS_HIGH
        ]
        if rng.random() < 0.5 and chord_tones:
            options = [p for p in chord_tones if (p - current) * direction > 0] or chord_tones
            line.append(min(options, key=lambda p: abs(p - current)))
        else:
            idx = min(range(len(scale)), key=lambda i: abs(scale[i] - current))
            step = idx + direction
            line.append(scale[min(max(step, 0), len(scale) - 1)])
    return [(span.start_beat + i, 0.92, p) for i, p in enumerate(line)]


def acid_pattern(rng: np.random.Generator) -> tuple[tuple[int, str, bool, bool], ...]:
    """One bar of a 303 line: (step, tone, accent, slide) for each sounding sixteenth; the one
    always sounds, on the root and accented."""
    steps = []
    for step in range(16):
        if step and rng.random() < ACID_REST:
            continue
        tone = "R" if step == 0 else str(rng.choice(ACID_TONES, p=ACID_TONE_WEIGHTS))
        steps.append(
            (step, tone, step == 0 or bool(rng.random() < ACID_ACCENT), bool(rng.random() < ACID_SLIDE))
        )
    return tuple(steps)


def _acid(
    ctx: Context,
    span: ChordSpan,
    root: int,
    pattern: tuple[tuple[int, str, bool, bool], ...],
) -> list[tuple[float, float, int, int]]:
    """The section's acid bar over `span`, bar after bar: (start, length, pitch, accent)."""
    events = []
    bar_beats = ctx.beats_per_bar
    for bar in range(max(1, math.ceil(span.duration_beats / bar_beats - 1e-9))):
        bar_start = float(bar * bar_beats)
        for k, (step, tone, accent, slide) in enumerate(pattern):
            at = bar_start + step * ACID_STEP_BEATS
            if at >= span.duration_beats - 1e-9:
                break
            nxt = bar_start + pattern[k + 1][0] * ACID_STEP_BEATS if k + 1 < len(pattern) else None
            length = (nxt - at) if slide and nxt is not None else ACID_GATE_BEATS
            length = min(length, span.duration_beats - at)
            if tone == "R":
                pitch = root
            elif tone == "8":
                pitch = root + 12
            else:
                pitch = root + (_tone_pc(tone, span, ctx.scale) - root) % 12
            events.append((span.start_beat + at, length, pitch, ACID_ACCENT_VELOCITY if accent else -6))
    return events


def bass_part(ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
    plan = ctx.plan
    style = plan.bass_style
    unit = swing_unit_beats(plan)
    notes: list[Note] = []
    previous_root = BASS_CENTER
    spans = ctx.spans
    bar_beats = ctx.beats_per_bar
    acid: dict[str, tuple[tuple[int, str, bool, bool], ...]] = {}
    for i, span in enumerate(spans):
        section = plan.form[span.section_index]
        next_span = spans[i + 1] if i + 1 < len(spans) else None
        root = nearest_pitch(span.chord.root_pc, previous_root, BASS_LOW, BASS_HIGH - 7)
        previous_root = root
        energy = section.energy
        final = span.bar == ctx.final_bar
        events: list[tuple[float, float, int]] = []
        accents: dict[float, int] = {}
        if final:
            if span.start_beat + span.duration_beats >= ctx.length_beats - 1e-9:
                events = [(span.start_beat, span.duration_beats, root)]
            else:
                events = [(span.start_beat, span.duration_beats * 0.95, root)]
        elif style == "walking" and energy >= 0.4:
            events = _walking(ctx, span, next_span, root, rng)
        elif style == "acid" and energy >= 0.5:
            if section.name not in acid:
                acid[section.name] = acid_pattern(rng)
            for start, length, pitch, accent in _acid(ctx, span, root, acid[section.name]):
                events.append((start, length, pitch))
                accents[start] = accent
        else:
            if style == "boogie":
                pattern = tuple((k * 0.5, 0.45, t) for k, t in enumerate(BOOGIE))
            elif energy < 0.38 and style not in ("pedal", "808", "sub"):
                pattern = SPARSE
            elif energy < 0.5 and style in ("rolling", "acid", "offbeat", "eighths", "octave", "wobble"):
                pattern = HALF
            else:
                pattern = PATTERNS.get(style, PATTERNS["root-fifth"])
            if style == "pedal" and energy >= 0.75:
                pattern = HALF
            scale_to_bar = bar_beats / 4.0
            for offset, length, tone in pattern:
                at = offset * scale_to_bar
                if at >= span.duration_beats - 1e-9 and not (span.duration_beats >= bar_beats):
                    continue
                if at >= span.duration_beats - 1e-9:
                    continue
                length = min(length * scale_to_bar, span.duration_beats - at)
                if tone == "A":
                    if next_span is None or next_span.chord.root_pc == span.chord.root_pc:
                        pitch = nearest_pitch(_tone_pc("5", span, ctx.scale), root, BASS_LOW, BASS_HIGH)
                    else:
                        pitch = _approach(ctx, next_span.chord.root_pc, root)
                else:
                    pc = _tone_pc(tone, span, ctx.scale)
                    if tone == "R":
                        pitch = root
                    elif tone == "8":
                        pitch = root + 12 if root + 12 <= BASS_HIGH + 7 else root
                    else:  # chord tone above the root, within an octave
                        pitch = root + (pc - root) % 12
                events.append((span.start_beat + at, length, pitch))
        for start, length, pitch in events:
            on_beat = abs(start - round(start)) < 1e-6
            accent = 8 if abs(start - span.start_beat) < 1e-6 else (3 if on_beat else 0)
            accent = accents.get(start, accent)
            start = swing_beat(start, plan.swing, unit) if not final else start
            notes.append(
                Note(
                    round(start, 4),
                    round(max(0.1, length), 4),
                    int(pitch),
                    velocity(92, energy, accent, float(rng.normal(0, 3))),
                )
            )
    return tuple(notes)


# The wobble: FluidSynth's default SoundFont modulators route expression (CC11) to the volume
# envelope but nothing to the filter cutoff (CC74 has no default modulator in SF2 2.01), so the
# wobble is an expression LFO, one cycle per 1/8, 1/8 triplet or 1/4 note, re-chosen every bar.
CC_EXPRESSION = 11
WOBBLE_PERIODS_BEATS = (0.5, 1.0 / 3.0, 1.0)  # 1/8, 1/8 triplet, 1/4
WOBBLE_PERIOD_WEIGHTS = (0.45, 0.25, 0.30)
WOBBLE_STEP_BEATS = 1.0 / 48.0  # divides every period above, so each cycle is sampled alike
WOBBLE_FLOOR = 24  # expression at the trough of a wobble
EXPRESSION_FULL = 127
# The 808 glide: the last part of a sustained note slides to the next sustained note's pitch.
GLIDE_MIN_NOTE_BEATS = 0.75  # both notes at least this long
GLIDE_MAX_GAP_BEATS = 0.25  # the next note starts at most this long after the first ends
GLIDE_BEATS = 0.375  # length of the slide
GLIDE_STEP_BEATS = 1.0 / 32.0
GLIDE_CHANCE = 0.4


def wobble_level(phase: float) -> int:
    """Expression (0..127) at `phase` (0..1) of a wobble cycle: open at the start of the cycle,
    closing along a raised cosine with a sharpened trough."""
    opening = 0.5 + 0.5 * math.cos(2.0 * math.pi * phase)
    return int(round(WOBBLE_FLOOR + (EXPRESSION_FULL - WOBBLE_FLOOR) * opening**0.7))


def _sounding_bars(notes: tuple[Note, ...], bar_beats: float, last_bar: int) -> list[int]:
    bars: set[int] = set()
    for note in notes:
        first = int(math.floor(note.start_beat / bar_beats + 1e-9))
        last = int(math.floor((note.start_beat + note.duration_beats) / bar_beats - 1e-9))
        bars.update(range(first, min(last, last_bar - 1) + 1))
    return sorted(b for b in bars if b < last_bar)


def wobble_controls(
    notes: tuple[Note, ...], bar_beats: float, last_bar: int, rng: np.random.Generator
) -> tuple[Control, ...]:
    """An expression LFO over every bar (before `last_bar`) where the bass sounds, its rate drawn
    per bar; full expression again where a run of wobbling bars ends."""
    controls: list[Control] = []
    bars = _sounding_bars(notes, bar_beats, last_bar)
    steps = int(round(bar_beats / WOBBLE_STEP_BEATS))
    for i, bar in enumerate(bars):
        period = WOBBLE_PERIODS_BEATS[int(rng.choice(len(WOBBLE_PERIODS_BEATS), p=WOBBLE_PERIOD_WEIGHTS))]
        start = bar * bar_beats
        previous = -1
        for step in range(steps):
            offset = step * WOBBLE_STEP_BEATS
            value = wobble_level((offset / period) % 1.0)
            if value != previous:
                controls.append(Control(round(start + offset, 6), "cc", CC_EXPRESSION, value))
                previous = value
        if i + 1 == len(bars) or bars[i + 1] != bar + 1:
            controls.append(Control(round(start + bar_beats, 6), "cc", CC_EXPRESSION, EXPRESSION_FULL))
    return tuple(controls)


def glide_controls(notes: tuple[Note, ...], rng: np.random.Generator) -> tuple[Control, ...]:
    """Now and then a pitch-bend slide from a sustained note into the next one (within the bend
    range), bent back to centre as the next note starts."""
    ordered = sorted(notes, key=lambda n: (n.start_beat, n.pitch))
    controls: list[Control] = []
    for note, following in zip(ordered, ordered[1:]):
        end = note.start_beat + note.duration_beats
        interval = following.pitch - note.pitch
        if (
            note.duration_beats < GLIDE_MIN_NOTE_BEATS
            or following.duration_beats < GLIDE_MIN_NOTE_BEATS
            or not 0 <= following.start_beat - end <= GLIDE_MAX_GAP_BEATS
            or interval == 0
            or abs(interval) > BEND_RANGE_SEMITONES
        ):
            continue
        if rng.random() >= GLIDE_CHANCE:
            continue
        length = min(GLIDE_BEATS, note.duration_beats / 2)
        steps = max(1, int(round(length / GLIDE_STEP_BEATS)))
        glide_start = end - length
        for step in range(1, steps + 1):
            progress = step / steps
            eased = progress * progress * (3 - 2 * progress)  # smoothstep: leaves and lands gently
            controls.append(
                Control(
                    round(glide_start + step * length / steps, 6),
                    "bend",
                    0,
                    semitones_to_bend(interval * eased),
                )
            )
        controls.append(Control(round(following.start_beat, 6), "bend", 0, 0))
    return tuple(controls)


def bass_controls(plan: Plan, notes: tuple[Note, ...], rng: np.random.Generator) -> tuple[Control, ...]:
    """The bass style's control curves for the arranged bass `notes`: the wobble for dubstep,
    808 glides for trap, none for the other styles."""
    if plan.bass_style == "wobble":
        return wobble_controls(notes, plan.beats_per_bar, plan.bars - 1, rng)
    if plan.bass_style == "808":
        return glide_controls(notes, rng)
    return ()
