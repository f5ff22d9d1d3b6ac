"""The worker as a Ray actor: the same worker code as the local process, on any node of the cluster.

musicd.worker.ray_backend wraps `WorkerActor` with `ray.remote` (threaded: one job runs while
progress, cancel and chunk reads are answered). `hello()` checks that the node runs the
service's musicd version, then loads the runner's Resources once (SoundFont, model cache),
which stay resident between jobs. `run()` runs one order with process.py's `_run_order`, so a
job behaves exactly as in the local worker; its progress messages wait in a queue that
`events()` hands out (a long poll). With results returned to the service the job writes into
a folder on the actor's node, which the service then reads back in chunks (`read_chunk`),
each chunk one object in Ray's object store, and `discard()` removes.

Nothing here imports Ray at module level: the module is imported on the nodes by Ray itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from musicd.worker.joblog import install_worker_logging
from musicd.worker.process import (
    _accepted_kwargs,
    _run_order,
    release_freed_memory,
    resolve_runner,
)
from musicd.worker.protocol import JobFailed, JobSucceeded, Message, RunJob, WorkerResources

log = logging.getLogger(__name__)

LOCAL_RESULTS_DIR = "musicd-ray-results"  # under the node's temp folder, one folder per job
STALE_RESULTS_S = 86400.0  # a result folder untouched this long is removed when an actor starts


def musicd_version() -> str:
    from musicd import __version__

    return __version__


class _Flag:
    """process.py's cancel flag (`.value`), set from another thread."""

    def __init__(self) -> None:
        self.value = 0


class _Events:
    """process.py's channel (`.send`): messages queue up until `WorkerActor.events` takes them."""

    def __init__(self) -> None:
        self.queue: deque[Message] = deque()
        self.cond = threading.Condition()
        self.finished = False

    def send(self, message: Message) -> None:
        with self.cond:
            self.queue.append(message)
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def take(self, wait_s: float) -> list[Message]:
        with self.cond:
            if not self.queue and not self.finished:
                self.cond.wait(wait_s)
            taken = list(self.queue)
            self.queue.clear()
            return taken


class WorkerActor:
    """One worker on a Ray node: resources resident, one job at a time."""

    def __init__(
        self,
        runner: str,
        soundfont: str | None,
        resources_kwargs: Mapping[str, Any] | None = None,
        log_level: int | None = None,
    ) -> None:
        install_worker_logging(log_level)  # each line of a job shows its id (process.py's _run_order)
        self.runner = runner
        self.soundfont = soundfont
        self.resources_kwargs = dict(resources_kwargs or {})
        self.resources: WorkerResources | None = None
        self.run_job: Any = None
        self.events_queue = _Events()
        self.cancel_flag = _Flag()
        self.job_id: str | None = None
        self.lock = threading.Lock()

    def hello(self, expected_version: str) -> dict[str, Any]:
        """Who and where this actor is; loads the resources unless the musicd version differs.

        The answer has "refused" (version mismatch) or "error" (resources would not load) when
        the actor cannot take jobs.
        """
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "version": musicd_version(),
            **_node_identity(),
        }
        if info["version"] != expected_version:
            info["refused"] = (
                f"node {info['node_ip']} ({info['hostname']}) runs musicd {info['version']}, the service "
                f"{expected_version}: install the same musicd version (and extras) on every node"
            )
            return info
        clear_stale_results()
        start = time.monotonic()
        try:
            from musicd.spec import load_spec

            self.load_spec = load_spec
            self.run_job, resources_cls = resolve_runner(self.runner)
            if resources_cls is not None:
                kwargs = _accepted_kwargs(resources_cls.load, self.resources_kwargs)
                self.resources = resources_cls.load(
                    Path(self.soundfont) if self.soundfont else None, **kwargs
                )
        except Exception as exc:  # the actor's boundary: say why it cannot take jobs
            info["error"] = f"{type(exc).__name__}: {exc}"
            return info
        info["load_s"] = round(time.monotonic() - start, 3)
        return info

    def run(self, order: RunJob, results_here: bool) -> tuple[Message, list[tuple[str, int]]]:
        """Run one order; the result message and, with `results_here`, the files to fetch (path, size)."""
        with self.lock:
            if self.run_job is None:
                return JobFailed(order.job_id, "the worker actor has not loaded its resources"), []
            self.job_id = order.job_id
            self.events_queue = events = _Events()
            self.cancel_flag = flag = _Flag()
        if results_here:
            out_dir = local_results_dir(order.job_id)
            shutil.rmtree(out_dir, ignore_errors=True)
            order = replace(order, out_dir=str(out_dir))
        try:
            message = _run_order(order, self.run_job, self.resources, self.load_spec, flag, events)  # type: ignore[arg-type]
            files: list[tuple[str, int]] = []
            if results_here:
                if isinstance(message, JobSucceeded):
                    files = _list_files(Path(order.out_dir))
                else:
                    shutil.rmtree(order.out_dir, ignore_errors=True)
            release_freed_memory()
            return message, files
        finally:
            events.finish()
            with self.lock:
                self.job_id = None

    def events(self, wait_s: float) -> list[Message]:
        """The running job's messages since the last call; waits up to `wait_s` for one (a long poll)."""
        return self.events_queue.take(wait_s)

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            if self.job_id != job_id:
                return False
            self.cancel_flag.value = 1
            return True

    def read_chunk(self, job_id: str, name: str, offset: int, length: int) -> bytes:
        """`length` bytes of a result file from `offset` (one object in the object store)."""
        path = _inside(local_results_dir(job_id), name)
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def discard(self, job_id: str) -> None:
        shutil.rmtree(local_results_dir(job_id), ignore_errors=True)


def clear_stale_results(max_age_s: float = STALE_RESULTS_S) -> list[str]:
    """Remove result folders on this node untouched for `max_age_s` (left by a service or bridge
    that died mid-transfer); returns the job ids removed."""
    root = Path(tempfile.gettempdir()) / LOCAL_RESULTS_DIR
    removed: list[str] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        try:
            stale = time.time() - entry.stat().st_mtime > max_age_s
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    if removed:
        log.info("removed %d stale result folder(s) under %s", len(removed), root)
    return removed


def local_results_dir(job_id: str) -> Path:
    if not job_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"job id {job_id!r} is not a safe folder name")
    return Path(tempfile.gettempdir()) / LOCAL_RESULTS_DIR / job_id


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{name!r} is outside the job's folder")
    return path


def _list_files(root: Path) -> list[tuple[str, int]]:
    return sorted(
        (str(path.relative_to(root)), path.stat().st_size) for path in root.rglob("*") if path.is_file()
    )


def _node_identity() -> dict[str, Any]:
    outside = {"node_id": "", "node_ip": "127.0.0.1"}
    try:
        import ray

        if not ray.is_initialized():  # outside Ray: asking would start a local Ray instance
            return outside
        context = ray.get_runtime_context()
        return {"node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address()}
    except Exception:  # outside Ray (tests of this module): no node
        return outside
