"""Texture engines (procedural, Riffusion, MusicGen) and the resident model cache.

Importing this package never imports torch, diffusers or transformers; the neural
engines import them when they first load a model.
"""

from __future__ import annotations

from musicd.engines.base import (
    TEXTURE_CHOICES,
    TEXTURE_ENGINE_NAMES,
    Availability,
    CacheSettings,
    EngineConfig,
    MusicGenSettings,
    RiffusionSettings,
    TextureChoice,
    TextureEngine,
    TextureRequest,
    choose_texture_engine,
    engine_report,
    make_texture_engine,
    parse_engine_config,
    preload_models,
)
from musicd.engines.cache import ModelCache, ModelKey, ModelUse
from musicd.engines.texture_procedural import texture_level_db

__all__ = [
    "Availability",
    "CacheSettings",
    "EngineConfig",
    "ModelCache",
    "ModelKey",
    "ModelUse",
    "MusicGenSettings",
    "RiffusionSettings",
    "TEXTURE_CHOICES",
    "TEXTURE_ENGINE_NAMES",
    "TextureChoice",
    "TextureEngine",
    "TextureRequest",
    "choose_texture_engine",
    "engine_report",
    "make_texture_engine",
    "parse_engine_config",
    "preload_models",
    "texture_level_db",
]
