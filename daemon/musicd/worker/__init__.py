"""The worker: the resident process that runs the pipeline, its supervisor, and the backends (local, Ray)."""

from musicd.worker.process import DEFAULT_RUNNER, resolve_runner
from musicd.worker.protocol import (
    BackendStatus,
    Heartbeat,
    JobFailed,
    JobProgress,
    JobStarted,
    JobSucceeded,
    Message,
    RunJob,
    Shutdown,
    WorkerDied,
    WorkerLoading,
    WorkerReady,
    WorkerStartFailed,
)
from musicd.worker.supervisor import RunningJob, WorkerSupervisor

__all__ = [
    "DEFAULT_RUNNER",
    "BackendStatus",
    "Heartbeat",
    "JobFailed",
    "JobProgress",
    "JobStarted",
    "JobSucceeded",
    "Message",
    "RunJob",
    "RunningJob",
    "Shutdown",
    "WorkerDied",
    "WorkerLoading",
    "WorkerReady",
    "WorkerStartFailed",
    "WorkerSupervisor",
    "resolve_runner",
]
