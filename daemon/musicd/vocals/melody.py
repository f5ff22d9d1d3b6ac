"""The vocal melody: lyric lines laid over the song form, one note per syllable.

Stressed syllables land on beats and on chord tones, phrases arch up and come down to a chord
tone with a rest to breathe after, and everything stays in the voice's range and the key's scale.
A chorus sung again gets the same tune again.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from musicd.errors import MusicdError
from musicd.music.score import Note, Track
from musicd.music.sections import Section
from musicd.music.theory import pitch_class, scale_pitch_classes
from musicd.vocals.lyrics import LyricLine, LyricSection, parse_lyrics

log = logging.getLogger(__name__)

VOCAL_PROGRAM = 54  # GM "Synth Voice" (0-based): what score.mid plays for the vocal part
VOCAL_CHANNEL = 8
VOICE_RANGES: dict[str, tuple[int, int]] = {"low": (45, 64), "high": (60, 79)}  # A2-E4, C4-G5
SUNG_SECTIONS = ("verse", "pre-chorus", "chorus", "bridge", "drop")
MIN_NOTE_S = 0.14  # shortest sung syllable
BREATH_BEATS = 1.0  # rest after each line
MAX_HOLD_BEATS = 3.0  # longest held final note of a line


class LyricsTooLongError(MusicdError):
    """The lyrics need more bars than the song has room to sing them in."""

    def __init__(self, message: str, section: str, missing_bars: int) -> None:
        super().__init__(message)
        self.section = section  # the song section (or lyric block) that runs out of room
        self.missing_bars = missing_bars


@dataclass(frozen=True)
class ChordTime:
    """A chord sounding from start_beat for duration_beats: its tones as pitch classes."""

    start_beat: float
    duration_beats: float
    tones: tuple[int, ...]


@dataclass(frozen=True)
class SungNote:
    """One note of the vocal line and the syllable it carries."""

    note: Note
    syllable: str
    syllable_index: int  # counts syllables over the whole song
    word_index: int  # counts words over the whole song
    line_index: int
    continuation: bool  # a melisma note: the syllable started on an earlier note


@dataclass(frozen=True)
class SungLine:
    """A lyric line as sung: its text, language and time span in beats."""

    text: str
    language: str
    start_beat: float
    end_beat: float
    section: str


@dataclass(frozen=True)
class VocalLine:
    """The vocal part: notes with syllables, the lines, and the tempo to turn beats into time."""

    notes: tuple[SungNote, ...]
    lines: tuple[SungLine, ...]
    words: tuple[str, ...]  # word texts by word_index
    tempo_bpm: float
    voice: str

    def beats_to_seconds(self, beats: float) -> float:
        return beats * 60.0 / self.tempo_bpm

    def to_track(self) -> Track:
        """The "vocals" track with one lyric event per syllable, for score.mid."""
        notes = tuple(n.note for n in self.notes)
        lyrics = tuple((n.note.start_beat, n.syllable) for n in self.notes if not n.continuation)
        return Track("vocals", VOCAL_PROGRAM, VOCAL_CHANNEL, notes, lyrics)

    @property
    def is_empty(self) -> bool:
        return not self.notes


def choose_voice(voice: str, rng: np.random.Generator | None = None) -> str:
    """ "low" or "high"; auto picks one from the seed."""
    if voice in VOICE_RANGES:
        return voice
    return "low" if rng is None or rng.random() < 0.5 else "high"


def vocal_line(
    lyrics: str | None,
    languages: Sequence[str],
    sections: Sequence[Section],
    tempo_bpm: float,
    meter: tuple[int, int],
    key_tonic: str,
    mode: str,
    chords: Sequence[ChordTime],
    voice: str,
    rng: np.random.Generator,
) -> VocalLine:
    """Write the vocal melody for `lyrics` over the song form; empty lyrics give an empty line.

    Raises LyricsTooLongError when the lines cannot fit the song's sung sections.
    """
    voice = choose_voice(voice, rng)
    blocks = parse_lyrics(lyrics or "", tuple(languages) or ("en",))
    if not blocks or not sections:
        return VocalLine((), (), (), tempo_bpm, voice)
    beats_per_bar = meter[0] * 4.0 / meter[1]
    plan = _assign_blocks(blocks, sections, tempo_bpm, beats_per_bar)
    writer = _PhraseWriter(
        tempo_bpm, beats_per_bar, key_tonic, mode, chords, VOICE_RANGES[voice], int(rng.integers(0, 2**31))
    )
    notes: list[SungNote] = []
    lines: list[SungLine] = []
    words: list[str] = []
    for section, placed in plan:
        for line, start_bar, bars in placed:
            start_beat = start_bar * beats_per_bar
            window = bars * beats_per_bar
            phrase = writer.phrase(
                line,
                start_beat,
                window,
                section,
                len(lines),
                len(words),
                sum(1 for n in notes if not n.continuation),
            )
            notes.extend(phrase)
            words.extend(w.text for w in line.words)
            end = max(n.note.start_beat + n.note.duration_beats for n in phrase)
            lines.append(SungLine(line.text, line.language, start_beat, end, section.name))
    return VocalLine(tuple(notes), tuple(lines), tuple(words), tempo_bpm, voice)


def check_lyrics_fit(
    lyrics: str | None,
    languages: Sequence[str],
    sections: Sequence[Section],
    tempo_bpm: float,
    meter: tuple[int, int],
) -> None:
    """Raise LyricsTooLongError when the lyrics cannot be laid over `sections` (no melody is written)."""
    blocks = parse_lyrics(lyrics or "", tuple(languages) or ("en",))
    if blocks and sections:
        _assign_blocks(blocks, sections, tempo_bpm, meter[0] * 4.0 / meter[1])


# --- laying lines over the form ---------------------------------------------------------------


def line_bars(line: LyricLine, tempo_bpm: float, beats_per_bar: float) -> int:
    """Bars one line takes: 1, 2 or 4, enough for its syllables at a singable pace plus a breath."""
    unit = _unit_beats(tempo_bpm)
    need = line.syllable_count * unit + BREATH_BEATS
    for bars in (1, 2, 4):
        if need <= bars * beats_per_bar and (bars > 1 or line.syllable_count <= 4):
            return bars
    fastest = max(0.25, MIN_NOTE_S * tempo_bpm / 60.0)
    bars = math.ceil((line.syllable_count * fastest + BREATH_BEATS) / beats_per_bar)
    return 4 if bars <= 4 else bars


def min_line_bars(line: LyricLine, tempo_bpm: float, beats_per_bar: float) -> int:
    """The fewest bars a line can be sung in: its syllables at the fastest singable pace."""
    fastest = max(0.25, MIN_NOTE_S * tempo_bpm / 60.0)
    return max(1, math.ceil((line.syllable_count * fastest + BREATH_BEATS) / beats_per_bar))


def _unit_beats(tempo_bpm: float) -> float:
    """The plain syllable length: an eighth note, a quarter when eighths would be too fast."""
    return 0.5 if 0.5 * 60.0 / tempo_bpm >= MIN_NOTE_S else 1.0


def _sung_sections(sections: Sequence[Section]) -> list[Section]:
    sung = [s for s in sections if s.name in SUNG_SECTIONS]
    if not sung:
        sung = [s for s in sections if s.name not in ("intro", "outro")] or list(sections)
    return sung


def _assign_blocks(
    blocks: Sequence[LyricSection], sections: Sequence[Section], tempo_bpm: float, beats_per_bar: float
) -> list[tuple[Section, list[tuple[LyricLine, int, int]]]]:
    """Which lines each section sings, and where: [(section, [(line, start_bar, bars)])]."""
    sung = _sung_sections(sections)
    chorus = _chorus_block(blocks)
    others = [b for b in blocks if b is not chorus and b.text != (chorus.text if chorus else None)]
    labelled = any(b.label for b in blocks)
    by_label: dict[str, list[LyricSection]] = {}
    for block in others:
        by_label.setdefault(block.label or "verse", []).append(block)
    queue = list(others)
    assignment: list[tuple[Section, list[LyricLine]]] = []
    for section in sung:
        lines: list[LyricLine] = []
        if section.name == "chorus" and chorus is not None:
            lines = list(chorus.lines)
        elif labelled:
            wanted = by_label.get(section.name) or (
                by_label.get("verse") if section.name not in ("chorus",) else None
            )
            if wanted:
                block = wanted.pop(0)
                queue.remove(block)
                lines = list(block.lines)
        elif queue:
            lines = list(queue.pop(0).lines)
        assignment.append((section, lines))
    leftover = [line for block in queue for line in block.lines]
    if leftover:
        # More blocks than sections: later blocks join sections that still have room.
        for index, (section, lines) in enumerate(assignment):
            while (
                leftover
                and sum(min_line_bars(x, tempo_bpm, beats_per_bar) for x in lines + leftover[:1])
                <= section.bars
            ):
                lines.append(leftover.pop(0))
            assignment[index] = (section, lines)
    if leftover:
        needed = sum(min_line_bars(line, tempo_bpm, beats_per_bar) for line in leftover)
        block = next(b for b in queue if leftover[0] in b.lines)
        raise LyricsTooLongError(
            f"the lyrics are too long for the song: the {block.label or 'verse'} block from "
            f'"{leftover[0].text}" ({len(leftover)} line(s)) finds no room in the '
            f"{sum(s.bars for s in sung)} sung bars: {needed} bar(s) missing; shorten the lyrics "
            "or raise `duration`",
            block.label or "verse",
            needed,
        )
    result = []
    for section, lines in assignment:
        if lines:
            result.append((section, _place_lines(section, lines, tempo_bpm, beats_per_bar)))
    return result


def _chorus_block(blocks: Sequence[LyricSection]) -> LyricSection | None:
    """The block labelled chorus, else a block that appears twice, else None."""
    for block in blocks:
        if block.label == "chorus":
            return block
    texts = [b.text for b in blocks]
    for block in blocks:
        if texts.count(block.text) > 1:
            return block
    return None


def _place_lines(
    section: Section, lines: Sequence[LyricLine], tempo_bpm: float, beats_per_bar: float
) -> list[tuple[LyricLine, int, int]]:
    """Lines one after another from the section's start; slots double when there is room."""
    bars = [line_bars(line, tempo_bpm, beats_per_bar) for line in lines]
    if sum(bars) > section.bars:  # sing faster before giving up
        bars = [min_line_bars(line, tempo_bpm, beats_per_bar) for line in lines]
    total = sum(bars)
    if total > section.bars:
        raise LyricsTooLongError(
            f"the {section.name} at bar {section.start_bar + 1} has {section.bars} bars but its "
            f"{len(lines)} line(s) need {total}: {total - section.bars} bar(s) missing; shorten "
            "the lyrics or raise `duration`",
            section.name,
            total - section.bars,
        )
    if section.name == "chorus" and 2 * total <= section.bars:  # a long chorus sings it twice
        lines, bars = list(lines) * 2, bars * 2
        total *= 2
    if 2 * total <= section.bars and max(bars) <= 2:
        bars = [2 * b for b in bars]
    placed = []
    bar = section.start_bar
    for line, count in zip(lines, bars):
        placed.append((line, bar, count))
        bar += count
    return placed


