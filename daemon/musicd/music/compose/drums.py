"""The drum part: a genre groove per section, fills at phrase ends, builds, a final hit.

Times are quarter-note beats from the song start (GM drum pitches, channel 10).

Energy picks a tier per section: intros and outros play "sparse" (or rest when very
quiet), breakdowns rest (a pickup fill leads back in), verses "medium", choruses and
drops "full" with a crash on their
first downbeat. The last bar of every 4-bar phrase may carry a small fill and every
8th a big one; a section always ends with a fill when a louder one follows. A "build"
section is a snare roll that doubles its rate and swells into what comes next. The
last bar of the song holds only the final hit (kick + crash on its downbeat).

Swing delays the off-beat subdivision named by the family (`swing_unit_beats`: 16ths
for boom-bap, funk, pop, house...; 8ths for jazz, shuffle, reggae, rock, ballad) by
`swing` times that subdivision, so 1/3 on 8ths is a triplet swing. Compound meters
(6/8, 12/8) and triplet figures are already swung and are left as written.

Humanisation draws only from the given generator: accents by position in the bar,
velocity jitter, skipped ghost notes, timing jitter of a few milliseconds (scaled by
the family's looseness, never before the bar it belongs to), and no two notes of one
pitch overlap. Same inputs and seed give the same notes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicd.music.compose.grooves import (
    FILL_SHAPES,
    GROOVE_FAMILIES,
    LANE_PITCH,
    TIMEKEEPER_LANES,
    VELOCITY,
    FillShape,
    GrooveError,
    GrooveFamily,
    StepPattern,
    fill_names,
    groove_family,
    is_compound,
    patterns_for,
)
from musicd.music.score import Note
from musicd.music.sections import Section

__all__ = ["GROOVE_FAMILIES", "GrooveError", "bar_length_beats", "drum_part"]

log = logging.getLogger(__name__)

FULL_SECTIONS = frozenset({"chorus", "drop"})
SPARSE_SECTIONS = frozenset({"intro", "outro", "breakdown", "ending"})

TIMING_JITTER_SD_BEATS = 0.006  # ~3 ms at 120 bpm for a live player (looseness 1)
TIMING_JITTER_MAX_BEATS = 0.02
VELOCITY_JITTER_SD = 4.0
GHOST_SKIP_PROBABILITY = 0.15
MIN_SAME_PITCH_GAP_BEATS = 0.03
NOTE_GAP_BEATS = 0.005
LANE_DURATION_BEATS = {"crash": 2.0, "crash2": 2.0, "ride": 0.5, "bell": 0.5, "open": 0.5}
DEFAULT_DURATION_BEATS = 0.25
MAX_SWING = 0.75


@dataclass(slots=True)
class _Hit:
    """One drum stroke before humanisation."""

    start_beat: float
    lane: str
    velocity: float
    bar_start: float
    bar_end: float
    jitter: bool = True


@dataclass(frozen=True)
class _Feel:
    """What every bar of the song shares."""

    family: GrooveFamily
    meter: tuple[int, int]
    bar_beats: float
    beat_beats: float  # one beat unit: a quarter (x/4), a dotted quarter (6/8, 12/8)
    swing_unit: float  # 0 when swing does not apply
    swing: float


def bar_length_beats(meter: tuple[int, int]) -> float:
    """Quarter notes in one bar: 4/4 -> 4, 3/4 -> 3, 6/8 -> 3, 12/8 -> 6."""
    numerator, denominator = meter
    return numerator * 4.0 / denominator


def drum_part(
    groove: str, sections: Sequence[Section], meter: tuple[int, int], swing: float, rng: np.random.Generator
) -> tuple[Note, ...]:
    """The drum notes for a whole song in the groove family `groove` (see GROOVE_FAMILIES)."""
    family = groove_family(groove)
    _check_meter(meter)
    if not 0.0 <= swing <= MAX_SWING:
        raise GrooveError(f"swing {swing!r} is out of range; use 0 (straight) to {MAX_SWING}")
    ordered = sorted((s for s in sections if s.bars > 0), key=lambda s: s.start_bar)
    if family.name == "none" or not ordered:
        return ()

    feel = _make_feel(family, meter, swing)
    song_bars = max(s.end_bar for s in ordered)
    variants = {
        tier: int(rng.integers(len(patterns_for(family, meter, tier))))
        for tier in ("sparse", "medium", "full")
    }
    hits: list[_Hit] = []
    for index, section in enumerate(ordered):
        previous = ordered[index - 1] if index else None
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        hits.extend(_section_hits(feel, section, previous, following, song_bars, variants, rng))
    hits.extend(_final_hit(feel, ordered[-1], song_bars))
    notes = _humanise(feel, hits, rng)
    log.debug("drums: %s, %d sections, %d bars, %d notes", groove, len(ordered), song_bars, len(notes))
    return notes


def _check_meter(meter: tuple[int, int]) -> None:
    numerator, denominator = meter
    if numerator < 1 or numerator > 32 or denominator not in (1, 2, 4, 8, 16):
        raise GrooveError(
            f"meter {numerator}/{denominator} cannot be drummed; "
            "use a numerator 1..32 over 1, 2, 4, 8 or 16 (e.g. 4/4, 3/4, 6/8, 12/8)"
        )


def _make_feel(family: GrooveFamily, meter: tuple[int, int], swing: float) -> _Feel:
    compound = is_compound(meter)
    beat = 1.5 if compound else 4.0 / meter[1]
    binary_quarters = not compound and meter[1] <= 4
    unit = family.swing_unit_beats if binary_quarters else 0.0
    amount = max(swing, family.min_swing) if unit else 0.0
    return _Feel(family, meter, bar_length_beats(meter), beat, unit, amount)


def _swung(feel: _Feel, position_in_bar: float) -> float:
    """Delay off-beat subdivisions: the piecewise-linear swing warp of one beat pair."""
    unit, amount = feel.swing_unit, feel.swing
    if not unit or not amount:
        return position_in_bar
    pair_start = (position_in_bar // (2 * unit)) * 2 * unit
    phase = position_in_bar - pair_start
    delay = amount * unit
    if phase <= unit:
        warped = phase * (unit + delay) / unit
    else:
        warped = unit + delay + (phase - unit) * (unit - delay) / unit
    return pair_start + warped


# ---------------------------------------------------------------------------------------------
# Sections


def section_tier(section: Section) -> str | None:
    """sparse, medium, full or build for a section (None: the drums rest)."""
    energy = section.energy
    if section.name == "build":
        return "build"
    if section.name == "breakdown":
        return None  # the drums drop out; a pickup fill leads back in
    if section.name in FULL_SECTIONS:
        return "full" if energy >= 0.35 else "medium"
    if energy < 0.15:
        return None
    if section.name in SPARSE_SECTIONS:
        return "medium" if energy >= 0.7 else "sparse"
    if energy < 0.35:
        return "sparse"
    return "full" if energy >= 0.85 else "medium"


def _section_hits(
    feel: _Feel,
    section: Section,
    previous: Section | None,
    following: Section | None,
    song_bars: int,
    variants: dict[str, int],
    rng: np.random.Generator,
) -> list[_Hit]:
    tier = section_tier(section)
    family = feel.family
    last_bar = min(section.end_bar, song_bars - 1)  # the song's last bar is the final hit
    if tier == "build":
        return _build_hits(feel, section, following, last_bar, variants, rng)
    hits: list[_Hit] = []

    pattern = None
    if tier is not None:
        options = patterns_for(family, feel.meter, tier)
        pattern = options[variants[tier] % len(options)]
    rises = following is not None and (
        following.energy > section.energy + 0.05 or following.name in FULL_SECTIONS
    )
    for bar in range(section.start_bar, last_bar):
        bar_start = bar * feel.bar_beats
        bar_hits: list[_Hit] = []
        index_in_section = bar - section.start_bar
        if pattern is not None:
            bar_hits = _pattern_hits(feel, pattern, index_in_section, bar_start, section.energy, rng)
            bar_hits = _with_ornaments(feel, tier, bar_hits, bar_start, section.energy, rng)
        before_final = bar == song_bars - 2
        ends_section = bar == last_bar - 1 or before_final
        big = _fill_size(tier, index_in_section, ends_section, rises, before_final, rng)
        if big is not None:
            bar_hits = _with_fill(feel, bar_hits, bar_start, big, section.energy, rng)
        if index_in_section == 0 and _crash_at_start(feel, section, previous, tier):
            bar_hits = _with_crash(bar_hits, bar_start, feel, section.energy, "crash")
        if family.section_hits and index_in_section == 0 and tier is not None:
            bar_hits += [
                _hit(bar_start, "kick", "X", section.energy, feel),
                _hit(bar_start, "tom_floor", "X", section.energy, feel),
            ]
        elif (
            tier == "full" and index_in_section > 0 and index_in_section % 8 == 0 and not family.section_hits
        ):
            bar_hits = _with_crash(bar_hits, bar_start, feel, section.energy * 0.9, "crash2")
        hits.extend(bar_hits)
    return hits


def _fill_size(
    tier: str | None,
    index_in_section: int,
    ends_section: bool,
    rises: bool,
    before_final: bool,
    rng: np.random.Generator,
) -> bool | None:
    """True for a big fill, False for a small one, None for no fill in this bar."""
    if ends_section and (rises or before_final):
        if tier is None:
            return False  # a pickup into the band's entry
        return tier != "sparse" or before_final
    if tier is None:
        return None
    phrase_bar = index_in_section + 1
    chance = {"sparse": 0.25, "medium": 0.6, "full": 0.8}[tier]
    if ends_section:
        return False if rng.random() < chance else None
    if phrase_bar % 8 == 0:
        if rng.random() < chance:
            return tier != "sparse"
        return None
    if phrase_bar % 4 == 0 and rng.random() < chance * 0.8:
        return False
    return None


def _crash_at_start(feel: _Feel, section: Section, previous: Section | None, tier: str | None) -> bool:
    if tier is None:
        return False
    if section.name in FULL_SECTIONS or feel.family.section_hits and section.energy >= 0.5:
        return True
    return previous is not None and tier != "sparse" and section.energy > previous.energy + 0.1


# ---------------------------------------------------------------------------------------------
# Strokes


def _hit(start_beat: float, lane: str, symbol: str, energy: float, feel: _Feel, scale: float = 1.0) -> _Hit:
    bar_start = (start_beat // feel.bar_beats) * feel.bar_beats
    return _Hit(
        start_beat, lane, _velocity(symbol, energy, feel) * scale, bar_start, bar_start + feel.bar_beats
    )


def _velocity(symbol: str, energy: float, feel: _Feel) -> float:
    base = VELOCITY[symbol]
    if symbol == "g":
        return base * feel.family.velocity_scale
    return base * (0.8 + 0.25 * energy) * feel.family.velocity_scale


def _position_accent(feel: _Feel, position_in_bar: float) -> float:
    """Downbeats a little louder, off-beat 16ths a little softer."""
    if abs(position_in_bar) < 1e-9:
        return 6.0
    beat_phase = (position_in_bar / feel.beat_beats) % 1.0
    if beat_phase < 1e-9 or beat_phase > 1 - 1e-9:
        return 2.0
    if abs(beat_phase - 0.5) < 1e-9:
        return 0.0
    return -5.0


def _pattern_hits(
    feel: _Feel,
    pattern: StepPattern,
    index_in_section: int,
    bar_start: float,
    energy: float,
    rng: np.random.Generator,
) -> list[_Hit]:
    step_beats = feel.bar_beats / pattern.steps_per_bar
    offset = (index_in_section % pattern.bars) * pattern.steps_per_bar
    hits = []
    for lane, steps in pattern.lanes:
        for step in range(pattern.steps_per_bar):
            symbol = steps[offset + step]
            if symbol == ".":
                continue
            if symbol == "g" and rng.random() < GHOST_SKIP_PROBABILITY:
                continue
            position = step * step_beats
            hit = _hit(bar_start + _swung(feel, position), lane, symbol, energy, feel)
            if lane in TIMEKEEPER_LANES and symbol != "g":
                hit.velocity += _position_accent(feel, position)
            hits.append(hit)
    return hits


def _with_ornaments(
    feel: _Feel,
    tier: str | None,
    bar_hits: list[_Hit],
    bar_start: float,
    energy: float,
    rng: np.random.Generator,
) -> list[_Hit]:
    if "comping" in feel.family.ornaments and tier in ("medium", "full"):
        bar_hits = bar_hits + _comping(feel, tier, bar_start, energy, rng)
    if "hat_rolls" in feel.family.ornaments and tier in ("medium", "full"):
        bar_hits = _with_hat_roll(feel, tier, bar_hits, bar_start, energy, rng)
    return bar_hits


def _comping(feel: _Feel, tier: str, bar_start: float, energy: float, rng: np.random.Generator) -> list[_Hit]:
    """Jazz snare comping on 8th positions, off-beats preferred, with an odd kick 'bomb'."""
    slots = int(round(feel.bar_beats / 0.5))
    weights = np.array([1.0 if i % 2 == 0 else 2.5 for i in range(slots)])
    count = int(rng.integers(0, 3) if tier == "medium" else rng.integers(1, 4))
    chosen = rng.choice(slots, size=min(count, slots), replace=False, p=weights / weights.sum())
    hits = []
    for slot in sorted(int(c) for c in chosen):
        lane = "kick" if tier == "full" and rng.random() < 0.25 else "snare"
        symbol = "o" if rng.random() < 0.35 else "g"
        hits.append(_hit(bar_start + _swung(feel, slot * 0.5), lane, symbol, energy, feel))
    return hits


def _with_hat_roll(
    feel: _Feel, tier: str, bar_hits: list[_Hit], bar_start: float, energy: float, rng: np.random.Generator
) -> list[_Hit]:
    """Trap hi-hat rolls: a half or whole beat of 16th triplets or 32nds replaces the hats."""
    if feel.bar_beats < 2 or rng.random() > (0.75 if tier == "full" else 0.4):
        return bar_hits
    beat = feel.beat_beats
    windows = [
        (feel.bar_beats - beat, beat),
        (feel.bar_beats - beat / 2, beat / 2),
        (beat * 1.5, beat / 2),
        (beat, beat),
    ]
    offset, length = windows[int(rng.integers(len(windows)))]
    rates = (6, 8, 12) if length < beat else (6, 8)  # 16th triplets, 32nds, 32nd triplets
    rate = rates[int(rng.integers(len(rates)))]
    if offset < 0 or offset + length > feel.bar_beats + 1e-9:
        return bar_hits
    start = bar_start + offset
    kept = [
        h for h in bar_hits if h.lane != "hat" or not start - 1e-9 <= h.start_beat < start + length - 1e-9
    ]
    count = max(2, int(round(length * rate / beat)))
    for k in range(count):
        ramp = 0.55 + 0.45 * k / (count - 1)
        kept.append(_hit(start + k * length / count, "hat", "x", energy, feel, ramp))
    return kept


# ---------------------------------------------------------------------------------------------
# Fills, crashes, builds, the final hit


def _with_fill(
    feel: _Feel, bar_hits: list[_Hit], bar_start: float, big: bool, energy: float, rng: np.random.Generator
) -> list[_Hit]:
    names = [
        n
        for n in fill_names(feel.family, feel.meter, big)
        if FILL_SHAPES[n].beats * feel.beat_beats <= feel.bar_beats + 1e-9
    ]
    if not names:
        names = [
            n
            for n in fill_names(feel.family, feel.meter, False)
            if FILL_SHAPES[n].beats * feel.beat_beats <= feel.bar_beats + 1e-9
        ]
    if not names:
        return bar_hits
    shape = FILL_SHAPES[names[int(rng.integers(len(names)))]]
    window_start = bar_start + feel.bar_beats - shape.beats * feel.beat_beats
    kept = [
        h
        for h in bar_hits
        if h.start_beat < window_start - 1e-9
        or (feel.family.fill_keeps_kick and h.lane in ("kick", "kick808"))
    ]
    return kept + _fill_hits(feel, shape, window_start, energy)


def _fill_hits(feel: _Feel, shape: FillShape, window_start: float, energy: float) -> list[_Hit]:
    step_beats = feel.beat_beats / shape.steps_per_beat
    total = shape.beats * shape.steps_per_beat
    swing_it = shape.steps_per_beat in (2, 4, 8) and not shape.compound
    bar_start = (window_start // feel.bar_beats) * feel.bar_beats
    hits = []
    for lane, steps in shape.lanes:
        for step, symbol in enumerate(steps):
            if symbol == ".":
                continue
            position = window_start - bar_start + step * step_beats
            if swing_it:
                position = _swung(feel, position)
            ramp = 0.85 + 0.25 * step / max(1, total - 1)
            hits.append(_hit(bar_start + position, lane, symbol, max(energy, 0.5), feel, ramp))
    return hits


def _with_crash(bar_hits: list[_Hit], bar_start: float, feel: _Feel, energy: float, lane: str) -> list[_Hit]:
    """A crash on the downbeat, in place of the hat or ride there."""
    kept = [
        h
        for h in bar_hits
        if not (
            h.lane in TIMEKEEPER_LANES
            and h.start_beat < bar_start + 1e-6
            and h.start_beat >= bar_start - 1e-6
        )
    ]
    crash = _hit(bar_start, lane, "X", max(energy, 0.6), feel)
    if (
        not any(h.lane in ("kick", "kick808") and abs(h.start_beat - bar_start) < 1e-6 for h in kept)
        and not feel.family.section_hits
    ):
        kept.append(_hit(bar_start, "kick808" if feel.family.name == "trap" else "kick", "x", energy, feel))
    return kept + [crash]


def _build_hits(
    feel: _Feel,
    section: Section,
    following: Section | None,
    last_bar: int,
    variants: dict[str, int],
    rng: np.random.Generator,
) -> list[_Hit]:
    """A snare roll that doubles its rate and swells over the section, over a thinned groove."""
    base_tier = "sparse" if section.energy < 0.5 else "medium"
    options = patterns_for(feel.family, feel.meter, base_tier)
    pattern = options[variants[base_tier] % len(options)]
    compound = is_compound(feel.meter)
    rates = (1, 3, 6, 6) if compound else (1, 2, 4, 8)  # strokes per beat unit
    build_start = section.start_bar * feel.bar_beats
    build_length = max(section.bars * feel.bar_beats, 1e-9)
    hits: list[_Hit] = []
    bars = last_bar - section.start_bar
    for bar in range(section.start_bar, last_bar):
        bar_start = bar * feel.bar_beats
        index = bar - section.start_bar
        is_last = index == bars - 1
        groove = _pattern_hits(feel, pattern, index, bar_start, section.energy, rng)
        hits += [
            h
            for h in groove
            if h.lane not in ("snare", "clap", "rim") and not (is_last and h.lane in ("kick", "kick808"))
        ]
        beats_in_bar = int(round(feel.bar_beats / feel.beat_beats))
        for beat in range(max(1, beats_in_bar)):
            beat_start = bar_start + beat * feel.beat_beats
            progress = (beat_start - build_start) / build_length
            stage = 0 if progress < 0.5 else 1 if progress < 0.75 else 2
            if is_last and beat >= beats_in_bar / 2:
                stage = 3 if bars > 1 or beat >= beats_in_bar - 1 else 2
            rate = rates[stage]
            for k in range(rate):
                position = beat_start + k * feel.beat_beats / rate
                swell = 40 + 82 * ((position - build_start) / build_length)
                lane = "clap" if feel.family.fill_style in ("electronic", "trap") and k % 2 else "snare"
                hits.append(
                    _Hit(
                        position,
                        lane,
                        swell * feel.family.velocity_scale,
                        bar_start,
                        bar_start + feel.bar_beats,
                    )
                )
    if feel.family.drop_gap and following is not None and following.name == "drop":
        gap_start = last_bar * feel.bar_beats - feel.beat_beats / 2
        hits = [h for h in hits if h.start_beat < gap_start - 1e-9]
    return hits


def _final_hit(feel: _Feel, last_section: Section, song_bars: int) -> list[_Hit]:
    start = (song_bars - 1) * feel.bar_beats
    energy = max(last_section.energy, 0.5)
    hits = [_hit(start, "kick", "X", energy, feel), _hit(start, "crash", "X", energy, feel)]
    if feel.family.section_hits:
        hits.append(_hit(start, "tom_floor", "X", energy, feel))
    for hit in hits:
        hit.jitter = False
    return hits


# ---------------------------------------------------------------------------------------------
# Humanisation and clean-up


def _humanise(feel: _Feel, hits: list[_Hit], rng: np.random.Generator) -> tuple[Note, ...]:
    looseness = feel.family.looseness
    timing = rng.normal(0.0, TIMING_JITTER_SD_BEATS * looseness, size=len(hits))
    timing = np.clip(timing, -TIMING_JITTER_MAX_BEATS, TIMING_JITTER_MAX_BEATS)
    loudness = rng.normal(0.0, VELOCITY_JITTER_SD * (0.4 + 0.6 * looseness), size=len(hits))
    offsets = feel.family.lane_offsets_beats
    song_end = max(h.bar_end for h in hits)
    strokes: dict[int, list[tuple[float, int, str]]] = {}
    for hit, dt, dv in zip(hits, timing, loudness):
        start = hit.start_beat
        velocity = hit.velocity
        if hit.jitter:
            start += float(dt) + offsets.get(hit.lane, 0.0)
            velocity += float(dv)
            floor = 12 if hit.velocity < 50 else 30
            velocity = max(velocity, floor)
        start = min(max(start, hit.bar_start, 0.0), hit.bar_end - MIN_SAME_PITCH_GAP_BEATS)
        pitch = LANE_PITCH[hit.lane]
        strokes.setdefault(pitch, []).append((start, int(round(min(max(velocity, 1), 127))), hit.lane))
    notes = []
    for pitch, items in strokes.items():
        items.sort()
        merged: list[tuple[float, int, str]] = []
        for item in items:
            if merged and item[0] - merged[-1][0] < MIN_SAME_PITCH_GAP_BEATS:
                if item[1] > merged[-1][1]:
                    merged[-1] = (merged[-1][0], item[1], item[2])
                continue
            merged.append(item)
        for i, (start, velocity, lane) in enumerate(merged):
            following = merged[i + 1][0] if i + 1 < len(merged) else song_end
            duration = min(
                LANE_DURATION_BEATS.get(lane, DEFAULT_DURATION_BEATS),
                following - start - NOTE_GAP_BEATS,
                song_end - start,
            )
            notes.append(Note(round(start, 6), round(max(duration, 0.01), 6), pitch, velocity))
    notes.sort(key=lambda n: (n.start_beat, n.pitch))
    return tuple(notes)
