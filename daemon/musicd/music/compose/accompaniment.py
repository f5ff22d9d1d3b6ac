"""Chords, pads and arpeggios: the harmony voiced and played in the genre's comping rhythm."""

from __future__ import annotations

import numpy as np

from musicd.music.compose.harmony import Context, swing_beat, swing_unit_beats, velocity, voice_lead
from musicd.music.score import Note

# One bar of (offset beats, length beats) hits per comping style (4/4; scaled to the meter).
COMPING: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "sustain": (((0, 4.0),),),
    "swell": (((0, 4.0),),),
    "lazy": (((0, 1.75), (2.5, 1.4)), ((0, 2.9), (3.5, 0.45))),
    "stabs": (((0, 0.9), (2.5, 0.45), (3, 0.8)), ((0, 0.9), (1.75, 0.6))),
    "offbeat-stabs": (((0.5, 0.2), (1.5, 0.2), (2.5, 0.2), (3.5, 0.2)), ((0.75, 0.2), (2.5, 0.3))),
    "house-stabs": (
        ((0, 0.4), (1.5, 0.4), (2.5, 0.4), (3.5, 0.4)),
        ((0.5, 0.4), (1.5, 0.4), (2.75, 0.4), (3.5, 0.4)),
    ),
    "deep-stabs": (((0, 0.7), (1.75, 0.7), (3, 0.45)), ((0.5, 1.0), (2.5, 1.0))),
    "pop-pulse": (tuple((i * 0.5, 0.45) for i in range(8)),),
    "power-eighths": (tuple((i * 0.5, 0.42) for i in range(8)),),
    "funk-chank": (
        ((0, 0.15), (0.75, 0.15), (1.5, 0.15), (1.75, 0.15), (2.5, 0.15), (3.25, 0.15), (3.5, 0.15)),
    ),
    "disco-offbeat": (((0.5, 0.3), (1.5, 0.3), (2.5, 0.3), (3.5, 0.3)),),
    "soul-comp": (((0, 1.0), (1, 0.45), (2, 1.0), (3, 0.45), (3.5, 0.45)),),
    "jazz-comp": (
        ((0, 0.75), (1.5, 0.5)),
        ((1, 0.5), (2.5, 1.2)),
        ((0.5, 0.9), (3, 0.5)),
        ((0, 0.4), (1.5, 0.4), (3.5, 0.4)),
    ),
    "shuffle-comp": (((0, 0.9), (1, 0.4), (1.5, 0.4), (2, 0.9), (3, 0.4), (3.5, 0.4)),),
    "bossa": (((0, 0.7), (1.5, 0.7), (3, 0.7)), ((0.5, 0.7), (2, 0.7), (3.5, 0.45))),
    "skank": (((1, 0.22), (3, 0.22)),),  # short chops on 2 and 4
    # hip-hop: a two-bar chopped sample, cut short and looped
    "chop": (
        ((0, 0.45), (0.75, 0.4), (1.5, 0.5), (2.5, 0.4), (3.25, 0.6)),
        ((0, 0.45), (0.75, 0.4), (1.5, 0.5), (2.75, 0.9)),
    ),
    "afro-chank": (((0.5, 0.2), (1.25, 0.2), (2, 0.2), (2.75, 0.2), (3.5, 0.2)),),
    "strum": (((0, 0.95), (1, 0.45), (1.5, 0.9), (2.5, 0.45), (3, 0.45), (3.5, 0.45)),),
    "boom-chick": (((1, 0.4), (3, 0.4), (3.5, 0.3)),),
}
# Low-energy versions: calmer parts ring longer.
CALM = {
    "pop-pulse": (((0, 1.9), (2, 1.9)),),
    "power-eighths": (((0, 3.9),),),
    "strum": (((0, 1.9), (2, 1.9)),),
    "funk-chank": (((0, 0.3), (1.5, 0.3), (2.5, 0.3)),),
    "offbeat-stabs": (((0.5, 0.2), (2.5, 0.2)),),
    "house-stabs": (((0, 1.8), (2, 1.8)),),
    "disco-offbeat": (((0, 1.9), (2, 1.9)),),
}
STRUMMED = {"strum", "boom-chick", "power-eighths", "lazy", "bossa", "skank"}

