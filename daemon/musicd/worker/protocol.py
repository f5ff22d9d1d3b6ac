"""Messages between the service and its worker: orders in, progress and results out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
)
