"""The composed score: tracks of timed notes, the hand-off between compose, MIDI and render.

Times are in quarter-note beats from the start of the song; the tempo is constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DRUM_CHANNEL = 9


@dataclass(frozen=True, slots=True)
class Note:
    """One note: start and length in quarter-note beats, MIDI pitch and velocity (1..127)."""

    start_beat: float
    duration_beats: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Track:
    """One instrument part; its name is also its stem name (drums, bass, chords, melody, pads, ...)."""

    name: str
    program: int
    channel: int
    notes: tuple[Note, ...]
    lyrics: tuple[tuple[float, str], ...] = ()  # (beat, syllable) lyric events, vocal tracks only

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
