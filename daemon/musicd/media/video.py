"""The visualizer video: audio in, a browser-playable 1280x720 H.264/AAC MP4 out.

Every style draws its picture as a grey-level intensity image, which one
lookup table then maps onto the genre palette (background, then the
accents), all in YUV, so the 720p frames never take a trip through RGB. The
title is drawn with drawtext, a thin progress bar runs along the bottom and
an optional .srt is burnt in with libass.

ffmpeg-python builds the filter graph and escapes every option (titles,
paths and expressions included); musicd.media.ffmpeg runs the command and
reports its progress.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import ffmpeg

from musicd.errors import RenderError, ResourceMissingError
from musicd.media.ffmpeg import compile_command, probe, run_ffmpeg
from musicd.music.profiles import VideoProfile
from musicd.spec.choices import VIDEO_STYLES

log = logging.getLogger(__name__)


FRAME_WIDTH = 1280
FRAME_HEIGHT = 720
FRAME_RATE = 30
AUDIO_BITRATE = "192k"
# x264 dominates the cost. Measured on 2 cores with a 60 s track (waveform style):
# "ultrafast" plus CABAC, 8x8 transforms (so the stream is High profile, not Baseline)
# and the deblocking filter takes ~25 % less CPU than "superfast" and ~45 % less than
# "veryfast" at a similar size once the bitrate is capped. The cap keeps busy styles
# (scope trails, dense spectra) from ballooning: 4 Mbit/s is ample for 720p graphics.
X264_PRESET = "ultrafast"
X264_PARAMS = "cabac=1:8x8dct=1:deblock=0,0"
X264_CRF = 23
X264_MAXRATE = "4M"
X264_BUFSIZE = "8M"
KEYFRAME_INTERVAL = 2 * FRAME_RATE  # a keyframe every 2 s keeps seeking in a browser quick

TITLE_BAND_HEIGHT = 130  # the visual sits below the title
PROGRESS_BAR_HEIGHT = 6

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
)
FONT_PACKAGE_HINT = "install the Debian package fonts-dejavu-core (`make system`)"
FONT_FAMILY = "DejaVu Sans"

Stream: TypeAlias = ffmpeg.nodes.FilterableStream

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


# ---------------------------------------------------------------------------
# palette


@dataclass(frozen=True)
class Rgb:
    """An sRGB colour, 0..255 per channel."""

    red: int
    green: int
    blue: int

    @classmethod
    def from_hex(cls, text: str) -> Rgb:
        if not _HEX_COLOUR.match(text):
            raise RenderError(f"palette colour {text!r} is not '#RRGGBB'; fix the genre's video profile")
        return cls(int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))

    def to_ffmpeg(self) -> str:
        """'0xRRGGBB', the colour syntax ffmpeg filters take."""
        return f"0x{self.red:02x}{self.green:02x}{self.blue:02x}"

    def to_ass(self) -> str:
        """'&H00BBGGRR', the colour syntax of ASS subtitle styles."""
        return f"&H00{self.blue:02X}{self.green:02X}{self.red:02X}"

    def to_yuv(self) -> tuple[float, float, float]:
        """Limited-range BT.601 Y, U, V, the matrix ffmpeg's filters use for yuv420p."""
        r, g, b = self.red / 255, self.green / 255, self.blue / 255
        y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
        u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
        v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
        return y, u, v

    @property
    def lightness(self) -> float:
        """Approximate perceived lightness, 0 (black) .. 1 (white)."""
        return (0.2126 * self.red + 0.7152 * self.green + 0.0722 * self.blue) / 255

    def mix(self, other: Rgb, amount: float) -> Rgb:
        """This colour moved `amount` (0..1) of the way towards `other`."""
        return Rgb(
            *(
                round(a + (b - a) * amount)
                for a, b in zip((self.red, self.green, self.blue), (other.red, other.green, other.blue))
            )
        )


WHITE = Rgb(255, 255, 255)
BLACK = Rgb(0, 0, 0)


