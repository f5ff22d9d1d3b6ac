"""The worker process and its supervisor: real spawned processes, a controllable runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from musicd.worker import (
    Heartbeat,
    JobFailed,
    JobProgress,
    JobStarted,
    JobSucceeded,
    RunJob,
    WorkerDied,
    WorkerStartFailed,
    WorkerSupervisor,
    resolve_runner,
)

RUNNER = "daemon_runner:run_job"


def spec_text(title: str, duration_s: int = 5) -> str:
    return f"title: {title}\ngenres: [ambient]\nduration: {duration_s}\noutput: {{stems: false}}\n"


def wait_for(supervisor: WorkerSupervisor, done: Callable[[list], bool], timeout_s: float = 30) -> list:
    """Poll messages until `done(messages)` is true; fail after `timeout_s`."""
    from multiprocessing.connection import wait

    messages: list = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        handles = supervisor.wait_handles()
        if handles:
            wait(handles, timeout=0.2)
        messages += supervisor.poll()
        if done(messages):
            return messages
    shown = [m for m in messages if not isinstance(m, Heartbeat)]
    raise AssertionError(f"condition not met in {timeout_s} s; got {shown}")


def has(kind: type) -> Callable[[list], bool]:
    return lambda messages: any(isinstance(m, kind) for m in messages)


@pytest.fixture()
def supervisor():
    sup = WorkerSupervisor(runner=RUNNER, heartbeat_interval_s=0.2, heartbeat_timeout_s=3)
    sup.start()
    wait_for(sup, lambda _: sup.ready)
    yield sup
    sup.stop(grace_s=2)


def order(tmp_path: Path, job_id: str, title: str, duration_s: int = 5) -> RunJob:
    return RunJob(
        job_id=job_id,
        spec_text=spec_text(title, duration_s),
        seed=42,
        out_dir=str(tmp_path / job_id),
        manifest_extra={"job_id": job_id, "attempts": 1},
    )


def test_job_runs_in_the_worker_and_reports_progress(supervisor, tmp_path: Path) -> None:
    supervisor.submit(order(tmp_path, "J1", "quick"), time_limit_s=30)
    messages = wait_for(supervisor, has(JobSucceeded))
    assert any(isinstance(m, JobStarted) for m in messages)
    assert [m.percent for m in messages if isinstance(m, JobProgress)] == [90.0, 100.0]
    manifest = json.loads((tmp_path / "J1" / "manifest.json").read_text())
    assert manifest["worker_pid"] == supervisor.pid
    assert manifest["job_id"] == "J1" and manifest["seed"] == 42
    assert supervisor.idle


def test_resources_load_once_for_many_jobs(supervisor, tmp_path: Path) -> None:
    for index in range(3):
        supervisor.submit(order(tmp_path, f"J{index}", "quick"), time_limit_s=30)
        wait_for(supervisor, has(JobSucceeded))
    loads = [
        json.loads((tmp_path / f"J{i}" / "manifest.json").read_text())["resource_loads"] for i in range(3)
    ]
    assert loads == [1, 1, 1]


def test_job_error_fails_the_job_not_the_worker(supervisor, tmp_path: Path) -> None:
    pid = supervisor.pid
    supervisor.submit(order(tmp_path, "E1", "error"), time_limit_s=30)
    failed = [m for m in wait_for(supervisor, has(JobFailed)) if isinstance(m, JobFailed)][0]
    assert "asked to fail" in failed.error and not failed.cancelled
    assert supervisor.pid == pid and supervisor.idle


def test_invalid_spec_fails_the_job_with_the_spec_error(supervisor, tmp_path: Path) -> None:
    bad = RunJob(
        job_id="B1",
        spec_text="genres: [nope-not-a-genre]\nduration: -3\n",
        seed=1,
        out_dir=str(tmp_path / "B1"),
    )
    supervisor.submit(bad, time_limit_s=30)
    failed = [m for m in wait_for(supervisor, has(JobFailed)) if isinstance(m, JobFailed)][0]
    assert "not a valid musicd job spec" in failed.error


def test_crash_is_reported_and_worker_restarts(supervisor, tmp_path: Path) -> None:
    old_pid = supervisor.pid
    supervisor.submit(order(tmp_path, "C1", "crash"), time_limit_s=30)
    died = [m for m in wait_for(supervisor, has(WorkerDied)) if isinstance(m, WorkerDied)][0]
    assert died.job_id == "C1" and "exit code 1" in died.reason
    supervisor.restart()
    wait_for(supervisor, lambda _: supervisor.ready)
    assert supervisor.pid != old_pid
    supervisor.submit(order(tmp_path, "C2", "quick"), time_limit_s=30)
    wait_for(supervisor, has(JobSucceeded))


def test_frozen_worker_is_killed_for_missing_heartbeats(supervisor, tmp_path: Path) -> None:
    supervisor.submit(order(tmp_path, "F1", "freeze"), time_limit_s=60)
    died = [m for m in wait_for(supervisor, has(WorkerDied)) if isinstance(m, WorkerDied)][0]
    assert died.job_id == "F1" and "heartbeat" in died.reason
    assert not supervisor.alive


def test_job_over_its_time_limit_is_killed(supervisor, tmp_path: Path) -> None:
    supervisor.submit(order(tmp_path, "H1", "hang"), time_limit_s=1.5)
    died = [m for m in wait_for(supervisor, has(WorkerDied)) if isinstance(m, WorkerDied)][0]
    assert died.job_id == "H1" and "time limit" in died.reason


def test_cancel_takes_effect_at_the_next_stage_boundary(supervisor, tmp_path: Path) -> None:
    supervisor.submit(order(tmp_path, "S1", "slow", duration_s=20), time_limit_s=60)
    wait_for(supervisor, has(JobProgress))
    assert supervisor.request_cancel("S1")
    assert not supervisor.request_cancel("other")
    messages = wait_for(supervisor, has(JobFailed), timeout_s=10)
    failed = [m for m in messages if isinstance(m, JobFailed)][0]
    assert failed.cancelled and "cancelled" in failed.error
    steps = [m.stage for m in messages if isinstance(m, JobProgress)]
    assert len(steps) < 10


def test_unknown_runner_reports_start_failure() -> None:
    sup = WorkerSupervisor(runner="no_such_module_xyz:run", heartbeat_interval_s=0.2)
    sup.start()
    try:
        messages = wait_for(sup, has(WorkerStartFailed))
        failure = [m for m in messages if isinstance(m, WorkerStartFailed)][0]
        assert "no_such_module_xyz" in failure.error
    finally:
        sup.kill()


def test_stop_lets_the_worker_exit(supervisor) -> None:
    assert supervisor.stop(grace_s=5) is True
    assert not supervisor.alive


def test_resolve_runner_rejects_malformed_names() -> None:
    with pytest.raises(ValueError, match="module:function"):
        resolve_runner("musicd.pipeline.run_job")


def test_resources_get_only_the_keyword_arguments_they_take(tmp_path: Path) -> None:
    sup = WorkerSupervisor(
        runner=RUNNER,
        heartbeat_interval_s=0.2,
        resources_kwargs={"label": "preloaded", "engines": object.__name__},
    )
    sup.start()
    try:
        wait_for(sup, lambda _: sup.ready)
        sup.submit(order(tmp_path, "K1", "quick"), time_limit_s=30)
        wait_for(sup, has(JobSucceeded))
    finally:
        sup.stop(grace_s=2)
    assert json.loads((tmp_path / "K1" / "manifest.json").read_text())["resource_label"] == "preloaded"


def test_memory_a_job_freed_is_returned_to_the_system(supervisor, tmp_path: Path) -> None:
    rss = [
        m.rss_bytes
        for m in wait_for(supervisor, lambda ms: sum(isinstance(m, Heartbeat) for m in ms) >= 2)
        if isinstance(m, Heartbeat)
    ]
    baseline = rss[-1]
    supervisor.submit(order(tmp_path, "M1", "heap"), time_limit_s=30)
    wait_for(supervisor, has(JobSucceeded))
    after = wait_for(supervisor, lambda ms: [m for m in ms if isinstance(m, Heartbeat) and m.job_id is None])
    settled = [m.rss_bytes for m in after if isinstance(m, Heartbeat) and m.job_id is None][-1]
    assert settled - baseline < 50 * 2**20, f"RSS grew by {(settled - baseline) / 2**20:.0f} MiB"
