"""The worker's contracts: the job runner and its resources, and the messages to and from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from musicd.spec.model import JobSpec

# --- what the worker runs ----------------------------------------------------------------


class JobOutcome(Protocol):
    """What a runner returns: where the outputs are and the seed that made them."""

    @property
    def out_dir(self) -> Path: ...
    @property
    def seed(self) -> int: ...


class JobRunner(Protocol):
    """`worker.runner`: a function with run_job's signature (musicd.pipeline.run_job)."""

    def __call__(
        self,
        spec: JobSpec,
        out_dir: Path,
        resources: Any,  # the runner module's own Resources (below), or None
        *,
        seed: int | None = ...,
        progress: Callable[[str, float], None] | None = ...,
        should_cancel: Callable[[], bool] | None = ...,
        manifest_extra: Mapping[str, Any] | None = ...,
        spec_bytes: bytes | None = ...,
    ) -> JobOutcome: ...


class CancelFlag(Protocol):
    """Shared with the worker: the service sets `value` to 1 to cancel the running job."""

    value: int


class WorkerResources(Protocol):
    """What a runner module's `Resources.load(...)` returns: kept resident between jobs.

    `unload_idle()` (optional) frees what has been idle too long; the worker calls it between jobs.
    """


class ResourcesFactory(Protocol):
    """A runner module's `Resources` class: `load(soundfont, **the resources_kwargs it accepts)`."""

    def load(self, *args: Any, **kwargs: Any) -> WorkerResources: ...


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
    traceback: str = ""  # for internal errors (bugs): where it happened


@dataclass(frozen=True)
class WorkerDied:
    """Made by the supervisor, not sent: the worker process is gone or was killed."""

    job_id: str | None
    reason: str
    while_loading: bool = False
    counts: bool = True  # False: the backend was lost (Ray head gone), not the job's doing: no attempt


@dataclass(frozen=True)
class BackendStatus:
    """Sent by a backend whose workers live elsewhere (Ray): reachable or not, its actors and nodes."""

    available: bool
    reason: str = ""  # why not available
    actors: tuple[Mapping[str, Any], ...] = ()  # name, state, job_id, node_ip, hostname, pid, version
    nodes: tuple[Mapping[str, Any], ...] = ()  # node_id, ip, alive, cpus, gpus


Message = (
    WorkerLoading
    | WorkerReady
    | WorkerStartFailed
    | Heartbeat
    | JobStarted
    | JobProgress
    | JobSucceeded
    | JobFailed
    | WorkerDied
    | BackendStatus
)


def receive_all(conn: Connection, note: Callable[[Message], None]) -> list[Message]:
    """Every message waiting on `conn` (each passed to `note` as it arrives); a closed pipe ends it."""
    messages: list[Message] = []
    try:
        while conn.poll():
            message = conn.recv()
            messages.append(message)
            note(message)
    except (EOFError, OSError):
        pass
    return messages
