"""Ingest: valid specs become jobs and leave the inbox; invalid ones go to rejected/ with reasons."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from musicd.config import Config
from musicd.queue.jobs import JobState
from musicd.queue.store import Store
from musicd.service.ingest import IngestStatus, ingest_file, ingest_files, move_file, recover_ingests
from musicd.spec import load_spec

NOW = datetime(2026, 5, 3, 9, 30, tzinfo=UTC)

VALID = b"""# a calm one
title: Morning Drift
genres: [ambient]
duration: 20
"""
THREE_JOBS = b"""jobs:
  - {title: One, genres: [lofi], duration: 10}
  - {title: Two, genres: [jazz], duration: 12, seed: 99}
  - {title: Three, genres: [techno], duration: 14}
"""
ONE_BAD_ENTRY = b"""jobs:
  - {title: Fine, genres: [lofi], duration: 10}
  - {title: Broken, genres: [jaz], duration: -1}
"""
INVALID = b"""title: Oops
genres: [polka-metal]
duration: 9999
"""


def clock() -> datetime:
    return NOW


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = Config(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state_dir=tmp_path / "state")
    config.inbox.mkdir()
    return config


@pytest.fixture
def store(config: Config):
    with Store.open(config.state_dir, clock=clock) as s:
        yield s


def drop(config: Config, name: str, data: bytes) -> Path:
    path = config.inbox / name
    path.write_bytes(data)
    return path


def test_valid_spec_becomes_a_job_and_is_kept_under_state_dir(config: Config, store: Store) -> None:
    path = drop(config, "song.yaml", VALID)
    outcome = ingest_file(path, store, config, clock, seed_source=lambda: 4242)
    assert outcome.status is IngestStatus.QUEUED
    (job,) = outcome.jobs
    assert (job.state, job.title, job.source_name, job.seed) == (
        JobState.QUEUED,
        "Morning Drift",
        "song.yaml",
        4242,
    )
    assert job.spec_text == VALID.decode()
    assert job.spec_hash == hashlib.sha256(VALID).hexdigest()
    assert not path.exists()
    kept = outcome.kept_path
    assert kept is not None and kept.read_bytes() == VALID
    assert kept.parent == config.state_dir / "specs" / "2026" / "05"
    assert kept.name.endswith("-song.yaml") and len(kept.name) == 26 + 1 + len("song.yaml")
    assert store.pending_sources() == []
    assert store.get(job.id).source_id == store.get_source(job.source_id).id


def test_seed_of_the_spec_wins_over_a_drawn_one(config: Config, store: Store) -> None:
    outcome = ingest_file(
        drop(config, "s.yaml", VALID + b"seed: 7\n"), store, config, clock, seed_source=lambda: 1
    )
    assert outcome.jobs[0].seed == 7


def test_jobs_list_becomes_one_row_per_entry_in_order(config: Config, store: Store) -> None:
    outcome = ingest_file(drop(config, "three.yml", THREE_JOBS), store, config, clock, seed_source=lambda: 5)
    assert outcome.status is IngestStatus.QUEUED
    assert [j.title for j in outcome.jobs] == ["One", "Two", "Three"]
    assert [j.seed for j in outcome.jobs] == [5, 99, 5]
    assert len({j.source_id for j in outcome.jobs}) == 1
    for job in outcome.jobs:  # each row holds its own job, loadable on its own
        spec = load_spec(job.spec_text, source=job.id)
        assert spec.title == job.title and "jobs" not in job.spec_text
    assert [store.claim_next().title for _ in range(3)] == ["One", "Two", "Three"]


def test_one_bad_entry_rejects_the_whole_file(config: Config, store: Store) -> None:
    outcome = ingest_file(drop(config, "batch.yaml", ONE_BAD_ENTRY), store, config, clock)
    assert outcome.status is IngestStatus.REJECTED
    assert store.list_jobs() == []
    assert outcome.rejected_path == config.rejected_dir / "batch.yaml"
    assert outcome.rejected_path.read_bytes() == ONE_BAD_ENTRY
    error = outcome.error_path.read_text()
    assert "jobs[1].genres[0]" in error and "jazz" in error and "jobs[1].duration" in error


def test_invalid_spec_goes_to_rejected_with_plain_language_error_file(config: Config, store: Store) -> None:
    path = drop(config, "bad.yaml", INVALID)
    outcome = ingest_file(path, store, config, clock)
    assert outcome.status is IngestStatus.REJECTED
    assert not path.exists()
    assert outcome.rejected_path.read_bytes() == INVALID
    assert outcome.error_path == config.rejected_dir / "bad.yaml.error.txt"
    error = outcome.error_path.read_text()
    assert 'could not accept "bad.yaml"' in error
    assert "2 problems" in error
    assert "genres[0]" in error and "(line 2)" in error
    assert "duration" in error and "(line 3)" in error
    assert "drop it into the inbox again" in error and str(config.inbox) in error
    assert store.list_jobs() == []


def test_yaml_syntax_error_is_rejected_with_its_line(config: Config, store: Store) -> None:
    outcome = ingest_file(drop(config, "broken.yaml", b"title: x\ngenres: [ambient\n"), store, config, clock)
    assert outcome.status is IngestStatus.REJECTED
    assert "not valid YAML" in outcome.error_path.read_text()
    assert "line" in outcome.problems[0]


def test_undecodable_bytes_are_rejected(config: Config, store: Store) -> None:
    outcome = ingest_file(drop(config, "binary.yaml", bytes(range(256)) * 4), store, config, clock)
    assert outcome.status is IngestStatus.REJECTED
    assert outcome.rejected_path.exists() and outcome.problems


def test_rejected_names_never_overwrite_earlier_ones(config: Config, store: Store) -> None:
    first = ingest_file(drop(config, "bad.yaml", INVALID), store, config, clock)
    second = ingest_file(drop(config, "bad.yaml", INVALID + b"# again\n"), store, config, clock)
    assert first.rejected_path.name == "bad.yaml"
    assert second.rejected_path.name == "bad-2.yaml"
    assert second.error_path.name == "bad-2.yaml.error.txt"
    assert first.rejected_path.read_bytes() == INVALID


def test_same_content_dropped_twice_is_two_jobs(config: Config, store: Store) -> None:
    first = ingest_file(drop(config, "song.yaml", VALID), store, config, clock)
    second = ingest_file(drop(config, "song.yaml", VALID), store, config, clock)
    assert second.status is IngestStatus.QUEUED
    assert first.jobs[0].id != second.jobs[0].id
    assert first.kept_path != second.kept_path and first.kept_path.exists() and second.kept_path.exists()
    assert store.counts()[JobState.QUEUED] == 2


def test_vanished_file_is_skipped_quietly(config: Config, store: Store) -> None:
    outcome = ingest_file(config.inbox / "gone.yaml", store, config, clock)
    assert outcome.status is IngestStatus.SKIPPED
    assert store.list_jobs() == []


def test_failed_move_is_finished_later_without_queuing_twice(config: Config, store: Store) -> None:
    blocker = config.state_dir / "specs"
    blocker.write_text("not a folder")  # makes the move after the commit fail, as a crash would leave it
    path = drop(config, "song.yaml", VALID)
    first = ingest_file(path, store, config, clock)
    assert first.status is IngestStatus.QUEUED and first.kept_path is None
    assert path.exists() and len(store.pending_sources()) == 1
    blocker.unlink()
    again = ingest_file(path, store, config, clock)  # the next scan hands the same file over
    assert again.status is IngestStatus.RECOVERED
    assert [j.id for j in again.jobs] == [j.id for j in first.jobs]
    assert not path.exists() and again.kept_path.read_bytes() == VALID
    assert len(store.list_jobs()) == 1 and store.pending_sources() == []


def test_crash_between_commit_and_move_is_recovered_at_start_up(config: Config, store: Store) -> None:
    path = drop(config, "song.yaml", VALID)
    child = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        import musicd.service.ingest as ingest
        from musicd.config import Config
        from musicd.queue.store import Store
        ingest._keep_all = lambda *args, **kwargs: os._exit(9)  # die right after the commit
        config = Config(inbox=Path({str(config.inbox)!r}), outbox=Path({str(config.outbox)!r}),
                        state_dir=Path({str(config.state_dir)!r}))
        ingest.ingest_file(Path({str(path)!r}), Store.open(config.state_dir), config)
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=Path(__file__).parent.parent, timeout=120)
    assert result.returncode == 9
    assert path.exists()
    (job,) = store.list_jobs()
    (pending,) = store.pending_sources()
    assert pending.source_path == path and job.source_id == pending.id

    finished = recover_ingests(store)
    assert [s.id for s in finished] == [pending.id]
    assert not path.exists() and pending.kept_path.read_bytes() == VALID
    assert store.pending_sources() == [] and len(store.list_jobs()) == 1
    # dropping the same content again now is a new take
    assert ingest_file(drop(config, "song.yaml", VALID), store, config, clock).status is IngestStatus.QUEUED
    assert len(store.list_jobs()) == 2


def test_recovery_when_copy_finished_but_original_remained(config: Config, store: Store) -> None:
    blocker = config.state_dir / "specs"
    blocker.write_text("x")
    path = drop(config, "song.yaml", VALID)
    ingest_file(path, store, config, clock)
    blocker.unlink()
    (pending,) = store.pending_sources()
    pending.kept_path.parent.mkdir(parents=True)
    shutil.copy2(path, pending.kept_path)  # a cross-filesystem move died before unlinking the original
    recover_ingests(store)
    assert not path.exists() and pending.kept_path.read_bytes() == VALID
    assert len(store.list_jobs()) == 1


def test_recovery_of_a_file_removed_by_the_user_just_closes_it(config: Config, store: Store) -> None:
    blocker = config.state_dir / "specs"
    blocker.write_text("x")
    path = drop(config, "song.yaml", VALID)
    ingest_file(path, store, config, clock)
    blocker.unlink()
    path.unlink()
    assert len(recover_ingests(store)) == 1
    assert store.pending_sources() == []
    assert store.list_jobs()[0].spec_text == VALID.decode()


def test_move_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(FileExistsError):
        move_file(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "a").read_text() == "a" and (tmp_path / "b").read_text() == "b"


def test_move_across_filesystems_copies_then_removes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temp folder")
    src = shm / f"musicd-test-{os.getpid()}.yaml"
    src.write_bytes(VALID)
    try:
        dst = tmp_path / "kept" / "song.yaml"
        move_file(src, dst)
        assert dst.read_bytes() == VALID and not src.exists()
        assert [p.name for p in dst.parent.iterdir()] == ["song.yaml"]  # no temporary left behind
    finally:
        src.unlink(missing_ok=True)


def test_burst_commits_every_valid_file_at_once_and_a_bad_file_blocks_none(
    config: Config, store: Store
) -> None:
    paths = [
        drop(config, f"song-{i:02d}.yaml", VALID.replace(b"Morning Drift", f"Song {i}".encode()))
        for i in range(12)
    ]
    paths.insert(3, drop(config, "bad.yaml", INVALID))
    paths.insert(7, drop(config, "three.yaml", THREE_JOBS))
    paths.insert(9, config.inbox / "gone.yaml")
    commits_before = store.commits
    outcomes = ingest_files(paths, store, config, clock, seed_source=lambda: 3)
    assert store.commits - commits_before == 2  # jobs + sources, then "kept": not two per file
    assert [o.path for o in outcomes] == paths
    statuses = [o.status for o in outcomes]
    assert statuses.count(IngestStatus.QUEUED) == 13
    assert statuses[3] is IngestStatus.REJECTED and statuses[9] is IngestStatus.SKIPPED
    assert (config.rejected_dir / "bad.yaml.error.txt").exists()
    assert [j.title for j in outcomes[7].jobs] == ["One", "Two", "Three"]
    assert len(store.list_jobs(limit=100)) == 12 + 3
    assert store.pending_sources() == []
    assert list(config.inbox.glob("*.yaml")) == []
    for outcome in outcomes:
        if outcome.status is IngestStatus.QUEUED:
            assert outcome.kept_path is not None and outcome.kept_path.exists()
            assert store.jobs_from_source(outcome.jobs[0].source_id) == list(outcome.jobs)
    claimed = [store.claim_next().title for _ in range(15)]
    assert claimed[:3] == ["Song 0", "Song 1", "Song 2"] and claimed[6:9] == ["One", "Two", "Three"]


def test_burst_whose_moves_fail_is_finished_later_without_queuing_twice(config: Config, store: Store) -> None:
    blocker = config.state_dir / "specs"
    blocker.write_text("not a folder")
    paths = [drop(config, f"s{i}.yaml", VALID + f"seed: {i}\n".encode()) for i in range(4)]
    first = ingest_files(paths, store, config, clock)
    assert [o.status for o in first] == [IngestStatus.QUEUED] * 4 and all(o.kept_path is None for o in first)
    assert all(p.exists() for p in paths) and len(store.pending_sources()) == 4
    blocker.unlink()
    again = ingest_files(paths, store, config, clock)
    assert [o.status for o in again] == [IngestStatus.RECOVERED] * 4
    assert [o.jobs[0].id for o in again] == [o.jobs[0].id for o in first]
    assert len(store.list_jobs()) == 4 and store.pending_sources() == []
    assert not any(p.exists() for p in paths)


def test_crash_midway_through_a_burst_is_recovered_at_start_up(config: Config, store: Store) -> None:
    paths = [drop(config, f"s{i}.yaml", VALID + f"seed: {i}\n".encode()) for i in range(5)]
    child = textwrap.dedent(f"""
        import os
        from pathlib import Path
        import musicd.service.ingest as ingest
        from musicd.config import Config
        from musicd.queue.store import Store
        real_move, moves = ingest.move_file, []
        def move_then_die(src, dst, **kwargs):  # dies after two renames, before any fsync or "kept"
            if len(moves) == 2:
                os._exit(9)
            moves.append(src)
            real_move(src, dst, **kwargs)
        ingest.move_file = move_then_die
        config = Config(inbox=Path({str(config.inbox)!r}), outbox=Path({str(config.outbox)!r}),
                        state_dir=Path({str(config.state_dir)!r}))
        ingest.ingest_files(sorted(config.inbox.glob("*.yaml")), Store.open(config.state_dir), config)
    """)
    result = subprocess.run([sys.executable, "-c", child], cwd=Path(__file__).parent.parent, timeout=120)
    assert result.returncode == 9
    assert [p.exists() for p in paths] == [False, False, True, True, True]
    assert len(store.list_jobs()) == 5 and len(store.pending_sources()) == 5

    assert len(recover_ingests(store)) == 5
    assert store.pending_sources() == [] and len(store.list_jobs()) == 5
    assert not any(p.exists() for p in paths)
    kept = sorted(p.read_bytes() for p in config.specs_dir.rglob("*.yaml"))
    assert kept == sorted(VALID + f"seed: {i}\n".encode() for i in range(5))


def test_read_error_on_one_file_defers_it_and_the_others_are_queued(config: Config, store: Store) -> None:
    unreadable = config.inbox / ("x" * 300 + ".yaml")  # ENAMETOOLONG: an OSError worth retrying, not a reject
    good = drop(config, "good.yaml", VALID)
    outcomes = ingest_files([unreadable, good], store, config, clock)
    assert [o.status for o in outcomes] == [IngestStatus.DEFERRED, IngestStatus.QUEUED]
    assert "too long" in outcomes[0].problems[0]
    assert len(store.list_jobs()) == 1 and not good.exists()
