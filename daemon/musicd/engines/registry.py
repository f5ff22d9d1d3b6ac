"""Every engine by name: texture engines, melody writers and singers, and where each class lives.

The one list of engine names: the spec's choices (spec/choices.py), the `models:` settings,
the texture engine choice and the vocals stage all read it. A new engine is a line here and
its class. Classes import on first use, so torch and its kin load only when a model runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from musicd.engines.base import Singer, TextureEngine
    from musicd.engines.cache import ModelCache
    from musicd.engines.settings import EngineConfig

# name -> "module:Class" (a TextureEngine built from the EngineConfig)
TEXTURE_ENGINE_CLASSES: dict[str, str] = {
    "procedural": "musicd.engines.texture_procedural:ProceduralTextureEngine",
    "riffusion": "musicd.engines.riffusion:RiffusionEngine",
    "musicgen": "musicd.engines.musicgen:MusicGenEngine",
}
TEXTURE_ENGINE_NAMES: tuple[str, ...] = tuple(TEXTURE_ENGINE_CLASSES)
# Engines with a model: preloadable, and `auto` takes them only on a GPU (unless allowed on the CPU).
NEURAL_TEXTURE_ENGINES: tuple[str, ...] = ("riffusion", "musicgen")
DEFAULT_TEXTURE_ORDER: tuple[str, ...] = ("riffusion", "musicgen", "procedural")

# Melody writers. `rules` is the composer; `magenta` is the melody RNN in its sidecar
# (melody_magenta.py), resolved with `auto` in melody_choice.py.
MELODY_ENGINE_NAMES: tuple[str, ...] = ("rules", "magenta")

# name -> "module:Class" (a Singer built from the EngineConfig and the model cache), best first:
# `auto` takes the first usable one, a singer that is unusable or fails falls back to those after it.
# coqui runs only with a model folder a person configured; piper (neural, English) sounds most
# like a singer; mbrola (diphones, many languages) takes pitches natively; espeak sings everything.
SINGER_CLASSES: dict[str, str] = {
    "coqui": "musicd.vocals.coqui:CoquiSinger",
    "piper": "musicd.vocals.piper:PiperSinger",
    "mbrola": "musicd.vocals.mbrola:MbrolaSinger",
    "espeak": "musicd.vocals.espeak:EspeakSinger",
}
SINGER_NAMES: tuple[str, ...] = tuple(SINGER_CLASSES)


def make_texture_engine(name: str, config: EngineConfig) -> TextureEngine:
    """A fresh texture engine by name (its module imports now: torch only when a model runs)."""
    from musicd.engines.base import TextureEngine

    found = _find_class(TEXTURE_ENGINE_CLASSES, name, "texture engine")
    if not issubclass(found, TextureEngine):
        raise TypeError(f"{TEXTURE_ENGINE_CLASSES[name]} is not a TextureEngine")
    return found(config)


def make_singer(name: str, config: EngineConfig, cache: ModelCache | None = None) -> Singer:
    """A fresh singer by name; `cache` holds its model, if it has one (None: a private copy)."""
    from musicd.engines.base import Singer

    found = _find_class(SINGER_CLASSES, name, "singer")
    if not issubclass(found, Singer):
        raise TypeError(f"{SINGER_CLASSES[name]} is not a Singer")
    return found(config, cache)


def _find_class(classes: dict[str, str], name: str, what: str) -> type:
    if name not in classes:
        raise KeyError(f"unknown {what} {name!r}; known: {', '.join(classes)}")
    module_name, class_name = classes[name].split(":")
    found = getattr(importlib.import_module(module_name), class_name)
    if not isinstance(found, type):
        raise TypeError(f"{classes[name]} is not a class")
    return found