@dataclass(frozen=True)
class Palette:
    """The background and at least two accents, parsed from a VideoProfile."""

    background: Rgb
    accents: tuple[Rgb, ...]

    @classmethod
    def from_profile(cls, profile: VideoProfile) -> Palette:
        colours = [Rgb.from_hex(c) for c in profile.palette]
        if not colours:
            raise RenderError("the video profile has an empty palette; give at least a background colour")
        background, accents = colours[0], colours[1:]
        if not accents:
            accents = [background.mix(WHITE, 0.6)]
        if len(accents) == 1:
            accents.append(accents[0].mix(WHITE, 0.5))
        return cls(background, tuple(accents))

    def accent_grey(self, index: int) -> int:
        """The grey level (0..255) that colourise() turns into accents[index]."""
        return round(255 * (index + 1) / len(self.accents))

    @property
    def is_light(self) -> bool:
        return self.background.lightness > 0.5

    @property
    def text(self) -> Rgb:
        """Title colour, readable on the background: the last accent lifted towards white on a
        dark background, the darkest accent pressed towards black on a light one."""
        if self.is_light:
            return min(self.accents, key=lambda c: c.lightness).mix(BLACK, 0.6)
        return self.accents[-1].mix(WHITE, 0.55)

    @property
    def shadow(self) -> str:
        """Title shadow, as an ffmpeg colour with alpha."""
        return "white@0.5" if self.is_light else "black@0.6"


def _piecewise(stops: Sequence[tuple[float, float]], var: str) -> str:
    """An ffmpeg expression interpolating linearly through (position, value) stops."""
    expr = f"{stops[-1][1]:.2f}"
    for (x0, y0), (x1, y1) in reversed(list(zip(stops, stops[1:]))):
        segment = f"{y0:.2f}+({y1 - y0:.2f})*({var}-{x0:.4f})/{x1 - x0:.4f}"
        expr = f"if(lt({var},{x1:.4f}),{segment},{expr})"
    return expr


def palette_lut(palette: Palette) -> dict[str, str]:
    """lutyuv options mapping a grey level (0 = silence, 255 = loud) to the palette's Y, U and V.

    The background sits at 0, the accents are spread evenly up to 1.
    """
    colours = (palette.background, *palette.accents)
    positions = [i / (len(colours) - 1) for i in range(len(colours))]
    yuv = [c.to_yuv() for c in colours]
    return {
        plane: _piecewise([(p, c[i]) for p, c in zip(positions, yuv)], "(val/255)")
        for i, plane in enumerate("yuv")
    }


# ---------------------------------------------------------------------------
# fonts and text


