"""Ctrl-C in a terminal: `musicd run` in its own session, SIGINT sent to its whole process group.

The first Ctrl-C stops the service gracefully and says what a second one does; the worker (which
ignores SIGINT) and its ffmpeg (in a process group of its own) carry on. The second requeues the
running job at once without counting the attempt, kills the worker and leaves no ffmpeg behind.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from daemon_helpers import (  # no_leftover_processes: autouse, kills and fails on leftovers
    Daemon,
    job_rows,
    no_leftover_processes,  # noqa: F401
    spec_yaml,
    staging_left,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SECOND_CTRL_C_EXIT_S = 15.0  # far below the job's remaining time and the stop grace
STOP_GRACE_S = 120


def _drop(inbox: Path, name: str, text: str) -> None:
    tmp = inbox / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, inbox / name)


def _running(state_dir: Path, stage: str | None = None) -> dict | None:
    for row in job_rows(state_dir):
        if row["state"] == "running" and (stage is None or row["stage"] == stage):
            return row
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"


def _ffmpeg_under(root: Path, writing: bytes = b"") -> set[int]:
    """Live ffmpeg processes whose command line names a path under `root` (and `writing`)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        named = b"ffmpeg" in cmdline and str(root).encode() in cmdline and writing in cmdline
        if named and _alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def _ctrl_c(daemon: Daemon) -> None:
    """What a terminal does on Ctrl-C: SIGINT to the foreground process group."""
    os.killpg(daemon.process.pid, signal.SIGINT)


def test_second_ctrl_c_requeues_the_running_job_without_charging_an_attempt(tmp_path: Path) -> None:
    config = write_config(tmp_path, worker={"stop_grace_s": STOP_GRACE_S})
    daemon = Daemon(config)  # the slow test runner: ten steps of duration_s / 10 each
    _drop(tmp_path / "inbox", "long.yaml", spec_yaml("slow", duration_s=100))
    row = daemon.wait_for(lambda: _running(tmp_path / "state"), 30, "the job to run")
    workers = daemon.group() - {daemon.process.pid}
    assert workers, "the worker should share the service's process group"

    _ctrl_c(daemon)
    daemon.wait_for(lambda: "press Ctrl-C again" in daemon.log, 10, "the first Ctrl-C's message")
    assert daemon.process.poll() is None and all(_alive(pid) for pid in workers)
    assert _running(tmp_path / "state") is not None  # the job goes on during the grace

    _ctrl_c(daemon)
    started = time.monotonic()
    assert daemon.wait(SECOND_CTRL_C_EXIT_S) == 0
    assert time.monotonic() - started < SECOND_CTRL_C_EXIT_S
    wait_until(lambda: not any(_alive(pid) for pid in workers), 10, "the worker to end")
    (job,) = job_rows(tmp_path / "state")
    assert job["id"] == row["id"] and job["state"] == "queued"
    assert job["attempts"] == 0  # the service's doing, not the job's
    assert "second Ctrl-C" in daemon.log
    assert staging_left(tmp_path / "outbox") == []


def test_ctrl_c_spares_ffmpeg_once_and_the_second_leaves_none_behind(tmp_path: Path) -> None:
    config = write_config(tmp_path, worker={"stop_grace_s": STOP_GRACE_S})
    daemon = Daemon(config, runner=None)  # the real pipeline
    # a 300 s track: its video takes half a minute or more, so it cannot end on its own
    # between the check below and the first Ctrl-C's answer
    spec = spec_yaml("Long Video", duration_s=300, genres=["house"], video=True, seed=1)
    _drop(tmp_path / "inbox", "video.yaml", spec)
    daemon.wait_for(lambda: _running(tmp_path / "state", "video"), 240, "the video stage")
    ffmpeg = daemon.wait_for(
        lambda: _ffmpeg_under(tmp_path / "outbox", b".mp4"), 30, "ffmpeg rendering the video"
    )

    _ctrl_c(daemon)
    daemon.wait_for(lambda: "press Ctrl-C again" in daemon.log, 10, "the first Ctrl-C's message")
    assert all(_alive(pid) for pid in ffmpeg), "the first Ctrl-C must not reach ffmpeg"

    _ctrl_c(daemon)
    assert daemon.wait(SECOND_CTRL_C_EXIT_S) == 0
    wait_until(lambda: not _ffmpeg_under(tmp_path / "outbox"), 10, "ffmpeg to die with the worker")
    (job,) = job_rows(tmp_path / "state")
    assert job["state"] == "queued" and job["attempts"] == 0
    assert staging_left(tmp_path / "outbox") == []
