"""The resident worker process and the supervisor that runs it.

One long-lived worker process (multiprocessing, spawn context) owns the pipeline
resources (the SoundFont loaded once, later a model cache). The main process never runs
pipeline code: it sends one `RunJob` order at a time over a Pipe and receives messages
back (`WorkerReady`, `Heartbeat`, `JobStarted`, `JobProgress`, `JobSucceeded`,
`JobFailed`). A heartbeat thread in the worker proves it is alive; the supervisor kills
and restarts a worker that died, stopped sending heartbeats, or ran past the job's time
limit.

Extension point: the job runner is named "module:function" (`musicd run --runner`, or a
`worker.runner` configuration key where present; default "musicd.pipeline:run_job").
The function takes run_job's signature; the module's
`Resources.load(soundfont, **resources_kwargs)` (if the module has a `Resources`) makes the
resident resources passed to it. Tests and benchmarks point it at small runners that crash, hang
or finish instantly. Between jobs the worker calls `resources.unload_idle()` (where the resources
have it) every IDLE_CHECK_INTERVAL_S, so models unused for models.cache.keep_alive_s are freed.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicd.worker.joblog import install_worker_logging, running_job
from musicd.worker.protocol import (
    CancelFlag,
    Heartbeat,
    JobFailed,
    JobProgress,
    JobRunner,
    JobStarted,
    JobSucceeded,
    Message,
    ResourcesFactory,
    RunJob,
    Shutdown,
    WorkerLoading,
    WorkerReady,
    WorkerResources,
    WorkerStartFailed,
)

if TYPE_CHECKING:  # the default runner keeps the contracts (checked by mypy, not at run time)
    from musicd.pipeline.run import Resources, run_job
    from musicd.spec.model import JobSpec

    _DEFAULT_RUN: JobRunner = run_job
    _DEFAULT_RESOURCES: ResourcesFactory = Resources

log = logging.getLogger(__name__)

DEFAULT_RUNNER = "musicd.pipeline:run_job"
IDLE_CHECK_INTERVAL_S = 1.0  # how often an idle worker lets its resources free idle models


# --- the worker process -----------------------------------------------------------------


# Runner names from before the package was called musicd, still accepted in configs.
LEGACY_RUNNERS = {"daemon.pipeline:run_job": DEFAULT_RUNNER}


def current_runner_name(name: str) -> str:
    """`name`, or its current spelling when it is a legacy name (logged once as deprecated)."""
    current = LEGACY_RUNNERS.get(name)
    if current is None:
        return name
    log.warning("worker.runner %r is deprecated; write %r instead", name, current)
    return current


def resolve_runner(name: str) -> tuple[JobRunner, ResourcesFactory | None]:
    """Import "module:function"; return the function and the module's Resources class (or None)."""
    module_name, _, func_name = current_runner_name(name).partition(":")
    if not module_name or not func_name:
        raise ValueError(f"worker.runner {name!r} must look like 'module:function'")
    module = importlib.import_module(module_name)
    return getattr(module, func_name), getattr(module, "Resources", None)


