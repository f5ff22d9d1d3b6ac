"""Production by genre, applied per stem (so the stems still add up to the mix): tape
saturation and a dusty low-passed top for lofi and hip-hop, stereo width for the wide synth
genres, and a tempo-synced sidechain pump curve (house, techno and trance pump from their kick
in audio/mixing.py; `pump_gain` is the same shape locked to the beat, for stems without one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt


@dataclass(frozen=True)
class Production:
    """What one genre's production does to its stems."""

    tape_drive: float = 0.0  # tanh saturation (0 = off)
    top_lowpass_hz: float = 0.0  # a gentle low-pass on the whole record (0 = off)
    width: dict[str, float] | None = None  # stem -> side gain (1 = as is, >1 wider)


PRODUCTION: dict[str, Production] = {
    "lofi": Production(tape_drive=0.35, top_lowpass_hz=7500.0),
    "hip-hop": Production(tape_drive=0.25, top_lowpass_hz=12000.0),
    "trance": Production(width={"chords": 1.4, "pads": 1.3, "melody": 1.15}),
    "synthwave": Production(width={"chords": 1.3, "pads": 1.3, "arp": 1.2}),
    "techno": Production(width={"chords": 1.2, "arp": 1.2}),
}
SKIP_STEMS = frozenset({"vocals"})


def tape_saturate(audio: np.ndarray, drive: float) -> np.ndarray:
    """Soft tanh saturation that leaves quiet passages alone and rounds the peaks; level-matched
    for small signals."""
    if drive <= 0:
        return audio
    k = 1.0 + 4.0 * drive
    return (np.tanh(k * audio) / k).astype(audio.dtype, copy=False)


def lowpass_top(audio: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    sos = butter(2, min(cutoff_hz, 0.45 * sample_rate) / (sample_rate / 2), output="sos")
    return sosfilt(sos, audio, axis=0).astype(audio.dtype, copy=False)


def widen(audio: np.ndarray, side_gain: float) -> np.ndarray:
    """Mid/side width: the side signal scaled by `side_gain` (1 leaves it unchanged)."""
    if side_gain == 1.0 or audio.ndim != 2 or audio.shape[1] != 2:
        return audio
    mid = 0.5 * (audio[:, 0] + audio[:, 1])
    side = 0.5 * (audio[:, 0] - audio[:, 1]) * side_gain
    return np.stack([mid + side, mid - side], axis=1).astype(audio.dtype, copy=False)


def pump_gain(
    length: int, sample_rate: int, tempo_bpm: float, depth_db: float, beats_per_pump: float = 1.0
) -> np.ndarray:
    """A sidechain pump locked to the tempo: down by `depth_db` on every `beats_per_pump` beat,
    recovering along a smooth curve before the next one."""
    period = 60.0 / tempo_bpm * beats_per_pump
    phase = (np.arange(length) / sample_rate / period) % 1.0
    recovery = 1.0 - np.exp(-phase * 6.0)  # most of the way back by mid-beat
    floor = 10.0 ** (-abs(depth_db) / 20.0)
    return (floor + (1.0 - floor) * recovery).astype(np.float32)


def pump_rate_hz(envelope: np.ndarray, sample_rate: int, lo_hz: float = 0.5, hi_hz: float = 8.0) -> float:
    """The strongest periodicity of a level envelope, in Hz (how fast something pumps)."""
    env = envelope - envelope.mean()
    spectrum = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    freqs = np.fft.rfftfreq(len(env), 1.0 / sample_rate)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    return float(freqs[band][np.argmax(spectrum[band])])


def produce(stems: Mapping[str, np.ndarray], genre: str, sample_rate: int) -> dict[str, np.ndarray]:
    """The genre's production applied to each stem (new arrays where anything changes)."""
    prod = PRODUCTION.get(genre)
    if prod is None:
        return dict(stems)
    out: dict[str, np.ndarray] = {}
    for name, audio in stems.items():
        if name in SKIP_STEMS:
            out[name] = audio
            continue
        x = audio
        if prod.tape_drive:
            x = tape_saturate(np.asarray(x, dtype=np.float32), prod.tape_drive)
        if prod.top_lowpass_hz:
            x = lowpass_top(x, prod.top_lowpass_hz, sample_rate)
        if prod.width and name in prod.width:
            x = widen(x, prod.width[name])
        out[name] = x
    return out


def stereo_width(audio: np.ndarray) -> float:
    """Side-to-mid RMS ratio (0 = mono)."""
    mid = 0.5 * (audio[:, 0] + audio[:, 1])
    side = 0.5 * (audio[:, 0] - audio[:, 1])
    return float(math.sqrt(float(np.mean(side**2)) / max(float(np.mean(mid**2)), 1e-20)))
