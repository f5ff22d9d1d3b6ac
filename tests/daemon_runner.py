"""A controllable job runner for the service and worker tests (the `worker.runner` extension point).

It takes run_job's signature and acts on the spec's title:
  "crash"   the worker process exits at once (os._exit(1))
  "freeze"  the worker process stops itself (SIGSTOP): no heartbeats
  "hang"    sleeps forever (heartbeats go on; the job time limit catches it)
  "error"   raises RenderError
  "bug"     raises ZeroDivisionError (an internal error: its traceback must be kept)
  "slow"    ten stages of duration_s / 10 seconds each, honouring should_cancel
  "fail-once" crashes the worker on the first attempt (manifest_extra attempts == 1), then works
  "warn"    publishes with a warning in the manifest (an optional stage failed)
  "heap"    fills ~200 MiB of malloc's heap and frees it all but its last block (as a render does)
  anything else: writes mix.wav and manifest.json at once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicd.errors import CancelledError, RenderError

_KEPT: list[bytearray] = []


class Resources:
    """Stands in for the resident resources; records how often it was loaded."""

    loads = 0

    def __init__(self, soundfont: Path | None, label: str | None = None) -> None:
        self.soundfont = soundfont
        self.label = label

    @classmethod
    def load(cls, soundfont: Path | None = None, label: str | None = None) -> Resources:
        delay_s = float(os.environ.get("DAEMON_RUNNER_LOAD_DELAY_S", "0"))
        if delay_s:
            time.sleep(delay_s)
        cls.loads += 1
        return cls(soundfont, label)


@dataclass(frozen=True)
class Result:
    out_dir: Path
    manifest: dict[str, Any]
    seed: int


def run_job(
    spec: Any,
    out_dir: Path,
    resources: Resources,
    *,
    seed: int | None = None,
    progress: Callable[[str, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
    spec_bytes: bytes | None = None,
) -> Result:
    title = spec.title or ""
    extra = dict(manifest_extra or {})
    progress = progress or (lambda stage, percent: None)
    if title == "crash" or (title == "fail-once" and extra.get("attempts") == 1):
        os._exit(1)
    if title == "freeze":
        os.kill(os.getpid(), signal.SIGSTOP)
    if title == "hang":
        while True:
            time.sleep(1)
    if title == "heap":
        blocks = [bytearray(100 * 1024) for _ in range(2000)]  # below the mmap threshold: the heap
        _KEPT.append(blocks[-1])  # a live block on top: free() alone cannot shrink the heap
        del blocks
    if title == "error":
        raise RenderError("the test runner was asked to fail this job")
    if title == "bug":
        _ = 1 / 0
    if title == "slow":
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "partial.wav").write_bytes(b"RIFF")  # what a crash mid-job leaves behind
        for index in range(10):
            if should_cancel is not None and should_cancel():
                raise CancelledError(f"cancelled before step {index}")
            progress(f"step{index}", index * 10.0)
            time.sleep(spec.duration_s / 10)
    progress("encode", 90.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "partial.wav").unlink(missing_ok=True)
    (out_dir / "mix.wav").write_bytes(b"RIFF" + bytes(40))
    if spec_bytes is not None:
        (out_dir / "spec.yaml").write_bytes(spec_bytes)
    used_seed = seed if seed is not None else 1
    manifest = {
        "title": title,
        "seed": used_seed,
        "worker_pid": os.getpid(),
        "resource_loads": Resources.loads,
        "resource_label": resources.label,
        **extra,
    }
    if title == "warn":  # an optional stage failed; the audio is published all the same
        manifest["warnings"] = [{"stage": "video", "message": "the spectrum video failed: test"}]
    (out_dir / "manifest.json").write_text(json.dumps(manifest))
    progress("encode", 100.0)
    return Result(out_dir, manifest, used_seed)
