"""The engine interfaces: a texture engine renders the layer under the song, a singer sings the lyrics.

A texture engine turns a TextureRequest (the planned song: tempo, key, sections, length) into
a stereo float32 layer exactly as long as the song. A singer turns a VocalLine into the dry
vocal take. Either says first whether it can run here (Availability); registry.py names them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from musicd.engines.settings import EngineConfig

if TYPE_CHECKING:
    import numpy as np

    from musicd.engines.cache import ModelCache, ModelUse
    from musicd.music.sections import Section
    from musicd.vocals.melody import VocalLine


@dataclass(frozen=True)
class TextureRequest:
    """What the texture stage knows about the planned song."""

    prompt: str
    genres: tuple[str, ...]
    moods: tuple[str, ...]
    tempo_bpm: float
    key_tonic: str
    mode: str
    meter: tuple[int, int]
    sections: tuple[Section, ...]
    duration_s: float  # the song's musical length (whole bars)
    sample_rate: int = 44100
    seed: int = 1

    @property
    def n_samples(self) -> int:
        """The length every engine returns, in samples."""
        return int(round(self.duration_s * self.sample_rate))

    @property
    def bar_s(self) -> float:
        numerator, denominator = self.meter
        return numerator * (4.0 / denominator) * 60.0 / self.tempo_bpm


@dataclass(frozen=True)
class Availability:
    """Whether an engine can run here, why (or why not), and on which device it would run."""

    usable: bool
    reason: str
    device: str = "cpu"


class TextureEngine(ABC):
    """Renders the texture layer; `name` is its registry name."""

    name: ClassVar[str]

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()

    @abstractmethod
    def availability(self, config: EngineConfig | None = None) -> Availability:
        """Whether it can run with `config` (default: its own) and on which device."""

    @abstractmethod
    def generate(self, request: TextureRequest, cache: ModelCache) -> np.ndarray:
        """float32 (request.n_samples, 2) at request.sample_rate, peaks near -12 dBFS."""

    @abstractmethod
    def preload(self, cache: ModelCache) -> ModelUse | None:
        """Load its model into `cache` before the first job; None when it has no model."""


class Singer(ABC):
    """Sings a vocal line; `name` is its registry name, `label` how reasons call it."""

    name: ClassVar[str]
    label: ClassVar[str]

    def __init__(self, config: EngineConfig | None = None, cache: ModelCache | None = None) -> None:
        self.config = config or EngineConfig()
        self.cache = cache

    @abstractmethod
    def availability(self) -> Availability:
        """Usable: why it suits (what `auto` says when it picks it); else what is missing."""

    def supports(self, language: str) -> str | None:
        """None when it can sing `language` (a code such as en), else why not."""
        return None

    def voice_for(self, language: str, register: str) -> tuple[str, str]:
        """(voice, licence) it sings `language` with in `register` (low/high), for the manifest."""
        return self.label, ""

    @abstractmethod
    def sing(self, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
        """The dry take: mono float32, `n_samples` long at `sample_rate`.

        Raises ResourceMissingError or ModelOutOfMemoryError when its model cannot sing.
        """
