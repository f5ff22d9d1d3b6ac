"""The job store: migrations, WAL, atomic claims, crash recovery, cancel/retry, reading."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from musicd.errors import JobNotFoundError, StoreError
from musicd.queue.jobs import JobState, NewJob, SpecSource
from musicd.queue.migrations import MIGRATIONS
from musicd.queue.store import DB_FILENAME, Store

START = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def new_job(title: str = "song", priority: int = 0, seed: int | None = 7) -> NewJob:
    return NewJob(
        title=title,
        source_name=f"{title}.yaml",
        spec_text=f"title: {title}\n",
        spec_hash="ab" * 32,
        seed=seed,
        priority=priority,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock):
    with Store.open(tmp_path / "state", clock=clock) as s:
        yield s


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    with Store.open(tmp_path) as first:
        assert first.applied_migrations() == [m.name for m in MIGRATIONS]
    with Store.open(tmp_path) as second:
        assert second.applied_migrations() == [m.name for m in MIGRATIONS]
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    assert conn.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"jobs", "events", "spec_sources", "migrations"} <= tables


def test_database_is_in_wal_mode_with_foreign_keys(store: Store) -> None:
    assert store.journal_mode == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    with pytest.raises(sqlite3.IntegrityError):
        store.db.execute("INSERT INTO events (job_id, time, level) VALUES ('nope', 'x', 'info')")


def test_add_jobs_queues_in_order_with_clock_times(store: Store, clock: FakeClock) -> None:
    jobs = store.add_jobs([new_job("a"), new_job("b", seed=None)])
    assert [j.title for j in jobs] == ["a", "b"]
    assert all(j.state is JobState.QUEUED and j.attempts == 0 for j in jobs)
    assert jobs[0].created_at == START and jobs[0].queued_at == START
    assert jobs[1].seed is None and jobs[0].seed == 7
    assert len(jobs[0].id) == 26 and jobs[0].id != jobs[1].id
    assert store.counts()[JobState.QUEUED] == 2


def test_add_jobs_writes_all_or_nothing(store: Store) -> None:
    broken = NewJob(title="b", source_name="b.yaml", spec_text=None, spec_hash="h")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.add_jobs([new_job("a"), broken])
    assert store.list_jobs() == []
    assert sum(store.counts().values()) == 0


def test_claim_takes_highest_priority_then_oldest(store: Store, clock: FakeClock) -> None:
    old = store.add_jobs([new_job("old")])[0]
    clock.advance(1)
    newer = store.add_jobs([new_job("newer")])[0]
    urgent = store.add_jobs([new_job("urgent", priority=5)])[0]
    clock.advance(1)
    claimed = [store.claim_next() for _ in range(3)]
    assert [c.id for c in claimed] == [urgent.id, old.id, newer.id]
    assert claimed[0].state is JobState.RUNNING and claimed[0].attempts == 1
    assert claimed[0].started_at == START + timedelta(seconds=2)
    assert store.claim_next() is None


def test_jobs_of_one_batch_are_claimed_in_file_order(store: Store) -> None:
    batch = store.add_jobs([new_job(f"j{i}") for i in range(10)])
    assert [store.claim_next().id for _ in range(10)] == [j.id for j in batch]


def _claim_all(db_path: str) -> list[str]:
    claimed = []
    with Store(Path(db_path), busy_timeout_s=30) as store:
        while (job := store.claim_next()) is not None:
            claimed.append(job.id)
    return claimed


def test_claim_is_atomic_across_processes(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        ids = {j.id for j in store.add_jobs([new_job(f"j{i}") for i in range(200)])}
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_claim_all, [str(tmp_path / DB_FILENAME)] * 4))
    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == 200
    assert set(claimed) == ids
    with Store.open(tmp_path) as store:
        assert store.counts()[JobState.RUNNING] == 200
        assert {j.attempts for j in store.list_jobs(limit=500)} == {1}


def test_claim_is_atomic_across_threads(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        ids = {j.id for j in store.add_jobs([new_job(f"j{i}") for i in range(200)])}
    results: list[list[str]] = [[] for _ in range(4)]

    def work(index: int) -> None:
        results[index] = _claim_all(str(tmp_path / DB_FILENAME))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(ids)


def test_a_service_crash_does_not_count_as_the_jobs_attempt_but_endless_ones_fail_it(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    for _ in (1, 2):
        assert store.claim_next().attempts == 1
        recovered = store.recover_interrupted(max_interruptions=3)
        assert [(r.id, r.state, r.attempts) for r in recovered] == [(job.id, JobState.QUEUED, 0)]
    assert store.claim_next().attempts == 1
    failed = store.recover_interrupted(max_interruptions=3)[0]
    assert failed.state is JobState.FAILED
    assert failed.error == "the service was interrupted 3 times while running this job"
    assert store.claim_next() is None
    assert store.recover_interrupted(max_interruptions=3) == []
    assert any(e.level == "warning" and "not counted" in (e.message or "") for e in store.events(job.id))


def test_recover_leaves_queued_and_finished_jobs_alone(store: Store) -> None:
    done, running, queued = store.add_jobs([new_job("done"), new_job("running"), new_job("queued")])
    store.claim_next()
    store.finish(done.id, JobState.DONE)
    store.claim_next()
    recovered = store.recover_interrupted(max_interruptions=3)
    assert [r.id for r in recovered] == [running.id]
    states = {j.title: j.state for j in store.list_jobs()}
    assert states == {"done": JobState.DONE, "running": JobState.QUEUED, "queued": JobState.QUEUED}


def test_finish_records_outcome_and_refuses_jobs_not_running(store: Store, tmp_path: Path) -> None:
    job = store.add_jobs([new_job()])[0]
    with pytest.raises(StoreError, match="not running"):
        store.finish(job.id, JobState.DONE)
    store.claim_next()
    store.record_progress(job.id, "render", 42.5, "rendering stems")
    running = store.get(job.id)
    assert (running.stage, running.percent) == ("render", 42.5)
    finished = store.finish(job.id, JobState.DONE, outbox_path=tmp_path / "out")
    assert finished.state is JobState.DONE and finished.outbox_path == tmp_path / "out"
    assert finished.finished_at is not None and finished.percent == 100.0
    with pytest.raises(StoreError):
        store.finish(job.id, JobState.QUEUED)
    events = store.events(job.id)
    assert [e.message for e in events][0].startswith("queued from")
    assert ("render", 42.5, "rendering stems") in [(e.stage, e.percent, e.message) for e in events]


def test_cancel_of_queued_job_is_immediate(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    cancelled = store.request_cancel(job.id)
    assert cancelled.state is JobState.CANCELLED
    assert store.claim_next() is None


def test_cancel_of_running_job_sets_flag_until_worker_stops(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    store.claim_next()
    assert not store.is_cancel_requested(job.id)
    flagged = store.request_cancel(job.id)
    assert flagged.state is JobState.RUNNING and flagged.cancel_requested
    assert store.is_cancel_requested(job.id)
    final = store.finish(job.id, JobState.CANCELLED, error="cancelled at stage render")
    assert final.state is JobState.CANCELLED
    with pytest.raises(StoreError, match="already cancelled"):
        store.request_cancel(job.id)


def test_retry_requeues_failed_job_with_attempts_reset(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    store.claim_next()
    store.finish(job.id, JobState.FAILED, error="boom")
    retried = store.retry(job.id)
    assert retried.state is JobState.QUEUED
    assert (retried.attempts, retried.error, retried.finished_at) == (0, None, None)
    assert store.claim_next().attempts == 1
    with pytest.raises(StoreError, match="only failed or cancelled"):
        store.retry(job.id)


def test_retry_of_cancelled_job_clears_cancel_flag(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    store.claim_next()
    store.request_cancel(job.id)
    store.finish(job.id, JobState.CANCELLED)
    assert not store.retry(job.id).cancel_requested


def test_requeue_puts_running_job_back_keeping_attempts(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    store.claim_next()
    requeued = store.requeue(job.id, "worker restarted after a time-out")
    assert (requeued.state, requeued.attempts) == (JobState.QUEUED, 1)
    assert store.claim_next().attempts == 2
    assert "requeued: worker restarted after a time-out" in [e.message for e in store.events(job.id)]


def test_requeue_after_a_stop_refunds_the_attempt(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    for _ in range(5):  # five service restarts during one long job
        assert store.claim_next().attempts == 1
        requeued = store.requeue(job.id, "the service stopped", refund_attempt=True)
        assert (requeued.state, requeued.attempts) == (JobState.QUEUED, 0)
    assert any("not counted" in (e.message or "") for e in store.events(job.id))
    store.claim_next()
    assert store.recover_interrupted(max_interruptions=2)[0].state is JobState.QUEUED


def test_outbox_path_of_a_job_failed_by_recovery_can_be_recorded(store: Store, tmp_path: Path) -> None:
    job = store.add_jobs([new_job()])[0]
    with pytest.raises(StoreError, match="only a finished job"):
        store.set_outbox_path(job.id, tmp_path / "early")
    store.claim_next()
    (failed,) = store.recover_interrupted(max_interruptions=1)
    assert failed.state is JobState.FAILED and failed.outbox_path is None
    updated = store.set_outbox_path(job.id, tmp_path / "2026" / "x-failed")
    assert updated.outbox_path == tmp_path / "2026" / "x-failed"
    assert store.get(job.id).outbox_path == tmp_path / "2026" / "x-failed"
    assert (updated.state, updated.error) == (JobState.FAILED, failed.error)


def test_batches_of_several_files_are_one_transaction(store: Store, tmp_path: Path) -> None:
    def source(name: str) -> SpecSource:
        return SpecSource(
            id=f"01JD0000000000000000000{name}",
            source_path=tmp_path / f"{name}.yaml",
            source_name=f"{name}.yaml",
            spec_hash="cd" * 32,
            kept_path=tmp_path / "kept" / f"{name}.yaml",
            ingested_at=START,
        )

    before = store.commits
    batches = store.add_job_batches(
        [([new_job("a1"), new_job("a2")], source("AAA")), ([new_job("b1")], source("BBB"))]
    )
    assert store.commits == before + 1
    assert [[j.title for j in b] for b in batches] == [["a1", "a2"], ["b1"]]
    assert {j.source_id for j in batches[1]} == {source("BBB").id}
    store.mark_sources_kept([source("AAA").id, source("BBB").id])
    assert store.commits == before + 2 and store.pending_sources() == []
    with pytest.raises(sqlite3.IntegrityError):  # a clash anywhere writes nothing at all
        store.add_job_batches([([new_job("c1")], source("CCC")), ([new_job("d1")], source("AAA"))])
    assert [j.title for j in store.list_jobs()] == ["b1", "a2", "a1"]
    assert [store.claim_next().title for _ in range(3)] == ["a1", "a2", "b1"]


def test_get_accepts_full_id_prefix_and_short_id(store: Store) -> None:
    job = store.add_jobs([new_job()])[0]
    assert store.get(job.id).id == job.id
    assert store.get(job.id[:20].lower()).id == job.id
    assert store.get(job.short_id).id == job.id
    with pytest.raises(JobNotFoundError, match="no job matches"):
        store.get("ZZZZZZZZ")


def test_get_with_ambiguous_prefix_names_the_matches(store: Store) -> None:
    jobs = store.add_jobs([new_job("a"), new_job("b")])
    common = jobs[0].id[:5]  # same millisecond: the time part is shared
    with pytest.raises(JobNotFoundError, match="several jobs"):
        store.get(common)


def test_list_jobs_newest_first_and_by_state(store: Store) -> None:
    a, b, c = store.add_jobs([new_job("a"), new_job("b"), new_job("c")])
    store.request_cancel(b.id)
    assert [j.title for j in store.list_jobs()] == ["c", "b", "a"]
    assert [j.title for j in store.list_jobs(JobState.QUEUED)] == ["c", "a"]
    assert [j.title for j in store.list_jobs(limit=1)] == ["c"]
    counts = store.counts()
    assert counts == {
        JobState.QUEUED: 2,
        JobState.RUNNING: 0,
        JobState.DONE: 0,
        JobState.FAILED: 0,
        JobState.CANCELLED: 1,
    }


def test_a_second_connection_reads_what_the_first_writes(tmp_path: Path) -> None:
    with Store.open(tmp_path) as writer, Store.open(tmp_path) as reader:
        job = writer.add_jobs([new_job()])[0]
        assert reader.get(job.id).state is JobState.QUEUED
        writer.claim_next()
        assert reader.counts()[JobState.RUNNING] == 1
        reader.request_cancel(job.id)
        assert writer.is_cancel_requested(job.id)


def test_spec_source_is_recorded_with_its_jobs_and_marked_kept(store: Store, tmp_path: Path) -> None:
    source = SpecSource(
        id="01SOURCE",
        source_path=tmp_path / "inbox" / "a.yaml",
        source_name="a.yaml",
        spec_hash="cd" * 32,
        kept_path=tmp_path / "kept" / "a.yaml",
        ingested_at=START,
    )
    jobs = store.add_jobs([new_job("x"), new_job("y")], source=source)
    assert {j.source_id for j in jobs} == {"01SOURCE"}
    assert store.find_pending_source(source.source_path, source.spec_hash) == source
    assert store.find_pending_source(source.source_path, "other") is None
    assert [j.title for j in store.jobs_from_source("01SOURCE")] == ["x", "y"]
    store.mark_source_kept("01SOURCE")
    assert store.pending_sources() == []
    assert store.get_source("01SOURCE").kept_at == START


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Store.open(tmp_path, clock=lambda: datetime(2026, 1, 1))


NFS_MOUNTINFO = """\
22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw
95 22 0:50 / {point} rw,relatime shared:40 - nfs4 nas:/export/musicd rw,vers=4.2
"""


def test_state_dir_on_network_filesystem_is_refused(tmp_path: Path) -> None:
    mountinfo = NFS_MOUNTINFO.format(point=tmp_path)
    with pytest.raises(StoreError, match="network filesystem.*nfs4.*local disk"):
        Store.open(tmp_path / "state", mountinfo_text=mountinfo)
    assert not (tmp_path / "state" / DB_FILENAME).exists()


def test_network_check_can_be_overridden_with_a_warning(tmp_path: Path, caplog) -> None:
    mountinfo = NFS_MOUNTINFO.format(point=tmp_path)
    with Store.open(tmp_path / "state", mountinfo_text=mountinfo, allow_network_fs=True) as store:
        assert store.journal_mode == "wal"
    assert "network filesystem" in caplog.text


def test_unwritable_location_gives_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the job database"):
        Store.open(blocker / "state")
