"""Helpers for the end-to-end service tests: a temp layout and the daemon as a real subprocess.

No daemon may outlive its test: each `Daemon` runs in its own process group (its worker
inherits it) and dies with the test process (PR_SET_PDEATHSIG); `no_leftover_processes`
(an autouse fixture once imported into a test module) kills whatever a test left running,
daemons and their workers included, and fails that test for it.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
TEST_RUNNER = "daemon_runner:run_job"


def spec_yaml(title: str, duration_s: float = 5, **extra: Any) -> str:
    """A tiny valid spec: short, no stems, no video."""
    data: dict[str, Any] = {
        "title": title,
        "genres": ["ambient"],
        "duration": duration_s,
        "output": {"stems": False},
    }
    data.update(extra)
    return yaml.safe_dump(data, sort_keys=False)


def write_config(root: Path, **overrides: Any) -> Path:
    """A config.yaml under `root` with fast test timings; `overrides` merge per section."""
    data: dict[str, Any] = {
        "inbox": "inbox",
        "outbox": "outbox",
        "state_dir": "state",
        "watch": {
            "mode": "native",
            "poll_interval_s": 0.2,
            "stability_delay_s": 0.3,
            "rescan_interval_s": 30,
        },
        "worker": {
            "max_attempts": 2,
            "heartbeat_interval_s": 0.2,
            "heartbeat_timeout_s": 5,
            "job_timeout_base_s": 60,
            "job_timeout_per_audio_s": 2,
            "stop_grace_s": 5,
        },
        "log_level": "DEBUG",
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    root.mkdir(parents=True, exist_ok=True)
    for name in ("inbox", "outbox", "state"):
        (root / name).mkdir(exist_ok=True)
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def wait_until(
    condition: Callable[[], Any], timeout_s: float = 30, what: str = "condition", interval_s: float = 0.05
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def musicd_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.CompletedProcess:
    """Run `musicd ARGS` in a subprocess; returns the completed process (text output)."""
    return subprocess.run(
        [sys.executable, "-c", "from musicd.cli import main; main()", *args],
        cwd=REPO_DIR,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICD_") and k != "NOTIFY_SOCKET"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TESTS_DIR), str(REPO_DIR), env.get("PYTHONPATH", "")])
    )
    env.update(extra or {})
    return env


# ------------------------------------------------------------------ processes

_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child between fork and exec only calls it
PR_SET_PDEATHSIG = 1


def _die_with_the_test_process() -> None:
    """Run in the daemon's child between fork and exec: SIGKILL it when the test process dies."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process from /proc; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _running_processes() -> dict[int, tuple[int, int]]:
    """Every running (not zombie) process: pid -> (parent pid, process group)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None and stat[0] not in ("Z", "X"):
                found[int(entry)] = (stat[1], stat[2])
    return found


def descendants(pid: int) -> set[int]:
    """The running children of `pid`, their children, and so on."""
    processes = _running_processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, (parent, _) in processes.items() if parent in frontier} - found
        found |= frontier
    return found


def process_group(pgid: int) -> set[int]:
    """The running members of process group `pgid` (a daemon and its worker, even orphaned)."""
    return {pid for pid, (_, group) in _running_processes().items() if group == pgid}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class Daemon:
    """`musicd run` as a subprocess; output goes to a log file under the layout root.

    It leads its own process group, which its worker joins, so `kill_group()` ends both.
    """

    started: list[Daemon] = []  # every daemon started and not yet cleaned up

    def __init__(
        self,
        config_path: Path,
        *,
        runner: str | None = TEST_RUNNER,
        once: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config_path = config_path
        self.root = config_path.parent
        args = ["run", "--config", str(config_path)]
        if once:
            args.append("--once")
        if runner:
            args += ["--runner", runner]
        self.log_path = self.root / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from musicd.cli import main; main()", "-v", *args],
            cwd=REPO_DIR,
            env=_env(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_the_test_process,
        )
        Daemon.started.append(self)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], Any], timeout_s: float = 30, what: str = "condition") -> Any:
        """Like wait_until, but fails at once (with the log) if the daemon exits meanwhile."""

        def check() -> Any:
            result = condition()
            if not result and self.process.poll() is not None:
                raise AssertionError(
                    f"the daemon exited ({self.process.returncode}) while waiting "
                    f"for {what}; log:\n{self.log[-4000:]}"
                )
            return result

        return wait_until(check, timeout_s, what)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 60) -> int:
        """Wait for the daemon to exit; one still running after `timeout_s` is killed (with its
        worker) and the test fails with its log."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(
                f"the daemon did not exit in {timeout_s} s; log:\n{self.log[-4000:]}"
            ) from None
        finally:
            self._log.close()

    def stop(self, timeout_s: float = 30) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL the daemon alone, as a crash would (its worker then dies by PDEATHSIG)."""
        self.process.kill()
        self.process.wait(10)
        self._log.close()

    def group(self) -> set[int]:
        """The daemon's running processes: itself and its worker (also once orphaned)."""
        return process_group(self.process.pid)

    def kill_group(self, timeout_s: float = 10) -> None:
        """SIGKILL the daemon and its worker, reap the daemon and wait until all are gone."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout_s)
        finally:
            self._log.close()
        wait_until(lambda: not self.group(), timeout_s, f"the processes of daemon {self.process.pid} to end")


def kill_started_daemons(wind_down_s: float = 5.0) -> dict[int, str]:
    """Kill every daemon started so far and its worker; returns the processes that were still running.

    The helpers of a daemon that has exited (its worker, multiprocessing's resource tracker)
    get `wind_down_s` to end on their own before they count as left running.
    """
    running: dict[int, str] = {}
    while Daemon.started:
        daemon = Daemon.started.pop()
        if daemon.process.poll() is not None:
            deadline = time.monotonic() + wind_down_s
            while daemon.group() and time.monotonic() < deadline:
                time.sleep(0.05)
        running.update((pid, command_line(pid)) for pid in daemon.group())
        daemon.kill_group()
    return running


atexit.register(kill_started_daemons)


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """After each test: kill what it left running (daemons, workers, any child) and fail if anything was."""
    before = descendants(os.getpid())
    yield
    children = {pid: command_line(pid) for pid in descendants(os.getpid()) - before}
    left = {**children, **kill_started_daemons()}
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(
        lambda: not any(_proc_stat(pid) and _proc_stat(pid)[0] not in "ZX" for pid in left),
        10,
        "the leftover processes to end",
    )
    assert not left, f"the test left processes running (now killed): {left}"


def published(outbox: Path) -> list[Path]:
    """Every published job folder (done or failed) under the outbox."""
    return sorted(p.parent for p in outbox.glob("[0-9][0-9][0-9][0-9]/*/*/*/manifest.json"))


def manifests(outbox: Path) -> list[dict[str, Any]]:
    return [json.loads((p / "manifest.json").read_text()) for p in published(outbox)]


def staging_left(outbox: Path) -> list[Path]:
    root = outbox / ".staging"
    return list(root.iterdir()) if root.exists() else []


def job_rows(state_dir: Path) -> list[dict[str, Any]]:
    """The jobs table, read with plain sqlite3 (read-only)."""
    db = state_dir / "musicd.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY seq")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
