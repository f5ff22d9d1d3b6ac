"""Stem processing and summing: gain, constant-power pan, EQ and sidechain ducking per stem.

EQ uses the RBJ biquads of musicd.audio.filters (high-pass and low-pass at Q 0.707, shelves at
200 Hz and 6 kHz with slope 1) and the genre's bus EQ (a first-order low and high shelf in one
biquad, the same on every stem, so the stems sum to the equalised bus), run as one
second-order-sections cascade per stem. Ducking lowers
a stem by StemMix.duck_db at each trigger time (the kick onsets) and lets it recover exponentially
with the profile's release time; the dip ramps in over a few milliseconds just before the trigger,
so it is in place when the kick lands and never clicks.

Dynamics (musicd.audio.dynamics): the stems named in MixProfile.transient_stems (the drums) go through
a look-ahead peak compressor whose threshold sits a set number of dB above the stem's own gated
RMS, so their loudest hits no longer set the master limiter's work; `mix_bus` sums the stems and
runs a glue compressor over the sum, applying its (linked) gain to every stem as well, so the
stems still add up exactly to the mix that goes to mastering.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.signal import bilinear_zpk, zpk2sos

from musicd.audio.dynamics import gated_rms_db, glue_compressor_gain, peak_compressor_gain
from musicd.audio.filters import rbj_biquad, sosfilt_guarded
from musicd.errors import RenderError
from musicd.music.profiles import MixProfile, StemMix

log = logging.getLogger(__name__)

LOW_SHELF_HZ = 200.0
HIGH_SHELF_HZ = 6000.0
DUCK_ATTACK_MS = 5.0
_THREADS = 2  # sosfilt releases the GIL: two stems filter at once


def bus_eq_sos(low: tuple[float, float], high: tuple[float, float], sample_rate: int) -> np.ndarray | None:
    """A first-order low shelf and a first-order high shelf ((Hz, dB) each, 0 dB = none) as one
    biquad: a gentle, Baxandall-like tilt, half its gain at each corner frequency. None when flat."""
    zeros: list[float] = []
    poles: list[float] = []
    gain = 1.0
    for (freq_hz, gain_db), kind in ((low, "low"), (high, "high")):
        if gain_db == 0.0:
            continue
        root = 10.0 ** (gain_db / 40.0)  # sqrt of the linear gain
        # pre-warped corner, so the digital shelf's midpoint sits at freq_hz
        corner = 2.0 * sample_rate * math.tan(math.pi * min(freq_hz, 0.45 * sample_rate) / sample_rate)
        if kind == "low":  # (s + w*root) / (s + w/root): root**2 at DC, 1 at the top
            zeros.append(-corner * root)
            poles.append(-corner / root)
        else:  # root**2 * (s + w/root) / (s + w*root): 1 at DC, root**2 at the top
            zeros.append(-corner / root)
            poles.append(-corner * root)
            gain *= root**2
    if not zeros:
        return None
    z, p, k = bilinear_zpk(np.array(zeros), np.array(poles), gain, fs=sample_rate)
    return np.asarray(zpk2sos(z, p, k))


def stem_eq_sos(stem: StemMix, sample_rate: int, bus: np.ndarray | None = None) -> np.ndarray | None:
    """The stem's EQ (and the bus EQ's sections, when given) as second-order sections, or None
    when it has none."""
    sections = [] if bus is None else list(bus)
    if stem.highpass_hz > 0:
        sections.append(rbj_biquad("highpass", stem.highpass_hz, sample_rate))
    if stem.lowpass_hz > 0:
        sections.append(rbj_biquad("lowpass", stem.lowpass_hz, sample_rate))
    if stem.low_shelf_db != 0:
        sections.append(rbj_biquad("lowshelf", LOW_SHELF_HZ, sample_rate, stem.low_shelf_db))
    if stem.high_shelf_db != 0:
        sections.append(rbj_biquad("highshelf", HIGH_SHELF_HZ, sample_rate, stem.high_shelf_db))
    return np.array(sections) if sections else None


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power (sin/cos) pan law, -1 hard left .. +1 hard right, unity at centre.

    L^2 + R^2 = 2 at every position: a centred stem keeps its level and a hard-panned one
    keeps its power (+3 dB on its side).
    """
    theta = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    return math.sqrt(2.0) * math.cos(theta), math.sqrt(2.0) * math.sin(theta)


