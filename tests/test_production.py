"""Production by genre: tape saturation, dusty top, width, and the sidechain pump's rate."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.audio.mixing import duck_gain
from musicd.audio.production import (
    PRODUCTION,
    lowpass_top,
    produce,
    pump_gain,
    pump_rate_hz,
    stereo_width,
    tape_saturate,
    widen,
)
from musicd.music.compose import compose
from musicd.music.plan import make_plan
from musicd.pipeline.run import kick_times_s
from musicd.spec import load_spec

SR = 44100
ENV_RATE = 441  # envelopes decimated to 100 Hz for the rate analysis


@pytest.mark.parametrize("genre", ["house", "techno", "trance"])
def test_the_sidechain_pump_runs_at_the_tempo(genre):
    plan = make_plan(load_spec(f"genres: [{genre}]\nduration: 30\n"), 7)
    score = compose(plan)
    depth = plan.mix.stem("pads").duck_db or plan.mix.stem("bass").duck_db
    assert depth > 0
    length = int(score.duration_s * SR)
    gain = duck_gain(length, SR, kick_times_s(score), depth, plan.mix.duck_release_ms)
    envelope = gain[::ENV_RATE].astype(np.float64)  # 100 Hz
    rate = pump_rate_hz(envelope, SR // ENV_RATE)
    assert abs(rate - plan.tempo_bpm / 60.0) < 0.05 * plan.tempo_bpm / 60.0, (rate, plan.tempo_bpm)


def test_the_tempo_locked_pump_has_the_tempo_rate_and_depth():
    gain = pump_gain(10 * SR, SR, 126.0, 6.0)
    assert abs(pump_rate_hz(gain[::ENV_RATE].astype(np.float64), SR // ENV_RATE) - 2.1) < 0.1
    assert abs(20 * np.log10(gain.min()) + 6.0) < 0.1 and gain.max() <= 1.0


def test_tape_saturation_rounds_peaks_and_keeps_quiet_signals():
    t = np.arange(SR) / SR
    quiet = (0.01 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    assert np.allclose(tape_saturate(quiet, 0.35), quiet, rtol=0.01, atol=1e-6)
    loud = (0.9 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    out = tape_saturate(loud, 0.35)
    spectrum = np.abs(np.fft.rfft(out))
    assert spectrum[300] > 0.02 * spectrum[100]  # odd harmonics from the tape


def test_lofi_top_is_dusty_and_trance_chords_are_wider():
    noise = np.random.default_rng(1).standard_normal((SR, 2)).astype(np.float32)
    dark = lowpass_top(noise, 7500.0, SR)
    spectrum = np.abs(np.fft.rfft(dark[:, 0]))
    assert spectrum[15000:].mean() < 0.2 * spectrum[1000:3000].mean()
    stereo = np.stack([noise[:, 0], 0.7 * noise[:, 0] + 0.3 * noise[:, 1]], axis=1)
    assert stereo_width(widen(stereo, 1.4)) > 1.3 * stereo_width(stereo)
    out = produce({"chords": stereo, "vocals": stereo}, "trance", SR)
    assert out["vocals"] is stereo and stereo_width(out["chords"]) > stereo_width(stereo)
    assert produce({"chords": stereo}, "rock", SR)["chords"] is stereo
    assert {"lofi", "hip-hop"} <= set(PRODUCTION)


def test_production_keeps_the_stems_summing_to_their_mix():
    rng = np.random.default_rng(2)
    stems = {n: (0.3 * rng.standard_normal((SR, 2))).astype(np.float32) for n in ("drums", "chords")}
    out = produce(stems, "lofi", SR)
    assert all(out[n].shape == stems[n].shape for n in stems)