@functools.cache
def find_font_file(candidates: tuple[Path, ...] = FONT_CANDIDATES) -> Path:
    """A TrueType font for drawtext: the first of `candidates` (DejaVu Sans Bold where Debian
    puts it) that exists, else fontconfig's pick for DejaVu Sans Bold."""
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    try:
        result = subprocess.run(
            ["fc-match", "--format=%{file}", f"{FONT_FAMILY}:bold"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        found = Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        found = None
    if found is not None and found.is_file() and found.suffix.lower() in {".ttf", ".otf", ".ttc"}:
        return found
    raise ResourceMissingError(
        f"no font file for the video title ({FONT_FAMILY} not found); {FONT_PACKAGE_HINT}"
    )


def clean_title(title: str) -> str:
    """One line of printable text (drawtext would draw a newline as a box)."""
    text = " ".join(title.split())
    return "".join(ch for ch in text if ch.isprintable())


TITLE_MARGIN = 48
GLYPH_WIDTH_EM = 0.62  # DejaVu Sans Bold's average advance; wide glyphs (W, M) run over


def fit_title(title: str, frame_width: int, *, largest: int, smallest: int) -> tuple[str, int]:
    """The title on one line and its font size: as large as fits up to `largest`; below
    `smallest` the text is cut and ends in an ellipsis instead."""
    text = clean_title(title)
    room = frame_width - 2 * TITLE_MARGIN
    size = int(room / (GLYPH_WIDTH_EM * max(len(text), 1)))
    if size >= smallest:
        return text, min(largest, size)
    max_chars = int(room / (GLYPH_WIDTH_EM * smallest))
    return text[: max_chars - 1].rstrip() + "\u2026", smallest


def draw_title(
    stream: Stream, title: str, palette: Palette, *, y: int, frame_width: int, largest: int, smallest: int
) -> Stream:
    """drawtext with the title taken literally: expansion=none turns off %{...} and \\ handling,
    and ffmpeg-python escapes the option and filtergraph levels (quotes, colons, commas, backslashes)."""
    text, size = fit_title(title, frame_width, largest=largest, smallest=smallest)
    if not text:
        return stream
    return stream.filter(
        "drawtext",
        fontfile=str(find_font_file()),
        text=text,
        expansion="none",
        fontsize=size,
        fontcolor=palette.text.to_ffmpeg(),
        x="(w-text_w)/2",
        y=y,
        shadowcolor=palette.shadow,
        shadowx=2,
        shadowy=2,
    )


# ---------------------------------------------------------------------------
# styles: each returns the visual area, coloured, yuv420p, `width` x `height`
#
# The filter graph runs on one core next to the encoder, so the styles draw
# (and colour) at reduced sizes where that does not show, and scale up.


def colourise(grey: Stream, palette: Palette, pix_fmt: str = "yuv420p") -> Stream:
    """Grey intensity (any pixel format, even width and height) to the palette gradient.

    The grey image becomes all three planes of a YUV frame (shrunk to half size
    for 4:2:0 chroma), so one plain per-plane lookup (lutyuv) can colour it:
    ~3.5x cheaper than pseudocolor, which blends in floating point per pixel.
    """
    grey = grey.filter("format", "gray")
    if pix_fmt == "yuv444p":
        copies = grey.split()
        planes = [copies[0], copies[1], copies[2]]
    elif pix_fmt == "yuv420p":
        copies = grey.split()
        luma, chroma = copies[0], copies[1]
        half = chroma.filter("scale", "iw/2", "ih/2", flags="fast_bilinear").split()
        planes = [luma, half[0], half[1]]
    else:
        raise ValueError(f"colourise makes yuv420p or yuv444p, not {pix_fmt}")
    merged = ffmpeg.filter(planes, "mergeplanes", mapping="0x001020", format=pix_fmt)
    return merged.filter("lutyuv", **palette_lut(palette))


def _grey_hex(level: int) -> str:
    return f"0x{level:02x}{level:02x}{level:02x}"


def _green_plane(rgba: Stream) -> Stream:
    """The grey level of a grey-on-transparent RGBA drawing. (swscale's rgba -> gray turns
    every opaque pixel white, and the green plane is free.)"""
    return rgba.filter("extractplanes", "g")


def _waveform(audio: Stream, width: int, height: int, palette: Palette, duration_s: float) -> Stream:
    """A filled centre-line waveform (square-root amplitude scale): a body in the first accent
    around a core at 2/3 of its size in the last accent. Drawn at half size and scaled up."""
    small_width, small_height = width // 4 * 2, height // 4 * 2
    mono = audio.filter("aformat", channel_layouts="mono").filter_multi_output("asplit", 2)
    body = mono[0].filter(
        "showwaves",
        s=f"{small_width}x{small_height}",
        mode="cline",
        rate=FRAME_RATE,
        scale="sqrt",
        draw="full",
        colors=_grey_hex(palette.accent_grey(0)),
    )
    core = (
        mono[1]
        .filter("volume", 0.45)
        .filter(
            "showwaves",
            s=f"{small_width}x{small_height}",
            mode="cline",
            rate=FRAME_RATE,
            scale="sqrt",
            draw="full",
            colors="white",
        )
    )
    grey = ffmpeg.filter([_green_plane(body), _green_plane(core)], "blend", all_mode="lighten")
    return colourise(grey, palette).filter("scale", width, height, flags="bilinear")


def _spectrum(audio: Stream, width: int, height: int, palette: Palette, duration_s: float) -> Stream:
    """A scrolling spectrogram (log frequency), 21 s of history across the frame. Drawn 512 bins
    tall (a power-of-two FFT: 720 bins is ~28x slower) and half as wide, then scaled up."""
    spectrum = audio.filter(
        "showspectrum",
        s=f"{width // 2}x512",
        slide="scroll",
        mode="combined",
        color="intensity",
        saturation=0,
        scale="sqrt",
        fscale="log",
        win_func="hann",
        fps=FRAME_RATE,
    )
    return colourise(spectrum, palette).filter("scale", width, height, flags="bilinear")


BAR_COUNT = 64
BAR_PIXELS = 5  # drawn 5 px per bar (4 lit, 1 gap), then scaled up without smoothing


def _bars(audio: Stream, width: int, height: int, palette: Palette, duration_s: float) -> Stream:
    """64 log-spaced frequency bars, first accent at their feet shading to the last at their
    tops, with background-coloured gaps."""
    small_width, small_height = BAR_COUNT * BAR_PIXELS, height // 4
    freqs = (
        audio.filter(
            "showfreqs",
            s=f"{BAR_COUNT}x{small_height}",
            mode="bar",
            fscale="log",
            ascale="log",
            win_size=2048,
            averaging=2,
            cmode="combined",
            colors="white",
            rate=FRAME_RATE,
        )
        .filter("extractplanes", "g")
        .filter("scale", small_width, small_height, flags="neighbor")
    )
    # a mask drawn once and repeated: a vertical ramp (bar shading) with a dark column per bar
    # (the gaps); gradients would otherwise slowly rotate, and drawgrid on every frame is slow
    mask = (
        ffmpeg.input(
            f"gradients=s={small_width}x{small_height}:r={FRAME_RATE}"
            f":d={1 / FRAME_RATE:.4f}:c0={_grey_hex(palette.accent_grey(0))}:c1=white:x0=0:y0={small_height - 1}"
            f":x1=0:y1=0:nb_colors=2:speed=0.00001",
            f="lavfi",
        )
        .filter("format", "gray")
        .filter("drawgrid", x=BAR_PIXELS - 1, w=BAR_PIXELS, h=small_height + 1, t=1, c="black")
        .filter("loop", loop=-1, size=1)
    )
    shaded = ffmpeg.filter([freqs, mask], "blend", all_mode="multiply", shortest=1)
    # full chroma while small, so the one-pixel gaps keep their colour once scaled up
    return (
        colourise(shaded, palette, pix_fmt="yuv444p")
        .filter("scale", width, height, flags="neighbor")
        .filter("format", "yuv420p")
    )


def _scope(audio: Stream, width: int, height: int, palette: Palette, duration_s: float) -> Stream:
    """A stereo vectorscope (Lissajous) with fading trails, square and centred. Drawn at 70 %
    size: the smoother lines also compress far better."""
    side = min(width, height) // 2 * 2
    small_side = int(side * 0.7) // 2 * 2
    scope = audio.filter(
        "avectorscope",
        s=f"{small_side}x{small_side}",
        r=FRAME_RATE,
        mode="lissajous",
        draw="line",
        scale="sqrt",
        zoom=1.3,
        rc=255,
        gc=255,
        bc=255,
        ac=255,
        rf=22,
        gf=22,
        bf=22,
        af=22,
    )
    return (
        colourise(_green_plane(scope), palette)
        .filter("scale", side, side, flags="bilinear")
        .filter(
            "pad",
            width,
            height,
            (width - side) // 2,
            (height - side) // 2,
            color=palette.background.to_ffmpeg(),
        )
    )


_STYLE_BUILDERS: dict[str, Callable[[Stream, int, int, Palette, float], Stream]] = {
    "waveform": _waveform,
    "spectrum": _spectrum,
    "bars": _bars,
    "scope": _scope,
}


def check_style(style: str) -> None:
    if style not in VIDEO_STYLES:
        raise RenderError(f"unknown video style {style!r}; choose one of: {', '.join(VIDEO_STYLES)}")


# ---------------------------------------------------------------------------
# input and output files


def check_audio_file(audio_path: Path) -> None:
    if not audio_path.is_file():
        raise RenderError(f"audio file {audio_path} does not exist; render the mix before the video")


def probe_duration_s(audio_path: Path) -> float:
    """The audio's duration in seconds, from ffprobe."""
    check_audio_file(audio_path)
    info = probe(audio_path)
    durations = [
        float(s["duration"])
        for s in info.get("streams", [])
        if s.get("codec_type") == "audio" and "duration" in s
    ]
    if not durations and "duration" in info.get("format", {}):
        durations = [float(info["format"]["duration"])]
    if not durations or max(durations) <= 0:
        raise RenderError(f"{audio_path} has no audio stream with a duration; give a WAV/FLAC/MP3 file")
    return max(durations)


def partial_path(out_path: Path) -> Path:
    """Where ffmpeg writes before the finished file is renamed into place."""
    return out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")


# ---------------------------------------------------------------------------
# the video


def subtitle_style(palette: Palette) -> str:
    """force_style for libass: DejaVu Sans in the title colour, outlined, low on the frame.
    Sizes are in libass's 384x288 script units (x2.5 on a 720p frame)."""
    return ",".join(
        [
            f"FontName={FONT_FAMILY}",
            "FontSize=20",
            "Bold=1",
            f"PrimaryColour={palette.text.to_ass()}",
            f"OutlineColour={(WHITE if palette.is_light else BLACK).to_ass()}",
            "BorderStyle=1",
            "Outline=1.2",
            "Shadow=0",
            "Alignment=2",
            "MarginV=14",
        ]
    )


def build_video_command(
    audio_path: Path,
    out_path: Path,
    *,
    style: str,
    title: str,
    profile: VideoProfile,
    duration_s: float,
    subtitles_path: Path | None = None,
) -> list[str]:
    """The full ffmpeg command line for one video (ffmpeg-python builds and escapes the graph)."""
    check_style(style)
    palette = Palette.from_profile(profile)
    visual_height = FRAME_HEIGHT - TITLE_BAND_HEIGHT - 2 * PROGRESS_BAR_HEIGHT
    visual_height -= visual_height % 2

    source = ffmpeg.input(str(audio_path))
    visual = _STYLE_BUILDERS[style](source.audio, FRAME_WIDTH, visual_height, palette, duration_s)
    frame = visual.filter(
        "pad", FRAME_WIDTH, FRAME_HEIGHT, 0, TITLE_BAND_HEIGHT, color=palette.background.to_ffmpeg()
    ).filter("setsar", "1")
    frame = draw_title(
        frame,
        title,
        palette,
        y=(TITLE_BAND_HEIGHT - 50) // 2,
        frame_width=FRAME_WIDTH,
        largest=52,
        smallest=22,
    )
    # the progress bar: one frame of colour, held and slid in from the left
    bar = ffmpeg.input(
        f"color=c={palette.accents[0].to_ffmpeg()}"
        f":s={FRAME_WIDTH}x{PROGRESS_BAR_HEIGHT}:r={FRAME_RATE}:d={1 / FRAME_RATE:.4f}",
        f="lavfi",
    )
    frame = ffmpeg.overlay(
        frame,
        bar,
        x=f"-w+w*t/{duration_s:.3f}",
        y=FRAME_HEIGHT - PROGRESS_BAR_HEIGHT,
        eval="frame",
        eof_action="repeat",
    )
    if subtitles_path is not None:
        if not subtitles_path.is_file():
            raise RenderError(f"subtitle file {subtitles_path} does not exist")
        frame = frame.filter(
            "subtitles",
            filename=str(subtitles_path),
            charenc="UTF-8",
            fontsdir=str(find_font_file().parent),
            force_style=subtitle_style(palette),
        )
    output = ffmpeg.output(
        frame,
        source.audio,
        str(out_path),
        format="mp4",
        t=f"{duration_s:.3f}",
        vcodec="libx264",
        preset=X264_PRESET,
        crf=X264_CRF,
        maxrate=X264_MAXRATE,
        bufsize=X264_BUFSIZE,
        pix_fmt="yuv420p",
        **{
            "x264-params": X264_PARAMS,
            "profile:v": "high",
            "level:v": "4.0",
            "g": KEYFRAME_INTERVAL,
            "r": FRAME_RATE,
            "colorspace": "smpte170m",
            "color_primaries": "bt709",
            "color_trc": "bt709",
            "color_range": "tv",
        },
        acodec="aac",
        audio_bitrate=AUDIO_BITRATE,
        ac=2,
        movflags="+faststart",
        map_metadata=-1,
        metadata=f"title={clean_title(title)}",
    )
    return compile_command(output.overwrite_output())


def render_video(
    audio_path: Path,
    out_path: Path,
    *,
    style: str,
    title: str,
    profile: VideoProfile,
    subtitles_path: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Render a 1280x720 30 fps H.264 (High, yuv420p) + AAC-LC MP4 with faststart.

    `style` is one of VIDEO_STYLES; `subtitles_path` (an .srt) is burnt in;
    `progress` gets the fraction done (0..1). Returns `out_path`, written
    atomically (a partial file is renamed into place on success).
    """
    check_style(style)
    audio_path, out_path = Path(audio_path), Path(out_path)
    duration_s = probe_duration_s(audio_path)
    temp_path = partial_path(out_path)
    args = build_video_command(
        audio_path,
        temp_path,
        style=style,
        title=title,
        profile=profile,
        duration_s=duration_s,
        subtitles_path=subtitles_path,
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_ffmpeg(
            args,
            what=f"render the {style} video of {audio_path.name}",
            duration_s=duration_s,
            progress=progress,
        )
        os.replace(temp_path, out_path)
    finally:
        temp_path.unlink(missing_ok=True)
    log.info("rendered %s video %s (%.1f s)", style, out_path, duration_s)
    return out_path