def duck_gain(
    n_samples: int,
    sample_rate: int,
    trigger_times_s: Sequence[float],
    depth_db: float,
    release_ms: float,
    attack_ms: float = DUCK_ATTACK_MS,
) -> np.ndarray:
    """Sidechain gain curve (linear, float32): -depth_db at each trigger, recovering exponentially.

    The reduction ramps in linearly over attack_ms before each trigger and then decays with time
    constant release_ms (to 37 % of the depth after release_ms). Overlapping dips keep the deeper.
    """
    gain = np.ones(n_samples, dtype=np.float32)
    depth = abs(depth_db)
    triggers = np.unique(
        np.round(np.asarray(trigger_times_s, dtype=np.float64) * sample_rate).astype(np.int64)
    )
    triggers = triggers[(triggers >= 0) & (triggers < n_samples)]
    if depth == 0 or triggers.size == 0 or n_samples == 0:
        return gain
    release_samples = max(release_ms * 1e-3 * sample_rate, 1.0)
    attack_samples = max(int(round(attack_ms * 1e-3 * sample_rate)), 1)
    # The dip, from attack_samples before the trigger until its reduction is under 0.001 dB.
    tail = int(math.ceil(release_samples * math.log(max(depth / 0.001, 1.0)))) + 1
    reduction = np.concatenate(
        [
            depth * np.arange(1, attack_samples + 1) / attack_samples,  # ends at full depth on the trigger
            depth * np.exp(-np.arange(1, tail) / release_samples),
        ]
    )
    dip = np.power(10.0, -reduction / 20.0).astype(np.float32)
    for trigger in triggers.tolist():
        start = trigger - attack_samples + 1
        lo, hi = max(start, 0), min(start + dip.size, n_samples)
        np.minimum(gain[lo:hi], dip[lo - start : hi - start], out=gain[lo:hi])
    return gain


def as_stereo(audio: np.ndarray) -> np.ndarray:
    """(n, 2) float32 from mono (n,) / (n, 1) or stereo audio."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] not in (1, 2):
        raise RenderError(f"Stems must be mono or stereo (n, 2) arrays, not shape {audio.shape}.")
    return np.repeat(audio, 2, axis=1) if audio.shape[1] == 1 else audio


def process_stem(
    audio: np.ndarray,
    stem: StemMix,
    sample_rate: int,
    duck: np.ndarray | None = None,
    bus: np.ndarray | None = None,
) -> np.ndarray:
    """EQ (its own and the bus EQ's `bus` sections), gain and pan one stem (and duck it when given
    a gain curve); returns a new float32 array."""
    audio = as_stereo(audio)
    sos = stem_eq_sos(stem, sample_rate, bus)
    out = sosfilt_guarded(sos, audio) if sos is not None else np.array(audio, copy=True)  # keeps layout
    level = 10.0 ** (stem.gain_db / 20.0)
    left, right = pan_gains(stem.pan)
    out[:, 0] *= np.float32(level * left)
    out[:, 1] *= np.float32(level * right)
    if duck is not None:
        out *= duck[: out.shape[0], None]
    return out


def control_transients(audio: np.ndarray, profile: MixProfile, sample_rate: int) -> np.ndarray:
    """The stem through the profile's transient compressor, scaled in place and returned.

    The threshold sits transient_threshold_db above the stem's gated RMS, and a make-up gain
    restores that RMS afterwards: the stem keeps its level in the mix and loses only peak.
    """
    level_db = gated_rms_db(audio, sample_rate)
    if profile.transient_ratio <= 1.0 or not math.isfinite(level_db):
        return audio
    gain = peak_compressor_gain(
        audio,
        sample_rate,
        level_db + profile.transient_threshold_db,
        profile.transient_ratio,
        profile.transient_knee_db,
        profile.transient_attack_ms,
        profile.transient_release_ms,
    )
    audio *= gain[:, None]
    compressed_db = gated_rms_db(audio, sample_rate)
    if math.isfinite(compressed_db):
        audio *= np.float32(10.0 ** ((level_db - compressed_db) / 20.0))
    return audio


def glue_gain(mix: np.ndarray, profile: MixProfile, sample_rate: int) -> np.ndarray | None:
    """The glue compressor's gain curve (linear, float32, (n,)) for a summed mix, threshold
    relative to its gated RMS; None when the glue is off or never acts."""
    level_db = gated_rms_db(mix, sample_rate)
    if profile.glue_ratio <= 1.0 or not math.isfinite(level_db):
        return None
    gain = glue_compressor_gain(
        mix,
        sample_rate,
        level_db + profile.glue_threshold_db,
        profile.glue_ratio,
        profile.glue_knee_db,
        profile.glue_attack_ms,
        profile.glue_release_ms,
        profile.glue_auto_release_ms,
    )
    return gain if gain.min() < 1.0 else None


def glue(mix: np.ndarray, profile: MixProfile, sample_rate: int) -> np.ndarray:
    """The summed mix through the profile's glue compressor (a new float32 (n, 2) array)."""
    mix = as_stereo(mix)
    gain = glue_gain(mix, profile, sample_rate)
    return mix * gain[:, None] if gain is not None else mix.copy()


