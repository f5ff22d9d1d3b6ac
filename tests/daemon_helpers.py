"""Helpers for the end-to-end service tests: a temp layout and the daemon as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
TEST_RUNNER = "daemon_runner:run_job"


def spec_yaml(title: str, duration_s: float = 5, **extra: Any) -> str:
    """A tiny valid spec: short, no stems, no video."""
    data: dict[str, Any] = {"title": title, "genres": ["ambient"], "duration": duration_s,
                            "output": {"stems": False}}
    data.update(extra)
    return yaml.safe_dump(data, sort_keys=False)


def write_config(root: Path, **overrides: Any) -> Path:
    """A config.yaml under `root` with fast test timings; `overrides` merge per section."""
    data: dict[str, Any] = {
        "inbox": "inbox", "outbox": "outbox", "state_dir": "state",
        "watch": {"mode": "native", "poll_interval_s": 0.2, "stability_delay_s": 0.3,
                  "rescan_interval_s": 30},
        "worker": {"max_attempts": 2, "heartbeat_interval_s": 0.2, "heartbeat_timeout_s": 5,
                   "job_timeout_base_s": 60, "job_timeout_per_audio_s": 2, "stop_grace_s": 5},
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


def wait_until(condition: Callable[[], Any], timeout_s: float = 30, what: str = "condition",
               interval_s: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def musicd_cli(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> subprocess.CompletedProcess:
    """Run `musicd ARGS` in a subprocess; returns the completed process (text output)."""
    return subprocess.run(
        [sys.executable, "-c", "from daemon.cli import main; main()", *args],
        cwd=REPO_DIR, env=_env(env), capture_output=True, text=True, timeout=timeout_s,
    )


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICD_") and k != "NOTIFY_SOCKET"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), str(REPO_DIR),
                                                       env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


class Daemon:
    """`musicd run` as a subprocess; output goes to a log file under the layout root."""

    def __init__(self, config_path: Path, *, runner: str | None = TEST_RUNNER, once: bool = False,
                 env: dict[str, str] | None = None) -> None:
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
            [sys.executable, "-c", "from daemon.cli import main; main()", "-v", *args],
            cwd=REPO_DIR, env=_env(env), stdout=self._log, stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], Any], timeout_s: float = 30, what: str = "condition") -> Any:
        """Like wait_until, but fails at once (with the log) if the daemon exits meanwhile."""
        def check() -> Any:
            result = condition()
            if not result and self.process.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.process.returncode}) while waiting "
                                     f"for {what}; log:\n{self.log[-4000:]}")
            return result

        return wait_until(check, timeout_s, what)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 60) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the daemon did not exit in {timeout_s} s; log:\n{self.log[-4000:]}")
        finally:
            self._log.close()

    def stop(self, timeout_s: float = 30) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._log.close()


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