HOOK_SECTIONS = frozenset({"chorus", "drop"})
CHORD_RANGE = {"power": (40, 62, 48), "open": (48, 79, 62)}
DEFAULT_CHORD_RANGE = (53, 76, 64)
PAD_RANGE = (55, 79, 67)
ARP_RANGE = (57, 88, 70)


def _fits(offset: float, span_length: float) -> bool:
    return offset < span_length - 1e-9


def chords_part(ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
    plan = ctx.plan
    low, high, center = CHORD_RANGE.get(plan.voicing, DEFAULT_CHORD_RANGE)
    voicings = voice_lead([s.chord for s in ctx.spans], plan.voicing, low, high, 4, center)
    unit = swing_unit_beats(plan)
    scale_to_bar = ctx.beats_per_bar / 4.0
    notes: list[Note] = []
    for span, voicing in zip(ctx.spans, voicings):
        energy = plan.form[span.section_index].energy
        final = span.bar == ctx.final_bar
        if plan.form[span.section_index].name in HOOK_SECTIONS and plan.voicing != "power":
            top = max(voicing) + 1  # the chorus opens up: the root doubled above the voicing
            while top % 12 != span.chord.root_pc:
                top += 1
            voicing = (*voicing, top) if top - max(voicing) <= 9 else voicing
        if final:
            hits: tuple[tuple[float, float], ...] = ((0.0, span.duration_beats),)
        else:
            table = CALM if energy < 0.5 and plan.comping in CALM else COMPING
            options = table.get(plan.comping, COMPING["sustain"])
            pattern = (
                options[int(rng.integers(len(options)))]
                if plan.comping == "jazz-comp"
                else options[span.bar_in_section % len(options)]
            )
            hits = tuple((o * scale_to_bar, min(d * scale_to_bar, span.duration_beats)) for o, d in pattern)
            if span.duration_beats < ctx.beats_per_bar - 1e-9:  # a split bar: shift the pattern
                offset = span.start_beat - span.bar * ctx.beats_per_bar
                hits = tuple((o - offset, d) for o, d in hits if 0 <= o - offset < span.duration_beats)
                if not hits:
                    hits = ((0.0, span.duration_beats * 0.9),)
        for offset, length in hits:
            if not _fits(offset, span.duration_beats):
                continue
            length = min(length, span.duration_beats - offset)
            upstroke = (
                plan.comping in STRUMMED
                and abs(offset * 2 - round(offset * 2)) < 1e-9
                and abs(offset - round(offset)) > 1e-9
            )
            order = list(voicing[::-1] if upstroke else voicing)
            accent = 6 if abs(offset - round(offset)) < 1e-9 and round(offset) % 2 == 0 else 0
            base = 68 if plan.comping not in ("swell", "sustain") else 60
            start = (
                span.start_beat + offset if final else swing_beat(span.start_beat + offset, plan.swing, unit)
            )
            for n, pitch in enumerate(order):
                spread = 0.012 * n if plan.comping in STRUMMED and not final else 0.0
                notes.append(
                    Note(
                        round(start + spread, 4),
                        round(max(0.1, length - spread), 4),
                        int(pitch),
                        velocity(base, energy, accent - 2 * n, float(rng.normal(0, 3))),
                    )
                )
    return tuple(notes)


def pads_part(ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
    """Long held chords, one per chord span, in sections with some energy (every section in
    sparse genres): the glue under the band."""
    plan = ctx.plan
    low, high, center = PAD_RANGE
    style = "seventh" if plan.voicing != "power" else "triad"
    voicings = voice_lead([s.chord for s in ctx.spans], style, low, high, 3, center)
    always = plan.comping in ("swell", "sustain")
    notes: list[Note] = []
    pending: list[tuple[float, float, tuple[int, ...], float]] = []
    for span, voicing in zip(ctx.spans, voicings):
        section = plan.form[span.section_index]
        if (
            not always
            and section.energy < 0.45
            and section.name not in ("breakdown", "intro")
            and span.bar != ctx.final_bar
        ):
            continue
        if (
            pending
            and pending[-1][2] == voicing
            and abs(pending[-1][0] + pending[-1][1] - span.start_beat) < 1e-9
        ):
            start, length, v, e = pending[-1]
            pending[-1] = (start, length + span.duration_beats, v, e)
        else:
            pending.append((span.start_beat, span.duration_beats, voicing, section.energy))
    for start, length, voicing, energy in pending:
        for pitch in voicing:
            notes.append(
                Note(
                    round(start, 4),
                    round(length, 4),
                    int(pitch),
                    velocity(58, energy, 0, float(rng.normal(0, 2))),
                )
            )
    return tuple(notes)


ARP_SHAPES = {
    "up": (0, 1, 2, 3),
    "updown": (0, 1, 2, 3, 2, 1),
    "travis": (0, 2, 1, 3, 0, 2, 1, 3),
    "roll": (2, 1, 0, 2, 1, 0, 2, 3),  # banjo-style forward roll
}


# Grooves whose arpeggio is a rhythm part: 16th-step masks (x plays) ...
ARP_MASKS: dict[str, str] = {
    "funk": "x.xx.x.xx.xx.x.x",  # muted-guitar chops around the clav
}
# ... or short off-beat chords: (offsets in a 4/4 bar, length in beats).
ARP_CHORD_STABS: dict[str, tuple[tuple[float, ...], float]] = {
    "reggae": ((0.5, 0.75, 1.5, 2.5, 2.75, 3.5), 0.18),  # the organ bubble
    "disco": ((0.0, 1.5, 3.5), 0.3),  # the string section's stabs
}


def arp_part(ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
    """Broken chords: 16ths for electronic genres, an 8th-note picking pattern for acoustic
    ones, in sections with enough energy (all but the intro for folk, country and ambient)."""
    plan = ctx.plan
    acoustic = plan.groove in ("ballad", "train", "afro") or plan.comping == "swell"
    step = 0.5 if plan.comping == "swell" or plan.groove == "ballad" else 0.25
    shape = ARP_SHAPES[
        "roll"
        if plan.groove == "train"
        else "travis"
        if acoustic
        else ("updown" if rng.random() < 0.5 else "up")
    ]
    low, high, center = ARP_RANGE
    voicings = voice_lead([s.chord for s in ctx.spans], "triad", low, high - 12, 3, center)
    unit = swing_unit_beats(plan)
    notes: list[Note] = []
    for span, voicing in zip(ctx.spans, voicings):
        section = plan.form[span.section_index]
        if span.bar == ctx.final_bar:
            for n, pitch in enumerate(voicing):  # a last rolled tonic chord
                notes.append(
                    Note(
                        round(span.start_beat + n * step, 4),
                        round(span.duration_beats - n * step, 4),
                        int(pitch),
                        velocity(62, section.energy),
                    )
                )
            continue
        wanted = 0.3 if acoustic else 0.55
        if section.energy < wanted or section.name == "intro" and not acoustic:
            continue
        tones = list(voicing) + [voicing[0] + 12]
        if plan.groove in ARP_CHORD_STABS:  # the organ bubble: short chords off the beat
            offsets, length = ARP_CHORD_STABS[plan.groove]
            scale_to_bar = ctx.beats_per_bar / 4.0
            for o in offsets:
                at = o * scale_to_bar - (span.start_beat - span.bar * ctx.beats_per_bar)
                if not 0 <= at < span.duration_beats - 1e-9:
                    continue
                start = swing_beat(span.start_beat + at, plan.swing, unit)
                for pitch in voicing:
                    notes.append(
                        Note(
                            round(start, 4),
                            length,
                            int(pitch),
                            velocity(58, section.energy, 0, float(rng.normal(0, 3))),
                        )
                    )
            continue
        mask = ARP_MASKS.get(plan.groove, "")
        count = int(round(span.duration_beats / step))
        for i in range(count):
            if mask and mask[i % len(mask)] == ".":
                continue
            pitch = tones[shape[i % len(shape)] % len(tones)]
            start = span.start_beat + i * step
            on_beat = abs((start - span.start_beat) - round(start - span.start_beat)) < 1e-9
            notes.append(
                Note(
                    round(swing_beat(start, plan.swing, unit), 4),
                    round(step * 0.85, 4),
                    int(pitch),
                    velocity(64, section.energy, 6 if on_beat else 0, float(rng.normal(0, 3))),
                )
            )
    return tuple(notes)
