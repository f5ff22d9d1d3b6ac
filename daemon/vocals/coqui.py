"""Optional speech engine: a Coqui TTS (coqui-tts) model from a local folder, sung through the
same transform as espeak-ng. Nothing is downloaded; torch and TTS import only here."""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from daemon.vocals.espeak import trim_silence

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")


def model_files(model_dir: Path) -> tuple[Path, Path] | None:
    """(checkpoint, config.json) in a model folder, or None."""
    config = model_dir / CONFIG_NAME
    checkpoints = sorted(p for p in model_dir.iterdir() if p.suffix in CHECKPOINT_SUFFIXES
                         and not p.name.startswith(("speakers", "language")))
    if not config.is_file() or not checkpoints:
        return None
    best = [p for p in checkpoints if p.stem.startswith(("best_model", "model"))] or checkpoints
    return best[0], config


def coqui_unavailable_reason(model_dir: Path | None) -> str | None:
    """None when a Coqui model can be loaded from `model_dir`, else why not (in words)."""
    if model_dir is None:
        return "no Coqui model folder is configured (models.coqui.path)"
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return f"the Coqui model folder {model_dir} does not exist"
    if model_files(model_dir) is None:
        return f"{model_dir} holds no {CONFIG_NAME} and model checkpoint (*.pth)"
    for module in ("torch", "TTS", "torchaudio"):
        if importlib.util.find_spec(module) is None:
            return f"the Python package {module} is not installed (pip install 'musicd[coqui]')"
    return None


def load_synthesizer(model_dir: Path, device: str = "cpu") -> Any:
    """A coqui-tts Synthesizer for the local model (raises if it cannot load)."""
    from TTS.utils.synthesizer import Synthesizer
    checkpoint, config = model_files(Path(model_dir))  # type: ignore[misc]
    return Synthesizer(tts_checkpoint=str(checkpoint), tts_config_path=str(config),
                       use_cuda=device == "cuda")


def coqui_speaker(model_dir: Path, cache: Any = None, device: str = "cpu"):
    """A speak(text, language, register) -> (samples, sample_rate) function over the model."""
    lock = threading.Lock()
    state: dict[str, Any] = {}

    def synthesizer() -> Any:
        if cache is not None:
            from daemon.engines.cache import ModelKey
            key = ModelKey("coqui", str(model_dir), device, "float32")
            with cache.use(key, lambda: load_synthesizer(model_dir, device)) as model:
                return model
        if "model" not in state:
            state["model"] = load_synthesizer(model_dir, device)
        return state["model"]

    def speak(text: str, language: str, register: str) -> tuple[np.ndarray, int]:
        with lock:
            model = synthesizer()
            kwargs: dict[str, Any] = {}
            if getattr(model.tts_model, "language_manager", None) is not None:
                kwargs["language_name"] = language
            if getattr(model.tts_model, "speaker_manager", None) is not None and \
                    model.tts_model.speaker_manager.speaker_names:
                names = sorted(model.tts_model.speaker_manager.speaker_names)
                kwargs["speaker_name"] = names[0 if register == "low" else -1]
            wav = np.asarray(model.tts(text, **kwargs), dtype=np.float32)
            rate = int(model.output_sample_rate)
        return trim_silence(wav, rate), rate

    return speak