def mix_bus(
    stems: Mapping[str, np.ndarray], profile: MixProfile, sample_rate: int, *, in_place: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sum the stems and glue the sum; returns (the stems with the glue's gain, the glued mix).

    The glue's gain is one curve for the whole bus, so the returned stems add up exactly to the
    returned mix. With in_place, float32 stereo stems (as mix_stems returns them) are scaled in
    place instead of copied: cheaper, for a caller that owns them.
    """
    mix = sum_stems(stems)
    gain = glue_gain(mix, profile, sample_rate)
    glued = {name: as_stereo(audio) for name, audio in stems.items()}
    if gain is not None:
        for name, audio in glued.items():
            if in_place:
                audio *= gain[: audio.shape[0], None]
            else:
                glued[name] = audio * gain[: audio.shape[0], None]
        mix *= gain[:, None]
    return glued, mix


def mix_stems(
    stems: Mapping[str, np.ndarray], profile: MixProfile, sample_rate: int, duck_times_s: Sequence[float] = ()
) -> dict[str, np.ndarray]:
    """Process every stem by its StemMix in `profile` and the profile's bus EQ (and the profile's
    transient control for its transient_stems); the mix is the sum of the returned stems (see
    `mix_bus`).

    Stems may differ in length (layers from other stages): all come back padded to the longest.
    duck_times_s are the sidechain triggers (e.g. kick onsets) for stems with a duck_db.
    """
    if not stems:
        raise RenderError("There are no stems to mix.")
    prepared = {name: as_stereo(audio) for name, audio in stems.items()}
    length = max(a.shape[0] for a in prepared.values())
    bus = bus_eq_sos(profile.bus_low_shelf, profile.bus_high_shelf, sample_rate)
    ducks: dict[float, np.ndarray] = {}
    for name in prepared:
        depth = profile.stem(name).duck_db
        if depth and len(duck_times_s) and depth not in ducks:
            ducks[depth] = duck_gain(length, sample_rate, duck_times_s, depth, profile.duck_release_ms)

    def run(name: str) -> np.ndarray:
        stem = profile.stem(name)
        audio = prepared[name]
        if audio.shape[0] < length:
            audio = np.concatenate([audio, np.zeros((length - audio.shape[0], 2), np.float32)])
        out = process_stem(audio, stem, sample_rate, ducks.get(stem.duck_db), bus)
        return control_transients(out, profile, sample_rate) if name in profile.transient_stems else out

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        processed = dict(zip(prepared, pool.map(run, prepared)))
    return processed


def sum_stems(stems: Mapping[str, np.ndarray]) -> np.ndarray:
    """The sum of equally long stems (float32, (n, 2))."""
    arrays = [as_stereo(a) for a in stems.values()]
    if not arrays:
        raise RenderError("There are no stems to sum.")
    total = np.zeros((max(a.shape[0] for a in arrays), 2), dtype=np.float32)
    for audio in arrays:
        total[: audio.shape[0]] += audio
    return total
