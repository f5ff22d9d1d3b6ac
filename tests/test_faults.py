"""Races and reloads at the edges of ingest: a file that changes, or is swapped for a FIFO or a
symbolic link, after it was checked and its job queued; and what a SIGHUP applies or keeps.

Real files, FIFOs, symbolic links and SQLite; the swap happens at the exact point between
the checks (`still_the_same`, after the read) and the move, where a slow writer or an attacker
would act.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from musicd.config import Config
from musicd.queue.store import Store
from musicd.service import ingest
from musicd.service.ingest import IngestOutcome, IngestStatus, ingest_files
from musicd.service.loop import reload_plan
from test_hostile_inputs import (  # the ingest fixtures, shared
    SECRET,
    clock,
    config,  # noqa: F401
    store,  # noqa: F401
)


def ingest_one_within(path: Path, store: Store, config: Config, seconds: float = 5.0) -> IngestOutcome:
    """Ingest in a thread; fail (instead of hanging the suite) if it blocks longer than `seconds`."""
    result: list[IngestOutcome] = []
    thread = threading.Thread(target=lambda: result.append(ingest_files([path], store, config, clock)[0]))
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ingest of {path.name} blocked for more than {seconds} s"
    return result[0]


def swap_after_the_check(monkeypatch: pytest.MonkeyPatch, swap: Callable[[Path], None]) -> None:
    """Make the first file pass the check after its read, then `swap` it before the move."""
    real = ingest.still_the_same
    swapped: list[Path] = []

    def check_then_swap(path: Path, read: object) -> bool:
        same = real(path, read)  # type: ignore[arg-type]
        if not swapped:
            swapped.append(path)
            swap(path)
        return same

    monkeypatch.setattr(ingest, "still_the_same", check_then_swap)


def test_a_file_that_changes_after_its_job_was_queued_replaces_that_job_at_once(
    store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config.inbox / "half.yaml"
    path.write_text("prompt: calm\nduration: 10\n")  # the first half a slow writer left
    swap_after_the_check(monkeypatch, lambda p: p.write_text("prompt: calm piano\nduration: 30\n"))
    first = ingest_files([path], store, config, clock)[0]
    assert first.status is IngestStatus.BUSY  # the loop looks at it again at once
    assert store.list_jobs() == [] and store.pending_sources() == [] and path.exists()
    second = ingest_files([path], store, config, clock)[0]
    assert second.status is IngestStatus.QUEUED
    (job,) = store.list_jobs()
    assert job.duration_s == 30 and "calm piano" in job.spec_text
    assert second.kept_path is not None and "duration: 30" in second.kept_path.read_text()
    assert not path.exists()


def test_a_change_in_one_file_of_a_batch_withdraws_only_its_job(
    store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.yaml", "b.yaml"):
        (config.inbox / name).write_text(f"title: {name}\nprompt: calm\nduration: 10\n")
    swap_after_the_check(monkeypatch, lambda p: p.write_text("title: changed\nprompt: calm\nduration: 20\n"))
    outcomes = ingest_files(sorted(config.inbox.glob("*.yaml")), store, config, clock)
    assert [o.status for o in outcomes] == [IngestStatus.BUSY, IngestStatus.QUEUED]
    assert [j.title for j in store.list_jobs()] == ["b.yaml"]


def test_a_fifo_swapped_in_after_the_check_never_blocks_and_is_set_aside(
    store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config.inbox / "pipe.yaml"
    path.write_text("prompt: calm\nduration: 10\n")

    def to_fifo(p: Path) -> None:
        p.unlink()
        os.mkfifo(p)

    swap_after_the_check(monkeypatch, to_fifo)
    assert ingest_one_within(path, store, config).status is IngestStatus.BUSY
    assert store.list_jobs() == []
    again = ingest_one_within(path, store, config)
    assert again.status is IngestStatus.REJECTED and "FIFO" in again.error_path.read_text()
    assert not os.path.lexists(path) and store.list_jobs() == []


def test_a_symlink_swapped_in_after_the_check_is_set_aside_and_its_target_never_echoed(
    tmp_path: Path, store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(f"{SECRET}\n" * 25)
    path = config.inbox / "x.yaml"
    path.write_text("prompt: calm\nduration: 10\n")

    def to_link(p: Path) -> None:
        p.unlink()
        p.symlink_to(shadow)

    swap_after_the_check(monkeypatch, to_link)
    assert ingest_one_within(path, store, config).status is IngestStatus.BUSY
    again = ingest_one_within(path, store, config)
    assert again.status is IngestStatus.REJECTED
    error = again.error_path.read_text()
    assert "symbolic link" in error and "root:" not in error and "secret" not in error
    assert again.rejected_path is not None and again.rejected_path.is_symlink()
    assert shadow.read_text() == f"{SECRET}\n" * 25
    assert store.list_jobs() == [] and not any(
        "secret" in p.read_text() for p in config.state_dir.rglob("*.yaml")
    )


# ---------------------------------------------------------------------- SIGHUP: applied or kept


def test_a_reload_keeps_folders_and_restart_only_settings_and_applies_the_rest(tmp_path: Path) -> None:
    running = Config(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state_dir=tmp_path / "state")
    new = running.model_copy(
        update={
            "inbox": tmp_path / "inbox2",
            "outbox": tmp_path / "outbox2",
            "watch": running.watch.model_copy(
                update={"mode": "polling", "poll_interval_s": 9.0, "stability_delay_s": 11.0}
            ),
            "worker": running.worker.model_copy(update={"max_attempts": 7, "runner": "x:y"}),
        }
    )
    applied, kept = reload_plan(running, new)
    assert sorted(kept) == sorted(["inbox", "outbox", "watch.mode", "watch.poll_interval_s", "worker.runner"])
    assert applied.inbox == running.inbox and applied.outbox == running.outbox
    assert applied.rejected_dir == running.rejected_dir  # rejects never go to a folder not watched
    assert applied.watch.mode == running.watch.mode
    assert applied.watch.poll_interval_s == running.watch.poll_interval_s
    assert applied.worker.runner == running.worker.runner
    assert applied.watch.stability_delay_s == 11.0 and applied.worker.max_attempts == 7


def test_a_reload_with_nothing_restart_only_changed_keeps_nothing(tmp_path: Path) -> None:
    running = Config(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state_dir=tmp_path / "state")
    new = running.model_copy(update={"worker": running.worker.model_copy(update={"stop_grace_s": 3.0})})
    applied, kept = reload_plan(running, new)
    assert kept == [] and applied.worker.stop_grace_s == 3.0


# ---------------------------------------------------------------------- render as the service does


def test_render_with_a_config_writes_the_configured_tags_as_the_service_does(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from musicd.cli import main

    spec = tmp_path / "short.yaml"
    spec.write_text("genres: [ambient]\nduration: 5\noutput: {stems: false, formats: [wav]}\n")
    config = tmp_path / "config.yaml"
    config.write_text("tags: {artist: Night Shift Radio, album: Test Album}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["render", str(spec), "-o", str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    tags = json.loads((out / "manifest.json").read_text())["tags"]
    assert tags["artist"] == "Night Shift Radio" and tags["album"] == "Test Album"


# ---------------------------------------------------------------------- an outbox that cannot be written


def test_an_outbox_that_cannot_be_written_is_named_with_its_cause_and_free_space(tmp_path: Path) -> None:
    from musicd.service.outbox import outbox_problem

    outbox = tmp_path / "outbox"
    outbox.write_text("a file where the outbox folder should be\n")  # as a failed mount can leave
    problem = outbox_problem(outbox)
    assert problem is not None and str(outbox) in problem
    assert "cannot be written" in problem and "MiB free" in problem


# ---------------------------------------------------------------------- a folder named like a spec


def test_a_folder_named_like_a_spec_is_logged_once_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from musicd.config import WatchConfig
    from musicd.service.watcher import InboxWatcher

    inbox = tmp_path / "inbox"
    (inbox / "album.yaml").mkdir(parents=True)
    (inbox / "album.yaml" / "inside.yaml").write_text("prompt: calm\n")
    watcher = InboxWatcher(inbox, WatchConfig(mode="polling", recursive=False))
    with caplog.at_level("WARNING", logger="musicd.service.watcher"):
        assert watcher.scan() == 0
        assert watcher.scan() == 0
    warnings = [r.getMessage() for r in caplog.records if "is a folder, not a spec file" in r.getMessage()]
    assert len(warnings) == 1 and "album.yaml" in warnings[0]
    assert (inbox / "album.yaml" / "inside.yaml").exists() and not watcher.candidates
