"""Which texture engine runs: `engines.texture` resolved, the doctor's report and start-up preloading.

`auto` walks `models.texture_auto_order` and takes the first usable engine; a neural engine
counts only on a GPU unless `models.texture_auto_on_cpu` allows the CPU. An engine asked for
by name that is unusable falls back along the same order; `procedural` is the last resort.
"""

from __future__ import annotations

import logging
from typing import NamedTuple, TypedDict

from musicd.engines.base import TextureEngine
from musicd.engines.cache import ModelCache
from musicd.engines.registry import NEURAL_TEXTURE_ENGINES, TEXTURE_ENGINE_NAMES, make_texture_engine
from musicd.engines.settings import EngineConfig
from musicd.errors import MusicdError

log = logging.getLogger(__name__)


class TextureChoice(NamedTuple):
    """The engine to run (None: no texture), the name that runs, and why."""

    engine: TextureEngine | None
    used: str
    reason: str

    def as_record(self, asked: str) -> dict[str, str]:
        """The manifest's `engines.texture` entry."""
        return {"asked": asked, "used": self.used, "reason": self.reason}


class EngineRow(TypedDict):
    """One texture engine in `musicd doctor`."""

    engine: str
    usable: bool
    device: str
    reason: str


def choose_texture_engine(
    asked: str, engine_config: EngineConfig | None = None, auto_order: tuple[str, ...] | None = None
) -> TextureChoice:
    """Resolve `engines.texture` (auto, none or an engine's name) to an engine.

    The reason says what was asked, what runs and why.
    """
    config = engine_config or EngineConfig()
    order = tuple(auto_order) if auto_order is not None else config.texture_auto_order
    notes: list[str] = []
    if asked == "none":
        return TextureChoice(None, "none", "texture disabled by the spec (engines.texture: none)")
    if asked == "auto":
        engine = _auto_pick(config, order, None, notes)
        why = f"auto picked {engine.name}" + (f" ({'; '.join(notes)})" if notes else "")
        return TextureChoice(engine, engine.name, why)
    if asked not in TEXTURE_ENGINE_NAMES:
        engine = _auto_pick(config, order, None, notes)
        return TextureChoice(
            engine, engine.name, f"unknown texture engine {asked!r}; fell back to {engine.name}"
        )
    engine = make_texture_engine(asked, config)
    status = engine.availability(config)
    if status.usable:
        return TextureChoice(engine, asked, f"{asked} as asked ({status.reason})")
    engine = _auto_pick(config, order, asked, notes)
    why = f"{asked} asked for but unusable: {status.reason}; fell back to {engine.name}"
    if notes:
        why += f" ({'; '.join(notes)})"
    log.warning("texture: %s", why)
    return TextureChoice(engine, engine.name, why)


def _auto_pick(
    config: EngineConfig, order: tuple[str, ...], skip: str | None, notes: list[str]
) -> TextureEngine:
    """The first usable engine of `order` but `skip` (procedural when none is); `notes` say why not."""
    for name in order:
        if name == skip:
            continue
        engine = make_texture_engine(name, config)
        status = engine.availability(config)
        if not status.usable:
            notes.append(f"{name} unusable: {status.reason}")
            continue
        if name in NEURAL_TEXTURE_ENGINES and status.device == "cpu" and not config.texture_auto_on_cpu:
            notes.append(
                f"{name} skipped: no GPU, it would run slowly on the CPU "
                "(set models.texture_auto_on_cpu: true to allow)"
            )
            continue
        return engine
    return make_texture_engine("procedural", config)


def engine_report(config: EngineConfig | None = None) -> list[EngineRow]:
    """One entry per texture engine for `musicd doctor`: engine, usable, device, reason."""
    config = config or EngineConfig()
    report: list[EngineRow] = []
    for name in TEXTURE_ENGINE_NAMES:
        status = make_texture_engine(name, config).availability(config)
        reason = status.reason
        if status.usable and name in NEURAL_TEXTURE_ENGINES and status.device == "cpu":
            reason += "; no GPU: runs on the CPU, slowly"
        report.append({"engine": name, "usable": status.usable, "device": status.device, "reason": reason})
    return report


def preload_models(cache: ModelCache, config: EngineConfig) -> list[dict[str, object]]:
    """Load the `models.cache.preload` engines' models into `cache` (the worker, before ready).

    An engine that cannot load is logged and reported, never fatal: jobs fall back to
    procedural texture. One entry per engine: engine, loaded, and load_s or reason.
    """
    results: list[dict[str, object]] = []
    for name in config.cache.preload:
        engine = make_texture_engine(name, config)
        status = engine.availability(config)
        if not status.usable:
            log.warning("preload of %s skipped: %s", name, status.reason)
            results.append({"engine": name, "loaded": False, "reason": status.reason})
            continue
        try:
            use = engine.preload(cache)
        except MusicdError as error:
            log.warning("preload of %s failed: %s", name, error)
            results.append({"engine": name, "loaded": False, "reason": str(error)})
            continue
        if use is None:
            results.append({"engine": name, "loaded": False, "reason": "it has no model to load"})
            continue
        results.append({"engine": name, "loaded": True, **use.to_dict()})
    return results
