"""The genre table: every genre has a complete, self-consistent musical profile."""

from __future__ import annotations

import pytest

from musicd.music.genres import (
    ALIASES,
    GENRE_NAMES,
    GENRES,
    canonical_genre,
    close_genres,
    genre_table_rows,
)
from musicd.music.theory import parse_roman, roman_case_matches

STEMS = {"drums", "bass", "chords", "melody", "pads", "arp"}


def test_every_genre_name_has_a_profile_in_table_order():
    assert tuple(GENRES) == GENRE_NAMES
    assert len(GENRES) >= 20


def test_aliases_and_spelling_variants_resolve():
    assert canonical_genre("Lo-Fi") == "lofi"
    assert canonical_genre("drum & bass") == "drum-and-bass"
    assert canonical_genre("Bossa Nova") == "bossa-nova"
    assert canonical_genre("R&B") == "rnb"
    assert canonical_genre("polka") is None
    assert "techno" in close_genres("tecno")
    assert all(target in GENRES for target in ALIASES.values())


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_profile_is_consistent(name):
    g = GENRES[name]
    assert g.bpm_min <= g.bpm_typical <= g.bpm_max
    assert g.modes and all(w > 0 for w in g.modes.values())
    assert {"bass", "chords", "melody"} <= set(g.roles)
    for role, programs in g.programs.items():
        assert programs and all(0 <= p <= 127 for p in programs), role
    assert 0.0 <= g.swing <= 0.75
    assert g.form[0].name == "intro" and g.form[-1].name == "outro"
    assert any(p.name in ("chorus", "drop") for p in g.form)
    assert set(g.mix.stems) <= STEMS
    assert g.video.palette and all(c.startswith("#") and len(c) == 7 for c in g.video.palette)
    for mode in g.modes:
        assert g.progressions.get(mode) or g.progressions.get(
            "minor" if mode in ("minor", "dorian", "phrygian") else "major"
        ), mode


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_progressions_parse_and_numeral_case_matches_the_mode(name):
    for mode, loops in GENRES[name].progressions.items():
        for loop in loops:
            assert len(loop) in (4, 8, 12)
            for bar in loop:
                for symbol in bar.split():
                    assert roman_case_matches(symbol, 0, mode), (mode, symbol)


def test_genre_idioms():
    assert ("ii7", "V7", "Imaj7", "vi7") in GENRES["lofi"].progressions["major"]
    blues = GENRES["blues"].progressions["blues"][0]
    assert len(blues) == 12 and blues[0] == "Idom7" and blues[4] == "IVdom7" and blues[8] == "Vdom7"
    i7 = parse_roman("Idom7", 4, "blues")  # E7
    assert sorted(i7.tones) == sorted({4, 8, 11, 2})
    assert ("i", "VI", "III", "VII") in GENRES["trance"].progressions["minor"]
    assert GENRES["rock"].voicing == "power"
    assert GENRES["jazz"].bass_style == "walking"
    assert GENRES["trap"].bass_style == "808"
    assert GENRES["reggae"].comping == "skank"
    assert [p.name for p in GENRES["house"].form][:3] == ["intro", "build", "drop"]


@pytest.mark.parametrize("name", ["house", "trance", "techno", "synthwave"])
def test_dance_genres_duck_pads_and_bass_under_the_kick(name):
    mix = GENRES[name].mix
    assert mix.stem("pads").duck_db > 0 and mix.stem("bass").duck_db > 0
    assert mix.stem("drums").duck_db == 0


def test_reverb_room_follows_the_genre():
    assert GENRES["ambient"].mix.reverb.room_size > GENRES["lofi"].mix.reverb.room_size
    assert GENRES["cinematic"].mix.reverb.room_size > GENRES["funk"].mix.reverb.room_size


def test_table_rows_for_the_cli():
    rows = genre_table_rows()
    assert [r["name"] for r in rows] == list(GENRE_NAMES)
    jazz = next(r for r in rows if r["name"] == "jazz")
    assert jazz["groove"] == "jazz-swing" and "Acoustic Bass" in jazz["instruments"]
    assert jazz["bpm"] == "100-180" and jazz["meter"] == "4/4"
    for row in rows:
        assert {"name", "bpm", "modes", "keys", "meter", "swing", "groove", "instruments"} <= set(row)
