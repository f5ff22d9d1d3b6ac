"""The service main loop: watch the inbox, ingest, dispatch to the worker, publish, notify.

`run_service(config)` runs until SIGTERM/SIGINT (or, with `once=True`, until everything in
the inbox has been ingested and the queue is drained). The main process only supervises:
pipeline code runs in the worker process (musicd.worker.process). Signal handlers only set flags;
the loop acts on them:

- SIGTERM / SIGINT: stop ingesting and dispatching; a running job may finish within
  worker.stop_grace_s, else the worker is killed and the job requeued without counting
  that attempt (only crashes and hangs count towards worker.max_attempts); exit 0.
- A second SIGINT (Ctrl-C again in a terminal) does that at once: the worker is killed and the
  running job requeued, its attempt not counted. The worker ignores SIGINT and ffmpeg runs in
  its own process group, so the terminal's Ctrl-C reaches only this process.
- SIGHUP: reload the configuration file; schedules, worker limits and the log level take
  effect at once (changed folders, SoundFont or runner need a restart and are logged).

Every file dropped ends exactly once in the outbox (done or `-failed`) or in rejected/
with an error file: ingest records a job and moves the file in one step (musicd.service.ingest),
a job left running by a crash of the service is requeued uncounted (Store.recover_interrupted),
and a job whose folder was already published before a crash is not run again.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from types import FrameType
from typing import Any

from musicd import __version__
from musicd.clock import utc_now
from musicd.config import Config, load_config
from musicd.errors import ConfigError, MusicdError, StoreUnavailableError
from musicd.pipeline.manifest import job_fields
from musicd.queue.jobs import JobRecord, JobState, NewJob
from musicd.queue.store import Store
from musicd.seeding import draw_seed
from musicd.service import outbox, status_file
from musicd.service.folders import make_last_level
from musicd.service.ingest import (
    IngestOutcome,
    IngestStatus,
    ingest_files,
    recover_ingests,
    requeue_kept_specs,
)
from musicd.service.lock import StateLock
from musicd.service.notify import EventNotifier
from musicd.service.pauses import Pauses
from musicd.service.scheduler import Firing, Scheduler
from musicd.service.sdnotify import Notifier
from musicd.service.watcher import InboxWatcher
from musicd.worker import (
    DEFAULT_RUNNER,
    BackendStatus,
    Heartbeat,
    JobFailed,
    JobProgress,
    JobStarted,
    JobSucceeded,
    Message,
    RunJob,
    WorkerDied,
    WorkerLoading,
    WorkerReady,
    WorkerStartFailed,
)
from musicd.worker.pool import WorkerPool, make_pool

log = logging.getLogger(__name__)

TICK_S = 0.1  # the longest the loop sleeps when nothing happens
STATUS_INTERVAL_S = 2.0
CANCEL_CHECK_INTERVAL_S = 0.5
LOAD_EXTEND_S = 120.0  # EXTEND_TIMEOUT_USEC while the worker loads, renewed every minute
MAX_QUICK_WORKER_DEATHS = 5  # workers dying before they get ready, in a row: give up
WORKER_START_TIMEOUT_S = 900.0  # SoundFont plus model preloading; systemd is kept informed meanwhile


@dataclass
class _Flags:
    stop: bool = False
    reload: bool = False
    signal_name: str = ""
    interrupts: int = 0  # SIGINTs received: a second one stops at once

    @property
    def stop_now(self) -> bool:
        return self.interrupts >= 2


def job_time_limit_s(config: Config, job: JobRecord) -> float:
    """The job's time limit, scaled by its duration."""
    return config.worker.job_time_limit_s(job.duration_s)


def runner_name(config: Config, override: str | None = None) -> str:
    """The job runner ("module:function"): the override (`--runner`), else worker.runner."""
    return override or config.worker.runner or DEFAULT_RUNNER


def resources_kwargs(config: Config) -> dict[str, Any]:
    """Extra arguments for Resources.load (passed where it takes them): the parsed `models:`, `tags:`."""
    from musicd.pipeline.tags import TagDefaults

    kwargs: dict[str, Any] = {"tags": TagDefaults(artist=config.tags.artist, album=config.tags.album)}
    engines = getattr(config, "engines", None)
    return kwargs if engines is None else {**kwargs, "engines": engines}


