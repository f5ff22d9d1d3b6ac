"""manifest.json: what a job asked for, what ran, and every file it produced."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

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


def write_json_durably(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary name, fsync it, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_manifest(out_dir: Path, data: dict[str, Any]) -> Path:
    """Add the file list to `data` and write manifest.json last."""
    manifest = {**data, "files": list_files(out_dir)}
    path = out_dir / MANIFEST_NAME
    write_json_durably(path, manifest)
    return path
