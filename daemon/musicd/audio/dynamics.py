"""Compressors: a look-ahead peak compressor for transients and a glue compressor for buses (the
mix bus and the vocal bus); and a transient shaper that boosts the attack of each hit.

Both work on a block-rate level detector (the largest |sample| of each short block over all
channels) and turn it into a gain-reduction curve in dB:
  1. the static curve: (level - threshold) * (1 - 1/ratio) above the threshold, with a soft knee,
  2. an instant-attack, exponential-release envelope (a peak hold that decays with release_ms),
  3. the attack: the peak compressor holds and averages over its attack window ahead of each peak
     (look-ahead, so the reduction is in place when the peak arrives and ramps in smoothly); the
     glue compressor lets the reduction rise with a one-pole attack (transients pass through, as
     on an analogue bus compressor) and adds a slower auto-release after sustained compression.
The transient shaper compares two envelopes of the same block peaks: a fast one (instant attack,
exponential release) and a slow one that follows it with a one-pole lag; where the fast one is
ahead (the first tens of milliseconds of a hit) the gain rises towards `attack_db`.
The gain is computed per block and interpolated back to the sample rate. Every step is a numpy or
scipy array operation: the release recursion r[n] = max(req[n], a * r[n-1]) is a running maximum
in the log domain.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal

from musicd.audio.loudness import RELATIVE_GATE_LU

PEAK_BLOCK = 16  # samples per detector block for the peak compressor (0.36 ms at 44.1 kHz)
GLUE_BLOCK = 32  # and for the glue compressor (0.73 ms)
REFERENCE_WINDOW_S = 0.4  # windows for the gated RMS a relative threshold refers to
REFERENCE_GATE_DB = -70.0


def block_peaks(audio: np.ndarray, block: int) -> np.ndarray:
    """Largest |sample| over all channels in each `block`-sample block (the last one may be short)."""
    frames = np.ascontiguousarray(audio[:, None] if audio.ndim == 1 else audio)
    n_full = frames.shape[0] // block
    # a C-ordered (n, channels) array viewed as rows of block * channels values: one block per row
    rows = frames[: n_full * block].reshape(n_full, block * frames.shape[1])
    peaks = np.maximum(rows.max(axis=1), -rows.min(axis=1)) if n_full else np.zeros(0, frames.dtype)
    if frames.shape[0] > n_full * block:
        peaks = np.append(peaks, np.abs(frames[n_full * block :]).max())
    return peaks


def gated_rms_db(audio: np.ndarray, sample_rate: int) -> float:
    """RMS level (dBFS, channels averaged) of the 400 ms windows within 10 dB of the loud part:
    BS.1770's two-stage gate without the K-weighting. -inf for silence or audio under 400 ms."""
    frames = audio[:, None] if audio.ndim == 1 else audio
    window = max(1, int(round(REFERENCE_WINDOW_S * sample_rate)))
    n_windows = frames.shape[0] // window
    if n_windows == 0:
        return -math.inf
    energy = np.einsum("ij,ij->i", frames[: n_windows * window], frames[: n_windows * window])
    powers = energy.reshape(n_windows, window).sum(axis=1, dtype=np.float64) / (window * frames.shape[1])
    with np.errstate(divide="ignore"):
        levels = 10.0 * np.log10(powers)
    loud = powers[levels > REFERENCE_GATE_DB]
    if loud.size == 0:
        return -math.inf
    gate = 10.0 * math.log10(loud.mean()) + RELATIVE_GATE_LU
    return 10.0 * math.log10(powers[(levels > gate) & (levels > REFERENCE_GATE_DB)].mean())


def static_reduction_db(
    level_db: np.ndarray, threshold_db: float, ratio: float, knee_db: float = 0.0
) -> np.ndarray:
    """Gain reduction (dB, >= 0) of a compressor's static curve with a soft knee `knee_db` wide."""
    over = np.asarray(level_db, dtype=np.float64) - threshold_db
    slope = 1.0 - 1.0 / max(ratio, 1.0)
    reduction = slope * np.maximum(over, 0.0)
    if knee_db > 0:
        in_knee = np.abs(over) <= knee_db / 2
        reduction[in_knee] = slope * np.square(over[in_knee] + knee_db / 2) / (2 * knee_db)
    return reduction


def release_envelope_db(required_db: np.ndarray, release_blocks: float) -> np.ndarray:
    """r[n] = max(required[n], r[n-1] * exp(-1 / release_blocks)): instant attack, exponential
    release, as a running maximum of log(required) + n / release_blocks."""
    required_db = np.asarray(required_db, dtype=np.float64)
    if required_db.size == 0 or release_blocks <= 0:
        return required_db.copy()
    decay = np.arange(required_db.size, dtype=np.float64) / release_blocks
    with np.errstate(divide="ignore"):
        logs = np.log(required_db)
    held = np.maximum.accumulate(logs + decay) - decay
    return np.exp(held)


def one_pole(values: np.ndarray, time_blocks: float) -> np.ndarray:
    """First-order low-pass with time constant `time_blocks` (blocks), starting from the first value."""
    if time_blocks <= 0 or values.size == 0:
        return values
    coeff = math.exp(-1.0 / time_blocks)
    filtered, _ = signal.lfilter([1.0 - coeff], [1.0, -coeff], values, zi=[coeff * float(values[0])])
    return filtered


