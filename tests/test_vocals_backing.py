"""Chorus backing voices, checked on the sung stem: a pop chorus is wide and carries the harmony
line's pitches, its verses stay in the middle, and a genre without backing is left as it was."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.engines import EngineConfig, make_singer
from musicd.music.plan import make_plan
from musicd.spec import load_spec
from musicd.vocals import chords_from_plan, sing
from musicd.vocals.backing import backed_lines, chorus_voices, harmony_line, harmony_pitch, make_doubles
from musicd.vocals.bus import BackingVoice, process_vocal_bus
from musicd.vocals.espeak import espeak_unavailable_reason

pytestmark = pytest.mark.skipif(
    espeak_unavailable_reason() is not None, reason=f"espeak-ng is needed: {espeak_unavailable_reason()}"
)

SAMPLE_RATE = 22050
LYRICS = """[verse]
The city lights are calling me tonight
I walk alone beneath the silver rain

[chorus]
Sing it loud and sing it clear
We are here, we are here
"""
C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})


def sung(genre: str, seed: int = 7):
    spec = load_spec(
        f"genres: [{genre}]\nduration: 40\nbpm: 100\nkey: C major\nlyrics: |\n"
        + "".join(f"  {line}\n" for line in LYRICS.splitlines())
    )
    plan = make_plan(spec, 7)
    n = int(plan.duration_s * SAMPLE_RATE)
    return plan, n, sing(spec.lyrics, ["en"], "low", "espeak", plan, SAMPLE_RATE, n, seed=seed)


def span(result, section: str) -> slice:
    """Samples of the first `section` line's notes (the reverb tail of the one before excluded)."""
    line = next(i for i, x in enumerate(result.vocal.lines) if x.section == section)
    notes = [n.note for n in result.vocal.notes if n.line_index == line]
    a = result.vocal.beats_to_seconds(notes[0].start_beat) + 0.3
    b = result.vocal.beats_to_seconds(notes[-1].start_beat + notes[-1].duration_beats)
    return slice(int(a * SAMPLE_RATE), int(b * SAMPLE_RATE))


def correlation(stem: np.ndarray) -> float:
    return float(np.corrcoef(stem[:, 0], stem[:, 1])[0, 1])


def test_harmony_takes_the_chord_tone_a_third_or_fourth_away():
    c_chord = (0, 4, 7)
    assert harmony_pitch(64, c_chord, C_MAJOR, "above", 90) == 67  # E4 -> G4, a minor third
    assert harmony_pitch(60, c_chord, C_MAJOR, "above", 90) == 64  # C4 -> E4, a major third
    assert harmony_pitch(67, c_chord, C_MAJOR, "above", 90) == 72  # G4 -> C5, a fourth
    assert harmony_pitch(64, c_chord, C_MAJOR, "below", 90) == 60  # E4 -> C4
    assert harmony_pitch(62, c_chord, C_MAJOR, "above", 90) == 67  # D -> G, the chord tone a fourth up
    assert harmony_pitch(65, c_chord, C_MAJOR, "above", 90) == 69  # F passing: the scale's third, A
    assert harmony_pitch(76, c_chord, C_MAJOR, "above", 78) == 67  # above the range: a sixth below


