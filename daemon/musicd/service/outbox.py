"""Publishing finished (and failed) jobs into the dated outbox, atomically and exactly once.

A job's outputs are written into `outbox/.staging/<job id>/`. Publishing completes the
manifest (status, finish time), fsyncs every file and then moves the folder with ONE
rename to `outbox/YYYY/MM/DD/HHMMSS-<slug>-<id8>/` (`...-failed/` for a failed job), so a
tool watching the outbox never sees half a job. The date and time are the job's finish
time in local time; `<id8>` is the last 8 characters of the job id (the random part of a
ULID, so jobs created in the same millisecond still differ).

Crash safety: before publishing, `find_published` looks for a folder of this job (name
ending in `-<id8>` or `-<id8>-failed` and a manifest naming the job id); if the process
died between the rename and the database update, the restart finds it and does not
publish twice. Staging folders of jobs that are not running are removed at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STAGING_DIR_NAME = ".staging"
MANIFEST_NAME = "manifest.json"
SLUG_MAX_LEN = 48
FAILED_SUFFIX = "-failed"


def short_id(job_id: str) -> str:
    """The 8-character id used in folder names."""
    return job_id[-8:].lower()


def slugify(text: str | None, max_len: int = SLUG_MAX_LEN) -> str:
    """A safe folder-name fragment: lowercase ascii letters, digits and single dashes; never empty."""
    normalized = unicodedata.normalize("NFKD", text or "")
    ascii_text = normalized.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    slug = slug[:max_len].rstrip("-")
    return slug or "untitled"


def staging_root(outbox: Path) -> Path:
    return outbox / STAGING_DIR_NAME


def staging_dir(outbox: Path, job_id: str) -> Path:
    """Where the worker writes a job's outputs before they are published."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", job_id):
        raise ValueError(f"job id {job_id!r} is not a safe folder name")
    return staging_root(outbox) / job_id


def published_name(job_id: str, title: str | None, finished_at: datetime, *, failed: bool) -> str:
    local = finished_at.astimezone()
    name = f"{local:%H%M%S}-{slugify(title)}-{short_id(job_id)}"
    return name + FAILED_SUFFIX if failed else name


def published_dir(
    outbox: Path, job_id: str, title: str | None, finished_at: datetime, *, failed: bool
) -> Path:
    local = finished_at.astimezone()
    day = outbox / f"{local:%Y}" / f"{local:%m}" / f"{local:%d}"
    return day / published_name(job_id, title, finished_at, failed=failed)


def _day_dirs(outbox: Path, since: date, until: date) -> Iterable[Path]:
    day = since
    while day <= until:
        yield outbox / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
        day += timedelta(days=1)


def find_published(outbox: Path, job_id: str, since: datetime, until: datetime | None = None) -> Path | None:
    """The outbox folder already published for `job_id` between two times (local dates), or None."""
    until = until or datetime.now().astimezone()
    first = since.astimezone().date() - timedelta(days=1)
    last = until.astimezone().date() + timedelta(days=1)
    endings = (f"-{short_id(job_id)}", f"-{short_id(job_id)}{FAILED_SUFFIX}")
    for day in _day_dirs(outbox, first, last):
        if not day.is_dir():
            continue
        for candidate in day.iterdir():
            if candidate.name.endswith(endings) and _manifest_job_id(candidate) == job_id:
                return candidate
    return None


def _manifest_job_id(folder: Path) -> str | None:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("job_id") if isinstance(manifest, dict) else None


def publish_success(
    outbox: Path,
    job_id: str,
    *,
    title: str | None,
    finished_at: datetime,
    manifest_updates: Mapping[str, Any] | None = None,
) -> Path:
    """Complete the staged manifest and move the staging folder into the dated outbox.

    Idempotent: if this job was already published the existing folder is returned and any
    leftover staging folder is removed.
    """
    stage = staging_dir(outbox, job_id)
    existing = find_published(outbox, job_id, finished_at - timedelta(days=2), finished_at)
    if existing is not None:
        log.info("job %s: already published at %s", job_id, existing)
        shutil.rmtree(stage, ignore_errors=True)
        return existing
    manifest_path = stage / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        manifest = {}
    manifest.update(manifest_updates or {})
    manifest.update({"job_id": job_id, "status": "done", "finished_at": finished_at.isoformat()})
    return _seal_and_move(stage, manifest, published_dir(outbox, job_id, title, finished_at, failed=False))


def publish_failure(
    outbox: Path,
    job_id: str,
    *,
    title: str | None,
    finished_at: datetime,
    error: str,
    spec_text: str,
    manifest_fields: Mapping[str, Any] | None = None,
) -> Path:
    """Publish a failed job as `...-failed/` with error.txt, spec.yaml and a manifest (status failed).

    Partial outputs in staging are discarded. Idempotent like `publish_success`.
    """
    existing = find_published(outbox, job_id, finished_at - timedelta(days=2), finished_at)
    stage = staging_dir(outbox, job_id)
    if existing is not None:
        shutil.rmtree(stage, ignore_errors=True)
        return existing
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    _write_durable(stage / "error.txt", error.rstrip() + "\n")
    _write_durable(stage / "spec.yaml", spec_text)
    manifest = dict(manifest_fields or {})
    manifest.update(
        {"job_id": job_id, "status": "failed", "error": error, "finished_at": finished_at.isoformat()}
    )
    return _seal_and_move(stage, manifest, published_dir(outbox, job_id, title, finished_at, failed=True))


def _seal_and_move(stage: Path, manifest: Mapping[str, Any], target: Path) -> Path:
    for path in sorted(stage.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            _fsync_file(path)
    tmp = stage / (MANIFEST_NAME + ".tmp")
    _write_durable(tmp, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, stage / MANIFEST_NAME)
    for folder in sorted({p for p in stage.rglob("*") if p.is_dir()} | {stage}, reverse=True):
        _fsync_dir(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(stage, target)
    _fsync_dir(target.parent)
    _fsync_dir(stage.parent)
    log.info("published %s", target)
    return target


def remove_stale_staging(outbox: Path, keep: Iterable[str] = ()) -> list[Path]:
    """Remove staging folders of jobs not in `keep` (called at start-up); returns what was removed."""
    root = staging_root(outbox)
    if not root.is_dir():
        return []
    keep_set = set(keep)
    removed = []
    for child in root.iterdir():
        if child.name in keep_set:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
        removed.append(child)
        log.info("removed leftover staging %s", child)
    return removed


def _write_durable(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
