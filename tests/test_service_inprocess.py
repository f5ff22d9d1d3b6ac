"""The Service in this process, driven step by step with its injectable clocks and notifier.

The worker is still a real process (the controllable runner in tests/daemon_runner.py); the
wall clock, the monotonic clock and systemd's notify socket are the test's. Nothing sleeps:
each test turns the loop with `step()` and waits on the worker's handles between turns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from typing import Any

import pytest

from daemon_helpers import TEST_RUNNER, spec_yaml, write_config
from musicd.config import load_config
from musicd.queue.jobs import JobState
from musicd.service.lock import AlreadyRunningError
from musicd.service.loop import Service
from musicd.service.sdnotify import Notifier

pytestmark = pytest.mark.timeout(120)


class RecordingNotifier(Notifier):
    """Keeps what the service would have told systemd."""

    def __init__(self) -> None:
        super().__init__(env={})
        self.sent: list[dict[str, Any]] = []

    @property
    def enabled(self) -> bool:
        return True

    def send(self, **fields: str | int) -> bool:
        self.sent.append(dict(fields))
        return True


class FakeTime:
    """A monotonic clock and a wall clock that move only when the test says so."""

    def __init__(self, wall: datetime) -> None:
        self.mono_s = 1000.0
        self.wall = wall

    def monotonic(self) -> float:
        return self.mono_s

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono_s += seconds
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def service_for(tmp_path: Path, fake_time: FakeTime) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(**overrides: Any) -> Service:
        config = load_config(write_config(tmp_path, **overrides), env={})
        service = Service(
            config,
            clock=fake_time.now,
            monotonic=fake_time.monotonic,
            runner=TEST_RUNNER,
            notifier=RecordingNotifier(),
        )
        made.append(service)  # shut down even if start() fails half-way
        service.start()
        return service

    yield make
    for service in made:
        service.shutdown()


def turn_until(
    service: Service,
    done: Callable[[], bool],
    fake_time: FakeTime,
    *,
    advance_s: float = 0.0,
    turns: int = 2000,
) -> None:
    """Turn the loop (moving the fake clocks by `advance_s` a turn) until `done()`; fail after `turns`."""
    for _ in range(turns):
        assert service.step() is None, "the service ended"
        if done():
            return
        fake_time.advance(advance_s)
        wait_for_handles(service.supervisor.wait_handles() if service.supervisor else [], timeout=0.05)
    raise AssertionError("the condition was not reached")


def states(service: Service) -> list[JobState]:
    assert service.store is not None
    return [job.state for job in service.store.list_jobs(limit=100)]


def test_a_dropped_spec_is_ingested_once_the_fake_clock_says_it_is_stable_then_published(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    (tmp_path / "inbox" / "one.yaml").write_text(spec_yaml("one"))
    for _ in range(20):  # the real clock may run on; the fake one stands still: never stable
        service.step()
    assert states(service) == [] and (tmp_path / "inbox" / "one.yaml").exists()
    turn_until(service, lambda: states(service) == [JobState.DONE], fake_time, advance_s=0.5)
    assert not (tmp_path / "inbox" / "one.yaml").exists()
    folders = list((tmp_path / "outbox").glob("2026/06/01/*"))
    assert len(folders) == 1 and folders[0].name.endswith(service.store.list_jobs()[0].short_id)
    manifest = json.loads((folders[0] / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["title"] == "one"


def test_a_schedule_fires_when_the_fake_wall_clock_reaches_it(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    fake_time.wall = datetime(2026, 6, 1, 6, 59, 30, tzinfo=UTC)
    job = {"title": "morning", "genres": ["ambient"], "duration": 5, "output": {"stems": False}}
    service = service_for(schedules=[{"name": "wake", "cron": "0 7 * * *", "timezone": "UTC", "job": job}])
    for _ in range(5):
        service.step()
    assert states(service) == []
    fake_time.advance(31)
    turn_until(service, lambda: states(service) == [JobState.DONE], fake_time)
    (record,) = service.store.list_jobs()
    assert record.source_name == "schedule:wake" and record.title == "morning" and record.duration_s == 5


def test_a_hung_job_is_stopped_when_the_fake_monotonic_clock_passes_its_limit(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for(worker={"max_attempts": 1, "heartbeat_timeout_s": 10_000})
    (tmp_path / "inbox" / "stuck.yaml").write_text(spec_yaml("hang"))
    turn_until(service, lambda: states(service) == [JobState.RUNNING], fake_time, advance_s=0.5)
    limit_s = service.config.worker.job_time_limit_s(5)
    fake_time.advance(limit_s + 1)
    turn_until(service, lambda: states(service) == [JobState.FAILED], fake_time)
    (record,) = service.store.list_jobs()
    assert "time limit" in (record.error or "")


def test_an_internal_error_keeps_its_traceback_in_events_and_error_txt(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    (tmp_path / "inbox" / "bug.yaml").write_text(spec_yaml("bug"))
    turn_until(service, lambda: states(service) == [JobState.FAILED], fake_time, advance_s=0.5)
    (record,) = service.store.list_jobs()
    assert "internal error (ZeroDivisionError)" in (record.error or "")
    events = service.store.events(record.id)
    assert any(e.level == "error" and "Traceback" in (e.message or "") for e in events)
    (failed,) = (tmp_path / "outbox").glob("2026/06/01/*-failed")
    error_text = (failed / "error.txt").read_text()
    assert "ZeroDivisionError" in error_text and "Traceback (most recent call last)" in error_text


def test_the_notifier_hears_ready_and_the_queue_figures(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    notifier = service.notifier
    assert isinstance(notifier, RecordingNotifier)
    turn_until(service, lambda: any(m.get("READY") == 1 for m in notifier.sent), fake_time, advance_s=1)
    ready = next(m for m in notifier.sent if m.get("READY") == 1)
    assert "0 running, 0 queued" in str(ready.get("STATUS"))


# ---------------------------------------------------------------------- faults


def ingest_now(service: Service, fake_time: FakeTime, *names: str) -> None:
    """Drop specs and turn the loop until each is ingested (the fake clock makes them stable)."""
    inbox = service.config.inbox
    for name in names:
        (inbox / f"{name}.yaml").write_text(spec_yaml(name))
    turn_until(
        service, lambda: not any((inbox / f"{n}.yaml").exists() for n in names), fake_time, advance_s=0.5
    )


def test_a_second_service_on_the_same_state_folder_is_refused(
    tmp_path: Path, service_for: Callable[..., Service]
) -> None:
    service_for()
    second = Service(load_config(tmp_path / "config.yaml", env={}), runner=TEST_RUNNER)
    with pytest.raises(AlreadyRunningError, match=f"pid {os.getpid()}"):
        second.start()
    second.shutdown()


def test_a_database_locked_by_another_process_pauses_work_until_it_is_released(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path / "state" / "musicd.sqlite3")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        (tmp_path / "inbox" / "waits.yaml").write_text(spec_yaml("waits"))
        turn_until(service, lambda: service.pauses.active("store"), fake_time, advance_s=0.5, turns=50)
        assert (tmp_path / "inbox" / "waits.yaml").exists()
        assert "locked" in service._status_text() and service._status_text().startswith("paused")
    finally:
        holder.communicate("", timeout=30)
    turn_until(service, lambda: states(service) == [JobState.DONE], fake_time, advance_s=0.5)
    assert not service.pauses.active("store")


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def small_outbox(tmp_path: Path) -> Iterator[Path]:
    outbox = tmp_path / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(outbox))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}); needs root")
    try:
        yield outbox
    finally:
        subprocess.run(["umount", "-l", str(outbox)], check=False)


def test_a_full_or_read_only_outbox_pauses_dispatch_and_resumes_by_itself(
    service_for: Callable[..., Service], fake_time: FakeTime, small_outbox: Path
) -> None:
    service = service_for()
    ingest_now(service, fake_time, "queued-while-full")
    turn_until(service, lambda: service.pauses.active("outbox"), fake_time, advance_s=0.5)
    assert states(service) == [JobState.QUEUED]
    assert "nearly full" in service._status_text() and str(small_outbox) in service._status_text()
    _mount("-o", "remount,size=1g", str(small_outbox))
    _mount("-o", "remount,ro", str(small_outbox))
    turn_until(service, lambda: "cannot be written" in service._status_text(), fake_time, advance_s=1)
    assert "MiB free" in service._status_text()
    assert states(service) == [JobState.QUEUED]
    _mount("-o", "remount,rw", str(small_outbox))
    turn_until(service, lambda: states(service) == [JobState.DONE], fake_time, advance_s=1)
    (job,) = service.store.list_jobs()
    assert job.attempts == 1 and not service.pauses.active("outbox")


def test_a_deleted_database_is_noticed_and_its_kept_specs_are_queued_again_at_start(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    ingest_now(service, fake_time, "hang", "two", "three")
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "state" / f"musicd.sqlite3{suffix}").unlink(missing_ok=True)
    turn_until(service, lambda: service.pauses.active("store"), fake_time, advance_s=0.5)
    assert "deleted or replaced" in service._status_text()
    service.shutdown()
    again = service_for()
    titles = sorted(job.title for job in again.store.list_jobs())
    assert titles == ["hang", "three", "two"]


# ---------------------------------------------------------------------- status, warnings, notifications


def test_status_json_tells_pid_heartbeat_pauses_and_counts(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    from musicd.service.status_file import liveness, read_status

    service = service_for()
    (tmp_path / "inbox" / "bad.yaml").write_text("genres: [polka-metal]\n")
    turn_until(service, lambda: (tmp_path / "inbox/rejected/bad.yaml").exists(), fake_time, advance_s=0.5)
    service.pauses.pause("outbox", "the outbox is nearly full (test)")
    fake_time.advance(3)
    service.step()
    written = read_status(tmp_path / "state")
    assert written is not None and written["pid"] == os.getpid()
    assert written["pauses"] == ["the outbox is nearly full (test)"] and written["rejected"] == 1
    assert written["heartbeat_at"] == fake_time.now().isoformat()
    assert liveness(written, fake_time.now()).alive
    assert not liveness(written, fake_time.now() + timedelta(minutes=5)).alive  # a stuck loop
    service.shutdown()
    assert read_status(tmp_path / "state")["state"] == "stopped"


def test_a_warning_in_the_manifest_becomes_an_event_and_counts_in_the_summary(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    (tmp_path / "inbox" / "warn.yaml").write_text(spec_yaml("warn"))
    (tmp_path / "inbox" / "broken.yaml").write_text(spec_yaml("error"))
    turn_until(
        service, lambda: sorted(states(service)) == [JobState.DONE, JobState.FAILED], fake_time, advance_s=0.5
    )
    done = next(j for j in service.store.list_jobs() if j.state is JobState.DONE)
    warnings = [e for e in service.store.events(done.id) if e.level == "warning"]
    assert any("the spectrum video failed" in (e.message or "") for e in warnings)
    assert service.had_failures
    assert (
        service.summary_text() == "musicd: 1 done, 1 failed, 0 cancelled, 0 rejected (1 done with warnings)"
    )


def test_a_rejected_spec_is_notified_to_a_local_webhook(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    import json as json_module
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json_module.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            arrived.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"json://127.0.0.1:{server.server_address[1]}/hook"
        service = service_for(notify={"urls": [url], "events": ["rejected", "done"]})
        (tmp_path / "inbox" / "bad.yaml").write_text("genres: [polka-metal]\n")
        turn_until(service, arrived.is_set, fake_time, advance_s=0.5)
    finally:
        server.shutdown()
        server.server_close()
    assert received[0]["title"] == "musicd: bad.yaml was rejected"
    assert "polka-metal" in received[0]["message"] and received[0]["type"] == "warning"


# ---------------------------------------------------------------------- store faults and signals


def hold_database_lock(state_dir: Path) -> subprocess.Popen[str]:
    """Another process holding BEGIN EXCLUSIVE on the job database until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(state_dir / "musicd.sqlite3")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_database_locked_before_start_pauses_start_up_and_work_begins_once_released(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    from musicd.queue.store import Store

    (tmp_path / "state").mkdir()
    Store.open(tmp_path / "state").close()
    holder = hold_database_lock(tmp_path / "state")
    try:
        service = service_for()  # does not raise: a locked database is a pause, not an end
        assert service.pauses.active("store") and service.store is None
        sent = service.notifier.sent  # type: ignore[attr-defined]
        assert any("EXTEND_TIMEOUT_USEC" in m for m in sent)
        assert any(str(m.get("STATUS", "")).startswith("paused:") and "locked" in m["STATUS"] for m in sent)
        (tmp_path / "inbox" / "waits.yaml").write_text(spec_yaml("waits"))
    finally:
        holder.communicate("", timeout=30)
    turn_until(
        service,
        lambda: service.store is not None and states(service) == [JobState.DONE],
        fake_time,
        advance_s=1,
    )
    assert not service.pauses.active("store")


def test_sigterm_is_acted_on_while_the_job_database_is_deleted(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    (tmp_path / "inbox" / "hang.yaml").write_text(spec_yaml("hang"))
    turn_until(service, lambda: states(service) == [JobState.RUNNING], fake_time, advance_s=0.5)
    worker = list(service.supervisor.running_jobs())
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "state" / f"musicd.sqlite3{suffix}").unlink(missing_ok=True)
    turn_until(service, lambda: service.pauses.active("store"), fake_time, advance_s=0.5)
    service.flags.stop = True
    codes = [service.step() for _ in range(3)]
    assert 0 in codes and codes.index(0) == 0, codes
    assert worker and not service.supervisor.running_jobs()
    service.shutdown()
    again = service_for()  # the kept spec of the interrupted job is queued again
    assert [(j.title, j.state) for j in again.store.list_jobs()] == [("hang", JobState.QUEUED)]


def test_sigterm_while_the_database_is_locked_stops_within_the_grace_and_requeues_uncounted(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for(worker={"max_attempts": 1})
    (tmp_path / "inbox" / "hang.yaml").write_text(spec_yaml("hang"))
    turn_until(service, lambda: states(service) == [JobState.RUNNING], fake_time, advance_s=0.5)
    holder = hold_database_lock(tmp_path / "state")
    try:
        (tmp_path / "inbox" / "waits.yaml").write_text(spec_yaml("waits"))  # its commit meets the lock
        turn_until(service, lambda: service.pauses.active("store"), fake_time, advance_s=0.5, turns=50)
        service.flags.stop = True
        service.flags.signal_name = "SIGTERM"
        assert service.step() is None  # heard at once, not at the pause's next retry: the job's grace runs
        assert service._stop_deadline_s is not None
        fake_time.advance(service.config.worker.stop_grace_s + 1)
        assert service.step() == 0  # its requeue meets the lock: the worker is killed, nothing recorded
        assert not service.supervisor.running_jobs()
    finally:
        holder.communicate("", timeout=30)
    service.shutdown()
    again = service_for(worker={"max_attempts": 1})
    job = next(j for j in again.store.list_jobs() if j.title == "hang")
    assert job.state is JobState.QUEUED and job.attempts == 0


def test_sighup_is_acted_on_while_the_job_database_is_locked(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    service = service_for()
    turn_until(service, lambda: service.supervisor.ready, fake_time, advance_s=0.5)
    holder = hold_database_lock(tmp_path / "state")
    try:
        write_config(tmp_path, watch={"stability_delay_s": 7})
        (tmp_path / "inbox" / "waits.yaml").write_text(spec_yaml("waits"))  # its commit meets the lock
        turn_until(service, lambda: service.pauses.active("store"), fake_time, advance_s=0.5, turns=50)
        service.flags.reload = True
        assert service.step() is None  # heard at once, not at the pause's next retry
        assert not service.flags.reload and service.config.watch.stability_delay_s == 7
    finally:
        holder.communicate("", timeout=30)


def test_an_ingest_bug_is_logged_and_the_files_are_not_retried_until_they_change(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from musicd.service import loop

    calls: list[list[Path]] = []

    def broken_ingest(paths: list[Path], *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(list(paths))
        raise RuntimeError("a bug ingest did not isolate")

    monkeypatch.setattr(loop, "ingest_files", broken_ingest)
    service = service_for()
    spec = tmp_path / "inbox" / "one.yaml"
    spec.write_text(spec_yaml("one"))
    turn_until(service, lambda: bool(calls), fake_time, advance_s=0.5)
    for _ in range(30):  # the service goes on, and does not try the same file again
        assert service.step() is None
        fake_time.advance(1)
    assert len(calls) == 1 and spec.exists()
    spec.write_text(spec_yaml("one, fixed"))
    turn_until(service, lambda: len(calls) == 2, fake_time, advance_s=0.5)


def test_kept_specs_without_a_job_row_are_queued_again_at_every_start(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime
) -> None:
    """A database restored from an older backup is not new, yet lacks the newer files' jobs."""
    service = service_for()
    ingest_now(service, fake_time, "hang")
    backup = tmp_path / "backup.sqlite3"
    service.store.db.conn.execute(f"VACUUM INTO '{backup}'")
    ingest_now(service, fake_time, "two", "three")
    service.shutdown()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "state" / f"musicd.sqlite3{suffix}").unlink(missing_ok=True)
    os.replace(backup, tmp_path / "state" / "musicd.sqlite3")
    again = service_for()
    assert sorted(job.title for job in again.store.list_jobs()) == ["hang", "three", "two"]
    again.shutdown()
    third = service_for()  # nothing is queued twice
    assert sorted(job.title for job in third.store.list_jobs()) == ["hang", "three", "two"]


def test_a_file_changed_after_its_job_was_queued_is_queued_again_without_waiting_for_the_rescan(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from musicd.service import ingest

    real = ingest.still_the_same
    spec = tmp_path / "inbox" / "half.yaml"

    def check_then_finish_writing(path: Path, read: Any) -> bool:
        same = real(path, read)
        if "half" in spec.read_text():  # the writer pauses past the stability delay, then finishes
            spec.write_text(spec_yaml("whole", duration_s=6))
        return same

    monkeypatch.setattr(ingest, "still_the_same", check_then_finish_writing)
    service = service_for(worker={"max_attempts": 1})
    assert service.config.watch.rescan_interval_s >= 30
    spec.write_text(spec_yaml("half", duration_s=5))
    turn_until(service, lambda: not spec.exists(), fake_time, advance_s=0.5, turns=40)  # < 20 s, not 30
    (job,) = service.store.list_jobs()
    assert job.title == "whole" and job.duration_s == 6


@pytest.fixture
def small_state(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(state))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}); needs root")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(folder: Path) -> None:
    """Write into `folder` until its filesystem has no space left."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_full_state_folder_at_start_up_pauses_and_work_resumes_once_there_is_space(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime, small_state: Path
) -> None:
    from musicd.queue.store import Store

    Store.open(small_state).close()
    fill(small_state)
    service = service_for()  # does not raise: a full disk is a pause, not an end
    assert service.pauses.active("store") and "full" in service._status_text()
    sent = service.notifier.sent  # type: ignore[attr-defined]
    assert any(str(m.get("STATUS", "")).startswith("paused:") and "full" in m["STATUS"] for m in sent)
    (tmp_path / "inbox" / "waits.yaml").write_text(spec_yaml("waits"))
    for _ in range(5):
        assert service.step() is None
        fake_time.advance(1)
    assert (tmp_path / "inbox" / "waits.yaml").exists()
    _mount("-o", "remount,size=64m", str(small_state))
    turn_until(
        service,
        lambda: service.store is not None and states(service) == [JobState.DONE],
        fake_time,
        advance_s=1,
    )
    assert not service.pauses.active("store")


def test_sigterm_while_a_hostile_file_is_being_parsed_ends_the_service_within_seconds(
    tmp_path: Path, service_for: Callable[..., Service], fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import time

    from musicd.service import ingest

    real_parse = ingest._parse

    def signalled_mid_parse(*args: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)  # systemctl stop, while the merge bomb is being read
        return real_parse(*args)

    monkeypatch.setattr(ingest, "_parse", signalled_mid_parse)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    service = service_for()
    service.install_signal_handlers()
    try:
        bomb = "a0: &a0 {k: 1}\n" + "".join(
            f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: 1}}\n" for i in range(1, 41)
        )
        (tmp_path / "inbox" / "bomb.yaml").write_text(bomb + "prompt: x\n")
        started = time.monotonic()
        for _ in range(400):
            code = service.step()
            if code is not None:
                break
            fake_time.advance(0.5)
            wait_for_handles(service.supervisor.wait_handles(), timeout=0.05)
        assert code == 0 and service.flags.signal_name == "SIGTERM"
        assert time.monotonic() - started < 10
        assert (tmp_path / "inbox" / "rejected" / "bomb.yaml").exists()  # its parse finished first
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
