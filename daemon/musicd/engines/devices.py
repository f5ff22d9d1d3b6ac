"""Where a model runs: CUDA in float16 when a GPU is present, else the CPU in float32.

On the CPU torch is held to one thread (configurable): on a 2-core box, multi-threaded
torch next to FluidSynth and ffmpeg was measured about 30x slower than single-threaded.
All torch imports here are lazy; `import musicd.engines` never loads torch.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from musicd.environment import CPU_THREADS_ENV

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevicePlan:
    """A torch device name ("cuda" or "cpu") and dtype name ("float16", "float32", ...)."""

    device: str
    dtype: str
    note: str = ""


def offline_hub() -> None:
    """Forbid hub downloads before diffusers/transformers load (they read these at import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars in the service log
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def import_torch() -> Any:
    """torch, with the CPU thread count set once (MUSICD_TORCH_THREADS, default 1)."""
    offline_hub()
    import torch

    if not getattr(import_torch, "_threads_set", False):
        threads = int(os.environ.get(CPU_THREADS_ENV, "1") or 1)
        torch.set_num_threads(max(1, threads))
        import_torch._threads_set = True  # type: ignore[attr-defined]
    return torch


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA GPU (imports torch)."""
    try:
        torch = import_torch()
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def plan_device(device: str = "auto", dtype: str = "auto") -> DevicePlan:
    """Resolve a settings pair (auto|cpu|cuda, auto|float32|float16|bfloat16) to what will run."""
    gpu = cuda_available() if device in ("auto", "cuda") else False
    note = ""
    if device == "cuda" and not gpu:
        note = "cuda asked for but no CUDA GPU is visible; using the CPU"
    chosen = "cuda" if gpu else "cpu"
    if chosen == "cpu":
        if dtype not in ("auto", "float32"):
            note = (note + "; " if note else "") + f"{dtype} is slow or unsupported on the CPU; using float32"
        return DevicePlan("cpu", "float32", note)
    return DevicePlan("cuda", "float16" if dtype == "auto" else dtype, note)


def torch_dtype(name: str) -> Any:
    torch = import_torch()
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


def cuda_free_bytes() -> int | None:
    """Free GPU memory in bytes (torch.cuda.mem_get_info), or None without torch/CUDA loaded."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


def release_device_memory() -> None:
    """Hand freed GPU blocks back to the driver (after models were dropped)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_out_of_memory(error: BaseException) -> bool:
    """MemoryError, torch.cuda.OutOfMemoryError, or an older torch's 'out of memory' RuntimeError."""
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def model_bytes(model: Any) -> int:
    """Bytes of torch parameters and buffers held by a model, a pipeline or a holder of them."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    seen: set[int] = set()
    total = 0

    def modules_of(obj: Any) -> list[Any]:
        if isinstance(obj, torch.nn.Module):
            return [obj]
        found: list[Any] = []
        components = getattr(obj, "components", None)
        if isinstance(components, dict):
            found = [c for c in components.values() if isinstance(c, torch.nn.Module)]
        elif hasattr(obj, "__dict__"):
            found = [v for v in vars(obj).values() if isinstance(v, torch.nn.Module)]
        return found

    for module in modules_of(model):
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            total += tensor.numel() * tensor.element_size()
    return total


def model_load_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a from_pretrained() call raises for a missing, partial or corrupt folder."""
    errors: list[type[BaseException]] = [
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RuntimeError,
        EOFError,
    ]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:
        pass
    return tuple(errors)
