"""The rule-based composer: a plan becomes a multi-track score (drums, bass, chords, melody,
pads, arpeggios), every part from its own seeded generator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from musicd.music.compose.accompaniment import arp_part, chords_part, pads_part
from musicd.music.compose.arrangement import arrange
from musicd.music.compose.bass import bass_part
from musicd.music.compose.harmony import make_context
from musicd.music.compose.melody import melody_part
from musicd.music.compose.signatures import finish_drums, part_controls
from musicd.music.score import DRUM_CHANNEL, Note, Score, Track
from musicd.seeding import stage_rng
from musicd.synth.kits import kit_named

if TYPE_CHECKING:
    import numpy as np

    from musicd.music.compose.harmony import Context
    from musicd.music.plan import Plan

# A part composer: the harmony context and the part's seeded generator -> its notes.
PartComposer = Callable[["Context", "np.random.Generator"], tuple[Note, ...]]

log = logging.getLogger(__name__)

# stem name -> MIDI channel (drums use channel 10, index 9)
CHANNELS: dict[str, int] = {"melody": 0, "chords": 1, "bass": 2, "pads": 3, "arp": 4}
PART_COMPOSERS = {
    "bass": bass_part,
    "chords": chords_part,
    "melody": melody_part,
    "pads": pads_part,
    "arp": arp_part,
}
TRACK_ORDER = ("drums", "bass", "chords", "pads", "arp", "melody")


def _sorted(notes: tuple[Note, ...]) -> tuple[Note, ...]:
    return tuple(sorted(notes, key=lambda n: (n.start_beat, n.pitch, n.duration_beats)))


def compose(plan: Plan, melody: PartComposer | None = None) -> Score:
    """Compose the planned song; the same plan always gives the same score.

    `melody` writes the melody part instead of the rules (the Magenta engine)."""
    ctx = make_context(plan)
    tracks: dict[str, Track] = {}
    if plan.groove != "none":
        from musicd.music.compose.drums import drum_part

        drums = drum_part(
            plan.groove, plan.form, plan.meter, plan.swing, stage_rng(plan.seed, "compose.drums")
        )
        kit_program = kit_named(plan.kit).program  # the bank-128 kit preset
        tracks["drums"] = Track("drums", kit_program, DRUM_CHANNEL, _sorted(finish_drums(plan, tuple(drums))))
    for role, program in plan.instruments.items():
        composer = melody if role == "melody" and melody is not None else PART_COMPOSERS[role]
        notes = arrange(plan, role, composer(ctx, stage_rng(plan.seed, f"compose.{role}")))
        if notes:
            notes = _sorted(notes)
            controls = part_controls(plan, role, notes)
            tracks[role] = Track(role, program, CHANNELS[role], notes, controls=controls)
    ordered = tuple(tracks[name] for name in TRACK_ORDER if name in tracks)
    sections = tuple((s.name, s.start_bar * plan.beats_per_bar) for s in plan.form)
    score = Score(
        tempo_bpm=plan.tempo_bpm,
        meter=plan.meter,
        key_tonic=plan.key_tonic,
        mode=plan.mode,
        tracks=ordered,
        length_beats=plan.bars * plan.beats_per_bar,
        sections=sections,
    )
    log.debug("composed %d tracks, %d notes", len(ordered), sum(len(t.notes) for t in ordered))
    return score