def test_pop_chorus_is_wide_with_the_harmony_and_the_verse_stays_centred():
    plan, n, result = sung("pop")
    parts = [b["part"] for b in result.record()["backing"]]
    assert parts == ["double", "double", "harmony above"]
    assert {b["pan"] for b in result.record()["backing"] if b["part"] == "double"} == {-0.8, 0.8}
    stem = result.audio.astype(np.float64)
    verse, chorus = stem[span(result, "verse")], stem[span(result, "chorus")]
    # The verse: one voice in the middle; the stereo room and pop's ping-pong echo are all
    # that differs between the sides.
    assert correlation(verse) > 0.93
    left, right = (np.sqrt(np.mean(verse[:, c] ** 2)) for c in (0, 1))
    assert abs(20 * np.log10(left / right)) < 1.0
    # The chorus: doubles and harmony panned apart, so the sides differ.
    assert correlation(chorus) < correlation(verse) - 0.05
    side = np.mean((chorus[:, 0] - chorus[:, 1]) ** 2) / np.mean((chorus[:, 0] + chorus[:, 1]) ** 2)
    side_verse = np.mean((verse[:, 0] - verse[:, 1]) ** 2) / np.mean((verse[:, 0] + verse[:, 1]) ** 2)
    assert side > 2 * side_verse

    # Energy at the harmony's pitches: against the lead alone through the same bus.
    dry = make_singer("espeak", EngineConfig()).sing(result.vocal, SAMPLE_RATE, n)
    lead_only = process_vocal_bus(dry, SAMPLE_RATE, plan.genres, plan.tempo_bpm, singer="espeak")
    harmony = harmony_line(result.vocal, chords_from_plan(plan), plan.key_tonic, plan.mode, "above")
    with_backing, without = 0.0, 0.0
    frame = 4096
    freqs = np.fft.rfftfreq(frame, 1 / SAMPLE_RATE)
    window = np.hanning(frame)
    checked = 0
    for note in harmony.notes:
        length_s = result.vocal.beats_to_seconds(note.note.duration_beats)
        if note.continuation or length_s < 0.25:
            continue
        middle = int((result.vocal.beats_to_seconds(note.note.start_beat) + length_s / 2) * SAMPLE_RATE)
        hz = 440.0 * 2 ** ((note.note.pitch - 69) / 12)
        band = (freqs > hz * 2 ** (-0.4 / 12)) & (freqs < hz * 2 ** (0.4 / 12))
        for audio, total in ((stem, "with"), (lead_only, "without")):
            piece = audio[middle - frame // 2 : middle + frame // 2].mean(axis=1) * window
            energy = float(np.max(np.abs(np.fft.rfft(piece))[band]) ** 2)
            if total == "with":
                with_backing += energy
            else:
                without += energy
        checked += 1
    assert checked >= 5
    assert with_backing > 4 * without  # at least 6 dB more at the harmony's pitches


def test_genre_without_backing_keeps_its_chorus_in_the_middle_like_its_verse():
    _plan, _n, result = sung("rock")
    assert chorus_voices(["rock"]) is None
    assert result.record()["backing"] == [] and "backing" not in result.timings_s
    stem = result.audio.astype(np.float64)
    verse, chorus = correlation(stem[span(result, "verse")]), correlation(stem[span(result, "chorus")])
    assert verse > 0.95 and chorus > 0.95 and abs(verse - chorus) < 0.02


def test_bus_without_backing_is_the_centred_lead_with_its_room():
    rng = np.random.default_rng(1)
    take = np.zeros(3 * SAMPLE_RATE, np.float32)
    take[SAMPLE_RATE : 2 * SAMPLE_RATE] = 0.3 * rng.standard_normal(SAMPLE_RATE)
    plain = process_vocal_bus(take, SAMPLE_RATE, ["rock"], 100.0, singer="espeak")
    silent = BackingVoice(np.zeros_like(take), -0.8, -8.0)
    assert np.allclose(
        process_vocal_bus(take, SAMPLE_RATE, ["rock"], 100.0, singer="espeak", backing=[silent]),
        plain,
        atol=1e-6,
    )


def test_soul_stacks_a_harmony_above_and_below_the_chorus_only():
    plan, _n, result = sung("soul")
    records = result.record()["backing"]
    assert [b["part"] for b in records] == ["harmony above", "harmony below"]
    above = harmony_line(result.vocal, chords_from_plan(plan), plan.key_tonic, plan.mode, "above")
    below = harmony_line(result.vocal, chords_from_plan(plan), plan.key_tonic, plan.mode, "below")
    chorus = set(backed_lines(result.vocal))
    lead = [n.note.pitch for n in result.vocal.notes if n.line_index in chorus]
    assert {n.line_index for n in above.notes} == chorus  # no verse note is harmonised
    assert all(
        3 <= h - m <= 5 or -9 <= h - m <= -7 for h, m in zip((n.note.pitch for n in above.notes), lead)
    )
    assert all(-5 <= h - m <= -3 for h, m in zip((n.note.pitch for n in below.notes), lead))
    assert records[0]["notes"] == len(lead)


def test_doubles_follow_the_seed():
    _plan, _n, first = sung("pop", seed=3)
    _plan, _n, again = sung("pop", seed=3)
    assert first.record()["backing"] == again.record()["backing"]
    voices = chorus_voices(["pop"])
    assert voices is not None
    take = np.sin(np.arange(40 * SAMPLE_RATE) * 2 * np.pi * 220 / SAMPLE_RATE).astype(np.float32)

    def doubles(seed: int):
        return make_doubles(take, first.vocal, SAMPLE_RATE, voices, np.random.default_rng(seed))

    (parts, records), (same, same_records), (_other, other_records) = doubles(1), doubles(1), doubles(2)
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(parts, same)) and records == same_records
    assert [r["delay_ms"] for r in records] != [r["delay_ms"] for r in other_records]
    assert all(12.0 <= r["delay_ms"] <= 22.0 and 0 < r["drift_cents"] < 10 for r in records)
    verse = span(first, "verse")
    assert not np.any(parts[0].audio[verse])  # verses are not doubled


def test_a_stem_of_no_length_gets_no_backing():
    spec = load_spec(
        "genres: [pop]\nduration: 40\nlyrics: |\n" + "".join(f"  {x}\n" for x in LYRICS.splitlines())
    )
    plan = make_plan(spec, 7)
    result = sing(spec.lyrics, ["en"], "low", "espeak", plan, SAMPLE_RATE, 0, seed=7)
    assert result.record()["backing"] == [] and (result.audio is None or result.audio.shape == (0, 2))


def test_a_stem_of_no_length_costs_no_singing(monkeypatch):
    from musicd.vocals.espeak import EspeakSinger

    def refuse(*_args, **_kwargs):
        raise AssertionError("sang into a stem of no length")

    monkeypatch.setattr(EspeakSinger, "sing", refuse)
    spec = load_spec("genres: [pop]\nduration: 40\nlyrics: |\n  Sing it loud\n")
    result = sing(spec.lyrics, ["en"], "low", "espeak", make_plan(spec, 7), SAMPLE_RATE, 0, seed=7)
    assert result.engine_used == "espeak" and result.lrc_text
