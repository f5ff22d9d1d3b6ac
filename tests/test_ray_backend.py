"""The Ray backend against a real Ray cluster on this machine (127.0.0.1 only).

One cluster for the module: a head with no CPUs (no actor lands there, so it is never the node
removed) and two worker nodes of one CPU each, so the two actors run on different nodes. The
service runs in this process (Service.step with the real clocks) or as a subprocess (the -9
test); its Ray driver is the bridge process it starts. The runner is tests/daemon_runner.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from typing import Any

import pytest

from daemon_helpers import (
    TEST_RUNNER,
    TESTS_DIR,
    Daemon,
    job_rows,
    manifests,
    published,
    spec_yaml,
    staging_left,
    write_config,
)
from musicd.config import load_config
from musicd.queue.jobs import JobState
from musicd.service.loop import Service
from musicd.worker.backend_report import backend_status_path

LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray keeps to 127.0.0.1 instead of this host's address
    "RAY_USAGE_STATS_ENABLED": "0",
}
os.environ.update(LOOPBACK_ENV)  # before Ray is imported: it reads them once

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    saved = {"PYTHONPATH": os.environ.get("PYTHONPATH")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), saved["PYTHONPATH"]]))
    made = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "object_store_memory": 80 * 2**20},
    )
    try:
        for _ in range(2):
            made.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        made.wait_for_nodes()
        ray.init(address=made.address, namespace="musicd", log_to_driver=False)
        yield made
    finally:
        ray.shutdown()
        made.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ray_config(tmp_path: Path, cluster: Any, **ray_overrides: Any) -> Path:
    return write_config(
        tmp_path,
        worker={"backend": "ray", "max_attempts": 3},
        ray={"address": cluster.address, "workers": 2, "num_cpus": 1, **ray_overrides},
    )


@pytest.fixture
def service_for(tmp_path: Path, cluster: Any) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(**ray_overrides: Any) -> Service:
        service = Service(
            load_config(ray_config(tmp_path, cluster, **ray_overrides), env={}), runner=TEST_RUNNER
        )
        made.append(service)
        service.start()
        return service

    yield make
    for service in made:
        service.shutdown()


def turn_until(service: Service, condition: Callable[[], Any], timeout_s: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        assert service.step() is None, "the service ended"
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        handles = service.supervisor.wait_handles() if service.supervisor else []
        wait_for_handles(handles, timeout=0.05)


def backend_state(service: Service) -> dict[str, Any]:
    path = backend_status_path(service.config.state_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def actors_ready(service: Service, count: int = 2) -> bool:
    actors = backend_state(service).get("actors", [])
    return sum(1 for actor in actors if actor["state"] == "idle") >= count


def add_jobs(service: Service, titles: list[str], duration_s: float = 5) -> list[str]:
    from musicd.queue.jobs import NewJob

    assert service.store is not None
    jobs = service.store.add_jobs(
        [
            NewJob(
                title=t,
                source_name=f"{t}.yaml",
                spec_text=spec_yaml(t, duration_s),
                spec_hash=f"h{i}",
                seed=i,
            )
            for i, t in enumerate(titles)
        ]
    )
    return [job.id for job in jobs]


def all_finished(service: Service, ids: list[str]) -> bool:
    assert service.store is not None
    return all(service.store.get(job_id).state in (JobState.DONE, JobState.FAILED) for job_id in ids)


def assert_published_once(outbox: Path, ids: list[str]) -> None:
    found = [m["job_id"] for m in manifests(outbox)]
    assert sorted(found) == sorted(ids), f"published {len(found)} folders for {len(ids)} jobs"
    assert all(m["status"] == "done" for m in manifests(outbox))
    assert not staging_left(outbox)


def running_on_actor(service: Service, job_id: str) -> dict[str, Any] | None:
    assert service.store is not None
    if service.store.get(job_id).stage is None:  # not started yet: no progress from the actor
        return None
    actors = [a for a in backend_state(service).get("actors", []) if a["job_id"] == job_id]
    return actors[0] if actors else None


def test_twenty_jobs_published_once_two_at_a_time(service_for: Callable[..., Service]) -> None:
    service = service_for()
    turn_until(service, lambda: actors_ready(service), 90, "two actors")
    state = backend_state(service)
    assert state["available"] and len({a["node_id"] for a in state["actors"]}) == 2  # one per node
    ids = add_jobs(service, ["slow", "slow"] + [f"short {n}" for n in range(18)])
    both_running = []

    def check() -> bool:
        assert service.store is not None
        slow = [service.store.get(job_id) for job_id in ids[:2]]
        if all(job.state is JobState.RUNNING and job.stage for job in slow):
            both_running.append(True)
        return all_finished(service, ids)

    turn_until(service, check, 120, "20 jobs")
    assert both_running, "the two slow jobs never ran at the same time"
    assert_published_once(service.config.outbox, ids)
    assert len({m["worker_pid"] for m in manifests(service.config.outbox)}) == 2
    assert all(m["resource_loads"] == 1 for m in manifests(service.config.outbox))  # resident


def test_actor_killed_mid_job_runs_again_once(service_for: Callable[..., Service]) -> None:
    service = service_for()
    turn_until(service, lambda: actors_ready(service), 90, "two actors")
    [job_id] = add_jobs(service, ["slow"])
    actor = turn_until(service, lambda: running_on_actor(service, job_id), 30, "the job on an actor")
    ray.kill(ray.get_actor(actor["actor"], namespace="musicd"), no_restart=True)
    turn_until(service, lambda: all_finished(service, [job_id]), 90, "the job to finish")
    assert service.store is not None
    job = service.store.get(job_id)
    assert job.state is JobState.DONE and job.attempts == 2
    events = " ".join(e.message or "" for e in service.store.events(job_id))
    assert "died" in events and "attempt 1 of 3" in events
    assert_published_once(service.config.outbox, [job_id])
    turn_until(service, lambda: actors_ready(service), 60, "the actor made again")


def test_node_removed_mid_job_runs_again_once(service_for: Callable[..., Service], cluster: Any) -> None:
    service = service_for()
    turn_until(service, lambda: actors_ready(service), 90, "two actors")
    [job_id] = add_jobs(service, ["slow"])
    actor = turn_until(service, lambda: running_on_actor(service, job_id), 30, "the job on an actor")
    [node] = [n for n in cluster.worker_nodes if n.node_id == actor["node_id"]]
    cluster.remove_node(node)
    try:
        turn_until(service, lambda: all_finished(service, [job_id]), 90, "the job to finish")
        assert service.store is not None
        job = service.store.get(job_id)
        assert job.state is JobState.DONE and job.attempts == 2
        assert_published_once(service.config.outbox, [job_id])
        done_on = manifests(service.config.outbox)[0]["worker_pid"]
        assert done_on != actor["pid"]
    finally:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)  # for the tests after this one
        cluster.wait_for_nodes()


def test_service_killed_while_jobs_run_on_the_cluster(tmp_path: Path, cluster: Any) -> None:
    config_path = ray_config(tmp_path, cluster)
    inbox, outbox, state = tmp_path / "inbox", tmp_path / "outbox", tmp_path / "state"
    env = {**LOOPBACK_ENV}
    daemon = Daemon(config_path, env=env)
    try:
        titles = ["slow", "slow", "short a", "short b", "short c", "short d"]
        for index, title in enumerate(titles):
            (inbox / f"job{index}.yaml").write_text(spec_yaml(title, 5))
        daemon.wait_for(
            lambda: sum(1 for row in job_rows(state) if row["state"] == "running" and row["stage"]) == 2,
            90,
            "two jobs running on the cluster",
        )
        daemon.kill()  # -9: the bridge dies with it, and Ray ends the actors it owned
        daemon = Daemon(config_path, env=env)
        daemon.wait_for(
            lambda: (
                len(job_rows(state)) == len(titles) and all(r["state"] == "done" for r in job_rows(state))
            ),
            120,
            "every job done after the restart",
        )
        assert_published_once(outbox, [row["id"] for row in job_rows(state)])
        assert all(row["attempts"] <= 2 for row in job_rows(state))  # a service crash costs no attempt
    finally:
        daemon.stop()
    assert len(published(outbox)) == len(titles)


def test_cancel_reaches_the_running_actor(service_for: Callable[..., Service]) -> None:
    service = service_for()
    turn_until(service, lambda: actors_ready(service), 90, "two actors")
    [job_id] = add_jobs(service, ["slow"], duration_s=20)
    turn_until(service, lambda: running_on_actor(service, job_id), 30, "the job on an actor")
    assert service.store is not None
    service.store.request_cancel(job_id)
    turn_until(service, lambda: service.store and service.store.get(job_id).state is JobState.CANCELLED, 15)
    assert not published(service.config.outbox) and not staging_left(service.config.outbox)


def test_time_limit_kills_and_remakes_the_actor(tmp_path: Path, cluster: Any) -> None:
    path = write_config(
        tmp_path,
        worker={"backend": "ray", "max_attempts": 1, "job_timeout_base_s": 2, "job_timeout_per_audio_s": 0},
        ray={"address": cluster.address, "workers": 1, "num_cpus": 1, "results": "shared-outbox"},
    )
    service = Service(load_config(path, env={}), runner=TEST_RUNNER)
    service.start()
    try:
        turn_until(service, lambda: actors_ready(service, 1), 90, "the actor")
        hang, short = add_jobs(service, ["hang", "short"])
        turn_until(service, lambda: all_finished(service, [hang, short]), 60, "both jobs")
        assert service.store is not None
        assert "time limit of 2 s" in (service.store.get(hang).error or "")
        assert service.store.get(short).state is JobState.DONE  # on the remade actor, written in place
        assert len({a["actor"] for a in backend_state(service)["actors"]}) == 1
        assert backend_state(service)["actors"][0]["actor"].endswith("-2")
    finally:
        service.shutdown()


def test_actor_with_another_musicd_version_is_refused(tmp_path: Path, cluster: Any) -> None:
    from musicd.config import RayConfig
    from musicd.worker.ray_backend import RayPool

    pool = RayPool(
        RayConfig(address=cluster.address, workers=1),
        runner=TEST_RUNNER,
        soundfont=None,
        staging_root=tmp_path / ".staging",
        heartbeat_interval_s=0.2,
        version="0.0.0-other",
    )
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while not any(a.get("state") == "refused" for a in pool.status.actors):
            assert time.monotonic() < deadline, f"never refused: {pool.status}"
            wait_for_handles(pool.wait_handles(), timeout=0.1)
            pool.poll()
        [actor] = pool.status.actors
        assert "runs musicd" in actor["reason"] and "0.0.0-other" in actor["reason"]
        assert "install the same musicd version" in actor["reason"]
        assert pool.free_slots == 0
    finally:
        pool.stop(5.0)


def test_unreachable_cluster_pauses_the_backend_and_the_service_goes_on(tmp_path: Path) -> None:
    path = write_config(tmp_path, worker={"backend": "ray"}, ray={"address": "127.0.0.1:9"})
    service = Service(load_config(path, env={}), runner=TEST_RUNNER)
    service.start()
    try:
        [job_id] = add_jobs(service, ["short"])
        turn_until(service, lambda: "Ray backend is unavailable" in " ".join(service.pauses.reasons()), 30)
        assert service.store is not None and service.store.get(job_id).state is JobState.QUEUED
        assert backend_state(service)["available"] is False
        assert "paused" in service._status_text()
    finally:
        service.shutdown()


def test_status_and_doctor_show_actors_and_nodes(service_for: Callable[..., Service], cluster: Any) -> None:
    from musicd.worker.backend_report import backend_checks, backend_lines, backend_summary

    service = service_for()
    turn_until(service, lambda: actors_ready(service), 90, "two actors")
    text = "\n".join(backend_lines(backend_summary(service.config)))
    assert cluster.address.startswith("127.0.0.1:")
    assert "reachable" in text and "nodes: 3 alive of" in text
    assert text.count("musicd-worker-") == 2 and "idle" in text and "127.0.0.1" in text
    assert any(check.name == "worker backend" and check.ok for check in backend_checks(service.config))


def test_a_node_without_musicd_is_refused_with_its_address_and_not_remade_at_once(
    tmp_path: Path, cluster: Any
) -> None:
    from musicd.config import RayConfig
    from musicd.worker.ray_backend import RayPool

    stub = tmp_path / "stub" / "musicd"  # a node whose Python finds another "musicd" first
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('__version__ = "0.1.0"\n')
    path = os.pathsep.join([str(stub.parent), os.environ.get("PYTHONPATH", "")])
    # 2 CPUs: the only node an actor asking for 2 fits on (the others have 1 each)
    node = cluster.add_node(num_cpus=2, object_store_memory=80 * 2**20, env_vars={"PYTHONPATH": path})
    cluster.wait_for_nodes()
    pool = RayPool(
        RayConfig(address=cluster.address, workers=1, num_cpus=2),
        runner=TEST_RUNNER,
        soundfont=None,
        staging_root=tmp_path / ".staging",
        heartbeat_interval_s=0.2,
    )
    pool.start()

    def turn(seconds: float, until: Callable[[], bool] | None = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until()):
            wait_for_handles(pool.wait_handles(), timeout=0.1)
            pool.poll()

    try:
        turn(90, lambda: any(a.get("state") == "refused" for a in pool.status.actors))
        [actor] = pool.status.actors
        assert actor["state"] == "refused", pool.status
        assert "could not start a musicd actor on node 127.0.0.1" in actor["reason"], actor["reason"]
        assert "is the same musicd installed there?" in actor["reason"]
        assert pool.free_slots == 0
        turn(4)  # backed off: no create-and-die loop meanwhile
        [actor] = pool.status.actors
        assert actor["state"] == "refused" and actor["actor"].endswith("-1"), actor
    finally:
        pool.stop(5.0)
        cluster.remove_node(node)


def _two_slow_jobs_running(tmp_path: Path, cluster: Any, stop_grace_s: float, duration_s: float) -> Daemon:
    config_path = write_config(
        tmp_path,
        worker={"backend": "ray", "max_attempts": 3, "stop_grace_s": stop_grace_s},
        ray={"address": cluster.address, "workers": 2, "num_cpus": 1},
    )
    daemon = Daemon(config_path, env={**LOOPBACK_ENV})
    for index in range(2):
        (tmp_path / "inbox" / f"slow{index}.yaml").write_text(spec_yaml("slow", duration_s))
    daemon.wait_for(
        lambda: (
            sum(1 for row in job_rows(tmp_path / "state") if row["state"] == "running" and row["stage"]) == 2
        ),
        90,
        "two jobs running on the cluster",
    )
    return daemon


def test_sigterm_lets_jobs_on_the_cluster_finish_within_the_grace(tmp_path: Path, cluster: Any) -> None:
    daemon = _two_slow_jobs_running(tmp_path, cluster, stop_grace_s=60, duration_s=5)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(90) == 0
    rows = job_rows(tmp_path / "state")
    assert [row["state"] for row in rows] == ["done", "done"] and all(row["attempts"] == 1 for row in rows)
    assert_published_once(tmp_path / "outbox", [row["id"] for row in rows])


def test_sigterm_with_a_short_grace_requeues_uncounted_and_a_restart_finishes(
    tmp_path: Path, cluster: Any
) -> None:
    daemon = _two_slow_jobs_running(tmp_path, cluster, stop_grace_s=0.5, duration_s=12)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(60) == 0
    rows = job_rows(tmp_path / "state")
    assert [row["state"] for row in rows] == ["queued", "queued"]
    assert all(row["attempts"] == 0 for row in rows)  # a stop is not the job's fault
    assert not published(tmp_path / "outbox") and not staging_left(tmp_path / "outbox")
    daemon = Daemon(tmp_path / "config.yaml", env={**LOOPBACK_ENV})
    try:
        daemon.wait_for(
            lambda: (
                len(job_rows(tmp_path / "state")) == 2
                and all(r["state"] == "done" for r in job_rows(tmp_path / "state"))
            ),
            150,
            "every job done after the restart",
        )
    finally:
        assert daemon.stop(60) == 0
    rows = job_rows(tmp_path / "state")
    assert_published_once(tmp_path / "outbox", [row["id"] for row in rows])
    assert all(row["attempts"] == 1 for row in rows)


def _cluster_on(port: int) -> Any:
    """A head (no CPUs) on 127.0.0.1:`port` and one worker node of one CPU."""
    made = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={
            "gcs_server_port": port,
            "num_cpus": 0,
            "include_dashboard": False,
            "object_store_memory": 80 * 2**20,
        },
    )
    made.add_node(num_cpus=1, object_store_memory=80 * 2**20)
    made.wait_for_nodes()
    return made


def test_losing_the_head_mid_job_pauses_requeues_uncounted_and_reconnects(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), saved]))
    first = _cluster_on(port)
    second = None
    path = write_config(
        tmp_path,
        worker={"backend": "ray", "max_attempts": 3},
        ray={"address": f"127.0.0.1:{port}", "workers": 1, "num_cpus": 1},
    )
    service = Service(load_config(path, env={}), runner=TEST_RUNNER)
    service.start()
    try:
        turn_until(service, lambda: actors_ready(service, 1), 90, "the actor")
        [job_id] = add_jobs(service, ["slow"], duration_s=20)
        turn_until(service, lambda: running_on_actor(service, job_id), 30, "the job on the actor")
        assert service.store is not None
        first.head_node.kill_gcs_server()  # the head is gone; the worker node is still up
        turn_until(
            service,
            lambda: (
                "Ray backend is unavailable" in " ".join(service.pauses.reasons())
                and service.store is not None
                and service.store.get(job_id).state is JobState.QUEUED
            ),
            60,
            "the pause and the job back in the queue",
        )
        assert service.store.get(job_id).attempts == 0  # losing the head is not the job's doing
        assert backend_state(service)["available"] is False and "paused" in service._status_text()
        first.shutdown()
        second = _cluster_on(port)  # the head is back, at the same address
        turn_until(service, lambda: all_finished(service, [job_id]), 180, "the job after the reconnect")
        job = service.store.get(job_id)
        assert job.state is JobState.DONE and job.attempts == 1
        assert not service.pauses.reasons() and backend_state(service)["available"] is True
        assert_published_once(service.config.outbox, [job_id])
    finally:
        service.shutdown()
        for made in (first, second):
            if made is not None:
                made.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def test_an_actor_starting_clears_result_folders_older_than_a_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from musicd import __version__
    from musicd.worker.ray_actor import LOCAL_RESULTS_DIR, WorkerActor

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = tmp_path / LOCAL_RESULTS_DIR
    old, fresh = root / "01OLDJOB", root / "01FRESHJOB"
    for folder in (old, fresh):
        (folder / "stems").mkdir(parents=True)
        (folder / "mix.wav").write_bytes(b"RIFF")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    info = WorkerActor(TEST_RUNNER, None).hello(__version__)
    assert "refused" not in info and "error" not in info
    assert not old.exists() and (fresh / "mix.wav").exists()
