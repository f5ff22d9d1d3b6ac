"""The planner: genres and prompt words become tempo, key, form and parts."""

from __future__ import annotations

import pytest

from musicd.music.genres import GENRE_NAMES, GENRES
from musicd.music.moods import MOOD_WORDS
from musicd.music.plan import _pool, harmonic_rhythm, make_plan, recase_roman_bar
from musicd.music.theory import mode_family, pitch_class
from musicd.spec import load_spec


def spec(text: str):
    return load_spec(text)


def plan_for(text: str, seed: int = 1):
    return make_plan(spec(text), seed)


@pytest.mark.parametrize("name", GENRE_NAMES)
@pytest.mark.parametrize("duration_s", [6, 12, 45, 200])
def test_form_fills_the_requested_duration(name, duration_s):
    plan = plan_for(f"genres: [{name}]\nduration: {duration_s}\n", seed=3)
    assert abs(plan.duration_s - duration_s) <= 1.0
    bars = [s.bars for s in plan.form]
    assert sum(bars) == plan.bars and all(b >= 1 for b in bars)
    starts = [s.start_bar for s in plan.form]
    assert starts == sorted(starts) and plan.form[0].start_bar == 0
    assert plan.form[-1].name in ("outro", "ending") or plan.bars < 6
    assert len(plan.progressions) == len(plan.form)
    assert all(len(p) == s.bars for p, s in zip(plan.progressions, plan.form))
    assert plan.progressions[-1][-1].split()[0].upper().startswith("I") and not plan.progressions[-1][
        -1
    ].upper().startswith(("II", "IV"))


@pytest.mark.parametrize("name", ["pop", "house", "rock", "lofi", "cinematic"])
def test_long_songs_have_a_recurring_chorus_and_phrase_length_sections(name):
    plan = plan_for(f"genres: [{name}]\nduration: 180\n")
    names = [s.name for s in plan.form]
    hook = "drop" if "drop" in names else "chorus"
    assert names.count(hook) >= 2
    assert all(s.bars % 4 == 0 for s in plan.form[1:-1])
    chorus_progressions = {p for s, p in zip(plan.form, plan.progressions) if s.name == hook}
    assert len({p[:4] for p in chorus_progressions}) == 1


def test_explicit_bpm_and_key_win():
    plan = plan_for("genres: [trance]\nbpm: 90\nkey: D dorian\nprompt: happy energetic\nduration: 60\n")
    assert plan.tempo_bpm == 90
    assert (plan.key_tonic, plan.mode) == ("D", "dorian")
    assert abs(plan.duration_s - 60) <= 0.5 * plan.bar_to_seconds(1) + 1e-9
    assert "tempo 90 bpm from the spec" in plan.decisions
    assert "mode dorian from the spec" in plan.decisions


def test_mood_words_shift_the_mode():
    dark = [plan_for("genres: [pop]\nprompt: a dark and gloomy night\n", s).mode for s in range(12)]
    plain = [plan_for("genres: [pop]\n", s).mode for s in range(12)]
    assert sum(mode_family(m) == "minor" for m in dark) >= 10
    assert sum(mode_family(m) == "minor" for m in dark) > sum(mode_family(m) == "minor" for m in plain)
    happy = [plan_for("genres: [cinematic]\nprompt: happy uplifting\n", s).mode for s in range(12)]
    assert sum(mode_family(m) == "major" for m in happy) >= 9
    assert any("mood" in d for d in plan_for("genres: [pop]\nprompt: dark\n").decisions)


def test_mood_words_shift_the_tempo():
    seeds = range(8)
    calm = [plan_for("genres: [pop]\nduration: 60\nprompt: calm\n", s).tempo_bpm for s in seeds]
    plain = [plan_for("genres: [pop]\nduration: 60\n", s).tempo_bpm for s in seeds]
    fast = [plan_for("genres: [pop]\nduration: 60\nprompt: energetic\n", s).tempo_bpm for s in seeds]
    assert sum(calm) / 8 < sum(plain) / 8 - 4 < sum(fast) / 8 - 8
    assert all(95 <= t <= 128 for t in (*calm, *plain, *fast))  # pop's own range


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_mood_words_keep_the_tempo_inside_the_genre_range(name):
    genre = GENRES[name]
    for index, word in enumerate(sorted(MOOD_WORDS)):
        for duration_s in (45, 7):
            plan = plan_for(f"genres: [{name}]\nprompt: {word}\nduration: {duration_s}\n", seed=index)
            assert genre.bpm_min <= plan.tempo_bpm <= genre.bpm_max, (word, duration_s, plan.tempo_bpm)
            assert abs(plan.duration_s - duration_s) <= max(1.0, 0.5 * plan.bar_to_seconds(1))
    strong = "aggressive energetic happy uplifting" if genre.bpm_max < 170 else "sad calm chill"
    plan = plan_for(f"genres: [{name}]\nprompt: {strong}\nduration: 45\n")
    assert genre.bpm_min <= plan.tempo_bpm <= genre.bpm_max
    assert plan_for(f"genres: [{name}]\nprompt: {strong}\nbpm: 200\n").tempo_bpm == 200  # explicit wins


