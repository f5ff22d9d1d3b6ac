"""End-to-end: `musicd run` as a real subprocess against temp folders (real rsync, real SQLite).

Most tests use the controllable runner in tests/daemon_runner.py (worker.runner extension
point) so crashes, hangs and bursts are cheap; one test renders with the real pipeline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon_helpers import (  # no_leftover_processes: autouse, kills and fails on leftovers
    Daemon,
    job_rows,
    kill_started_daemons,
    manifests,
    musicd_cli,
    no_leftover_processes,  # noqa: F401
    published,
    spec_yaml,
    staging_left,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.timeout(180)


def rsync_into(source: Path, inbox: Path) -> None:
    """Copy like a NAS sync would: rsync writes `.name.XXXXXX` and renames it at the end."""
    subprocess.run(["rsync", "-a", str(source), str(inbox) + "/"], check=True)


def drop(inbox: Path, name: str, text: str) -> Path:
    """Drop a file the way a careful tool does: write a hidden temp name, then rename."""
    tmp = inbox / f".{name}.tmp"
    tmp.write_text(text)
    target = inbox / name
    os.replace(tmp, target)
    return target


def done_count(root: Path) -> int:
    return sum(1 for r in job_rows(root / "state") if r["state"] in ("done", "failed", "cancelled"))


def test_rsynced_spec_is_rendered_by_the_real_pipeline_and_published_once(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    source = tmp_path / "src" / "night-drive.yaml"
    source.parent.mkdir()
    source.write_text(spec_yaml("Night Drive"))
    daemon = Daemon(config, runner=None)  # default runner: musicd.pipeline:run_job
    try:
        rsync_into(source, tmp_path / "inbox")
        folders = daemon.wait_for(lambda: published(tmp_path / "outbox"), 120, "the published track")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert len(folders) == 1
    folder = folders[0]
    assert folder.name.endswith("-night-drive-" + folder.name[-8:])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "done"
    assert manifest["source_file"] == "night-drive.yaml"
    assert manifest["attempts"] == 1
    for key in ("job_id", "spec_hash", "queued_at", "started_at", "finished_at"):
        assert manifest[key], key
    assert (folder / "night-drive.wav").stat().st_size > 1000
    assert manifest["mix"]["wav"] == "night-drive.wav"
    assert not list((tmp_path / "inbox").glob("*.yaml"))
    assert staging_left(tmp_path / "outbox") == []
    rows = job_rows(tmp_path / "state")
    assert [r["state"] for r in rows] == ["done"]
    assert rows[0]["outbox_path"] == str(folder)


def test_burst_of_200_specs_is_published_exactly_once(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    batch = tmp_path / "batch"
    batch.mkdir()
    for index in range(200):
        (batch / f"burst-{index:03d}.yaml").write_text(spec_yaml(f"burst {index}"))
    daemon = Daemon(config)
    try:
        subprocess.run(["rsync", "-a", f"{batch}/", f"{tmp_path / 'inbox'}/"], check=True)
        daemon.wait_for(lambda: done_count(tmp_path) >= 200, 150, "200 finished jobs")
    finally:
        assert daemon.stop() == 0
    batches = [int(n) for n in re.findall(r"ingested (\d+) files in one batch", daemon.log)]
    assert batches and max(batches) >= 50, batches  # a burst is ingested together, not file by file
    found = manifests(tmp_path / "outbox")
    titles = sorted(m["title"] for m in found)
    assert titles == sorted(f"burst {i}" for i in range(200))
    assert len({m["job_id"] for m in found}) == 200
    assert all(m["status"] == "done" for m in found)
    assert len({m["worker_pid"] for m in found}) == 1  # one resident worker did all of them
    assert not list((tmp_path / "inbox").glob("*.yaml"))
    assert staging_left(tmp_path / "outbox") == []


def test_polling_mode_publishes_the_same_way(tmp_path: Path) -> None:
    config = write_config(tmp_path, watch={"mode": "polling", "poll_interval_s": 0.2})
    daemon = Daemon(config)
    try:
        wait_until(lambda: "polling" in daemon.log, 30, "the watcher in polling mode")
        source = tmp_path / "polled.yaml"
        source.write_text(spec_yaml("polled"))
        rsync_into(source, tmp_path / "inbox")
        daemon.wait_for(lambda: published(tmp_path / "outbox"), 30, "the published job")
    finally:
        assert daemon.stop() == 0
    assert [m["title"] for m in manifests(tmp_path / "outbox")] == ["polled"]


def test_slowly_written_file_is_not_read_early(tmp_path: Path) -> None:
    config = write_config(tmp_path, watch={"stability_delay_s": 1.0})
    daemon = Daemon(config)
    try:
        text = spec_yaml("written slowly", bpm=90)
        target = tmp_path / "inbox" / "slow.yaml"
        with open(target, "w") as handle:  # a writer that pauses mid-file, like a slow share
            for start in range(0, len(text), 8):
                handle.write(text[start : start + 8])
                handle.flush()
                time.sleep(0.15)
        daemon.wait_for(lambda: published(tmp_path / "outbox"), 30, "the published job")
    finally:
        assert daemon.stop() == 0
    assert [m["title"] for m in manifests(tmp_path / "outbox")] == ["written slowly"]
    assert not (tmp_path / "inbox" / "rejected").exists() or not list(
        (tmp_path / "inbox" / "rejected").iterdir()
    )


def test_hidden_and_temporary_names_are_ignored_and_invalid_spec_is_rejected(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    ignored = [".hidden.yaml", "draft.yaml.part", "copy.tmp", "~syncthing~a.yaml.tmp", "._mac.yaml"]
    for name in ignored:
        (inbox / name).write_text(spec_yaml(name))
    daemon = Daemon(config)
    try:
        drop(inbox, "broken.yaml", "title: broken\ngenres: [not-a-genre]\nduration: 5\n")
        drop(inbox, "good.yaml", spec_yaml("good"))
        error_file = inbox / "rejected" / "broken.yaml.error.txt"
        wait_until(error_file.exists, 30, "the rejection error file")
        daemon.wait_for(lambda: published(tmp_path / "outbox"), 30, "the good job")
    finally:
        assert daemon.stop() == 0
    assert (inbox / "rejected" / "broken.yaml").exists()
    assert "not-a-genre" in error_file.read_text()
    assert [m["title"] for m in manifests(tmp_path / "outbox")] == ["good"]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(ignored)


def test_kill_9_mid_job_then_restart_completes_the_job_once(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    drop(tmp_path / "inbox", "long.yaml", spec_yaml("slow", duration_s=5))
    daemon = Daemon(config)
    try:
        wait_until(
            lambda: any(r["state"] == "running" and r["percent"] for r in job_rows(tmp_path / "state")),
            30,
            "the job to be running",
        )
        assert staging_left(tmp_path / "outbox")
    finally:
        daemon.kill()  # SIGKILL: no clean-up at all
    worker_pid = int(re.search(r"worker process (\d+) starting", daemon.log).group(1))
    wait_until(lambda: not Path(f"/proc/{worker_pid}").exists(), 10, "the orphaned worker to die")
    again = Daemon(config)
    try:
        wait_until(lambda: done_count(tmp_path) == 1, 60, "the job to finish after the restart")
    finally:
        assert again.stop() == 0
    found = manifests(tmp_path / "outbox")
    assert len(found) == 1 and found[0]["status"] == "done"
    assert found[0]["attempts"] == 1  # the service's death is not the job's attempt
    assert staging_left(tmp_path / "outbox") == []
    assert "interrupted" in again.log


def test_worker_crash_fails_the_job_after_max_attempts_and_others_still_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, worker={"max_attempts": 2})
    daemon = Daemon(config)
    try:
        drop(tmp_path / "inbox", "a-crash.yaml", spec_yaml("crash"))
        drop(tmp_path / "inbox", "b-fine.yaml", spec_yaml("fine"))
        drop(tmp_path / "inbox", "c-flaky.yaml", spec_yaml("fail-once"))
        daemon.wait_for(lambda: done_count(tmp_path) == 3, 60, "three finished jobs")
    finally:
        assert daemon.stop() == 0
    by_title = {m["title"]: m for m in manifests(tmp_path / "outbox")}
    assert by_title["crash"]["status"] == "failed"
    assert by_title["crash"]["attempts"] == 2
    assert by_title["fine"]["status"] == "done"
    assert by_title["fail-once"]["status"] == "done" and by_title["fail-once"]["attempts"] == 2
    failed_folder = next(p for p in published(tmp_path / "outbox") if p.name.endswith("-failed"))
    error = (failed_folder / "error.txt").read_text()
    assert "exit code 1" in error and "worker.max_attempts" in error
    assert (failed_folder / "spec.yaml").read_text().startswith("title: crash")


def test_hung_job_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, worker={"max_attempts": 1, "job_timeout_base_s": 1, "job_timeout_per_audio_s": 0.1}
    )
    daemon = Daemon(config)
    try:
        drop(tmp_path / "inbox", "hang.yaml", spec_yaml("hang"))
        wait_until(lambda: done_count(tmp_path) == 1, 30, "the hung job to fail")
    finally:
        assert daemon.stop() == 0
    (found,) = manifests(tmp_path / "outbox")
    assert found["status"] == "failed" and "time limit" in found["error"]


def test_restart_does_not_reingest_and_once_exits_when_drained(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for index in range(3):
        drop(tmp_path / "inbox", f"job-{index}.yaml", spec_yaml(f"job {index}"))
    first = Daemon(config, once=True)
    assert first.wait(60) == 0, first.log[-3000:]
    assert len(published(tmp_path / "outbox")) == 3
    second = Daemon(config, once=True)
    assert second.wait(60) == 0
    assert len(published(tmp_path / "outbox")) == 3
    assert len(job_rows(tmp_path / "state")) == 3


def test_schedule_missed_within_grace_fires_once_at_start(tmp_path: Path) -> None:
    missed = datetime.now(UTC) - timedelta(minutes=2)  # a daily firing the box slept through
    config = write_config(
        tmp_path,
        schedules=[
            {
                "name": "daily",
                "cron": f"{missed.minute} {missed.hour} * * *",
                "timezone": "UTC",
                "job": {"title": "scheduled", "genres": ["lofi"], "duration": 5, "output": {"stems": False}},
            },
        ],
    )
    handled = missed - timedelta(minutes=1)
    (tmp_path / "state" / "schedules.json").write_text(
        json.dumps({"daily": {"handled_until": handled.isoformat()}})
    )
    daemon = Daemon(config, once=True)
    assert daemon.wait(60) == 0, daemon.log[-3000:]
    (found,) = manifests(tmp_path / "outbox")
    assert found["title"] == "scheduled" and found["source_file"] == "schedule:daily"
    rows = job_rows(tmp_path / "state")
    assert len(rows) == 1 and rows[0]["seed"] is not None
    status = musicd_cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "daily: next" in status.stdout


def test_sd_notify_messages_arrive_and_sigterm_exits_cleanly(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    received: list[str] = []

    def until(prefix: str) -> str:
        while True:
            message = sock.recv(4096).decode()
            received.append(message)
            if any(line.startswith(prefix) for line in message.splitlines()):
                return message

    daemon = Daemon(config, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    try:
        assert "EXTEND_TIMEOUT_USEC=" in until("EXTEND_TIMEOUT_USEC=")
        ready = until("READY=1")
        assert "STATUS=" in ready
        until("WATCHDOG=1")
        drop(tmp_path / "inbox", "one.yaml", spec_yaml("one"))
        daemon.wait_for(lambda: published(tmp_path / "outbox"), 30, "the published job")
        daemon.signal(signal.SIGTERM)
        until("STOPPING=1")
        assert daemon.wait(30) == 0
    finally:
        if daemon.process.poll() is None:
            daemon.kill()
        sock.close()
    assert any(m.startswith("STATUS=") and "queued" in m for m in received)


def test_sigterm_mid_job_requeues_it_uncounted_and_the_next_start_finishes_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, worker={"stop_grace_s": 0.5, "max_attempts": 1})
    drop(tmp_path / "inbox", "long.yaml", spec_yaml("slow", duration_s=5))
    for _ in range(2):  # two restarts during one long job use up none of its single attempt
        daemon = Daemon(config)
        daemon.wait_for(
            lambda: any(r["state"] == "running" and r["stage"] for r in job_rows(tmp_path / "state")),
            30,
            "a running job",
        )
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
        assert [(r["state"], r["attempts"]) for r in job_rows(tmp_path / "state")] == [("queued", 0)]
        assert "requeued" in daemon.log
    assert staging_left(tmp_path / "outbox") == []
    assert published(tmp_path / "outbox") == []
    again = Daemon(config, once=True)
    assert again.wait(60) == 0
    (found,) = manifests(tmp_path / "outbox")
    assert found["title"] == "slow" and found["status"] == "done" and found["attempts"] == 1


def test_job_failed_at_start_up_recovery_records_its_failed_folder(tmp_path: Path) -> None:
    from musicd.queue.jobs import NewJob
    from musicd.queue.store import Store

    config = write_config(tmp_path, worker={"max_attempts": 1})
    with Store.open(tmp_path / "state") as store:  # what the last of too many service crashes leaves
        (job,) = store.add_jobs(
            [
                NewJob(
                    title="poison",
                    source_name="poison.yaml",
                    spec_text=spec_yaml("poison"),
                    spec_hash="0" * 64,
                    seed=5,
                )
            ]
        )
        store.claim_next()
        store.db.execute("UPDATE jobs SET interruptions = 9 WHERE id = ?", [job.id])
    daemon = Daemon(config, once=True)
    assert daemon.wait(60) == 0, daemon.log[-3000:]
    (folder,) = published(tmp_path / "outbox")
    assert folder.name.endswith("-failed") and "interrupted 10 times" in (folder / "error.txt").read_text()
    (row,) = job_rows(tmp_path / "state")
    assert (row["state"], row["outbox_path"]) == ("failed", str(folder))


def test_daemons_a_test_leaves_running_are_killed_with_their_workers(tmp_path: Path) -> None:
    daemon = Daemon(write_config(tmp_path))
    daemon.wait_for(lambda: "ready" in daemon.log, 30, "the worker")
    worker_pid = int(re.search(r"worker process (\d+) starting", daemon.log).group(1))
    assert {daemon.process.pid, worker_pid} <= daemon.group()
    left = kill_started_daemons()  # what the autouse fixture runs after every test
    assert {daemon.process.pid, worker_pid} <= set(left)
    assert daemon.process.poll() is not None
    assert daemon.group() == set() and Daemon.started == []  # the worker is gone too


def test_cancel_and_retry_from_the_command_line(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    daemon = Daemon(config)
    try:
        drop(tmp_path / "inbox", "long.yaml", spec_yaml("slow", duration_s=20))
        row = wait_until(
            lambda: next((r for r in job_rows(tmp_path / "state") if r["state"] == "running"), None),
            30,
            "a running job",
        )
        result = musicd_cli("cancel", row["id"][-8:], "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert "cancel requested" in result.stdout
        wait_until(lambda: job_rows(tmp_path / "state")[0]["state"] == "cancelled", 30, "the cancel")
        assert published(tmp_path / "outbox") == []
        assert staging_left(tmp_path / "outbox") == []
        drop(tmp_path / "inbox", "error.yaml", spec_yaml("error"))
        wait_until(
            lambda: any(r["state"] == "failed" for r in job_rows(tmp_path / "state")), 30, "a failed job"
        )
        failed_id = next(r["id"] for r in job_rows(tmp_path / "state") if r["state"] == "failed")
        listing = musicd_cli("list", "--state", "failed", "--config", str(config))
        assert failed_id[-8:].lower() in listing.stdout
        retried = musicd_cli("retry", failed_id, "--config", str(config))
        assert retried.returncode == 0, retried.stderr
        wait_until(
            lambda: (
                len(published(tmp_path / "outbox")) == 1
                and any(r["state"] == "failed" and r["attempts"] == 1 for r in job_rows(tmp_path / "state"))
                and "retry requested" in musicd_cli("status", failed_id, "--config", str(config)).stdout
            ),
            30,
            "the retried job to fail again",
        )
    finally:
        assert daemon.stop() == 0
    missing = musicd_cli("cancel", "ZZZZZZZZ", "--config", str(config))
    assert missing.returncode == 1 and "no job matches" in missing.stderr


def test_submit_validates_and_copies_atomically(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    good = tmp_path / "good.yaml"
    good.write_text(spec_yaml("good"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("genres: [nope]\n")
    result = musicd_cli("submit", "--config", str(config), str(good), str(bad), str(good))
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr
    names = sorted(p.name for p in (tmp_path / "inbox").iterdir())
    assert names == ["good-1.yaml", "good.yaml"]


def test_init_creates_a_layout_that_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = musicd_cli("init", str(home))
    assert result.returncode == 0, result.stderr
    assert (home / "config.yaml").exists()
    again = musicd_cli("init", str(home))
    assert again.returncode == 1 and "already exists" in again.stderr
    drop(home / "inbox", "first.yaml", spec_yaml("first"))
    daemon = Daemon(home / "config.yaml", once=True)
    assert daemon.wait(120) == 0, daemon.log[-3000:]
    (folder,) = published(home / "outbox")
    assert json.loads((folder / "manifest.json").read_text())["status"] == "done"


@pytest.mark.parametrize("command", ["init", "run", "submit", "status", "list", "retry", "cancel"])
def test_every_service_command_has_help(command: str) -> None:
    result = musicd_cli(command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_sighup_reloads_schedules_and_tells_systemd(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)

    def until(prefix: str) -> str:
        while True:
            message = sock.recv(4096).decode()
            if any(line.startswith(prefix) for line in message.splitlines()):
                return message

    daemon = Daemon(config, env={"NOTIFY_SOCKET": address})
    try:
        until("READY=1")
        write_config(
            tmp_path,
            schedules=[
                {"name": "nightly", "cron": "0 3 * * *", "job": {"genres": ["ambient"], "duration": 5}}
            ],
        )
        daemon.signal(signal.SIGHUP)
        assert "MONOTONIC_USEC=" in until("RELOADING=1")
        until("READY=1")
        daemon.wait_for(lambda: "configuration reloaded: 1 schedule(s)" in daemon.log, 10, "the reload")
        (tmp_path / "config.yaml").write_text("watch: {mode: sideways}\n")
        daemon.signal(signal.SIGHUP)
        until("READY=1")
        daemon.wait_for(
            lambda: "reload failed; keeping the running configuration" in daemon.log, 10, "the refused reload"
        )
    finally:
        assert daemon.stop() == 0
        sock.close()


def test_job_published_just_before_a_crash_is_not_run_again(tmp_path: Path) -> None:
    """The state a crash between the outbox rename and the database update leaves behind."""
    from musicd.queue.jobs import NewJob
    from musicd.queue.store import Store
    from musicd.service.outbox import publish_success, staging_dir

    config = write_config(tmp_path)
    with Store.open(tmp_path / "state") as store:
        (job,) = store.add_jobs(
            [
                NewJob(
                    title="once only",
                    source_name="once.yaml",
                    spec_text=spec_yaml("once only"),
                    spec_hash="0" * 64,
                    seed=5,
                )
            ]
        )
        store.claim_next()
    stage = staging_dir(tmp_path / "outbox", job.id)
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text(json.dumps({"title": "once only", "job_id": job.id}))
    folder = publish_success(tmp_path / "outbox", job.id, title="once only", finished_at=datetime.now(UTC))
    orphan = staging_dir(tmp_path / "outbox", "01JD00000000000000000GONE1")
    orphan.mkdir(parents=True)
    daemon = Daemon(config, once=True)
    assert daemon.wait(60) == 0, daemon.log[-3000:]
    assert published(tmp_path / "outbox") == [folder]
    (row,) = job_rows(tmp_path / "state")
    assert row["state"] == "done" and row["attempts"] == 1 and row["outbox_path"] == str(folder)
    assert staging_left(tmp_path / "outbox") == []


def test_a_second_daemon_on_the_same_state_folder_exits_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = Daemon(config)
    try:
        first.wait_for(lambda: "ready" in first.log, 60, "the first daemon's worker")
        second = Daemon(config)
        assert second.wait(30) == 1
        assert "already running on the state folder" in second.log
        assert first.process.poll() is None
    finally:
        assert first.stop() == 0


def test_sigterm_is_honoured_within_seconds_while_hostile_files_are_read(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: "ready" in daemon.log, 60, "the worker")
        bomb = "a0: &a0 {k: 1}\n" + "".join(
            f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: 1}}\n" for i in range(1, 41)
        )
        drop(tmp_path / "inbox", "merge-bomb.yaml", bomb + "prompt: x\n")
        drop(tmp_path / "inbox", "regex.yaml", 'prompt: x\nkey: "C' + " " * 3000 + 'x"\n')
        daemon.wait_for(
            lambda: len(list((tmp_path / "inbox" / "rejected").glob("*.error.txt"))) == 2, 30, "both rejected"
        )
    finally:
        started = time.monotonic()
        assert daemon.stop(timeout_s=15) == 0
    assert time.monotonic() - started < 10
