"""state_dir/status.json: what the running service says about itself, for `musicd status`.

The service rewrites the file every few seconds (HEARTBEAT_INTERVAL_S) from its main loop:
pid, start time, the last heartbeat, why it is paused, the inbox and rejected counts and
the job it runs. A reader calls the service alive only when that pid exists AND the
heartbeat is fresh (STALE_AFTER_S), so a crashed service, a stopped one (`state: stopped`
is written on the way out) and a hung loop all read as not alive.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

STATUS_NAME = "status.json"
HEARTBEAT_INTERVAL_S = 2.0
STALE_AFTER_S = 20.0  # several missed heartbeats: a loop stuck this long is not serving


@dataclass(frozen=True)
class Liveness:
    alive: bool
    why: str  # a sentence for people: "running (pid 123, heartbeat 1 s ago)"


def status_path(state_dir: Path) -> Path:
    return state_dir / STATUS_NAME


def write_status(state_dir: Path, data: dict[str, Any]) -> None:
    """Replace status.json atomically (rename; not fsynced: it is rewritten every few seconds)."""
    path = status_path(state_dir)
    tmp = path.with_name(f".{STATUS_NAME}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """The last status the service wrote, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(status_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def liveness(status: dict[str, Any] | None, now: datetime, stale_after_s: float = STALE_AFTER_S) -> Liveness:
    """Whether the service that wrote `status` is alive now, and why (not)."""
    if status is None:
        return Liveness(False, "not running (no status file: the service has not run with this state folder)")
    pid = status.get("pid")
    beat = _parse_time(status.get("heartbeat_at"))
    age = (now - beat).total_seconds() if beat is not None else None
    ago = f"{age:.0f} s ago" if age is not None else "never"
    if status.get("state") == "stopped":
        return Liveness(False, f"not running (stopped {ago}, pid was {pid})")
    if not isinstance(pid, int) or not pid_alive(pid):
        return Liveness(
            False, f"not running (pid {pid} is gone; last heartbeat {ago}: it crashed or was killed)"
        )
    if age is None or age > stale_after_s:
        return Liveness(False, f"not responding (pid {pid} exists but its last heartbeat was {ago})")
    return Liveness(True, f"{status.get('state', 'running')} (pid {pid}, heartbeat {ago})")


def inbox_counts(inbox: Path, rejected_dir: Path, *, recursive: bool = False) -> tuple[int, int]:
    """(spec files waiting in the inbox, specs in rejected/), counted on disk."""
    from musicd.service.watcher import is_spec_candidate

    waiting = 0
    if inbox.is_dir():
        found = inbox.rglob("*") if recursive else inbox.iterdir()
        for path in found:
            try:
                if is_spec_candidate(path, inbox, recursive) and path.is_file():
                    waiting += 1
            except OSError:
                continue
    rejected = 0
    if rejected_dir.is_dir():
        rejected = sum(
            1
            for p in rejected_dir.iterdir()
            if not p.name.endswith(".error.txt") and not p.name.startswith(".") and p.is_file()
        )
    return waiting, rejected
