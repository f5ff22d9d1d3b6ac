"""Arrangement: which parts play in which section, so the song breathes.

Intros and outros are thin (harmony, a bass once the groove has some energy), verses add the
lead, choruses and drops bring everything in, breakdowns drop the bass (the drums rest
there too), builds swell in loudness toward what follows. The song's last bar always
sounds every part: the final chord.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from musicd.music.score import Note
from musicd.music.sections import Section

if TYPE_CHECKING:
    from musicd.music.plan import Plan

ALL_ROLES = frozenset({"bass", "chords", "melody", "pads", "arp"})
SECTION_ROLES: dict[str, frozenset[str]] = {
    "intro": frozenset({"chords", "pads"}),
    "verse": frozenset({"bass", "chords", "melody"}),
    "pre-chorus": frozenset({"bass", "chords", "melody", "pads", "arp"}),
    "build": frozenset({"bass", "chords", "melody", "pads", "arp"}),
    "chorus": ALL_ROLES,
    "drop": ALL_ROLES,
    "bridge": frozenset({"bass", "chords", "melody", "pads"}),
    "breakdown": frozenset({"chords", "melody", "pads", "arp"}),
    "outro": frozenset({"bass", "chords", "pads"}),
    "ending": ALL_ROLES,
}
# Genres whose texture is the sustained harmony: pads under every section.
SUSTAINED_COMPING = frozenset({"sustain", "swell"})
# Genres whose arpeggio is the accompaniment itself (finger-picking, ostinato, organ bubble,
# disco's string stabs).
RHYTHM_ARP_GROOVES = frozenset({"ballad", "train", "afro", "reggae", "disco"})
BUILD_VELOCITY_FROM = 0.72  # a build starts at this share of its velocity and swells to 1.05


def section_roles(plan: Plan, section: Section) -> frozenset[str]:
    """The pitched parts that play in `section`."""
    roles = set(SECTION_ROLES.get(section.name, ALL_ROLES))
    if section.name == "intro" and section.energy >= 0.45:
        roles.add("bass")
    if plan.comping in SUSTAINED_COMPING:
        roles.add("pads")
    if plan.groove in RHYTHM_ARP_GROOVES and section.name not in ("intro", "outro"):
        roles.add("arp")
    if plan.groove == "none" and section.name in ("intro", "outro"):
        roles.add("arp")  # ambient: the slow harp figures carry the edges
    return frozenset(roles)


def arrange(plan: Plan, role: str, notes: Iterable[Note]) -> tuple[Note, ...]:
    """`notes` of one part kept only where the arrangement has the part play, with builds
    swelling in velocity; the final bar always plays."""
    bar_beats = plan.beats_per_bar
    final_beat = (plan.bars - 1) * bar_beats
    sections = plan.form
    out: list[Note] = []
    for note in notes:
        if note.start_beat >= final_beat - 1e-6:
            out.append(note)
            continue
        section = _section_at(sections, note.start_beat / bar_beats)
        if role not in section_roles(plan, section):
            continue
        if section.name == "build":
            start = section.start_bar * bar_beats
            progress = (note.start_beat - start) / max(section.bars * bar_beats, 1e-9)
            scale = BUILD_VELOCITY_FROM + (1.05 - BUILD_VELOCITY_FROM) * progress
            note = replace(note, velocity=int(min(127, max(1, round(note.velocity * scale)))))
        out.append(note)
    return tuple(out)


def _section_at(sections: tuple[Section, ...], bar: float) -> Section:
    for section in sections:
        if section.start_bar <= bar + 1e-9 < section.end_bar:
            return section
    return sections[-1]
