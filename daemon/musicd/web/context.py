"""What every request handler shares: the layout, the store (opened lazily), the outbox index.

`JobView` joins what is known of one job: its row in the store, a submission still in
the inbox (or rejected), and its published folder with the manifest.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from musicd.errors import JobNotFoundError, StoreError
from musicd.queue.jobs import JobRecord, JobState
from musicd.web import library as lib
from musicd.web.settings import WebSettings
from musicd.web.submit import Pending, is_submission_id, pending_submission, submission_file

log = logging.getLogger(__name__)

FINAL_STATES = ("done", "failed", "cancelled", "rejected")
CAPABILITY_TTL_S = 300.0  # doctor's checks are kept this long
CAPABILITY_WAIT_S = 5.0  # a request waits this long for checks still running


@dataclass(frozen=True)
class Layout:
    """The folders the web process uses (from the service configuration)."""

    inbox: Path
    outbox: Path
    state_dir: Path
    config: Any = None  # the full musicd Config, when there is one (schedules, soundfont, models)

    @property
    def rejected_dir(self) -> Path:
        return self.inbox / "rejected"


@dataclass(frozen=True)
class JobView:
    key: str  # what the client asked with (job id, short id or submission id)
    record: JobRecord | None
    pending: Pending | None
    published: lib.Published | None
    manifest: dict[str, Any]

    @property
    def state(self) -> str:
        if self.record is not None:
            return self.record.state.value
        if self.pending is not None:
            return self.pending.state
        if self.published is not None:
            return "failed" if self.published.failed else "done"
        return "unknown"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def job_id(self) -> str | None:
        if self.record is not None:
            return self.record.id
        job_id = self.manifest.get("job_id")
        return job_id if isinstance(job_id, str) else None

    @property
    def page_key(self) -> str:
        """The stable key for this job's URLs: its job id, else the submission id."""
        return self.job_id or self.key


