"""The resident worker process and the supervisor that runs it.

One long-lived worker process (multiprocessing, spawn context) owns the pipeline
resources (the SoundFont loaded once, later a model cache). The main process never runs
pipeline code: it sends one `RunJob` order at a time over a Pipe and receives messages
back (`WorkerReady`, `Heartbeat`, `JobStarted`, `JobProgress`, `JobSucceeded`,
`JobFailed`). A heartbeat thread in the worker proves it is alive; the supervisor kills
and restarts a worker that died, stopped sending heartbeats, or ran past the job's time
limit.

Extension point: the job runner is named "module:function" (`musicd run --runner`, or a
`worker.runner` configuration key where present; default "daemon.pipeline:run_job").
The function takes run_job's signature; the module's
`Resources.load(soundfont, **resources_kwargs)` (if the module has a `Resources`) makes the
resident resources passed to it. Tests and benchmarks point it at small runners that crash, hang
or finish instantly. Between jobs the worker calls `resources.unload_idle()` (where the resources
have it) every IDLE_CHECK_INTERVAL_S, so models unused for models.cache.keep_alive_s are freed.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_RUNNER = "daemon.pipeline:run_job"
IDLE_CHECK_INTERVAL_S = 1.0  # how often an idle worker lets its resources free idle models
WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(processName)s]: %(message)s"


# --- orders (supervisor -> worker) -------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    job_id: str
    spec_text: str
    seed: int | None
    out_dir: str
    manifest_extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Shutdown:
    pass


# --- messages (worker -> supervisor) ------------------------------------------------------


@dataclass(frozen=True)
class WorkerLoading:
    pid: int


@dataclass(frozen=True)
class WorkerReady:
    pid: int
    load_s: float


@dataclass(frozen=True)
class WorkerStartFailed:
    error: str


@dataclass(frozen=True)
class Heartbeat:
    job_id: str | None
    rss_bytes: int


@dataclass(frozen=True)
class JobStarted:
    job_id: str


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    stage: str
    percent: float


@dataclass(frozen=True)
class JobSucceeded:
    job_id: str
    out_dir: str
    seed: int


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    error: str
    cancelled: bool = False


@dataclass(frozen=True)
class WorkerDied:
    """Made by the supervisor, not sent: the worker process is gone or was killed."""

    job_id: str | None
    reason: str
    while_loading: bool = False


Message = (WorkerLoading | WorkerReady | WorkerStartFailed | Heartbeat | JobStarted | JobProgress
           | JobSucceeded | JobFailed | WorkerDied)


# --- the worker process -----------------------------------------------------------------


def resolve_runner(name: str) -> tuple[Callable[..., Any], Any]:
    """Import "module:function"; return the function and the module's Resources class (or None)."""
    module_name, _, func_name = name.partition(":")
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


def worker_main(conn: Connection, cancel_flag: Any, runner: str, soundfont: str | None,
                heartbeat_interval_s: float, resources_kwargs: Mapping[str, Any] | None = None,
                log_level: int | None = None) -> None:
    """Entry point of the worker process: load resources, then run orders until Shutdown."""
    import signal

    if log_level is not None:  # a spawned process starts without the service's logging set-up
        logging.basicConfig(level=log_level, format=WORKER_LOG_FORMAT)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when the worker stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parent_pid = os.getppid()
    _die_with_parent()
    channel = _Channel(conn)
    channel.send(WorkerLoading(os.getpid()))
    start = time.monotonic()
    try:
        from daemon.spec import load_spec

        run, resources_cls = resolve_runner(runner)
        resources = None
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


def _unload_idle(resources: Any) -> None:
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


def _run_order(order: RunJob, run: Callable[..., Any], resources: Any, load_spec: Callable[..., Any],
               cancel_flag: Any, channel: _Channel) -> Message:
    from daemon.errors import CancelledError, MusicdError

    channel.send(JobStarted(order.job_id))

    def progress(stage: str, percent: float) -> None:
        channel.send(JobProgress(order.job_id, stage, float(percent)))

    try:
        spec = load_spec(order.spec_text, source=f"job {order.job_id}")
        result = run(spec, Path(order.out_dir), resources, seed=order.seed, progress=progress,
                     should_cancel=lambda: bool(cancel_flag.value),
                     manifest_extra=dict(order.manifest_extra),
                     spec_bytes=order.spec_text.encode("utf-8"))
        return JobSucceeded(order.job_id, str(result.out_dir), int(result.seed))
    except CancelledError as exc:
        return JobFailed(order.job_id, str(exc), cancelled=True)
    except MusicdError as exc:
        return JobFailed(order.job_id, str(exc))
    except Exception as exc:  # the job boundary: any bug fails this job, not the worker
        log.debug("job %s failed:\n%s", order.job_id, traceback.format_exc())
        return JobFailed(order.job_id, f"internal error ({type(exc).__name__}): {exc}")


# --- the supervisor side ----------------------------------------------------------------


@dataclass
class RunningJob:
    job_id: str
    started_s: float
    deadline_s: float


