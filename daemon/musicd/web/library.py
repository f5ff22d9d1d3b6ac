"""The published jobs as the web sees them: an index of the dated outbox, manifests, safe file paths.

Everything here reads; nothing writes. A file is served only when it lies, after every
link is resolved, inside a published job folder inside the outbox.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicd.pipeline.manifest import MANIFEST_NAME, read_manifest

_FOLDER_NAME = re.compile(r"^\d{6}-.*-([0-9a-z]{8})(-failed)?$")
_DIGITS = {4: re.compile(r"^\d{4}$"), 2: re.compile(r"^\d{2}$")}
MIX_ORDER = ("mp3", "opus", "ogg", "flac", "wav")  # what the player offers first
MIME = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
}


@dataclass(frozen=True)
class Published:
    """One job folder in the outbox: `rel` is its path under the outbox (YYYY/MM/DD/name)."""

    rel: str
    short_id: str
    failed: bool

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]


def _subdirs(folder: str, digits: int) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(
                (
                    e.name
                    for e in entries
                    if _DIGITS[digits].match(e.name) and e.is_dir(follow_symlinks=False)
                ),
                reverse=True,
            )
    except OSError:
        return []


def scan_outbox(outbox: Path) -> list[Published]:
    """Every published job folder, newest first (links to folders are not followed)."""
    found: list[Published] = []
    root = str(outbox)
    for year in _subdirs(root, 4):
        for month in _subdirs(os.path.join(root, year), 2):
            for day in _subdirs(os.path.join(root, year, month), 2):
                day_dir = os.path.join(root, year, month, day)
                try:
                    with os.scandir(day_dir) as entries:
                        names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
                except OSError:
                    continue
                for name in sorted(names, reverse=True):
                    match = _FOLDER_NAME.match(name)
                    if match:
                        found.append(
                            Published(f"{year}/{month}/{day}/{name}", match.group(1), bool(match.group(2)))
                        )
    return found


class Library:
    """The outbox index (rescanned when older than `max_age_s`) and a manifest cache."""

    def __init__(self, outbox: Path, *, max_age_s: float = 1.0, clock: Any = None) -> None:
        import time

        self.outbox = Path(outbox)
        self._max_age_s = max_age_s
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._scanned_at = float("-inf")
        self._all: list[Published] = []
        self._manifests: dict[str, tuple[int, dict[str, Any]]] = {}

    def all(self) -> list[Published]:
        with self._lock:
            now = self._clock()
            if now - self._scanned_at > self._max_age_s:
                self._all = scan_outbox(self.outbox)
                self._scanned_at = now
            return self._all

    def refresh(self) -> None:
        with self._lock:
            self._scanned_at = float("-inf")

    def done(self) -> list[Published]:
        return [p for p in self.all() if not p.failed]

    def find(self, short_id: str) -> Published | None:
        """The newest folder of the job whose short id is `short_id` (a done one before a failed one)."""
        key = short_id.lower()[-8:]
        matches = [p for p in self.all() if p.short_id == key]
        return next((p for p in matches if not p.failed), matches[0] if matches else None)

    def folder(self, item: Published) -> Path:
        return self.outbox / item.rel

    def manifest(self, item: Published) -> dict[str, Any]:
        """The folder's manifest.json (cached while the file is unchanged), {} when unreadable."""
        path = self.folder(item) / MANIFEST_NAME
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return {}
        cached = self._manifests.get(item.rel)
        if cached and cached[0] == stamp:
            return cached[1]
        data = read_manifest(path.parent)
        if len(self._manifests) > 4096:
            self._manifests.clear()
        self._manifests[item.rel] = (stamp, data)
        return data


# ------------------------------------------------------------------ safe paths


