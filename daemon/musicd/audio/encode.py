"""Writing audio files: dithered 16-bit / 24-bit WAV, and mp3, flac, ogg, opus through ffmpeg.

Lossy codecs can overshoot the master's true peak when decoded (the codec's filtering rebuilds
peaks that the limiter held down). After each lossy encode the file is decoded and its peak read;
if it would clip (above -0.1 dBFS) it is encoded again with just enough gain reduction, which is
reported in EncodeResult.gain_db (typically 0, at most a few tenths of a dB).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile

from musicd.errors import RenderError
from musicd.media.ffmpeg import compile_command, probe, run_ffmpeg

log = logging.getLogger(__name__)

# ffmpeg output options per format: LAME VBR V2, FLAC, Vorbis q6, Opus 160 kb/s at 48 kHz.
FORMATS: dict[str, dict[str, str | int]] = {
    "wav": {"acodec": "pcm_s16le"},
    "mp3": {"acodec": "libmp3lame", "q:a": 2},
    "flac": {"acodec": "flac"},
    "ogg": {"acodec": "libvorbis", "q:a": 6},
    "opus": {"acodec": "libopus", "b:a": "160k", "ar": 48000},
}
CODEC_NAMES = {"wav": "pcm_s16le", "mp3": "mp3", "flac": "flac", "ogg": "vorbis", "opus": "opus"}
LOSSY_FORMATS = frozenset({"mp3", "ogg", "opus"})
LOSSY_PEAK_LIMIT_DB = -0.1  # decoded lossy files must stay below this sample peak
WAV_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}


@dataclass(frozen=True)
class EncodeResult:
    """An encoded file and the gain that was taken off to keep its decoded peak from clipping."""

    path: Path
    format: str
    gain_db: float = 0.0
    decoded_peak_db: float | None = None


def tpdf_dither_to_int16(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Quantise float audio (+/-1.0 full scale) to int16 with +/-1 LSB triangular (TPDF) dither."""
    scale = 32767.0
    noise = rng.random(audio.shape, dtype=np.float32) - rng.random(audio.shape, dtype=np.float32)
    quantised = np.rint(np.asarray(audio, dtype=np.float32) * np.float32(scale) + noise)
    return np.clip(quantised, -32768, 32767).astype(np.int16)


def write_wav(
    path: Path, audio: np.ndarray, sample_rate: int, bits: int = 16, rng: np.random.Generator | None = None
) -> Path:
    """Write a WAV file: 16-bit with TPDF dither (seeded by `rng`), 24-bit (no dither) or 32-bit float."""
    if bits not in WAV_SUBTYPES:
        raise RenderError(f"Unsupported WAV bit depth {bits}: use 16, 24 or 32.")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.size == 0:
        raise RenderError(f"Cannot write {path}: audio must be a non-empty (n,) or (n, channels) array.")
    if not np.all(np.isfinite(audio)):
        raise RenderError(f"Cannot write {path}: the audio contains non-finite samples.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if bits == 16:
        data: np.ndarray = tpdf_dither_to_int16(audio, rng if rng is not None else np.random.default_rng(0))
    elif bits == 24:
        data = np.clip(audio, -1.0, 1.0 - 2.0**-23)
    else:
        data = audio
    soundfile.write(str(path), data, sample_rate, subtype=WAV_SUBTYPES[bits], format="WAV")
    return path


def decoded_peak_db(path: Path) -> float:
    """Sample peak (dBFS) of a file decoded to float by ffmpeg."""
    stream = ffmpeg.input(str(path)).output("-", format="f32le", acodec="pcm_f32le")
    raw = run_ffmpeg(compile_command(stream), what=f"decode {path}").stdout
    samples = np.frombuffer(raw, dtype=np.float32)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -200.0


def encode_audio(wav_path: Path, out_path: Path, fmt: str) -> EncodeResult:
    """Encode a WAV to `fmt` (wav, mp3, flac, ogg, opus) with ffmpeg; lossy outputs never clip."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise RenderError(f"Unknown output format {fmt!r}: choose from {', '.join(sorted(FORMATS))}.")
    wav_path, out_path = Path(wav_path), Path(out_path)
    if not wav_path.is_file():
        raise RenderError(f"Cannot encode {wav_path}: the file does not exist.")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    def encode(gain_db: float) -> None:
        source = ffmpeg.input(str(wav_path))
        if gain_db:
            source = source.filter("volume", f"{gain_db:.3f}dB")
        stream = source.output(str(out_path), **FORMATS[fmt]).overwrite_output()
        run_ffmpeg(compile_command(stream), what=f"encode {wav_path.name} as {fmt}")

    encode(0.0)
    if fmt not in LOSSY_FORMATS:
        return EncodeResult(out_path, fmt)
    peak_db = decoded_peak_db(out_path)
    gain_db = 0.0
    for _ in range(3):
        if peak_db <= LOSSY_PEAK_LIMIT_DB:
            break
        gain_db -= peak_db - LOSSY_PEAK_LIMIT_DB + 0.1
        log.info("%s decodes to %.2f dBFS: re-encoding %.2f dB lower", out_path.name, peak_db, gain_db)
        encode(gain_db)
        peak_db = decoded_peak_db(out_path)
    if peak_db > 0.0:
        raise RenderError(f"{out_path} still clips after lowering it {-gain_db:.1f} dB; check the master.")
    return EncodeResult(out_path, fmt, round(gain_db, 3), round(peak_db, 3))


def probe_codec(path: Path) -> dict[str, object]:
    """ffprobe's view of the first audio stream: codec_name, sample_rate, channels, duration."""
    info = probe(path)
    stream = next((s for s in info.get("streams", []) if s.get("codec_type") == "audio"), None)
    if stream is None:
        raise RenderError(f"{path} has no audio stream.")
    return {
        "codec_name": stream.get("codec_name"),
        "sample_rate": int(stream.get("sample_rate", 0)),
        "channels": int(stream.get("channels", 0)),
        "duration_s": float(info.get("format", {}).get("duration", 0.0)),
    }
