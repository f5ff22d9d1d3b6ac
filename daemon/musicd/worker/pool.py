"""The worker pool the service loop drives: N job slots behind one interface, whatever the backend.

`worker.backend: local` is a pool of one slot, the resident worker process of
musicd.worker.supervisor; `worker.backend: ray` is musicd.worker.ray_backend.RayPool, whose
slots are Ray actors on the cluster's nodes. The loop claims up to `free_slots` jobs, submits
each, polls messages (progress, results, deaths, each naming its job) and asks for cancels; it
never needs to know where a job runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from musicd.worker.backend_report import backend_status_path
from musicd.worker.protocol import Message, RunJob
from musicd.worker.supervisor import RunningJob, WorkerSupervisor

if TYPE_CHECKING:
    from musicd.config import Config

log = logging.getLogger(__name__)


class WorkerPool(Protocol):
    """What the service loop needs from a backend."""

    backend: str
    heartbeat_timeout_s: float

    def start(self) -> None: ...
    def keep_alive(self) -> None: ...
    def stop(self, grace_s: float) -> bool: ...
    def kill(self) -> None: ...
    def poll(self) -> list[Message]: ...
    def wait_handles(self) -> list[Any]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def idle(self) -> bool: ...
    @property
    def free_slots(self) -> int: ...
    def running_jobs(self) -> list[RunningJob]: ...
    def submit(self, order: RunJob, time_limit_s: float) -> None: ...
    def request_cancel(self, job_id: str) -> bool: ...
    def cancel_sent(self, job_id: str) -> bool: ...


class LocalPool:
    """One slot: the resident worker process on this machine (the `local` backend)."""

    backend = "local"

    def __init__(self, supervisor: WorkerSupervisor) -> None:
        self.supervisor = supervisor

    @property
    def heartbeat_timeout_s(self) -> float:
        return self.supervisor.heartbeat_timeout_s

    @heartbeat_timeout_s.setter
    def heartbeat_timeout_s(self, value: float) -> None:
        self.supervisor.heartbeat_timeout_s = value

    def start(self) -> None:
        self.supervisor.start()

    def keep_alive(self) -> None:
        if self.supervisor.process is None:
            log.warning("restarting the worker process")
            self.supervisor.restart()

    def stop(self, grace_s: float) -> bool:
        return self.supervisor.stop(grace_s)

    def kill(self) -> None:
        self.supervisor.kill()

    def poll(self) -> list[Message]:
        return self.supervisor.poll()

    def wait_handles(self) -> list[Any]:
        return self.supervisor.wait_handles()

    @property
    def ready(self) -> bool:
        return self.supervisor.ready

    @property
    def idle(self) -> bool:
        return self.supervisor.idle

    @property
    def free_slots(self) -> int:
        return 1 if self.supervisor.idle else 0

    def running_jobs(self) -> list[RunningJob]:
        running = self.supervisor.running
        return [running] if running is not None else []

    def submit(self, order: RunJob, time_limit_s: float) -> None:
        self.supervisor.submit(order, time_limit_s)

    def request_cancel(self, job_id: str) -> bool:
        return self.supervisor.request_cancel(job_id)

    def cancel_sent(self, job_id: str) -> bool:
        running = self.supervisor.running
        return running is not None and running.job_id == job_id and self.supervisor.cancel_flag.value != 0


def make_pool(
    config: Config,
    *,
    runner: str,
    clock: Callable[[], float] = time.monotonic,
    start_timeout_s: float = 300.0,
    resources_kwargs: Mapping[str, Any] | None = None,
) -> WorkerPool:
    """The pool for `config.worker.backend`."""
    if config.worker.backend == "ray":
        from musicd.worker.ray_backend import RayPool

        return RayPool(
            config.ray,
            runner=runner,
            soundfont=config.soundfont,
            staging_root=_staging_root(config.outbox),
            status_path=backend_status_path(config.state_dir),
            heartbeat_interval_s=config.worker.heartbeat_interval_s,
            heartbeat_timeout_s=config.worker.heartbeat_timeout_s,
            clock=clock,
            resources_kwargs=resources_kwargs,
        )
    return LocalPool(
        WorkerSupervisor(
            runner=runner,
            soundfont=config.soundfont,
            heartbeat_interval_s=config.worker.heartbeat_interval_s,
            heartbeat_timeout_s=config.worker.heartbeat_timeout_s,
            start_timeout_s=start_timeout_s,
            clock=clock,
            resources_kwargs=resources_kwargs,
        )
    )


def _staging_root(outbox: Path) -> Path:
    from musicd.service.outbox import staging_root  # the outbox owns where staging lives

    return staging_root(outbox)
