"""Fit generated audio to the song: whole bars at the planned tempo, exactly the song's length.

Audio at least as long as the song is trimmed (the song's end is a bar line) with a short
fade. Shorter audio is time-stretched (phase vocoder, pitch kept) to the nearest whole
number of bars and looped with equal-power crossfades, so every repeat starts on a bar.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

TEXTURE_PEAK_DBFS = -12.0


def bar_seconds(tempo_bpm: float, meter: tuple[int, int]) -> float:
    numerator, denominator = meter
    return numerator * (4.0 / denominator) * 60.0 / tempo_bpm


def db_to_gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def normalize_peak(audio: np.ndarray, peak_dbfs: float = TEXTURE_PEAK_DBFS) -> np.ndarray:
    """Scale so the highest sample sits at `peak_dbfs`; silence stays silence."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-9:
        return audio.astype(np.float32)
    return (audio * (db_to_gain(peak_dbfs) / peak)).astype(np.float32)


def as_stereo(audio: np.ndarray) -> np.ndarray:
    """(n,) or (n, 1) or (n, 2) -> float32 (n, 2)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    return np.ascontiguousarray(audio[:, :2])


def time_stretch(audio: np.ndarray, rate: float, n_fft: int = 2048) -> np.ndarray:
    """Phase-vocoder time stretch of (n, channels): rate > 1 shortens, pitch unchanged."""
    if abs(rate - 1.0) < 1e-4:
        return audio.copy()
    hop = n_fft // 4
    out_channels = []
    for channel in audio.T:
        _, _, spec = signal.stft(channel, nperseg=n_fft, noverlap=n_fft - hop, boundary="even", padded=True)
        steps = np.arange(0, spec.shape[1] - 1, rate)
        expected = 2 * np.pi * hop * np.arange(spec.shape[0]) / n_fft
        phase = np.angle(spec[:, 0])
        frames = np.empty((spec.shape[0], len(steps)), dtype=np.complex128)
        for i, step in enumerate(steps):
            left = int(step)
            frac = step - left
            a, b = spec[:, left], spec[:, left + 1]
            frames[:, i] = ((1 - frac) * np.abs(a) + frac * np.abs(b)) * np.exp(1j * phase)
            delta = np.angle(b) - np.angle(a) - expected
            delta -= 2 * np.pi * np.round(delta / (2 * np.pi))
            phase = phase + expected + delta
        _, stretched = signal.istft(frames, nperseg=n_fft, noverlap=n_fft - hop, boundary=True)
        out_channels.append(stretched)
    length = int(round(audio.shape[0] / rate))
    result = np.stack(out_channels, axis=1)[:length]
    if result.shape[0] < length:
        result = np.pad(result, ((0, length - result.shape[0]), (0, 0)))
    return result.astype(np.float32)


def fade_edges(
    audio: np.ndarray, sample_rate: int, fade_in_s: float = 0.01, fade_out_s: float = 0.05
) -> np.ndarray:
    audio = audio.copy()
    n_in = min(len(audio), int(fade_in_s * sample_rate))
    n_out = min(len(audio), int(fade_out_s * sample_rate))
    if n_in:
        audio[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)[:, None]
    if n_out:
        audio[-n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)[:, None]
    return audio


def loop_to_length(segment: np.ndarray, n_samples: int, crossfade: int) -> np.ndarray:
    """Repeat `segment` back to back (each repeat starts one segment length later) to n_samples.

    The tail past each repeat's start (up to `crossfade` samples) fades out under the next one.
    """
    period = len(segment) - crossfade if crossfade else len(segment)
    period = max(period, 1)
    out = np.zeros((n_samples + len(segment), segment.shape[1]), dtype=np.float32)
    fade_in = np.sqrt(np.linspace(0.0, 1.0, crossfade, dtype=np.float32))[:, None] if crossfade else None
    fade_out = np.sqrt(np.linspace(1.0, 0.0, crossfade, dtype=np.float32))[:, None] if crossfade else None
    start = 0
    first = True
    while start < n_samples:
        piece = segment.copy()
        if crossfade:
            if not first:
                piece[:crossfade] *= fade_in
            piece[-crossfade:] *= fade_out
        out[start : start + len(piece)] += piece
        start += period
        first = False
    return out[:n_samples]


def fit_to_bars(
    audio: np.ndarray,
    sample_rate: int,
    tempo_bpm: float,
    meter: tuple[int, int],
    n_samples: int,
    crossfade_s: float = 0.25,
) -> np.ndarray:
    """(n, 2) audio of any length -> exactly n_samples, repeats aligned to whole bars."""
    audio = as_stereo(audio)
    if len(audio) >= n_samples:
        return fade_edges(audio[:n_samples], sample_rate)
    bar = bar_seconds(tempo_bpm, meter)
    crossfade = int(crossfade_s * sample_rate)
    # The loop period (segment minus its crossfade tail) becomes a whole number of bars.
    usable_s = max(len(audio) - crossfade, 1) / sample_rate
    bars = max(1, int(round(usable_s / bar)))
    target = int(round(bars * bar * sample_rate)) + crossfade
    segment = time_stretch(audio, len(audio) / target)
    segment = segment[:target]
    if len(segment) < target:
        segment = np.pad(segment, ((0, target - len(segment)), (0, 0)))
    return fade_edges(loop_to_length(segment, n_samples, crossfade), sample_rate)
