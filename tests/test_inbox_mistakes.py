"""Friendlier mistakes at the inbox: JSON specs, Notepad's `.yaml.txt`, stale rejections, an
unmounted share, and worker log lines that name their job.

The service runs in this process, turned with `Service.step` and fake clocks as in
test_service_inprocess.py (its worker is a real process); ingest, the watcher's name rules
and the spec reader run on the real filesystem; the worker log tests capture what a real
worker process (and the Ray actor's code, in this process) writes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from typing import Any

import pytest

from daemon_helpers import TEST_RUNNER, musicd_cli, spec_yaml, write_config
from musicd import __version__, durable
from musicd.config import Config, load_config
from musicd.errors import SpecError
from musicd.queue.jobs import JobState
from musicd.queue.store import Store
from musicd.service.folders import FolderMissingError
from musicd.service.ingest import IngestStatus, ingest_files
from musicd.service.loop import Service
from musicd.service.watcher import is_spec_candidate
from musicd.spec import load_jobs
from musicd.worker import JobSucceeded, RunJob, WorkerSupervisor
from musicd.worker.process import DEFAULT_RUNNER
from musicd.worker.ray_actor import WorkerActor
from test_service_inprocess import (  # the in-process service fixtures, shared
    FakeTime,
    RecordingNotifier,
    fake_time,  # noqa: F401
    service_for,  # noqa: F401
    turn_until,
)

pytestmark = pytest.mark.timeout(240)

NOTE = "\U0001f3b5"  # a character outside the BMP: json.dumps writes it as two \\u escapes
BAD_SPEC = "genres: [polka-metal]\nduration: 5\n"


def jobs_of(service: Service) -> list[Any]:
    assert service.store is not None
    return service.store.list_jobs(limit=100)


def rejected_names(inbox: Path) -> set[str]:
    folder = inbox / "rejected"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = Config(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state_dir=tmp_path / "state")
    config.inbox.mkdir()
    return config


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.open(config.state_dir) as opened:
        yield opened


def ingest(config: Config, store: Store, *files: tuple[str, str]) -> list[Any]:
    """Write each (name, text) into the inbox and ingest them all in one batch."""
    paths = []
    for name, text in files:
        path = config.inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return ingest_files(paths, store, config)


# ------------------------------------------------------------------------------- JSON


def test_a_json_spec_in_the_inbox_is_queued_and_published(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    spec = {"title": f"calm {NOTE}", "genres": ["ambient"], "duration": 5, "output": {"stems": False}}
    text = json.dumps(spec, indent="\t")  # tabs and \ud83c\udfb5, as Python writes JSON
    assert "\t" in text and "\\ud83c\\udfb5" in text
    (tmp_path / "inbox" / "calm.json").write_text(text)
    turn_until(
        service, lambda: [j.state for j in jobs_of(service)] == [JobState.DONE], fake_time, advance_s=0.5
    )
    (job,) = jobs_of(service)
    assert job.title == f"calm {NOTE}" and job.source_name == "calm.json"
    assert not (tmp_path / "inbox" / "calm.json").exists() and rejected_names(tmp_path / "inbox") == set()
    (kept,) = (tmp_path / "state" / "specs").rglob("*calm.json")
    assert kept.read_text() == text
    (folder,) = (tmp_path / "outbox").glob("2026/06/01/*")
    assert json.loads((folder / "manifest.json").read_text())["title"] == f"calm {NOTE}"


def test_a_character_escaped_in_two_halves_is_one_character_and_a_lone_half_is_rejected(
    config: Config, store: Store
) -> None:
    whole = json.dumps({"title": f"night {NOTE}", "genres": ["lofi"], "duration": 5})
    lone = '{"title": "night \\ud83c", "genres": ["lofi"], "duration": 5}'
    good, bad = ingest(config, store, ("good.json", whole), ("lone.json", lone))
    assert good.status is IngestStatus.QUEUED and good.jobs[0].title == f"night {NOTE}"
    assert bad.status is IngestStatus.REJECTED
    assert "escape without its other half" in bad.problems[0]
    assert "without its other half" in (config.rejected_dir / "lone.json.error.txt").read_text()
    # the same in YAML's double quotes; single quotes keep a backslash as text
    assert load_jobs(f'title: "{NOTE}"\ngenres: [lofi]')[0].title == NOTE
    assert load_jobs("title: '\\ud83c'\ngenres: [lofi]")[0].title == "\\ud83c"
    with pytest.raises(SpecError, match="other half"):
        load_jobs('title: "\\udfb5"\ngenres: [lofi]')


def test_tab_indented_json_reads_and_broken_json_still_says_where(config: Config) -> None:
    jobs = {"jobs": [{"prompt": "rain on a tin roof", "duration": 5}, {"genres": ["jazz"], "duration": 6}]}
    specs = load_jobs(json.dumps(jobs, indent="\t"), source="two.json")
    assert [s.prompt for s in specs] == ["rain on a tin roof", None] and specs[1].genres == ("jazz",)
    with pytest.raises(SpecError, match=r"not valid JSON: Expecting ':' delimiter \(line 3, column 13\)"):
        load_jobs('{\n\t"genres": ["jazz"],\n\t"duration" 5\n}', source="broken.json")


def test_the_inbox_takes_json_and_notepad_names_and_nothing_else(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    taken = ["a.json", "B.JSON", "c.yaml", "d.yml", "e.yaml.txt", "f.YML.TXT", "g.json.txt"]
    ignored = ["notes.txt", "a.json.bak", ".a.json", "a.json.part", "a.jsonl", "rejected/x.json"]
    assert all(is_spec_candidate(inbox / n, inbox, recursive=False) for n in taken)
    assert not any(is_spec_candidate(inbox / n, inbox, recursive=True) for n in ignored)


def test_submit_copies_a_json_spec_into_the_inbox_under_its_own_name(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    spec = tmp_path / "song.json"
    spec.write_text(json.dumps({"title": "song", "genres": ["ambient"], "duration": 5}, indent="\t"))
    result = musicd_cli("submit", "--config", str(config_path), str(spec))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "inbox" / "song.json").read_bytes() == spec.read_bytes()
    assert "(1 job)" in result.stdout


# ---------------------------------------------------------------------------- Notepad


def test_a_notepad_name_is_set_aside_unread_with_a_hint_to_rename_it(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    inbox = tmp_path / "inbox"
    (inbox / "song.yaml.txt").write_text(spec_yaml("song"))
    (inbox / "tune.yml.txt").write_text(spec_yaml("tune"))
    expected = {"song.yaml.txt", "song.yaml.txt.error.txt", "tune.yml.txt", "tune.yml.txt.error.txt"}
    turn_until(service, lambda: rejected_names(inbox) == expected, fake_time, advance_s=0.5)
    for _ in range(5):
        service.step()
    assert jobs_of(service) == [] and service.summary["rejected"] == 2
    error = (inbox / "rejected" / "song.yaml.txt.error.txt").read_text()
    assert 'musicd could not accept "song.yaml.txt"' in error
    assert "Windows Notepad" in error and "rename the file to song.yaml " in error and str(inbox) in error
    assert "rename the file to tune.yml " in (inbox / "rejected" / "tune.yml.txt.error.txt").read_text()
    assert (inbox / "rejected" / "song.yaml.txt").read_text() == spec_yaml("song")


# --------------------------------------------------------------------- stale rejections


def test_accepting_the_corrected_file_removes_its_stale_rejection(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    inbox = tmp_path / "inbox"
    (inbox / "song.yaml").write_text(BAD_SPEC)
    (inbox / "other.yaml").write_text(BAD_SPEC)
    both = {"song.yaml", "song.yaml.error.txt", "other.yaml", "other.yaml.error.txt"}
    turn_until(service, lambda: rejected_names(inbox) == both, fake_time, advance_s=0.5)
    (inbox / "song.yaml").write_text(spec_yaml("song"))
    turn_until(
        service, lambda: [j.state for j in jobs_of(service)] == [JobState.DONE], fake_time, advance_s=0.5
    )
    assert rejected_names(inbox) == {"other.yaml", "other.yaml.error.txt"}


def test_only_rejections_of_the_same_name_are_removed(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):  # rejected twice: rejected/x.yaml, then rejected/x-2.yaml
        (outcome,) = ingest(config, store, ("x.yaml", BAD_SPEC))
        assert outcome.status is IngestStatus.REJECTED
    ingest(config, store, ("x-3.yaml", BAD_SPEC), ("y.yaml", BAD_SPEC), ("x.yaml.txt", spec_yaml("x")))
    unrelated = {"x-3.yaml", "x-3.yaml.error.txt", "y.yaml", "y.yaml.error.txt"}
    assert rejected_names(config.inbox) == unrelated | {
        "x.yaml",
        "x.yaml.error.txt",
        "x-2.yaml",
        "x-2.yaml.error.txt",
        "x.yaml.txt",
        "x.yaml.txt.error.txt",
    }
    synced: list[Path] = []
    real_fsync_dir = durable.fsync_dir

    def record_fsync_dir(path: Path) -> None:
        synced.append(Path(path))
        real_fsync_dir(path)

    monkeypatch.setattr(durable, "fsync_dir", record_fsync_dir)
    (outcome,) = ingest(config, store, ("x.yaml", spec_yaml("x")))
    assert outcome.status is IngestStatus.QUEUED
    # x-3.yaml is a file of its own name (its error file says so), and y.yaml another name
    assert rejected_names(config.inbox) == unrelated
    assert synced[-1] == config.rejected_dir  # the removals are made durable


def test_a_rejection_made_in_the_same_batch_is_kept(config: Config, store: Store) -> None:
    bad, good = ingest(config, store, ("sub/x.yaml", BAD_SPEC), ("x.yaml", spec_yaml("x")))
    assert bad.status is IngestStatus.REJECTED and good.status is IngestStatus.QUEUED
    assert rejected_names(config.inbox) == {"x.yaml", "x.yaml.error.txt"}


def test_a_planted_error_file_that_is_not_a_file_is_left_alone(config: Config, store: Store) -> None:
    config.rejected_dir.mkdir()
    os.mkfifo(config.rejected_dir / "x.yaml.error.txt")  # never opened for reading (it would block)
    (config.rejected_dir / "x.yaml").write_text(BAD_SPEC)
    (outcome,) = ingest(config, store, ("x.yaml", spec_yaml("x")))
    assert outcome.status is IngestStatus.QUEUED
    assert rejected_names(config.inbox) == {"x.yaml", "x.yaml.error.txt"}


# ---------------------------------------------------------------------- missing folders


@pytest.mark.parametrize("role", ["inbox", "outbox"])
def test_the_service_refuses_to_start_when_a_folder_s_parent_is_missing(tmp_path: Path, role: str) -> None:
    share = tmp_path / "share"  # the mount point of a share that is not mounted: it is not there
    config = load_config(write_config(tmp_path, **{role: str(share / role)}), env={})
    service = Service(config, runner=TEST_RUNNER, notifier=RecordingNotifier())
    try:
        with pytest.raises(FolderMissingError) as refused:
            service.start()
    finally:
        service.shutdown()
    assert f"the {role}'s parent folder {share} does not exist: is the share mounted?" in str(refused.value)
    assert not share.exists()


def test_run_says_the_share_is_not_mounted_and_exits_1(tmp_path: Path) -> None:
    share = tmp_path / "nas" / "music"
    config_path = write_config(tmp_path, inbox=str(share / "inbox"))
    result = musicd_cli("run", "--once", "--config", str(config_path), "--runner", TEST_RUNNER)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"the inbox's parent folder {share} does not exist: is the share mounted?" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "nas").exists()


def test_a_missing_last_level_is_still_created(tmp_path: Path, service_for: Callable[..., Service]) -> None:
    inbox = tmp_path / "drop" / "inbox"
    inbox.parent.mkdir()
    service = service_for(inbox=str(inbox))
    assert inbox.is_dir() and (inbox / "rejected").is_dir() and service.watcher is not None


# ---------------------------------------------------------------------- worker log lines


def test_worker_log_lines_of_a_real_job_carry_its_id(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the worker takes the service's level
    supervisor = WorkerSupervisor(runner=DEFAULT_RUNNER, heartbeat_interval_s=0.5, heartbeat_timeout_s=120)
    job_id = "01JOBLOGLINES0000000000000"
    spec = (
        "title: Log lines\ngenres: [pop]\nduration: 5\nseed: 3\n"
        "video: {styles: [waveform]}\noutput: {formats: [wav], stems: false, midi: false}\n"
    )
    supervisor.start()
    try:
        seen: list[Any] = []
        wait_for_result(supervisor, lambda: supervisor.ready, 120, seen)
        supervisor.submit(
            RunJob(job_id, spec, 3, str(tmp_path / "out"), {"job_id": job_id, "attempts": 1}),
            time_limit_s=300,
        )
        wait_for_result(supervisor, lambda: any(isinstance(m, JobSucceeded) for m in seen), 200, seen)
    finally:
        supervisor.stop(grace_s=5)
    lines = capfd.readouterr().err.splitlines()
    stages = {
        "render": "musicd.synth.fluidsynth",
        "master": "musicd.audio.mastering",
        "cover": "musicd.media.cover",  # drawn in the cover's own thread
        "video": "musicd.media.video",
        "job": "musicd.pipeline.run",
    }
    (loading,) = [line for line in lines if "FluidSynth" in line and ": loaded " in line]
    assert "[musicd-worker]: " in loading  # logged while the worker started: no job
    for stage, logger in stages.items():
        found = [line for line in lines if f" {logger} [" in line and line != loading]
        assert found, f"no {stage} line from {logger} in {lines}"
        assert all(f" [musicd-worker] job {job_id}: " in line for line in found), found


def wait_for_result(
    supervisor: WorkerSupervisor, done: Callable[[], bool], timeout_s: float, messages: list[Any]
) -> None:
    """Poll the supervisor, adding what arrives to `messages`, until `done()`; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout_s} s: {messages}"
        wait_for_handles(supervisor.wait_handles() or [], timeout=0.2)
        messages.extend(supervisor.poll())


