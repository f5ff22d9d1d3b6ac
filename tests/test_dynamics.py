"""Compressors: static curve, envelopes and gain curves measured on synthetic signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musicd.audio.dynamics import (
    block_peaks,
    gated_rms_db,
    glue_compressor_gain,
    one_pole,
    peak_compressor_gain,
    release_envelope_db,
    static_reduction_db,
)

SR = 44100


def sine(amplitudes: list[tuple[float, float]], freq_hz: float = 1000.0) -> np.ndarray:
    """Stereo sine whose amplitude steps through (seconds, amplitude) segments."""
    envelope = np.concatenate([np.full(int(s * SR), a) for s, a in amplitudes])
    t = np.arange(envelope.size) / SR
    mono = (envelope * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def gain_db_at(gain: np.ndarray, seconds: float) -> float:
    return 20 * math.log10(float(gain[int(seconds * SR)]))


def test_static_curve_has_ratio_above_threshold_and_a_smooth_knee() -> None:
    levels = np.array([-30.0, -20.0, -10.0, 0.0])
    assert np.allclose(static_reduction_db(levels, -20.0, 2.0), [0.0, 0.0, 5.0, 10.0])
    assert np.allclose(static_reduction_db(levels, -20.0, 4.0), [0.0, 0.0, 7.5, 15.0])
    kneed = static_reduction_db(np.array([-23.0, -20.0, -17.0, -16.9]), -20.0, 2.0, knee_db=6.0)
    assert kneed[0] == 0.0
    assert kneed[1] == pytest.approx(0.5 * 6.0 / 8)  # slope * knee / 8 at the threshold
    assert kneed[2] == pytest.approx(1.5)  # meets the straight line at the knee's top
    assert kneed[3] == pytest.approx(1.55)
    assert np.all(static_reduction_db(levels, -20.0, 1.0) == 0.0)


def test_release_envelope_matches_the_peak_hold_recursion() -> None:
    rng = np.random.default_rng(3)
    required = np.where(rng.random(3000) < 0.02, rng.random(3000) * 6.0, 0.0)
    release_blocks = 40.0
    expected = np.empty_like(required)
    previous = 0.0
    for i, value in enumerate(required):  # the recursion the vectorised form replaces
        previous = max(value, previous * math.exp(-1.0 / release_blocks))
        expected[i] = previous
    assert np.allclose(release_envelope_db(required, release_blocks), expected, rtol=1e-9, atol=1e-12)


def test_one_pole_reaches_63_percent_after_one_time_constant() -> None:
    step = np.concatenate([np.zeros(10), np.ones(1000)])
    filtered = one_pole(step, 100.0)
    assert filtered[9] == 0.0
    assert filtered[9 + 100] == pytest.approx(1 - math.exp(-1), abs=0.005)


def test_block_peaks_take_the_largest_magnitude_over_channels() -> None:
    audio = np.zeros((100, 2), np.float32)
    audio[5, 1] = -0.9
    audio[40, 0] = 0.5
    audio[99, 1] = 0.25  # in the short last block
    peaks = block_peaks(audio, 32)
    assert peaks.tolist() == pytest.approx([0.9, 0.5, 0.0, 0.25])


def test_gated_rms_ignores_silence_and_reads_a_sine_3_db_under_its_peak() -> None:
    audio = sine([(1.2, 0.0), (2.0, 0.5), (1.2, 0.0)])  # on the 400 ms windows' edges
    assert gated_rms_db(audio, SR) == pytest.approx(20 * math.log10(0.5) - 3.01, abs=0.02)
    assert gated_rms_db(np.zeros((SR, 2), np.float32), SR) == -math.inf


@pytest.mark.parametrize("ratio", [2.0, 4.0])
def test_glue_reduction_follows_threshold_and_ratio(ratio: float) -> None:
    audio = sine([(1.0, 0.1), (2.0, 0.8), (2.0, 0.1)])  # -20 dBFS, then -1.9 dBFS peaks
    threshold_db = -12.0
    gain = glue_compressor_gain(
        audio, SR, threshold_db, ratio, knee_db=0.0, attack_ms=20.0, release_ms=100.0, auto_release_ms=0.0
    )
    loud_db = 20 * math.log10(0.8)
    expected = (loud_db - threshold_db) * (1 - 1 / ratio)
    assert gain_db_at(gain, 0.9) == pytest.approx(0.0, abs=1e-6)  # under the threshold
    assert gain_db_at(gain, 2.5) == pytest.approx(-expected, abs=0.05)  # settled
    # one-pole attack: 63 % of the reduction 20 ms after the step
    assert gain_db_at(gain, 1.0 + 0.020) == pytest.approx(-expected * (1 - math.exp(-1)), abs=0.2)
    # release: the 100 ms exponential decay, smoothed by the same one-pole
    release, attack, t = 100.0, 20.0, 100.0
    left = (release * math.exp(-t / release) - attack * math.exp(-t / attack)) / (release - attack)
    assert gain_db_at(gain, 3.0 + t / 1000) == pytest.approx(-expected * left, abs=0.1)
    assert gain_db_at(gain, 4.5) == pytest.approx(0.0, abs=0.01)


def test_glue_auto_release_slows_recovery_after_sustained_compression() -> None:
    sustained = sine([(3.0, 0.8), (2.0, 0.1)])
    fixed = glue_compressor_gain(sustained, SR, -12.0, 2.0, 0.0, 20.0, 100.0, auto_release_ms=0.0)
    auto = glue_compressor_gain(sustained, SR, -12.0, 2.0, 0.0, 20.0, 100.0, auto_release_ms=1000.0)
    assert gain_db_at(auto, 2.9) == pytest.approx(gain_db_at(fixed, 2.9), abs=0.1)  # same depth
    assert gain_db_at(auto, 3.4) < gain_db_at(fixed, 3.4) - 2.0  # but held longer afterwards
    # a short burst barely moves the average: it releases at (nearly) the fast rate
    burst = sine([(1.0, 0.1), (0.03, 0.8), (1.0, 0.1)])
    fast = glue_compressor_gain(burst, SR, -12.0, 2.0, 0.0, 5.0, 100.0, auto_release_ms=0.0)
    auto = glue_compressor_gain(burst, SR, -12.0, 2.0, 0.0, 5.0, 100.0, auto_release_ms=1000.0)
    assert gain_db_at(auto, 1.33) == pytest.approx(gain_db_at(fast, 1.33), abs=0.5)


def test_peak_compressor_is_in_place_at_the_peak_and_releases_after_it() -> None:
    audio = sine([(1.0, 0.05), (0.004, 1.0), (1.0, 0.05)], freq_hz=500.0)
    threshold_db, ratio = -12.0, 4.0
    gain = peak_compressor_gain(audio, SR, threshold_db, ratio, knee_db=0.0, attack_ms=1.0, release_ms=50.0)
    out = audio * gain[:, None]
    burst = slice(SR, SR + int(0.004 * SR))
    needed_db = (0.0 - threshold_db) * (1 - 1 / ratio)
    # the look-ahead has the reduction in place over the whole burst: its peak is on the curve
    assert 20 * math.log10(float(np.abs(out[burst]).max())) == pytest.approx(-needed_db, abs=0.3)
    assert gain_db_at(gain, 1.0 - 0.003) == pytest.approx(0.0, abs=0.01)  # starts within the attack
    assert gain_db_at(gain, 1.004 + 0.050) == pytest.approx(-needed_db * math.exp(-1), abs=0.5)
    assert gain_db_at(gain, 1.5) == pytest.approx(0.0, abs=0.01)
    assert np.abs(np.diff(20 * np.log10(gain))).max() < 0.5  # ramps, no steps


def test_compressors_leave_quiet_audio_alone() -> None:
    quiet = sine([(1.0, 0.01)])
    assert np.all(peak_compressor_gain(quiet, SR, -12.0, 4.0) == 1.0)
    assert np.all(glue_compressor_gain(quiet, SR, -12.0, 2.0) == 1.0)
    assert np.all(glue_compressor_gain(sine([(1.0, 0.9)]), SR, -12.0, 1.0) == 1.0)  # ratio 1: off
