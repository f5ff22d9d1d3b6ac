"""The generation pipeline: one job spec in, a finished job folder out.

`run_job`, `Resources` and `JobResult` load on first use, so the service can use
`musicd.pipeline.manifest` without importing the audio stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicd.pipeline.run import JobResult, Resources, run_job

__all__ = ["JobResult", "Resources", "run_job"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("musicd.pipeline.run"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
