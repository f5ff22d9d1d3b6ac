"""Which drum kit each genre plays: a synthesized drum machine for the electronic genres, a
SoundFont kit (General MIDI bank 128) for the acoustic ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from musicd.synth.drum_machine import KITS


@dataclass(frozen=True)
class KitChoice:
    """A drum kit: `kind` "drum-machine" (synthesized here) or "soundfont" (a bank-128 preset)."""

    name: str
    kind: str
    program: int  # the bank-128 program the MIDI file names (and FluidSynth plays for soundfont kits)
    description: str

    @property
    def synthesized(self) -> bool:
        return self.kind == "drum-machine"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "program": self.program,
            "description": self.description,
        }


# General MIDI / GS drum kits in bank 128 (FluidR3 and MuseScore General carry these)
SOUNDFONT_KITS: dict[str, KitChoice] = {
    k.name: k
    for k in (
        KitChoice("standard", "soundfont", 0, "SoundFont standard acoustic kit"),
        KitChoice("room", "soundfont", 8, "SoundFont room kit: acoustic drums in a live room"),
        KitChoice("power", "soundfont", 16, "SoundFont power kit: big rock drums"),
        KitChoice("jazz", "soundfont", 32, "SoundFont jazz kit"),
        KitChoice("brush", "soundfont", 40, "SoundFont brush kit"),
        KitChoice("orchestra", "soundfont", 48, "SoundFont orchestral percussion: timpani, concert drums"),
    )
}
# the GS bank-128 program named in score.mid for each drum machine (TR-808 = 25, Electronic = 24)
MACHINE_PROGRAMS = {"tr-808": 25, "boom-bap": 25, "tr-909": 24, "tr-707": 24, "breaks": 24}
DRUM_MACHINES: dict[str, KitChoice] = {
    name: KitChoice(name, "drum-machine", MACHINE_PROGRAMS[name], kit.description)
    for name, kit in KITS.items()
}

ACOUSTIC_GENRES = frozenset(
    {"rock", "jazz", "funk", "soul", "country", "folk", "blues", "reggae", "bossa-nova", "cinematic"}
)
ELECTRONIC_GENRES = frozenset(
    {"hip-hop", "trap", "house", "techno", "trance", "synthwave", "dubstep", "drum-and-bass"}
)


def kit_named(name: str) -> KitChoice:
    if name in DRUM_MACHINES:
        return DRUM_MACHINES[name]
    if name in SOUNDFONT_KITS:
        return SOUNDFONT_KITS[name]
    known = ", ".join(sorted((*DRUM_MACHINES, *SOUNDFONT_KITS)))
    raise ValueError(f"unknown drum kit {name!r}; known: {known}")


def kit_for_genre(genre: str) -> KitChoice:
    """The kit a genre's drums play on, as the genre table names it."""
    from musicd.music.genres import GENRES

    return kit_named(GENRES[genre].kit)
