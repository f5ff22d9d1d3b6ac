"""Commands around the service: init, run, submit, status, list, retry, cancel.

Every command takes `--config PATH` (else $MUSICD_CONFIG, else /etc/musicd/config.yaml).
A MusicdError from any of them is reported by musicd.cli.errors (message on stderr, exit 1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from musicd.cli import main
from musicd.cli.errors import exit_code, report
from musicd.errors import SpecError, StoreError

if TYPE_CHECKING:  # the commands import these lazily: `musicd --help` stays fast
    from musicd.config import Config
    from musicd.queue.jobs import JobRecord
    from musicd.queue.store import Store

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="MUSICD_CONFIG",
    show_envvar=True,
    help="Configuration file [default: /etc/musicd/config.yaml].",
)


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


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create DIRECTORY with config.yaml, inbox/, outbox/ and state/ (try musicd without root)."""
    from musicd.config import init_layout

    config_path = init_layout(directory)
    click.echo(f"created {config_path}")
    click.echo(f"start the service:  musicd run --config {config_path}")
    click.echo(f"submit a job:       musicd submit --config {config_path} SPEC.yaml")


@main.command()
@config_option
@click.option(
    "--once", is_flag=True, help="Ingest everything in the inbox, finish the queue, then exit 0 (for cron)."
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

    from musicd.service.loop import run_service

    config = _load(config_path, check_specs=True)
    logging.getLogger().setLevel(config.log_level)
    sys.exit(run_service(config, once=once, runner=runner))


@main.command()
@config_option
@click.argument(
    "spec_paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def submit(config_path: Path | None, spec_paths: tuple[Path, ...]) -> None:
    """Validate SPEC files and copy the valid ones into the inbox (atomically).

    Exit code 1 if any spec is invalid (the valid ones are still submitted).
    """
    from musicd.spec import load_jobs

    config = _load(config_path)
    config.inbox.mkdir(parents=True, exist_ok=True)
    code = 0
    for path in spec_paths:
        data = path.read_bytes()
        try:
            jobs = load_jobs(data, source=path.name)
        except SpecError as error:
            report(error)
            code = max(code, exit_code(error))
            continue
        target = _copy_into(config.inbox, path.name, data)
        click.echo(f"{path} -> {target} ({len(jobs)} job{'s' if len(jobs) != 1 else ''})")
    sys.exit(code)


def _copy_into(inbox: Path, name: str, data: bytes) -> Path:
    """Write `.name.tmp` (ignored by the watcher), fsync, then rename to a free name."""
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in (".yaml", ".yml"):
        stem, suffix = name, ".yaml"
    tmp = inbox / f".{stem}{suffix}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    counter = 0
    while True:
        target = inbox / (f"{stem}{suffix}" if counter == 0 else f"{stem}-{counter}{suffix}")
        try:
            os.link(tmp, target)  # unlike rename, never replaces a file already there
        except FileExistsError:
            counter += 1
            continue
        except OSError:
            if target.exists():
                counter += 1
                continue
            os.replace(tmp, target)  # a filesystem without hard links
            return target
        tmp.unlink()
        return target


@main.command()
@config_option
@click.argument("job_id", required=False)
@click.option("-n", "--limit", default=15, show_default=True, help="How many recent jobs to show.")
def status(config_path: Path | None, job_id: str | None, limit: int) -> None:
    """Recent jobs, queue counts and next schedule fire times; with JOB_ID, that job's history."""
    config = _load(config_path)
    now = datetime.now(UTC)
    with _store(config) as store:
        if job_id:
            _show_job(store, job_id, now)
            return
        counts = store.counts()
        click.echo("queue: " + ", ".join(f"{n} {state.value}" for state, n in counts.items()))
        jobs = store.list_jobs(limit=limit)
        if jobs:
            click.echo("\nID        STATE      STAGE    PERCENT   AGE  TITLE")
            for job in jobs:
                click.echo(_job_line(job, now))
        _show_schedules(config)


def _show_job(store: Store, job_id: str, now: datetime) -> None:
    job = store.get(job_id)
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
    for name, value in fields:
        click.echo(f"{name + ':':<11}{value}")
    click.echo("\nevents:")
    for event in store.events(job.id):
        where = f" [{event.stage} {event.percent:.0f}%]" if event.stage and event.percent is not None else ""
        click.echo(
            f"  {event.time.astimezone():%Y-%m-%d %H:%M:%S} {event.level:<7}{where} "
            f"{event.message or ''}".rstrip()
        )


def _show_schedules(config: Config) -> None:
    if not config.schedules:
        return
    from musicd.service.scheduler import Scheduler

    scheduler = Scheduler(config.schedules, config.state_dir, grace_s=config.schedule_grace_s, persist=False)
    click.echo("\nschedules:")
    for name, moment in scheduler.next_fire_times().items():
        when = moment.astimezone().isoformat(timespec="minutes") if moment else "never"
        click.echo(f"  {name}: next {when}")


@main.command(name="list")
@config_option
@click.option(
    "--state",
    type=click.Choice(["queued", "running", "done", "failed", "cancelled"]),
    default=None,
    help="Only jobs in this state.",
)
@click.option("-n", "--limit", default=50, show_default=True, help="How many jobs to show.")
def list_cmd(config_path: Path | None, state: str | None, limit: int) -> None:
    """List jobs, newest first."""
    from musicd.queue.jobs import JobState

    now = datetime.now(UTC)
    with _store(_load(config_path)) as store:
        for job in store.list_jobs(JobState(state) if state else None, limit=limit):
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
    """Cancel a queued job, or stop a running one at its next stage."""
    with _store(_load(config_path)) as store:
        job = store.request_cancel(job_id)
    if job.state.value == "cancelled":
        click.echo(f"{job.id}: cancelled")
    else:
        click.echo(f"{job.id}: cancel requested; it stops at its next stage")
