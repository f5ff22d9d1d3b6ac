"""The composed score: tracks of timed notes, the hand-off between compose, MIDI and render.

Times are in quarter-note beats from the start of the song; the tempo is constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DRUM_CHANNEL = 9
BEND_RANGE_SEMITONES = 12  # a full pitch bend (+-8192) is this many semitones; MIDI and render agree
BEND_MIN, BEND_MAX = -8192, 8191
CONTROL_KINDS = ("cc", "bend")


@dataclass(frozen=True, slots=True)
class Note:
    """One note: start and length in quarter-note beats, MIDI pitch and velocity (1..127)."""

    start_beat: float
    duration_beats: float
    pitch: int
    velocity: int


@dataclass(frozen=True, slots=True)
class Control:
    """A channel control change at a beat: kind "cc" (controller `number`, value 0..127) or
    "bend" (pitch bend, number 0, value -8192..8191 spanning +-BEND_RANGE_SEMITONES)."""

    beat: float
    kind: str
    number: int
    value: int

    def __post_init__(self) -> None:
        if self.kind == "cc":
            if not (0 <= self.number <= 127 and 0 <= self.value <= 127):
                raise ValueError(f"controller {self.number} = {self.value}: both must be 0..127")
        elif self.kind == "bend":
            if not BEND_MIN <= self.value <= BEND_MAX:
                raise ValueError(f"pitch bend {self.value} is outside {BEND_MIN}..{BEND_MAX}")
        else:
            raise ValueError(f"control kind {self.kind!r} is not one of {CONTROL_KINDS}")


def semitones_to_bend(semitones: float) -> int:
    """The pitch-bend value that shifts a note by `semitones` (clamped to the bend range)."""
    value = int(round(semitones / BEND_RANGE_SEMITONES * 8192))
    return min(max(value, BEND_MIN), BEND_MAX)


@dataclass(frozen=True)
class Track:
    """One instrument part; its name is also its stem name (drums, bass, chords, melody, pads, ...)."""

    name: str
    program: int
    channel: int
    notes: tuple[Note, ...]
    lyrics: tuple[tuple[float, str], ...] = ()  # (beat, syllable) lyric events, vocal tracks only
    controls: tuple[Control, ...] = ()  # controller and pitch-bend changes, in time order

    @property
    def is_drums(self) -> bool:
        return self.channel == DRUM_CHANNEL


@dataclass(frozen=True)
class Score:
    """A multi-track score in one key, meter and tempo."""

    tempo_bpm: float
    meter: tuple[int, int]
    key_tonic: str  # pitch name, e.g. "A", "F#", "Bb"
    mode: str  # major, minor, dorian, mixolydian, ...
    tracks: tuple[Track, ...]
    length_beats: float  # the musical end (last bar line); release tails ring past it
    sections: tuple[tuple[str, float], ...] = field(default=())  # (name, start beat) markers

    def beats_to_seconds(self, beats: float) -> float:
        return beats * 60.0 / self.tempo_bpm

    @property
    def duration_s(self) -> float:
        return self.beats_to_seconds(self.length_beats)

    @property
    def beats_per_bar(self) -> float:
        numerator, denominator = self.meter
        return numerator * 4.0 / denominator

    def track(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)
