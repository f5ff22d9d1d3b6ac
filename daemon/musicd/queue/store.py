"""The job store: SQLite (WAL) in state_dir; the only module that writes SQL.

Several connections and processes may use one database at once (the service
writes while `musicd status` reads): every write runs in its own
`BEGIN IMMEDIATE` transaction, readers never block writers (WAL), and a busy
database is waited on for `busy_timeout_s` before `sqlite3.OperationalError`.
Times come from an injected clock (a callable returning an aware datetime)
and are stored as UTC ISO-8601 text.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from ulid import ULID

from musicd.clock import Clock, utc_now
from musicd.errors import JobNotFoundError, StoreError, StoreUnavailableError
from musicd.queue.jobs import JobEvent, JobRecord, JobState, NewJob, SpecSource
from musicd.queue.migrations import MIGRATIONS, Migration
from musicd.service import fsinfo

log = logging.getLogger(__name__)


DB_FILENAME = "musicd.sqlite3"
DEFAULT_BUSY_TIMEOUT_S = 5.0
MAX_INTERRUPTIONS = 10  # service crashes in a row while one job ran, before that job is failed


def new_id(now: datetime) -> str:
    """A fresh ULID (26 characters, sortable by creation time) for a job or spec source."""
    return str(ULID.from_datetime(now))


def datetime_to_text(value: datetime) -> str:
    """UTC ISO-8601 with microseconds: sorts as text in time order."""
    if value.tzinfo is None:
        raise ValueError("the store's clock must return timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def text_to_datetime(value: str | None) -> datetime | None:
    """The inverse of `datetime_to_text` (None stays None)."""
    return None if value is None else datetime.fromisoformat(value)


def _row_to_job(row: dict[str, Any]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        state=JobState(row["state"]),
        priority=row["priority"],
        attempts=row["attempts"],
        title=row["title"],
        source_name=row["source_name"],
        spec_hash=row["spec_hash"],
        spec_text=row["spec_text"],
        seed=row["seed"],
        error=row["error"],
        outbox_path=text_to_path(row["outbox_path"]) if row["outbox_path"] else None,
        stage=row["stage"],
        percent=row["percent"],
        cancel_requested=bool(row["cancel_requested"]),
        source_id=row["source_id"],
        created_at=text_to_datetime(row["created_at"]),  # type: ignore[arg-type]
        queued_at=text_to_datetime(row["queued_at"]),  # type: ignore[arg-type]
        started_at=text_to_datetime(row["started_at"]),
        finished_at=text_to_datetime(row["finished_at"]),
        updated_at=text_to_datetime(row["updated_at"]),  # type: ignore[arg-type]
        duration_s=row["duration_s"],
    )


def _row_to_source(row: dict[str, Any]) -> SpecSource:
    return SpecSource(
        id=row["id"],
        source_path=text_to_path(row["source_path"]),
        source_name=row["source_name"],
        spec_hash=row["spec_hash"],
        kept_path=text_to_path(row["kept_path"]),
        ingested_at=text_to_datetime(row["ingested_at"]),  # type: ignore[arg-type]
        kept_at=text_to_datetime(row["kept_at"]),
    )


class Store:
    """Jobs, their events and the spec files they came from, in one SQLite file.

    Open with `Store.open(state_dir)` (or `Store(db_path)`); close with `close()`
    or use it as a context manager. One instance may be shared by threads (calls
    are serialised); other processes open their own instance on the same file.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        clock: Clock = utc_now,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        allow_network_fs: bool = False,
        mountinfo_text: str | None = None,
    ) -> None:
        """Open (creating if needed) the database at `db_path` and apply pending migrations.

        Raises StoreError when the file's folder is on a network filesystem
        (unless `allow_network_fs`, which only logs a warning) or cannot be opened.
        `mountinfo_text` replaces /proc/self/mountinfo for the network check (tests).
        """
        self.path = Path(db_path)
        self._clock = clock
        self._lock = threading.RLock()
        self.commits = 0  # write transactions this instance committed (each costs a full fsync)
        _check_local_filesystem(self.path.parent, allow_network_fs, mountinfo_text)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the job database {self.path}: {exc}. "
                "Check that state_dir exists and is writable by the service user."
            ) from exc
        self._conn = conn
        self.db = sqlite_utils.Database(conn)
        self.created = False  # whether this open created the database (set below)
        self.read_only = False  # True for Store.open_existing(read_only=True)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            self.db.enable_wal()
            # FULL: a committed ingest must survive power loss before its file is moved.
            conn.execute("PRAGMA synchronous = FULL")
            self.created = not self.db["jobs"].exists()
            self._migrate()
            self._identity = _file_identity(self.path)
        except StoreUnavailableError:  # locked or full: the caller retries with a new connection
            conn.close()
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            if _transient(self.path, exc):  # locked, or its disk full, before any transaction: retry
                raise StoreUnavailableError(_unavailable_reason(self.path, exc)) from exc
            raise StoreError(f"cannot prepare the job database {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot prepare the job database {self.path}: {exc}") from exc

    @classmethod
    def open(cls, state_dir: Path, **kwargs: Any) -> Store:
        """Open the store in `state_dir` (file `musicd.sqlite3`); keyword arguments as `Store()`."""
        return cls(Path(state_dir) / DB_FILENAME, **kwargs)

    @classmethod
    def open_existing(
        cls,
        state_dir: Path,
        *,
        read_only: bool = True,
        clock: Clock = utc_now,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> Store:
        """Attach to the database the service created in `state_dir`, never creating or migrating it.

        For a process beside the service (`musicd web`). `read_only` opens it with SQLite's
        `mode=ro` (every write fails); otherwise writes are allowed (a short retry or cancel)
        but the file, its journal mode and its schema are left as the service made them.
        Raises StoreError when the database is absent, cannot be opened, or lacks a migration
        this musicd knows (the service has not been restarted since an upgrade).
        """
        path = Path(state_dir) / DB_FILENAME
        if not path.is_file():
            raise StoreError(
                f"there is no job database at {path} yet; start the service (musicd run) "
                "once so it creates it, or check state_dir in the configuration"
            )
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode={'ro' if read_only else 'rw'}"
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            applied = {row[0] for row in conn.execute("SELECT name FROM migrations").fetchall()}
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise StoreError(
                f"cannot read the job database {path}: {exc}. Check that the service has created it "
                "and that this user may read its folder"
            ) from exc
        missing = [m.name for m in MIGRATIONS if m.name not in applied]
        if missing:
            conn.close()
            raise StoreError(
                f"the job database {path} is at an older schema (missing {', '.join(missing)}); "
                "restart the service (systemctl restart musicd) so it upgrades the database"
            )
        store = cls.__new__(cls)
        store.path = path
        store._clock = clock
        store._lock = threading.RLock()
        store.commits = 0
        store._conn = conn
        store.db = sqlite_utils.Database(conn)
        store.created = False
        store.read_only = read_only
        store._identity = _file_identity(path)
        return store

    def close(self) -> None:
        """Close the connection (further calls fail)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- plumbing

    def _now(self) -> str:
        return datetime_to_text(self._clock())

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: BEGIN IMMEDIATE (takes the write lock up front), COMMIT or ROLLBACK.

        SQLite's operational errors (locked past the busy timeout, disk full, read-only, I/O)
        become StoreUnavailableError: nothing was written, and the caller may retry later.
        """
        with self._lock, self._unavailable_as_error():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self.commits += 1

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock, self._unavailable_as_error():
            return list(self.db.query(sql, params))

    @contextlib.contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StoreUnavailableError(_unavailable_reason(self.path, exc)) from exc

    def check_file(self) -> None:
        """Raise StoreUnavailableError when the database file was deleted or replaced since it was opened."""
        if _file_identity(self.path) != self._identity:
            raise StoreUnavailableError(
                f"the job database {self.path} was deleted or replaced while musicd was running; "
                "musicd stopped taking new work. Restart musicd: specs already accepted are kept "
                f"under {self.path.parent / 'specs'} and are queued again at start-up"
            )

    def _migrate(self) -> None:
        with self._write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            applied = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
            for migration in MIGRATIONS:
                if migration.name not in applied:
                    self._apply(db, migration)

    def _apply(self, db: sqlite_utils.Database, migration: Migration) -> None:
        log.info("applying database migration %s to %s", migration.name, self.path)
        db.executescript(migration.sql)
        db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [migration.name, self._now()])

    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded as applied, in the order they ran."""
        return [r["name"] for r in self._rows("SELECT name FROM migrations ORDER BY rowid")]

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for this database ('wal' once opened)."""
        with self._lock:
            return self.db.journal_mode

    def _event(
        self,
        db: sqlite_utils.Database,
        job_id: str,
        now: str,
        message: str | None,
        *,
        level: str = "info",
        stage: str | None = None,
        percent: float | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO events (job_id, time, stage, percent, message, level) VALUES (?, ?, ?, ?, ?, ?)",
            [job_id, now, stage, percent, message, level],
        )

    def _job_row(self, db: sqlite_utils.Database, job_id: str) -> dict[str, Any]:
        rows = list(db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
        if not rows:
            raise JobNotFoundError(f"no job with id {job_id}; `musicd list` shows the jobs there are")
        return rows[0]

    # --------------------------------------------------------------- adding

    def add_jobs(self, new_jobs: Sequence[NewJob], *, source: SpecSource | None = None) -> list[JobRecord]:
        """Queue `new_jobs` (and record their spec file `source`, if any) in ONE transaction.

        All rows are written or none is. Jobs are claimed in the order given
        (within the same priority). Returns the new records, in that order.
        """
        return self.add_job_batches([(new_jobs, source)])[0]

    def add_job_batches(
        self, batches: Sequence[tuple[Sequence[NewJob], SpecSource | None]]
    ) -> list[list[JobRecord]]:
        """Queue several files' jobs, each with its spec `source` (or None), in ONE transaction.

        What ingesting a burst of files commits at once: one durable commit instead
        of one per file. All rows of all batches are written or none is; jobs are
        claimed in the order given. Returns each batch's new records, in order.
        """
        if not batches or any(not new_jobs for new_jobs, _ in batches):
            raise ValueError("add_job_batches needs at least one job in every batch")
        clock_now = self._clock()
        now = datetime_to_text(clock_now)
        with self._write() as db:
            next_seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            all_ids: list[list[str]] = []
            for new_jobs, source in batches:
                if source is not None:
                    db.table("spec_sources").insert(_source_row(source))
                ids = [new_id(clock_now) for _ in new_jobs]
                db.table("jobs").insert_all(
                    _new_job_row(job_id, next_seq + index, job, source, now)
                    for index, (job_id, job) in enumerate(zip(ids, new_jobs))
                )
                next_seq += len(ids)
                for job_id, job in zip(ids, new_jobs):
                    self._event(db, job_id, now, f"queued from {job.source_name}")
                all_ids.append(ids)
            rows = [[self._job_row(db, job_id) for job_id in ids] for ids in all_ids]
        return [[_row_to_job(r) for r in batch] for batch in rows]

    # ------------------------------------------------------- spec sources

    def find_pending_source(self, source_path: Path, spec_hash: str) -> SpecSource | None:
        """The recorded ingest of this exact file (path + content hash) whose move never finished."""
        rows = self._rows(
            "SELECT * FROM spec_sources WHERE source_path = ? AND spec_hash = ? AND kept_at IS NULL "
            "ORDER BY ingested_at LIMIT 1",
            [path_to_text(source_path), spec_hash],
        )
        return _row_to_source(rows[0]) if rows else None

    def pending_sources(self) -> list[SpecSource]:
        """Every ingest committed to the database whose file has not been marked kept yet."""
        rows = self._rows("SELECT * FROM spec_sources WHERE kept_at IS NULL ORDER BY ingested_at, id")
        return [_row_to_source(r) for r in rows]

    def mark_source_kept(self, source_id: str) -> None:
        """Record that the spec file of ingest `source_id` now lies at its kept path."""
        self.mark_sources_kept([source_id])

    def mark_sources_kept(self, source_ids: Sequence[str], *, withdraw: Sequence[str] = ()) -> None:
        """`mark_source_kept` for many ingests in ONE transaction (nothing to do for none).

        `withdraw` names ingests whose file changed after their jobs were queued: in the same
        transaction their still-queued jobs (with their events) and their source rows are
        removed, as if never queued, so the file's new content can be queued in their place.
        """
        if not source_ids and not withdraw:
            return
        now = self._now()
        with self._write() as db:
            db.conn.executemany(
                "UPDATE spec_sources SET kept_at = ? WHERE id = ?", [(now, i) for i in source_ids]
            )
            for source_id in withdraw:
                db.execute("DELETE FROM jobs WHERE source_id = ? AND state = 'queued'", [source_id])
                left = db.execute("SELECT COUNT(*) FROM jobs WHERE source_id = ?", [source_id]).fetchone()[0]
                if left:  # a job already left the queue: keep the source it points at, closed
                    db.execute("UPDATE spec_sources SET kept_at = ? WHERE id = ?", [now, source_id])
                else:
                    db.execute("DELETE FROM spec_sources WHERE id = ?", [source_id])

    def kept_names(self) -> set[str]:
        """The file names (not folders: state_dir may have moved) of every recorded spec source's
        kept path; each begins with a unique id, so a kept file not named here has no job row."""
        rows = self._rows("SELECT kept_path FROM spec_sources")
        return {text_to_path(row["kept_path"]).name for row in rows}

    def get_source(self, source_id: str) -> SpecSource:
        """The spec source recorded under `source_id` (StoreError if there is none)."""
        rows = self._rows("SELECT * FROM spec_sources WHERE id = ?", [source_id])
        if not rows:
            raise StoreError(f"no spec source with id {source_id}")
        return _row_to_source(rows[0])

    # ------------------------------------------------------------ running

    def has_queued(self) -> bool:
        """Whether any job waits in the queue."""
        return bool(self._rows("SELECT 1 AS one FROM jobs WHERE state = 'queued' LIMIT 1"))

    def claim_next(self) -> JobRecord | None:
        """Atomically take the next queued job (highest priority, then oldest) and mark it running.

        Sets started_at, raises attempts by one and clears stage/percent. Returns
        None when nothing is queued. Safe against concurrent claimers: each job is
        handed to exactly one caller.
        """
        now = self._now()
        with self._write() as db:
            rows = list(
                db.query(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = :now, "
                    "updated_at = :now, stage = NULL, percent = NULL, error = NULL "
                    "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' "
                    "ORDER BY priority DESC, queued_at, seq LIMIT 1) RETURNING *",
                    {"now": now},
                )
            )
            if not rows:
                return None
            row = rows[0]
            self._event(db, row["id"], now, f"started (attempt {row['attempts']})")
        return _row_to_job(row)

    def recover_interrupted(self, max_interruptions: int = MAX_INTERRUPTIONS) -> list[JobRecord]:
        """At start-up: deal with jobs a crash of the service left `running`.

        The service's death says nothing about the job (its worker died with the service),
        so the attempt is not counted; each is requeued with its `interruptions` raised.
        A job that was running at `max_interruptions` crashes in a row is failed, so one
        spec that somehow takes the whole service down cannot loop forever. Returns the
        jobs changed, as they are now.
        """
        now = self._now()
        changed: list[str] = []
        with self._write() as db:
            running = list(
                db.query("SELECT id, interruptions FROM jobs WHERE state = 'running' ORDER BY seq")
            )
            for row in running:
                job_id, interruptions = row["id"], row["interruptions"] + 1
                if interruptions >= max_interruptions:
                    message = f"the service was interrupted {interruptions} times while running this job"
                    db.execute(
                        "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ?, "
                        "cancel_requested = 0, interruptions = ? WHERE id = ?",
                        [message, now, now, interruptions, job_id],
                    )
                    self._event(db, job_id, now, message, level="error")
                    log.warning("job %s failed: %s", job_id, message)
                else:
                    db.execute(
                        "UPDATE jobs SET state = 'queued', queued_at = ?, updated_at = ?, started_at = NULL, "
                        "stage = NULL, percent = NULL, attempts = MAX(attempts - 1, 0), interruptions = ? "
                        "WHERE id = ?",
                        [now, now, interruptions, job_id],
                    )
                    self._event(
                        db,
                        job_id,
                        now,
                        "requeued: the service stopped unexpectedly while it ran; this attempt is not counted",
                        level="warning",
                    )
                    log.warning("job %s was interrupted by the service stopping; requeued uncounted", job_id)
                changed.append(job_id)
            rows = [self._job_row(db, job_id) for job_id in changed]
        return [_row_to_job(r) for r in rows]

    def record_progress(self, job_id: str, stage: str, percent: float, message: str | None = None) -> None:
        """Note a running job's stage and percent (0..100), with an events row."""
        now = self._now()
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET stage = ?, percent = ?, updated_at = ? WHERE id = ?",
                [stage, percent, now, job_id],
            )
            self._event(db, job_id, now, message, stage=stage, percent=percent)

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        stage: str | None = None,
        percent: float | None = None,
    ) -> None:
        """Append a free-form line to a job's history (e.g. "worker restarted")."""
        now = self._now()
        with self._write() as db:
            self._job_row(db, job_id)
            self._event(db, job_id, now, message, level=level, stage=stage, percent=percent)

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        error: str | None = None,
        outbox_path: Path | None = None,
    ) -> JobRecord:
        """End a running job as done, failed or cancelled; records error and outbox folder.

        Raises StoreError if `state` is not final or the job is not running.
        """
        state = JobState(state)
        if not state.is_final:
            raise StoreError(f"finish() needs done, failed or cancelled, not {state.value}")
        now = self._now()
        with self._write() as db:
            row = self._job_row(db, job_id)
            if row["state"] != JobState.RUNNING.value:
                raise StoreError(f"job {job_id} is {row['state']}, not running; it cannot be finished")
            db.execute(
                "UPDATE jobs SET state = ?, error = ?, outbox_path = ?, finished_at = ?, updated_at = ?, "
                "percent = CASE WHEN ? = 'done' THEN 100.0 ELSE percent END WHERE id = ?",
                [
                    state.value,
                    error,
                    path_to_text(outbox_path) if outbox_path else None,
                    now,
                    now,
                    state.value,
                    job_id,
                ],
            )
            message = state.value if error is None else f"{state.value}: {error}"
            self._event(db, job_id, now, message, level="error" if state is JobState.FAILED else "info")
            row = self._job_row(db, job_id)
        return _row_to_job(row)

    def requeue(self, job_id: str, reason: str, *, refund_attempt: bool = False) -> JobRecord:
        """Put a running job back in the queue (e.g. the worker was restarted).

        The attempt counted by `claim_next` stays counted (a crash or a hang counts
        towards max_attempts), unless `refund_attempt`: for a run the service itself
        interrupted (stopped with the job still running), which says nothing about the job.
        """
        now = self._now()
        with self._write() as db:
            row = self._job_row(db, job_id)
            if row["state"] != JobState.RUNNING.value:
                raise StoreError(f"job {job_id} is {row['state']}, not running; it cannot be requeued")
            db.execute(
                "UPDATE jobs SET state = 'queued', queued_at = ?, updated_at = ?, started_at = NULL, "
                "stage = NULL, percent = NULL, "
                "attempts = CASE WHEN ? THEN MAX(attempts - 1, 0) ELSE attempts END WHERE id = ?",
                [now, now, int(refund_attempt), job_id],
            )
            message = f"requeued: {reason}" + ("; this attempt is not counted" if refund_attempt else "")
            self._event(db, job_id, now, message, level="warning")
            row = self._job_row(db, job_id)
        return _row_to_job(row)

    def set_outbox_path(self, job_id: str, outbox_path: Path) -> JobRecord:
        """Record where a finished job was published (e.g. the -failed folder of a job that
        start-up recovery failed after too many interrupted attempts)."""
        now = self._now()
        with self._write() as db:
            row = self._job_row(db, job_id)
            if not JobState(row["state"]).is_final:
                raise StoreError(f"job {job_id} is {row['state']}; only a finished job has an outbox folder")
            db.execute(
                "UPDATE jobs SET outbox_path = ?, updated_at = ? WHERE id = ?",
                [path_to_text(outbox_path), now, job_id],
            )
            self._event(db, job_id, now, f"published at {outbox_path}")
            row = self._job_row(db, job_id)
        return _row_to_job(row)

    def retry(self, job_id: str) -> JobRecord:
        """Queue a failed or cancelled job again with its attempts reset (id prefix accepted)."""
        job_id = self.get(job_id).id
        now = self._now()
        with self._write() as db:
            row = self._job_row(db, job_id)
            if row["state"] not in (JobState.FAILED.value, JobState.CANCELLED.value):
                raise StoreError(
                    f"job {job_id} is {row['state']}; only failed or cancelled jobs can be retried"
                )
            db.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, cancel_requested = 0, "
                "stage = NULL, percent = NULL, started_at = NULL, finished_at = NULL, outbox_path = NULL, "
                "queued_at = ?, updated_at = ? WHERE id = ?",
                [now, now, job_id],
            )
            self._event(db, job_id, now, f"retry requested (was {row['state']})")
            row = self._job_row(db, job_id)
        return _row_to_job(row)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel a job (id prefix accepted): queued -> cancelled at once; running -> cancel_requested.

        The worker checks `is_cancel_requested` at stage boundaries and the job is
        then finished as cancelled. Raises StoreError for a job that already ended.
        """
        job_id = self.get(job_id).id
        now = self._now()
        with self._write() as db:
            row = self._job_row(db, job_id)
            state = JobState(row["state"])
            if state is JobState.QUEUED:
                db.execute(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ? WHERE id = ?",
                    [now, now, job_id],
                )
                self._event(db, job_id, now, "cancelled before it started")
            elif state is JobState.RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", [now, job_id])
                self._event(
                    db,
                    job_id,
                    now,
                    "cancel requested; the job stops within about a second in render, encode and video, else at its next stage",
                )
            else:
                raise StoreError(f"job {job_id} is already {state.value}; there is nothing to cancel")
            row = self._job_row(db, job_id)
        return _row_to_job(row)

    def is_cancel_requested(self, job_id: str) -> bool:
        """True once `request_cancel` was called for this running job."""
        rows = self._rows("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id])
        return bool(rows and rows[0]["cancel_requested"])

    # ------------------------------------------------------------ reading

    def get(self, job_id: str) -> JobRecord:
        """One job by full id, unique id prefix or unique short id (the last 8 characters).

        Case-insensitive. Raises JobNotFoundError when nothing or several jobs match.
        """
        key = job_id.strip().upper()
        if not key:
            raise JobNotFoundError("no job id given")
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", [key])
        if not rows:
            pattern = key.replace("\\", "").replace("%", "").replace("_", "")
            rows = self._rows(
                "SELECT * FROM jobs WHERE id LIKE ? OR id LIKE ? ORDER BY seq LIMIT 6",
                [pattern + "%", "%" + pattern],
            )
        if not rows:
            raise JobNotFoundError(f"no job matches {job_id!r}; `musicd list` shows the jobs there are")
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5])
            raise JobNotFoundError(f"{job_id!r} matches several jobs ({shown}); give more of the id")
        return _row_to_job(rows[0])

    def list_jobs(self, state: JobState | None = None, limit: int = 50) -> list[JobRecord]:
        """The newest jobs first, optionally only those in `state`."""
        if state is None:
            rows = self._rows("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", [limit])
        else:
            rows = self._rows(
                "SELECT * FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?", [JobState(state).value, limit]
            )
        return [_row_to_job(r) for r in rows]

    def job_by_source_name(self, source_name: str) -> JobRecord | None:
        """The first job queued from a spec file named `source_name` (indexed), or None."""
        rows = self._rows("SELECT * FROM jobs WHERE source_name = ? ORDER BY seq LIMIT 1", [source_name])
        return _row_to_job(rows[0]) if rows else None

    def jobs_from_source(self, source_id: str) -> list[JobRecord]:
        """The jobs created from one ingested spec file, in file order."""
        rows = self._rows("SELECT * FROM jobs WHERE source_id = ? ORDER BY seq", [source_id])
        return [_row_to_job(r) for r in rows]

    def events(self, job_id: str) -> list[JobEvent]:
        """A job's history, oldest first."""
        rows = self._rows("SELECT * FROM events WHERE job_id = ? ORDER BY id", [job_id])
        return [
            JobEvent(
                job_id=r["job_id"],
                time=text_to_datetime(r["time"]),  # type: ignore[arg-type]
                stage=r["stage"],
                percent=r["percent"],
                message=r["message"],
                level=r["level"],
            )
            for r in rows
        ]

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state (every state present, zeros included)."""
        result = {state: 0 for state in JobState}
        for row in self._rows("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            result[JobState(row["state"])] = row["n"]
        return result


def _source_row(source: SpecSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "source_path": path_to_text(source.source_path),
        "source_name": source.source_name,
        "spec_hash": source.spec_hash,
        "kept_path": path_to_text(source.kept_path),
        "ingested_at": datetime_to_text(source.ingested_at),
        "kept_at": datetime_to_text(source.kept_at) if source.kept_at else None,
    }


def _new_job_row(job_id: str, seq: int, job: NewJob, source: SpecSource | None, now: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "seq": seq,
        "state": JobState.QUEUED.value,
        "priority": job.priority,
        "attempts": 0,
        "title": job.title,
        "source_name": job.source_name,
        "spec_hash": job.spec_hash,
        "spec_text": job.spec_text,
        "seed": job.seed,
        "duration_s": job.duration_s,
        "cancel_requested": 0,
        "source_id": source.id if source else None,
        "created_at": now,
        "queued_at": now,
        "updated_at": now,
    }


def _check_local_filesystem(folder: Path, allow_network_fs: bool, mountinfo_text: str | None) -> None:
    mount = fsinfo.filesystem_of(folder, mountinfo_text)
    if mount is None or not mount.is_network:
        return
    message = (
        f"the job database folder {folder} is on a network filesystem ({mount.fs_type} at "
        f"{mount.mount_point}, from {mount.source}); SQLite's locking and WAL mode are not reliable "
        "there and the queue could be corrupted. Set state_dir to a folder on a local disk "
        "(the inbox and outbox may stay on the share)."
    )
    if not allow_network_fs:
        raise StoreError(message)
    log.warning("%s Continuing because the network filesystem check was overridden.", message)


_BYTES_PREFIX = "bytes:"  # a path whose name is not UTF-8 (an SMB share with the wrong charset)


def path_to_text(path: Path) -> str:
    """A path as text SQLite can store; names that are not UTF-8 are kept byte for byte (hex)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES_PREFIX + os.fsencode(path).hex()
    return text