class WorkerSupervisor:
    """Starts, feeds, watches and restarts the worker process. Lives in the main process.

    `clock` is a monotonic clock in seconds (injectable for tests). Call `poll()` from the
    service loop: it returns the messages that arrived plus a `WorkerDied` when the worker
    exited, was killed for a missed heartbeat, or ran past the job's time limit.
    """

    def __init__(self, *, runner: str = DEFAULT_RUNNER, soundfont: Path | None = None,
                 heartbeat_interval_s: float = 1.0, heartbeat_timeout_s: float = 30.0,
                 start_timeout_s: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 resources_kwargs: Mapping[str, Any] | None = None) -> None:
        """`resources_kwargs` go to `Resources.load` after the SoundFont (e.g. engines=...)."""
        self.runner = runner
        self.soundfont = soundfont
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.start_timeout_s = start_timeout_s
        self.clock = clock
        self.resources_kwargs = dict(resources_kwargs or {})
        self._ctx = multiprocessing.get_context("spawn")
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        # A lock-free shared byte: a worker killed mid-read can never leave a lock held.
        self.cancel_flag = self._ctx.RawValue("b", 0)
        self.ready = False
        self.running: RunningJob | None = None
        self.last_heard_s = 0.0
        self.started_s = 0.0
        self.rss_bytes = 0
        self.restarts = 0

    # lifecycle

    def start(self) -> None:
        """Spawn the worker; it becomes `ready` once a WorkerReady message is polled."""
        parent, child = self._ctx.Pipe(duplex=True)
        self.cancel_flag.value = 0
        process = self._ctx.Process(
            target=worker_main, name="musicd-worker", daemon=True,
            args=(child, self.cancel_flag, self.runner,
                  str(self.soundfont) if self.soundfont else None, self.heartbeat_interval_s,
                  self.resources_kwargs, logging.getLogger().getEffectiveLevel()),
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        self.ready = False
        self.running = None
        self.started_s = self.last_heard_s = self.clock()
        log.info("worker process %s starting (runner %s)", process.pid, self.runner)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def kill(self) -> None:
        """Kill the worker at once (SIGKILL) and reap it."""
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        self._close()

    def stop(self, grace_s: float) -> bool:
        """Ask the worker to exit after its current job; kill it after `grace_s`. True if it exited."""
        if self.process is None:
            return True
        try:
            if self.conn is not None:
                self.conn.send(Shutdown())
        except OSError:
            pass
        self.process.join(grace_s)
        exited = not self.process.is_alive()
        if not exited:
            log.warning("worker %s did not stop within %.1f s; killing it", self.process.pid, grace_s)
        self.kill()
        return exited

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None
        self.ready = False
        self.running = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def idle(self) -> bool:
        return self.ready and self.running is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # jobs

    def submit(self, order: RunJob, time_limit_s: float) -> None:
        """Send one job to an idle worker."""
        if not self.idle or self.conn is None:
            raise RuntimeError("the worker is not ready for a job")
        self.cancel_flag.value = 0
        now = self.clock()
        self.running = RunningJob(order.job_id, now, now + time_limit_s)
        self.last_heard_s = now
        self.conn.send(order)

    def request_cancel(self, job_id: str) -> bool:
        """Ask the running job to stop at its next stage boundary; True if it is the running one."""
        if self.running is not None and self.running.job_id == job_id:
            self.cancel_flag.value = 1
            return True
        return False

    # watching

    def wait_handles(self) -> list[Any]:
        """Objects for multiprocessing.connection.wait: the pipe and the process sentinel."""
        if self.process is None or self.conn is None:
            return []
        return [self.conn, self.process.sentinel]

    def poll(self) -> list[Message]:
        """Messages that have arrived, and a WorkerDied (worker killed) when something is wrong."""
        if self.process is None or self.conn is None:
            return []
        messages: list[Message] = []
        try:
            while self.conn.poll():
                message = self.conn.recv()
                messages.append(message)
                self._note(message)
        except (EOFError, OSError):
            pass
        died = self._check_health()
        if died is not None:
            messages.append(died)
        return messages

    def _note(self, message: Message) -> None:
        self.last_heard_s = self.clock()
        if isinstance(message, WorkerReady):
            self.ready = True
        elif isinstance(message, Heartbeat):
            self.rss_bytes = message.rss_bytes
        elif isinstance(message, (JobSucceeded, JobFailed)):
            if self.running is not None and self.running.job_id == message.job_id:
                self.running = None
            self.cancel_flag.value = 0

    def _check_health(self) -> WorkerDied | None:
        assert self.process is not None
        job_id = self.running.job_id if self.running else None
        now = self.clock()
        reason: str | None = None
        if not self.process.is_alive():
            code = self.process.exitcode
            reason = f"the worker process exited unexpectedly (exit code {code})"
        elif self.running is not None and now > self.running.deadline_s:
            limit = self.running.deadline_s - self.running.started_s
            reason = f"the job ran past its time limit of {limit:.0f} s (worker.job_timeout_*)"
        elif self.ready and now - self.last_heard_s > self.heartbeat_timeout_s:
            reason = f"the worker sent no heartbeat for {now - self.last_heard_s:.0f} s (hung)"
        elif not self.ready and now - self.started_s > self.start_timeout_s:
            reason = f"the worker did not finish loading within {self.start_timeout_s:.0f} s"
        if reason is None:
            return None
        log.error("worker %s: %s; killing it", self.process.pid, reason)
        while_loading = not self.ready
        self.kill()
        return WorkerDied(job_id, reason, while_loading)
