"""Commands around the service: init, run, submit, status, list, retry, cancel.

Every command takes `--config PATH` (else $MUSICD_CONFIG, else /etc/musicd/config.yaml).
A MusicdError from any of them is reported by musicd.cli.errors (message on stderr, exit 1).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from musicd import durable
from musicd.cli import main
from musicd.cli.errors import exit_code, report
from musicd.cli.options import config_option, json_option
from musicd.errors import SpecError, StoreError

if TYPE_CHECKING:  # the commands import these lazily: `musicd --help` stays fast
    from musicd.config import Config
    from musicd.queue.jobs import JobRecord
    from musicd.queue.store import Store

EXIT_JOBS_FAILED = 3  # `run --once` and `submit --wait`: a job failed or a spec was rejected


def _load(config_path: Path | None, *, check_specs: bool = False) -> Config:
    from musicd.config import load_config

    return load_config(config_path, check_specs=check_specs)


@contextmanager
def _store(config: Config) -> Iterator[Store]:
    """The service's job store, closed afterwards."""
    from musicd.queue.store import DB_FILENAME, Store

    if not (config.state_dir / DB_FILENAME).exists():
        raise StoreError(
            f"no job database in {config.state_dir}; start the service (`musicd run`) or "
            "point --config at its configuration"
        )
    store = Store.open(config.state_dir)
    try:
        yield store
    finally:
        store.close()


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _job_line(job: JobRecord, now: datetime) -> str:
    stage = job.stage or "-"
    percent = f"{job.percent:5.1f}%" if job.percent is not None else "     -"
    return (
        f"{job.short_id}  {job.state.value:<9}  {stage:<8} {percent}  "
        f"{_age(job.created_at, now):>4}  {job.title}"
    )


ETA_MIN_PERCENT = 1.0  # below this the job has barely begun: no estimate yet


def _eta(job: JobRecord, now: datetime) -> tuple[float | None, float | None]:
    """(elapsed s, estimated s left) of a running job: the time so far, scaled by what is left.

    The percent moves inside the long stages too (render by blocks, encode by file, video from
    ffmpeg's progress), and the stages' shares of it are their measured shares of a job's time,
    so the estimate follows the job instead of jumping at stage ends.
    """
    if job.started_at is None or job.state.value != "running":
        return None, None
    elapsed = max(0.0, (now - job.started_at).total_seconds())
    if job.percent is None or job.percent < ETA_MIN_PERCENT:
        return elapsed, None
    return elapsed, elapsed * (100.0 - min(job.percent, 100.0)) / job.percent


def _job_dict(job: JobRecord, now: datetime) -> dict[str, Any]:
    elapsed, left = _eta(job, now)
    return {
        "id": job.id,
        "short_id": job.short_id,
        "title": job.title,
        "state": job.state.value,
        "stage": job.stage,
        "percent": job.percent,
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "eta_s": round(left, 1) if left is not None else None,
        "attempts": job.attempts,
        "seed": job.seed,
        "source": job.source_name,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "outbox": str(job.outbox_path) if job.outbox_path else None,
        "error": job.error,
    }


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _service_state(config: Config, now: datetime) -> dict[str, Any]:
    """Whether the service runs (status.json + pid + heartbeat), its pauses, the inbox counts."""
    from musicd.service import status_file

    written = status_file.read_status(config.state_dir)
    alive = status_file.liveness(written, now)
    waiting, rejected = status_file.inbox_counts(
        config.inbox, config.rejected_dir, recursive=config.watch.recursive
    )
    return {
        "alive": alive.alive,
        "summary": alive.why,
        "pid": (written or {}).get("pid"),
        "started_at": (written or {}).get("started_at"),
        "heartbeat_at": (written or {}).get("heartbeat_at"),
        "pauses": list((written or {}).get("pauses") or []) if alive.alive else [],
        "inbox": str(config.inbox),
        "inbox_waiting": waiting,
        "rejected": rejected,
        "rejected_dir": str(config.rejected_dir),
    }