def text_to_path(text: str) -> Path:
    """The inverse of `path_to_text`."""
    if text.startswith(_BYTES_PREFIX):
        return Path(os.fsdecode(bytes.fromhex(text[len(_BYTES_PREFIX) :])))
    return Path(text)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _transient(path: Path, exc: sqlite3.OperationalError) -> bool:
    """Whether the error passes by itself or by freeing space (locked, busy, disk full)."""
    text = str(exc)
    return "locked" in text or "busy" in text or "full" in text or _disk_full(path, exc)


def _disk_full(path: Path, exc: sqlite3.OperationalError) -> bool:
    """An I/O error on a disk with no space left (SQLite says "disk I/O error" when it cannot
    grow its shared-memory file) is a full disk."""
    if "I/O error" not in str(exc):
        return False
    try:
        return shutil.disk_usage(path.parent).free < 2**20
    except OSError:
        return False


def _unavailable_reason(path: Path, exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (
            f"the job database {path} is locked by another process ({text}); musicd retries; "
            "look for another program holding a long transaction on it"
        )
    if "full" in text or _disk_full(path, exc):
        try:
            free = shutil.disk_usage(path.parent).free / 2**20
        except OSError:
            free = float("nan")
        return f"the disk holding the job database {path} is full ({free:.0f} MiB free); free some space"
    if "readonly" in text or "read-only" in text:
        return f"the job database {path} is read-only ({text}); make state_dir writable by the service user"
    return f"the job database {path} cannot be used right now ({text})"
