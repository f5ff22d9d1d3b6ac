"""The job spec's fields as users write them: names, kinds, limits, descriptions and aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from musicd.music.genres import ALIASES as GENRE_ALIASES
from musicd.music.genres import GENRE_NAMES, canonical_genre, close_genres
from musicd.music.languages import LANGUAGES, canonical_language, close_languages, supported_languages_text
from musicd.spec import model
from musicd.spec.choices import (
    AUDIO_FORMATS,
    MELODY_ENGINES,
    TEXTURE_ENGINES,
    VIDEO_STYLE_NAMES,
    VIDEO_STYLES,
    VOCAL_ENGINES,
    VOCAL_VOICES,
    canonical_choice,
    canonical_format,
    canonical_video_style,
)
from musicd.spec.kinds import (
    INVALID,
    Checker,
    Choice,
    Duration,
    Field,
    Flag,
    KeyName,
    Kind,
    ListOf,
    Number,
    Section,
    Text,
)
from musicd.spec.model import VideoSpec
from musicd.spec.yaml_source import Path
from musicd.text import closest


def _enum_choice(options: tuple[str, ...], noun: str) -> Choice:
    return Choice(
        lambda text: canonical_choice(text, options), options, noun=noun, allowed=", ".join(options)
    )


def _close_styles(text: str) -> list[str]:
    names = {name.lower(): name for name in (*VIDEO_STYLES, *VIDEO_STYLE_NAMES)}
    return closest(text.strip().lower(), names, limit=2)


GENRE = Choice(
    canonical_genre,
    (*GENRE_NAMES, *GENRE_ALIASES),
    noun="a known genre",
    allowed=", ".join(GENRE_NAMES) + " (or an alias such as lo-fi, dnb, retrowave)",
    suggest=close_genres,
)
LANGUAGE = Choice(
    canonical_language,
    (
        *LANGUAGES,
        *(lang.english_name for lang in LANGUAGES.values()),
        *(lang.native_name for lang in LANGUAGES.values() if lang.native_name != lang.english_name),
    ),
    noun="a supported vocal language",
    allowed=supported_languages_text(),
    suggest=close_languages,
)
AUDIO_FORMAT = Choice(
    canonical_format, AUDIO_FORMATS, noun="a supported audio format", allowed=", ".join(AUDIO_FORMATS)
)
VIDEO_STYLE = Choice(
    canonical_video_style,
    (*VIDEO_STYLES, *VIDEO_STYLE_NAMES),
    noun="a known video style",
    allowed=", ".join(VIDEO_STYLES) + ' (or a name such as "Abstract Visualizer", "Waveform", '
    '"Spectrum Analyzer", "Oscilloscope")',
    suggest=_close_styles,
)
VIDEO_STYLE_LIST = ListOf(VIDEO_STYLE, model.MAX_VIDEO_STYLES, noun_plural="video styles", split_commas=True)


class VideoKind(Kind):
    """`video:` is true/false, a style or list of styles, or a mapping {styles: [...]}."""

    expected = "true, false, a style name or a mapping such as {styles: [spectrum]}"

    def __init__(self) -> None:
        self.section = Section(
            [
                Field(
                    "styles",
                    VIDEO_STYLE_LIST,
                    "Visualizer styles, one video each; none means the genre's default style.",
                )
            ],
            example="{styles: [spectrum]}",
            hints={"style": "styles", "type": "styles", "kind": "styles"},
        )

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        if isinstance(value, bool):
            return VideoSpec() if value else None
        if isinstance(value, dict):
            checked = self.section.check(value, path, checker)
            return INVALID if checked is INVALID else VideoSpec(styles=checked.get("styles", ()))
        if isinstance(value, (str, list)):
            styles = VIDEO_STYLE_LIST.check(value, path, checker)
            return INVALID if styles is INVALID else VideoSpec(styles=styles)
        return self.wrong_type(value, path, checker)

    def json_schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "boolean"},
                self.section.json_schema(),
                *VIDEO_STYLE_LIST.json_schema()["anyOf"],
            ]
        }


VOCALS = Section(
    [
        Field(
            "languages",
            ListOf(LANGUAGE, model.MAX_LANGUAGES, noun_plural="languages", split_commas=True),
            "Languages the lyrics are sung in: codes (en, es, ...) or names (English, Español).",
            default=list(model.VocalsSpec().languages),
        ),
        Field(
            "engine",
            _enum_choice(VOCAL_ENGINES, "a known vocal engine"),
            "Singing engine: auto picks the best one installed; none turns vocals off.",
            default=model.VocalsSpec().engine,
        ),
        Field(
            "voice",
            _enum_choice(VOCAL_VOICES, "a known voice"),
            "Vocal register.",
            default=model.VocalsSpec().voice,
        ),
    ],
    example="{languages: [en], engine: auto, voice: auto}",
    hints={"language": "languages", "lang": "languages"},
)
ENGINES = Section(
    [
        Field(
            "melody",
            _enum_choice(MELODY_ENGINES, "a known melody engine"),
            "Melody writer: rules (built in) or magenta (a melody RNN trained on public-domain tunes).",
            default=model.EnginesSpec().melody,
        ),
        Field(
            "texture",
            _enum_choice(TEXTURE_ENGINES, "a known texture engine"),
            "Audio texture layer: procedural (built in), riffusion or musicgen (local models), or none.",
            default=model.EnginesSpec().texture,
        ),
    ],
    example="{melody: auto, texture: auto}",
)
OUTPUT = Section(
    [
        Field(
            "formats",
            ListOf(AUDIO_FORMAT, len(AUDIO_FORMATS), noun_plural="audio formats", split_commas=True),
            "Audio files to write for the mix; wav is always written.",
            default=list(model.DEFAULT_FORMATS),
        ),
        Field("stems", Flag(), "Write each instrument's stem as its own WAV file.", default=True),
        Field("midi", Flag(), "Write the score as a MIDI file.", default=True),
    ],
    example="{formats: [wav, mp3], stems: true, midi: true}",
    hints={"format": "formats"},
)
MASTER = Section(
    [
        Field(
            "loudness_lufs",
            Number(*model.LOUDNESS_RANGE_LUFS, unit="LUFS", low_word="too quiet", high_word="too loud"),
            "Integrated loudness target of the master (streaming services use about -14).",
            default=model.DEFAULT_LOUDNESS_LUFS,
        ),
        Field(
            "true_peak_db",
            Number(*model.TRUE_PEAK_RANGE_DB, unit="dBTP"),
            "Highest true peak allowed in the master.",
            default=model.DEFAULT_TRUE_PEAK_DB,
        ),
    ],
    example="{loudness_lufs: -14, true_peak_db: -1}",
    hints={
        "loudness": "loudness_lufs",
        "lufs": "loudness_lufs",
        "peak": "true_peak_db",
        "true_peak": "true_peak_db",
        "ceiling": "true_peak_db",
    },
)

PROMPT_HINT = "write a few words about the music, or leave the field out"

FIELDS: dict[str, Field] = {
    field.name: field
    for field in (
        Field(
            "title",
            Text(
                model.MAX_TITLE_CHARS,
                single_line=True,
                empty_hint="give the track a name or leave the field out",
            ),
            "Track title, used in folder names and the video title.",
        ),
        Field(
            "prompt",
            Text(model.MAX_PROMPT_CHARS, empty_hint=PROMPT_HINT),
            "What the music should sound like, in words (mood, instruments, setting).",
        ),
        Field(
            "genres",
            ListOf(GENRE, model.MAX_GENRES, noun_plural="genres", split_commas=True),
            "Genres to blend, first one leading; `musicd genres` lists them.",
        ),
        Field(
            "duration",
            Duration(*model.DURATION_RANGE_S),
            'Length in seconds, or minutes:seconds such as "1:30".',
            default=model.DEFAULT_DURATION_S,
        ),
        Field(
            "bpm",
            Number(*model.BPM_RANGE, unit="BPM", low_word="too slow", high_word="too fast"),
            "Tempo override in beats per minute; by default the genre picks one.",
        ),
        Field("key", KeyName(), 'Key override such as "A minor", "F# minor", "D dorian", "Bb", "Ebm".'),
        Field(
            "seed",
            Number(
                *model.SEED_RANGE, integer=True, allowed=f"a whole number from 0 to {model.SEED_RANGE[1]}"
            ),
            "Random seed; the same spec and seed give the same music. Drawn and recorded when absent.",
        ),
        Field(
            "artist_inspiration",
            ListOf(
                Text(model.MAX_ARTIST_CHARS, single_line=True), model.MAX_ARTISTS, noun_plural="artist names"
            ),
            "Artists whose style inspires the track (recorded in the manifest).",
        ),
        Field(
            "lyrics",
            Text(model.MAX_LYRICS_CHARS, empty_hint="write the lyrics or leave the field out"),
            "Lyrics to sing, one line per phrase.",
        ),
        Field("vocals", VOCALS, "How lyrics are sung."),
        Field("engines", ENGINES, "Engine choices; a missing engine falls back to the built-in one."),
        Field(
            "video",
            VideoKind(),
            "Visualizer video: true for the default style, a mapping with styles, or false.",
        ),
        Field("output", OUTPUT, "Which files to write."),
        Field("master", MASTER, "Mastering targets."),
    )
}

SECTIONS: dict[str, Section] = {"vocals": VOCALS, "engines": ENGINES, "output": OUTPUT, "master": MASTER}


@dataclass(frozen=True)
class Alias:
    """A field name from the HTTP API that stands for a canonical field."""

    name: str
    target: tuple[str, ...]  # canonical path the value goes to
    conflicts_with: tuple[str, ...]  # canonical path that must not be given as well
    kind: Kind
    description: str


ALIASES: dict[str, Alias] = {
    alias.name: alias
    for alias in (
        Alias(
            "musicPrompt", ("prompt",), ("prompt",), FIELDS["prompt"].kind, "Same as prompt (HTTP API name)."
        ),
        Alias(
            "durationSec",
            ("duration",),
            ("duration",),
            FIELDS["duration"].kind,
            "Same as duration (HTTP API name).",
        ),
        Alias(
            "artistInspiration",
            ("artist_inspiration",),
            ("artist_inspiration",),
            FIELDS["artist_inspiration"].kind,
            "Same as artist_inspiration (HTTP API name).",
        ),
        Alias(
            "vocalLanguages",
            ("vocals", "languages"),
            ("vocals", "languages"),
            VOCALS.fields["languages"].kind,
            "Same as vocals.languages (HTTP API name).",
        ),
        Alias(
            "generateVideo",
            ("video",),
            ("video",),
            Flag(),
            "true renders a video in the default style (HTTP API name).",
        ),
        Alias(
            "videoStyles",
            ("video", "styles"),
            ("video",),
            VIDEO_STYLE_LIST,
            "Same as video.styles; turns the video on (HTTP API name).",
        ),
    )
}

# Words people often write for a field -> the field they mean (dotted for nested fields).
FIELD_HINTS: dict[str, str] = {
    "tempo": "bpm",
    "bpms": "bpm",
    "length": "duration",
    "time": "duration",
    "seconds": "duration",
    "duration_s": "duration",
    "genre": "genres",
    "scale": "key",
    "tonality": "key",
    "name": "title",
    "description": "prompt",
    "text": "prompt",
    "language": "vocals.languages",
    "languages": "vocals.languages",
    "voice": "vocals.voice",
    "format": "output.formats",
    "formats": "output.formats",
    "stems": "output.stems",
    "midi": "output.midi",
    "styles": "video.styles",
    "style": "video.styles",
    "loudness": "master.loudness_lufs",
    "lufs": "master.loudness_lufs",
    "loudness_lufs": "master.loudness_lufs",
    "true_peak_db": "master.true_peak_db",
    "melody": "engines.melody",
    "texture": "engines.texture",
    "artist": "artist_inspiration",
    "artists": "artist_inspiration",
    "inspiration": "artist_inspiration",
}

KNOWN_TOP_LEVEL: tuple[str, ...] = (*FIELDS, *ALIASES)
