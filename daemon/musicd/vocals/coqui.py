"""Optional speech engine: a Coqui TTS model (the maintained `coqui-tts` package, `ml` extra)
from a local folder, sung through the same transform as espeak-ng (daemon/vocals/singing.py).

The folder holds `config.json` and one checkpoint (`model.pth`, `best_model*.pth`, ...), as
coqui-tts' trainer writes them; nothing is ever downloaded. The model is loaded through the
resident model cache (musicd.engines.cache) under ModelKey("coqui", folder, device,
"float32"), so it stays loaded between jobs, counts against the memory budget and gets the
cache's out-of-memory policy (unload everything, retry once). It runs on CUDA when torch sees a
GPU, else on the CPU (one torch thread, see musicd.engines.devices). Each word is spoken on
its own (multi-speaker models: the first speaker name sorted for the low register, the last for
the high one; multilingual models: the model's language matching the line's language code).

coqui-tts imports `torchaudio` at module level and, with torch >= 2.9, refuses to import without
`torchcodec`. Both are needed where this engine runs for real (GPU machines with the CUDA torch
build). Where they do not import, `coqui_unavailable_reason` says so and the vocals stage falls
back to espeak-ng with that reason; a folder that fails to load falls back the same way.
CoquiSinger is this engine behind the Singer interface (musicd.engines.base).

What the tests cover (tests/test_vocals_coqui.py): a small random-weight VITS model built with
coqui-tts' own classes and saved as a model folder, loaded through this module and the model
cache by coqui-tts' Synthesizer, and sung through `sing()`: real coqui-tts text processing,
VITS inference and HiFi-GAN decoding, the singing transform, timing against the notes, cache
hits on a second job and the manifest record. On CPU machines without torchaudio/torchcodec the
test puts a test-only stand-in for those two imports on sys.path (tests/stubs_torchaudio/);
VITS inference does not call them. Not covered on CPU: the real torchaudio/torchcodec, CUDA,
and what a trained model sounds like (random weights speak noise-like audio, so pitch accuracy
is only meaningful with espeak-ng or a trained model).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicd.engines.base import Availability, Singer
from musicd.errors import ResourceMissingError
from musicd.vocals.espeak import trim_silence

if TYPE_CHECKING:
    from musicd.engines.cache import ModelCache
    from musicd.engines.settings import EngineConfig
    from musicd.vocals.melody import VocalLine

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")
DTYPE = "float32"  # VITS-style models are small; half precision saves little and risks artefacts
# (installed package, module to import): coqui-tts' own import checks torchaudio and torchcodec
REQUIRED_MODULES = (
    ("torch", "torch"),
    ("torchaudio", "torchaudio"),
    ("torchcodec", None),
    ("TTS", "TTS.utils.synthesizer"),
)
INSTALL_HINT = "install the ml extra (pip install 'musicd[ml]') with torchaudio and torchcodec"

_importable: set[str] = set()  # modules that imported once (failures are checked again)


def model_files(model_dir: Path) -> tuple[Path, Path] | None:
    """(checkpoint, config.json) in a model folder, or None."""
    config = model_dir / CONFIG_NAME
    checkpoints = sorted(
        p
        for p in model_dir.iterdir()
        if p.suffix in CHECKPOINT_SUFFIXES and not p.name.startswith(("speakers", "language"))
    )
    if not config.is_file() or not checkpoints:
        return None
    best = [p for p in checkpoints if p.stem.startswith(("best_model", "model"))] or checkpoints
    return best[0], config


def import_problem() -> str | None:
    """None when coqui-tts and what it imports (torch, torchaudio, torchcodec) load here, else
    why not. Imports them (once per process when they work)."""
    from musicd.engines.devices import offline_hub

    offline_hub()  # before transformers/huggingface_hub read their settings at import
    for package, module in REQUIRED_MODULES:
        if package in _importable:
            continue
        if importlib.util.find_spec(package) is None:
            return f"the Python package {package} is not installed; {INSTALL_HINT}"
        if module is not None:  # torchcodec: coqui-tts only checks that it is installed
            try:
                importlib.import_module(module)
            except (ImportError, OSError) as error:  # e.g. a torchaudio built for another torch
                return (
                    f"the Python package {package} does not import "
                    f"({type(error).__name__}: {error}); {INSTALL_HINT}"
                )
        _importable.add(package)
    return None


def coqui_unavailable_reason(model_dir: Path | None) -> str | None:
    """None when a Coqui model can be loaded from `model_dir`, else why not (in words)."""
    if model_dir is None:
        return "no Coqui model folder is configured (models.coqui.path)"
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return f"the Coqui model folder {model_dir} does not exist"
    if model_files(model_dir) is None:
        return f"{model_dir} holds no {CONFIG_NAME} and model checkpoint (*.pth)"
    return import_problem()


def load_synthesizer(model_dir: Path, device: str = "cpu") -> Any:
    """A coqui-tts Synthesizer for the local model on `device`; ResourceMissingError if the
    folder does not load (out-of-memory errors pass through for the cache's retry)."""
    from musicd.engines.devices import import_torch, is_out_of_memory, model_load_errors

    files = model_files(Path(model_dir))
    if files is None:
        raise ResourceMissingError(f"{model_dir} holds no {CONFIG_NAME} and model checkpoint")
    checkpoint, config = files
    import_torch()
    from TTS.utils.synthesizer import Synthesizer

    load_errors: tuple[type[BaseException], ...] = (
        *model_load_errors(),
        ImportError,
        AssertionError,
        pickle.UnpicklingError,
    )
    try:
        synthesizer = Synthesizer(
            tts_checkpoint=str(checkpoint), tts_config_path=str(config), use_cuda=device == "cuda"
        )
    except load_errors as error:
        if is_out_of_memory(error):
            raise
        raise ResourceMissingError(
            f"the Coqui model in {model_dir} could not be loaded ({type(error).__name__}: {error}); "
            f"it should hold a coqui-tts {CONFIG_NAME} and the checkpoint trained with it"
        ) from error
    synthesizer.tts_model.eval()
    return synthesizer


def checkpoint_bytes(model_dir: Path) -> int:
    """The checkpoint's size: the cache's estimate before loading."""
    files = model_files(Path(model_dir))
    return files[0].stat().st_size if files else 0


def speaker_for(synthesizer: Any) -> Callable[[str, str, str], tuple[np.ndarray, int]]:
    """speak(text, language, register) -> (samples, sample_rate) over a loaded Synthesizer."""
    import torch

    model = synthesizer.tts_model
    speakers = sorted(getattr(getattr(model, "speaker_manager", None), "speaker_names", None) or [])
    languages = list(getattr(getattr(model, "language_manager", None), "language_names", None) or [])
    rate = int(synthesizer.output_sample_rate)

    def speak(text: str, language: str, register: str) -> tuple[np.ndarray, int]:
        kwargs: dict[str, Any] = {}
        if speakers:
            kwargs["speaker_name"] = speakers[0 if register == "low" else -1]
        if languages:
            kwargs["language_name"] = _model_language(language, languages)
        with torch.inference_mode():
            wav = synthesizer.tts(text, split_sentences=False, **kwargs)
        return trim_silence(np.asarray(wav, dtype=np.float32), rate), rate

    return speak


def _model_language(code: str, names: list[str]) -> str:
    """The model's language name for a language code ("en" -> "en" or "en-us"), else its first."""
    for name in names:
        if name.lower() == code.lower():
            return name
    for name in names:
        if name.lower().split("-")[0].split("_")[0] == code.lower():
            return name
    log.warning("the Coqui model has no language %r (it has %s); using %s", code, ", ".join(names), names[0])
    return names[0]


def sing_with_coqui(
    vocal: VocalLine, model_dir: Path, cache: ModelCache | None, sample_rate: int, n_samples: int
) -> np.ndarray:
    """The dry vocal (float32, `n_samples`) sung by the Coqui model, loaded through `cache`
    (a musicd.engines.cache.ModelCache; None loads a private copy for this call)."""
    from musicd.engines.cache import ModelKey
    from musicd.engines.devices import plan_device
    from musicd.vocals.singing import sing_vocal_line

    device = plan_device("auto", DTYPE).device
    model_dir = Path(model_dir)

    def work(synthesizer: Any) -> np.ndarray:
        return sing_vocal_line(vocal, speaker_for(synthesizer), sample_rate, n_samples)

    def load() -> Any:
        return load_synthesizer(model_dir, device)

    if cache is None:
        return work(load())
    key = ModelKey("coqui", str(model_dir), device, DTYPE)
    return cache.run(key, load, work, checkpoint_bytes(model_dir))


class CoquiSinger(Singer):
    """The Coqui model of `models.coqui.path`, loaded through the model cache."""

    name = "coqui"
    label = "coqui"

    def __init__(self, config: EngineConfig | None = None, cache: ModelCache | None = None) -> None:
        super().__init__(config, cache)
        self.model_dir = self.config.coqui.path

    def availability(self) -> Availability:
        problem = coqui_unavailable_reason(self.model_dir)
        if problem is not None:
            return Availability(False, problem)
        from musicd.engines.devices import plan_device

        return Availability(True, "a Coqui model is configured", plan_device("auto", DTYPE).device)

    def voice_for(self, language: str, register: str) -> tuple[str, str]:
        return str(self.model_dir), "the model's own licence (the folder of models.coqui.path)"

    def sing(self, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
        if self.model_dir is None:
            raise ResourceMissingError("no Coqui model folder is configured (models.coqui.path)")
        return sing_with_coqui(vocal, self.model_dir, self.cache, sample_rate, n_samples)