def current_rss_bytes() -> int:
    """Resident set size of this process, from /proc (0 where unavailable)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


_libc: Any = None


def release_freed_memory() -> None:
    """Hand memory freed by the last job back to the system (glibc's malloc_trim).

    A render frees hundreds of MiB of audio buffers, much of it from malloc's heap
    (glibc raises its mmap threshold as large blocks are freed), which free() keeps
    for reuse: the worker's RSS would stay at its high-water mark and creep up with
    fragmentation. Trimming between jobs costs a few milliseconds. No-op without glibc.
    """
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


class _Channel:
    """The worker's end of the pipe, safe to send on from two threads."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.job_id: str | None = None

    def send(self, message: object) -> None:
        with self.lock:
            self.conn.send(message)


def worker_main(
    conn: Connection,
    cancel_flag: CancelFlag,
    runner: str,
    soundfont: str | None,
    heartbeat_interval_s: float,
    resources_kwargs: Mapping[str, Any] | None = None,
    log_level: int | None = None,
) -> None:
    """Entry point of the worker process: load resources, then run orders until Shutdown."""
    import signal

    # A spawned process starts without the service's logging set-up; each line of a job shows its id.
    install_worker_logging(log_level)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when the worker stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parent_pid = os.getppid()
    _die_with_parent()
    channel = _Channel(conn)
    channel.send(WorkerLoading(os.getpid()))
    start = time.monotonic()
    try:
        from musicd.spec import load_spec

        run, resources_cls = resolve_runner(runner)
        resources: WorkerResources | None = None
        if resources_cls is not None:
            kwargs = _accepted_kwargs(resources_cls.load, resources_kwargs or {})
            resources = resources_cls.load(Path(soundfont) if soundfont else None, **kwargs)
    except Exception as exc:  # the worker's boundary: report why it cannot start
        channel.send(WorkerStartFailed(f"{type(exc).__name__}: {exc}"))
        return
    channel.send(WorkerReady(os.getpid(), round(time.monotonic() - start, 3)))

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_interval_s):
            if os.getppid() != parent_pid:  # the service died (kill -9): never work unsupervised
                os._exit(70)
            try:
                channel.send(Heartbeat(channel.job_id, current_rss_bytes()))
            except OSError:
                return

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    try:
        while True:
            if not conn.poll(IDLE_CHECK_INTERVAL_S):
                _unload_idle(resources)
                continue
            try:
                order = conn.recv()
            except EOFError:
                return
            if isinstance(order, Shutdown):
                return
            if isinstance(order, RunJob):
                channel.job_id = order.job_id
                try:
                    channel.send(_run_order(order, run, resources, load_spec, cancel_flag, channel))
                    release_freed_memory()  # before job_id clears: an idle heartbeat shows the trimmed RSS
                finally:
                    channel.job_id = None
    finally:
        stop.set()


def _unload_idle(resources: WorkerResources | None) -> None:
    """Between jobs: let the resources free what has been idle too long (models past keep_alive_s)."""
    unload = getattr(resources, "unload_idle", None)
    if unload is None:
        return
    try:
        unload()
    except Exception:  # the worker's boundary: a failed clean-up must not end the worker
        log.exception("unloading idle resources failed")


def _accepted_kwargs(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments `func` takes (all of them if it has **kwargs)."""
    import inspect

    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {key: value for key, value in kwargs.items() if key in params}


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the heartbeat thread's parent check remains
        pass


def _run_order(
    order: RunJob,
    run: JobRunner,
    resources: WorkerResources | None,
    load_spec: Callable[..., JobSpec],
    cancel_flag: CancelFlag,
    channel: _Channel,
) -> Message:
    from musicd.errors import CancelledError, MusicdError

    channel.send(JobStarted(order.job_id))

    def progress(stage: str, percent: float) -> None:
        channel.send(JobProgress(order.job_id, stage, float(percent)))

    with running_job(order.job_id):  # every log line of the job, from any thread, shows its id
        try:
            spec = load_spec(order.spec_text, source=f"job {order.job_id}")
            result = run(
                spec,
                Path(order.out_dir),
                resources,
                seed=order.seed,
                progress=progress,
                should_cancel=lambda: bool(cancel_flag.value),
                manifest_extra=dict(order.manifest_extra),
                spec_bytes=order.spec_text.encode("utf-8"),
            )
            return JobSucceeded(order.job_id, str(result.out_dir), int(result.seed))
        except CancelledError as exc:
            return JobFailed(order.job_id, str(exc), cancelled=True)
        except MusicdError as exc:
            return JobFailed(order.job_id, str(exc))
        except Exception as exc:  # the job boundary: any bug fails this job, not the worker
            trace = traceback.format_exc()
            log.error("internal error:\n%s", trace)
            return JobFailed(order.job_id, f"internal error ({type(exc).__name__}): {exc}", traceback=trace)
