"""Mastering: bring a mix to a loudness target under a true-peak ceiling.

A gain sets the loudness; an oversampled look-ahead limiter keeps the true peak under the ceiling.
Limiting lowers the loudness a little, so gain, limit and measure repeat until both hold.

The limiter works on the 4x-oversampled peak envelope of the input (computed once: scaling by a
gain scales the envelope too) and builds a smooth gain-reduction curve from it, in dB:
  1. needed reduction per sample,
  2. held over the look-ahead window (so reduction is in place before each peak arrives),
  3. released at a fixed rate in dB/s (the dB-linear release of broadcast limiters),
  4. smoothed by a moving average as long as the look-ahead window, which keeps every value at or
     above the needed reduction at each peak and turns steps into ramps (no clicks).
The loop estimates loudness from the K-weighted input and the gain curve (cheap), then checks the
real output with a full BS.1770 measurement and its true peak before returning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from musicd.audio.filters import sosfilt_guarded
from musicd.audio.loudness import (
    BLOCK_S,
    BLOCK_STEP_S,
    INTERPOLATOR_TAPS,
    OVERSAMPLING,
    amplitude_to_db,
    gated_loudness,
    integrated_lufs,
    k_weighting_sos,
    oversampled_peak_envelope,
    true_peak_at_db,
)
from musicd.audio.loudness import true_peak_db as measure_true_peak_db
from musicd.errors import RenderError

log = logging.getLogger(__name__)

SAFETY_MARGIN_DB = 0.2  # ceiling below the requested true peak: dither, other meters' interpolators
TOLERANCE_LU = 0.1  # aim this close to the target (the promise is +/-0.5 LU)
LOOKAHEAD_MS = 5.0
RELEASE_DB_PER_S = 60.0
# Limiter timings (release dB/s, look-ahead ms) tried in turn: the first that can reach the target
# wins. The slowest is transparent on dense material; sparse, peaky material (drum hits over
# silence) needs a faster limiter to gain loudness, the last ones acting almost like a soft clipper.
LIMITER_STAGES = ((RELEASE_DB_PER_S, LOOKAHEAD_MS), (300.0, 3.0), (1500.0, 1.5), (8000.0, 0.7))
MAX_ITERATIONS = 8  # per limiter stage and loudness check
_INTERPOLATOR_REACH = (INTERPOLATOR_TAPS - 1) // (2 * OVERSAMPLING)  # samples each side


@dataclass(frozen=True)
class MasterResult:
    """The mastered audio and what was done to it (for the manifest)."""

    audio: np.ndarray  # float32 (n, channels)
    gain_db: float  # make-up gain before the limiter
    limiter_reduction_db: float  # deepest gain reduction the limiter applied
    limited_fraction: float  # share of samples the limiter touched
    input_lufs: float
    integrated_lufs: float  # of the output, BS.1770
    true_peak_db: float  # of the output, 4x oversampled
    target_lufs: float
    true_peak_limit_db: float
    iterations: int
    reached_target: bool

    def summary(self) -> dict[str, float | int | bool | None]:
        """Plain numbers for the manifest."""
        return {
            "target_lufs": self.target_lufs,
            "true_peak_limit_db": self.true_peak_limit_db,
            "input_lufs": round(self.input_lufs, 2) if math.isfinite(self.input_lufs) else None,
            "integrated_lufs": round(self.integrated_lufs, 2)
            if math.isfinite(self.integrated_lufs)
            else None,
            "true_peak_db": round(self.true_peak_db, 2),
            "gain_db": round(self.gain_db, 2),
            "limiter_reduction_db": round(self.limiter_reduction_db, 2),
            "limited_fraction": round(self.limited_fraction, 4),
            "iterations": self.iterations,
            "reached_target": self.reached_target,
        }


def limiter_reduction_db(
    required_db: np.ndarray,
    sample_rate: int,
    lookahead_ms: float = LOOKAHEAD_MS,
    release_db_per_s: float = RELEASE_DB_PER_S,
) -> np.ndarray:
    """Smooth gain reduction (dB, >= 0) that is at least `required_db` at every sample."""
    window = max(2, int(round(lookahead_ms * 1e-3 * sample_rate)))
    required_db = np.asarray(required_db, dtype=np.float32)
    held = ndimage.maximum_filter1d(required_db, size=window, origin=-(window // 2), mode="constant")
    release_per_sample = release_db_per_s / sample_rate
    ramp = np.arange(held.size, dtype=np.float64) * release_per_sample
    # released[n] = max(held[n], released[n-1] - rate), as a running maximum of held[n] + n * rate
    released = (np.maximum.accumulate(held + ramp) - ramp).astype(np.float32)
    return ndimage.uniform_filter1d(released, size=window, origin=(window - 1) // 2, mode="nearest")


def _gain_curve(
    peak_envelope_db: np.ndarray,
    gain_db: float,
    ceiling_db: float,
    sample_rate: int,
    stage: tuple[float, float],
) -> tuple[np.ndarray | None, float, float]:
    """Limiter gain curve (linear, float32; None when nothing exceeds the ceiling), its deepest
    reduction in dB and the share of samples it touches."""
    required = peak_envelope_db + np.float32(gain_db - ceiling_db)
    if not np.any(required > 0):
        return None, 0.0, 0.0
    np.maximum(required, 0.0, out=required)
    release_db_per_s, lookahead_ms = stage
    reduction = limiter_reduction_db(required, sample_rate, lookahead_ms, release_db_per_s)
    curve = np.power(np.float32(10.0), reduction * np.float32(-1.0 / 20.0))
    return curve, float(reduction.max()), float(np.count_nonzero(reduction > 0.01) / reduction.size)


def _search_gain(
    estimator: _LoudnessEstimator,
    peak_envelope_db: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    gain_db: float,
    ceiling_db: float,
    stage: tuple[float, float],
    tolerance_lu: float,
    saturated_slope: float = 0.15,
) -> tuple[float, np.ndarray | None, float, float, float, int]:
    """Secant search for the gain whose limited output is estimated at `target_lufs`."""
    previous: tuple[float, float] | None = None
    best: tuple[float, np.ndarray | None, float, float, float, int] | None = None
    for step in range(1, MAX_ITERATIONS + 1):
        curve, reduction_db, limited = _gain_curve(peak_envelope_db, gain_db, ceiling_db, sample_rate, stage)
        estimate = estimator.lufs(curve, 10.0 ** (gain_db / 20.0))
        best = (gain_db, curve, reduction_db, limited, estimate, step)
        error = target_lufs - estimate
        if abs(error) <= tolerance_lu / 2 or not math.isfinite(estimate):
            break
        slope = 1.0
        if previous is not None and gain_db != previous[0]:
            slope = (estimate - previous[1]) / (gain_db - previous[0])
            if error > 0 and slope < saturated_slope:
                break  # more gain mostly means more limiting: the loudness is (nearly) saturated
            slope = min(1.0, max(0.05, slope))
        previous = (gain_db, estimate)
        gain_db += min(error / slope, 24.0)
    assert best is not None
    return best


def _limited_true_peak_db(
    output: np.ndarray, gain_curve: np.ndarray, peak_envelope: np.ndarray, ceiling_db: float
) -> float:
    """True peak of `output` = gain_curve * input, interpolating only where that can differ from
    gain_curve * (the input's oversampled peak envelope).

    Where the gain is constant across the interpolator's reach, the output's oversampled peak is
    exactly the gain times the input's; only samples near gain changes need their own
    interpolation, and only those close enough to the ceiling to matter.
    """
    estimate = peak_envelope * gain_curve
    reach = 2 * _INTERPOLATOR_REACH + 1
    changing = np.zeros(gain_curve.size, dtype=np.uint8)
    changing[1:] = gain_curve[1:] != gain_curve[:-1]
    near_change = ndimage.maximum_filter1d(changing, size=reach, mode="constant").astype(bool)
    worth_checking = near_change & (estimate > np.float32(10.0 ** ((ceiling_db - 6.0) / 20.0)))
    candidates = np.flatnonzero(worth_checking)
    if candidates.size > 0.25 * gain_curve.size:
        return measure_true_peak_db(output)
    return max(amplitude_to_db(float(estimate.max())), true_peak_at_db(output, candidates))


class _LoudnessEstimator:
    """Integrated loudness of `gain_curve * audio` from the K-weighted input, without re-filtering."""

    def __init__(self, audio: np.ndarray, sample_rate: int) -> None:
        weighted = sosfilt_guarded(k_weighting_sos(sample_rate), audio)
        self.energy = np.einsum("ij,ij->i", weighted, weighted)  # K-weighted power, channels summed
        self.step = int(round(BLOCK_STEP_S * sample_rate))
        self.per_block = int(round(BLOCK_S / BLOCK_STEP_S))
        self.n_steps = self.energy.size // self.step

    def lufs(self, gain_curve: np.ndarray | None, gain: float) -> float:
        if self.n_steps < self.per_block:
            return -math.inf
        usable = self.n_steps * self.step
        energy = self.energy[:usable]
        if gain_curve is not None:
            energy = energy * np.square(gain_curve[:usable])
        step_energy = energy.reshape(self.n_steps, self.step).sum(axis=1, dtype=np.float64)
        powers = np.convolve(step_energy, np.ones(self.per_block), mode="valid") / (
            self.per_block * self.step
        )
        return gated_loudness(powers * gain * gain)


def master(
    mix: np.ndarray,
    sample_rate: int,
    target_lufs: float = -14.0,
    true_peak_db: float = -1.0,
    *,
    safety_margin_db: float = SAFETY_MARGIN_DB,
    tolerance_lu: float = TOLERANCE_LU,
) -> MasterResult:
    """Gain + oversampled true-peak limiting to `target_lufs` (+/-0.5 LU) and <= `true_peak_db` dBTP.

    Silence (or audio under 400 ms) cannot be brought to a loudness: it is returned unchanged with
    reached_target False.
    """
    audio = np.asarray(mix, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise RenderError("The mix to master is empty or contains non-finite samples.")
    ceiling_db = true_peak_db - safety_margin_db
    peak_envelope = oversampled_peak_envelope(audio)
    with np.errstate(divide="ignore"):
        peak_envelope_db = np.float32(20.0) * np.log10(peak_envelope)
    estimator = _LoudnessEstimator(audio, sample_rate)
    input_lufs = estimator.lufs(None, 1.0)
    if not math.isfinite(input_lufs):
        log.warning("mix is silent or shorter than 400 ms: mastering leaves it unchanged")
        return MasterResult(
            audio,
            0.0,
            0.0,
            0.0,
            input_lufs,
            input_lufs,
            measure_true_peak_db(audio),
            target_lufs,
            true_peak_db,
            0,
            False,
        )

    gain_db = target_lufs - input_lufs
    iterations = 0
    correction = 0.0  # estimator error, as measured on the real output
    stages = iter(LIMITER_STAGES)
    stage = next(stages)
    first_guess_db = gain_db
    measured = peak_db = -math.inf
    output = audio
    curve, reduction_db, limited = None, 0.0, 0.0
    for _check in range(10):
        gain_db, curve, reduction_db, limited, raw_estimate, steps = _search_gain(
            estimator,
            peak_envelope_db,
            sample_rate,
            target_lufs - correction,
            gain_db,
            ceiling_db,
            stage,
            tolerance_lu,
            0.15 if stage != LIMITER_STAGES[-1] else 0.02,
        )
        iterations += steps
        out_of_reach = abs(target_lufs - correction - raw_estimate) > tolerance_lu
        if out_of_reach:
            faster = next(stages, None)
            if faster is not None:
                # Sparse peaks: a slow limiter pins each hit to the ceiling and caps the loudness.
                log.debug("%.1f LUFS out of reach with limiter %s; trying %s", target_lufs, stage, faster)
                stage, correction = faster, 0.0
                if not math.isfinite(raw_estimate) or raw_estimate < target_lufs - 12.0:
                    gain_db = first_guess_db  # far off: start the faster limiter afresh
                continue
        gain = np.float32(10.0 ** (gain_db / 20.0))
        if curve is None:  # plain gain: loudness and true peak move by exactly gain_db
            output = audio * gain
            measured = input_lufs + gain_db
            peak_db = float(amplitude_to_db(float(peak_envelope.max())) + gain_db)
        else:
            output = audio * (curve * gain)[:, None]
            measured = integrated_lufs(output, sample_rate)
            peak_db = _limited_true_peak_db(output, curve * gain, peak_envelope, ceiling_db)
        if peak_db > true_peak_db - safety_margin_db / 2:
            ceiling_db -= peak_db - ceiling_db  # the limiter fell short of its ceiling: aim lower
        elif abs(measured - target_lufs) <= tolerance_lu or out_of_reach:
            break  # on target, or as close as the fastest limiter gets
        correction = measured - raw_estimate
    reached = abs(measured - target_lufs) <= 0.5 and peak_db <= true_peak_db
    if not reached:
        log.warning(
            "could not master to %.1f LUFS under %.1f dBTP: reached %.2f LUFS, %.2f dBTP "
            "(the material's crest factor leaves no room without clipping)",
            target_lufs,
            true_peak_db,
            measured,
            peak_db,
        )
    log.info(
        "mastered to %.2f LUFS (target %.1f), true peak %.2f dBTP (limit %.1f): gain %+.2f dB, "
        "limiter up to %.2f dB on %.1f%% of samples, %d iterations",
        measured,
        target_lufs,
        peak_db,
        true_peak_db,
        gain_db,
        reduction_db,
        100 * limited,
        iterations,
    )
    return MasterResult(
        audio=np.ascontiguousarray(output, dtype=np.float32),
        gain_db=gain_db,
        limiter_reduction_db=reduction_db,
        limited_fraction=limited,
        input_lufs=input_lufs,
        integrated_lufs=measured,
        true_peak_db=peak_db,
        target_lufs=target_lufs,
        true_peak_limit_db=true_peak_db,
        iterations=iterations,
        reached_target=reached,
    )


__all__ = ["MasterResult", "master", "limiter_reduction_db", "amplitude_to_db"]
