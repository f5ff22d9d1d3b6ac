"""File writing and encoding with the real soundfile, ffmpeg and ffprobe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from musicd.audio.encode import LOSSY_FORMATS, decoded_peak_db, encode_audio, probe_codec, write_wav
from musicd.audio.mastering import master
from musicd.errors import RenderError

SR = 44100


@pytest.fixture(scope="module")
def loud_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hot, dense master (-9 LUFS, -0.5 dBTP): the hardest case for lossy codecs."""
    rng = np.random.default_rng(7)
    t = np.arange(6 * SR) / SR
    chords = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 164.8, 220.0, 329.6, 440.0))
    hats = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 4 * t) > 0.7)
    mono = 0.15 * chords + 0.2 * hats
    audio = np.stack([mono, np.roll(mono, 37)], axis=1).astype(np.float32)
    mastered = master(audio, SR, target_lufs=-9.0, true_peak_db=-0.5).audio
    return write_wav(tmp_path_factory.mktemp("enc") / "mix.wav", mastered, SR, rng=np.random.default_rng(0))


def test_16_bit_wav_is_dithered_and_reproducible(tmp_path: Path) -> None:
    quarter_lsb = np.full((SR, 2), 0.25 / 32767, np.float32)
    first = write_wav(tmp_path / "a.wav", quarter_lsb, SR, rng=np.random.default_rng(3))
    second = write_wav(tmp_path / "b.wav", quarter_lsb, SR, rng=np.random.default_rng(3))
    data, rate = soundfile.read(first, dtype="int16")
    info = soundfile.info(str(first))
    assert (rate, info.subtype, info.channels) == (SR, "PCM_16", 2)
    assert first.read_bytes() == second.read_bytes()
    # Plain rounding would give all zeros; TPDF dither keeps the quarter LSB as an average.
    assert set(np.unique(data)) <= {-1, 0, 1}
    assert data.mean() == pytest.approx(0.25, abs=0.02)


def test_16_bit_wav_clamps_instead_of_wrapping(tmp_path: Path) -> None:
    hot = np.full((100, 2), 1.5, np.float32)
    data, _ = soundfile.read(write_wav(tmp_path / "hot.wav", hot, SR), dtype="int16")
    assert data.min() == 32767


def test_24_bit_stems_keep_their_resolution(tmp_path: Path) -> None:
    audio = (np.random.default_rng(1).standard_normal((SR, 2)) * 0.1).astype(np.float32)
    path = write_wav(tmp_path / "stem.wav", audio, SR, bits=24)
    data, _ = soundfile.read(path, dtype="float32")
    assert soundfile.info(str(path)).subtype == "PCM_24"
    assert np.abs(data - audio).max() <= 2.0**-23 + 1e-9


def test_write_wav_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="bit depth"):
        write_wav(tmp_path / "x.wav", np.zeros((10, 2)), SR, bits=12)
    with pytest.raises(RenderError, match="non-finite"):
        write_wav(tmp_path / "x.wav", np.full((10, 2), np.inf), SR)


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [("mp3", "mp3", 44100), ("flac", "flac", 44100), ("ogg", "vorbis", 44100), ("opus", "opus", 48000)],
)
def test_encodes_are_readable_with_the_right_codec_and_never_clip(
    loud_master: Path, tmp_path: Path, fmt: str, codec: str, rate: int
) -> None:
    result = encode_audio(loud_master, tmp_path / f"mix.{fmt}", fmt)
    info = probe_codec(result.path)
    assert info["codec_name"] == codec
    assert info["sample_rate"] == rate
    assert info["channels"] == 2
    assert info["duration_s"] == pytest.approx(6.0, abs=0.1)
    peak = decoded_peak_db(result.path)
    assert peak <= 0.0
    if fmt in LOSSY_FORMATS:
        assert peak <= -0.1 + 1e-6
        assert -1.0 <= result.gain_db <= 0.0
        assert result.decoded_peak_db == pytest.approx(peak, abs=0.01)
    else:
        assert result.gain_db == 0.0


def test_flac_is_lossless(loud_master: Path, tmp_path: Path) -> None:
    flac = encode_audio(loud_master, tmp_path / "mix.flac", "flac").path
    original, _ = soundfile.read(loud_master, dtype="int16")
    decoded, _ = soundfile.read(flac, dtype="int16")
    assert np.array_equal(original, decoded)


def test_ffmpeg_failures_carry_its_message(tmp_path: Path) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not a wav file")
    with pytest.raises(RenderError, match=r"ffmpeg failed to encode fake.wav as mp3:\n.*fake.wav"):
        encode_audio(fake, tmp_path / "out.mp3", "mp3")
    with pytest.raises(RenderError, match="Unknown output format 'aac'"):
        encode_audio(fake, tmp_path / "out.aac", "aac")
    with pytest.raises(RenderError, match="does not exist"):
        encode_audio(tmp_path / "missing.wav", tmp_path / "out.mp3", "mp3")
