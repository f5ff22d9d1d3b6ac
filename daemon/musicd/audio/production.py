"""Production by genre, applied per stem (so the stems still add up to the mix).

- Punchy drums: a transient shaper that lifts the attack of each hit (dynamics.transient_shaper_gain)
  and a parallel-compression send (a hard-compressed copy of the drums blended back under them,
  "New York" compression), the drums stem brought back to its own level afterwards.
- A bus EQ: a first-order low shelf and high shelf (a gentle tilt) as one biquad, the same on every
  instrument stem, so the sum of the stems is the equalised bus.
- Tape saturation and a dusty low-passed top for lofi and hip-hop, a 12-bit sampler's grit on
  hip-hop's drums and chopped chords, the country guitars' twang, stereo width for the wide
  synth genres.
The sidechain pump of house, techno, trance and the other four-on-the-floor genres is the mix's
kick-triggered duck (audio/mixing.py, StemMix.duck_db): it follows the kick the score plays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.signal import bilinear_zpk, butter, zpk2sos

from musicd.audio.dynamics import gated_rms_db, peak_compressor_gain, transient_shaper_gain
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
    bus_low: tuple[float, float] = (0.0, 0.0)  # bus EQ low shelf (Hz, dB)
    bus_high: tuple[float, float] = (0.0, 0.0)  # bus EQ high shelf (Hz, dB)


PRODUCTION: dict[str, Production] = {
    # dusty: tape, a low-passed top, a warm low end; soft drums get body, not attack
    "lofi": Production(tape_drive=0.35, top_lowpass_hz=7500.0, parallel=0.3, bus_low=(120.0, 1.5)),
    "hip-hop": Production(
        tape_drive=0.25,
        top_lowpass_hz=12000.0,
        sampler=frozenset({"drums", "chords"}),
        punch_db=4.0,
        parallel=0.35,
        bus_low=(90.0, 2.0),
    ),
    "trap": Production(punch_db=3.0, parallel=0.3, bus_low=(70.0, 2.5), bus_high=(10000.0, 1.5)),
    "techno": Production(
        width={"chords": 1.2, "arp": 1.2},
        punch_db=3.0,
        parallel=0.4,
        bus_low=(80.0, 1.5),
        bus_high=(9000.0, 1.0),
    ),
    "house": Production(punch_db=3.0, parallel=0.3, bus_low=(90.0, 1.5), bus_high=(10000.0, 1.5)),
    # deep house: a warm, rounded record; the top rolled off a little
    "deep-house": Production(punch_db=1.5, parallel=0.25, bus_low=(100.0, 1.5), bus_high=(7000.0, -2.0)),
    "trance": Production(
        width={"chords": 1.4, "pads": 1.3, "melody": 1.15},
        punch_db=2.0,
        parallel=0.3,
        bus_low=(80.0, 1.0),
        bus_high=(10000.0, 2.0),
    ),
    "drum-and-bass": Production(punch_db=4.0, parallel=0.4, bus_low=(60.0, 2.0), bus_high=(10000.0, 1.5)),
    "dubstep": Production(punch_db=3.0, parallel=0.4, bus_low=(60.0, 2.5), bus_high=(9000.0, 1.0)),
    "synthwave": Production(
        width={"chords": 1.3, "pads": 1.3, "arp": 1.2},
        punch_db=2.0,
        parallel=0.3,
        bus_low=(100.0, 1.0),
        bus_high=(9000.0, 1.5),
    ),
    "ambient": Production(bus_high=(8000.0, -1.5)),
    "chillout": Production(parallel=0.2, bus_low=(120.0, 1.0), bus_high=(8000.0, -1.5)),
    "pop": Production(punch_db=2.0, parallel=0.25, bus_low=(80.0, 1.0), bus_high=(10000.0, 2.0)),
    "rock": Production(punch_db=2.0, parallel=0.4, bus_high=(5000.0, 1.0)),
    "funk": Production(punch_db=3.0, parallel=0.3, bus_low=(100.0, 1.0), bus_high=(8000.0, 1.0)),
    "disco": Production(punch_db=2.0, parallel=0.25, bus_low=(90.0, 1.0), bus_high=(10000.0, 2.0)),
    "soul": Production(punch_db=1.5, parallel=0.2, bus_low=(150.0, 1.5), bus_high=(9000.0, -1.0)),
    "rnb": Production(punch_db=2.0, parallel=0.25, bus_low=(70.0, 2.0), bus_high=(10000.0, 1.5)),
    "jazz": Production(bus_low=(150.0, 0.5), bus_high=(9000.0, -1.0)),
    "blues": Production(parallel=0.2, bus_low=(150.0, 1.0), bus_high=(8000.0, -1.5)),
    "bossa-nova": Production(bus_high=(9000.0, -1.0)),
    # roots reggae: heavy bass, a warm top, the rimshot's crack
    "reggae": Production(punch_db=2.0, parallel=0.2, bus_low=(100.0, 3.0), bus_high=(8000.0, -1.5)),
    "afrobeat": Production(punch_db=2.0, parallel=0.2, bus_low=(100.0, 1.0), bus_high=(8000.0, 1.0)),
    "folk": Production(bus_low=(120.0, -1.0), bus_high=(8000.0, 1.0)),
    "country": Production(presence={"chords": 4.0, "arp": 3.0, "melody": 2.0}, bus_high=(8000.0, 1.0)),
    "cinematic": Production(bus_low=(60.0, 1.5), bus_high=(10000.0, 1.0)),
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


PARALLEL_THRESHOLD_DB = -6.0  # the crushed copy's threshold, relative to the drums' gated RMS
PARALLEL_RATIO = 8.0
PARALLEL_ATTACK_MS = 0.5
PARALLEL_RELEASE_MS = 90.0


def punch(audio: np.ndarray, sample_rate: int, attack_db: float, parallel: float) -> np.ndarray:
    """Punchy drums: the transient shaper lifts each hit's attack by up to `attack_db`, then a
    parallel-compression send blends `parallel` of a hard-compressed (8:1, fast) copy back under
    it; the result keeps the stem's gated RMS, so the mix balance holds and only the shape
    changes (harder attacks over a denser body)."""
    audio = np.asarray(audio, dtype=np.float32)
    level_db = gated_rms_db(audio, sample_rate)
    if not math.isfinite(level_db) or (attack_db == 0.0 and parallel <= 0.0):
        return audio
    out = audio * transient_shaper_gain(audio, sample_rate, attack_db)[:, None] if attack_db else audio.copy()
    if parallel > 0.0:
        crushed = peak_compressor_gain(
            audio,
            sample_rate,
            level_db + PARALLEL_THRESHOLD_DB,
            PARALLEL_RATIO,
            knee_db=6.0,
            attack_ms=PARALLEL_ATTACK_MS,
            release_ms=PARALLEL_RELEASE_MS,
        )
        crushed_db = gated_rms_db(audio * crushed[:, None], sample_rate)
        if math.isfinite(crushed_db):  # the send at the dry stem's level, then `parallel` of it
            send = np.float32(parallel * 10.0 ** ((level_db - crushed_db) / 20.0))
            out += audio * (crushed * send)[:, None]
    out_db = gated_rms_db(out, sample_rate)
    if math.isfinite(out_db):
        out *= np.float32(10.0 ** ((level_db - out_db) / 20.0))
    return out


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
    bus = bus_eq_sos(prod.bus_low, prod.bus_high, sample_rate)

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
        # the linear filters, one cascade: presence, the dusty top, the bus EQ
        sections = []
        if prod.presence and name in prod.presence:
            sections.append(rbj_biquad("highshelf", PRESENCE_HZ, sample_rate, prod.presence[name])[None, :])
        if prod.top_lowpass_hz:
            sections.append(_lowpass_top_sos(prod.top_lowpass_hz, sample_rate))
        if bus is not None:
            sections.append(bus)
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
