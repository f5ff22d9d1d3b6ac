"""Worker log lines carry the running job's id, as the service's own lines do.

A worker runs one job at a time, so the job is process-wide state: `running_job(job_id)`
marks it while the job runs, and `JobLogFilter`, set on the root logger's handlers, stamps
every record those handlers emit (from any module and any thread the job started: render,
vocals, master, cover, video) with `job_id` ("-" between jobs) and `job_tag` (" job ID", or
"" between jobs). WORKER_LOG_FORMAT shows the tag:

    2026-06-01 12:00:03,104 INFO musicd.media.cover [musicd-worker] job 01J...: drew cover ...
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(processName)s]%(job_tag)s: %(message)s"
NO_JOB = "-"

_current_job_id: str | None = None


def current_job_id() -> str | None:
    """The id of the job this process is running, or None between jobs."""
    return _current_job_id


@contextmanager
def running_job(job_id: str) -> Iterator[None]:
    """Mark `job_id` as this process's running job for the duration of the block."""
    global _current_job_id
    previous, _current_job_id = _current_job_id, job_id
    try:
        yield
    finally:
        _current_job_id = previous


class JobLogFilter(logging.Filter):
    """Stamps `job_id` and `job_tag` on each record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = _current_job_id
        record.job_id = job_id or NO_JOB
        record.job_tag = f" job {job_id}" if job_id else ""
        return True


def install_worker_logging(log_level: int | None) -> None:
    """Set up logging in a worker process: the service's level with WORKER_LOG_FORMAT (unless
    the process already has handlers), and the job stamp on every root handler (idempotent)."""
    root = logging.getLogger()
    if log_level is not None and not root.handlers:  # what logging.basicConfig would do
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(WORKER_LOG_FORMAT, defaults={"job_tag": "", "job_id": NO_JOB}))
        root.addHandler(stream)
        root.setLevel(log_level)
    for handler in root.handlers:
        if not any(isinstance(f, JobLogFilter) for f in handler.filters):
            handler.addFilter(JobLogFilter())
