"""What the neural texture engines (Riffusion, MusicGen) share: a local model folder, a device, the cache.

A neural engine is usable when its Python packages are installed and its model folder is
complete. Its model loads through the resident ModelCache, keyed by (engine, folder, device,
dtype); it renders at the model's own sample rate, and the result is resampled to the
request's rate, fitted to whole bars of the song and normalised. A subclass says what
differs: its settings, packages and files, how it reads the folder and how it renders.
"""

from __future__ import annotations

import importlib.util
import math
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import numpy as np
from scipy import signal

from musicd.engines.base import Availability, TextureEngine, TextureRequest
from musicd.engines.cache import ModelCache, ModelKey, ModelUse
from musicd.engines.devices import DevicePlan, is_out_of_memory, model_load_errors, plan_device
from musicd.engines.fit import fit_to_bars, normalize_peak
from musicd.engines.settings import EngineConfig, ModelSettings
from musicd.errors import ResourceMissingError

S = TypeVar("S", bound=ModelSettings)
M = TypeVar("M")  # the loaded model, as the cache holds it


class NeuralTextureEngine(TextureEngine, Generic[S, M]):
    """A texture engine with a model: settings S, loaded model M."""

    title: ClassVar[str]  # the engine in messages ("Riffusion")
    packages: ClassVar[tuple[str, ...]]  # Python packages it needs (the ml extra)
    files: ClassVar[tuple[str, ...]]  # what its model folder must hold
    model_name: ClassVar[str]  # the model it expects, in words
    folder_contents: ClassVar[str]  # what a loadable folder holds, in words

    def __init__(self, config: EngineConfig | None = None) -> None:
        super().__init__(config)
        self.settings: S = self.settings_of(self.config)

    @abstractmethod
    def settings_of(self, config: EngineConfig) -> S:
        """This engine's section of `config`."""

    @abstractmethod
    def load(self, plan: DevicePlan) -> M:
        """The model from the local folder on plan.device (see `_checked_folder`, `_reading`)."""

    @abstractmethod
    def _render(self, model: M, request: TextureRequest, plan: DevicePlan) -> tuple[np.ndarray, int]:
        """The texture, (samples,) or (samples, channels), at the model's rate; and that rate."""

    def folder_problem(self, path: Path) -> str | None:
        """Why `path` is not a usable model folder, or None."""
        return model_folder_problem(path, self.files, self.model_name)

    # ------------------------------------------------------------ availability

    def availability(self, config: EngineConfig | None = None) -> Availability:
        settings = self.settings_of(config or self.config)
        missing = package_missing(*self.packages)
        if missing:
            return Availability(
                False,
                f"the Python package {missing} is not installed "
                "(install the ml extra: pip install -e '.[ml]')",
            )
        if settings.path is None:
            return Availability(
                False,
                f"no model folder configured (set models.{self.name}.path to a local copy of {self.model_name})",
            )
        problem = self.folder_problem(settings.path)
        if problem:
            return Availability(False, problem)
        plan = plan_device(settings.device, settings.dtype)
        note = f"; {plan.note}" if plan.note else ""
        return Availability(True, f"model {settings.path} on {plan.device} ({plan.dtype}){note}", plan.device)

    # ------------------------------------------------------------ model

    def _plan_and_key(self) -> tuple[DevicePlan, ModelKey]:
        if self.settings.path is None:
            raise ResourceMissingError(f"{self.title} has no model folder: set models.{self.name}.path")
        plan = plan_device(self.settings.device, self.settings.dtype)
        return plan, ModelKey(self.name, str(self.settings.path), plan.device, plan.dtype)

    def _checked_folder(self) -> Path:
        """The configured model folder; ResourceMissingError when it is absent or incomplete."""
        path = self.settings.path
        problem = "no path" if path is None else self.folder_problem(path)
        if path is None or problem:
            raise ResourceMissingError(f"{self.title} cannot load: {problem}")
        return path

    @contextmanager
    def _reading(self, path: Path) -> Iterator[None]:
        """Turn a folder that does not load into a ResourceMissingError naming it (OOM passes)."""
        try:
            yield
        except model_load_errors() as error:
            if is_out_of_memory(error):
                raise
            raise ResourceMissingError(
                f"{self.title} model folder {path} could not be loaded ({type(error).__name__}: {error}); "
                f"it should hold {self.model_name}: {self.folder_contents}"
            ) from error

    def size_hint(self) -> int:
        """The model's size before loading it (its weight files), for the cache's budget."""
        path = self.settings.path
        return folder_weight_bytes(path) if path is not None else 0

    def preload(self, cache: ModelCache) -> ModelUse:
        plan, key = self._plan_and_key()
        return cache.preload(key, lambda: self.load(plan), self.size_hint())

    # ------------------------------------------------------------ generation

    def generate(self, request: TextureRequest, cache: ModelCache) -> np.ndarray:
        plan, key = self._plan_and_key()
        audio, rate = cache.run(
            key, lambda: self.load(plan), lambda model: self._render(model, request, plan), self.size_hint()
        )
        if rate != request.sample_rate:
            divisor = math.gcd(rate, request.sample_rate)
            audio = signal.resample_poly(audio, request.sample_rate // divisor, rate // divisor, axis=0)
        fitted = fit_to_bars(audio, request.sample_rate, request.tempo_bpm, request.meter, request.n_samples)
        return normalize_peak(fitted)


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
