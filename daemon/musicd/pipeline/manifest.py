"""manifest.json: what a job asked for, what ran, and every file it produced.

The one place a manifest is built and written. The worker writes the pipeline's manifest
(`write_manifest`) into the staging folder; the service completes it when it publishes
(`finish_manifest`), or writes a failed job's from its record (`job_fields`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from musicd import durable
from musicd.queue.jobs import JobRecord

MANIFEST_NAME = "manifest.json"


def file_entry(path: Path, root: Path) -> dict[str, Any]:
    """Relative path, size and sha256 of one output file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def list_files(root: Path) -> list[dict[str, Any]]:
    """Entries for every file under `root` except the manifest itself, sorted by path."""
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    return [file_entry(p, root) for p in paths]


def job_fields(job: JobRecord, started_at: datetime | None = None) -> dict[str, Any]:
    """What the queue knows of a job, as every manifest records it."""
    started = started_at or job.started_at
    return {
        "job_id": job.id,
        "title": job.title,
        "source_file": job.source_name,
        "spec_hash": job.spec_hash,
        "attempts": job.attempts,
        "queued_at": job.queued_at.isoformat(),
        "started_at": started.isoformat() if started else None,
    }


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest in `folder`, or {} when there is none (or it is not a JSON object)."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def finish_manifest(
    data: dict[str, Any], job_id: str, status: str, finished_at: datetime, error: str | None = None
) -> dict[str, Any]:
    """`data` completed with the job's outcome."""
    done = {**data, "job_id": job_id, "status": status, "finished_at": finished_at.isoformat()}
    if error is not None:
        done["error"] = error
    return done


def write_manifest(out_dir: Path, data: dict[str, Any]) -> Path:
    """Add the file list to `data` and write manifest.json durably; call it last."""
    return durable.write_json(out_dir / MANIFEST_NAME, {**data, "files": list_files(out_dir)})
