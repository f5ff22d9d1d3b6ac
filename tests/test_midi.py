"""MIDI export: deterministic bytes with named tracks, tempo, key, meter, markers and lyrics."""

from __future__ import annotations

import io

import mido
import pytest

from musicd.music.compose import compose
from musicd.music.midi import score_to_midi
from musicd.music.plan import make_plan
from musicd.music.score import BEND_RANGE_SEMITONES, Control, Note, Score, Track
from musicd.music.theory import key_signature
from musicd.spec import load_spec


def midi_of(text: str, seed: int = 1) -> tuple[Score, bytes]:
    score = compose(make_plan(load_spec(text), seed))
    return score, score_to_midi(score)


def parse(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def meta(mid: mido.MidiFile, kind: str) -> list:
    return [m for t in mid.tracks for m in t if m.type == kind]


def test_same_spec_and_seed_give_identical_bytes_and_seeds_differ():
    text = "genres: [lofi]\nduration: 30\n"
    _, a = midi_of(text, 9)
    _, b = midi_of(text, 9)
    _, c = midi_of(text, 10)
    assert a == b
    assert a != c


def test_midi_has_named_tracks_tempo_key_meter_programs_and_markers():
    score, data = midi_of("genres: [house]\nbpm: 124\nkey: F minor\nduration: 45\n")
    mid = parse(data)
    names = [m.name for m in meta(mid, "track_name")]
    assert [t.name for t in score.tracks] == names[1:]
    assert {"drums", "bass", "chords", "melody"} <= set(names)
    assert mido.tempo2bpm(meta(mid, "set_tempo")[0].tempo) == pytest.approx(124, abs=0.01)
    assert meta(mid, "key_signature")[0].key == "Fm"
    ts = meta(mid, "time_signature")[0]
    assert (ts.numerator, ts.denominator) == (4, 4)
    markers = [m.text for m in meta(mid, "marker")]
    assert markers == [name for name, _ in score.sections]
    for track in mid.tracks[1:]:
        name = next(m.name for m in track if m.type == "track_name")
        channels = {m.channel for m in track if m.type == "note_on"}
        if name == "drums":
            assert channels == {9}
            assert not [m for m in track if m.type == "program_change"]
        else:
            assert 9 not in channels
            program = next(m.program for m in track if m.type == "program_change")
            assert program == score.track(name).program
    assert mid.length == pytest.approx(score.duration_s, abs=score.beats_to_seconds(4) + 0.01)


def test_every_note_survives_the_round_trip():
    score, data = midi_of("genres: [jazz]\nduration: 20\n")
    mid = parse(data)
    for track in mid.tracks[1:]:
        name = next(m.name for m in track if m.type == "track_name")
        ons = [m for m in track if m.type == "note_on" and m.velocity > 0]
        assert len(ons) == len(score.track(name).notes)


@pytest.mark.parametrize(
    "tonic,mode,expected",
    [
        ("C", "major", "C"),
        ("A", "minor", "Am"),
        ("F#", "minor", "F#m"),
        ("Bb", "major", "Bb"),
        ("D", "dorian", "Am"),
        ("G", "mixolydian", "C"),
        ("E", "phrygian", "Am"),
        ("E", "blues", "E"),
        ("Eb", "minor", "Ebm"),
    ],
)
def test_key_signature_uses_the_parent_scale_for_modes(tonic, mode, expected):
    score = Score(120, (4, 4), tonic, mode, (Track("bass", 33, 0, (Note(0, 1, 40, 90),)),), 4.0)
    assert meta(parse(score_to_midi(score)), "key_signature")[0].key == expected
    accidentals, _ = key_signature(tonic, mode)
    assert -7 <= accidentals <= 7


def test_lyrics_become_lyric_events_and_meters_other_than_four_four_survive():
    vocal = Track(
        "vocals", 54, 5, (Note(0, 1, 60, 90), Note(1, 1, 62, 90)), lyrics=((0.0, "hel"), (1.0, "lo"))
    )
    score = Score(96, (3, 4), "D", "major", (vocal,), 6.0, (("verse", 0.0),))
    mid = parse(score_to_midi(score))
    assert [m.text for m in meta(mid, "lyrics")] == ["hel", "lo"]
    ts = meta(mid, "time_signature")[0]
    assert (ts.numerator, ts.denominator) == (3, 4)
    assert [m.text for m in meta(mid, "marker")] == ["verse"]


def controls_in(track: mido.MidiTrack) -> list[tuple[int, str, int, int]]:
    """(absolute tick, kind, number, value) of the track's controller and pitch-bend messages."""
    tick, out = 0, []
    for message in track:
        tick += message.time
        if message.type == "control_change":
            out.append((tick, "cc", message.control, message.value))
        elif message.type == "pitchwheel":
            out.append((tick, "bend", 0, message.pitch))
    return out


def test_control_events_are_written_in_order_with_the_bend_range_first():
    controls = (
        Control(0.0, "cc", 11, 127),
        Control(0.5, "bend", 0, 4096),
        Control(0.5, "cc", 11, 40),
        Control(1.0, "bend", 0, -8192),
        Control(1.5, "bend", 0, 8191),
        Control(2.0, "bend", 0, 0),
    )
    bass = Track("bass", 38, 2, (Note(0, 2, 40, 100),), controls=controls)
    data = score_to_midi(Score(120, (4, 4), "C", "minor", (bass,), 4.0))
    assert data == score_to_midi(Score(120, (4, 4), "C", "minor", (bass,), 4.0))
    track = parse(data).tracks[1]
    written = controls_in(track)
    rpn = [
        (0, "cc", 101, 0),
        (0, "cc", 100, 0),
        (0, "cc", 6, BEND_RANGE_SEMITONES),
        (0, "cc", 38, 0),
        (0, "cc", 101, 127),
        (0, "cc", 100, 127),
    ]
    assert written[:6] == rpn
    assert written[6:] == [(round(c.beat * 960), c.kind, c.number, c.value) for c in controls]
    assert {m.channel for m in track if m.type in ("control_change", "pitchwheel")} == {2}
    first_note = next(i for i, m in enumerate(track) if m.type == "note_on")
    first_control = next(i for i, m in enumerate(track) if m.type == "control_change")
    assert first_control < first_note  # the bend range and level are set before the note sounds


def test_tracks_without_bends_get_no_bend_range_and_controls_stay_optional():
    bass = Track("bass", 38, 2, (Note(0, 2, 40, 100),), controls=(Control(1.0, "cc", 11, 64),))
    written = controls_in(parse(score_to_midi(Score(120, (4, 4), "C", "minor", (bass,), 4.0))).tracks[1])
    assert written == [(960, "cc", 11, 64)]
    plain = Track("bass", 38, 2, (Note(0, 2, 40, 100),))
    assert plain.controls == ()
    assert controls_in(parse(score_to_midi(Score(120, (4, 4), "C", "minor", (plain,), 4.0))).tracks[1]) == []


@pytest.mark.parametrize("genre", ["dubstep", "trap"])
def test_composed_bass_controls_survive_into_the_midi_deterministically(genre):
    score, data = midi_of(f"genres: [{genre}]\nduration: 40\n", 5)
    assert data == midi_of(f"genres: [{genre}]\nduration: 40\n", 5)[1]
    bass = score.track("bass")
    assert bass.controls
    track = next(t for t in parse(data).tracks if any(m.type == "track_name" and m.name == "bass" for m in t))
    written = [c for c in controls_in(track) if not (c[0] == 0 and c[2] in (101, 100, 6, 38))]
    assert [(c.kind, c.number, c.value) for c in bass.controls] == [w[1:] for w in written]
    ticks = [w[0] for w in written]
    assert ticks == sorted(ticks)


def test_invalid_controls_are_refused():
    with pytest.raises(ValueError):
        Control(0.0, "cc", 11, 128)
    with pytest.raises(ValueError):
        Control(0.0, "bend", 0, 8192)
    with pytest.raises(ValueError):
        Control(0.0, "aftertouch", 0, 1)
