"""The RBJ biquads and the guarded sosfilt, measured on real signals with numpy's FFT."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from musicd.audio.filters import first_order_lowpass, rbj_biquad, sosfilt_guarded
from musicd.errors import RenderError

SR = 48000
N = SR  # one second: FFT bins fall on whole hertz


def gain_db_at(sos: np.ndarray, freq_hz: float) -> float:
    """The filter's gain at `freq_hz`, from the FFT of a steady sine through it."""
    t = np.arange(2 * N) / SR
    tone = np.sin(2 * np.pi * freq_hz * t).astype(np.float32)
    out = sosfilt_guarded(sos, tone)[N:]  # the second second: the filter has settled
    window = np.hanning(N)
    spectrum_in = np.abs(np.fft.rfft(tone[N:] * window))
    spectrum_out = np.abs(np.fft.rfft(out * window))
    k = int(round(freq_hz))
    return 20 * math.log10(spectrum_out[k] / spectrum_in[k])


@pytest.mark.parametrize(
    ("freq_hz", "gain_db", "q"), [(1000.0, 6.0, 1.0), (4000.0, 2.5, 0.8), (250.0, -9.0, 2.0)]
)
def test_peaking_filter_has_its_gain_at_the_centre_and_none_far_away(
    freq_hz: float, gain_db: float, q: float
) -> None:
    sos = rbj_biquad("peaking", freq_hz, SR, gain_db, q)
    assert gain_db_at(sos, freq_hz) == pytest.approx(gain_db, abs=0.2)
    assert gain_db_at(sos, freq_hz / 16) == pytest.approx(0.0, abs=0.2)
    assert abs(gain_db_at(sos, freq_hz * 2)) < abs(gain_db)  # falls off on either side


def test_shelves_and_passes_measured_on_sines() -> None:
    assert gain_db_at(rbj_biquad("lowshelf", 200.0, SR, 6.0), 20.0) == pytest.approx(6.0, abs=0.2)
    assert gain_db_at(rbj_biquad("lowshelf", 200.0, SR, 6.0), 200.0) == pytest.approx(3.0, abs=0.2)
    assert gain_db_at(rbj_biquad("highshelf", 3000.0, SR, -6.0), 20000.0) == pytest.approx(-6.0, abs=0.2)
    assert gain_db_at(rbj_biquad("highpass", 100.0, SR), 100.0) == pytest.approx(-3.01, abs=0.2)
    assert gain_db_at(rbj_biquad("highpass", 100.0, SR), 25.0) == pytest.approx(-24.1, abs=0.3)  # 12 dB/oct
    assert gain_db_at(rbj_biquad("lowpass", 2000.0, SR), 2000.0) == pytest.approx(-3.01, abs=0.2)
    assert gain_db_at(first_order_lowpass(2000.0, SR), 2000.0) == pytest.approx(-3.01, abs=0.2)


def test_butterworth_designs_equal_scipys() -> None:
    assert np.allclose(
        rbj_biquad("highpass", 100.0, SR), signal.butter(2, 100.0, "highpass", fs=SR, output="sos")
    )
    assert np.allclose(
        rbj_biquad("lowpass", 1500.0, SR), signal.butter(2, 1500.0, "lowpass", fs=SR, output="sos")
    )
    assert np.allclose(
        first_order_lowpass(6000.0, SR), signal.butter(1, 6000.0, "lowpass", fs=SR, output="sos")
    )


def test_frequencies_outside_the_band_are_rejected() -> None:
    with pytest.raises(RenderError, match="between 0"):
        rbj_biquad("peaking", SR / 2, SR, 3.0)
    with pytest.raises(RenderError, match="between 0"):
        first_order_lowpass(0.0, SR)


def test_guard_keeps_tiny_and_decaying_inputs_free_of_denormals_and_nan() -> None:
    sos = np.array([rbj_biquad("highpass", 40.0, SR), rbj_biquad("peaking", 3000.0, SR, 6.0, 0.7)])
    tiny = np.zeros((SR, 2), np.float32)
    tiny[:100] = 1e-37  # already near float32's denormal range
    tiny[100] = 0.5  # a click, then exact digital silence while the filter state decays
    out = sosfilt_guarded(sos, tiny)
    assert out.dtype == np.float32 and out.shape == tiny.shape
    assert np.all(np.isfinite(out))
    smallest_normal = np.finfo(np.float32).tiny
    assert not np.any((out != 0) & (np.abs(out) < smallest_normal))  # no subnormal values
    unguarded = signal.sosfilt(sos.astype(np.float32), tiny, axis=0)
    assert np.any((unguarded != 0) & (np.abs(unguarded) < smallest_normal))  # what the guard prevents
    assert np.abs(out - unguarded).max() < 1e-6  # and it changes nothing audible


def test_guard_leaves_the_input_alone_and_filters_along_the_axis() -> None:
    audio = np.random.default_rng(2).standard_normal((2, 4000)).astype(np.float32)
    before = audio.copy()
    sos = rbj_biquad("lowpass", 1000.0, SR)
    out = sosfilt_guarded(sos, audio, axis=1)
    assert np.array_equal(audio, before)
    reference = signal.sosfilt(sos[None, :], audio.astype(np.float64), axis=1)
    assert np.abs(out - reference).max() < 1e-5
