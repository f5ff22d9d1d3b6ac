"""The supervisor: starts, feeds, watches and restarts the worker process (main process side)."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from musicd.worker.process import DEFAULT_RUNNER, worker_main
from musicd.worker.protocol import (
    Heartbeat,
    JobFailed,
    JobSucceeded,
    Message,
    RunJob,
    Shutdown,
    WorkerDied,
    WorkerReady,
    receive_all,
)

log = logging.getLogger(__name__)


# --- the supervisor side ----------------------------------------------------------------


@dataclass
class RunningJob:
    job_id: str
    started_s: float
    deadline_s: float


class WorkerSupervisor:
    """Starts, feeds, watches and restarts the worker process. Lives in the main process.

    `clock` is a monotonic clock in seconds (injectable for tests). Call `poll()` from the
    service loop: it returns the messages that arrived plus a `WorkerDied` when the worker
    exited, was killed for a missed heartbeat, or ran past the job's time limit.
    """

    def __init__(
        self,
        *,
        runner: str = DEFAULT_RUNNER,
        soundfont: Path | None = None,
        heartbeat_interval_s: float = 1.0,
        heartbeat_timeout_s: float = 30.0,
        start_timeout_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        resources_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """`resources_kwargs` go to `Resources.load` after the SoundFont (e.g. engines=...)."""
        self.runner = runner
        self.soundfont = soundfont
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.start_timeout_s = start_timeout_s
        self.clock = clock
        self.resources_kwargs = dict(resources_kwargs or {})
        self._ctx = multiprocessing.get_context("spawn")
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        # A lock-free shared byte: a worker killed mid-read can never leave a lock held.
        self.cancel_flag = self._ctx.RawValue("b", 0)
        self.ready = False
        self.running: RunningJob | None = None
        self.last_heard_s = 0.0
        self.started_s = 0.0
        self.rss_bytes = 0
        self.restarts = 0

    # lifecycle

    def start(self) -> None:
        """Spawn the worker; it becomes `ready` once a WorkerReady message is polled."""
        parent, child = self._ctx.Pipe(duplex=True)
        self.cancel_flag.value = 0
        process = self._ctx.Process(
            target=worker_main,
            name="musicd-worker",
            daemon=True,
            args=(
                child,
                self.cancel_flag,
                self.runner,
                str(self.soundfont) if self.soundfont else None,
                self.heartbeat_interval_s,
                self.resources_kwargs,
                logging.getLogger().getEffectiveLevel(),
            ),
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        self.ready = False
        self.running = None
        self.started_s = self.last_heard_s = self.clock()
        log.info("worker process %s starting (runner %s)", process.pid, self.runner)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def kill(self) -> None:
        """Kill the worker at once (SIGKILL) and reap it."""
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        self._close()

    def stop(self, grace_s: float) -> bool:
        """Ask the worker to exit after its current job; kill it after `grace_s`. True if it exited."""
        if self.process is None:
            return True
        try:
            if self.conn is not None:
                self.conn.send(Shutdown())
        except OSError:
            pass
        self.process.join(grace_s)
        exited = not self.process.is_alive()
        if not exited:
            log.warning("worker %s did not stop within %.1f s; killing it", self.process.pid, grace_s)
        self.kill()
        return exited

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None
        self.ready = False
        self.running = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    @property
    def idle(self) -> bool:
        return self.ready and self.running is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # jobs

    def submit(self, order: RunJob, time_limit_s: float) -> None:
        """Send one job to an idle worker."""
        if not self.idle or self.conn is None:
            raise RuntimeError("the worker is not ready for a job")
        self.cancel_flag.value = 0
        now = self.clock()
        self.running = RunningJob(order.job_id, now, now + time_limit_s)
        self.last_heard_s = now
        self.conn.send(order)

    def request_cancel(self, job_id: str) -> bool:
        """Ask the running job to stop (at its next progress report); True if it is the running one."""
        if self.running is not None and self.running.job_id == job_id:
            self.cancel_flag.value = 1
            return True
        return False

    # watching

    def wait_handles(self) -> list[Any]:
        """Objects for multiprocessing.connection.wait: the pipe and the process sentinel."""
        if self.process is None or self.conn is None:
            return []
        return [self.conn, self.process.sentinel]

    def poll(self) -> list[Message]:
        """Messages that have arrived, and a WorkerDied (worker killed) when something is wrong."""
        if self.process is None or self.conn is None:
            return []
        messages = receive_all(self.conn, self._note)
        died = self._check_health()
        if died is not None:
            messages.append(died)
        return messages

    def _note(self, message: Message) -> None:
        self.last_heard_s = self.clock()
        if isinstance(message, WorkerReady):
            self.ready = True
        elif isinstance(message, Heartbeat):
            self.rss_bytes = message.rss_bytes
        elif isinstance(message, (JobSucceeded, JobFailed)):
            if self.running is not None and self.running.job_id == message.job_id:
                self.running = None
            self.cancel_flag.value = 0

    def _check_health(self) -> WorkerDied | None:
        assert self.process is not None
        job_id = self.running.job_id if self.running else None
        now = self.clock()
        reason: str | None = None
        if not self.process.is_alive():
            code = self.process.exitcode
            reason = f"the worker process exited unexpectedly (exit code {code})"
        elif self.running is not None and now > self.running.deadline_s:
            limit = self.running.deadline_s - self.running.started_s
            reason = f"the job ran past its time limit of {limit:.0f} s (worker.job_timeout_*)"
        elif self.ready and now - self.last_heard_s > self.heartbeat_timeout_s:
            reason = f"the worker sent no heartbeat for {now - self.last_heard_s:.0f} s (hung)"
        elif not self.ready and now - self.started_s > self.start_timeout_s:
            reason = f"the worker did not finish loading within {self.start_timeout_s:.0f} s"
        if reason is None:
            return None
        log.error("worker %s: %s; killing it", self.process.pid, reason)
        while_loading = not self.ready
        self.kill()
        return WorkerDied(job_id, reason, while_loading)
