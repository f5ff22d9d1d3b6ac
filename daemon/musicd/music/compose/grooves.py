"""Drum groove data: step grids per groove family, meter and energy tier, and fill shapes.

A grid is a string with one character per step; `|` and spaces only help the eye.
Step symbols:  X accent   x normal   o soft   g ghost   . rest
A pattern may span several bars (its grids are then that many bars long); bar k of a
section plays bar k mod n of the pattern.

Tiers: "sparse" (intros, outros, breakdowns), "medium" (verses), "full" (choruses, drops).
Meters without a table of their own get a pattern built by `fallback_pattern`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from musicd.errors import MusicdError

TIERS: tuple[str, ...] = ("sparse", "medium", "full")

VELOCITY: Mapping[str, int] = MappingProxyType({"X": 118, "x": 98, "o": 74, "g": 42})

# General MIDI percussion (channel 10) by lane name.
LANE_PITCH: Mapping[str, int] = MappingProxyType(
    {
        "kick": 36,
        "kick808": 35,
        "snare": 38,
        "snare2": 40,
        "rim": 37,
        "clap": 39,
        "hat": 42,
        "pedal": 44,
        "open": 46,
        "ride": 51,
        "bell": 53,
        "crash": 49,
        "crash2": 57,
        "tom_hi": 50,
        "tom_mid": 47,
        "tom_lo": 43,
        "tom_floor": 41,
        "shaker": 70,
        "cabasa": 69,
        "tamb": 54,
        "cowbell": 56,
        "claves": 75,
        "conga_mute": 62,
        "conga_open": 63,
        "conga_lo": 64,
        "timbale_hi": 65,
        "timbale_lo": 66,
    }
)

TIMEKEEPER_LANES: frozenset[str] = frozenset(
    {"hat", "pedal", "open", "ride", "bell", "shaker", "cabasa", "tamb"}
)


class GrooveError(MusicdError):
    """A groove name, meter or swing amount the drum composer cannot play."""


@dataclass(frozen=True)
class StepPattern:
    """Lanes of equal-length step grids; `steps_per_bar` steps divide one bar evenly."""

    steps_per_bar: int
    lanes: tuple[tuple[str, str], ...]

    @property
    def bars(self) -> int:
        return len(self.lanes[0][1]) // self.steps_per_bar


@dataclass(frozen=True)
class FillShape:
    """A fill of `beats` beat units (quarter notes, or dotted quarters in compound meters)."""

    name: str
    beats: int
    steps_per_beat: int
    lanes: tuple[tuple[str, str], ...]
    compound: bool = False


def _clean(grid: str) -> str:
    text = grid.replace("|", "").replace(" ", "")
    bad = set(text) - set(VELOCITY) - {"."}
    if bad:
        raise ValueError(f"grid {grid!r} has unknown step symbols {sorted(bad)}")
    return text


def grid(steps_per_bar: int, **lanes: str) -> StepPattern:
    """A pattern from named lanes; every grid must be the same whole number of bars."""
    cleaned = tuple((lane, _clean(g)) for lane, g in lanes.items())
    lengths = {len(g) for _, g in cleaned}
    if len(lengths) != 1 or next(iter(lengths)) % steps_per_bar:
        raise ValueError(f"lanes {sorted(lanes)} differ in length or do not fill whole bars")
    unknown = [lane for lane, _ in cleaned if lane not in LANE_PITCH]
    if unknown:
        raise ValueError(f"unknown drum lanes {unknown}")
    return StepPattern(steps_per_bar, cleaned)


def fill(name: str, beats: int, steps_per_beat: int, compound: bool = False, **lanes: str) -> FillShape:
    """A fill shape; every grid must be `beats * steps_per_beat` steps long."""
    cleaned = tuple((lane, _clean(g)) for lane, g in lanes.items())
    if any(len(g) != beats * steps_per_beat for _, g in cleaned):
        raise ValueError(f"fill {name!r} grids must be {beats * steps_per_beat} steps long")
    return FillShape(name, beats, steps_per_beat, cleaned, compound)


@dataclass(frozen=True)
class GrooveFamily:
    """How one family of genres plays the kit.

    swing_unit_beats: the subdivision that swing delays (0.25 = off-beat 16ths,
    0.5 = off-beat 8ths); min_swing: a floor for families that are swung by definition.
    looseness: 0 = programmed and quantised, 1 = a live player (timing/velocity jitter).
    fill_style: a key of FILL_SETS. fill_keeps_kick: the kick keeps going under fills.
    ornaments: extra per-bar figures played by drums.py ("hat_rolls", "comping").
    fallback: how `fallback_pattern` lays out unusual meters ("backbeat", "half-time",
    "four-on-floor", "one-drop", "cinematic"), with `timekeeper` and `backbeat` lanes.
    lane_offsets_beats: a lane's constant push (-) or drag (+), e.g. a lazy snare.
    """

    name: str
    swing_unit_beats: float
    fill_style: str
    fallback: str
    timekeeper: str
    backbeat: str
    patterns: Mapping[str, Mapping[str, tuple[StepPattern, ...]]]
    min_swing: float = 0.0
    looseness: float = 1.0
    velocity_scale: float = 1.0
    fill_keeps_kick: bool = False
    drop_gap: bool = False
    section_hits: bool = False
    ornaments: tuple[str, ...] = ()
    lane_offsets_beats: Mapping[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Fill shapes. Binary fills count 16ths (4 steps a beat), triplets (3) or 32nds (8);
# compound fills count 8ths (3 a dotted beat) or 16ths (6).

FILL_SHAPES: Mapping[str, FillShape] = MappingProxyType(
    {
        f.name: f
        for f in (
            # kit, one beat
            fill("snare_16ths", 1, 4, snare="oxxX"),
            fill("snare_toms", 1, 4, snare="xx..", tom_mid="..x.", tom_floor="...X"),
            fill("kick_snare", 1, 4, kick="x.x.", snare=".x.X"),
            fill("flam_accent", 1, 4, snare="x..X", tom_floor="..x."),
            fill("hat_lift", 1, 4, kick="x...", open="..X."),
            # kit, two beats and a whole bar
            fill(
                "toms_down",
                2,
                4,
                snare="xx..|....",
                tom_hi="..xx|....",
                tom_mid="....|xx..",
                tom_floor="....|..xX",
            ),
            fill("snare_crescendo", 2, 4, snare="oxxx|xxxX"),
            fill("linear", 2, 4, kick="x..x|..x.", snare=".x..|x..X", tom_hi="..x.|.x.."),
            fill(
                "tom_triplets",
                2,
                3,
                snare="xx.|...",
                tom_hi="..x|...",
                tom_mid="...|xx.",
                tom_floor="...|..X",
            ),
            fill(
                "big_toms",
                4,
                4,
                snare="x.x.|xxxx|....|....",
                tom_hi="....|....|xx..|....",
                tom_mid="....|....|..xx|....",
                tom_floor="....|....|....|xxxX",
            ),
            # electronic
            fill("clap_16ths", 1, 4, clap="oxxX"),
            fill("snare_32nds", 1, 8, snare="oxxxxxxX"),
            fill("kick_stutter", 1, 4, kick="xxx.", clap="...X"),
            fill("clap_triplets", 1, 3, clap="xxX"),
            fill("snare_roll_8_16", 2, 4, snare="x.x.|xxxX"),
            # trap: hat and snare rolls
            fill("hat_roll_6", 1, 6, hat="oxxxxX"),
            fill("hat_roll_8", 1, 8, hat="ooxxxxxX"),
            fill("snare_triplet_roll", 2, 3, snare="oox|xxX"),
            # jazz and shuffle: triplet figures, kick "bombs"
            fill("jazz_triplet", 1, 3, snare="oxX"),
            fill("jazz_bomb", 1, 3, snare="x..", kick="..X"),
            fill("jazz_snare_tom", 2, 3, snare="x.x|...", tom_hi="...|x..", tom_floor="...|..X"),
            fill(
                "jazz_tom_trips",
                2,
                3,
                snare="xx.|...",
                tom_hi="..x|...",
                tom_mid="...|xx.",
                tom_floor="...|..X",
            ),
            # light kits (bossa, ballad, reggae)
            fill("rim_tom", 1, 4, rim="x.x.", tom_mid="...x"),
            fill("light_toms", 2, 4, snare="o..o|....", tom_mid="....|x...", tom_floor="....|..x."),
            # cinematic: rolling toms, timpani-like hits
            fill("timpani_hits", 1, 4, tom_floor="x.x.", kick="...X"),
            fill("tom_roll", 2, 4, tom_lo="x.x.|x.x.", tom_floor=".x.x|.x.X"),
            fill("tom_roll_long", 4, 4, tom_lo="x.x.|x.x.|x.x.|x.x.", tom_floor=".x.x|.x.x|.x.x|.x.X"),
            # compound meters (6/8, 12/8): a beat is a dotted quarter
            fill("c_snare", 1, 3, True, snare="oxX"),
            fill("c_snare_toms", 1, 3, True, snare="xx.", tom_floor="..X"),
            fill("c_sextuplets", 1, 6, True, snare="oxxxxX"),
            fill("c_hat_lift", 1, 3, True, kick="x..", open="..X"),
            fill(
                "c_toms_down",
                2,
                3,
                True,
                snare="xx.|...",
                tom_hi="..x|...",
                tom_mid="...|x..",
                tom_floor="...|.xX",
            ),
            fill(
                "c_sextuplet_toms",
                2,
                6,
                True,
                snare="xxxxxx|......",
                tom_hi="......|xx....",
                tom_mid="......|..xx..",
                tom_floor="......|....xX",
            ),
            fill("c_tom_roll", 2, 6, True, tom_lo="x.x.x.|x.x.x.", tom_floor=".x.x.x|.x.x.X"),
        )
    }
)

# style -> (binary small, binary big, compound small, compound big)
FILL_SETS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        "kit": (
            ("snare_16ths", "snare_toms", "kick_snare", "flam_accent"),
            ("toms_down", "snare_crescendo", "linear", "tom_triplets", "big_toms"),
            ("c_snare", "c_snare_toms", "c_sextuplets"),
            ("c_toms_down", "c_sextuplet_toms"),
        ),
        "electronic": (
            ("clap_16ths", "snare_32nds", "kick_stutter", "clap_triplets"),
            ("snare_roll_8_16", "snare_crescendo"),
            ("c_snare", "c_sextuplets"),
            ("c_sextuplet_toms",),
        ),
        "trap": (
            ("hat_roll_6", "hat_roll_8", "clap_triplets"),
            ("snare_triplet_roll", "snare_roll_8_16"),
            ("c_snare", "c_sextuplets"),
            ("c_sextuplet_toms",),
        ),
        "triplet": (
            ("jazz_triplet", "jazz_bomb"),
            ("jazz_snare_tom", "jazz_tom_trips", "tom_triplets"),
            ("c_snare", "c_snare_toms"),
            ("c_toms_down",),
        ),
        "light": (
            ("rim_tom", "hat_lift", "snare_16ths"),
            ("light_toms", "snare_toms"),
            ("c_hat_lift", "c_snare"),
            ("c_toms_down",),
        ),
        "cinematic": (
            ("timpani_hits", "tom_roll"),
            ("tom_roll", "tom_roll_long"),
            ("c_snare_toms",),
            ("c_tom_roll",),
        ),
    }
)


# ---------------------------------------------------------------------------------------------
# Groove families. Most 4/4 grids are 16ths (16 steps a bar); jazz and shuffle count 8ths.

_FOUR_ON_FLOOR = {
    "4/4": {
        "sparse": (grid(16, kick="X...|X...|X...|X...", hat="..o.|..o.|..o.|..o."),),
        "medium": (
            grid(16, kick="X...|X...|X...|X...", clap="....|x...|....|x...", open="..x.|..x.|..x.|..x."),
        ),
        "full": (
            grid(
                16,
                kick="X...|X...|X...|X...",
                clap="....|X...|....|X...",
                open="..x.|..x.|..x.|..x.",
                hat="xo.o|xo.o|xo.o|xo.o",
            ),
            grid(
                16,
                kick="X...|X...|X...|X...",
                clap="....|X...|....|X...",
                open="..x.|..x.|..x.|..x.",
                hat="x.gg|x.g.|x.gg|x.g.",
                shaker="gogo|gogo|gogo|gogo",
            ),
        ),
    }
}

_FAMILIES: tuple[GrooveFamily, ...] = (
    GrooveFamily(
        "boom-bap",
        swing_unit_beats=0.25,
        fill_style="electronic",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        looseness=0.8,
        lane_offsets_beats={"snare": 0.012, "clap": 0.012},
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", hat="o.g.|o.g.|o.g.|o.g."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|..x.|..x.|....|X..x|..x.|....|..x.",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|..x.|..x.|....|X..x|..x.|....|..x.",
                        snare="....|X...|....|X...|....|X...|...g|X..g",
                        hat="x.og|x.o.|x.og|x.o.|x.og|x.o.|x.og|x...",
                        open="....|....|....|....|....|....|....|..o.",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "trap",
        swing_unit_beats=0.25,
        fill_style="trap",
        fallback="half-time",
        timekeeper="hat",
        backbeat="clap",
        looseness=0.2,
        drop_gap=True,
        ornaments=("hat_rolls",),
        patterns={
            "4/4": {
                "sparse": (grid(16, kick808="X...|....|....|....", hat="o.o.|o.o.|o.o.|o.o."),),
                "medium": (
                    grid(
                        16,
                        kick808="X...|....|..x.|....|X...|..x.|....|....",
                        clap="....|....|X...|....|....|....|X...|....",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick808="X...|....|..x.|...x|X..x|....|.x..|....",
                        clap="....|....|X...|....|....|....|X...|....",
                        snare="....|....|x...|....|....|....|x...|....",
                        hat="x.o.|x.oo|x.o.|x.o.|x.o.|x.o.|x.oo|x...",
                        open="....|....|....|....|....|....|....|..x.",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "four-on-floor",
        swing_unit_beats=0.25,
        fill_style="electronic",
        fallback="four-on-floor",
        timekeeper="open",
        backbeat="clap",
        looseness=0.2,
        fill_keeps_kick=True,
        drop_gap=True,
        patterns=_FOUR_ON_FLOOR,
    ),
    GrooveFamily(
        "breakbeat",
        swing_unit_beats=0.25,
        fill_style="electronic",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        looseness=0.4,
        drop_gap=True,
        patterns={
            # the amen break (The Winstons, 1969) as jungle and drum-and-bass chop it: kick on
            # 1 and the and of 1, a ghosted snare around the backbeat, the fourth bar's turnaround
            "4/4": {
                "sparse": (grid(16, hat="x.o.|x.o.|x.o.|x.o.", ride="o...|....|o...|...."),),
                "medium": (
                    grid(
                        16,
                        kick="X.x.|....|..x.|....|X.x.|....|..xx|....",
                        snare="....|X...|.g..|X...|....|X...|.g..|X...",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X.x.|....|..x.|....|X.x.|....|..x.|....|X.x.|....|..xx|....|..x.|....|..x.|....",
                        snare="....|X..g|.x..|X..g|....|X..g|.x..|X..g|....|X..g|.x..|X.g.|.x..|X..g|.x..|X..g",
                        ride="x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.|x.x.",
                        hat="....|....|....|....|....|....|....|....|....|....|....|..o.|....|....|....|....",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "half-time",
        swing_unit_beats=0.25,
        fill_style="electronic",
        fallback="half-time",
        timekeeper="hat",
        backbeat="snare",
        looseness=0.25,
        drop_gap=True,
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", hat="o...|o...|o...|o..."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|....|....|X...|..x.|....|....",
                        snare="....|....|X...|....|....|....|X...|....",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|....|..x.|X..x|....|....|....",
                        snare="....|....|X...|....|....|....|X...|..g.",
                        clap="....|....|x...|....|....|....|x...|....",
                        hat="x.o.|x.og|x.o.|x.og|x.o.|x.og|x.o.|x.og",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "rock",
        swing_unit_beats=0.5,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|....|x...|....", hat="o.g.|o.g.|o.g.|o.g."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|x...|....|X...|....|x.x.|....",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|x.x.|....|X...|..x.|x...|....",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        ride="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                    grid(
                        16,
                        kick="X...|..x.|x.x.|....|X...|..x.|x...|..x.",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        hat="X.x.|X.x.|X.x.|X.x.|X.x.|X.x.|X.x.|X...",
                        open="....|....|....|....|....|....|....|..x.",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "pop",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        looseness=0.5,
        velocity_scale=0.95,
        patterns={
            "4/4": {
                "sparse": (
                    grid(
                        16, kick="x...|....|....|....", hat="o.g.|o.g.|o.g.|o.g.", rim="....|o...|....|o..."
                    ),
                ),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|x...|....|X...|..x.|x...|....",
                        snare="....|x...|....|x...|....|x...|....|x...",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|x...|..x.|X...|..x.|x...|....",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        clap="....|x...|....|x...|....|x...|....|x...",
                        hat="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                        tamb="..o.|..o.|..o.|..o.|..o.|..o.|..o.|..o.",
                    ),
                ),
            },
            "3/4": {
                "sparse": (grid(12, kick="x...|....|....", hat="o.g.|o.g.|o.g."),),
                "medium": (grid(12, kick="X...|....|....", rim="....|o...|x...", hat="x.o.|x.o.|x.o."),),
                "full": (
                    grid(
                        12,
                        kick="X...|....|..x.",
                        snare="....|x...|X...",
                        hat="xgog|xgog|xgog",
                        tamb="..o.|..o.|..o.",
                    ),
                ),
            },
            "12/8": {
                "sparse": (grid(12, kick="x...........", hat="o..o..o..o.."),),
                "medium": (grid(12, kick="X.....x.....", snare="...x.....x..", hat="xooxooxooxoo"),),
                "full": (
                    grid(
                        12, kick="X....ox.....", snare="...X.....X..", hat="xooxooxooxoo", tamb="...o.....o.."
                    ),
                ),
            },
        },
    ),
    GrooveFamily(
        "funk",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", hat="xgog|xgog|xgog|xgog"),),
                "medium": (
                    grid(
                        16,
                        kick="X.x.|....|..x.|.x..|X.x.|...x|..x.|....",
                        snare="....|X...|.g..|X...|....|X..g|....|X.g.",
                        hat="xoxo|xoxo|xoxo|xoxo|xoxo|xoxo|xoxo|xoxo",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X.x.|....|..x.|.x..|X.x.|...x|..x.|....",
                        snare=".g..|X..g|.g.g|X..g|.g..|X...|.g.g|X.g.",
                        hat="xoxo|xoxo|xoxo|xo.o|xoxo|xo.o|xoxo|xoxo",
                        open="....|....|....|..X.|....|..X.|....|....",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "disco",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="four-on-floor",
        timekeeper="open",
        backbeat="snare",
        looseness=0.4,
        fill_keeps_kick=True,
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|x...|x...|x...", hat="o.o.|o.o.|o.o.|o.o."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|X...|X...|X...",
                        snare="....|X...|....|X...",
                        open="..x.|..x.|..x.|..x.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|X...|X...|X...|X...|X...|X...|X...",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        open="..X.|..X.|..X.|..X.|..X.|..X.|..X.|..X.",
                        hat="xo.o|xo.o|xo.o|xo.o|xo.o|xo.o|xo.o|xo.o",
                        tamb="....|x...|....|x...|....|x...|....|x...",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "reggae",
        swing_unit_beats=0.5,
        fill_style="light",
        fallback="one-drop",
        timekeeper="hat",
        backbeat="rim",
        velocity_scale=0.92,
        patterns={
            "4/4": {
                "sparse": (grid(16, rim="....|....|o...|....", hat="..o.|..o.|..o.|..o."),),
                "medium": (
                    grid(
                        16, kick="....|....|X...|....", rim="....|....|x...|....", hat="o.x.|o.x.|o.x.|o.x."
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="....|....|X...|....|....|....|X...|....",
                        rim="....|....|X...|....|....|....|X...|...g",
                        hat="o.x.|o.x.|o.x.|o.x.|o.x.|o.x.|o.x.|o...",
                        open="....|....|....|....|....|....|....|..x.",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "bossa",
        swing_unit_beats=0.25,
        fill_style="light",
        fallback="backbeat",
        timekeeper="shaker",
        backbeat="rim",
        velocity_scale=0.85,
        patterns={
            "4/4": {
                "sparse": (
                    grid(
                        16,
                        rim="o...|..o.|....|o...|....|o...|..o.|....",
                        shaker="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                    ),
                ),
                "medium": (
                    grid(
                        16,
                        rim="x...|..x.|....|x...|....|x...|..x.|....",
                        kick="x...|..o.|x...|..o.|x...|..o.|x...|..o.",
                        shaker="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        rim="X...|..X.|....|X...|....|X...|..X.|....",
                        kick="x...|..o.|x...|..o.|x...|..o.|x...|..o.",
                        shaker="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                        ride="o.g.|o.g.|o.g.|o.g.|o.g.|o.g.|o.g.|o.g.",
                        pedal="....|o...|....|o...|....|o...|....|o...",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "jazz-swing",
        swing_unit_beats=0.5,
        min_swing=0.2,
        fill_style="triplet",
        fallback="backbeat",
        timekeeper="ride",
        backbeat="pedal",
        velocity_scale=0.85,
        ornaments=("comping",),
        lane_offsets_beats={"ride": -0.006},
        patterns={
            "4/4": {
                "sparse": (grid(8, ride="o.ogo.og", pedal="..o...o."),),
                "medium": (grid(8, ride="x.xox.xo", pedal="..x...x.", kick="g...g..."),),
                "full": (grid(8, ride="x.Xox.Xo", pedal="..x...x.", kick="g.g.g.g."),),
            },
            "3/4": {
                "sparse": (grid(6, ride="o.og.o", pedal="..o.o."),),
                "medium": (grid(6, ride="x.xox.", pedal="..x.x.", kick="g....."),),
                "full": (grid(6, ride="x.Xox.", pedal="..x.x.", kick="g.g.g."),),
            },
            "6/8": {
                "sparse": (grid(6, ride="o.go.g", pedal="...o.."),),
                "medium": (grid(6, ride="x.ox.o", pedal="...x..", kick="g....."),),
                "full": (grid(6, ride="X.ox.o", pedal="...x..", kick="g..g.."),),
            },
            "12/8": {
                "sparse": (grid(12, ride="o.go.go.go.g", pedal="...o.....o.."),),
                "medium": (grid(12, ride="x.ox.ox.ox.o", pedal="...x.....x..", kick="g.....g....."),),
                "full": (grid(12, ride="X.ox.ox.ox.o", pedal="...x.....x..", kick="g..g..g..g.."),),
            },
        },
    ),
    GrooveFamily(
        "afro",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="shaker",
        backbeat="rim",
        looseness=0.7,
        patterns={
            "4/4": {
                "sparse": (
                    grid(
                        16,
                        shaker="xgog|xgog|xgog|xgog",
                        conga_mute="g...|x...|g...|x...",
                        conga_open="....|..x.|....|..xx",
                    ),
                ),
                "medium": (
                    grid(
                        16,
                        kick="X...|..x.|X...|....|X...|..x.|X..x|....",
                        rim="...x|..x.|...x|..x.|...x|..x.|...x|..x.",
                        shaker="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|..x.|X...|....|X...|..x.|X..x|....",
                        rim="...x|..x.|...x|..x.|...x|..x.|...x|..x.",
                        clap="....|....|....|X...|....|....|....|X...",
                        shaker="xgog|xgog|xgog|xgog|xgog|xgog|xgog|xgog",
                        hat="x.xo|x.xo|x.xo|x.xo|x.xo|x.xo|x.xo|x.x.",
                        open="....|....|....|....|....|....|....|...x",
                        conga_mute="g...|x...|g...|x...|g...|x...|g...|x...",
                        conga_open="....|..x.|....|..xx|....|..x.|....|..xx",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "shuffle",
        swing_unit_beats=0.5,
        min_swing=1 / 3,
        fill_style="triplet",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        patterns={
            "4/4": {
                "sparse": (grid(8, kick="x.......", hat="ogogogog"),),
                "medium": (grid(8, kick="X...x...", snare="..X...X.", hat="xoxoxoxo"),),
                "full": (grid(8, kick="X.o.x.o.", snare="..X..gX.", ride="xoxoxoxo", pedal="..x...x."),),
            },
            "12/8": {
                "sparse": (grid(12, kick="x...........", hat="oggoggoggogg"),),
                "medium": (grid(12, kick="X.....x.....", snare="...x.....x..", hat="x.ox.ox.ox.o"),),
                "full": (
                    grid(
                        12,
                        kick="X....ox.....",
                        snare="...X....gX..",
                        ride="xooxooxooxoo",
                        pedal="...x.....x..",
                    ),
                ),
            },
        },
    ),
    GrooveFamily(
        "train",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="snare",
        backbeat="snare",
        velocity_scale=0.95,
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", snare="g.g.|o.g.|g.g.|o.g."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|X...|....",
                        snare="ggog|Xgog|ggog|Xgog",
                        pedal="....|x...|....|x...",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|..x.|X...|..x.",
                        snare="goxo|Xoxo|goxo|Xoxo",
                        pedal="....|x...|....|x...",
                    ),
                ),
            },
            "3/4": {
                "sparse": (grid(12, kick="x...|....|....", snare="g.g.|o.g.|o.g."),),
                "medium": (grid(12, kick="X...|....|....", snare="ggog|xgog|xgog", pedal="....|x...|x..."),),
                "full": (grid(12, kick="X...|....|..x.", snare="goxo|Xoxo|Xoxo", pedal="....|x...|x..."),),
            },
            "12/8": {
                "sparse": (grid(12, kick="x...........", snare="g.go.gg.go.g"),),
                "medium": (grid(12, kick="X.....X.....", snare="gogXoggogXog", pedal="...x.....x.."),),
                "full": (grid(12, kick="X....xX....x", snare="goxXoxgoxXox", pedal="...x.....x.."),),
            },
        },
    ),
    GrooveFamily(
        "ballad",
        swing_unit_beats=0.5,
        fill_style="light",
        fallback="half-time",
        timekeeper="hat",
        backbeat="rim",
        velocity_scale=0.82,
        patterns={
            "4/4": {
                "sparse": (grid(16, kick="o...|....|....|....", hat="o...|o...|o...|o..."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|....|....|X...|....|..x.|....",
                        rim="....|....|x...|....|....|....|x...|....",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|..x.|....|X...|...x|..x.|....",
                        snare="....|....|X...|....|....|....|X...|....",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
            },
            "3/4": {
                "sparse": (grid(12, kick="o...|....|....", hat="o...|o...|o..."),),
                "medium": (grid(12, kick="X...|....|....", rim="....|o...|x...", hat="x.o.|x.o.|x.o."),),
                "full": (grid(12, kick="X...|....|..x.", snare="....|....|X...", hat="x.o.|x.o.|x.o."),),
            },
            "12/8": {
                "sparse": (grid(12, kick="o...........", hat="o..o..o..o.."),),
                "medium": (grid(12, kick="X.....x.....", rim="...x.....x..", hat="xooxooxooxoo"),),
                "full": (grid(12, kick="X....oX.....", snare="...X.....X..", hat="xooxooxooxoo"),),
            },
        },
    ),
    GrooveFamily(
        "cinematic",
        swing_unit_beats=0.5,
        fill_style="cinematic",
        fallback="cinematic",
        timekeeper="tom_floor",
        backbeat="snare",
        looseness=0.6,
        section_hits=True,
        patterns={
            "4/4": {
                "sparse": (grid(4, kick="x...|....|....|....", tom_floor="x...|....|o...|...."),),
                "medium": (grid(16, kick="X...|....|....|....", tom_floor="X...|....|o...|...."),),
                "full": (
                    grid(
                        16,
                        kick="X..x|..x.|X...|....",
                        tom_floor="X..x|..x.|X..x|..x.",
                        tom_mid="..o.|o...|..o.|o.o.",
                        snare="....|....|....|X...",
                    ),
                ),
            },
            "3/4": {
                "sparse": (grid(3, kick="x..|...|...|...", tom_floor="x..|...|o..|..."),),
                "medium": (grid(12, kick="X...|....|....", tom_floor="X...|....|o..."),),
                "full": (
                    grid(
                        12,
                        kick="X...|....|X...",
                        tom_floor="X..x|..x.|X.x.",
                        tom_mid="..o.|o...|....",
                        snare="....|....|..X.",
                    ),
                ),
            },
            "12/8": {
                "sparse": (grid(4, kick="x...|....|....|....", tom_floor="x...|....|o...|...."),),
                "medium": (grid(12, kick="X...........", tom_floor="X.....o....."),),
                "full": (
                    grid(
                        12,
                        kick="X.....X.....",
                        tom_floor="X.xX..X.xX..",
                        tom_mid="....o.....o.",
                        snare=".........X..",
                    ),
                ),
            },
        },
    ),
    GrooveFamily(
        "soul",
        swing_unit_beats=0.25,
        fill_style="kit",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        looseness=0.6,
        lane_offsets_beats={"snare": 0.01},
        patterns={
            # a Motown / Stax backbeat: a fat snare and the tambourine together on 2 and 4
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", hat="o.g.|o.g.|o.g.|o.g."),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|x..x|....|X...|..x.|x...|....",
                        snare="....|X...|....|X...|....|X...|....|X...",
                        tamb="....|x...|....|x...|....|x...|....|x...",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|x..x|....|X...|..x.|x...|..x.",
                        snare="....|X...|....|X..g|....|X...|..g.|X...",
                        tamb="..o.|X.o.|..o.|X.o.|..o.|X.o.|..o.|X.o.",
                        hat="x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.|x.o.",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "downtempo",
        swing_unit_beats=0.25,
        fill_style="light",
        fallback="backbeat",
        timekeeper="shaker",
        backbeat="rim",
        looseness=0.3,
        velocity_scale=0.85,
        lane_offsets_beats={"rim": 0.015, "snare": 0.015},
        patterns={
            # a chill-out drum machine: a round kick, a soft rim or snare on 2 and 4, 16th shaker
            "4/4": {
                "sparse": (grid(16, kick="x...|....|....|....", shaker="gogo|gogo|gogo|gogo"),),
                "medium": (
                    grid(
                        16,
                        kick="X...|....|..x.|....|X...|...x|..x.|....",
                        rim="....|x...|....|x...|....|x...|....|x...",
                        shaker="gogo|gogo|gogo|gogo|gogo|gogo|gogo|gogo",
                    ),
                ),
                "full": (
                    grid(
                        16,
                        kick="X...|....|..x.|....|X...|...x|..x.|....",
                        snare="....|x...|....|x...|....|x...|....|x...",
                        hat="o.x.|o.x.|o.x.|o.x.|o.x.|o.x.|o.x.|o.x.",
                        shaker="gogo|gogo|gogo|gogo|gogo|gogo|gogo|gogo",
                    ),
                ),
            }
        },
    ),
    GrooveFamily(
        "none",
        swing_unit_beats=0.5,
        fill_style="light",
        fallback="backbeat",
        timekeeper="hat",
        backbeat="snare",
        patterns={},
    ),
)

GROOVES: Mapping[str, GrooveFamily] = MappingProxyType({f.name: f for f in _FAMILIES})
GROOVE_FAMILIES: tuple[str, ...] = tuple(GROOVES)


def groove_family(name: str) -> GrooveFamily:
    """The family called `name`; GrooveError (listing the valid names) otherwise."""
    try:
        return GROOVES[name]
    except KeyError:
        raise GrooveError(f"unknown drum groove {name!r}; use one of: {', '.join(GROOVE_FAMILIES)}") from None


# ---------------------------------------------------------------------------------------------
# Meters without their own table.


def is_compound(meter: tuple[int, int]) -> bool:
    """6/8, 9/8, 12/8: beats are dotted quarters of three 8ths."""
    numerator, denominator = meter
    return denominator == 8 and numerator % 3 == 0 and numerator >= 6


def _beat_groups(meter: tuple[int, int]) -> tuple[int, tuple[int, ...]]:
    """(steps per bar, steps in each beat group) for a meter."""
    numerator, denominator = meter
    if is_compound(meter):
        return numerator, (3,) * (numerator // 3)
    if denominator >= 8:  # 5/8, 7/8: 8th steps grouped in twos and a final three
        twos, rest = divmod(numerator, 2)
        groups = (2,) * (twos - 1) + ((3,) if rest else (2,)) if twos else (numerator,)
        return numerator, groups
    return numerator * 2, (2,) * numerator  # x/4, x/2: two steps a beat


def fallback_pattern(family: GrooveFamily, meter: tuple[int, int], tier: str) -> StepPattern:
    """A one-bar pattern in the family's manner for a meter it has no table for."""
    steps, groups = _beat_groups(meter)
    starts = [sum(groups[:i]) for i in range(len(groups))]
    lanes: dict[str, list[str]] = {}

    def put(lane: str, step: int, symbol: str) -> None:
        lanes.setdefault(lane, ["."] * steps)[step] = symbol

    middle = starts[len(starts) // 2] if len(starts) > 1 else None
    style = family.fallback
    if style == "cinematic":
        put("kick", 0, "X")
        put("tom_floor", 0, "X")
        if tier != "sparse" and middle is not None:
            put("tom_floor", middle, "o" if tier == "medium" else "x")
        if tier == "full":
            for step in starts[1:]:
                put("tom_floor", step, "x")
            put("snare", starts[-1], "X")
        return grid(steps, **{k: "".join(v) for k, v in lanes.items()})

    for step in range(steps):
        on_group = step in starts
        if tier == "sparse" and not on_group:
            continue
        symbol = ("x" if step == 0 else "o") if on_group else ("o" if tier == "full" else "g")
        put(family.timekeeper, step, symbol)
    kick = "kick808" if family.name == "trap" else "kick"
    if style == "one-drop":
        if middle is not None:
            put(family.backbeat, middle, "x")
            if tier != "sparse":
                put(kick, middle, "X")
        return grid(steps, **{k: "".join(v) for k, v in lanes.items()})
    kick_steps = starts if style == "four-on-floor" else [0]
    if style == "backbeat" and len(starts) >= 4 and tier != "sparse":
        kick_steps = [0, middle] if middle is not None else [0]
    for step in kick_steps:
        put(kick, step, "X" if step == 0 else "x")
    if tier == "sparse":
        return grid(steps, **{k: "".join(v) for k, v in lanes.items()})
    if style == "half-time":
        backbeats = [middle] if middle is not None else []
    elif len(starts) == 3:  # waltz: boom, chick, chick
        backbeats = starts[1:]
    else:  # every other beat, away from the kick
        backbeats = [s for i, s in enumerate(starts) if i % 2 == 1 and s not in kick_steps]
    for step in backbeats:
        put(family.backbeat, step, "X" if tier == "full" else "x")
    return grid(steps, **{k: "".join(v) for k, v in lanes.items()})


def patterns_for(family: GrooveFamily, meter: tuple[int, int], tier: str) -> tuple[StepPattern, ...]:
    """The family's pattern variants for a meter and tier (a built one where no table fits)."""
    numerator, denominator = meter
    key = f"{numerator}/{denominator}"
    if key == "2/2":
        key = "4/4"
    table = family.patterns.get(key)
    if table and tier in table:
        return table[tier]
    return (fallback_pattern(family, meter, tier),)


def fill_names(family: GrooveFamily, meter: tuple[int, int], big: bool) -> tuple[str, ...]:
    """The fill shapes the family may choose for a small or big fill in this meter."""
    small_binary, big_binary, small_compound, big_compound = FILL_SETS[family.fill_style]
    if is_compound(meter):
        return big_compound if big else small_compound
    return big_binary if big else small_binary