def safe_file(outbox: Path, rel: str) -> Path | None:
    """The file at `rel` under the outbox when it is inside a published job folder; else None.

    Refused: empty, absolute or hidden parts, `..`, backslashes, NUL, anything outside
    YYYY/MM/DD/<job>/..., a job folder that is a link, and any path that resolves outside
    its job folder (a link inside the outbox pointing out).
    """
    if not rel or "\\" in rel or "\0" in rel or rel.startswith("/"):
        return None
    parts = rel.split("/")
    if len(parts) < 5 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    year, month, day, name = parts[:4]
    if not (_DIGITS[4].match(year) and _DIGITS[2].match(month) and _DIGITS[2].match(day)):
        return None
    if not _FOLDER_NAME.match(name):
        return None
    try:
        root = outbox.resolve(strict=True)
        job_dir = outbox / year / month / day / name
        if job_dir.is_symlink() or not job_dir.is_dir():
            return None
        job_real = job_dir.resolve(strict=True)
        if job_real.parent.parent.parent.parent != root:
            return None
        target = (job_dir / "/".join(parts[4:])).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(job_real) or not target.is_file():
        return None
    return target


# ------------------------------------------------------------------ contents


@dataclass(frozen=True)
class FileLink:
    label: str
    rel: str  # under the outbox
    size: int


@dataclass(frozen=True)
class LyricLine:
    time_s: float
    text: str


_LRC_TIME = re.compile(r"\[(\d+):(\d{1,2}(?:\.\d+)?)\]")


def parse_lrc(text: str) -> list[LyricLine]:
    """LRC lines `[mm:ss.xx]text` (several stamps per line allowed; tags like [ti:] skipped), in time order."""
    lines: list[LyricLine] = []
    for raw in text.splitlines():
        stamps = list(_LRC_TIME.finditer(raw))
        if not stamps or stamps[0].start() != 0:
            continue
        words = raw[stamps[-1].end() :].strip()
        for stamp in stamps:
            lines.append(LyricLine(int(stamp.group(1)) * 60 + float(stamp.group(2)), words))
    return sorted(lines, key=lambda line: line.time_s)


def list_folder(folder: Path) -> list[tuple[str, int]]:
    """(relative path, size) of every regular file in a job folder (links not followed), sorted."""
    found: list[tuple[str, int]] = []
    base = str(folder)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if os.path.isfile(full) and not os.path.islink(full):
                found.append((os.path.relpath(full, base).replace(os.sep, "/"), info.st_size))
    return sorted(found)


def summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The fields a card or the API shows, from a manifest (missing ones are None)."""
    plan = manifest.get("plan") if isinstance(manifest.get("plan"), dict) else {}
    audio = manifest.get("audio") if isinstance(manifest.get("audio"), dict) else {}
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    assert isinstance(plan, dict) and isinstance(audio, dict) and isinstance(spec, dict)
    genres = plan.get("genres") or spec.get("genres") or []
    return {
        "title": manifest.get("title") or spec.get("title") or "untitled",
        "genres": [str(g) for g in genres] if isinstance(genres, list) else [],
        "bpm": plan.get("tempo_bpm"),
        "key": plan.get("key"),
        "key_tonic": plan.get("key_tonic"),
        "scale": plan.get("mode"),
        "meter": plan.get("meter"),
        "duration_s": audio.get("duration_s") or plan.get("duration_s"),
        "seed": manifest.get("seed"),
        "status": manifest.get("status"),
        "error": manifest.get("error"),
        "finished_at": manifest.get("finished_at"),
        "engines": manifest.get("engines") if isinstance(manifest.get("engines"), dict) else {},
        "prompt": spec.get("prompt"),
    }


def mix_files(files: list[tuple[str, int]], manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """(relative path, format) of the mix files, in the player's order of preference.

    The manifest's `mix` table names them ({"mp3": "<title>.mp3", ...}); a folder without
    one (older manifests) has `mix.<format>` files.
    """
    names = {rel for rel, _ in files}
    table = manifest.get("mix") if isinstance(manifest.get("mix"), dict) else None
    found = []
    for fmt in MIX_ORDER:
        named = table.get(fmt) if table else None
        name = named if isinstance(named, str) and "/" not in named else f"mix.{fmt}"
        if name in names:
            found.append((name, fmt))
    return found


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, default=str)


def format_duration(seconds: Any) -> str:
    try:
        total = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "-"
    return f"{total // 60}:{total % 60:02d}"


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
