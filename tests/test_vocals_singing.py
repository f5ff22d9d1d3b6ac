"""Sung vocals with the real espeak-ng: pitch and timing against the plan, every language, the
bus and the sing() entry point."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from musicd.music.plan import make_plan
from musicd.music.sections import Section
from musicd.spec import load_spec
from musicd.vocals import ChordTime, sing, vocal_line
from musicd.vocals.bus import process_vocal_bus
from musicd.vocals.espeak import speak
from musicd.vocals.singing import group_words, sing_vocal_line

SAMPLE_RATE = 22050
TEMPO_BPM = 96.0
FORM = (Section("verse", 0, 4, 0.5), Section("chorus", 4, 4, 0.9))
CHORDS = tuple(
    ChordTime(bar * 4.0, 4.0, ((0, 4, 7), (9, 0, 4), (5, 9, 0), (7, 11, 2))[bar % 4]) for bar in range(8)
)
SONG_SAMPLES = int(8 * 4 * 60 / TEMPO_BPM * SAMPLE_RATE)

LANGUAGE_LINES = {
    "en": "I will sing for you",
    "es": "Canto para ti",
    "fr": "Je chante pour toi",
    "de": "Ich singe für dich",
    "it": "Canto per te",
    "pt": "Eu canto para você",
    "nl": "Ik zing voor jou",
    "pl": "Śpiewam dla ciebie",
    "cs": "Zpívám pro tebe",
    "tr": "Senin için şarkı söylerim",
    "ru": "Я пою для тебя",
    "sv": "Jag sjunger för dig",
    "fi": "Minä laulan sinulle",
    "hu": "Neked énekelek",
    "hi": "मैं तुम्हारे लिए गाता हूँ",
    "zh": "我为你唱歌",
    "ja": "あなたのためにうたう",
    "ko": "너를 위해 노래해",
    "uk": "Я співаю для тебе",
    "da": "Jeg synger for dig",
    "nb": "Jeg synger for deg",
    "ro": "Cânt pentru tine",
    "el": "Τραγουδώ για σένα",
    "id": "Aku bernyanyi untukmu",
    "vi": "Tôi hát cho em",
}


def render(text: str, language: str = "en", voice: str = "low", seed: int = 2):
    vocal = vocal_line(
        text, [language], FORM, TEMPO_BPM, (4, 4), "C", "major", CHORDS, voice, np.random.default_rng(seed)
    )
    return vocal, sing_vocal_line(vocal, speak, SAMPLE_RATE, SONG_SAMPLES)


def note_at(vocal, time_s: float):
    beat = time_s * TEMPO_BPM / 60.0
    return next(
        (
            n.note
            for n in vocal.notes
            if n.note.start_beat <= beat < n.note.start_beat + n.note.duration_beats
        ),
        None,
    )


@pytest.mark.parametrize("voice", ["low", "high"])
def test_sung_pitch_follows_the_planned_notes(voice):
    vocal, audio = render(
        "[verse]\nThe morning light is on the hill\nAnd I can hear you call my name\n\n"
        "[chorus]\nSing along, sing along\n",
        voice=voice,
    )
    hop = 256
    f0, voiced, _ = librosa.pyin(audio, fmin=65, fmax=1000, sr=SAMPLE_RATE, frame_length=1024, hop_length=hop)
    times = librosa.times_like(f0, sr=SAMPLE_RATE, hop_length=hop)
    errors = []
    for t, hz, is_voiced in zip(times, f0, voiced):
        note = note_at(vocal, t)
        if is_voiced and note is not None and np.isfinite(hz):
            errors.append(abs(1200 * np.log2(hz / librosa.midi_to_hz(note.pitch))))
    assert len(errors) > 200
    assert np.mean(np.array(errors) <= 50) >= 0.8


def test_words_start_on_their_notes():
    vocal, audio = render("[verse]\nTake my hand\nStay by me\n\n[chorus]\nDo not go\n")
    onsets = librosa.onset.onset_detect(y=audio, sr=SAMPLE_RATE, hop_length=128, units="time", backtrack=True)
    starts = [vocal.beats_to_seconds(w.start_beat) for w in group_words(vocal)]
    hits = [min(abs(onsets - s)) <= 0.05 for s in starts]
    assert np.mean(hits) >= 0.8, list(zip(starts, hits))
    # Silence between lines (before each line's first note) and after the last note.
    for previous, following in zip(vocal.lines, vocal.lines[1:]):
        gap = audio[
            int(vocal.beats_to_seconds(previous.end_beat + 0.25) * SAMPLE_RATE) : int(
                (vocal.beats_to_seconds(following.start_beat) - 0.02) * SAMPLE_RATE
            )
        ]
        assert gap.size and np.max(np.abs(gap)) < 1e-3
    last = vocal.notes[-1].note
    end = int(vocal.beats_to_seconds(last.start_beat + last.duration_beats + 0.25) * SAMPLE_RATE)
    assert np.max(np.abs(audio[end:])) < 1e-3


@pytest.mark.parametrize("language", sorted(LANGUAGE_LINES))
def test_every_supported_language_sings_audibly(language):
    vocal, audio = render(LANGUAGE_LINES[language], language, voice="high")
    assert vocal.lines and vocal.lines[0].language == language
    sung = [
        (
            vocal.beats_to_seconds(n.note.start_beat),
            vocal.beats_to_seconds(n.note.start_beat + n.note.duration_beats),
        )
        for n in vocal.notes
    ]
    inside = np.concatenate([audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in sung])
    assert np.sqrt(np.mean(inside**2)) > 0.02  # audible while the notes sound
    covered = np.mean(
        [np.max(np.abs(audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)])) > 0.01 for a, b in sung]
    )
    assert covered >= 0.9  # every note (or nearly) carries sound


def test_vocal_bus_returns_a_stereo_stem_of_the_same_length():
    _, audio = render("Hold me close tonight")
    stem = process_vocal_bus(audio, SAMPLE_RATE, ["ambient"], TEMPO_BPM)
    assert stem.shape == (len(audio), 2) and stem.dtype == np.float32
    assert 0.1 < np.max(np.abs(stem)) <= 10 ** (-1 / 20) + 1e-6  # audible, never above -1 dBFS
    dry_end = int(np.flatnonzero(np.abs(audio) > 1e-4)[-1])
    assert np.max(np.abs(stem[dry_end + 2000 : dry_end + 6000])) > 1e-3  # the reverb tail rings on
    assert not np.any(process_vocal_bus(np.zeros(1000, np.float32), SAMPLE_RATE, ["pop"]))


def test_sing_returns_the_stem_at_the_songs_exact_length_with_lrc_and_engine_record():
    spec = load_spec(
        "genres: [pop]\nduration: 20\nlyrics: |\n  [verse]\n  Hello my friend\n  [chorus]\n  Sing it again\n"
    )
    plan = make_plan(spec, 11)
    n_samples = int(plan.duration_s * 44100) + 12345
    result = sing(
        spec.lyrics,
        spec.vocals.languages,
        spec.vocals.voice,
        spec.vocals.engine,
        plan,
        44100,
        n_samples,
        seed=11,
    )
    assert result.audio is not None and result.audio.shape == (n_samples, 2)
    assert result.engine_used == "piper" and result.engine_asked == "auto"  # English: the neural voice
    assert result.reason.startswith("the neural Piper voice")
    assert "Hello my friend" in result.lrc_text and "Sing it again" in result.srt_text
    assert result.track is not None and result.track.name == "vocals" and result.track.lyrics
    assert result.record()["used"] == "piper"
    assert [s["singer"] for s in result.record()["singers"]] == ["piper"]
    again = sing(
        spec.lyrics,
        spec.vocals.languages,
        spec.vocals.voice,
        spec.vocals.engine,
        plan,
        44100,
        n_samples,
        seed=11,
    )
    # The notes, lyric events and timed lyrics are identical; the audio is only nearly the same.
    assert again.track == result.track and again.lrc_text == result.lrc_text
    assert abs(float(np.std(again.audio)) - float(np.std(result.audio))) < 0.2 * float(np.std(result.audio))


def test_sing_with_coqui_asked_but_no_model_falls_back_to_the_next_singer_and_says_why():
    spec = load_spec("genres: [lofi]\nduration: 20\nlyrics: Hello there\n")
    plan = make_plan(spec, 3)
    result = sing(spec.lyrics, ["en"], "low", "coqui", plan, 22050, 22050 * 20, seed=3)
    assert result.engine_used == "piper"
    assert "coqui is not available" in result.reason and "fell back to piper" in result.reason


def test_no_lyrics_or_engine_none_sing_nothing():
    spec = load_spec("genres: [lofi]\nduration: 20\n")
    plan = make_plan(spec, 3)
    for lyrics, engine in ((None, "auto"), ("", "espeak"), ("Hello", "none")):
        result = sing(lyrics, ["en"], "auto", engine, plan, 22050, 22050 * 20, seed=3)
        assert result.audio is None and result.track is None and result.engine_used == "none"
        assert result.lrc_text == ""


def test_singers_come_from_the_registry_and_are_chosen_through_it():
    from musicd.engines import SINGER_NAMES, EngineConfig, Singer, make_singer
    from musicd.vocals import choose_singer

    assert SINGER_NAMES == ("coqui", "piper", "mbrola", "espeak")  # best first: auto and fallbacks
    for name in SINGER_NAMES:
        singer = make_singer(name, EngineConfig())
        assert isinstance(singer, Singer) and singer.name == name
    singer, used, reason = choose_singer("auto", EngineConfig(), language="en")
    assert used == "piper" and reason.startswith("the neural Piper voice")
    singer, used, reason = choose_singer("auto", EngineConfig(), language="pl")
    assert used in ("mbrola", "espeak")  # Polish: no Piper voice
    singer, used, reason = choose_singer("espeak", EngineConfig())
    assert used == "espeak" and reason == "asked for espeak"
    singer, used, reason = choose_singer("coqui", EngineConfig())
    assert used == "piper" and reason.startswith("coqui is not available (no Coqui model folder")
    assert reason.endswith("; fell back to piper")


def test_the_espeak_singer_sings_the_vocal_line():
    from musicd.vocals.espeak import EspeakSinger

    vocal = vocal_line(
        "Hello there", ["en"], FORM, TEMPO_BPM, (4, 4), "C", "major", CHORDS, "low", np.random.default_rng(1)
    )
    dry = EspeakSinger().sing(vocal, SAMPLE_RATE, SONG_SAMPLES)
    assert dry.shape == (SONG_SAMPLES,) and dry.dtype == np.float32 and np.max(np.abs(dry)) > 0.01
