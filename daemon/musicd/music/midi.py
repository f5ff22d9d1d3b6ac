"""Score -> Standard MIDI File (format 1) with midiutil; the same score gives the same bytes.

The first track carries tempo, time and key signature and a marker per section; then one
named track per stem with its program change, notes, lyric events and control changes
(controllers and pitch bends; a track that bends first sets its bend range with RPN 0).
"""

from __future__ import annotations

import io
import math

from midiutil import MIDIFile
from midiutil.MidiFile import FLATS, MAJOR, MINOR, SHARPS, Text, TrackName, writeVarLength

from musicd.music.score import BEND_RANGE_SEMITONES, Score, Track
from musicd.music.theory import key_signature

TICKS_PER_QUARTER = 960
RPN_MSB, RPN_LSB, DATA_ENTRY_MSB, DATA_ENTRY_LSB = 101, 100, 6, 38


class _MetaText(Text):
    """A text-like meta event with its own type byte (marker 0x06, lyric 0x05)."""

    subcode = 0x01

    def serialize(self, previous_event_tick: int) -> bytes:
        data = bytearray(writeVarLength(self.tick - previous_event_tick))
        data += bytes((0xFF, self.subcode))
        data += bytes(writeVarLength(len(self.text)))
        return bytes(data) + self.text


class _Marker(_MetaText):
    evtname = "Marker"
    subcode = 0x06


class _Lyric(_MetaText):
    evtname = "Lyric"
    subcode = 0x05


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def score_to_midi(score: Score) -> bytes:
    """The score as MIDI file bytes: named tracks, tempo, key, meter, programs, markers, lyrics."""
    midi = MIDIFile(
        numTracks=max(1, len(score.tracks)),
        removeDuplicates=False,
        deinterleave=False,
        file_format=1,
        ticks_per_quarternote=TICKS_PER_QUARTER,
    )
    numerator, denominator = score.meter
    conductor = midi.tracks[0]  # format 1: midiutil's tempo track comes first
    conductor.eventList.append(TrackName(0, "conductor", insertion_order=0))
    midi.addTempo(0, 0, score.tempo_bpm)
    midi.addTimeSignature(0, 0, numerator, int(math.log2(denominator)), 24 * 4 // denominator)
    accidentals, is_minor = key_signature(score.key_tonic, score.mode)
    midi.addKeySignature(
        0, 0, abs(accidentals), SHARPS if accidentals >= 0 else FLATS, MINOR if is_minor else MAJOR
    )
    for order, (name, beat) in enumerate(score.sections, start=1):
        conductor.eventList.append(_Marker(midi.time_to_ticks(beat), _latin1(name), insertion_order=order))
    for index, track in enumerate(score.tracks):
        midi.addTrackName(index, 0, track.name)
        if not track.is_drums:
            midi.addProgramChange(index, track.channel, 0, track.program)
        for note in track.notes:
            midi.addNote(
                index,
                track.channel,
                note.pitch,
                round(note.start_beat, 6),
                round(max(note.duration_beats, 1.0 / TICKS_PER_QUARTER), 6),
                note.velocity,
            )
        _add_controls(midi, index, track)
        for order, (beat, syllable) in enumerate(track.lyrics):
            midi.tracks[index + 1].eventList.append(
                _Lyric(midi.time_to_ticks(beat), _latin1(syllable), insertion_order=order)
            )
    buffer = io.BytesIO()
    midi.writeFile(buffer)
    return buffer.getvalue()


def _add_controls(midi: MIDIFile, index: int, track: Track) -> None:
    """The track's controller changes and pitch bends, in track order (equal ticks keep it)."""
    if not track.controls:
        return
    if any(c.kind == "bend" for c in track.controls):
        # RPN 0 (pitch-bend sensitivity) = BEND_RANGE_SEMITONES, then the null RPN
        for number, value in (
            (RPN_MSB, 0),
            (RPN_LSB, 0),
            (DATA_ENTRY_MSB, BEND_RANGE_SEMITONES),
            (DATA_ENTRY_LSB, 0),
            (RPN_MSB, 127),
            (RPN_LSB, 127),
        ):
            midi.addControllerEvent(index, track.channel, 0, number, value)
    for control in track.controls:
        beat = round(max(control.beat, 0.0), 6)
        if control.kind == "bend":
            midi.addPitchWheelEvent(index, track.channel, beat, control.value)
        else:
            midi.addControllerEvent(index, track.channel, beat, control.number, control.value)
