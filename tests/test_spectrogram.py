"""Riffusion's spectrogram images <-> audio."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from musicd.engines import spectrogram as sp

SR = 44100


def tone(freq_hz: float, duration_s: float = 1.28, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def dominant_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / SR)[spectrum.argmax()])


def semitones(a_hz: float, b_hz: float) -> float:
    return abs(12 * np.log2(a_hz / b_hz))


def test_riffusion_parameters():
    params = sp.RIFFUSION_PARAMS
    assert (params.sample_rate, params.hop_length, params.win_length, params.n_fft) == (
        44100,
        441,
        4410,
        17640,
    )
    assert params.n_mels == 512 and params.f_max_hz == 10000.0 and params.power_for_image == 0.25
    assert params.width_to_seconds(512) == pytest.approx(5.12)


def test_mel_filters_rise_in_frequency_and_stop_at_10_khz():
    bank = sp.mel_filterbank()
    assert bank.shape == (512, 17640 // 2 + 1)
    centres = bank.argmax(axis=1)
    assert np.all(np.diff(centres) >= 0) and centres[-1] > centres[0]
    freqs = np.linspace(0, SR / 2, bank.shape[1])
    assert bank[:, freqs > 10000.5].max() == 0.0
    assert (bank.sum(axis=1) > 0).all()


def test_pseudo_inverse_undoes_the_filterbank():
    identity = sp.mel_filterbank() @ sp.mel_pseudo_inverse()
    assert np.abs(identity - np.eye(512)).max() < 1e-4


def test_image_is_one_column_per_10_ms_with_low_notes_at_the_bottom_and_loud_dark():
    low = sp.audio_to_image(tone(220.0))
    high = sp.audio_to_image(tone(4000.0))
    assert low.shape == (512, 128, 3) and low.dtype == np.uint8
    low_row = int(np.argmin(low[:, 64, 0]))
    high_row = int(np.argmin(high[:, 64, 0]))
    assert high_row < low_row  # row 0 is the top of the image: high frequencies
    assert low[low_row, 64, 0] < 40 and np.median(low[:, 64, 0]) > 200


def test_image_to_mel_inverts_mel_to_image_within_quantisation():
    mel = sp.audio_to_mel(tone(440.0))[:, :128]
    back = sp.image_to_mel(sp.mel_to_image(mel), max_value=float(mel.max()))
    loud = mel > 0.05 * mel.max()
    assert np.allclose(back[loud], mel[loud], rtol=0.2)


def test_image_height_must_be_the_mel_bin_count():
    with pytest.raises(ValueError, match="512 px tall"):
        sp.image_to_mel(np.zeros((256, 64, 3), dtype=np.uint8))


@pytest.mark.parametrize("freq_hz", [440.0, 1000.0])
def test_round_trip_keeps_the_dominant_pitch(freq_hz):
    image = sp.audio_to_image(tone(freq_hz))
    params = replace(sp.RIFFUSION_PARAMS, griffin_lim_iters=16)
    audio = sp.image_to_audio(image, np.random.default_rng(0), params)
    assert audio.shape == (128 * 441,)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert semitones(dominant_hz(audio), freq_hz) < 1.0


def test_griffin_lim_is_deterministic_for_a_seed():
    image = sp.audio_to_image(tone(440.0, 0.64))
    params = replace(sp.RIFFUSION_PARAMS, griffin_lim_iters=4)
    first = sp.image_to_audio(image, np.random.default_rng(3), params)
    again = sp.image_to_audio(image, np.random.default_rng(3), params)
    assert np.array_equal(first, again)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch (the ml extra) is not installed")
def test_torch_griffin_lim_keeps_the_dominant_pitch():
    image = sp.audio_to_image(tone(440.0, 0.64))
    params = replace(sp.RIFFUSION_PARAMS, griffin_lim_iters=8)
    audio = sp.image_to_audio_torch(image, 0, "cpu", params)
    assert audio.shape == (64 * 441,)
    assert semitones(dominant_hz(audio), 440.0) < 1.0