@dataclass(frozen=True)
class _Result:
    out_dir: Path
    manifest: dict[str, Any]
    seed: int


def run_logging_job(
    spec: Any, out_dir: Path, resources: Any, *, seed: int | None = None, **_: Mapping[str, Any]
) -> _Result:
    """A job runner that logs as the pipeline's stages do, one line from a thread of its own."""
    logging.getLogger("musicd.synth.fluidsynth").info("rendered %s", spec.title)
    cover = threading.Thread(target=lambda: logging.getLogger("musicd.media.cover").info("drew cover"))
    cover.start()
    cover.join()
    out_dir.mkdir(parents=True, exist_ok=True)
    return _Result(out_dir, {}, seed or 0)


def test_the_ray_actor_stamps_each_job_s_lines_with_its_own_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    actor = WorkerActor("test_inbox_mistakes:run_logging_job", None, log_level=logging.INFO)
    assert "error" not in actor.hello(__version__)
    for job_id in ("01JOBA", "01JOBB"):
        order = RunJob(job_id, f"title: {job_id}\ngenres: [ambient]\n", 1, str(tmp_path / job_id), {})
        message, _ = actor.run(order, results_here=False)
        assert isinstance(message, JobSucceeded)
    logging.getLogger("musicd.worker.process").info("between jobs")
    stamped = [
        (r.name, r.getMessage(), getattr(r, "job_id", None), getattr(r, "job_tag", None))
        for r in caplog.records
    ]
    assert ("musicd.synth.fluidsynth", "rendered 01JOBA", "01JOBA", " job 01JOBA") in stamped
    assert ("musicd.media.cover", "drew cover", "01JOBA", " job 01JOBA") in stamped
    assert ("musicd.synth.fluidsynth", "rendered 01JOBB", "01JOBB", " job 01JOBB") in stamped
    assert ("musicd.media.cover", "drew cover", "01JOBB", " job 01JOBB") in stamped
    assert ("musicd.worker.process", "between jobs", "-", "") in stamped