# --- one phrase ----------------------------------------------------------------------------


class _PhraseWriter:
    def __init__(
        self,
        tempo_bpm: float,
        beats_per_bar: float,
        key_tonic: str,
        mode: str,
        chords: Sequence[ChordTime],
        voice_range: tuple[int, int],
        seed: int,
    ) -> None:
        self.tempo_bpm = tempo_bpm
        self.beats_per_bar = beats_per_bar
        self.tonic_pc = pitch_class(key_tonic)
        self.scale = scale_pitch_classes(self.tonic_pc, mode)
        self.chords = sorted(chords, key=lambda c: c.start_beat)
        self.low, self.high = voice_range
        self.seed = seed
        self.tunes: dict[tuple[str, float], list[int]] = {}

    def chord_at(self, beat: float) -> tuple[int, ...]:
        current: tuple[int, ...] = (self.tonic_pc,)
        for chord in self.chords:
            if chord.start_beat <= beat + 1e-6:
                current = chord.tones
            else:
                break
        return current

    def phrase(
        self,
        line: LyricLine,
        start_beat: float,
        window_beats: float,
        section: Section,
        line_index: int,
        first_word: int,
        first_syllable: int,
    ) -> list[SungNote]:
        rhythm = self.rhythm(line, window_beats)
        stressed = [s for w in line.words for s in _stress_flags(w)]
        rng = np.random.default_rng([self.seed, zlib.crc32(line.text.encode()), len(stressed)])
        centre = (self.low + self.high) / 2 + (2.0 if section.name == "chorus" else -1.0)
        pitches = self.pitches(rhythm, stressed, start_beat, centre, rng)
        notes: list[SungNote] = []
        syllables = [(s, wi) for wi, w in enumerate(line.words) for s in w.syllables]
        for index, ((syllable, word), spans, pitch_list) in enumerate(zip(syllables, rhythm, pitches)):
            for k, ((offset, length), pitch) in enumerate(zip(spans, pitch_list)):
                velocity = 100 if stressed[index] else 84
                note = Note(round(start_beat + offset, 6), round(length, 6), int(pitch), velocity)
                notes.append(
                    SungNote(note, syllable, first_syllable + index, first_word + word, line_index, k > 0)
                )
        return notes

    def rhythm(self, line: LyricLine, window_beats: float) -> list[list[tuple[float, float]]]:
        """Per syllable, its notes as (offset, length) in beats from the phrase start."""
        stressed = [s for w in line.words for s in _stress_flags(w)]
        n = len(stressed)
        room = window_beats - BREATH_BEATS
        unit = _unit_beats(self.tempo_bpm)
        while n * unit > room and unit > 0.25:
            unit /= 2
        unit = max(unit, room / n if n * unit > room else unit)
        lengths = [unit] * n
        starts: list[float] = []
        position = 0.0
        slack = room - n * unit
        for index in range(n):
            if stressed[index] and abs(position - round(position)) > 1e-6:
                wait = math.ceil(position - 1e-6) - position
                if wait <= slack + 1e-9:
                    slack -= wait
                    if index == 0:
                        position += wait
                    else:
                        lengths[index - 1] += wait
                        position += wait
            starts.append(position)
            position += lengths[index]
        # Give spare time to stressed syllables (up to a beat), then hold the last note.
        for index in range(n - 1):
            if slack < 1e-9:
                break
            if stressed[index] and lengths[index] < 1.0 and stressed[index + 1]:
                extra = min(1.0 - lengths[index], slack)
                lengths[index] += extra
                slack -= extra
                for later in range(index + 1, n):
                    starts[later] += extra
        hold = min(MAX_HOLD_BEATS - lengths[-1], slack)
        if hold > 0:
            lengths[-1] += hold
        result = [[(starts[i], lengths[i])] for i in range(n)]
        # Melisma on a long final note: a passing note, then the landing tone.
        if lengths[-1] >= 2.0:
            first = max(unit, 0.5)
            result[-1] = [(starts[-1], first), (starts[-1] + first, lengths[-1] - first)]
        return result

    def pitches(
        self,
        rhythm: list[list[tuple[float, float]]],
        stressed: list[bool],
        start_beat: float,
        centre: float,
        rng: np.random.Generator,
    ) -> list[list[int]]:
        flat = [(i, k, offset) for i, spans in enumerate(rhythm) for k, (offset, _) in enumerate(spans)]
        total = len(flat)
        scale_notes = [p for p in range(self.low, self.high + 1) if p % 12 in self.scale]
        peak_at = 0.55 + 0.15 * rng.random()
        span = 3.0 + 2.0 * rng.random()
        out: list[list[int]] = [[] for _ in rhythm]
        previous: int | None = None
        for order, (i, k, offset) in enumerate(flat):
            progress = order / max(1, total - 1)
            arch = (
                math.sin(math.pi * min(1.0, progress / (2 * peak_at)))
                if progress <= peak_at
                else math.cos(0.5 * math.pi * (progress - peak_at) / max(1e-6, 1 - peak_at))
            )
            target = centre - span / 2 + span * arch
            chord = self.chord_at(start_beat + offset)
            last = order == total - 1
            strong = stressed[i] and k == 0 or last
            pool = [p for p in scale_notes if p % 12 in chord] if strong else scale_notes
            pool = pool or scale_notes
            if last:
                pool = [p for p in range(self.low, self.high + 1) if p % 12 in chord[:3]] or pool

            def cost(p: int) -> float:
                leap = 0.0 if previous is None else abs(p - previous)
                return (
                    abs(p - target)
                    + (0.6 * (leap - 4) if leap > 4 else 0.0)
                    + (1.0 if leap == 0 and not last else 0.0)
                    + 0.5 * rng.random()
                )

            pitch = min(pool, key=cost)
            if k > 0 and last and previous is not None and abs(pitch - previous) > 4:
                anchor = previous
                pitch = min(pool, key=lambda p: abs(p - anchor))
            out[i].append(pitch)
            previous = pitch
        final = out[-1]
        if len(final) == 2 and final[0] == final[1]:  # melisma: step into the landing tone
            above = [p for p in scale_notes if p > final[1]]
            below = [p for p in scale_notes if p < final[1]]
            final[0] = above[0] if above else below[-1] if below else final[0]
        return out


def _stress_flags(word) -> list[bool]:
    return [index == word.stress for index in range(len(word.syllables))]


def duck_lead(melody_track: Track, vocal: VocalLine, *, gain: float = 0.45, rest: bool = False) -> Track:
    """The lead instrument steps back where the voice sings: notes that overlap a sung line get
    `gain` times their velocity (or are dropped when `rest`)."""
    spans = [(line.start_beat, line.end_beat + 0.5) for line in vocal.lines]
    kept: list[Note] = []
    for note in melody_track.notes:
        end = note.start_beat + note.duration_beats
        under = any(note.start_beat < b and end > a for a, b in spans)
        if not under:
            kept.append(note)
        elif not rest:
            kept.append(
                Note(
                    note.start_beat, note.duration_beats, note.pitch, max(1, int(round(note.velocity * gain)))
                )
            )
    return Track(
        melody_track.name, melody_track.program, melody_track.channel, tuple(kept), melody_track.lyrics
    )