def test_the_reported_out_of_range_tempos_are_back_in_range():
    for name, prompt in [
        ("drum-and-bass", "energetic aggressive"),
        ("deep-house", "sad calm"),
        ("trance", "euphoric energetic"),
        ("dubstep", "dark sad"),
        ("trap", "chill calm"),
        ("hip-hop", "energetic happy"),
        ("pop", "energetic aggressive"),
    ]:
        for seed in range(5):
            plan = plan_for(f"genres: [{name}]\nprompt: {prompt}\nduration: 45\n", seed)
            assert GENRES[name].bpm_min <= plan.tempo_bpm <= GENRES[name].bpm_max, (name, plan.tempo_bpm)


def test_prompt_only_specs_infer_genres():
    assert plan_for("prompt: a dreamy bossa nova by the sea\n").genres == ("bossa-nova",)
    assert plan_for("prompt: liquid drum and bass with pads\n").genres[0] == "drum-and-bass"
    assert plan_for("prompt: neon night drive through miami\n").genres[0] == "synthwave"
    assert plan_for("prompt: jazz meets hip hop\n").genres == ("jazz", "hip-hop")
    fallback = plan_for("prompt: something nice\n")
    assert fallback.genres == ("lofi",)
    assert any("default lofi" in d for d in fallback.decisions)


def test_two_genres_blend_with_the_primary_leading():
    plan = plan_for("genres: [lofi, jazz]\nduration: 60\n")
    assert plan.genres == ("lofi", "jazz")
    assert 70 * 0.92 <= plan.tempo_bpm <= 90 * 1.08
    assert plan.groove == "boom-bap"
    assert any("blends" in d for d in plan.decisions)


def test_same_seed_same_plan_and_different_seed_may_differ():
    text = "genres: [pop]\nprompt: summer love\nduration: 90\n"
    assert plan_for(text, 5) == plan_for(text, 5)
    plans = {
        (p.tempo_bpm, p.key_tonic, p.mode, p.progressions) for p in (plan_for(text, s) for s in range(6))
    }
    assert len(plans) > 1


def test_plan_to_dict_has_bars_seconds_and_chords():
    plan = plan_for("genres: [jazz]\nkey: Bb major\nbpm: 120\nduration: 40\n")
    data = plan.to_dict()
    assert data["key"] == "Bb major" and data["tempo_bpm"] == 120
    assert data["form"][0]["start_s"] == 0 and data["form"][0]["start_bar"] == 0
    second = data["form"][1]
    assert second["start_s"] == pytest.approx(second["start_bar"] * 2.0)
    assert data["form"][-1]["chords"][-1].startswith("Bb")
    assert data["instruments"]["bass"]["name"] == "Acoustic Bass"
    assert data["decisions"] and data["seed"] == 1


FORM_DURATIONS_S = [5, 10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 300, 600]


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_sections_come_in_phrase_lengths_with_a_verse_before_the_first_chorus(name):
    blues = GENRES[name].phrase_bars == 12
    for duration_s in FORM_DURATIONS_S:
        for bpm in ("", "bpm: 131\n"):
            plan = plan_for(f"genres: [{name}]\nduration: {duration_s}\n{bpm}", seed=3)
            where = f"{duration_s} s {bpm.strip()}: " + " ".join(f"{s.name}{s.bars}" for s in plan.form)
            for index, section in enumerate(plan.form):
                final_tag = section.name == "ending" and index == len(plan.form) - 1
                phrase = section.bars in (2, 4, 8, 16, 32) or blues and section.bars in (12, 24)
                assert phrase or final_tag and section.bars in (1, 2), where
            names = [s.name for s in plan.form]
            hook = "drop" if "drop" in names else "chorus"
            lead_in = "build" if hook == "drop" else "verse"
            if plan.bars >= {12: 28, 8: 20}.get(GENRES[name].phrase_bars, 12):
                assert hook in names and lead_in in names, where
                assert names.index(lead_in) < names.index(hook), where


