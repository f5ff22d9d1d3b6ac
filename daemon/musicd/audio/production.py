"""Production by genre, applied per stem (so the stems still add up to the mix).

- Punchy drums: a transient shaper that lifts the attack of each hit (dynamics.transient_shaper_gain)
  and a parallel-compression send (a hard-compressed copy of the drums blended back under them,
  "New York" compression), the drums stem brought back to its own level afterwards.
- Tape saturation and a dusty low-passed top for lofi and hip-hop, a 12-bit sampler's grit on
  hip-hop's drums and chopped chords, the country guitars' twang, stereo width for the wide
  synth genres.
The bus EQ (MixProfile.bus_low_shelf / bus_high_shelf, set in the genre table) runs in each stem's
EQ in the mix (audio/mixing.py); the sidechain pump of house, techno, trance and the other
four-on-the-floor genres is the mix's kick-triggered duck (StemMix.duck_db): it follows the kick
the score plays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter

from musicd.audio.dynamics import (
    PEAK_BLOCK,
    block_peaks,
    gated_rms_db,
    peak_compressor_gain,
    transient_shaper_gain,
)
from musicd.audio.filters import rbj_biquad, sosfilt_guarded


@dataclass(frozen=True)
class Production:
    """What one genre's production does to its stems."""

    tape_drive: float = 0.0  # tanh saturation (0 = off)
    top_lowpass_hz: float = 0.0  # a gentle low-pass on the whole record (0 = off)
    width: dict[str, float] | None = None  # stem -> side gain (1 = as is, >1 wider)
    sampler: frozenset[str] = frozenset()  # stems through a 12-bit, 26 kHz sampler (SP-1200 grit)
    presence: dict[str, float] | None = None  # stem -> high-shelf dB above 2.5 kHz (twang, bite)
    punch_db: float = 0.0  # transient shaper: attack boost on the drums (0 = off)
    parallel: float = 0.0  # parallel compression: share of the crushed drums blended back (0 = off)


