"""The cover picture: the whole track's spectrogram in the genre palette, with the title."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import ffmpeg

from musicd.media.ffmpeg import compile_command, run_ffmpeg
from musicd.media.video import Palette, check_audio_file, colourise, draw_title, partial_path
from musicd.music.profiles import VideoProfile

log = logging.getLogger(__name__)

COVER_SIZE = 1024  # a power of two: showspectrumpic's FFT size follows the height
TITLE_BAND_HEIGHT = 170


def build_cover_command(audio_path: Path, out_path: Path, *, title: str, profile: VideoProfile) -> list[str]:
    """The ffmpeg command line for the cover (ffmpeg-python builds and escapes the graph)."""
    palette = Palette.from_profile(profile)
    picture = (
        ffmpeg.input(str(audio_path))
        .audio.filter(
            "showspectrumpic",
            s=f"{COVER_SIZE}x{COVER_SIZE}",
            legend=0,
            mode="combined",
            color="intensity",
            saturation=0,
            scale="sqrt",
            fscale="log",
            win_func="hann",
        )
        # showspectrumpic sums more windows per column for longer audio, so a short
        # track comes out dim: stretch the levels so the loudest point is full scale
        .filter("format", "rgb24")
        .filter("normalize", smoothing=0, independence=0)
    )
    picture = colourise(picture, palette, pix_fmt="yuv444p").filter(
        "drawbox",
        x=0,
        y=COVER_SIZE - TITLE_BAND_HEIGHT,
        w=COVER_SIZE,
        h=TITLE_BAND_HEIGHT,
        color=f"{palette.background.to_ffmpeg()}@0.78",
        t="fill",
    )
    picture = draw_title(
        picture,
        title,
        palette,
        y=COVER_SIZE - TITLE_BAND_HEIGHT // 2 - 30,
        frame_width=COVER_SIZE,
        largest=64,
        smallest=24,
    )
    output = ffmpeg.output(
        picture.filter("format", "rgb24"), str(out_path), format="image2", vcodec="png", frames=1, update=1
    )
    return compile_command(output.overwrite_output())


def render_cover(audio_path: Path, out_path: Path, *, title: str, profile: VideoProfile) -> Path:
    """Write a COVER_SIZE x COVER_SIZE PNG: spectrogram tinted with the palette, title below.

    Returns `out_path`, written atomically.
    """
    audio_path, out_path = Path(audio_path), Path(out_path)
    check_audio_file(audio_path)
    temp_path = partial_path(out_path)
    args = build_cover_command(audio_path, temp_path, title=title, profile=profile)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_ffmpeg(args, what=f"draw the cover of {audio_path.name}")
        os.replace(temp_path, out_path)
    finally:
        temp_path.unlink(missing_ok=True)
    log.info("drew cover %s", out_path)
    return out_path
