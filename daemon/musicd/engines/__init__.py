"""Engines: the texture engines (procedural, Riffusion, MusicGen), the singer interface, the
registry of engine names, the `models:` settings and the resident model cache.

Importing this package is light: no numpy, no torch, diffusers or transformers. Engine
modules import when an engine is made (registry.py); the neural ones import torch only
when they first load a model.
"""

from __future__ import annotations

from musicd.engines.base import Availability, Singer, TextureEngine, TextureRequest
from musicd.engines.cache import ModelCache, ModelKey, ModelUse
from musicd.engines.registry import (
    MELODY_ENGINE_NAMES,
    SINGER_NAMES,
    TEXTURE_ENGINE_NAMES,
    make_singer,
    make_texture_engine,
)
from musicd.engines.selection import (
    EngineRow,
    TextureChoice,
    choose_texture_engine,
    engine_report,
    preload_models,
)
from musicd.engines.settings import (
    CacheSettings,
    CoquiSettings,
    EngineConfig,
    MusicGenSettings,
    RiffusionSettings,
    parse_engine_config,
)

__all__ = [
    "MELODY_ENGINE_NAMES",
    "SINGER_NAMES",
    "TEXTURE_ENGINE_NAMES",
    "Availability",
    "CacheSettings",
    "CoquiSettings",
    "EngineConfig",
    "EngineRow",
    "ModelCache",
    "ModelKey",
    "ModelUse",
    "MusicGenSettings",
    "RiffusionSettings",
    "Singer",
    "TextureChoice",
    "TextureEngine",
    "TextureRequest",
    "choose_texture_engine",
    "engine_report",
    "make_singer",
    "make_texture_engine",
    "parse_engine_config",
    "preload_models",
]