def _gain_at_samples(reduction_db: np.ndarray, n_samples: int, block: int) -> np.ndarray:
    """Linear gain (float32, (n,)) from a block-rate reduction: block k's value at sample k * block,
    straight lines in between (the last block's value holds to the end)."""
    gain = np.power(np.float32(10.0), reduction_db.astype(np.float32) * np.float32(-1.0 / 20.0))
    ends = np.append(gain[1:], gain[-1])
    ramp = np.arange(block, dtype=np.float32) / np.float32(block)
    curve = gain[:, None] + (ends - gain)[:, None] * ramp[None, :]
    return curve.reshape(-1)[:n_samples]


def _block_reduction_db(
    audio: np.ndarray,
    block: int,
    threshold_db: float,
    ratio: float,
    knee_db: float,
    peaks: np.ndarray | None = None,
) -> np.ndarray | None:
    """Gain reduction (dB) each block's peak needs, or None when nothing needs any."""
    if audio.shape[0] == 0 or ratio <= 1.0:
        return None
    with np.errstate(divide="ignore"):
        level_db = 20.0 * np.log10(block_peaks(audio, block) if peaks is None else peaks)
    required = static_reduction_db(level_db, threshold_db, ratio, knee_db)
    return required if np.any(required > 0) else None


def peak_compressor_gain(
    audio: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float,
    knee_db: float = 6.0,
    attack_ms: float = 1.0,
    release_ms: float = 60.0,
    block: int = PEAK_BLOCK,
    peaks: np.ndarray | None = None,
) -> np.ndarray:
    """Gain curve (linear, float32, (n,)) of a stereo-linked look-ahead peak compressor.

    `threshold_db` is absolute (dBFS sample peak). The reduction ramps in over `attack_ms` before
    each peak, reaches the static curve's value at the peak and decays with time constant
    `release_ms` after it. `peaks` are the audio's `block_peaks`, when the caller has them.
    """
    n_samples = audio.shape[0]
    required = _block_reduction_db(audio, block, threshold_db, ratio, knee_db, peaks)
    if required is None:
        return np.ones(n_samples, np.float32)
    window = max(1, int(round(attack_ms * 1e-3 * sample_rate / block)))
    # hold each block's need over the window before it, then average over the same window: the
    # average at a peak covers only held values, so it is never below the peak's need
    held = ndimage.maximum_filter1d(required, size=window, origin=-(window // 2), mode="constant")
    released = release_envelope_db(held, release_ms * 1e-3 * sample_rate / block)
    smoothed = ndimage.uniform_filter1d(released, size=window, origin=(window - 1) // 2, mode="nearest")
    return _gain_at_samples(smoothed, n_samples, block)


def glue_compressor_gain(
    audio: np.ndarray,
    sample_rate: int,
    threshold_db: float,
    ratio: float = 2.0,
    knee_db: float = 6.0,
    attack_ms: float = 20.0,
    release_ms: float = 150.0,
    auto_release_ms: float = 1000.0,
    block: int = GLUE_BLOCK,
) -> np.ndarray:
    """Gain curve (linear, float32, (n,)) of a stereo-linked bus compressor.

    `threshold_db` is absolute (dBFS sample peak). The reduction follows the static curve with a
    one-pole attack of `attack_ms` and releases with `release_ms`; after sustained compression the
    release slows towards `auto_release_ms` (the average reduction decays with that time constant
    and the reduction never falls below it; 0 turns this off).
    """
    n_samples = audio.shape[0]
    required = _block_reduction_db(audio, block, threshold_db, ratio, knee_db)
    if required is None:
        return np.ones(n_samples, np.float32)
    blocks_per_ms = 1e-3 * sample_rate / block
    reduction = release_envelope_db(required, release_ms * blocks_per_ms)
    if auto_release_ms > 0:
        reduction = np.maximum(reduction, one_pole(reduction, auto_release_ms * blocks_per_ms))
    reduction = one_pole(reduction, attack_ms * blocks_per_ms)
    return _gain_at_samples(reduction, n_samples, block)


def transient_shaper_gain(
    audio: np.ndarray,
    sample_rate: int,
    attack_db: float,
    attack_ms: float = 20.0,
    release_ms: float = 150.0,
    block: int = PEAK_BLOCK,
    peaks: np.ndarray | None = None,
) -> np.ndarray:
    """Gain curve (linear, float32, (n,)) of a stereo-linked transient shaper: up to `attack_db`
    on the onset of each hit, fading over about `attack_ms`; sustained sound is left at unity.

    The attack share is 1 - slow / fast, where `fast` is the block-peak envelope (instant attack,
    `release_ms` release) and `slow` the same envelope through a one-pole lag of `attack_ms`; it is
    1 when a hit starts from silence and 0 once the slow envelope has caught up. `peaks` are the
    audio's `block_peaks`, when the caller has them.
    """
    n_samples = audio.shape[0]
    if n_samples == 0 or attack_db == 0.0:
        return np.ones(n_samples, np.float32)
    blocks_per_ms = 1e-3 * sample_rate / block
    if peaks is None:
        peaks = block_peaks(audio, block)
    fast = release_envelope_db(peaks.astype(np.float64), release_ms * blocks_per_ms)
    slow = one_pole(fast, attack_ms * blocks_per_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(fast > 0.0, 1.0 - slow / fast, 0.0)
    boost_db = attack_db * np.clip(share, 0.0, 1.0)
    return _gain_at_samples(-boost_db, n_samples, block)
