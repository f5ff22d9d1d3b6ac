"""Riffusion's spectrogram images <-> audio, in numpy/scipy.

Riffusion (SD 1.5 fine-tuned on spectrograms) draws a 512-bin mel spectrogram as an image:
44.1 kHz audio, hop 441 samples (10 ms, one pixel column), Hann window 4410 samples
(100 ms) zero-padded to an FFT of 17640 (400 ms), 512 HTK mel bins over 0-10 kHz,
magnitudes scaled to the image by a power of 0.25 and inverted (loud is dark), low
frequencies at the bottom. A 512-px-wide image is 5.12 s.

Back to audio: the mel filterbank's pseudo-inverse (least squares, clipped at zero) gives
linear magnitudes, then Griffin-Lim (fast variant, momentum 0.99) recovers the phase.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

RIFFUSION_MAX_VALUE = 30e6  # magnitude that full black maps to (Riffusion's convention)


@dataclass(frozen=True)
class SpectrogramParams:
    sample_rate: int = 44100
    hop_length: int = 441
    win_length: int = 4410
    n_fft: int = 17640
    n_mels: int = 512
    f_min_hz: float = 0.0
    f_max_hz: float = 10000.0
    power_for_image: float = 0.25
    griffin_lim_iters: int = 32

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def width_to_seconds(self, width_px: int) -> float:
        return width_px * self.hop_length / self.sample_rate


RIFFUSION_PARAMS = SpectrogramParams()


def hz_to_mel_htk(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz_htk(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=4)
def mel_filterbank(params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """(n_mels, n_freqs) triangular HTK filters without area normalisation (as torchaudio's)."""
    all_freqs = np.linspace(0.0, params.sample_rate / 2, params.n_freqs)
    mel_points = np.linspace(
        hz_to_mel_htk(params.f_min_hz), hz_to_mel_htk(params.f_max_hz), params.n_mels + 2
    )
    f_pts = mel_to_hz_htk(mel_points)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).T.astype(np.float32)


@functools.lru_cache(maxsize=4)
def mel_pseudo_inverse(params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """(n_freqs, n_mels): the minimum-norm least-squares inverse of the filterbank.

    The filters are linearly independent (their Gram matrix is well conditioned), so
    pinv(F) = F^T (F F^T)^-1, which avoids an SVD of the 512 x 8821 matrix.
    """
    bank = mel_filterbank(params).astype(np.float64)
    gram = bank @ bank.T
    gram[np.diag_indices_from(gram)] += 1e-9 * np.trace(gram) / len(gram)
    return np.linalg.solve(gram, bank).T.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _window(params: SpectrogramParams) -> np.ndarray:
    """A periodic Hann window of win_length, centred in n_fft zeros (as torch.stft pads it)."""
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(params.win_length) / params.win_length)
    window = np.zeros(params.n_fft, dtype=np.float32)
    left = (params.n_fft - params.win_length) // 2
    window[left : left + params.win_length] = hann
    return window


