"""A short convolution room for the stems rendered in numpy (synth voices, drum machines).

FluidSynth's stems carry their own reverb return (its per-channel effects units); the stems
synthesized here would sound dry beside them. `room_reverb` adds the same send to them: the
wet signal is the stem convolved with a seeded, exponentially decaying stereo noise impulse
whose length follows the genre's room size and whose top darkens faster than its body (the
room's damping). It runs at a quarter of the sample rate (a room's tail has little above
5 kHz) with overlap-add FFT convolution, so a minute of stereo costs a few tens of ms.
The return is added into the stem itself, so the stems still add up to the mix.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.signal import lfilter, oaconvolve

from musicd.music.profiles import ReverbProfile

DECIMATE = 4  # the wet path runs at sample_rate / DECIMATE
WET_GAIN = 1.4  # matches FluidSynth's return at the same send and level by ear and by RMS
PRE_DELAY_S = 0.012


def decay_s(room_size: float) -> float:
    """RT60 of the room, seconds: a small room 0.5 s .. a hall 2.6 s."""
    return 0.5 + 2.1 * min(max(room_size, 0.0), 1.0)


@lru_cache(maxsize=16)
def impulse(room_size: float, damping: float, width: float, rate: int) -> np.ndarray:
    """The room's (2, n) impulse response at `rate`, unit energy per channel; fixed per room."""
    rt60 = decay_s(room_size)
    n = int(rt60 * rate * 2 / 3)  # down to -40 dB: the rest is under the music
    t = np.arange(n) / rate
    rng = np.random.default_rng(91)  # the room is the same every time: no per-job randomness
    noise = rng.standard_normal((2, n))
    mid = 0.5 * (noise[0] + noise[1])
    side = 0.5 * (noise[0] - noise[1]) * min(max(width, 0.0), 1.0)
    noise = np.vstack([mid + side, mid - side])
    # the top decays faster than the body: split at ~1.5 kHz with a one-pole low-pass
    alpha = math.exp(-2.0 * math.pi * 1500.0 / rate)
    low = lfilter([1.0 - alpha], [1.0, -alpha], noise, axis=-1)
    high = noise - low
    body = np.exp(-6.91 * t / rt60)
    top = np.exp(-6.91 * t / (rt60 * (1.0 - 0.75 * min(max(damping, 0.0), 1.0))))
    ir = low * body + high * top
    ir[:, : int(PRE_DELAY_S * rate)] = 0.0
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
    return ir.astype(np.float32)


def room_reverb(audio: np.ndarray, send: float, room: ReverbProfile, sample_rate: int) -> np.ndarray:
    """The room's return at `send` (0..1) times the room's level added to `audio` (n, 2)
    float32 in place; returns `audio`. No send: returned as is."""
    gain = send * room.level * WET_GAIN
    if gain <= 0 or len(audio) < DECIMATE * 4:
        return audio
    n = len(audio) - len(audio) % DECIMATE
    rate = sample_rate // DECIMATE
    ir = impulse(round(room.room_size, 3), round(room.damping, 3), round(room.width, 3), rate)
    # the stem's mono sum, box-filtered down to `rate` (enough before a dark room)
    low = audio[:n].reshape(-1, 2 * DECIMATE).sum(axis=1, dtype=np.float32)
    wet = oaconvolve(low[None, :], ir * np.float32(gain / (2 * DECIMATE)), axes=-1)[:, : len(low)]
    # back up to the full rate by linear interpolation (the images sit far above the tail's top)
    here = np.ascontiguousarray(wet.T)[:, None, :]  # (frames, 1, 2)
    step = np.concatenate([here[1:], here[-1:]]) - here
    frac = (np.arange(DECIMATE, dtype=np.float32) / DECIMATE)[None, :, None]
    view = audio[:n].reshape(-1, DECIMATE, 2)
    view += here
    view += step * frac
    return audio
