"""Lyrics parsing, syllables, the vocal melody's layout and timed-lyrics files (no audio)."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.errors import MusicdError
from musicd.music.score import Note, Track
from musicd.music.sections import Section
from musicd.music.theory import scale_pitch_classes
from musicd.vocals import ChordTime, LyricsTooLongError, duck_lead, vocal_line, write_lrc, write_srt
from musicd.vocals.lyrics import parse_line, parse_lyrics, section_marker
from musicd.vocals.melody import VOICE_RANGES
from musicd.vocals.timing_files import lrc_text, srt_text

FORM = (
    Section("intro", 0, 2, 0.3),
    Section("verse", 2, 8, 0.5),
    Section("chorus", 10, 8, 0.9),
    Section("verse", 18, 8, 0.5),
    Section("chorus", 26, 8, 0.9),
    Section("outro", 34, 2, 0.3),
)
PROGRESSION = ((0, 4, 7), (9, 0, 4), (5, 9, 0), (7, 11, 2))  # C Am F G
CHORDS = tuple(ChordTime(bar * 4.0, 4.0, PROGRESSION[bar % 4]) for bar in range(36))
SONG = (
    "[verse]\nThe city lights are calling me tonight\nI walk alone beneath the rain\n\n"
    "[chorus]\nSing it loud and sing it clear\nWe are here\n\n[verse]\nMorning comes and I am gone\n"
)


def line(text: str, language: str = "en", voice: str = "high", seed: int = 1, form=FORM):
    return vocal_line(
        text, [language], form, 100.0, (4, 4), "C", "major", CHORDS, voice, np.random.default_rng(seed)
    )


@pytest.mark.parametrize(
    "language, word, syllables",
    [
        ("en", "beautiful", ("beau", "ti", "ful")),
        ("en", "singing", ("sin", "ging")),
        ("en", "love", ("love",)),
        ("es", "corazón", ("co", "ra", "zón")),
        ("fr", "chanson", ("chan", "son")),
        ("de", "Sonnenschein", ("Son", "nen", "schein")),
        ("it", "amore", ("a", "mo", "re")),
        ("pt", "saudade", ("sau", "da", "de")),
        ("nl", "liefde", ("lief", "de")),
        ("pl", "kocham", ("ko", "cham")),
        ("cs", "láska", ("lás", "ka")),
        ("tr", "güzellik", ("gü", "zel", "lik")),
        ("ru", "любовь", ("лю", "бовь")),
        ("sv", "kärlek", ("kär", "lek")),
        ("fi", "rakkaus", ("rak", "kaus")),
        ("fi", "kiitos", ("kii", "tos")),
        ("hu", "szerelem", ("sze", "re", "lem")),
        ("hi", "नमस्ते", ("न", "म", "स्ते")),
        ("ko", "사랑해", ("사", "랑", "해")),
    ],
)
def test_words_split_into_known_syllables(language, word, syllables):
    assert parse_line(word, language).words[0].syllables == syllables


def test_chinese_and_japanese_sing_one_syllable_per_character():
    assert [w.syllables for w in parse_line("我爱你", "zh").words] == [("我",), ("爱",), ("你",)]
    assert [w.text for w in parse_line("きょうは", "ja").words] == ["きょ", "う", "は"]


def test_written_accent_and_language_rules_choose_the_stressed_syllable():
    assert parse_line("corazón", "es").words[0].stress == 2
    assert parse_line("amore", "it").words[0].stress == 1
    assert parse_line("chanson", "fr").words[0].stress == 1
    assert parse_line("the", "en").words[0].stress == -1


def test_section_markers_are_recognised():
    assert section_marker("[Chorus]") == "chorus"
    assert section_marker("(Verse 2)") == "verse"
    assert section_marker("Bridge:") == "bridge"
    assert section_marker("I love you") is None
    blocks = parse_lyrics(SONG, ("en",))
    assert [b.label for b in blocks] == ["verse", "chorus", "verse"]


def test_chorus_lyrics_recur_with_every_chorus_on_the_same_tune():
    vocal = line(SONG)
    chorus = ["Sing it loud and sing it clear", "We are here"]
    for start_bar in (10, 26):  # every chorus sings the chorus block (twice when it has room)
        sung = [ln.text for ln in vocal.lines if start_bar * 4 <= ln.start_beat < (start_bar + 8) * 4]
        assert sung and sung == chorus * (len(sung) // 2)
    verse_lines = [ln for ln in vocal.lines if ln.section == "verse"]
    assert verse_lines[-1].text == "Morning comes and I am gone"
    assert verse_lines[-1].start_beat >= 18 * 4  # the second verse block goes to the second verse

    def tune(start_beat: float) -> list[tuple[float, int]]:
        return [
            (n.note.start_beat - start_beat, n.note.pitch)
            for n in vocal.notes
            if start_beat <= n.note.start_beat < start_beat + 32
        ]

    assert tune(10 * 4) == tune(26 * 4)


def test_unmarked_repeated_block_is_the_chorus():
    text = "Walking down the road\n\nHold on, hold on\n\nRunning through the night\n\nHold on, hold on\n"
    vocal = line(text)
    chorus = [ln.text for ln in vocal.lines if ln.section == "chorus"]
    assert len(chorus) >= 2 and set(chorus) == {"Hold on, hold on"}
    assert [ln.text for ln in vocal.lines if ln.section == "verse"] == [
        "Walking down the road",
        "Running through the night",
    ]


def test_melody_has_one_note_per_syllable_in_range_scale_and_time():
    vocal = line(SONG, voice="low")
    low, high = VOICE_RANGES["low"]
    scale = scale_pitch_classes("C", "major")
    syllables = sum(parse_line(ln.text, "en").syllable_count for ln in vocal.lines)
    assert sum(1 for n in vocal.notes if not n.continuation) == syllables
    for sung in vocal.notes:
        assert low <= sung.note.pitch <= high
        assert sung.note.pitch % 12 in scale
    starts = [n.note.start_beat for n in vocal.notes]
    assert starts == sorted(starts)
    for a, b in zip(vocal.notes, vocal.notes[1:]):
        assert a.note.start_beat + a.note.duration_beats <= b.note.start_beat + 1e-6


def test_stressed_syllables_fall_on_beats_and_lines_end_on_chord_tones_with_a_breath():
    vocal = line(SONG)
    words = {}
    for sung in vocal.notes:
        words.setdefault(sung.line_index, []).append(sung)
    on_beat = total = 0
    for index, notes in words.items():
        last = notes[-1].note
        chord = next(c for c in CHORDS if c.start_beat <= last.start_beat < c.start_beat + 4)
        assert last.pitch % 12 in chord.tones
        following = [ln.start_beat for ln in vocal.lines[index + 1 :]]
        if following:
            assert following[0] - (last.start_beat + last.duration_beats) >= 1.0 - 1e-6
    for sung in vocal.notes:
        if sung.continuation or sung.note.velocity != 100:  # velocity 100 marks stressed syllables
            continue
        total += 1
        on_beat += abs(sung.note.start_beat - round(sung.note.start_beat)) < 1e-6
    assert total and on_beat / total >= 0.8


def test_track_carries_one_lyric_event_per_syllable():
    vocal = line("Hello world")
    track = vocal.to_track()
    assert track.name == "vocals"
    assert [s for _, s in track.lyrics] == ["hel", "lo", "world"] or [s for _, s in track.lyrics] == [
        "Hel",
        "lo",
        "world",
    ]
    assert [b for b, _ in track.lyrics] == [n.note.start_beat for n in vocal.notes if not n.continuation]


def test_no_lyrics_give_no_vocal_line():
    assert line("").is_empty and line("   \n\n").is_empty
    assert line("").to_track().notes == ()


def test_lyrics_too_long_for_the_song_are_a_clear_error():
    short_form = (Section("verse", 0, 2, 0.5),)
    text = "\n".join(["so many words in this very long line of lyrics here"] * 6)
    with pytest.raises(LyricsTooLongError) as info:
        line(text, form=short_form)
    assert isinstance(info.value, MusicdError)
    assert "duration" in str(info.value)


def test_lrc_and_srt_time_each_line_at_its_notes_and_keep_unicode(tmp_path):
    text = "[verse]\nÇa va très bien\nЯ тебя люблю\n\n[chorus]\n我爱你\n"
    vocal = vocal_line(
        text, ["fr", "ru", "zh"], FORM, 100.0, (4, 4), "C", "major", CHORDS, "high", np.random.default_rng(3)
    )
    assert [ln.language for ln in vocal.lines][:3] == ["fr", "ru", "zh"]
    write_lrc(tmp_path / "lyrics.lrc", vocal)
    write_srt(tmp_path / "lyrics.srt", vocal)
    lrc = (tmp_path / "lyrics.lrc").read_text(encoding="utf-8")
    srt = (tmp_path / "lyrics.srt").read_text(encoding="utf-8")
    for words in ("Ça va très bien", "Я тебя люблю", "我爱你"):
        assert words in lrc and words in srt
    for index, sung_line in enumerate(vocal.lines):
        notes = [n for n in vocal.notes if n.line_index == index]
        start_s = vocal.beats_to_seconds(notes[0].note.start_beat)
        centis = round(start_s * 100)
        assert f"[{centis // 6000:02d}:{(centis // 100) % 60:02d}.{centis % 100:02d}]{sung_line.text}" in lrc
    cues = srt.strip().split("\n\n")
    assert len(cues) == len(vocal.lines)
    first_notes = [n for n in vocal.notes if n.line_index == 0]
    start_ms = round(vocal.beats_to_seconds(first_notes[0].note.start_beat) * 1000)
    assert cues[0].splitlines()[1].startswith(f"00:00:{start_ms // 1000:02d},{start_ms % 1000:03d} --> ")
    assert lrc_text(vocal) == lrc and srt_text(vocal) == srt


def test_lead_steps_back_under_sung_lines():
    vocal = line("Sing along with me\n")
    first = vocal.lines[0]
    melody = Track("melody", 0, 0, (Note(first.start_beat, 1.0, 72, 100), Note(0.0, 1.0, 72, 100)))
    ducked = duck_lead(melody, vocal)
    assert ducked.notes[0].velocity < 60 and ducked.notes[1].velocity == 100
    assert len(duck_lead(melody, vocal, rest=True).notes) == 1


def test_same_seed_gives_the_same_line_and_other_seeds_give_other_melodies():
    assert line(SONG, seed=5) == line(SONG, seed=5)
    pitches = {tuple(n.note.pitch for n in line(SONG, seed=seed).notes) for seed in range(1, 9)}
    assert len(pitches) >= 4  # the seed really steers the melody
