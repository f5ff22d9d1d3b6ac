"""The parsed job spec: frozen dataclasses with canonical values, plus the limits they obey."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from musicd.music.theory import KeySpec

DURATION_RANGE_S: tuple[int, int] = (5, 600)
DEFAULT_DURATION_S = 60.0
BPM_RANGE: tuple[int, int] = (40, 220)
LOUDNESS_RANGE_LUFS: tuple[int, int] = (-30, -6)
DEFAULT_LOUDNESS_LUFS = -14.0
TRUE_PEAK_RANGE_DB: tuple[int, int] = (-9, 0)
DEFAULT_TRUE_PEAK_DB = -1.0
SEED_RANGE: tuple[int, int] = (0, 2**63 - 1)  # fits SQLite's INTEGER

MAX_TITLE_CHARS = 200
MAX_PROMPT_CHARS = 1000
MAX_LYRICS_CHARS = 5000
MAX_ARTIST_CHARS = 100
MAX_GENRES = 8
MAX_ARTISTS = 8
MAX_LANGUAGES = 8
MAX_VIDEO_STYLES = 4
MAX_JOBS = 50

DEFAULT_FORMATS: tuple[str, ...] = ("wav", "mp3")


@dataclass(frozen=True)
class VocalsSpec:
    """Which languages the lyrics are sung in, by which engine, in which register."""

    languages: tuple[str, ...] = ("en",)  # codes from musicd.music.languages.LANGUAGES
    engine: str = "auto"  # auto | espeak | coqui | none
    voice: str = "auto"  # auto | low | high


@dataclass(frozen=True)
class EnginesSpec:
    """Engine choices for the stages that have more than one."""

    melody: str = "auto"  # auto | rules | magenta
    texture: str = "auto"  # auto | none | procedural | riffusion | musicgen


@dataclass(frozen=True)
class VideoSpec:
    """A visualizer video; no styles means the genre's default style."""

    styles: tuple[str, ...] = ()  # from musicd.spec.choices.VIDEO_STYLES

    def styles_or(self, default_style: str) -> tuple[str, ...]:
        """The asked-for styles, or (default_style,) when none were named."""
        return self.styles or (default_style,)


@dataclass(frozen=True)
class OutputSpec:
    """Which files to write; "wav" is always first in `formats`."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    stems: bool = True
    midi: bool = True


@dataclass(frozen=True)
class MasterSpec:
    """Mastering targets."""

    loudness_lufs: float = DEFAULT_LOUDNESS_LUFS
    true_peak_db: float = DEFAULT_TRUE_PEAK_DB


@dataclass(frozen=True)
class JobSpec:
    """One validated job. Build it with load_spec/load_jobs/load_batch, which check it."""

    prompt: str | None = None
    genres: tuple[str, ...] = ()  # canonical names from musicd.music.genres.GENRE_NAMES
    title: str | None = None
    duration_s: float = DEFAULT_DURATION_S
    bpm: float | None = None
    key: KeySpec | None = None
    seed: int | None = None
    artist_inspiration: tuple[str, ...] = ()
    lyrics: str | None = None
    vocals: VocalsSpec = VocalsSpec()
    engines: EnginesSpec = EnginesSpec()
    video: VideoSpec | None = None
    output: OutputSpec = OutputSpec()
    master: MasterSpec = MasterSpec()

    @property
    def display_title(self) -> str:
        """The title, else the prompt's first words, else the genres ("Lofi + Hip-hop")."""
        if self.title:
            return self.title
        if self.prompt:
            words = self.prompt.split()
            short = " ".join(words[:8])
            return short if len(words) <= 8 else short.rstrip(",.;:") + "\u2026"
        return " + ".join(genre.capitalize() for genre in self.genres) or "Untitled"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the YAML's canonical field names; loading it again gives an equal spec."""
        return {
            "title": self.title,
            "prompt": self.prompt,
            "genres": list(self.genres),
            "duration": self.duration_s,
            "bpm": self.bpm,
            "key": str(self.key) if self.key else None,
            "seed": self.seed,
            "artist_inspiration": list(self.artist_inspiration),
            "lyrics": self.lyrics,
            "vocals": {
                "languages": list(self.vocals.languages),
                "engine": self.vocals.engine,
                "voice": self.vocals.voice,
            },
            "engines": {"melody": self.engines.melody, "texture": self.engines.texture},
            "video": {"styles": list(self.video.styles)} if self.video else None,
            "output": {
                "formats": list(self.output.formats),
                "stems": self.output.stems,
                "midi": self.output.midi,
            },
            "master": {
                "loudness_lufs": self.master.loudness_lufs,
                "true_peak_db": self.master.true_peak_db,
            },
        }