def test_a_thirty_second_pop_song_has_intro_verse_chorus_outro():
    plan = plan_for("genres: [pop]\nduration: 30\n")
    assert [s.name for s in plan.form] == ["intro", "verse", "chorus", "outro"]
    assert abs(plan.duration_s - 30) <= 1.0


def test_an_explicit_bpm_with_an_odd_bar_count_ends_on_a_one_bar_tonic_tag():
    plan = plan_for("genres: [pop]\nkey: C major\nbpm: 120\nduration: 30\n")  # 15 bars
    assert plan.bars == 15 and plan.tempo_bpm == 120
    assert plan.form[-1].name == "ending" and plan.form[-1].bars == 1
    assert plan.progressions[-1] == ("I",)
    assert plan.progressions[-2][-1] == "V"  # the bar before leads home


def test_blues_sections_are_whole_twelve_bar_passes_with_a_turnaround_intro():
    plan = plan_for("genres: [blues]\nkey: E\nduration: 150\n")
    middle = [s for s in plan.form if s.name in ("verse", "chorus")]
    assert middle and all(s.bars % 12 == 0 for s in middle)
    intro = next((p for s, p in zip(plan.form, plan.progressions) if s.name == "intro"), None)
    if intro is not None:
        assert intro[-1] == "Vdom7"


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_no_program_plays_two_parts(name):
    for seed in range(8):
        plan = plan_for(f"genres: [{name}]\nprompt: calm dreamy\n", seed)
        programs = list(plan.instruments.values())
        assert len(programs) == len(set(programs)), plan.instruments


def test_the_primary_genre_keeps_its_instruments_in_a_blend():
    for seed in range(10):
        plan = plan_for("genres: [lofi, hip-hop]\n", seed)
        lofi = GENRES["lofi"].programs
        for role in ("bass", "chords", "melody", "pads"):
            assert plan.instruments[role] in lofi[role], (role, plan.instruments)
        assert plan.instruments["melody"] != 48  # not hip-hop's string section


def test_a_secondary_genre_only_fills_parts_the_primary_lacks():
    for seed in range(10):
        plan = plan_for("genres: [reggae, afrobeat]\n", seed)
        for role, programs in GENRES["reggae"].programs.items():
            assert plan.instruments[role] in programs, (role, plan.instruments)
        assert "pads" in plan.instruments  # reggae has none; afrobeat lends them


def test_the_reported_ambient_chorus_plays_its_whole_progression():
    plan = plan_for("genres: [ambient]\nbpm: 70\nkey: C major\nduration: 30\n", seed=5)
    chorus = next(c for c in plan.to_dict()["form"] if c["name"] == "chorus")
    assert chorus["bars"] == 4
    assert chorus["chords"] == ["Cadd9", "G", "Am", "F"]


def test_harmonic_rhythm_fits_the_whole_loop_into_any_section():
    loop = ["I", "V", "vi", "IV"]
    assert harmonic_rhythm(loop, 2, 8) == ["I", "I", "V", "V", "vi", "vi", "IV", "IV"]
    assert harmonic_rhythm(loop, 2, 4) == loop
    assert harmonic_rhythm(loop, 2, 6) == loop
    assert harmonic_rhythm(loop, 4, 16) == [c for c in loop for _ in range(4)]
    assert harmonic_rhythm(loop, 2, 2) == ["I V", "vi IV"]
    assert harmonic_rhythm(loop, 1, 1) == ["I V vi IV"]
    assert harmonic_rhythm(["ii7 V7", "Imaj7"], 2, 1) == ["ii7 V7 Imaj7"]


SLOW_HARMONY = [name for name in GENRE_NAMES if GENRES[name].bars_per_chord > 1]


@pytest.mark.parametrize("name", SLOW_HARMONY)
def test_every_chord_of_the_planned_progression_sounds_with_a_slow_harmonic_rhythm(name):
    assert SLOW_HARMONY  # techno, drum-and-bass, ambient, ...
    genre = GENRES[name]
    for duration_s in (12, 20, 30, 45, 90):
        for seed in range(4):
            plan = plan_for(f"genres: [{name}]\nduration: {duration_s}\n", seed)
            tonic_pc = pitch_class(plan.key_tonic)
            loops = [
                {c for bar in loop for c in recase_roman_bar(bar, tonic_pc, plan.mode).split()}
                for loop in _pool(genre, plan.mode)
            ]
            last = len(plan.form) - 1
            for index, (section, bars) in enumerate(zip(plan.form, plan.progressions)):
                if index == last or (index == last - 1 and plan.form[last].bars == 1):
                    continue  # the cadence to the final tonic rewrites these bars
                played = {c for bar in bars for c in bar.split()}
                assert any(loop <= played for loop in loops), (duration_s, seed, section, bars)