class Context:
    def __init__(self, layout: Layout, settings: WebSettings) -> None:
        self.layout = layout
        self.settings = settings
        self.library = lib.Library(layout.outbox)
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._submissions: dict[str, str] = {}  # submission id -> job id, once found
        self.store_problem = ""  # why store() is None, when it is
        self._checks: tuple[float, list[dict[str, Any]]] | None = None  # (when, doctor's checks)
        self._checks_lock = threading.Lock()
        self._checking: threading.Thread | None = None
        self.started = time.monotonic()

    # ------------------------------------------------------------- the store

    def store(self) -> Any:
        """The job store opened read-only (SQLite mode=ro, no migrations), or None while it cannot be read.

        The web never creates or upgrades the database: that is the service's. `store_problem`
        says why it is None (no database yet, an older schema, no permission).
        """
        from musicd.queue.store import Store

        with self._store_lock:
            if self._store is None:
                try:
                    self._store = Store.open_existing(self.layout.state_dir, read_only=True)
                except StoreError as exc:
                    if str(exc) != self.store_problem:
                        log.warning("cannot read the job store: %s", exc)
                    self.store_problem = str(exc)
                else:
                    self.store_problem = ""
            return self._store

    def act(self, key: str, action: str) -> JobRecord:
        """Retry or cancel one job: the web's only write, one short transaction on its own connection.

        Raises JobNotFoundError for an unknown job and StoreError when the database cannot be
        written (or `action` is neither "retry" nor "cancel").
        """
        from musicd.queue.store import Store

        record = self.record(key)
        if record is None:
            raise JobNotFoundError(f"no job {key!r}")
        if action not in ("retry", "cancel"):
            raise StoreError(f"unknown action {action!r}: retry or cancel")
        with Store.open_existing(self.layout.state_dir, read_only=False) as store:
            return store.retry(record.id) if action == "retry" else store.request_cancel(record.id)

    def close(self) -> None:
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def record(self, key: str) -> JobRecord | None:
        store = self.store()
        if store is None or not key.strip():
            return None
        cached = self._submissions.get(key.upper())
        try:
            return store.get(cached or key)
        except JobNotFoundError:
            pass
        if is_submission_id(key):
            job = store.job_by_source_name(submission_file(key.upper()))
            if job is not None:
                self._submissions[key.upper()] = job.id
            return job
        return None

    # ------------------------------------------------------------ one job

    def published_of(self, record: JobRecord | None, key: str) -> lib.Published | None:
        if record is not None and record.outbox_path is not None:
            try:
                rel = Path(record.outbox_path).relative_to(self.layout.outbox).as_posix()
            except ValueError:
                rel = ""
            parts = rel.split("/")
            if len(parts) == 4 and lib.safe_file(self.layout.outbox, rel + "/manifest.json"):
                name = parts[-1]
                return lib.Published(rel, record.short_id, name.endswith("-failed"))
        if record is not None:
            return self.library.find(record.short_id) if record.state.is_final else None
        if len(key) in (8, 26) and key.isalnum():
            return self.library.find(key)  # a job known only from the outbox (e.g. a new database)
        return None

    def view(self, key: str) -> JobView | None:
        key = key.strip()
        if not key or len(key) > 64 or not key.replace("-", "").isalnum():
            return None
        record = self.record(key)
        pending = None
        if record is None and is_submission_id(key):
            pending = pending_submission(self.layout.inbox, key)
        published = self.published_of(record, key) if pending is None else None
        if record is None and pending is None and published is None:
            return None
        manifest = self.library.manifest(published) if published else {}
        return JobView(key, record, pending, published, manifest)

    # ----------------------------------------------------------- the queue

    def queue(self) -> dict[str, Any]:
        store = self.store()
        now = datetime.now(UTC)
        running: list[dict[str, Any]] = []
        queued: list[JobRecord] = []
        failed: list[JobRecord] = []
        counts: dict[str, int] = {}
        if store is not None:
            counts = {state.value: n for state, n in store.counts().items()}
            for job in store.list_jobs(JobState.RUNNING, limit=50):
                elapsed = (now - job.started_at).total_seconds() if job.started_at else 0.0
                percent = job.percent or 0.0
                eta = elapsed * (100 - percent) / percent if percent >= 1 else None
                running.append({"job": job, "elapsed_s": elapsed, "eta_s": eta})
            queued = list(reversed(store.list_jobs(JobState.QUEUED, limit=100)))
            failed = store.list_jobs(JobState.FAILED, limit=20) + store.list_jobs(
                JobState.CANCELLED, limit=10
            )
            failed.sort(key=lambda j: j.updated_at, reverse=True)
        return {
            "store": store is not None,
            "store_problem": self.store_problem,
            "counts": counts,
            "running": running,
            "queued": queued,
            "failed": failed,
            "rejected": self.rejected(),
            "waiting": self.waiting(),
            "schedules": self.schedules(),
        }

    def rejected(self, limit: int = 20) -> list[dict[str, Any]]:
        folder = self.layout.rejected_dir
        try:
            errors = [p for p in folder.iterdir() if p.name.endswith(".error.txt") and p.is_file()]
        except OSError:
            return []
        errors.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        found = []
        for path in errors[:limit]:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:5000]
            except OSError:
                continue
            found.append({"name": path.name.removesuffix(".error.txt"), "error": text})
        return found

    def waiting(self) -> list[str]:
        """Spec files in the inbox the service has not taken yet."""
        try:
            return sorted(
                p.name
                for p in self.layout.inbox.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".yaml", ".yml")
            )[:50]
        except OSError:
            return []

    def schedules(self) -> list[tuple[str, datetime | None]]:
        config = self.layout.config
        if config is None or not getattr(config, "schedules", None):
            return []
        from musicd.service.scheduler import Scheduler

        try:
            scheduler = Scheduler(
                config.schedules, config.state_dir, grace_s=config.schedule_grace_s, persist=False
            )
            return sorted(scheduler.next_fire_times().items(), key=lambda kv: (kv[1] is None, kv[1]))
        except Exception as exc:  # the page still renders; the schedule error is the service's to report
            log.warning("cannot compute the next schedule firings: %s", exc)
            return []

    # -------------------------------------------------------- capabilities

    def capabilities(self, wait_s: float = CAPABILITY_WAIT_S) -> dict[str, Any]:
        """What `musicd doctor` knows, plus the spec's choices.

        The checks (some start engines, e.g. Magenta's sidecar: tens of seconds) run in a
        background thread and are kept CAPABILITY_TTL_S; a request waits for them at most
        `wait_s`, then answers with `"checks": null, "checksPending": true` (ask again).
        """
        with self._checks_lock:
            fresh = self._checks is not None and time.monotonic() - self._checks[0] < CAPABILITY_TTL_S
            if not fresh and (self._checking is None or not self._checking.is_alive()):
                self._checking = threading.Thread(
                    target=self._run_checks, name="musicd-web-doctor", daemon=True
                )
                self._checking.start()
            checking = self._checking
        if not fresh and checking is not None:
            checking.join(wait_s)
        with self._checks_lock:
            checks = self._checks[1] if self._checks is not None else None
        return {
            **self._choices(),
            "checks": checks,
            "ready": all(c["ok"] for c in checks if not c["optional"]) if checks is not None else None,
            "checksPending": checks is None,
        }

    def _run_checks(self) -> None:
        from musicd.doctor import run_checks

        config = self.layout.config
        try:
            # the SoundFont's file is checked, not loaded: the web process never holds its samples
            checks = run_checks(
                getattr(config, "soundfont", None), getattr(config, "engines", None), load_soundfont=False
            )
        except Exception:  # the endpoint keeps answering; the log says why the checks failed
            log.exception("the capability checks failed")
            return
        found = [{"name": c.name, "ok": c.ok, "detail": c.detail, "optional": c.optional} for c in checks]
        with self._checks_lock:
            self._checks = (time.monotonic(), found)

    def _choices(self) -> dict[str, Any]:
        from musicd import __version__
        from musicd.music.genres import GENRE_NAMES
        from musicd.music.languages import LANGUAGES
        from musicd.spec import MAX_SPEC_BYTES
        from musicd.spec.choices import AUDIO_FORMATS, VIDEO_STYLE_NAMES, VIDEO_STYLES
        from musicd.spec.model import BPM_RANGE, DURATION_RANGE_S, MAX_GENRES

        return {
            "version": __version__,
            "genres": list(GENRE_NAMES),
            "vocalLanguages": sorted(LANGUAGES),
            "videoStyles": list(VIDEO_STYLES),
            "videoStyleNames": dict(VIDEO_STYLE_NAMES),
            "audioFormats": list(AUDIO_FORMATS),
            "limits": {
                "durationSec": list(DURATION_RANGE_S),
                "bpm": list(BPM_RANGE),
                "maxGenres": MAX_GENRES,
                "maxSpecBytes": MAX_SPEC_BYTES,
            },
        }
