"""The Magenta sidecar's client: a long-lived melody RNN process in its own Python 3.8 env.

magenta needs Python 3.8 and TensorFlow 2.9, so it never loads into musicd: this module
starts tools/magenta/sidecar_server.py with .magenta-venv's interpreter and talks to it
over its stdin/stdout pipes, one JSON object per line each way, with a time limit on every
request. A sidecar that died or stopped answering is killed, started again and asked once
more; a second failure is a MagentaSidecarError. The model cache owns the sidecar like any
model: `resident_bytes()` is its RSS for the memory budget and `release_resident()` stops
the process when the cache unloads it.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from musicd.errors import MusicdError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # TensorFlow's import and the bundle load: ~10-30 s on a small CPU
REQUEST_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0


class MagentaSidecarError(MusicdError):
    """The Magenta sidecar could not start or answer."""


@dataclass(frozen=True)
class SidecarCommand:
    """How to start the sidecar: the env's Python, the server script and the bundle."""

    python: Path
    server: Path
    bundle: Path
    threads: int = 1
    fail_after: int = 0  # tests only: the first process exits abruptly on its Nth generate

    def argv(self, first_start: bool) -> list[str]:
        # absolute (the process runs in the server's folder), never resolved: the venv's
        # python is a symlink whose own path is what selects the venv
        paths = [os.path.abspath(p) for p in (self.python, self.server, self.bundle)]
        argv = [paths[0], paths[1], "--bundle", paths[2]]
        if self.fail_after and first_start:
            argv += ["--fail-after", str(self.fail_after)]
        return argv

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        threads = str(max(1, self.threads))
        env.update(
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS="1",
            OMP_NUM_THREADS=threads,
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
            PYTHONNOUSERSITE="1",
        )
        return env


class MagentaSidecar:
    """One running sidecar process (started by `start()`); thread-safe, one request at a time."""

    def __init__(
        self,
        command: SidecarCommand,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.command = command
        self.start_timeout_s = start_timeout_s
        self.request_timeout_s = request_timeout_s
        self.starts = 0
        self.restarts = 0
        self.requests = 0
        self.load_s = 0.0
        self.config_id = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = b""
        self._next_id = 0
        self._lock = threading.RLock()
        self._finalizer: weakref.finalize[Any, MagentaSidecar] | None = None

    # ------------------------------------------------------------ life cycle

    @classmethod
    def launch(cls, command: SidecarCommand, **kwargs: float) -> MagentaSidecar:
        """A started sidecar (the model cache's loader)."""
        sidecar = cls(command, **kwargs)
        sidecar.start()
        return sidecar

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the process and wait for its ready line (MagentaSidecarError if it never comes)."""
        with self._lock:
            self._kill()
            started = time.perf_counter()
            self._stderr = tempfile.TemporaryFile(prefix="musicd-magenta-")
            self._buffer = b""
            try:
                self._proc = subprocess.Popen(
                    self.command.argv(first_start=self.starts == 0),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._stderr,
                    env=self.command.env(),
                    cwd=str(self.command.server.parent),
                    # its own process group: a Ctrl-C at the terminal (SIGINT to the foreground
                    # group) reaches musicd, which stops the sidecar itself, never mid-request
                    process_group=0,
                )
            except OSError as error:
                raise MagentaSidecarError(
                    f"cannot start the Magenta sidecar with {self.command.python}: {error}; "
                    "run `make magenta-env`"
                ) from error
            self.starts += 1
            self._finalizer = weakref.finalize(self, _kill_process, self._proc)
            ready = self._read_reply(time.monotonic() + self.start_timeout_s, "start")
            if not ready.get("ready"):
                self._kill()
                raise MagentaSidecarError(f"the Magenta sidecar failed to load: {ready.get('error')}")
            self.config_id = str(ready.get("config", ""))
            self.load_s = round(time.perf_counter() - started, 3)
            log.info("magenta sidecar pid %s ready (%s) in %.1f s", self.pid, self.config_id, self.load_s)

    def release_resident(self) -> None:
        """Stop the process (the model cache calls this when it unloads the sidecar)."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None:
                try:
                    self._send({"id": -1, "op": "quit"})
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    close = release_resident

    def resident_bytes(self) -> int:
        """The process's resident memory (VmRSS), 0 when it is not running."""
        pid = self.pid
        if pid is None or not self.alive():
            return 0
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    # ------------------------------------------------------------ requests

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request; restart once after a crash or a timeout. Returns the reply."""
        with self._lock:
            last = ""
            for attempt in (1, 2):
                if not self.alive():
                    if self.starts:
                        self.restarts += 1
                        log.warning("magenta sidecar is not running (%s); starting it again", last or "gone")
                    self.start()
                self._next_id += 1
                sent = {**message, "id": self._next_id}
                try:
                    self._send(sent)
                    reply = self._read_reply(time.monotonic() + self.request_timeout_s, message["op"])
                except MagentaSidecarError as error:
                    last = str(error)
                    log.warning("magenta sidecar request failed (attempt %d): %s", attempt, last)
                    self._kill()
                    continue
                self.requests += 1
                if not reply.get("ok"):
                    raise MagentaSidecarError(
                        f"the Magenta sidecar could not {message['op']}: {reply.get('error')}"
                    )
                return reply
            raise MagentaSidecarError(f"the Magenta sidecar failed twice: {last}")

    def generate(
        self,
        primer: list[tuple[int, int, int]],
        total_steps: int,
        *,
        seed: int,
        temperature: float = 1.0,
        primer_steps: int | None = None,
        steps_per_quarter: int = 4,
    ) -> list[tuple[int, int, int]]:
        """Continue `primer` ((pitch, start_step, end_step) notes) to `total_steps` steps."""
        reply = self.request(
            {
                "op": "generate",
                "primer": [list(n) for n in primer],
                "primer_steps": max((n[2] for n in primer), default=0)
                if primer_steps is None
                else primer_steps,
                "total_steps": int(total_steps),
                "temperature": float(temperature),
                "seed": int(seed),
                "steps_per_quarter": int(steps_per_quarter),
            }
        )
        return [(int(p), int(s), int(e)) for p, s, e in reply["notes"]]

    # ------------------------------------------------------------ internals

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise MagentaSidecarError("the Magenta sidecar is not running")
        try:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise MagentaSidecarError(f"the Magenta sidecar's pipe closed ({error})") from error

    def _read_reply(self, deadline: float, what: str) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MagentaSidecarError(f"the Magenta sidecar did not answer {what} within the time limit")
            readable, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                code = proc.wait(timeout=STOP_TIMEOUT_S)
                raise MagentaSidecarError(
                    f"the Magenta sidecar exited (code {code}) during {what}: {self._stderr_tail()}"
                )
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except json.JSONDecodeError as error:
            raise MagentaSidecarError(f"the Magenta sidecar sent a bad line: {line[:200]!r}") from error
        if not isinstance(reply, dict):
            raise MagentaSidecarError(f"the Magenta sidecar sent a bad line: {line[:200]!r}")
        return reply

    def _stderr_tail(self, limit: int = 600) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return " | ".join(lines[-3:])[-limit:]

    def _kill(self) -> None:
        if self._proc is not None:
            _kill_process(self._proc)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _kill_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass
