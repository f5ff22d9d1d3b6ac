"""The drum part: grooves per family, structure by energy, fills, swing, humanisation."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.errors import MusicdError
from musicd.music.compose.drums import GROOVE_FAMILIES, bar_length_beats, drum_part
from musicd.music.score import Note
from musicd.music.sections import Section

KICKS = {35, 36}
SNARES = {38, 40}
CLAP = 39
CRASHES = {49, 57}
TOMS = {41, 43, 45, 47, 48, 50}
HAT = 42
RIDE = 51
PLAYING = [g for g in GROOVE_FAMILIES if g != "none"]
SMALL_METER_FAMILIES = ["ballad", "jazz-swing", "shuffle", "cinematic", "pop", "train"]
TOLERANCE_BEATS = 0.03

FORM = (
    Section("intro", 0, 4, 0.3),
    Section("verse", 4, 8, 0.5),
    Section("pre-chorus", 12, 4, 0.6),
    Section("chorus", 16, 8, 0.9),
    Section("build", 24, 4, 0.7),
    Section("drop", 28, 8, 1.0),
    Section("outro", 36, 4, 0.3),
)
SONG_BARS = 40


def play(
    groove: str,
    meter: tuple[int, int] = (4, 4),
    swing: float = 0.0,
    seed: int = 7,
    form: tuple[Section, ...] = FORM,
) -> tuple[Note, ...]:
    return drum_part(groove, form, meter, swing, np.random.default_rng(seed))


def in_bar(notes: tuple[Note, ...], bar: int, bar_beats: float) -> list[Note]:
    start = bar * bar_beats
    return [n for n in notes if start - 1e-9 <= n.start_beat < start + bar_beats - 1e-9]


def has_hit(notes: list[Note], pitches: set[int], beat: float, tolerance: float = TOLERANCE_BEATS) -> bool:
    return any(n.pitch in pitches and abs(n.start_beat - beat) <= tolerance for n in notes)


def groove_bars(section: Section) -> list[int]:
    """Bars of a section that neither end a phrase nor the section (no fills there)."""
    return [b for b in range(section.start_bar, section.end_bar - 1) if (b - section.start_bar) % 4 != 3]


@pytest.mark.parametrize("groove", PLAYING)
def test_every_family_plays_the_form_on_drum_pitches_inside_the_song(groove: str) -> None:
    notes = play(groove)
    song_end = SONG_BARS * 4.0
    assert len(notes) > 100
    for note in notes:
        assert 35 <= note.pitch <= 81
        assert 1 <= note.velocity <= 127
        assert 0.0 <= note.start_beat < song_end
        assert note.duration_beats > 0
        assert note.start_beat + note.duration_beats <= song_end + 1e-9
    played_bars = {int(n.start_beat // 4) for n in notes}
    assert set(range(4, 36)) <= played_bars  # every verse, chorus, build and drop bar


def test_none_groove_is_silent() -> None:
    assert play("none") == ()


def test_unknown_groove_names_the_valid_ones() -> None:
    with pytest.raises(MusicdError) as raised:
        play("polka")
    assert "polka" in str(raised.value)
    assert "four-on-floor" in str(raised.value) and "jazz-swing" in str(raised.value)


@pytest.mark.parametrize("meter", [(0, 4), (4, 3)])
def test_impossible_meter_is_an_error(meter: tuple[int, int]) -> None:
    with pytest.raises(MusicdError):
        play("rock", meter=meter)


def test_swing_out_of_range_is_an_error() -> None:
    with pytest.raises(MusicdError):
        play("rock", swing=1.5)


@pytest.mark.parametrize("groove", ["rock", "trap", "jazz-swing", "four-on-floor", "cinematic"])
def test_same_seed_gives_identical_notes_and_another_seed_differs(groove: str) -> None:
    assert play(groove, seed=11) == play(groove, seed=11)
    assert play(groove, seed=11) != play(groove, seed=12)


@pytest.mark.parametrize("groove", ["four-on-floor", "disco"])
def test_four_on_floor_has_a_kick_on_every_beat_of_full_sections(groove: str) -> None:
    notes = play(groove)
    for section in FORM:
        if section.name not in ("chorus", "drop"):
            continue
        for beat in range(section.start_bar * 4, section.end_bar * 4):
            assert has_hit(list(notes), KICKS, float(beat)), f"no kick on beat {beat}"


@pytest.mark.parametrize("groove", ["boom-bap", "rock", "pop", "funk", "breakbeat"])
@pytest.mark.parametrize("swing", [0.0, 0.4])
def test_backbeat_snare_on_two_and_four(groove: str, swing: float) -> None:
    notes = play(groove, swing=swing)
    for section in (FORM[1], FORM[3], FORM[5]):
        for bar in groove_bars(section):
            bar_notes = in_bar(notes, bar, 4.0)
            for beat in (1.0, 3.0):  # beats 2 and 4, counting from 0
                assert has_hit(bar_notes, SNARES, bar * 4 + beat, 0.05), (section.name, bar, beat)
            assert not has_hit(bar_notes, SNARES, bar * 4 + 2.0, 0.05)


@pytest.mark.parametrize("groove", ["trap", "half-time"])
def test_half_time_snare_lands_on_three_only(groove: str) -> None:
    notes = play(groove)
    for section in (FORM[1], FORM[3], FORM[5]):
        for bar in groove_bars(section):
            bar_notes = in_bar(notes, bar, 4.0)
            assert has_hit(bar_notes, SNARES | {CLAP}, bar * 4 + 2.0)
            for beat in (1.0, 3.0):
                assert not has_hit(bar_notes, SNARES | {CLAP}, bar * 4 + beat, 0.05)


def phases(
    notes: tuple[Note, ...],
    pitches: set[int],
    period: float,
    sections: tuple[Section, ...] = (FORM[1], FORM[3]),
) -> list[float]:
    spans = [(s.start_bar * 4.0, (s.end_bar - 1) * 4.0) for s in sections]
    return [
        n.start_beat % period
        for n in notes
        if n.pitch in pitches and any(lo <= n.start_beat < hi for lo, hi in spans)
    ]


def test_boom_bap_swing_delays_off_beat_sixteenths_by_the_swing_fraction() -> None:
    swing = 0.5
    off_beat = 0.25 + swing * 0.25  # the "e"/"a" 16th, delayed by half a 16th
    swung = phases(play("boom-bap", swing=swing), {HAT}, 0.5)
    straight = phases(play("boom-bap", swing=0.0), {HAT}, 0.5)

    def near(values: list[float], target: float) -> int:
        return sum(abs(v - target) < TOLERANCE_BEATS for v in values)

    assert near(swung, off_beat) >= 8
    assert near(swung, 0.25) == 0
    assert near(straight, 0.25) >= 8
    # the 8th-note "and" stays where it is
    assert near(swung, 0.0) + near(swung, 0.5 - 1e-9) > 0.8 * len(swung) - near(swung, off_beat)


def test_jazz_ride_skip_note_swings_to_the_triplet() -> None:
    ride = phases(play("jazz-swing", swing=1 / 3), {RIDE}, 1.0)
    skips = [p for p in ride if 0.1 < p < 0.9]
    assert len(skips) >= 16
    assert all(abs(p - 2 / 3) < TOLERANCE_BEATS for p in skips)


def test_shuffle_swings_even_when_asked_for_straight_time() -> None:
    hats = phases(play("shuffle", swing=0.0), {HAT, RIDE}, 1.0)
    off = [p for p in hats if 0.1 < p < 0.9]
    assert off and all(abs(p - 2 / 3) < TOLERANCE_BEATS for p in off)


@pytest.mark.parametrize("groove", ["rock", "pop", "funk", "train", "shuffle"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fill_leads_into_the_chorus_and_toms_only_play_at_phrase_ends(groove: str, seed: int) -> None:
    notes = play(groove, seed=seed)
    before_chorus = in_bar(notes, FORM[3].start_bar - 1, 4.0)
    window = [n for n in before_chorus if n.start_beat >= FORM[3].start_bar * 4 - 2.0]
    fill_strokes = [
        n
        for n in window
        if n.pitch in TOMS
        or (n.pitch in SNARES and n.start_beat % 1.0 > TOLERANCE_BEATS)
        or (n.pitch in SNARES and n.start_beat % 2.0 < TOLERANCE_BEATS)
    ]
    assert fill_strokes, "no fill in the bar before the chorus"
    for note in notes:
        if note.pitch in TOMS:
            bar = int(note.start_beat // 4)
            section = next(s for s in FORM if s.start_bar <= bar < s.end_bar)
            ends_phrase = (
                (bar - section.start_bar) % 4 == 3 or bar == section.end_bar - 1 or bar == SONG_BARS - 2
            )
            assert ends_phrase, f"tom in bar {bar} mid-phrase"


def test_phrase_fills_vary_between_shapes_and_seeds() -> None:
    tails = set()
    for seed in range(12):
        notes = play("rock", seed=seed)
        bar = FORM[3].start_bar - 1
        window = in_bar(notes, bar, 4.0)
        tails.add(
            tuple(sorted({(n.pitch, round(n.start_beat % 4 * 4)) for n in window if n.start_beat % 4 >= 2.0}))
        )
    assert len(tails) >= 3


@pytest.mark.parametrize("groove", PLAYING)
def test_crash_on_the_first_downbeat_of_choruses_and_drops(groove: str) -> None:
    notes = list(play(groove))
    for section in (FORM[3], FORM[5]):
        assert has_hit(notes, CRASHES, section.start_bar * 4.0), section.name


@pytest.mark.parametrize("groove", PLAYING)
@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (12, 8)])
def test_final_hit_on_the_last_downbeat_then_silence(groove: str, meter: tuple[int, int]) -> None:
    notes = play(groove, meter=meter)
    last_downbeat = (SONG_BARS - 1) * bar_length_beats(meter)
    final = [n for n in notes if n.start_beat >= last_downbeat - 1e-9]
    assert {n.pitch for n in final} >= {36, 49}
    assert all(n.start_beat == last_downbeat for n in final)
    assert max(n.start_beat for n in notes) == last_downbeat


@pytest.mark.parametrize("groove", SMALL_METER_FAMILIES)
@pytest.mark.parametrize("meter", [(3, 4), (6, 8), (12, 8)])
def test_small_meters_start_every_bar_on_its_downbeat(groove: str, meter: tuple[int, int]) -> None:
    bar_beats = bar_length_beats(meter)
    notes = play(groove, meter=meter)
    for section in (FORM[1], FORM[3]):
        for bar in range(section.start_bar, section.end_bar):
            assert has_hit(in_bar(notes, bar, bar_beats), set(range(35, 82)), bar * bar_beats), (
                f"bar {bar} of {meter} has no downbeat"
            )


@pytest.mark.parametrize("groove", SMALL_METER_FAMILIES)
def test_compound_meter_grooves_sit_on_the_eighth_note_grid(groove: str) -> None:
    notes = play(groove, meter=(12, 8))
    for section in (FORM[1], FORM[3]):
        for bar in groove_bars(section):
            for note in in_bar(notes, bar, 6.0):
                off_grid = abs(note.start_beat * 2 - round(note.start_beat * 2)) / 2
                assert off_grid <= TOLERANCE_BEATS, (groove, note)


@pytest.mark.parametrize("groove", PLAYING)
@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (5, 4), (7, 8)])
def test_chorus_is_denser_than_the_intro(groove: str, meter: tuple[int, int]) -> None:
    bar_beats = bar_length_beats(meter)
    notes = play(groove, meter=meter)

    def per_bar(section: Section) -> float:
        lo, hi = section.start_bar * bar_beats, section.end_bar * bar_beats
        return sum(lo <= n.start_beat < hi for n in notes) / section.bars

    assert per_bar(FORM[3]) > per_bar(FORM[0])


def test_quiet_intro_rests_until_a_pickup_into_the_verse() -> None:
    form = (Section("intro", 0, 4, 0.05), Section("verse", 4, 8, 0.7), Section("ending", 12, 1, 0.8))
    notes = drum_part("rock", form, (4, 4), 0.0, np.random.default_rng(3))
    intro = [n for n in notes if n.start_beat < 16.0]
    assert intro and all(n.start_beat >= 15.0 - TOLERANCE_BEATS for n in intro)


def test_build_roll_gets_denser_and_louder_towards_the_drop() -> None:
    notes = play("four-on-floor")
    build = FORM[4]
    first = [n for n in in_bar(notes, build.start_bar, 4.0) if n.pitch in SNARES | {CLAP}]
    last = [n for n in in_bar(notes, build.end_bar - 1, 4.0) if n.pitch in SNARES | {CLAP}]
    assert len(last) >= 3 * len(first) > 0
    assert np.mean([n.velocity for n in last]) > np.mean([n.velocity for n in first]) + 20
    drop_start = FORM[5].start_bar * 4.0
    assert not [n for n in notes if drop_start - 0.5 <= n.start_beat < drop_start]  # the gap


@pytest.mark.parametrize("groove", PLAYING)
def test_same_pitch_notes_never_overlap(groove: str) -> None:
    notes = play(groove, swing=0.3)
    by_pitch: dict[int, list[Note]] = {}
    for note in notes:
        by_pitch.setdefault(note.pitch, []).append(note)
    for strokes in by_pitch.values():
        strokes.sort(key=lambda n: n.start_beat)
        for a, b in zip(strokes, strokes[1:]):
            assert a.start_beat + a.duration_beats <= b.start_beat + 1e-9


def test_humanised_velocities_accent_downbeats_over_ghost_notes() -> None:
    notes = play("funk")
    chorus = [n for n in notes if 16 * 4 <= n.start_beat < 24 * 4]
    snares = [n.velocity for n in chorus if n.pitch in SNARES]
    assert min(snares) < 60 < 95 < max(snares)  # ghost notes and backbeats
    velocities = {n.velocity for n in chorus if n.pitch == HAT}
    assert len(velocities) > 8  # jittered, not a handful of fixed levels


def test_first_note_is_never_before_the_song_starts() -> None:
    form = (Section("chorus", 0, 4, 1.0), Section("outro", 4, 2, 0.5))
    for seed in range(10):
        notes = drum_part("funk", form, (4, 4), 0.2, np.random.default_rng(seed))
        assert min(n.start_beat for n in notes) == 0.0
