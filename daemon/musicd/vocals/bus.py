"""The vocal bus: high-pass, gentle compression, presence lift, a genre's reverb and delay, and a
level that sits on top of the mix. Everything is numpy/scipy and deterministic.

Only the sung passages are processed: the dry take is cut into windows (each run of singing plus
the reverb and delay tail; runs closer than a tail share a window), the windows are processed
back to back as one signal and put back in place. Between windows the signal is silent for at
least a tail, so the filters, the compressor and the reverb start each window at rest: the result
is the same as processing the whole take. The filters (musicd.audio.filters, denormal-guarded)
and the compressor (the mix bus's, musicd.audio.dynamics) are the mix's own. The reverb is an
overlap-add FFT convolution (float32) with a synthetic impulse response made and transformed once
per (length, sample rate), i.e. once per genre, and cached.

Each singer gets its own treatment (SingerSpace) so that it sits in the track rather than on
top of it: a tone EQ (a cut in the boxy low mids, its own presence), an exciter that puts back
the top octave a band-limited voice lacks (Piper renders at 22.05 kHz, MBROLA at 16 kHz: nothing
above 11 or 8 kHz, against instruments that reach 20 kHz), more or less room, and a level set on
the sung passages' loudness rather than their peak (singers with different crest factors end up
equally loud). Backing voices (chorus doubles and harmonies, musicd.vocals.backing) come in
panned and go through the same chain and the same room as the lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal
from scipy.fft import irfft, next_fast_len, rfft
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from musicd.audio.dynamics import GLUE_BLOCK, glue_compressor_gain
from musicd.audio.filters import first_order_lowpass, rbj_biquad, sosfilt_guarded

HIGHPASS_HZ = 100.0
PRESENCE_HZ = 4000.0
PRESENCE_DB = 2.5
PRESENCE_Q = 0.8
COMP_THRESHOLD_DB = -12.0  # dBFS sample peak of the dry take
COMP_RATIO = 3.0
COMP_KNEE_DB = 6.0
COMP_ATTACK_MS = 10.0
COMP_RELEASE_MS = 100.0
VOCAL_LEVEL_DBFS = -18.0  # RMS of the sung passages (dry path), before genre and singer trims
VOCAL_PEAK_DBFS = -1.0  # the stem's ceiling before the mix (stems sum at unity)
LIMIT_HOLD_S = 0.003  # the peak limiter's reach either side of a peak
LEVEL_WINDOW_S = 0.05  # the loudness envelope's time constant
LEVEL_GATE_DB = -30.0  # samples this far under the loudest count as between phrases
EXCITER_HZ = 3000.0  # the band the exciter saturates...
EXCITER_OUT_HZ = 7000.0  # ...and the harmonics it keeps
EXCITER_DRIVE = 4.0
IR_SEED = 20240611
IR_PREDELAY_S = 0.02
IR_LOW_CUT_HZ = 200.0
IR_CROSSOVER_HZ = 1500.0  # below: the full decay; above: twice as fast
IR_BRIGHT_HZ = 6000.0  # the reverb's top end
ACTIVE_LEVEL = 1e-6  # samples quieter than this count as silence
COMP_BLOCK = GLUE_BLOCK  # samples per compressor level reading; windows align to it


@dataclass(frozen=True)
class VocalSpace:
    """How wet the vocal sits: reverb length and level, and a tempo-synced delay; and how far
    forward (level and presence on top of the bus's)."""

    reverb_s: float
    reverb_wet: float
    delay_beats: float  # 0 = no delay
    delay_wet: float
    delay_feedback: float
    level_db: float = 0.0
    presence_db: float = 0.0


@dataclass(frozen=True)
class SingerSpace:
    """A singer's own treatment on the vocal bus (see the module's docstring)."""

    gain_db: float  # level trim after loudness matching
    mud_db: float  # peaking cut or lift at MUD_HZ
    presence_db: float  # added to the bus's presence lift
    exciter_mix: float  # 0 = none; the saturated top band's level against the dry voice
    reverb_scale: float  # times the genre's reverb and delay sends


MUD_HZ = 300.0
MUD_Q = 1.0
SINGER_SPACES: dict[str, SingerSpace] = {
    # Measured on one 60 s pop take each (bench/bench_vocals.py --bus): long-term spectrum
    # share per band and sung loudness at the old -3 dBFS peak level.
    # espeak-ng's formant voice has the most 2-5 kHz (buzz): a little less presence, no exciter.
    "espeak": SingerSpace(gain_db=0.0, mud_db=0.0, presence_db=-1.0, exciter_mix=0.0, reverb_scale=1.0),
    # MBROLA's diphones (16 kHz: nothing above 8 kHz) are fundamental-heavy and thin at 2-5 kHz:
    # the low mids come down, presence and the top octave come up, a bit more room.
    "mbrola": SingerSpace(gain_db=0.0, mud_db=-2.0, presence_db=3.0, exciter_mix=0.3, reverb_scale=1.15),
    # Piper's neural voice is a close, dry speaking voice, 8 dB short of espeak at 2-5 kHz, with
    # nothing above 11 kHz and 5 dB quieter for its peak: presence and air come back and the
    # room matches the band's (loudness matching brings the level up).
    "piper": SingerSpace(gain_db=0.0, mud_db=-1.5, presence_db=3.0, exciter_mix=0.2, reverb_scale=1.2),
    "coqui": SingerSpace(gain_db=0.0, mud_db=-1.0, presence_db=1.5, exciter_mix=0.1, reverb_scale=1.1),
}
DEFAULT_SINGER_SPACE = SingerSpace(0.0, 0.0, 0.0, 0.0, 1.0)


def singer_space(singer: str | None) -> SingerSpace:
    """The treatment for `singer` (a registry name; several joined by + take the first)."""
    name = (singer or "").split("+")[0]
    return SINGER_SPACES.get(name, DEFAULT_SINGER_SPACE)


@dataclass(frozen=True)
class BackingVoice:
    """A backing part for the bus: mono audio as long as the lead, its pan (-1 left .. 1 right)
    and its level against the lead."""

    audio: np.ndarray
    pan: float
    gain_db: float

    def gains(self) -> tuple[float, float]:
        """(left, right) amplitude: the balance law (centre keeps unity on both sides)."""
        level = 10 ** (self.gain_db / 20)
        return level * min(1.0, 1.0 - self.pan), level * min(1.0, 1.0 + self.pan)


DEFAULT_SPACE = VocalSpace(1.4, 0.16, 0.0, 0.0, 0.0)
GENRE_SPACES: dict[str, VocalSpace] = {
    "ambient": VocalSpace(3.5, 0.35, 0.75, 0.18, 0.45),
    "cinematic": VocalSpace(3.0, 0.3, 0.0, 0.0, 0.0),
    "lofi": VocalSpace(1.2, 0.14, 0.5, 0.1, 0.3),
    "synthwave": VocalSpace(2.2, 0.22, 0.75, 0.16, 0.4),
    "house": VocalSpace(1.6, 0.18, 0.75, 0.14, 0.35),
    "techno": VocalSpace(1.8, 0.18, 0.75, 0.14, 0.35),
    "trance": VocalSpace(2.6, 0.25, 0.75, 0.18, 0.45),
    "pop": VocalSpace(1.5, 0.15, 0.5, 0.08, 0.25),
    "rock": VocalSpace(1.3, 0.12, 0.0, 0.0, 0.0),
    "hip-hop": VocalSpace(0.8, 0.08, 0.0, 0.0, 0.0),
    "trap": VocalSpace(1.0, 0.1, 0.5, 0.08, 0.25),
    "jazz": VocalSpace(1.6, 0.16, 0.0, 0.0, 0.0),
    "blues": VocalSpace(1.4, 0.14, 0.0, 0.0, 0.0),
    "folk": VocalSpace(1.2, 0.12, 0.0, 0.0, 0.0),
    "country": VocalSpace(1.2, 0.12, 0.0, 0.0, 0.0),
    "reggae": VocalSpace(1.4, 0.14, 0.75, 0.16, 0.4),
    "funk": VocalSpace(1.0, 0.1, 0.0, 0.0, 0.0),
    # soul and rnb put the voice up front: louder, more presence, a shorter and drier room.
    "rnb": VocalSpace(1.2, 0.1, 0.5, 0.05, 0.2, level_db=2.0, presence_db=1.5),
    "soul": VocalSpace(1.1, 0.09, 0.0, 0.0, 0.0, level_db=2.0, presence_db=1.5),
    "disco": VocalSpace(1.5, 0.15, 0.5, 0.1, 0.3),
    "deep-house": VocalSpace(2.0, 0.2, 0.75, 0.16, 0.4),
    "drum-and-bass": VocalSpace(1.6, 0.16, 0.75, 0.12, 0.35),
    "dubstep": VocalSpace(1.8, 0.18, 0.75, 0.14, 0.35),
    "chillout": VocalSpace(2.4, 0.24, 0.75, 0.15, 0.4),
    "bossa-nova": VocalSpace(1.2, 0.12, 0.0, 0.0, 0.0),
    "afrobeat": VocalSpace(1.2, 0.12, 0.5, 0.08, 0.25),
}


def vocal_space(genres: Sequence[str]) -> VocalSpace:
    for genre in genres:
        if genre in GENRE_SPACES:
            return GENRE_SPACES[genre]
    return DEFAULT_SPACE


@lru_cache(maxsize=32)
def reverb_ir(sample_rate: int, length_s: float) -> np.ndarray:
    """A synthetic stereo room (float32 (n, 2), read-only, cached): a short pre-delay, then
    decorrelated decaying noise whose highs die away twice as fast as its lows (darker as it
    fades, as in a real room), -60 dB at `length_s`, unit energy per channel. No lows below
    200 Hz: they would only muddy the mix."""
    rng = np.random.default_rng(IR_SEED)
    n = int(length_s * sample_rate)
    t = np.arange(n) / sample_rate
    noise = sosfilt_guarded(rbj_biquad("highpass", IR_LOW_CUT_HZ, sample_rate), rng.standard_normal((n, 2)))
    low = sosfilt_guarded(rbj_biquad("lowpass", IR_CROSSOVER_HZ, sample_rate), noise)
    high = sosfilt_guarded(first_order_lowpass(IR_BRIGHT_HZ, sample_rate), noise - low)
    decay = -6.9 * t / length_s  # ln(10 ** (-60 / 20)) = -6.9: -60 dB at length_s
    ir = low * np.exp(decay)[:, None] + high * np.exp(2.0 * decay)[:, None]
    ir = np.concatenate([np.zeros((int(IR_PREDELAY_S * sample_rate), 2)), ir])
    ir /= np.sqrt(np.sum(ir**2, axis=0, keepdims=True))
    ir = ir.astype(np.float32)
    ir.flags.writeable = False
    return ir


@dataclass(frozen=True)
class ReverbKernel:
    """The impulse response's spectrum for block convolution (overlap-add)."""

    ir_len: int
    fft_size: int
    spectrum: np.ndarray  # complex64 (2, fft_size // 2 + 1), one row per channel

    @property
    def block(self) -> int:
        """Input samples per block: each block's output spills into the next one only."""
        return self.fft_size - self.ir_len + 1


@lru_cache(maxsize=32)
def reverb_kernel(sample_rate: int, length_s: float) -> ReverbKernel:
    """The room of `reverb_ir`, transformed once (blocks of about the IR's own length)."""
    ir = reverb_ir(sample_rate, length_s)
    fft_size = next_fast_len(2 * len(ir), real=True)
    spectrum = rfft(ir, fft_size, axis=0).T.astype(np.complex64)
    spectrum.flags.writeable = False
    return ReverbKernel(len(ir), fft_size, spectrum)


def _reverb(dry: np.ndarray, kernel: ReverbKernel) -> np.ndarray:
    """`dry` (float32) through the room: (2, len(dry)) float32, overlap-add FFT convolution
    with the cached spectrum (only the signal's blocks are transformed per call)."""
    block, n = kernel.block, len(dry)
    blocks = -(-n // block)
    padded = np.zeros(blocks * block, np.float32)
    padded[:n] = dry
    spectra = rfft(padded.reshape(blocks, block), kernel.fft_size, axis=1)
    out = np.zeros((2, (blocks + 1) * block), np.float32)
    spill = kernel.fft_size - block
    for channel in range(2):
        wet = irfft(spectra * kernel.spectrum[channel], kernel.fft_size, axis=1)
        out[channel, : blocks * block] += wet[:, :block].ravel()
        later = out[channel, block:].reshape(blocks, block)
        later[:, :spill] += wet[:, block:]
    return out[:, :n]


def _add_delay(
    stereo: np.ndarray,
    dry: np.ndarray,
    sample_rate: int,
    delay_s: float,
    feedback: float,
    wet: float,
    repeats: int = 4,
) -> None:
    """Add ping-pong echoes of `dry` to `stereo` (2, n) in place."""
    step = int(delay_s * sample_rate)
    for k in range(1, repeats + 1):
        shift = k * step
        if shift >= len(dry):
            break
        stereo[k % 2, shift:] += dry[: len(dry) - shift] * np.float32(wet * feedback ** (k - 1))


def process_vocal_bus(
    audio: np.ndarray,
    sample_rate: int,
    genres: Sequence[str],
    tempo_bpm: float = 120.0,
    *,
    singer: str | None = None,
    backing: Sequence[BackingVoice] = (),
) -> np.ndarray:
    """The vocal stem (float32 (n, 2), same length as `audio`) ready to sum into the mix:
    the lead (centred) and any `backing` voices (panned) through `singer`'s treatment and the
    genre's space."""
    mono = np.asarray(audio, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=1, dtype=np.float32)
    dry = mono  # without backing the dry path stays mono (half the filtering)
    if backing:
        dry = np.repeat(mono[:, None], 2, axis=1)
        for part in backing:
            left, right = part.gains()
            dry[:, 0] += np.float32(left) * part.audio[: len(mono)]
            dry[:, 1] += np.float32(right) * part.audio[: len(mono)]
    out = np.zeros((len(mono), 2), np.float32)
    space = vocal_space(genres)
    tail = int(
        (space.reverb_s + IR_PREDELAY_S + 4 * space.delay_beats * 60.0 / tempo_bpm + 0.1) * sample_rate
    )
    windows = sung_windows(dry if dry.ndim == 1 else dry.mean(axis=1), tail)
    if not windows:
        return out
    wet = _process(
        np.concatenate([dry[a:b] for a, b in windows]),
        sample_rate,
        space,
        tempo_bpm,
        singer_space(singer),
        lead=np.concatenate([mono[a:b] for a, b in windows]) if backing else None,
    )
    offset = 0
    for a, b in windows:
        out[a:b] = wet[offset : offset + b - a]
        offset += b - a
    return out


def sung_windows(mono: np.ndarray, tail: int) -> list[tuple[int, int]]:
    """(start, end) sample spans: each run of sound plus `tail` samples, runs closer than `tail`
    merged, clipped to the audio's length; the edges fall on compressor blocks, so that the
    windows put back to back read the level exactly as the whole take would."""
    active = np.flatnonzero(np.abs(mono) > ACTIVE_LEVEL)
    if active.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(active) > tail)
    starts = np.concatenate([active[:1], active[breaks + 1]]) // COMP_BLOCK * COMP_BLOCK
    ends = np.concatenate([active[breaks], active[-1:]]) + 1 + tail
    ends = np.minimum(-(-ends // COMP_BLOCK) * COMP_BLOCK, len(mono))
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def _process(
    dry: np.ndarray,
    sample_rate: int,
    space: VocalSpace,
    tempo_bpm: float,
    voice: SingerSpace = DEFAULT_SINGER_SPACE,
    lead: np.ndarray | None = None,
) -> np.ndarray:
    """The bus over one stretch of audio, mono (n,) or stereo (n, 2) dry: (n, 2) float32, the
    sung passages at VOCAL_LEVEL_DBFS plus the genre's and singer's trims (measured on `lead`
    when backing voices are mixed into `dry`: they add on top of the lead's level), peaks held
    at VOCAL_PEAK_DBFS."""
    highpass = rbj_biquad("highpass", HIGHPASS_HZ, sample_rate)
    dry = sosfilt_guarded(highpass, np.asarray(dry, np.float32))
    gain = glue_compressor_gain(
        dry if dry.ndim == 1 else dry.mean(axis=1),
        sample_rate,
        COMP_THRESHOLD_DB,
        COMP_RATIO,
        COMP_KNEE_DB,
        COMP_ATTACK_MS,
        COMP_RELEASE_MS,
        auto_release_ms=0.0,  # a slow memory would carry from one sung window into the next
    )
    dry = _tone(dry * (gain if dry.ndim == 1 else gain[:, None]), sample_rate, space, voice)
    if lead is not None:
        level_from = _tone(sosfilt_guarded(highpass, lead) * gain, sample_rate, space, voice)
    else:
        level_from = dry if dry.ndim == 1 else dry.mean(axis=1)
    level_db = VOCAL_LEVEL_DBFS + space.level_db + voice.gain_db
    dry *= np.float32(10 ** (level_db / 20) / _sung_rms(level_from, sample_rate))
    send = dry if dry.ndim == 1 else dry.mean(axis=1)
    stereo = _reverb(send, reverb_kernel(sample_rate, space.reverb_s))
    stereo *= np.float32(space.reverb_wet * voice.reverb_scale)
    stereo += dry if dry.ndim == 1 else dry.T
    if space.delay_beats > 0:
        _add_delay(
            stereo,
            send,
            sample_rate,
            space.delay_beats * 60.0 / tempo_bpm,
            space.delay_feedback,
            space.delay_wet * voice.reverb_scale,
        )
    return _limit(stereo, sample_rate).T


def _tone(dry: np.ndarray, sample_rate: int, space: VocalSpace, voice: SingerSpace) -> np.ndarray:
    """The singer's low-mid EQ, the presence lift (bus + genre + singer) and the exciter."""
    if voice.mud_db:
        dry = sosfilt_guarded(rbj_biquad("peaking", MUD_HZ, sample_rate, voice.mud_db, MUD_Q), dry)
    presence_db = PRESENCE_DB + space.presence_db + voice.presence_db
    dry = sosfilt_guarded(rbj_biquad("peaking", PRESENCE_HZ, sample_rate, presence_db, PRESENCE_Q), dry)
    if voice.exciter_mix > 0:
        dry += _excite(dry, sample_rate, voice.exciter_mix)
    return dry


def _limit(stereo: np.ndarray, sample_rate: int) -> np.ndarray:
    """`stereo` (2, n) with its peaks held at VOCAL_PEAK_DBFS: the gain each sample needs, held
    over LIMIT_HOLD_S either side and smoothed within that reach (so never above what a sample
    in reach needs): only the few ms around a peak come down. A neural take's crest factor
    (20 dB for Piper) would otherwise set the whole voice's level by its loudest plosive."""
    ceiling = 10 ** (VOCAL_PEAK_DBFS / 20)
    peak = np.max(np.abs(stereo), axis=0)
    if float(peak.max(initial=0.0)) <= ceiling:
        return stereo
    hold = max(1, int(LIMIT_HOLD_S * sample_rate))
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    held = minimum_filter1d(need, 2 * hold + 1, mode="nearest")
    gain = np.minimum(uniform_filter1d(held, hold, mode="nearest"), need)
    return stereo * gain.astype(np.float32)


def _excite(dry: np.ndarray, sample_rate: int, mix: float) -> np.ndarray:
    """The top octave a band-limited voice lacks: its 3 kHz-up band through a soft clipper,
    of which only the new harmonics above 7 kHz are kept, at `mix` of the band's level."""
    band = sosfilt_guarded(rbj_biquad("highpass", EXCITER_HZ, sample_rate), dry)
    scale = float(np.max(np.abs(band))) or 1.0
    driven = np.tanh(EXCITER_DRIVE * band / scale) * np.float32(scale / EXCITER_DRIVE)
    top = sosfilt_guarded(rbj_biquad("highpass", EXCITER_OUT_HZ, sample_rate), driven)
    top = sosfilt_guarded(rbj_biquad("highpass", EXCITER_OUT_HZ, sample_rate), top)
    return top * np.float32(mix * EXCITER_DRIVE)


def _sung_rms(mid: np.ndarray, sample_rate: int) -> float:
    """RMS of the sung passages of `mid`: samples whose smoothed level is within LEVEL_GATE_DB
    of the loudest; silences and fading tails do not count."""
    power = mid.astype(np.float64) ** 2
    pole = float(np.exp(-1.0 / (LEVEL_WINDOW_S * sample_rate)))
    smooth = signal.lfilter([1 - pole], [1, -pole], power)
    active = smooth > smooth.max() * 10 ** (LEVEL_GATE_DB / 10)
    return float(np.sqrt(np.mean(power[active]))) if np.any(active) else 1.0