REJECTED_COUNT_INTERVAL_S = 10.0  # status.json's count of rejected/ is refreshed this often


class Service:
    """One run of the service; `run()` returns the exit code."""

    def __init__(
        self,
        config: Config,
        *,
        once: bool = False,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        runner: str | None = None,
        notifier: Notifier | None = None,
        schedule_grace_s: float | None = None,
        events: EventNotifier | None = None,
    ) -> None:
        """`schedule_grace_s` overrides the configuration's (tests); None uses it.

        `notifier` is systemd's; `events` sends the `notify:` notifications.
        """
        self.config = config
        self.once = once
        self.clock = clock
        self.monotonic = monotonic
        self.runner_override = runner
        self.notifier = notifier or Notifier()
        self.flags = _Flags()
        self.schedule_grace_s = schedule_grace_s
        self.store: Store | None = None
        self._recovered = False  # whether _recover has run on the open store
        self.supervisor: WorkerPool | None = None  # the worker backend: local process or Ray actors
        self.watcher: InboxWatcher | None = None
        self.scheduler: Scheduler | None = None
        self.announced_ready = False
        self.quick_deaths = 0
        self.fatal: str | None = None
        self._last_status_s = 0.0
        self._last_status_text = ""
        self._last_watchdog_s = 0.0
        self._last_cancel_check_s = 0.0
        self._last_extend_s = 0.0
        self._stop_deadline_s: float | None = None
        self.pauses = Pauses(monotonic)
        self.lock = StateLock(config.state_dir)
        self._messages: collections.deque[Message] = collections.deque()
        self._unmovable: dict[Path, tuple[int, int, int]] = {}  # files that could not even be set aside
        self.events = events or EventNotifier(config.notify, outbox=config.outbox)
        self.summary: collections.Counter[str] = collections.Counter()  # this run: done, failed, rejected
        self.started_at = clock()
        self._last_status_file_s: float | None = None
        self._last_rejected_count_s: float | None = None
        self._rejected_count = 0
        self._status_file_problem = False

    # ------------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            self.flags.stop = True
            self.flags.signal_name = signal.Signals(signum).name
            if signum == signal.SIGINT:
                self.flags.interrupts += 1

        def on_reload(_signum: int, _frame: FrameType | None) -> None:
            self.flags.reload = True

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        config = self.config
        # Only a folder's last level is made: a missing parent is an unmounted share (or a typo).
        make_last_level(config.inbox, "inbox")
        make_last_level(config.outbox, "outbox")
        make_last_level(config.state_dir, "state folder")
        make_last_level(config.rejected_dir, "rejected folder")
        self.lock.acquire()
        self._write_status_file("starting", force=True)
        self.supervisor = make_pool(
            config,
            runner=runner_name(config, self.runner_override),
            start_timeout_s=WORKER_START_TIMEOUT_S,
            clock=self.monotonic,
            resources_kwargs=resources_kwargs(config),
        )
        self.notifier.extend_timeout(LOAD_EXTEND_S)
        self._last_extend_s = self.monotonic()
        self.notifier.status("starting: loading the worker")
        self.supervisor.start()
        try:
            self._open_store()
        except StoreUnavailableError as exc:  # locked or full: the loop retries; systemd hears why
            self.pauses.pause("store", str(exc))
            self.notifier.status(f"paused: {exc}")
        self.scheduler = Scheduler(
            config.schedules, config.state_dir, grace_s=self._schedule_grace_s(config), clock=self.clock
        )
        self.watcher = InboxWatcher(config.inbox, config.watch)
        self.watcher.start(self.monotonic())
        log.info("musicd watching %s (outbox %s, state %s)", config.inbox, config.outbox, config.state_dir)

    def _schedule_grace_s(self, config: Config) -> float:
        return config.schedule_grace_s if self.schedule_grace_s is None else self.schedule_grace_s

    def _open_store(self) -> None:
        """Open the job database and settle what a crash left behind, once, before any job runs.

        Raises StoreUnavailableError while the database is locked or its disk is full; the loop
        pauses and calls this again (each part is safe to repeat).
        """
        if self.store is None:
            self.store = Store.open(self.config.state_dir, clock=self.clock)
        if not self._recovered:
            self._recover()
            self._recovered = True

    def _recover(self) -> None:
        """Settle what a crash left behind, before any job runs."""
        store, config = self._store(), self.config
        for job in store.list_jobs(JobState.RUNNING, limit=10_000):
            since = job.started_at or job.queued_at
            published = outbox.find_published(config.outbox, job.id, since, self.clock())
            if published is not None:
                state = JobState.FAILED if published.name.endswith(outbox.FAILED_SUFFIX) else JobState.DONE
                log.info("job %s: found already published at %s; marking %s", job.id, published, state)
                store.finish(
                    job.id,
                    state,
                    outbox_path=published,
                    error="published before an interruption" if state is JobState.FAILED else None,
                )
        for job in store.recover_interrupted():
            if job.state is JobState.FAILED:
                folder = self._publish_failure(job, job.error or "the worker was interrupted too often")
                if folder is not None:
                    store.set_outbox_path(job.id, folder)
        for source in recover_ingests(store):
            log.info("finished the interrupted ingest of %s", source.source_name)
        requeued = requeue_kept_specs(store, config, lambda: outbox.published_spec_hashes(config.outbox))
        if requeued:
            log.warning("the job database lacked %d kept spec job(s): queued them again", len(requeued))
        removed = outbox.remove_stale_staging(config.outbox)
        if removed:
            log.info("removed %d leftover staging folder(s)", len(removed))

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        """Start, loop until stopped (or drained with `once`), shut down; returns the exit code."""
        try:
            self.start()
            while (code := self.step()) is None:
                wait_for_handles(self._supervisor().wait_handles() or [], timeout=self._tick_s())
            return code
        except MusicdError as exc:
            log.error("%s", exc)
            return 1
        finally:
            self.shutdown()

    def step(self) -> int | None:
        """One turn of the loop without waiting; the exit code once the service should end, else None.

        A job database that cannot be used (locked, full, deleted; at start-up too) pauses the
        turn and is retried with a growing delay; it never ends the service. A stop or reload
        request is acted on at once even then (see `_turn_without_store`).
        """
        signalled = self.flags.stop or self.flags.reload
        if not self.pauses.due("store") and not signalled:
            self._notify_periodic()
            return None
        try:
            self._open_store()
            self._store().check_file()
            code = self._turn()
        except StoreUnavailableError as exc:
            self.pauses.pause("store", str(exc))
            code = self._turn_without_store()
            if code is None:
                self._notify_periodic()
            return code
        self.pauses.resume("store")
        return code

    def _turn_without_store(self) -> int | None:
        """While the job database cannot be used: reload at once; on a stop, end a running job
        without recording it and exit (the next start's recovery requeues it uncounted)."""
        if self.flags.reload:
            self.flags.reload = False
            self.reload()
        if not self.flags.stop:
            return None
        if self._stop_deadline_s is None:
            self._begin_stop()
        if self.supervisor is not None and self.supervisor.running_jobs():
            jobs = ", ".join(r.job_id for r in self.supervisor.running_jobs())
            self.supervisor.kill()
            log.warning(
                "job(s) %s stopped while the job database cannot be used; the next start requeues "
                "them (the attempt is not counted)",
                jobs,
            )
        return 0

    def _turn(self) -> int | None:
        if self.flags.reload:
            self.flags.reload = False
            self.reload()
        if self.flags.stop and self._stop_deadline_s is None:
            self._begin_stop()
        self._handle_messages()
        if self.fatal is not None:
            log.error("%s", self.fatal)
            return 1
        if self._stop_deadline_s is not None:
            if self._stopped():
                return 0
        else:
            self._keep_worker_alive()
            self._ingest_ready()
            self._fire_schedules()
            self._check_cancel()
            self._dispatch()
            if self.once and self._drained():
                log.info("--once: inbox ingested and queue drained")
                return 0
        self._notify_periodic()
        return None

    def _tick_s(self) -> float:
        return TICK_S if not self.once else TICK_S / 2

    def _store(self) -> Store:
        if self.store is None:  # not opened yet (locked or full at start-up): a pause, not a bug
            raise StoreUnavailableError("the job database is not open yet; musicd retries")
        return self.store

    def _supervisor(self) -> WorkerPool:
        assert self.supervisor is not None
        return self.supervisor

    def _keep_worker_alive(self) -> None:
        self._supervisor().keep_alive()

    def _ingest_ready(self) -> None:
        """Ingest every file that became ready, as one batch (one commit for a whole burst)."""
        assert self.watcher is not None
        paths = [p for p in self.watcher.poll_ready(self.monotonic()) if not self._still_stuck(p)]
        if not paths:
            return
        outcomes: list[IngestOutcome] = []
        store_failed = False
        try:
            outcomes = ingest_files(paths, self._store(), self.config, self.clock)
        except OSError as exc:
            log.error(
                "could not ingest %d file(s): %s; they stay in the inbox for the next rescan", len(paths), exc
            )
        except StoreUnavailableError:
            store_failed = True  # looked at again as soon as the database is back, not at the rescan
            raise
        except Exception:  # a bug ingest did not isolate: never a crash loop; skipped until they change
            log.exception(
                "internal error while ingesting %s; skipped until they change (please report it)",
                ", ".join(p.name for p in paths),
            )
            self._unmovable.update((Path(os.path.abspath(p)), _identity(p)) for p in paths)
        finally:
            busy = {o.path for o in outcomes if o.status is IngestStatus.BUSY}
            for path in paths:
                again = store_failed or Path(os.path.abspath(path)) in busy
                (self.watcher.retry if again else self.watcher.done)(path)
        for outcome in outcomes:
            if outcome.status is IngestStatus.STUCK:
                self._unmovable[outcome.path] = _identity(outcome.path)
            elif outcome.status is IngestStatus.REJECTED:
                self.summary["rejected"] += 1
                self._last_rejected_count_s = None  # recount at the next status write
                self.events.spec_rejected(outcome.path.name, outcome.problems, outcome.error_path)
            elif outcome.status is IngestStatus.QUEUED:
                self.summary["queued"] += len(outcome.jobs)

    def _still_stuck(self, path: Path) -> bool:
        """A file that could not even be set aside is skipped until it changes (logged once)."""
        path = Path(os.path.abspath(path))
        if path not in self._unmovable:
            return False
        if self._unmovable[path] == _identity(path):
            assert self.watcher is not None
            self.watcher.done(path)
            return True
        del self._unmovable[path]
        return False

    def _fire_schedules(self) -> None:
        assert self.scheduler is not None
        for firing in self.scheduler.due(self.clock()):
            self.enqueue_firing(firing)

    def enqueue_firing(self, firing: Firing) -> list[JobRecord]:
        """Queue the jobs of one schedule firing, each with a fresh seed."""
        from musicd.spec import load_batch

        schedule = firing.schedule
        try:
            text = schedule.spec_text()
            batch = load_batch(text, source=f"schedule {schedule.name}")
        except MusicdError as exc:
            log.error("schedule %s: not queued: %s", schedule.name, exc)
            return []
        new_jobs = [
            NewJob(
                title=spec.display_title,
                source_name=f"schedule:{schedule.name}",
                spec_text=job_text,
                spec_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                seed=draw_seed(),
                duration_s=spec.duration_s,
            )
            for spec, job_text in batch
        ]
        try:
            jobs = self._store().add_jobs(new_jobs)
        except StoreUnavailableError:
            raise
        except Exception:  # its rows cannot be stored: this firing is skipped, the service goes on
            log.exception("schedule %s: not queued (please report it)", schedule.name)
            return []
        for job in jobs:
            self._store().add_event(
                job.id,
                f"queued by schedule {schedule.name} for "
                f"{firing.fire_time.isoformat()} (seed {job.seed}"
                + (f", {firing.coalesced} missed firings coalesced)" if firing.coalesced > 1 else ")"),
            )
        log.info("schedule %s fired: %d job(s) queued", schedule.name, len(jobs))
        return jobs

    def _check_cancel(self) -> None:
        supervisor = self._supervisor()
        now = self.monotonic()
        if not supervisor.running_jobs() or now - self._last_cancel_check_s < CANCEL_CHECK_INTERVAL_S:
            return
        self._last_cancel_check_s = now
        for job_id in [r.job_id for r in supervisor.running_jobs()]:
            if not supervisor.cancel_sent(job_id) and self._store().is_cancel_requested(job_id):
                log.info("job %s: cancel requested; stopping it", job_id)
                supervisor.request_cancel(job_id)

    def _dispatch(self) -> None:
        """Claim and hand out jobs while the worker backend has free slots (the local one has one)."""
        while self._dispatch_one():
            pass

    def _dispatch_one(self) -> bool:
        supervisor = self._supervisor()
        if supervisor.free_slots <= 0 or not self.pauses.due("outbox") or not self._store().has_queued():
            return False
        problem = outbox.outbox_problem(self.config.outbox)
        if problem is not None:
            self.pauses.pause("outbox", problem)
            return False
        self.pauses.resume("outbox")
        job = self._store().claim_next()
        if job is None:
            return False
        outbox.clear_staging(self.config.outbox, job.id)
        order = RunJob(
            job_id=job.id,
            spec_text=job.spec_text,
            seed=job.seed,
            out_dir=str(outbox.staging_dir(self.config.outbox, job.id)),
            manifest_extra=job_fields(job, job.started_at or self.clock()),
        )
        log.info("job %s: dispatching %r (attempt %d)", job.id, job.title, job.attempts)
        supervisor.submit(order, job_time_limit_s(self.config, job))
        return True

    def _drained(self) -> bool:
        assert self.watcher is not None
        counts = self._store().counts()
        return (
            self._supervisor().idle
            and counts[JobState.QUEUED] == 0
            and counts[JobState.RUNNING] == 0
            and not self.watcher.candidates
            and not self.watcher.in_flight
        )

    # ------------------------------------------------------------------ worker messages

    def _handle_messages(self) -> None:
        """Handle the worker's messages in order; one the store could not take is kept for the next turn."""
        self._messages.extend(self._supervisor().poll())
        while self._messages:
            self._handle(self._messages[0])
            self._messages.popleft()

    def _handle(self, message: Message) -> None:
        store = self._store()
        if isinstance(message, Heartbeat | JobStarted):
            return
        if isinstance(message, JobProgress):
            store.record_progress(message.job_id, message.stage, message.percent)
        elif isinstance(message, JobSucceeded):
            self._finish_success(message)
        elif isinstance(message, JobFailed):
            self._finish_failure(
                message.job_id, message.error, cancelled=message.cancelled, traceback=message.traceback
            )
        elif isinstance(message, WorkerDied):
            self._worker_died(message)
        elif isinstance(message, WorkerLoading):
            log.info("worker %s loading resources", message.pid)
        elif isinstance(message, WorkerReady):
            self.quick_deaths = 0
            log.info("worker %s ready (loaded in %.2f s)", message.pid, message.load_s)
            if not self.announced_ready:
                self.announced_ready = True
                self.notifier.ready(status=self._status_text())
        elif isinstance(message, BackendStatus):
            if message.available:
                self.pauses.resume("ray")
            else:
                self.pauses.pause("ray", f"the Ray backend is unavailable: {message.reason}")
        elif isinstance(message, WorkerStartFailed):
            self.fatal = (
                f"the worker could not start: {message.error}. "
                "Check soundfont and worker.runner in the configuration (`musicd doctor`)."
            )

    def _finish_success(self, message: JobSucceeded) -> None:
        store = self._store()
        job = store.get(message.job_id)
        try:
            folder = outbox.publish_success(
                self.config.outbox, job.id, title=job.title, finished_at=self.clock()
            )
        except OSError as exc:
            self._finish_failure(job.id, f"could not publish the outputs: {exc}", cancelled=False)
            return
        store.finish(job.id, JobState.DONE, outbox_path=folder)
        warnings = _manifest_warnings(folder)
        for warning in warnings:
            store.add_event(job.id, f"published without it: {warning}", level="warning")
        self.summary["done"] += 1
        if warnings:
            self.summary["done with warnings"] += 1
        log.info("job %s done: %s%s", job.id, folder, f" ({len(warnings)} warning(s))" if warnings else "")
        self.events.job_done(job.title, job.id, folder, warnings)

    def _finish_failure(self, job_id: str, error: str, *, cancelled: bool, traceback: str = "") -> None:
        store = self._store()
        job = store.get(job_id)
        if traceback:
            log.error("job %s: %s\n%s", job.id, error, traceback)
            store.add_event(job.id, traceback, level="error")
        if cancelled:
            outbox.clear_staging(self.config.outbox, job.id)
            store.finish(job.id, JobState.CANCELLED, error=error)
            self.summary["cancelled"] += 1
            log.info("job %s cancelled", job.id)
            return
        problem = outbox.outbox_problem(self.config.outbox) if job.state is JobState.RUNNING else None
        if problem is not None:  # the outbox filled up or went read-only under the job: not its fault
            outbox.clear_staging(self.config.outbox, job.id)
            store.requeue(job.id, f"{error} ({problem})", refund_attempt=True)
            self.pauses.pause("outbox", problem)
            return
        folder = self._publish_failure(job, f"{error}\n\n{traceback}" if traceback else error)
        store.finish(job.id, JobState.FAILED, error=error, outbox_path=folder)
        self.summary["failed"] += 1
        log.warning("job %s failed: %s", job.id, error)
        self.events.job_failed(job.title, job.id, error, folder)

    def _publish_failure(self, job: JobRecord, error: str) -> Path | None:
        fields = {**job_fields(job), "seed": job.seed}
        try:
            return outbox.publish_failure(
                self.config.outbox,
                job.id,
                title=job.title,
                finished_at=self.clock(),
                error=error,
                spec_text=job.spec_text,
                manifest_fields=fields,
            )
        except OSError as exc:
            log.error("job %s: could not publish the failure: %s", job.id, exc)
            return None

    def _worker_died(self, message: WorkerDied) -> None:
        if message.while_loading:
            self.quick_deaths += 1
            if self.quick_deaths >= MAX_QUICK_WORKER_DEATHS:
                self.fatal = f"the worker died {self.quick_deaths} times while starting: {message.reason}"
        if message.job_id is None:
            return
        store = self._store()
        job = store.get(message.job_id)
        if job.state is not JobState.RUNNING:
            return
        if job.cancel_requested:
            self._finish_failure(job.id, f"cancelled ({message.reason})", cancelled=True)
            return
        if not message.counts:  # the backend was lost (Ray head gone), not the job's doing
            store.requeue(job.id, message.reason, refund_attempt=True)
            outbox.clear_staging(self.config.outbox, job.id)
            return
        if self._stop_deadline_s is not None:  # died on its own while the service was stopping: counted
            store.requeue(job.id, f"{message.reason} while the service was stopping")
            return
        max_attempts = self.config.worker.max_attempts
        if job.attempts >= max_attempts:
            error = (
                f"{message.reason}; gave up after {job.attempts} attempt(s) "
                f"(worker.max_attempts is {max_attempts})"
            )
            self._finish_failure(job.id, error, cancelled=False)
        else:
            store.requeue(job.id, f"{message.reason} (attempt {job.attempts} of {max_attempts})")
            outbox.clear_staging(self.config.outbox, job.id)

    # ------------------------------------------------------------------ reload / stop

    def reload(self) -> None:
        """SIGHUP: re-read the configuration and apply every setting that can change while running.

        Each changed setting is applied completely or not at all, and the log says which:
        folders, the SoundFont, the runner, `models:`, watch.mode, watch.recursive,
        watch.poll_interval_s and worker.heartbeat_interval_s keep their running values until a
        restart.
        """
        self.notifier.reloading()
        path = self.config.config_path
        try:
            new = load_config(path) if path is not None else self.config
        except ConfigError as exc:
            log.error("reload failed; keeping the running configuration:\n%s", exc)
            self.notifier.ready(status=self._status_text())
            return
        applied, kept = reload_plan(self.config, new)
        for name in kept:
            log.warning("%s changed in the configuration; not applied: restart musicd to apply it", name)
        logging.getLogger().setLevel(applied.log_level)
        self.config = applied
        assert self.scheduler is not None and self.watcher is not None
        self.watcher.config = applied.watch
        self._supervisor().heartbeat_timeout_s = applied.worker.heartbeat_timeout_s
        self.scheduler.grace_s = self._schedule_grace_s(applied)
        self.scheduler.reload(applied.schedules)
        log.info(
            "configuration reloaded: %d schedule(s); %s",
            len(applied.schedules),
            f"{len(kept)} setting(s) wait for a restart" if kept else "everything applied",
        )
        self.notifier.ready(status=self._status_text())

    def _begin_stop(self) -> None:
        log.info(
            "%s received: stopping (a running job gets %.0f s to finish)%s",
            self.flags.signal_name or "stop",
            self.config.worker.stop_grace_s,
            "; press Ctrl-C again to stop now and requeue the running job (the attempt is not counted)"
            if self.flags.signal_name == "SIGINT" and self._supervisor().running_jobs()
            else "",
        )
        self.notifier.stopping()
        self._stop_deadline_s = self.monotonic() + self.config.worker.stop_grace_s
        if self.watcher is not None:
            self.watcher.stop()

    def _stopped(self) -> bool:
        """While stopping: True once no job runs; kills and requeues at the grace deadline."""
        supervisor = self._supervisor()
        running = supervisor.running_jobs()
        if not running:
            return True
        assert self._stop_deadline_s is not None
        if self.flags.stop_now or self.monotonic() >= self._stop_deadline_s:
            supervisor.kill()
            why = "a second Ctrl-C" if self.flags.stop_now else "the stop grace"
            for job_id in (r.job_id for r in running):
                log.warning("job %s stopped by %s; requeued (this attempt is not counted)", job_id, why)
                job = self._store().get(job_id)
                if job.state is JobState.RUNNING:  # the service's doing, not the job's: not an attempt
                    self._store().requeue(
                        job_id, f"the service stopped ({why}) before the job finished", refund_attempt=True
                    )
                outbox.clear_staging(self.config.outbox, job_id)
            return True
        return False

    def shutdown(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.supervisor is not None:
            self.supervisor.stop(grace_s=5.0)
        if self.store is not None:
            self.store.close()
        self.events.close(grace_s=10.0 if self.once else 3.0)
        if self.lock.held:
            self._write_status_file("stopped", force=True)
        self.lock.release()
        self.notifier.close()

    def summary_text(self) -> str:
        """One line on what this run did (`run --once` prints it)."""
        parts = [f"{self.summary[k]} {k}" for k in ("done", "failed", "cancelled", "rejected")]
        extra = self.summary["done with warnings"]
        return "musicd: " + ", ".join(parts) + (f" ({extra} done with warnings)" if extra else "")

    @property
    def had_failures(self) -> bool:
        """Whether a job failed or a spec was rejected in this run."""
        return bool(self.summary["failed"] or self.summary["rejected"])

    # ------------------------------------------------------------------ status.json

    def _status_state(self) -> str:
        if self._stop_deadline_s is not None or self.flags.stop:
            return "stopping"
        if self.supervisor is None or not self.supervisor.ready:
            return "starting"
        return "paused" if self.pauses.reasons() else "running"

    def _write_status_file(self, state: str | None = None, *, force: bool = False) -> None:
        """Rewrite state_dir/status.json (at most every HEARTBEAT_INTERVAL_S unless forced)."""
        now = self.monotonic()
        last = self._last_status_file_s
        if not force and last is not None and now - last < status_file.HEARTBEAT_INTERVAL_S:
            return
        self._last_status_file_s = now
        config = self.config
        if (
            self._last_rejected_count_s is None
            or now - self._last_rejected_count_s >= REJECTED_COUNT_INTERVAL_S
        ):
            self._last_rejected_count_s = now
            try:
                _, self._rejected_count = status_file.inbox_counts(config.inbox, config.rejected_dir)
            except OSError:
                pass
        running = next(iter(self.supervisor.running_jobs()), None) if self.supervisor is not None else None
        watcher = self.watcher
        data = {
            "pid": os.getpid(),
            "state": state or self._status_state(),
            "version": __version__,
            "started_at": self.started_at.isoformat(),
            "heartbeat_at": self.clock().isoformat(),
            "heartbeat_interval_s": status_file.HEARTBEAT_INTERVAL_S,
            "once": self.once,
            "config_path": str(config.config_path) if config.config_path else None,
            "inbox": str(config.inbox),
            "outbox": str(config.outbox),
            "pauses": self.pauses.reasons(),
            "worker_ready": bool(self.supervisor is not None and self.supervisor.ready),
            "running_job": running.job_id if running is not None else None,
            "inbox_waiting": len(watcher.candidates) + len(watcher.in_flight)
            if watcher is not None
            else None,
            "rejected": self._rejected_count,
            "this_run": dict(self.summary),
        }
        try:
            status_file.write_status(config.state_dir, data)
        except OSError as exc:
            if not self._status_file_problem:
                log.warning("cannot write %s: %s", status_file.status_path(config.state_dir), exc)
            self._status_file_problem = True
        else:
            self._status_file_problem = False

    # ------------------------------------------------------------------ notify

    def _status_text(self) -> str:
        reasons = self.pauses.reasons()
        try:
            counts = self._store().counts()
        except StoreUnavailableError as exc:
            return f"paused: {'; '.join(reasons) or exc}"
        text = (
            f"{counts[JobState.RUNNING]} running, {counts[JobState.QUEUED]} queued, "
            f"{counts[JobState.DONE]} done, {counts[JobState.FAILED]} failed"
        )
        if not self._supervisor().ready:
            text = "worker loading; " + text
        return f"paused: {'; '.join(reasons)}; {text}" if reasons else text

    def _notify_periodic(self) -> None:
        self._write_status_file()
        now = self.monotonic()
        interval = self.notifier.watchdog_interval_s
        if interval is not None and now - self._last_watchdog_s >= interval:
            self._last_watchdog_s = now
            self.notifier.watchdog()
        if not self.announced_ready and now - self._last_extend_s >= LOAD_EXTEND_S / 2:
            self._last_extend_s = now
            self.notifier.extend_timeout(LOAD_EXTEND_S)
        if self.notifier.enabled and now - self._last_status_s >= STATUS_INTERVAL_S:
            self._last_status_s = now
            text = self._status_text()
            if text != self._last_status_text:
                self._last_status_text = text
                self.notifier.status(text)


RESTART_ONLY = ("inbox", "outbox", "state_dir", "soundfont", "models", "tags", "notify", "ray")
RESTART_ONLY_WATCH = ("mode", "recursive", "poll_interval_s")  # the observer is built at start
RESTART_ONLY_WORKER = ("runner", "heartbeat_interval_s", "backend")


def reload_plan(running: Config, new: Config) -> tuple[Config, list[str]]:
    """The configuration to run with after a reload, and the changed settings it keeps as they were."""
    kept = [name for name in RESTART_ONLY if getattr(new, name) != getattr(running, name)]
    kept += [f"watch.{n}" for n in RESTART_ONLY_WATCH if getattr(new.watch, n) != getattr(running.watch, n)]
    kept += [
        f"worker.{n}" for n in RESTART_ONLY_WORKER if getattr(new.worker, n) != getattr(running.worker, n)
    ]
    watch = new.watch.model_copy(update={n: getattr(running.watch, n) for n in RESTART_ONLY_WATCH})
    worker = new.worker.model_copy(update={n: getattr(running.worker, n) for n in RESTART_ONLY_WORKER})
    update = {name: getattr(running, name) for name in (*RESTART_ONLY, "engines")}
    return new.model_copy(update={**update, "watch": watch, "worker": worker}), kept


def _manifest_warnings(folder: Path) -> list[str]:
    """The messages of a published manifest's `warnings` (optional stages that failed)."""
    from musicd.pipeline.manifest import read_manifest

    found = read_manifest(folder).get("warnings")
    if not isinstance(found, list):
        return []
    return [str(w.get("message", w)) if isinstance(w, dict) else str(w) for w in found]


def _identity(path: Path) -> tuple[int, int, int]:
    try:
        info = os.lstat(path)
    except OSError:
        return (0, 0, 0)
    return info.st_ino, info.st_size, info.st_mtime_ns


def run_service(
    config: Config,
    *,
    once: bool = False,
    clock: Callable[[], datetime] = utc_now,
    runner: str | None = None,
    notifier: Notifier | None = None,
) -> int:
    """Run the service in this process until stopped (or drained with `once`); returns the exit code."""
    service = Service(config, once=once, clock=clock, runner=runner, notifier=notifier)
    service.install_signal_handlers()
    code = service.run()
    if once:
        log.info("%s", service.summary_text())
    return code
