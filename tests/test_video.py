"""The visualizer video, rendered with the real ffmpeg and checked with the real ffprobe."""

from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import soundfile as sf

from musicd.errors import RenderError
from musicd.media.video import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    TITLE_BAND_HEIGHT,
    VIDEO_STYLES,
    Palette,
    Rgb,
    find_font_file,
    fit_title,
    partial_path,
    render_video,
)
from musicd.music.profiles import VideoProfile

SAMPLE_RATE = 44100
DURATION_S = 4.0
PROFILE = VideoProfile(palette=("#101018", "#f0a050", "#50a0f0"))
AWKWARD_TITLE = 'It\'s "100%" real: C:\\tracks\\new; a,b [x] =y — Müde Möwe ♪ %{pts}'


def write_test_audio(path: Path, duration_s: float = DURATION_S) -> Path:
    """Stereo chords with a beat, the right channel delayed so the scope has something to draw."""
    rng = np.random.default_rng(1)
    t = np.arange(int(SAMPLE_RATE * duration_s)) / SAMPLE_RATE
    mix = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63, 880.0))
    mix = mix * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    mix += 0.3 * np.exp(-((t * 2) % 1) * 20) * rng.normal(0, 1, t.size)
    stereo = np.stack([mix, np.roll(mix, 200)], axis=1)
    sf.write(path, (stereo / np.abs(stereo).max() * 0.8).astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def audio_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_audio(tmp_path_factory.mktemp("audio") / "mix.wav")


def top_level_atoms(path: Path) -> list[str]:
    """The MP4's top-level box names, in file order."""
    names = []
    with path.open("rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            names.append(name.decode("latin-1"))
            if size == 0:
                break
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
                f.seek(size - 16, 1)
            else:
                f.seek(size - 8, 1)
    return names


def frame_at(path: Path, time_s: float, pix_fmt: str = "gray") -> np.ndarray:
    """One decoded frame as an array (height, width[, channels])."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-ss",
            f"{time_s}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    channels = {"gray": 1, "rgb24": 3}[pix_fmt]
    frame = np.frombuffer(raw, np.uint8).reshape(FRAME_HEIGHT, FRAME_WIDTH, channels)
    return frame[..., 0] if channels == 1 else frame


def assert_browser_playable(path: Path, duration_s: float) -> None:
    info = ffmpeg.probe(str(path))
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert info["format"]["format_name"].startswith("mov,mp4")
    assert video["codec_name"] == "h264"
    assert video["profile"] in {"High", "Main"}
    assert video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (1280, 720)
    assert video["width"] % 2 == 0 and video["height"] % 2 == 0
    assert video["r_frame_rate"] == "30/1" and video["avg_frame_rate"] == "30/1"
    assert audio["codec_name"] == "aac" and audio["profile"] == "LC"
    assert 150_000 <= int(audio["bit_rate"]) <= 210_000
    assert abs(float(info["format"]["duration"]) - duration_s) <= 0.1
    assert abs(float(video["duration"]) - duration_s) <= 0.1
    atoms = top_level_atoms(path)
    assert atoms.index("moov") < atoms.index("mdat"), f"not faststart: {atoms}"


@pytest.mark.parametrize("style", VIDEO_STYLES)
def test_every_style_renders_a_browser_playable_mp4(audio_path: Path, tmp_path: Path, style: str) -> None:
    out = render_video(audio_path, tmp_path / f"{style}.mp4", style=style, title="Test Tone", profile=PROFILE)
    assert out == tmp_path / f"{style}.mp4"
    assert_browser_playable(out, DURATION_S)
    assert not partial_path(out).exists()
    # the visual moves and is drawn in the palette, not left blank
    early, late = frame_at(out, 1.0, "rgb24"), frame_at(out, 3.0, "rgb24")
    visual = slice(TITLE_BAND_HEIGHT, FRAME_HEIGHT - 20)
    assert np.abs(early[visual].astype(int) - late[visual].astype(int)).mean() > 0.5
    background = np.array([0x10, 0x10, 0x18])
    differs = np.abs(late[visual].astype(int) - background).max(axis=-1) > 40
    assert differs.mean() > 0.005, "the visual area is (almost) all background"


def test_awkward_title_is_drawn_literally(audio_path: Path, tmp_path: Path) -> None:
    out = render_video(
        audio_path, tmp_path / "awkward.mp4", style="spectrum", title=AWKWARD_TITLE, profile=PROFILE
    )
    assert_browser_playable(out, DURATION_S)
    band = slice(0, TITLE_BAND_HEIGHT - 10)
    first, later = frame_at(out, 0.5)[band], frame_at(out, 3.5)[band]
    assert (first > 100).sum() > 2000, "no title text in the title band"
    # '%{pts}' stays text: an expanded timestamp would change from frame to frame
    changed = np.abs(first.astype(int) - later.astype(int)) > 50
    assert changed.sum() < 50, "the title changes over time"
    assert ffmpeg.probe(str(out))["format"]["tags"]["title"] == AWKWARD_TITLE


def test_title_text_changes_the_picture(audio_path: Path, tmp_path: Path) -> None:
    a = render_video(audio_path, tmp_path / "a.mp4", style="bars", title="First", profile=PROFILE)
    b = render_video(audio_path, tmp_path / "b.mp4", style="bars", title="Second title", profile=PROFILE)
    band = slice(0, TITLE_BAND_HEIGHT - 10)
    assert not np.array_equal(frame_at(a, 1.0)[band], frame_at(b, 1.0)[band])


def test_unknown_style_is_a_clear_error(audio_path: Path, tmp_path: Path) -> None:
    with pytest.raises(RenderError) as excinfo:
        render_video(audio_path, tmp_path / "x.mp4", style="kaleidoscope", title="T", profile=PROFILE)
    message = str(excinfo.value)
    assert "kaleidoscope" in message
    for style in VIDEO_STYLES:
        assert style in message
    assert not (tmp_path / "x.mp4").exists()


def test_missing_audio_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mix.wav"
    with pytest.raises(RenderError, match="does not exist") as excinfo:
        render_video(missing, tmp_path / "x.mp4", style="waveform", title="T", profile=PROFILE)
    assert str(missing) in str(excinfo.value)


def test_unreadable_audio_reports_ffmpeg_and_leaves_no_file(tmp_path: Path) -> None:
    bogus = tmp_path / "mix.wav"
    bogus.write_text("this is not audio")
    out = tmp_path / "video.mp4"
    with pytest.raises(RenderError, match="mix.wav"):
        render_video(bogus, out, style="waveform", title="T", profile=PROFILE)
    assert list(tmp_path.iterdir()) == [bogus]


def test_subtitles_are_burnt_in(audio_path: Path, tmp_path: Path) -> None:
    awkward_dir = tmp_path / "it's: a, [dir]"
    awkward_dir.mkdir()
    srt = awkward_dir / "lyr'ics;%.srt"
    srt.write_text('1\n00:00:00,500 --> 00:00:03,800\nSing it: "la, la" — 100%\n\n', encoding="utf-8")
    plain = render_video(audio_path, tmp_path / "plain.mp4", style="scope", title="Lyrics", profile=PROFILE)
    sung = render_video(
        audio_path, tmp_path / "sung.mp4", style="scope", title="Lyrics", profile=PROFILE, subtitles_path=srt
    )
    assert_browser_playable(sung, DURATION_S)
    lower_third = slice(FRAME_HEIGHT * 2 // 3, FRAME_HEIGHT - 10)
    with_text = frame_at(sung, 2.0)[lower_third].astype(int)
    without = frame_at(plain, 2.0)[lower_third].astype(int)
    assert (np.abs(with_text - without) > 60).sum() > 1000
    # before the cue starts the two videos look alike there
    before = np.abs(
        frame_at(sung, 0.1)[lower_third].astype(int) - frame_at(plain, 0.1)[lower_third].astype(int)
    )
    assert (before > 60).sum() < 100


def test_missing_subtitle_file_is_a_clear_error(audio_path: Path, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="subtitle file"):
        render_video(
            audio_path,
            tmp_path / "x.mp4",
            style="waveform",
            title="T",
            profile=PROFILE,
            subtitles_path=tmp_path / "none.srt",
        )


def test_progress_runs_from_zero_to_one(audio_path: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    render_video(
        audio_path, tmp_path / "p.mp4", style="waveform", title="T", profile=PROFILE, progress=seen.append
    )
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert seen[-1] == 1.0


def test_progress_callback_that_raises_stops_ffmpeg(audio_path: Path, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def stop(fraction: float) -> None:
        raise Stop

    out = tmp_path / "stopped.mp4"
    with pytest.raises(Stop):
        render_video(audio_path, out, style="waveform", title="T", profile=PROFILE, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_same_input_gives_the_same_file(audio_path: Path, tmp_path: Path) -> None:
    digests = [
        hashlib.sha256(
            render_video(
                audio_path, tmp_path / f"{i}.mp4", style="spectrum", title="Same", profile=PROFILE
            ).read_bytes()
        ).hexdigest()
        for i in range(2)
    ]
    assert digests[0] == digests[1]


def test_palette_colours_the_frame(audio_path: Path, tmp_path: Path) -> None:
    red = VideoProfile(palette=("#000000", "#ff0000", "#ff0000"))
    out = render_video(audio_path, tmp_path / "red.mp4", style="bars", title="", profile=red)
    frame = frame_at(out, 2.0, "rgb24").astype(int)
    visual = frame[TITLE_BAND_HEIGHT : FRAME_HEIGHT - 20]
    lit = visual.max(axis=-1) > 60
    assert lit.mean() > 0.01
    r, g, b = (visual[..., i][lit] for i in range(3))
    assert (r > g + 60).mean() > 0.95 and (r > b + 60).mean() > 0.95
    assert np.abs(frame[:40, :40]).max() < 12  # background corner is black


def test_palette_rejects_malformed_colours() -> None:
    with pytest.raises(RenderError, match="RRGGBB"):
        Palette.from_profile(VideoProfile(palette=("#101018", "orange")))


def test_palette_with_one_accent_gets_a_second() -> None:
    palette = Palette.from_profile(VideoProfile(palette=("#000000", "#ff0000")))
    assert palette.background == Rgb(0, 0, 0)
    assert len(palette.accents) == 2 and palette.accents[0] == Rgb(255, 0, 0)
    assert [palette.accent_grey(i) for i in range(2)] == [128, 255]


def test_long_titles_are_shortened_to_fit() -> None:
    text, size = fit_title("Short", 1280, largest=52, smallest=22)
    assert (text, size) == ("Short", 52)
    long_title = "A very long title " * 10
    text, size = fit_title(long_title, 1280, largest=52, smallest=22)
    assert size == 22 and text.endswith("\u2026") and len(text) < len(long_title)
    assert len(text) * 0.62 * size <= 1280
    assert fit_title("two\nlines\tand\x00control", 1280, largest=52, smallest=22)[0] == "two lines andcontrol"


def test_title_colour_contrasts_with_light_and_dark_backgrounds() -> None:
    dark = Palette.from_profile(VideoProfile(palette=("#101018", "#f0a050", "#50a0f0")))
    light = Palette.from_profile(VideoProfile(palette=("#f4e9d8", "#e07a5f", "#3d405b", "#81b29a")))
    assert dark.text.lightness - dark.background.lightness > 0.4
    assert light.background.lightness - light.text.lightness > 0.4


def test_font_is_found_where_debian_puts_it_or_through_fontconfig(tmp_path: Path) -> None:
    font = find_font_file()
    assert font.is_file() and font.suffix == ".ttf"
    fallback = find_font_file((tmp_path / "missing.ttf",))
    assert fallback.is_file() and "DejaVu" in fallback.name
