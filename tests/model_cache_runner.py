"""A job runner for the model-cache tests (the `worker.runner` extension point): the real pipeline
with an out-of-memory error injected inside the worker process.

It is musicd.pipeline.run_job with musicd.pipeline.Resources, plus, by the spec's title:
  "oom-once"   the job's first Stable Diffusion call raises torch.cuda.OutOfMemoryError
  "oom-twice"  its first two calls raise it (the model cache gives up after one retry)
  anything else: no injection.
The error is raised where a full GPU raises it: inside the diffusion pipeline's forward call,
while the Riffusion model is held by the cache (ModelCache.run), so the cache's real
out-of-memory policy (unload everything, retry once, then ModelOutOfMemoryError) handles it.
The patch exists only in this worker process and only while the job runs. Every manifest also
records the worker's pid (`worker_pid`), so tests can tell that one worker served every job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from musicd.pipeline import JobResult, Resources
from musicd.pipeline import run_job as pipeline_run_job

__all__ = ["Resources", "run_job"]

INJECTED_FAILURES = {"oom-once": 1, "oom-twice": 2}


@contextmanager
def diffusion_out_of_memory(failures: int) -> Iterator[None]:
    """Make the next `failures` StableDiffusionPipeline calls raise CUDA out of memory."""
    if failures <= 0:
        yield
        return
    import torch
    from diffusers import StableDiffusionPipeline

    original = StableDiffusionPipeline.__call__
    left = [failures]

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise torch.cuda.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (injected by the test runner)"
            )
        return original(self, *args, **kwargs)

    StableDiffusionPipeline.__call__ = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        StableDiffusionPipeline.__call__ = original  # type: ignore[method-assign]


def run_job(
    spec: Any,
    out_dir: Path,
    resources: Resources,
    *,
    manifest_extra: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> JobResult:
    """musicd.pipeline.run_job, with the out-of-memory errors the title asks for."""
    extra = {**dict(manifest_extra or {}), "worker_pid": os.getpid()}
    with diffusion_out_of_memory(INJECTED_FAILURES.get(spec.title or "", 0)):
        return pipeline_run_job(spec, out_dir, resources, manifest_extra=extra, **kwargs)