PRODUCTION: dict[str, Production] = {
    # dusty: tape, a low-passed top, a warm low end; soft drums get body, not attack
    "lofi": Production(tape_drive=0.35, top_lowpass_hz=7500.0, parallel=0.3),
    "hip-hop": Production(
        tape_drive=0.25,
        top_lowpass_hz=12000.0,
        sampler=frozenset({"drums", "chords"}),
        punch_db=4.0,
        parallel=0.2,
    ),
    "trap": Production(punch_db=3.0, parallel=0.3),
    "techno": Production(
        width={"chords": 1.2, "arp": 1.2},
        punch_db=3.0,
        parallel=0.4,
    ),
    "house": Production(punch_db=3.0, parallel=0.3),
    # deep house: a warm, rounded record; the top rolled off a little
    "deep-house": Production(punch_db=1.5, parallel=0.25),
    "trance": Production(
        width={"chords": 1.4, "pads": 1.3, "melody": 1.15},
        punch_db=2.0,
        parallel=0.3,
    ),
    "drum-and-bass": Production(punch_db=4.0, parallel=0.4),
    "dubstep": Production(punch_db=3.0, parallel=0.4),
    "synthwave": Production(
        width={"chords": 1.3, "pads": 1.3, "arp": 1.2},
        punch_db=2.0,
        parallel=0.3,
    ),
    "ambient": Production(),
    "chillout": Production(parallel=0.2),
    "pop": Production(punch_db=2.0, parallel=0.25),
    "rock": Production(punch_db=2.0, parallel=0.4),
    "funk": Production(punch_db=3.0, parallel=0.3),
    "disco": Production(punch_db=2.0, parallel=0.25),
    "soul": Production(punch_db=1.5, parallel=0.2),
    "rnb": Production(punch_db=2.5, parallel=0.15),
    "jazz": Production(),
    "blues": Production(parallel=0.2),
    "bossa-nova": Production(),
    # roots reggae: heavy bass, a warm top, the rimshot's crack
    "reggae": Production(punch_db=3.0, parallel=0.1),
    "afrobeat": Production(punch_db=2.0, parallel=0.2),
    "folk": Production(),
    "country": Production(presence={"chords": 4.0, "arp": 3.0, "melody": 2.0}),
    "cinematic": Production(),
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
    return sosfilt_guarded(sos, audio).astype(audio.dtype, copy=False)


def lowpass_top(audio: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    return sosfilt_guarded(_lowpass_top_sos(cutoff_hz, sample_rate), audio).astype(audio.dtype, copy=False)


def _lowpass_top_sos(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    return np.asarray(butter(2, min(cutoff_hz, 0.45 * sample_rate) / (sample_rate / 2), output="sos"))


PARALLEL_THRESHOLD_DB = -6.0  # the crushed copy's threshold, relative to the drums' gated RMS
PARALLEL_RATIO = 8.0
PARALLEL_ATTACK_MS = 0.5
PARALLEL_RELEASE_MS = 90.0


def _level_db(audio: np.ndarray, sample_rate: int) -> float:
    """Gated RMS (dB) from every LEVEL_STRIDE-th frame: a level to match, at a quarter of the cost."""
    return gated_rms_db(audio[::LEVEL_STRIDE], sample_rate // LEVEL_STRIDE)


LEVEL_STRIDE = 4


def punch(audio: np.ndarray, sample_rate: int, attack_db: float, parallel: float) -> np.ndarray:
    """Punchy drums: the transient shaper lifts each hit's attack by up to `attack_db`, then a
    parallel-compression send blends `parallel` of a hard-compressed (8:1, fast) copy back under
    it; the result keeps the stem's gated RMS, so the mix balance holds and only the shape
    changes (harder attacks over a denser body). Both are gain curves on the dry stem, summed and
    levelled first, so the stem is multiplied once."""
    if attack_db == 0.0 and parallel <= 0.0:
        return audio
    audio = np.asarray(audio, dtype=np.float32)
    level_db = _level_db(audio, sample_rate)
    if not math.isfinite(level_db):
        return audio
    peaks = block_peaks(audio, PEAK_BLOCK)
    gain = (
        transient_shaper_gain(audio, sample_rate, attack_db, peaks=peaks)
        if attack_db
        else np.ones(audio.shape[0], np.float32)
    )
    if parallel > 0.0:
        crushed = peak_compressor_gain(
            audio,
            sample_rate,
            level_db + PARALLEL_THRESHOLD_DB,
            PARALLEL_RATIO,
            knee_db=6.0,
            attack_ms=PARALLEL_ATTACK_MS,
            release_ms=PARALLEL_RELEASE_MS,
            peaks=peaks,
        )
        crushed_db = _level_db(audio * crushed[:, None], sample_rate)
        if math.isfinite(crushed_db):  # the send at the dry stem's level, then `parallel` of it
            gain += crushed * np.float32(parallel * 10.0 ** ((level_db - crushed_db) / 20.0))
    out_db = _level_db(audio * gain[:, None], sample_rate)
    if math.isfinite(out_db):
        gain *= np.float32(10.0 ** ((level_db - out_db) / 20.0))
    return audio * gain[:, None]


def widen(audio: np.ndarray, side_gain: float) -> np.ndarray:
    """Mid/side width: the side signal scaled by `side_gain` (1 leaves it unchanged)."""
    if side_gain == 1.0 or audio.ndim != 2 or audio.shape[1] != 2:
        return audio
    mid = 0.5 * (audio[:, 0] + audio[:, 1])
    side = 0.5 * (audio[:, 0] - audio[:, 1]) * side_gain
    return np.stack([mid + side, mid - side], axis=1).astype(audio.dtype, copy=False)


def pump_rate_hz(envelope: np.ndarray, sample_rate: int, lo_hz: float = 0.5, hi_hz: float = 8.0) -> float:
    """The strongest periodicity of a level envelope, in Hz (how fast something pumps)."""
    env = envelope - envelope.mean()
    spectrum = np.abs(np.fft.rfft(env * np.hanning(len(env))))
    freqs = np.fft.rfftfreq(len(env), 1.0 / sample_rate)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    return float(freqs[band][np.argmax(spectrum[band])])


def produce(stems: Mapping[str, np.ndarray], genre: str, sample_rate: int) -> dict[str, np.ndarray]:
    """The genre's production applied to each stem (new arrays where anything changes; the
    stems are processed two at a time, as scipy's filters release the GIL)."""
    prod = PRODUCTION.get(genre)
    if prod is None:
        return dict(stems)

    def one(name: str, audio: np.ndarray) -> np.ndarray:
        if name in SKIP_STEMS:
            return audio
        x = audio
        if name == "drums" and (prod.punch_db or prod.parallel):
            x = punch(x, sample_rate, prod.punch_db, prod.parallel)
        if name in prod.sampler:
            x = sampler(np.asarray(x, dtype=np.float32), sample_rate)
        if prod.tape_drive:
            x = tape_saturate(np.asarray(x, dtype=np.float32), prod.tape_drive)
        # the linear filters, one cascade: presence, the dusty top
        sections = []
        if prod.presence and name in prod.presence:
            sections.append(rbj_biquad("highshelf", PRESENCE_HZ, sample_rate, prod.presence[name])[None, :])
        if prod.top_lowpass_hz:
            sections.append(_lowpass_top_sos(prod.top_lowpass_hz, sample_rate))
        if sections:
            x = sosfilt_guarded(np.concatenate(sections), x)
        if prod.width and name in prod.width:
            x = widen(x, prod.width[name])
        return x

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(one, stems.keys(), stems.values()))
    return dict(zip(stems.keys(), done))


def stereo_width(audio: np.ndarray) -> float:
    """Side-to-mid RMS ratio (0 = mono)."""
    mid = 0.5 * (audio[:, 0] + audio[:, 1])
    side = 0.5 * (audio[:, 0] - audio[:, 1])
    return float(math.sqrt(float(np.mean(side**2)) / max(float(np.mean(mid**2)), 1e-20)))
