"""TEST-ONLY stand-in for torchaudio (see tests/stubs_torchaudio/README.md): load/save through
soundfile; resampling raises. Never installed, never used by musicd itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import soundfile
import torch

from torchaudio import functional, transforms  # noqa: F401  (submodules, as in torchaudio)

__all__ = ["functional", "load", "save", "transforms"]

__version__ = "0.0+test-stand-in"


def load(path: Any, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, int]:
    """(channels, frames) float32 in [-1, 1] and the sample rate, like torchaudio.load."""
    data, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sample_rate)


def save(path: Any, tensor: torch.Tensor, sample_rate: int, *args: Any, **kwargs: Any) -> None:
    """Write (channels, frames) as a WAV file, like torchaudio.save."""
    data = tensor.detach().cpu().numpy()
    soundfile.write(str(path), data.T if data.ndim == 2 else data, int(sample_rate))
