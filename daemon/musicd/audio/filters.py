"""IIR filters: RBJ "Audio EQ Cookbook" biquads as second-order sections, and a guarded sosfilt.

Every design returns one normalised sos row [b0, b1, b2, 1, a1, a2]; stack rows into an (n, 6)
array to cascade them. High- and low-pass at Q 1/sqrt(2) are second-order Butterworth filters
(bilinear transform, pre-warped at the cutoff), and shelves at that Q have slope S = 1.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import signal

from musicd.errors import RenderError

BiquadKind = Literal["highpass", "lowpass", "lowshelf", "highshelf", "peaking"]

BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
DENORMAL_GUARD = 1e-25  # far below audibility, far above float32's denormal range (1.2e-38)


def _check_frequency(freq_hz: float, sample_rate: int) -> None:
    nyquist = sample_rate / 2.0
    if not 0.0 < freq_hz < nyquist:
        raise RenderError(f"Filter frequency {freq_hz} Hz must lie between 0 and {nyquist:g} Hz.")


def rbj_biquad(
    kind: BiquadKind, freq_hz: float, sample_rate: int, gain_db: float = 0.0, q: float = BUTTERWORTH_Q
) -> np.ndarray:
    """One RBJ cookbook biquad as a normalised sos row [b0, b1, b2, 1, a1, a2].

    `gain_db` applies to the shelves and the peaking filter; `q` sets the bandwidth (for the
    shelves, Q 1/sqrt(2) is slope S = 1).
    """
    _check_frequency(freq_hz, sample_rate)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * q)
    amp = 10.0 ** (gain_db / 40.0)
    if kind == "highpass":
        b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "lowpass":
        b = [(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "peaking":
        b = [1 + alpha * amp, -2 * cos_w0, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cos_w0, 1 - alpha / amp]
    elif kind in ("lowshelf", "highshelf"):
        two_sqrt_a_alpha = 2.0 * math.sqrt(amp) * alpha
        sign = 1.0 if kind == "lowshelf" else -1.0
        b = [
            amp * ((amp + 1) - sign * (amp - 1) * cos_w0 + two_sqrt_a_alpha),
            sign * 2 * amp * ((amp - 1) - sign * (amp + 1) * cos_w0),
            amp * ((amp + 1) - sign * (amp - 1) * cos_w0 - two_sqrt_a_alpha),
        ]
        a = [
            (amp + 1) + sign * (amp - 1) * cos_w0 + two_sqrt_a_alpha,
            -sign * 2 * ((amp - 1) + sign * (amp + 1) * cos_w0),
            (amp + 1) + sign * (amp - 1) * cos_w0 - two_sqrt_a_alpha,
        ]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    return np.array([b[0] / a[0], b[1] / a[0], b[2] / a[0], 1.0, a[1] / a[0], a[2] / a[0]])


def first_order_lowpass(freq_hz: float, sample_rate: int) -> np.ndarray:
    """A first-order (6 dB/octave) Butterworth low-pass as an sos row, pre-warped at the cutoff."""
    _check_frequency(freq_hz, sample_rate)
    k = math.tan(math.pi * freq_hz / sample_rate)
    return np.array([k / (1 + k), k / (1 + k), 0.0, 1.0, (k - 1) / (k + 1), 0.0])


def sosfilt_guarded(sos: np.ndarray, audio: np.ndarray, axis: int = 0) -> np.ndarray:
    """scipy's sosfilt in float32, with a -500 dB DC + Nyquist pattern added to the input.

    IIR filter state decaying after a sound towards digital silence passes through the denormal
    range, where CPUs slow down a hundredfold (a 60 s drum stem took seconds instead of
    milliseconds); the guard keeps every value normal and changes no audible bit.
    """
    sos = np.asarray(sos, dtype=np.float32)
    guarded = np.array(audio, dtype=np.float32, copy=True)
    index: list[slice] = [slice(None)] * guarded.ndim
    index[axis] = slice(None, None, 2)
    guarded[tuple(index)] += DENORMAL_GUARD * 2
    return signal.sosfilt(sos if sos.ndim == 2 else sos[None, :], guarded, axis=axis)
