"""Production by genre, applied per stem (so the stems still add up to the mix): tape
saturation and a dusty low-passed top for lofi and hip-hop (and a 12-bit sampler's grit on
hip-hop's drums and chopped chords), the country guitars' twang, stereo width for the wide synth
genres, and a tempo-synced sidechain pump curve (house, techno and trance pump from their kick
in audio/mixing.py; `pump_gain` is the same shape locked to the beat, for stems without one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from musicd.audio.filters import rbj_biquad


@dataclass(frozen=True)
class Production:
    """What one genre's production does to its stems."""

    tape_drive: float = 0.0  # tanh saturation (0 = off)
    top_lowpass_hz: float = 0.0  # a gentle low-pass on the whole record (0 = off)
    width: dict[str, float] | None = None  # stem -> side gain (1 = as is, >1 wider)
    sampler: frozenset[str] = frozenset()  # stems through a 12-bit, 26 kHz sampler (SP-1200 grit)
    presence: dict[str, float] | None = None  # stem -> high-shelf dB above 2.5 kHz (twang, bite)


PRODUCTION: dict[str, Production] = {
    "lofi": Production(tape_drive=0.35, top_lowpass_hz=7500.0),
    "hip-hop": Production(tape_drive=0.25, top_lowpass_hz=12000.0, sampler=frozenset({"drums", "chords"})),
    "country": Production(presence={"chords": 4.0, "arp": 3.0, "melody": 2.0}),
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


SAMPLER_RATE_HZ = 26040.0  # the E-mu SP-1200's rate
SAMPLER_BITS = 12
PRESENCE_HZ = 2500.0


def sampler(
    audio: np.ndarray, sample_rate: int, rate_hz: float = SAMPLER_RATE_HZ, bits: int = SAMPLER_BITS
) -> np.ndarray:
    """An early sampler's grit: sample-and-hold at `rate_hz` (its aliasing) and `bits` of
    resolution over full scale."""
    n = len(audio)
    held = (np.floor(np.arange(n) * (rate_hz / sample_rate)) * (sample_rate / rate_hz)).astype(np.int64)
    steps = float(2 ** (bits - 1))
    out = audio[np.minimum(held, n - 1)]
    return (np.round(out * steps) / steps).astype(audio.dtype, copy=False)


def presence(audio: np.ndarray, gain_db: float, sample_rate: int) -> np.ndarray:
    """A high shelf above PRESENCE_HZ: the pick's attack and the steel strings' twang."""
    sos = np.array([rbj_biquad("highshelf", PRESENCE_HZ, sample_rate, gain_db)])
    return sosfilt(sos, audio, axis=0).astype(audio.dtype, copy=False)


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
        if name in prod.sampler:
            x = sampler(np.asarray(x, dtype=np.float32), sample_rate)
        if prod.tape_drive:
            x = tape_saturate(np.asarray(x, dtype=np.float32), prod.tape_drive)
        if prod.presence and name in prod.presence:
            x = presence(np.asarray(x, dtype=np.float32), prod.presence[name], sample_rate)
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
