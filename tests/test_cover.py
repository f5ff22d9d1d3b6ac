"""The cover picture, drawn with the real ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
from tests.test_video import AWKWARD_TITLE, write_test_audio

from musicd.errors import RenderError
from musicd.media.cover import COVER_SIZE, TITLE_BAND_HEIGHT, render_cover
from musicd.media.video import partial_path
from musicd.music.profiles import VideoProfile

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def audio_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_audio(tmp_path_factory.mktemp("audio") / "mix.wav", duration_s=5.0)


def picture(path: Path) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(COVER_SIZE, COVER_SIZE, 3).astype(int)


def test_cover_is_a_square_png(audio_path: Path, tmp_path: Path) -> None:
    out = render_cover(audio_path, tmp_path / "cover.png", title="Test Tone", profile=VideoProfile())
    assert out == tmp_path / "cover.png"
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    (stream,) = ffmpeg.probe(str(out))["streams"]
    assert stream["codec_name"] == "png"
    assert (stream["width"], stream["height"]) == (COVER_SIZE, COVER_SIZE) == (1024, 1024)
    assert not partial_path(out).exists()


def test_cover_is_tinted_with_the_palette(audio_path: Path, tmp_path: Path) -> None:
    warm = VideoProfile(palette=("#000000", "#ff0000", "#ffff00"))
    image = picture(render_cover(audio_path, tmp_path / "warm.png", title="", profile=warm))
    spectrogram = image[: COVER_SIZE - TITLE_BAND_HEIGHT]
    r, g, b = spectrogram[..., 0], spectrogram[..., 1], spectrogram[..., 2]
    assert (spectrogram.max(axis=-1) > 80).mean() > 0.02, "the spectrogram is blank"
    # black -> red -> yellow: red leads, blue stays (near) zero
    assert (r >= g - 8).mean() > 0.99
    assert (b < 24).mean() > 0.99

    cool = VideoProfile(palette=("#000000", "#0000ff", "#00ffff"))
    other = picture(render_cover(audio_path, tmp_path / "cool.png", title="", profile=cool))
    assert other[..., 2].mean() > other[..., 0].mean() + 10


def test_cover_title_is_drawn(audio_path: Path, tmp_path: Path) -> None:
    plain = picture(render_cover(audio_path, tmp_path / "a.png", title="", profile=VideoProfile()))
    titled = picture(
        render_cover(audio_path, tmp_path / "b.png", title=AWKWARD_TITLE, profile=VideoProfile())
    )
    band = slice(COVER_SIZE - TITLE_BAND_HEIGHT, COVER_SIZE)
    assert (np.abs(titled[band] - plain[band]).max(axis=-1) > 80).sum() > 2000
    above = slice(0, COVER_SIZE - TITLE_BAND_HEIGHT)
    assert np.array_equal(titled[above], plain[above])


def test_cover_of_missing_audio_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "mix.wav"
    with pytest.raises(RenderError, match="does not exist"):
        render_cover(missing, tmp_path / "cover.png", title="T", profile=VideoProfile())
    assert not (tmp_path / "cover.png").exists()


def test_cover_of_unreadable_audio_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "mix.wav"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(RenderError, match="mix.wav"):
        render_cover(bogus, tmp_path / "cover.png", title="T", profile=VideoProfile())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav"]
