"""The fixed choices a spec offers: engines, voices, audio formats and video styles."""

from __future__ import annotations

import re

from musicd.engines.registry import MELODY_ENGINE_NAMES, SINGER_NAMES, TEXTURE_ENGINE_NAMES

# The engines come from the registry; `auto` picks the best usable one, `none` turns the stage off.
MELODY_ENGINES: tuple[str, ...] = ("auto", *MELODY_ENGINE_NAMES)
TEXTURE_ENGINES: tuple[str, ...] = ("auto", "none", *TEXTURE_ENGINE_NAMES)
VOCAL_ENGINES: tuple[str, ...] = ("auto", *SINGER_NAMES, "none")
VOCAL_VOICES: tuple[str, ...] = ("auto", "low", "high")

AUDIO_FORMATS: tuple[str, ...] = ("wav", "mp3", "flac", "ogg", "opus")
FORMAT_ALIASES: dict[str, str] = {"wave": "wav", "vorbis": "ogg", "oga": "ogg"}

VIDEO_STYLES: tuple[str, ...] = ("waveform", "spectrum", "bars", "scope")
# Friendly names (as documented) -> style; matched ignoring case, spaces, dashes and underscores.
VIDEO_STYLE_NAMES: dict[str, str] = {
    "Waveform": "waveform",
    "Audio Waveform": "waveform",
    "Wave": "waveform",
    "Abstract Visualizer": "spectrum",
    "Abstract Visualiser": "spectrum",
    "Visualizer": "spectrum",
    "Spectrogram": "spectrum",
    "Spectrum Analyzer": "bars",
    "Spectrum Analyser": "bars",
    "Frequency Bars": "bars",
    "Equalizer": "bars",
    "Equaliser": "bars",
    "Oscilloscope": "scope",
    "Vectorscope": "scope",
}


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


_STYLE_LOOKUP: dict[str, str] = {
    **{_squash(name): style for name, style in VIDEO_STYLE_NAMES.items()},
    **{style: style for style in VIDEO_STYLES},
}


def canonical_video_style(text: str) -> str | None:
    """ "Abstract Visualizer" -> "spectrum", "oscilloscope" -> "scope"; None if unknown."""
    return _STYLE_LOOKUP.get(_squash(text)) if isinstance(text, str) else None


def canonical_format(text: str) -> str | None:
    """ "MP3" -> "mp3", ".flac" -> "flac", "vorbis" -> "ogg"; None if unsupported."""
    if not isinstance(text, str):
        return None
    key = text.strip().lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    return key if key in AUDIO_FORMATS else None


def canonical_choice(text: str, options: tuple[str, ...]) -> str | None:
    """`text` as one of `options`, ignoring case and surrounding spaces; None if absent."""
    if not isinstance(text, str):
        return None
    key = text.strip().lower()
    return key if key in options else None
