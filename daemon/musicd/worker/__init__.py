"""The worker: one resident process that runs the pipeline, and the supervisor that keeps it alive."""

from musicd.worker.process import DEFAULT_RUNNER, resolve_runner
from musicd.worker.protocol import (
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
