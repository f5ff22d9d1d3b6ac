"""Drum kits by genre: synthesized drum machines for the electronic genres, SoundFont kits for the
acoustic ones; the drum machines' sounds checked on the signal."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.music.compose import compose
from musicd.music.genres import GENRE_NAMES, GENRES
from musicd.music.plan import make_plan
from musicd.music.score import Note
from musicd.spec import load_spec
from musicd.synth.drum_machine import KITS, drum_sound, kick, render_drums
from musicd.synth.kits import ACOUSTIC_GENRES, ELECTRONIC_GENRES, kit_for_genre, kit_named

SR = 44100


def plan_for(genre: str, seed: int = 1):
    return make_plan(load_spec(f"genres: [{genre}]\nduration: 20\n"), seed)


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_every_genre_names_a_known_kit_and_the_plan_records_it(name):
    kit = kit_for_genre(name)
    plan = plan_for(name)
    assert plan.kit == kit.name == GENRES[name].kit
    assert plan.to_dict()["kit"] == kit.to_dict()
    if GENRES[name].groove != "none":
        assert any(kit.name in d for d in plan.decisions)


@pytest.mark.parametrize("name", sorted(ELECTRONIC_GENRES))
def test_electronic_genres_play_drum_machines(name):
    kit = kit_for_genre(name)
    assert kit.kind == "drum-machine" and kit.name in KITS


@pytest.mark.parametrize("name", sorted(ACOUSTIC_GENRES))
def test_acoustic_genres_keep_acoustic_soundfont_kits(name):
    kit = kit_for_genre(name)
    assert kit.kind == "soundfont" and not kit.synthesized
    assert kit.name in ("standard", "room", "power", "jazz", "brush", "orchestra")


def test_kit_choices_by_family():
    assert kit_for_genre("trap").name == "tr-808"
    assert {kit_for_genre(g).name for g in ("house", "techno", "trance")} == {"tr-909"}
    assert kit_for_genre("synthwave").name == "tr-707"
    assert kit_for_genre("jazz").name == "jazz" and kit_for_genre("rock").name == "power"
    with pytest.raises(ValueError, match="unknown drum kit"):
        kit_named("polka-kit")


def test_the_drum_track_names_its_kit_program_in_the_score():
    score = compose(plan_for("jazz"))
    assert score.track("drums").program == 32  # GM bank 128: jazz kit
    assert compose(plan_for("trap")).track("drums").program == 25  # TR-808


def pitch_track(x: np.ndarray, frame: int = 1024) -> list[float]:
    out = []
    for start in range(0, len(x) - frame, frame // 2):
        seg = x[start : start + frame] * np.hanning(frame)
        spectrum = np.abs(np.fft.rfft(seg, 8 * frame))
        out.append(float(np.argmax(spectrum)) * SR / (8 * frame))
    return out


@pytest.mark.parametrize("name", sorted(KITS))
def test_the_kick_falls_in_pitch_and_decays(name):
    sound = kick(KITS[name], SR)
    pitches = pitch_track(sound)
    assert pitches[0] > 1.2 * pitches[6]  # the pitch envelope
    assert 35 < pitches[6] < 90
    rms = [float(np.sqrt(np.mean(sound[i : i + 2048] ** 2))) for i in range(0, len(sound) - 2048, 2048)]
    assert rms[0] > 4 * rms[-1]  # the amplitude envelope


def centroid(x: np.ndarray) -> float:
    """Power-weighted spectral centroid."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


@pytest.mark.parametrize("name", sorted(KITS))
def test_hats_are_bright_snares_noisy_kicks_low(name):
    kick_c = centroid(drum_sound(name, 36, SR))
    snare_c = centroid(drum_sound(name, 38, SR))
    hat_c = centroid(drum_sound(name, 42, SR))
    clap_c = centroid(drum_sound(name, 39, SR))
    assert kick_c < 200 < 1500 < snare_c < hat_c and hat_c > 8000
    assert 800 < clap_c < 5000
    assert len(drum_sound(name, 46, SR)) > 4 * len(drum_sound(name, 42, SR))  # open vs closed


def test_the_808_kick_booms_longer_than_the_909():
    assert KITS["tr-808"].kick_decay_s > 2 * KITS["tr-909"].kick_decay_s


def test_hits_land_on_their_beats_scaled_by_velocity_and_open_hats_choke():
    notes = [
        Note(0.0, 0.25, 36, 127),
        Note(1.0, 0.25, 36, 64),
        Note(2.0, 0.5, 46, 100),
        Note(2.5, 0.25, 42, 90),
    ]
    audio = render_drums(notes, "tr-909", 120.0, SR, 2 * SR)[:, 0].astype(np.float64)
    onsets = [0, SR // 2]
    loud, soft = (np.abs(audio[o : o + 2000]).max() for o in onsets)
    assert soft < 0.5 * loud
    assert np.abs(audio[SR // 2 - 200 : SR // 2 - 50]).max() < 0.15 * loud  # only a tail before it
    choke = int(1.25 * SR)
    open_hat = drum_sound("tr-909", 46, SR)
    unchoked = render_drums([Note(2.0, 0.5, 46, 100)], "tr-909", 120.0, SR, 2 * SR)[:, 0]
    assert len(open_hat) > choke - SR  # it would still ring at the closed hat
    closed_only = render_drums(notes[:2] + notes[3:], "tr-909", 120.0, SR, 2 * SR)[:, 0]
    tail = slice(choke + 500, choke + 6000)
    residue = np.abs(audio[tail] - closed_only[tail]).max()  # what is left of the open hat
    assert residue < 1e-6 < np.abs(unchoked[tail]).max()


def test_drum_machines_repeat_exactly():
    notes = [Note(i * 0.5, 0.25, p, 100) for i, p in enumerate((36, 42, 38, 42, 39, 46, 49, 56, 62, 75))]
    a = render_drums(notes, "tr-808", 100.0, SR, 4 * SR)
    assert np.array_equal(a, render_drums(notes, "tr-808", 100.0, SR, 4 * SR))
    assert np.isfinite(a).all() and np.abs(a).max() < 1.5


def test_the_kick_is_tuned_to_the_key():
    from musicd.synth.drum_machine import tuned_to

    assert abs(tuned_to(52.0, 9) - 55.0) < 0.01  # A
    assert abs(tuned_to(52.0, 7) - 49.0) < 0.01  # G
    sound = drum_sound("tr-909", 36, SR, 9)
    tail = sound[int(0.1 * SR) : int(0.3 * SR)]
    spectrum = np.abs(np.fft.rfft(tail, 16 * len(tail)))
    assert abs(np.argmax(spectrum) * SR / (16 * len(tail)) - 55.0) < 2.0
