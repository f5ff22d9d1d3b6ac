"""The engine settings: the `models:` mapping of the service configuration, read and checked.

All keys are optional:

    models:
      riffusion: /srv/models/riffusion-model-v1        # a path, or a mapping:
      # riffusion: {path: ..., device: auto, steps: 25, guidance_scale: 7.0,
      #             img2img_strength: 0.55, clip_width_px: 512, max_clips: 0,
      #             griffin_lim_iters: 32}
      musicgen: {path: /srv/models/musicgen-small, window_s: 30, prompt_s: 10}
      coqui: /srv/models/tts-vits                     # a Coqui TTS folder for the vocals
      cache: {budget_gb: 8, reserve_gb: 1.5, keep_alive_s: 0, preload: [riffusion]}
      texture_auto_order: [riffusion, musicgen, procedural]
      texture_auto_on_cpu: false

`engines.texture: auto` walks `texture_auto_order` and takes the first usable engine.
A neural engine counts for `auto` only when it runs on a GPU (one 5 s Riffusion clip takes
minutes on a CPU), unless `texture_auto_on_cpu: true`; asked for by name it runs anyway.
With no model folders configured, `auto` therefore means `procedural`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from musicd.engines.registry import DEFAULT_TEXTURE_ORDER, NEURAL_TEXTURE_ENGINES, TEXTURE_ENGINE_NAMES
from musicd.errors import ConfigError
from musicd.text import closest

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DTYPE_CHOICES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")

T = TypeVar("T")
S = TypeVar("S", bound="DataclassInstance")


@dataclass(frozen=True)
class ModelSettings:
    """A neural engine's local model folder and where it runs."""

    path: Path | None = None
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True)
class RiffusionSettings(ModelSettings):
    steps: int = 25
    guidance_scale: float = 7.0
    img2img_strength: float = 0.55
    clip_width_px: int = 512  # 512 px = 5.12 s of audio
    max_clips: int = 0  # 0: as many as the song needs; more than 0: loop that many
    griffin_lim_iters: int = 32
    negative_prompt: str = ""


@dataclass(frozen=True)
class MusicGenSettings(ModelSettings):
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
    texture_auto_order: tuple[str, ...] = DEFAULT_TEXTURE_ORDER
    texture_auto_on_cpu: bool = False


_TOP_LEVEL_KEYS = tuple(f.name for f in fields(EngineConfig))


def parse_engine_config(models: Mapping[str, object] | None, base_dir: Path | None = None) -> EngineConfig:
    """Read the config's `models:` mapping; every problem at once as a ConfigError.

    Relative model paths resolve against `base_dir` (the config file's folder) when given.
    """
    problems: list[str] = []
    data = dict(models or {})

    def section(key: str, default: S) -> S:
        return _read_section(default, data.pop(key, None), f"models.{key}", base_dir, problems)

    def top(key: str, read: Callable[[object, str], T], default: T) -> T:
        if key not in data:
            return default
        try:
            return read(data.pop(key), f"models.{key}")
        except _Invalid as problem:
            problems.append(str(problem))
            return default

    config = EngineConfig(
        riffusion=section("riffusion", RiffusionSettings()),
        musicgen=section("musicgen", MusicGenSettings()),
        coqui=section("coqui", CoquiSettings()),
        cache=section("cache", CacheSettings()),
        texture_auto_order=top(
            "texture_auto_order", lambda v, spot: _names(v, spot, TEXTURE_ENGINE_NAMES), DEFAULT_TEXTURE_ORDER
        ),
        texture_auto_on_cpu=top("texture_auto_on_cpu", _flag, False),
    )
    for key in data:
        close = closest(str(key), _TOP_LEVEL_KEYS)
        hint = f"did you mean {close[0]}? " if close else ""
        problems.append(f"models.{key}: unknown key; {hint}allowed: {', '.join(_TOP_LEVEL_KEYS)}")
    if problems:
        raise ConfigError(problems, source="models")
    return config


class _Invalid(ValueError):
    """A value that does not fit its key; the message is the problem, naming the key."""


def _read_section(default: S, data: object, where: str, base_dir: Path | None, problems: list[str]) -> S:
    """`default` with the keys of `data` (a mapping, or a model folder path) applied."""
    if data is None:
        return default
    keys = [f.name for f in fields(default)]
    if isinstance(data, (str, Path)) and "path" in keys:
        data = {"path": data}
    if not isinstance(data, Mapping):
        problems.append(f"{where}: expected a mapping (or a model folder path), got {data!r}")
        return default
    values: dict[str, object] = {}
    for key, value in data.items():
        spot = f"{where}.{key}"
        if key not in keys:
            problems.append(f"{spot}: unknown key; allowed: {', '.join(keys)}")
            continue
        try:
            values[key] = _value(key, getattr(default, key), value, spot, base_dir)
        except _Invalid as problem:
            problems.append(str(problem))
    settings = replace(default, **values)
    problems.extend(_range_problems(settings, where))
    return settings


def _value(key: str, default: object, value: object, spot: str, base_dir: Path | None) -> object:
    """`value` checked and converted for the field `key`, whose default is `default`."""
    if key == "path":
        return _path(value, spot, base_dir)
    if key == "preload":
        return _names(value, spot, NEURAL_TEXTURE_ENGINES)
    if key in ("device", "dtype"):
        allowed = DEVICE_CHOICES if key == "device" else DTYPE_CHOICES
        if value not in allowed:
            raise _Invalid(f"{spot}: {value!r} is not one of {', '.join(allowed)}")
        return value
    if isinstance(default, bool):
        return _flag(value, spot)
    if isinstance(default, str):
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _Invalid(f"{spot}: expected a number 0 or more, got {value!r}")
    if isinstance(default, int):
        if not float(value).is_integer():
            raise _Invalid(f"{spot}: expected a whole number, got {value!r}")
        return int(value)
    return float(value)


def _path(value: object, spot: str, base_dir: Path | None) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, Path)):
        raise _Invalid(f"{spot}: expected a folder path, got {value!r}")
    path = Path(value).expanduser()
    return base_dir / path if base_dir is not None and not path.is_absolute() else path


def _names(value: object, spot: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or any(n not in allowed for n in names):
        raise _Invalid(f"{spot}: expected a list of {', '.join(allowed)}, got {value!r}")
    return tuple(names)


def _flag(value: object, spot: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{spot}: expected true or false, got {value!r}")
    return value


def _range_problems(settings: object, where: str) -> list[str]:
    problems = []
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
    return problems
