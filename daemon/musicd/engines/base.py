"""The texture engine interface, the engine settings (`models:` in the config) and the registry.

A texture engine turns a TextureRequest (the planned song: tempo, key, sections, length)
into a stereo float32 layer exactly as long as the song. `procedural` needs nothing and
is always usable; `riffusion` and `musicgen` need the `ml` extra and a local model folder.

The `models:` mapping of the service configuration (all keys optional):

    models:
      riffusion: /srv/models/riffusion-model-v1        # a path, or a mapping:
      # riffusion: {path: ..., device: auto, steps: 25, guidance_scale: 7.0,
      #             img2img_strength: 0.55, clip_width_px: 512, max_clips: 0,
      #             griffin_lim_iters: 32}
      musicgen: {path: /srv/models/musicgen-small, window_s: 30, prompt_s: 10}
      cache: {budget_gb: 8, reserve_gb: 1.5, keep_alive_s: 0, preload: [riffusion]}
      texture_auto_order: [riffusion, musicgen, procedural]
      texture_auto_on_cpu: false

`engines.texture: auto` walks `texture_auto_order` and takes the first usable engine.
A neural engine counts for `auto` only when it runs on a GPU (one 5 s Riffusion clip takes
minutes on a CPU), unless `texture_auto_on_cpu: true`; asked for by name it runs anyway.
With no model folders configured, `auto` therefore means `procedural`.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from musicd.errors import ConfigError
from musicd.music.sections import Section

if TYPE_CHECKING:
    from musicd.engines.cache import ModelCache

log = logging.getLogger(__name__)

TEXTURE_ENGINE_NAMES: tuple[str, ...] = ("procedural", "riffusion", "musicgen")
TEXTURE_CHOICES: tuple[str, ...] = ("auto", "none", *TEXTURE_ENGINE_NAMES)
NEURAL_ENGINE_NAMES: tuple[str, ...] = ("riffusion", "musicgen")
DEFAULT_AUTO_ORDER: tuple[str, ...] = ("riffusion", "musicgen", "procedural")
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DTYPE_CHOICES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")

_ENGINE_FACTORIES: dict[str, str] = {
    "procedural": "musicd.engines.texture_procedural:ProceduralTextureEngine",
    "riffusion": "musicd.engines.riffusion:RiffusionEngine",
    "musicgen": "musicd.engines.musicgen:MusicGenEngine",
}


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


@runtime_checkable
class TextureEngine(Protocol):
    name: str

    def availability(self, config: EngineConfig) -> Availability: ...

    def generate(self, request: TextureRequest, cache: ModelCache) -> np.ndarray:
        """float32 (request.n_samples, 2) at request.sample_rate, peaks near -12 dBFS."""
        ...


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class RiffusionSettings:
    path: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    steps: int = 25
    guidance_scale: float = 7.0
    img2img_strength: float = 0.55
    clip_width_px: int = 512  # 512 px = 5.12 s of audio
    max_clips: int = 0  # 0: as many as the song needs; more than 0: loop that many
    griffin_lim_iters: int = 32
    negative_prompt: str = ""


@dataclass(frozen=True)
class MusicGenSettings:
    path: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    window_s: float = 30.0  # one generate() call; MusicGen was trained on 30 s
    prompt_s: float = 10.0  # tail of the audio fed back as the next window's prompt
    guidance_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    max_windows: int = 0  # 0: as many as the song needs; more than 0: loop the result


@dataclass(frozen=True)
class CoquiSettings:
    path: Path | None = None  # a Coqui TTS model folder (config.json + checkpoint) for vocals


@dataclass(frozen=True)
class CacheSettings:
    budget_gb: float = 8.0  # models resident in RAM (CPU device)
    reserve_gb: float = 1.5  # GPU memory kept free for working memory
    keep_alive_s: float = 0.0  # unload a model idle this long; 0 = keep until evicted
    preload: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineConfig:
    riffusion: RiffusionSettings = RiffusionSettings()
    musicgen: MusicGenSettings = MusicGenSettings()
    coqui: CoquiSettings = CoquiSettings()
    cache: CacheSettings = CacheSettings()
    texture_auto_order: tuple[str, ...] = DEFAULT_AUTO_ORDER
    texture_auto_on_cpu: bool = False


_SECTION_TYPES: dict[str, type] = {
    "riffusion": RiffusionSettings,
    "musicgen": MusicGenSettings,
    "coqui": CoquiSettings,
    "cache": CacheSettings,
}
_TOP_LEVEL_KEYS = (*_SECTION_TYPES, "texture_auto_order", "texture_auto_on_cpu")


def _read_path(value: Any, where: str, base_dir: Path | None, problems: list[str]) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, Path)):
        problems.append(f"{where}: expected a folder path, got {value!r}")
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def _read_section(kind: Any, data: Any, where: str, base_dir: Path | None, problems: list[str]) -> Any:
    if data is None:
        return kind()
    if isinstance(data, (str, Path)) and "path" in kind.__dataclass_fields__:
        data = {"path": data}
    if not isinstance(data, Mapping):
        problems.append(f"{where}: expected a mapping (or a model folder path), got {data!r}")
        return kind()
    fields = kind.__dataclass_fields__
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{where}.{key}: unknown key; allowed: {', '.join(fields)}")
            continue
        default = fields[key].default
        spot = f"{where}.{key}"
        if key == "path":
            values[key] = _read_path(value, spot, base_dir, problems)
        elif key == "preload":
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, (list, tuple)) or any(n not in NEURAL_ENGINE_NAMES for n in names):
                problems.append(f"{spot}: expected a list of {', '.join(NEURAL_ENGINE_NAMES)}, got {value!r}")
            else:
                values[key] = tuple(names)
        elif key in ("device", "dtype"):
            allowed = DEVICE_CHOICES if key == "device" else DTYPE_CHOICES
            if value not in allowed:
                problems.append(f"{spot}: {value!r} is not one of {', '.join(allowed)}")
            else:
                values[key] = value
        elif isinstance(default, str):
            values[key] = str(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"{spot}: expected true or false, got {value!r}")
            else:
                values[key] = value
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                problems.append(f"{spot}: expected a number 0 or more, got {value!r}")
            elif isinstance(default, int) and not float(value).is_integer():
                problems.append(f"{spot}: expected a whole number, got {value!r}")
            else:
                values[key] = type(default)(value)
    settings = kind(**values)
    _check_ranges(settings, where, problems)
    return settings


def _check_ranges(settings: Any, where: str, problems: list[str]) -> None:
    if isinstance(settings, RiffusionSettings):
        if settings.steps < 1:
            problems.append(f"{where}.steps: at least 1")
        if not 0.0 < settings.img2img_strength <= 1.0:
            problems.append(f"{where}.img2img_strength: between 0 (exclusive) and 1")
        if settings.clip_width_px < 64 or settings.clip_width_px % 8:
            problems.append(f"{where}.clip_width_px: a multiple of 8, at least 64 (512 = 5.12 s)")
    if isinstance(settings, MusicGenSettings):
        if settings.window_s < 1.0:
            problems.append(f"{where}.window_s: at least 1 second")
        if not 0.0 < settings.prompt_s < settings.window_s:
            problems.append(f"{where}.prompt_s: more than 0 and less than window_s")


def parse_engine_config(models: Mapping[str, Any] | None, base_dir: Path | None = None) -> EngineConfig:
    """Read the config's `models:` mapping; every problem at once as a ConfigError.

    Relative model paths resolve against `base_dir` (the config file's folder) when given.
    """
    problems: list[str] = []
    data = dict(models or {})
    sections: dict[str, Any] = {}
    for name, kind in _SECTION_TYPES.items():
        sections[name] = _read_section(kind, data.pop(name, None), f"models.{name}", base_dir, problems)
    order = data.pop("texture_auto_order", DEFAULT_AUTO_ORDER)
    if isinstance(order, str):
        order = [order]
    if not isinstance(order, (list, tuple)) or any(n not in TEXTURE_ENGINE_NAMES for n in order):
        problems.append(
            f"models.texture_auto_order: expected a list of {', '.join(TEXTURE_ENGINE_NAMES)}, got {order!r}"
        )
        order = DEFAULT_AUTO_ORDER
    on_cpu = data.pop("texture_auto_on_cpu", False)
    if not isinstance(on_cpu, bool):
        problems.append(f"models.texture_auto_on_cpu: expected true or false, got {on_cpu!r}")
        on_cpu = False
    for key in data:
        close = difflib.get_close_matches(str(key), _TOP_LEVEL_KEYS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problems.append(f"models.{key}: unknown key; {hint}allowed: {', '.join(_TOP_LEVEL_KEYS)}")
    if problems:
        raise ConfigError(problems, source="models")
    return EngineConfig(texture_auto_order=tuple(order), texture_auto_on_cpu=on_cpu, **sections)


# ---------------------------------------------------------------- registry


def make_texture_engine(name: str, config: EngineConfig) -> TextureEngine:
    """A fresh engine by name (lazy import: torch loads only when a neural engine runs)."""
    if name not in _ENGINE_FACTORIES:
        raise KeyError(f"unknown texture engine {name!r}; known: {', '.join(TEXTURE_ENGINE_NAMES)}")
    module_name, class_name = _ENGINE_FACTORIES[name].split(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    return factory(config)


class TextureChoice(NamedTuple):
    """The engine to run (None: no texture), the name that runs, and why."""

    engine: TextureEngine | None
    used: str
    reason: str

    def as_record(self, asked: str) -> dict[str, str]:
        """The manifest's `engines.texture` entry."""
        return {"asked": asked, "used": self.used, "reason": self.reason}


def _auto_pick(
    config: EngineConfig, order: tuple[str, ...], skip: str | None, notes: list[str]
) -> tuple[TextureEngine, str]:
    for name in order:
        if name == skip:
            continue
        engine = make_texture_engine(name, config)
        status = engine.availability(config)
        if not status.usable:
            notes.append(f"{name} unusable: {status.reason}")
            continue
        if name in NEURAL_ENGINE_NAMES and status.device == "cpu" and not config.texture_auto_on_cpu:
            notes.append(
                f"{name} skipped: no GPU, it would run slowly on the CPU "
                "(set models.texture_auto_on_cpu: true to allow)"
            )
            continue
        return engine, name
    return make_texture_engine("procedural", config), "procedural"


def choose_texture_engine(
    asked: str, engine_config: EngineConfig | None = None, auto_order: tuple[str, ...] | None = None
) -> TextureChoice:
    """Resolve `engines.texture` (auto | none | procedural | riffusion | musicgen) to an engine.

    An engine asked for by name that is unusable falls back along the auto order; the
    reason says what was asked, what ran and why. `procedural` is the last resort.
    """
    config = engine_config or EngineConfig()
    order = tuple(auto_order) if auto_order is not None else config.texture_auto_order
    notes: list[str] = []
    if asked == "none":
        return TextureChoice(None, "none", "texture disabled by the spec (engines.texture: none)")
    if asked == "auto":
        engine, used = _auto_pick(config, order, None, notes)
        why = f"auto picked {used}" + (f" ({'; '.join(notes)})" if notes else "")
        return TextureChoice(engine, used, why)
    if asked not in TEXTURE_ENGINE_NAMES:
        engine, used = _auto_pick(config, order, None, notes)
        return TextureChoice(engine, used, f"unknown texture engine {asked!r}; fell back to {used}")
    engine = make_texture_engine(asked, config)
    status = engine.availability(config)
    if status.usable:
        return TextureChoice(engine, asked, f"{asked} as asked ({status.reason})")
    engine, used = _auto_pick(config, order, asked, notes)
    why = f"{asked} asked for but unusable: {status.reason}; fell back to {used}"
    if notes:
        why += f" ({'; '.join(notes)})"
    log.warning("texture: %s", why)
    return TextureChoice(engine, used, why)


def engine_report(config: EngineConfig | None = None) -> list[dict[str, Any]]:
    """One entry per texture engine for `musicd doctor`: name, usable, device, reason."""
    config = config or EngineConfig()
    report = []
    for name in TEXTURE_ENGINE_NAMES:
        status = make_texture_engine(name, config).availability(config)
        reason = status.reason
        if status.usable and name in NEURAL_ENGINE_NAMES and status.device == "cpu":
            reason += "; no GPU: runs on the CPU, slowly"
        report.append({"engine": name, "usable": status.usable, "device": status.device, "reason": reason})
    return report


def package_missing(*modules: str) -> str | None:
    """The first of `modules` that is not installed (found without importing it), or None."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def model_folder_problem(path: Path, expected: tuple[str, ...], what: str) -> str | None:
    """Why `path` is not a usable model folder (naming the path and the missing files), or None."""
    if not path.exists():
        return f"model folder {path} does not exist (expected a local copy of {what})"
    if not path.is_dir():
        return f"model path {path} is not a folder (expected a local copy of {what})"
    missing = [name for name in expected if not (path / name).exists()]
    if missing:
        return (
            f"model folder {path} is incomplete: missing {', '.join(missing)} "
            f"(expected a local copy of {what} with {', '.join(expected)})"
        )
    return None


def folder_weight_bytes(path: Path) -> int:
    """Bytes of weight files under a model folder, one format per sub-folder (a size estimate)."""
    total = 0
    folders = [path, *(p for p in path.iterdir() if p.is_dir())] if path.is_dir() else []
    for folder in folders:
        for pattern in ("*.safetensors", "*.bin"):
            files = [f for f in folder.glob(pattern) if ".fp16." not in f.name]
            if files:
                total += sum(f.stat().st_size for f in files)
                break
    return total


def preload_models(cache: ModelCache, config: EngineConfig) -> list[dict[str, Any]]:
    """Load the `models.cache.preload` engines' models into `cache` (the worker, before ready).

    An engine that cannot load is logged and reported, never fatal: jobs fall back to
    procedural texture. One entry per engine: engine, loaded, and load_s or reason.
    """
    from musicd.errors import MusicdError

    results: list[dict[str, Any]] = []
    for name in config.cache.preload:
        engine = make_texture_engine(name, config)
        status = engine.availability(config)
        if not status.usable:
            log.warning("preload of %s skipped: %s", name, status.reason)
            results.append({"engine": name, "loaded": False, "reason": status.reason})
            continue
        try:
            use = engine.preload(cache)  # type: ignore[attr-defined]
        except MusicdError as error:
            log.warning("preload of %s failed: %s", name, error)
            results.append({"engine": name, "loaded": False, "reason": str(error)})
            continue
        results.append({"engine": name, "loaded": True, **use.to_dict()})
    return results
