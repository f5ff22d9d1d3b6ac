"""The subtractive synth voices, checked on the signal: pitch, filter envelope, glide, drive."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.music.score import Control, Note, Track, semitones_to_bend
from musicd.synth.voices import VOICES, Envelope, Voice, drive, morph_lowpass, oscillator, render_track

SR = 44100
TEMPO = 120.0  # one beat = 0.5 s


def play(voice: Voice, notes, controls=(), seconds=3.0, seed=1) -> np.ndarray:
    track = Track("lead", 0, 0, tuple(notes), controls=tuple(controls))
    return render_track(track, voice, TEMPO, SR, int(seconds * SR), np.random.default_rng(seed))


def pitch_hz(x: np.ndarray, lo: float = 25.0, hi: float = 2000.0) -> float:
    """Fundamental by autocorrelation (the first strong peak)."""
    x = x - x.mean()
    corr = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * len(x))) ** 2)[: len(x)]
    lags = np.arange(int(SR / hi), min(int(SR / lo), len(x) // 2))
    best = lags[np.argmax(corr[lags])]
    # the shortest lag whose peak is nearly as strong (avoids octave-down errors)
    for lag in lags:
        if corr[lag] > 0.9 * corr[best] and corr[lag] >= corr[lag - 1] and corr[lag] >= corr[lag + 1]:
            best = lag
            break
    return SR / best


def centroid_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((spectrum * freqs).sum() / max(spectrum.sum(), 1e-12))


@pytest.mark.parametrize("name", sorted(VOICES))
@pytest.mark.parametrize("pitch", [45, 57])
def test_every_voice_plays_the_note_it_is_given(name, pitch):
    audio = play(VOICES[name], [Note(0.0, 2.0, pitch, 100)])
    window = audio[int(0.3 * SR) : int(0.7 * SR), 0].astype(np.float64)
    expected = 440.0 * 2 ** ((pitch - 69) / 12)
    found = pitch_hz(window)
    off = 12 * np.log2(found / expected)
    voice = VOICES[name]
    sixteen_foot = voice.wave == "organ" and min(r for r, _ in voice.organ_partials) < 1
    if voice.sub_level or sixteen_foot:  # a sub an octave down sets the period
        off = min(abs(off), abs(off + 12))
    assert abs(off) < 0.5, (name, found, expected)
    assert np.isfinite(audio).all() and 0.01 < np.abs(audio).max() < 1.0


@pytest.mark.parametrize("wave", ["saw", "square", "sine"])
def test_oscillators_hold_their_frequency(wave):
    tone = oscillator(wave, np.full(SR, 220.0), SR)
    spectrum = np.abs(np.fft.rfft(tone))
    assert abs(np.argmax(spectrum) - 220) <= 1  # 1 Hz bins


def test_supersaw_is_detuned_and_wide():
    audio = play(VOICES["supersaw"], [Note(0.0, 4.0, 57, 110)])
    left, right = audio[SR // 2 : 2 * SR, 0], audio[SR // 2 : 2 * SR, 1]
    assert np.corrcoef(left, right)[0, 1] < 0.9  # the unison stack is spread in stereo
    # detuned copies beat: the level of the fundamental's band moves over time
    spectrum = np.abs(np.fft.rfft(left))
    freqs = np.fft.rfftfreq(len(left), 1 / SR)
    band = spectrum[(freqs > 215) & (freqs < 225)]
    assert (band > 0.2 * band.max()).sum() >= 3  # energy spread over several Hz, not one line


def test_the_filter_envelope_opens_then_closes():
    acid = VOICES["acid"]
    audio = play(acid, [Note(0.0, 1.5, 45, 120)])[:, 0].astype(np.float64)
    early = centroid_hz(audio[int(0.005 * SR) : int(0.045 * SR)])
    late = centroid_hz(audio[int(0.5 * SR) : int(0.54 * SR)])
    assert early > 1.8 * late, (early, late)


def test_the_acid_accent_opens_the_filter():
    acid = VOICES["acid"]
    soft = play(acid, [Note(0.0, 0.5, 45, 50)])[: int(0.05 * SR), 0].astype(np.float64)
    loud = play(acid, [Note(0.0, 0.5, 45, 127)])[: int(0.05 * SR), 0].astype(np.float64)
    assert centroid_hz(loud / np.abs(loud).max()) > 1.2 * centroid_hz(soft / np.abs(soft).max())


def test_morph_lowpass_follows_a_sweeping_cutoff():
    noise = np.random.default_rng(3).standard_normal((1, SR))
    curve = np.geomspace(200.0, 8000.0, SR)
    out = morph_lowpass(noise, curve, 0.707, SR)[0]
    assert centroid_hz(out[-SR // 8 :]) > 3 * centroid_hz(out[: SR // 8])


def test_glide_slides_between_legato_notes():
    voice = Voice("glider", wave="saw", cutoff_hz=3000.0, glide_s=0.2, mono=True, half_rate=False)
    audio = play(voice, [Note(0.0, 1.0, 45, 100), Note(1.0, 1.0, 57, 100)])[:, 0].astype(np.float64)
    start = int(0.5 * SR)  # beat 1 = 0.5 s
    middle = pitch_hz(audio[start + int(0.03 * SR) : start + int(0.06 * SR)], lo=100.0)
    settled = pitch_hz(audio[start + int(0.35 * SR) : start + int(0.45 * SR)])
    assert 112.0 < middle < 215.0  # on the way from A2 (110 Hz) to A3 (220 Hz)
    assert abs(settled - 220.0) < 4.0
    staccato = play(voice, [Note(0.0, 0.5, 45, 100), Note(1.0, 1.0, 57, 100)])[:, 0].astype(np.float64)
    assert abs(pitch_hz(staccato[start + int(0.03 * SR) : start + int(0.06 * SR)], lo=100.0) - 220.0) < 8.0


def test_the_808_follows_pitch_bends_from_the_score():
    bend = [Control(1.0, "bend", 0, semitones_to_bend(5.0))]
    audio = play(VOICES["808"], [Note(0.0, 3.0, 36, 110)], bend)[:, 0].astype(np.float64)
    before = pitch_hz(audio[int(0.2 * SR) : int(0.45 * SR)])
    after = pitch_hz(audio[int(0.8 * SR) : int(1.1 * SR)])
    assert abs(12 * np.log2(before / 65.41)) < 0.5
    assert abs(12 * np.log2(after / before) - 5.0) < 0.5


def test_the_808_starts_with_a_falling_thump():
    audio = play(VOICES["808"], [Note(0.0, 2.0, 36, 110)])[:, 0].astype(np.float64)
    assert pitch_hz(audio[: int(0.03 * SR)], lo=40) > pitch_hz(audio[int(0.3 * SR) : int(0.5 * SR)], lo=40)


def test_the_wobble_follows_the_expression_curve():
    closed = [Control(0.0, "cc", 11, 20)]
    opened = [Control(0.0, "cc", 11, 127)]
    dark = play(VOICES["wobble"], [Note(0.0, 2.0, 40, 110)], closed)[SR // 4 : SR, 0].astype(np.float64)
    bright = play(VOICES["wobble"], [Note(0.0, 2.0, 40, 110)], opened)[SR // 4 : SR, 0].astype(np.float64)
    assert centroid_hz(bright) > 2 * centroid_hz(dark)


def test_drive_adds_harmonics_and_keeps_the_peak():
    tone = np.sin(2 * np.pi * 100 * np.arange(SR) / SR)
    driven = drive(tone, 0.8)
    assert abs(np.abs(driven).max() - 1.0) < 1e-6
    spectrum = np.abs(np.fft.rfft(driven))
    clean = np.abs(np.fft.rfft(tone))
    assert spectrum[300] > 0.1 * spectrum[100] and clean[300] < 1e-6 * clean[100]
    assert drive(tone, 0.0) is tone


def test_the_amp_envelope_releases_after_the_note():
    voice = Voice("env", wave="saw", amp_env=Envelope(0.01, 0.1, 0.5, 0.2), half_rate=False)
    audio = np.abs(play(voice, [Note(0.0, 1.0, 57, 127)])[:, 0])
    held = audio[int(0.3 * SR) : int(0.45 * SR)].max()
    assert audio[int(0.52 * SR) : int(0.55 * SR)].max() < held  # releasing after 0.5 s
    assert audio[int(1.0 * SR) :].max() < 0.01 * held


def test_same_seed_same_samples_and_the_seed_matters():
    notes = [Note(float(b), 0.9, 57 + (b % 3), 100) for b in range(4)]
    a = play(VOICES["supersaw"], notes, seed=4)
    assert np.array_equal(a, play(VOICES["supersaw"], notes, seed=4))
    assert not np.array_equal(a, play(VOICES["supersaw"], notes, seed=5))