def stft(audio: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """Complex (n_freqs, frames) of a mono signal, centred frames with reflect padding."""
    pad = params.n_fft // 2
    padded = np.pad(np.asarray(audio, dtype=np.float32), pad, mode="reflect")
    n_frames = 1 + (len(padded) - params.n_fft) // params.hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, params.n_fft)[:: params.hop_length][:n_frames]
    return sfft.rfft(frames * _window(params), axis=1, workers=-1).T.astype(np.complex64)


def istft(spec: np.ndarray, length: int, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """Inverse of stft() by weighted overlap-add; `length` samples."""
    window = _window(params)
    frames = sfft.irfft(spec.T, n=params.n_fft, axis=1, workers=-1).astype(np.float32) * window
    n_frames = frames.shape[0]
    total = params.n_fft + params.hop_length * (n_frames - 1)
    out = np.zeros(total, dtype=np.float32)
    norm = np.zeros(total, dtype=np.float32)
    square = window**2
    for i in range(n_frames):
        start = i * params.hop_length
        out[start : start + params.n_fft] += frames[i]
        norm[start : start + params.n_fft] += square
    pad = params.n_fft // 2
    out = out[pad : pad + length]
    norm = norm[pad : pad + length]
    out /= np.where(norm > 1e-8, norm, 1.0)
    if len(out) < length:
        out = np.pad(out, (0, length - len(out)))
    return out


def audio_to_mel(audio: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """Mel magnitudes (n_mels, frames) of a mono signal."""
    return mel_filterbank(params) @ np.abs(stft(audio, params))


def mel_to_image(mel: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """uint8 RGB image (n_mels, frames, 3): power curve, loud = dark, low bins at the bottom."""
    peak = float(mel.max()) if mel.size else 0.0
    data = mel / peak if peak > 0 else np.zeros_like(mel)
    data = 255.0 - np.power(np.clip(data, 0.0, 1.0), params.power_for_image) * 255.0
    gray = np.flipud(data).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def image_to_mel(
    image: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS, max_value: float = RIFFUSION_MAX_VALUE
) -> np.ndarray:
    """Mel magnitudes from an image: uint8 (0..255) or float (0..1), (H, W) or (H, W, C).

    The first channel is read, as Riffusion does for mono. The image height must be n_mels.
    """
    data = np.asarray(image)
    if data.ndim == 3:
        data = data[:, :, 0]
    data = data.astype(np.float32)
    if np.issubdtype(np.asarray(image).dtype, np.integer):
        data /= 255.0
    if data.shape[0] != params.n_mels:
        raise ValueError(f"a spectrogram image must be {params.n_mels} px tall, got {data.shape[0]}")
    data = np.flipud(1.0 - np.clip(data, 0.0, 1.0))
    return np.power(data, 1.0 / params.power_for_image) * max_value


def mel_to_linear(mel: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """Linear magnitudes (n_freqs, frames) from mel magnitudes, least squares clipped at 0."""
    return np.maximum(0.0, mel_pseudo_inverse(params) @ mel.astype(np.float32))


def griffin_lim(
    magnitude: np.ndarray,
    length: int,
    rng: np.random.Generator,
    params: SpectrogramParams = RIFFUSION_PARAMS,
    momentum: float = 0.99,
) -> np.ndarray:
    """A signal whose STFT magnitude approximates `magnitude` (fast Griffin-Lim)."""
    angles = np.exp(2j * np.pi * rng.random(magnitude.shape)).astype(np.complex64)
    previous = np.zeros_like(angles)
    for _ in range(params.griffin_lim_iters):
        audio = istft(magnitude * angles, length, params)
        rebuilt = stft(audio, params)[:, : magnitude.shape[1]]
        angles = rebuilt - previous * (momentum / (1.0 + momentum))
        angles /= np.abs(angles) + 1e-16
        previous = rebuilt
    return istft(magnitude * angles, length, params)


def image_to_audio(
    image: np.ndarray, rng: np.random.Generator, params: SpectrogramParams = RIFFUSION_PARAMS
) -> np.ndarray:
    """Mono float32 audio (width * hop samples) from a Riffusion spectrogram image."""
    mel = image_to_mel(image, params)
    length = mel.shape[1] * params.hop_length
    return griffin_lim(mel_to_linear(mel, params), length, rng, params).astype(np.float32)


def audio_to_image(audio: np.ndarray, params: SpectrogramParams = RIFFUSION_PARAMS) -> np.ndarray:
    """A Riffusion spectrogram image of a mono signal (width = len / hop)."""
    mel = audio_to_mel(audio, params)
    width = len(audio) // params.hop_length
    return mel_to_image(mel[:, :width], params)


def image_to_audio_torch(
    image: np.ndarray, seed: int, device: str, params: SpectrogramParams = RIFFUSION_PARAMS
) -> np.ndarray:
    """image_to_audio() with torch.stft on `device` (a GPU makes Griffin-Lim ~100x faster)."""
    from musicd.engines.devices import import_torch

    torch = import_torch()
    mel = torch.from_numpy(np.ascontiguousarray(image_to_mel(image, params), dtype=np.float32)).to(device)
    inverse = torch.from_numpy(mel_pseudo_inverse(params)).to(device)
    magnitude = torch.clamp(inverse @ mel, min=0.0)
    length = mel.shape[1] * params.hop_length
    window = torch.hann_window(params.win_length, device=device)
    kwargs = dict(
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        win_length=params.win_length,
        window=window,
        center=True,
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    angles = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=generator, device=device))
    previous = torch.zeros_like(angles)
    momentum = 0.99 / 1.99
    for _ in range(params.griffin_lim_iters):
        audio = torch.istft(magnitude * angles, length=length, **kwargs)
        rebuilt = torch.stft(audio, return_complex=True, pad_mode="reflect", **kwargs)[
            :, : magnitude.shape[1]
        ]
        angles = rebuilt - previous * momentum
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    audio = torch.istft(magnitude * angles, length=length, **kwargs)
    return audio.float().cpu().numpy()