def _warn_if_no_service(config: Config) -> bool:
    """Warn on stderr when no live service uses this configuration's state folder; True if one does."""
    from musicd.service import status_file

    alive = status_file.liveness(status_file.read_status(config.state_dir), datetime.now(UTC))
    if not alive.alive:
        click.echo(
            f"musicd: warning: no musicd service is running on {config.state_dir}: {alive.why}. "
            "The spec waits in the inbox until one starts (`musicd run`, `systemctl start musicd`, "
            "or `musicd run --once` from cron).",
            err=True,
        )
    return alive.alive


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create DIRECTORY with config.yaml, inbox/, outbox/, state/, schema.json and an example spec."""
    from musicd.config import EXAMPLE_SPEC_PATH, init_layout

    config_path = init_layout(directory)
    example = config_path.parent / EXAMPLE_SPEC_PATH
    click.echo(f"created {config_path}")
    click.echo(f"start the service:  musicd run --config {config_path}")
    click.echo(f"submit a job:       musicd submit --config {config_path} {example}")
    click.echo(
        f"specs in {config_path.parent / 'inbox'} that start with "
        "`# yaml-language-server: $schema=../schema.json` get completion in editors"
    )


@main.command()
@config_option
@click.option(
    "--once",
    is_flag=True,
    help="Ingest everything in the inbox, finish the queue, print a summary and exit: 0 when all "
    f"went well, {EXIT_JOBS_FAILED} when a job failed or a spec was rejected (for cron).",
)
@click.option(
    "--runner",
    default=None,
    metavar="MODULE:FUNCTION",
    help="Job runner the worker calls instead of worker.runner (an extension point; "
    "default musicd.pipeline:run_job).",
)
def run(config_path: Path | None, once: bool, runner: str | None) -> None:
    """Run the service in the foreground (systemd's ExecStart)."""
    import logging

    from musicd.service.loop import Service

    config = _load(config_path, check_specs=True)
    logging.getLogger().setLevel(config.log_level)
    service = Service(config, once=once, runner=runner)
    service.install_signal_handlers()
    code = service.run()
    if once:
        click.echo(service.summary_text())
        if code == 0 and service.had_failures:
            code = EXIT_JOBS_FAILED
    sys.exit(code)


@main.command()
@config_option
@click.argument(
    "spec_paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--wait", is_flag=True, help="Wait for the jobs to finish; print their outbox folders.")
@click.option(
    "--timeout", "timeout_s", type=float, default=None, help="With --wait: give up after this many seconds."
)
def submit(
    config_path: Path | None, spec_paths: tuple[Path, ...], wait: bool, timeout_s: float | None
) -> None:
    """Validate SPEC files and copy the valid ones into the inbox (atomically).

    Warns when no service is running on the configuration's state folder. Exit code 1 if
    any spec is invalid (the valid ones are still submitted); with --wait, exit code 3
    when a job failed or the service rejected a spec.
    """
    from musicd.errors import MusicdError
    from musicd.spec import load_jobs, read_spec_file

    config = _load(config_path)
    if not config.inbox.is_dir():
        raise MusicdError(
            f"the inbox {config.inbox} does not exist; is this the service's configuration? "
            "Point --config (or $MUSICD_CONFIG) at it, or create a layout with `musicd init DIR`"
        )
    _warn_if_no_service(config)
    code = 0
    submitted: list[tuple[Path, str, int]] = []  # (inbox file, sha256, jobs)
    since = datetime.now(UTC) - timedelta(seconds=1)
    for path in spec_paths:
        data = read_spec_file(path)
        try:
            jobs = load_jobs(data, source=path.name)
        except SpecError as error:
            report(error)
            code = max(code, exit_code(error))
            continue
        target = _copy_into(config.inbox, path.name, data)
        submitted.append((target, hashlib.sha256(data).hexdigest(), len(jobs)))
        click.echo(f"{path} -> {target} ({len(jobs)} job{'s' if len(jobs) != 1 else ''})")
    if wait and submitted:
        code = max(code, _wait_for(config, submitted, since, timeout_s))
    sys.exit(code)


def _wait_for(
    config: Config, submitted: list[tuple[Path, str, int]], since: datetime, timeout_s: float | None
) -> int:
    """Wait until every submitted file's jobs finished (or it was rejected); the exit code."""
    from musicd.queue.jobs import JobState
    from musicd.queue.store import DB_FILENAME, Store

    deadline = time.monotonic() + timeout_s if timeout_s is not None else None
    pending = {target: (sha, count) for target, sha, count in submitted}
    finished: dict[str, JobRecord] = {}
    failed = False
    store: Store | None = None
    try:
        while pending:
            if store is None and (config.state_dir / DB_FILENAME).exists():
                store = Store.open(config.state_dir)
            jobs = store.list_jobs(limit=500) if store is not None else []
            for target, (sha, count) in list(pending.items()):
                mine = [
                    j
                    for j in jobs
                    if j.source_name == target.name and j.spec_hash == sha and j.created_at >= since
                ]
                if len(mine) >= count and all(j.state.value in ("done", "failed", "cancelled") for j in mine):
                    for job in mine:
                        if job.id not in finished:
                            finished[job.id] = job
                            failed |= job.state is not JobState.DONE
                            where = job.outbox_path or "-"
                            click.echo(f"{job.short_id}  {job.state.value:<9} {job.title}: {where}")
                            if job.error:
                                click.echo(f"          {job.error.splitlines()[0]}")
                    del pending[target]
                elif not mine and not target.exists() and _rejected_since(config, target, since):
                    click.echo(f"{target.name}: rejected; see {config.rejected_dir}", err=True)
                    failed = True
                    del pending[target]
            if not pending:
                break
            if deadline is not None and time.monotonic() >= deadline:
                click.echo(f"musicd: gave up waiting after {timeout_s:g} s; the jobs go on", err=True)
                return 1
            time.sleep(0.5)
    finally:
        if store is not None:
            store.close()
    return EXIT_JOBS_FAILED if failed else 0


def _rejected_since(config: Config, target: Path, since: datetime) -> bool:
    """Whether an error file for `target` appeared in rejected/ since `since`."""
    stem = target.name
    for error_file in config.rejected_dir.glob("*.error.txt"):
        name = error_file.name.removesuffix(".error.txt")
        if name == stem or (name.startswith(Path(stem).stem) and name.endswith(Path(stem).suffix)):
            try:
                if datetime.fromtimestamp(error_file.stat().st_mtime, UTC) >= since:
                    return True
            except OSError:
                continue
    return False


def _copy_into(inbox: Path, name: str, data: bytes) -> Path:
    """Write the spec into the inbox whole and durably, under a free name like its own."""
    stem, suffix = os.path.splitext(name)
    if suffix.lower() == ".txt":  # Notepad's NAME.yaml.txt: the inbox takes NAME.yaml
        stem, suffix = os.path.splitext(stem)
    if suffix.lower() not in (".yaml", ".yml", ".json"):  # what the inbox takes
        stem, suffix = name, ".yaml"
    return durable.write_new(inbox, stem, suffix, data)


@main.command()
@config_option
@click.argument("job_id", required=False)
@click.option("-n", "--limit", default=15, show_default=True, help="How many recent jobs to show.")
@json_option
def status(config_path: Path | None, job_id: str | None, limit: int, as_json: bool) -> None:
    """Whether the service runs, recent jobs, queue counts, next schedule firings; with JOB_ID, that job."""
    config = _load(config_path, check_specs=False)
    now = datetime.now(UTC)
    if job_id:
        with _store(config) as store:
            _show_job(store, job_id, now, as_json)
        return
    service = _service_state(config, now)
    schedules = _schedule_times(config)
    from musicd.worker.backend_report import backend_lines, backend_summary

    backend = backend_summary(config)
    if not as_json:
        _print_service(service)
        click.echo("\n".join(backend_lines(backend)))
    with _store(config) as store:
        counts = {state.value: n for state, n in store.counts().items()}
        jobs = store.list_jobs(limit=limit)
    if as_json:
        _echo_json(
            {
                "service": service,
                "backend": backend,
                "queue": counts,
                "jobs": [_job_dict(j, now) for j in jobs],
                "schedules": schedules,
            }
        )
        return
    click.echo("queue:   " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    if jobs:
        click.echo("\nID        STATE      STAGE    PERCENT   AGE  TITLE")
        for job in jobs:
            click.echo(_job_line(job, now))
    for job in jobs:
        elapsed, left = _eta(job, now)
        if elapsed is not None:
            eta = f", about {_duration(left)} left" if left is not None else ""
            where = f"{job.stage or '-'}" + (f" {job.percent:.0f}%" if job.percent is not None else "")
            click.echo(f"\n{job.short_id} running for {_duration(elapsed)}{eta} ({where})")
    if schedules:
        click.echo("\nschedules:")
        for entry in schedules:
            click.echo(f"  {entry['name']}: next {entry['next_local'] or 'never'}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(round(seconds))
    return (
        f"{total // 3600}h{total % 3600 // 60:02d}m" if total >= 3600 else f"{total // 60}m{total % 60:02d}s"
    )


def _print_service(service: dict[str, Any]) -> None:
    click.echo(f"service: {service['summary']}")
    for reason in service["pauses"]:
        click.echo(f"paused:  {reason}")
    rejected = service["rejected"]
    hint = f" (see {service['rejected_dir']}/*.error.txt)" if rejected else ""
    click.echo(f"inbox:   {service['inbox_waiting']} waiting, {rejected} rejected{hint}")


def _show_job(store: Store, job_id: str, now: datetime, as_json: bool = False) -> None:
    from musicd.pipeline.manifest import read_manifest

    job = store.get(job_id)
    manifest = read_manifest(job.outbox_path) if job.outbox_path else {}
    found = manifest.get("warnings")
    warnings = [str(w.get("message", w)) if isinstance(w, dict) else str(w) for w in found or []]
    events = store.events(job.id)
    if as_json:
        _echo_json(
            {
                **_job_dict(job, now),
                "spec_hash": job.spec_hash,
                "warnings": warnings,
                "events": [
                    {
                        "time": e.time.isoformat(),
                        "level": e.level,
                        "stage": e.stage,
                        "percent": e.percent,
                        "message": e.message,
                    }
                    for e in events
                ],
            }
        )
        return
    elapsed, left = _eta(job, now)
    fields = [
        ("id", job.id),
        ("title", job.title),
        ("state", job.state.value),
        ("stage", f"{job.stage or '-'} ({job.percent if job.percent is not None else '-'}%)"),
        ("attempts", job.attempts),
        ("seed", job.seed),
        ("source", job.source_name),
        ("spec hash", job.spec_hash),
        ("queued", job.queued_at.isoformat()),
        ("started", job.started_at.isoformat() if job.started_at else "-"),
        ("finished", job.finished_at.isoformat() if job.finished_at else "-"),
        ("outbox", job.outbox_path or "-"),
        ("error", job.error or "-"),
    ]
    if elapsed is not None:
        fields.insert(
            4, ("elapsed", _duration(elapsed) + (f", about {_duration(left)} left" if left else ""))
        )
    for name, value in fields:
        click.echo(f"{name + ':':<11}{value}")
    for warning in warnings:
        click.echo(f"{'warning:':<11}{warning}")
    click.echo("\nevents:")
    shown_stage = None
    for index, event in enumerate(events):
        progress_only = event.message is None and event.stage is not None
        following = events[index + 1] if index + 1 < len(events) else None
        if progress_only and event.stage == shown_stage and following is not None:
            if following.message is None and following.stage == event.stage:
                continue  # progress inside a stage: its first and last reports are enough
        shown_stage = event.stage if progress_only else None
        where = f" [{event.stage} {event.percent:.0f}%]" if event.stage and event.percent is not None else ""
        click.echo(
            f"  {event.time.astimezone():%Y-%m-%d %H:%M:%S} {event.level:<7}{where} "
            f"{event.message or ''}".rstrip()
        )


def _schedule_times(config: Config) -> list[dict[str, Any]]:
    """Each schedule's next firing, in the schedule's own timezone (else the local one)."""
    if not config.schedules:
        return []
    from musicd.service.scheduler import Scheduler

    scheduler = Scheduler(config.schedules, config.state_dir, grace_s=config.schedule_grace_s, persist=False)
    zones = {s.name: s.timezone for s in config.schedules}
    entries = []
    for name, moment in scheduler.next_fire_times().items():
        local = None
        if moment is not None:
            zone = zones.get(name)
            if zone:
                from zoneinfo import ZoneInfo

                shown = moment.astimezone(ZoneInfo(zone))
            else:
                shown = moment.astimezone()
            local = f"{shown:%Y-%m-%d %H:%M} {zone or shown.tzname() or ''}".rstrip()
        entries.append(
            {
                "name": name,
                "timezone": zones.get(name),
                "next": moment.isoformat() if moment else None,
                "next_local": local,
            }
        )
    return entries


@main.command(name="list")
@config_option
@click.option(
    "--state",
    type=click.Choice(["queued", "running", "done", "failed", "cancelled"]),
    default=None,
    help="Only jobs in this state.",
)
@click.option("-n", "--limit", default=50, show_default=True, help="How many jobs to show.")
@json_option
def list_cmd(config_path: Path | None, state: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    from musicd.queue.jobs import JobState

    now = datetime.now(UTC)
    with _store(_load(config_path, check_specs=False)) as store:
        jobs = store.list_jobs(JobState(state) if state else None, limit=limit)
    if as_json:
        _echo_json([_job_dict(job, now) for job in jobs])
        return
    for job in jobs:
        click.echo(_job_line(job, now))


@main.command()
@config_option
@click.argument("job_id")
def retry(config_path: Path | None, job_id: str) -> None:
    """Queue a failed or cancelled job again (attempts reset)."""
    with _store(_load(config_path)) as store:
        job = store.retry(job_id)
    click.echo(f"{job.id}: queued again")


@main.command()
@config_option
@click.argument("job_id")
def cancel(config_path: Path | None, job_id: str) -> None:
    """Cancel a queued job, or stop a running one (within about a second; vocals at their end)."""
    with _store(_load(config_path)) as store:
        job = store.request_cancel(job_id)
    if job.state.value == "cancelled":
        click.echo(f"{job.id}: cancelled")
    else:
        click.echo(f"{job.id}: cancel requested; it stops within about a second (vocals: at their end)")
