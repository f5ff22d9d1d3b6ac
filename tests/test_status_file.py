"""state_dir/status.json: alive only with a live pid AND a fresh heartbeat."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from musicd.service.status_file import inbox_counts, liveness, read_status, write_status

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def status(pid: int, beat_s_ago: float, state: str = "running") -> dict[str, object]:
    return {"pid": pid, "state": state, "heartbeat_at": (NOW - timedelta(seconds=beat_s_ago)).isoformat()}


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


def test_a_live_pid_with_a_fresh_heartbeat_is_alive() -> None:
    alive = liveness(status(os.getpid(), 1), NOW)
    assert alive.alive and f"pid {os.getpid()}" in alive.why


def test_a_gone_pid_a_stale_heartbeat_a_stop_or_no_file_is_not_alive() -> None:
    assert "crashed" in liveness(status(dead_pid(), 1), NOW).why
    stale = liveness(status(os.getpid(), 120), NOW)
    assert not stale.alive and "not responding" in stale.why
    stopped = liveness(status(os.getpid(), 1, state="stopped"), NOW)
    assert not stopped.alive and "stopped" in stopped.why
    assert not liveness(None, NOW).alive


def test_status_round_trips_and_a_torn_file_reads_as_none(tmp_path: Path) -> None:
    write_status(tmp_path, {"pid": 1, "pauses": ["the outbox is full"]})
    assert read_status(tmp_path) == {"pid": 1, "pauses": ["the outbox is full"]}
    (tmp_path / "status.json").write_text("{not json")
    assert read_status(tmp_path) is None
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary file left


def test_inbox_counts_only_specs_waiting_and_rejected_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    rejected = inbox / "rejected"
    rejected.mkdir(parents=True)
    for name in ("a.yaml", "b.YML", ".c.yaml.XXXX", "notes.txt", "d.yaml.part"):
        (inbox / name).write_text("x")
    for name in ("bad.yaml", "bad.yaml.error.txt", "worse.yaml", "worse.yaml.error.txt"):
        (rejected / name).write_text("x")
    assert inbox_counts(inbox, rejected) == (2, 2)
    assert inbox_counts(tmp_path / "missing", tmp_path / "missing" / "rejected") == (0, 0)
