"""Publishing finished (and failed) jobs into the dated outbox, atomically and exactly once.

A job's outputs are written into `outbox/.staging/<job id>/`. Publishing completes the
manifest (status, finish time), fsyncs every file and then moves the folder with ONE
rename to `outbox/YYYY/MM/DD/HHMMSS-<slug>-<id8>/` (`...-failed/` for a failed job), so a
tool watching the outbox never sees half a job. The date and time are the job's finish
time in local time; `<id8>` is the last 8 characters of the job id (the random part of a
ULID, so jobs created in the same millisecond still differ). `<slug>` is the title
transliterated to ASCII (musicd.pipeline.names.slugify); the mix inside is `<slug>.<fmt>`.

Crash safety: before publishing, `find_published` looks for a folder of this job (name
ending in `-<id8>` or `-<id8>-failed` and a manifest naming the job id); if the process
died between the rename and the database update, the restart finds it and does not
publish twice. Staging folders of jobs that are not running are removed at start-up.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from musicd import durable
from musicd.pipeline.manifest import MANIFEST_NAME, finish_manifest, read_manifest, write_manifest
from musicd.pipeline.names import slugify
from musicd.queue.jobs import short_id

log = logging.getLogger(__name__)

STAGING_DIR_NAME = ".staging"
FAILED_SUFFIX = "-failed"


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
    job_id = read_manifest(folder).get("job_id")
    return job_id if isinstance(job_id, str) else None


def published_spec_hashes(outbox: Path) -> set[str]:
    """The spec hashes recorded in every published manifest (for start-up reconciliation)."""
    hashes = set()
    for manifest in outbox.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*/" + MANIFEST_NAME):
        spec_hash = read_manifest(manifest.parent).get("spec_hash")
        if isinstance(spec_hash, str):
            hashes.add(spec_hash)
    return hashes


def publish_success(outbox: Path, job_id: str, *, title: str | None, finished_at: datetime) -> Path:
    """Complete the staged manifest and move the staging folder into the dated outbox.

    Idempotent: if this job was already published the existing folder is returned and any
    leftover staging folder is removed.
    """
    existing = find_published(outbox, job_id, finished_at - timedelta(days=2), finished_at)
    if existing is not None:
        log.info("job %s: already published at %s", job_id, existing)
        clear_staging(outbox, job_id)
        return existing
    stage = staging_dir(outbox, job_id)
    manifest = finish_manifest(read_manifest(stage), job_id, "done", finished_at)
    durable.write_json(stage / MANIFEST_NAME, manifest)  # the worker already listed the files
    return _seal_and_move(stage, published_dir(outbox, job_id, title, finished_at, failed=False))


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
    clear_staging(outbox, job_id)
    if existing is not None:
        return existing
    stage = staging_dir(outbox, job_id)
    stage.mkdir(parents=True)
    durable.write_text(stage / "error.txt", error.rstrip() + "\n")
    durable.write_text(stage / "spec.yaml", spec_text)
    manifest = finish_manifest(dict(manifest_fields or {}), job_id, "failed", finished_at, error=error)
    write_manifest(stage, manifest)
    return _seal_and_move(stage, published_dir(outbox, job_id, title, finished_at, failed=True))


def _seal_and_move(stage: Path, target: Path) -> Path:
    for path in sorted(stage.rglob("*")):
        if path.is_file() and path.name != MANIFEST_NAME:
            durable.fsync_file(path)
    durable.fsync_dirs({p for p in stage.rglob("*") if p.is_dir()} | {stage})
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(stage, target)
    durable.fsync_dirs({target.parent, stage.parent})
    log.info("published %s", target)
    return target


MIN_FREE_BYTES = 512 * 2**20  # a 10-minute job with stems and video needs a few hundred MiB


def outbox_problem(outbox: Path, min_free_bytes: int = MIN_FREE_BYTES) -> str | None:
    """Why jobs cannot be published into `outbox` now (read-only, full, missing), or None."""
    root = staging_root(outbox)
    probe = root / f".probe-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
        usage = shutil.disk_usage(outbox)
    except OSError as exc:
        return (
            f"the outbox {outbox} cannot be written ({exc.strerror or exc}{_free_space_text(outbox)}); "
            "check the mount, its permissions and its free space"
        )
    if usage.free < min_free_bytes:
        return (
            f"the outbox {outbox} is nearly full ({usage.free / 2**20:.0f} MiB free, "
            f"{min_free_bytes / 2**20:.0f} MiB needed to start a job); free some space"
        )
    return None


def _free_space_text(folder: Path) -> str:
    """The free space of the filesystem holding `folder` as "; N MiB free", or "" if unknown."""
    try:
        return f"; {shutil.disk_usage(folder).free / 2**20:.0f} MiB free"
    except OSError:
        return ""


def clear_staging(outbox: Path, job_id: str) -> bool:
    """Remove a job's staging folder (partial outputs), if there is one; False if that failed."""
    stage = staging_dir(outbox, job_id)
    try:
        if stage.is_symlink() or stage.is_file():
            stage.unlink()
        elif stage.exists():
            shutil.rmtree(stage)
    except OSError as exc:
        log.warning("job %s: could not remove its staging folder %s: %s", job_id, stage, exc)
        return False
    return True


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
