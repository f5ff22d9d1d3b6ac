"""Job states and the records the store hands out: plain frozen data, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


def short_id(job_id: str) -> str:
    """The last 8 characters of a job id (the random part of its ULID), for names and messages."""
    return job_id[-8:].lower()


class JobState(str, enum.Enum):
    """Where a job is in its life. `done`, `failed` and `cancelled` are final (until a retry)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True for done, failed and cancelled."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class NewJob:
    """A job about to be queued: what `Store.add_jobs` needs for one row.

    `spec_text` is the YAML of this one job (what the worker will load with
    `musicd.spec.load_spec`); `spec_hash` is the sha256 hex of the file it came
    from (or of `spec_text` when there was no file, e.g. a scheduled job).
    """

    title: str
    source_name: str
    spec_text: str
    spec_hash: str
    seed: int | None = None
    priority: int = 0
    duration_s: float = 0.0  # the spec's length, read at ingest (the job's time limit scales with it)


@dataclass(frozen=True)
class SpecSource:
    """The spec file one ingest came from, recorded in the same transaction as its jobs.

    `source_path` is where the file lay in the inbox; `kept_path` is where it is
    moved to under state_dir/specs. `kept_at` stays None until the move is done,
    which is what lets start-up finish an ingest interrupted between the database
    commit and the move (see `musicd.service.ingest`).
    """

    id: str
    source_path: Path
    source_name: str
    spec_hash: str
    kept_path: Path
    ingested_at: datetime
    kept_at: datetime | None = None


@dataclass(frozen=True)
class JobRecord:
    """One row of the jobs table, as read back from the store."""

    id: str
    state: JobState
    priority: int
    attempts: int
    title: str
    source_name: str
    spec_hash: str
    spec_text: str
    seed: int | None
    error: str | None
    outbox_path: Path | None
    stage: str | None
    percent: float | None
    cancel_requested: bool
    source_id: str | None
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    duration_s: float

    @property
    def short_id(self) -> str:
        """The last 8 characters of the id (the random part), for names and messages."""
        return short_id(self.id)


@dataclass(frozen=True)
class JobEvent:
    """One line of a job's history: a progress step or a state change."""

    job_id: str
    time: datetime
    stage: str | None
    percent: float | None
    message: str | None
    level: str
