"""Ingest spec files from the inbox: validate them, queue their jobs, move them out of the inbox.

Valid file: its job rows and a `spec_sources` row (where the file lay, its
sha256, the path it will be kept at) are committed in ONE transaction; then the
file moves to state_dir/specs/YYYY/MM/<ulid>-<name> and the source row is
marked kept. Invalid file: it moves to inbox/rejected/ with <name>.error.txt
beside it. Nothing is deleted unread and nothing is overwritten.

Names: *.yaml, *.yml and *.json are read (JSON is YAML). `x.yaml.txt`, as Windows Notepad
saves, is set aside unread with a hint to rename it. Once a file is accepted, the rejections
left in rejected/ by earlier tries of the same name (their copy and error file) are removed.

Crash safety (commit first, then move): if the process dies after the commit
but before the move, the file is still in the inbox and its source row is not
marked kept. `recover_ingests` (at start-up) and `ingest_file` itself (for the
same path and the same content) find that row and only finish the move, so the
file is never queued twice. Dropping the same content again after a completed
ingest is a new job (another take). A failed move (permissions, full disk) is
retried the same way on the next scan, without queuing again.

Bursts: `ingest_files` takes many files at once with the same guarantees and
far fewer fsyncs. Each file is validated on its own (a bad or unreadable file
never holds the others back; within a file it is still all or nothing); the
jobs and source rows of every valid file are committed in ONE transaction; the
files are then renamed and each folder touched is fsynced once; only then are
the sources marked kept, again in one transaction. A crash anywhere in between
leaves unmarked source rows that `recover_ingests` finishes, as for one file.
"""

from __future__ import annotations

import collections
import enum
import errno
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from musicd import durable
from musicd.clock import Clock, utc_now
from musicd.config import Config
from musicd.errors import SpecError, StoreUnavailableError
from musicd.queue.jobs import JobRecord, NewJob, SpecSource
from musicd.queue.store import Store, new_id
from musicd.seeding import draw_seed
from musicd.service.dropped import (
    NAME_MAX_BYTES,
    SPEC_SUFFIXES,
    DroppedFile,
    NotASpecFile,
    StillBeingWritten,
    display_name,
    fit_name,
    kind_of,
    notepad_rename,
    read_dropped,
    still_the_same,
)
from musicd.spec.yaml_source import MAX_SPEC_BYTES

log = logging.getLogger(__name__)

ERROR_SUFFIX = ".error.txt"
ERROR_HEADER = 'musicd could not accept "{name}" ('  # how every error file begins


class IngestStatus(str, enum.Enum):
    """What happened to one inbox file."""

    QUEUED = "queued"  # valid: jobs queued, file kept under state_dir/specs
    REJECTED = "rejected"  # invalid: moved to inbox/rejected/ with an error file
    RECOVERED = "recovered"  # an earlier, interrupted ingest of this file was finished; nothing new queued
    SKIPPED = "skipped"  # the file vanished before it could be read
    DEFERRED = "deferred"  # `ingest_files` only: a read error; the file stays in the inbox for the next scan
    BUSY = "busy"  # another program has it open, or it changed while it was read: look again shortly
    STUCK = "stuck"  # it could neither be ingested nor set aside (the reason is logged); not retried as is


@dataclass(frozen=True)
class IngestOutcome:
    """The result of `ingest_file`: what happened, the jobs queued and where the file went."""

    path: Path
    status: IngestStatus
    jobs: tuple[JobRecord, ...] = ()
    kept_path: Path | None = None  # None if the move to state_dir failed (retried on the next scan)
    rejected_path: Path | None = None
    error_path: Path | None = None
    problems: tuple[str, ...] = ()
    spec_hash: str | None = None


def ingest_file(
    path: Path,
    store: Store,
    config: Config,
    clock: Clock = utc_now,
    *,
    seed_source: Callable[[], int] = draw_seed,
) -> IngestOutcome:
    """Ingest the spec file at `path` (see the module docstring for the guarantees).

    `seed_source` draws a seed for a job whose spec gives none, so a retry
    renders the same track. Raises OSError only for read or move errors that are
    worth retrying later (the file stays in the inbox).
    """
    (outcome,) = ingest_files([path], store, config, clock, seed_source=seed_source)
    if outcome.status is IngestStatus.DEFERRED:
        raise OSError(outcome.problems[0] if outcome.problems else f"could not read {path}")
    return outcome


def ingest_files(
    paths: Sequence[Path],
    store: Store,
    config: Config,
    clock: Clock = utc_now,
    *,
    seed_source: Callable[[], int] = draw_seed,
) -> list[IngestOutcome]:
    """Ingest many inbox files at once; one outcome per path, in the order given.

    Same guarantees as `ingest_file` for each file, with two durable commits and
    one fsync per folder for the whole burst (see the module docstring). A read
    error on one file gives that file a DEFERRED outcome (it stays in the inbox)
    and never stops the others; this function raises only for database errors.
    """
    outcomes: dict[int, IngestOutcome] = {}
    accepted: list[tuple[int, _Accepted]] = []
    touched: set[Path] = set()
    for index, raw_path in enumerate(paths):
        path = Path(os.path.abspath(raw_path))
        try:
            prepared = _prepare(path, store, config, clock, seed_source, touched)
        except StoreUnavailableError:
            raise
        except OSError as exc:
            log.error("could not ingest %s: %s; it stays in the inbox for the next scan", path, exc)
            outcomes[index] = IngestOutcome(path, IngestStatus.DEFERRED, problems=(str(exc),))
            continue
        except Exception as exc:  # one file's bug never stops the batch or the service
            outcomes[index] = _set_aside_after_error(path, config, clock, exc, touched)
            continue
        if isinstance(prepared, IngestOutcome):
            outcomes[index] = prepared
        elif not still_the_same(path, prepared.read):
            log.info("%s changed while it was read; looking at it again shortly", path)
            outcomes[index] = IngestOutcome(path, IngestStatus.BUSY, spec_hash=prepared.source.spec_hash)
        else:
            accepted.append((index, prepared))
    if accepted:
        committed = _commit(accepted, store, config, clock, touched, outcomes)
        kept = _keep_all([(a, jobs) for (_, a), jobs in committed], store, touched)
        outcomes.update((index, outcome) for ((index, _), _), outcome in zip(committed, kept))
    else:
        durable.fsync_dirs(touched)
        touched.clear()
    result = [outcomes[index] for index in range(len(paths))]
    _clear_after_acceptance(result, config)
    if len(result) > 1:
        counts = collections.Counter(o.status.value for o in result)
        log.info(
            "ingested %d files in one batch: %s",
            len(result),
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        )
    return result


def _commit(
    accepted: Sequence[tuple[int, _Accepted]],
    store: Store,
    config: Config,
    clock: Clock,
    touched: set[Path],
    outcomes: dict[int, IngestOutcome],
) -> list[tuple[tuple[int, _Accepted], list[JobRecord]]]:
    """Commit the accepted files' jobs in one transaction; the (index, file) pairs committed with
    their jobs.

    If that commit fails for any reason but an unavailable database (a value SQLite cannot
    store, say), nothing was written: each file is committed on its own, and a file that still
    fails is set aside with the reason (its outcome goes into `outcomes`), so it never holds
    back the others or stops the service.
    """
    try:
        job_lists = store.add_job_batches([(a.new_jobs, a.source) for _, a in accepted])
        return list(zip(accepted, job_lists))
    except StoreUnavailableError:
        raise
    except Exception as exc:
        log.warning(
            "could not queue %d file(s) in one commit (%s); queuing them one by one", len(accepted), exc
        )
    committed: list[tuple[tuple[int, _Accepted], list[JobRecord]]] = []
    for index, one in accepted:
        try:
            (jobs,) = store.add_job_batches([(one.new_jobs, one.source)])
        except StoreUnavailableError:
            raise
        except Exception as exc:  # this file's rows cannot be stored: it is set aside, the rest go on
            outcomes[index] = _set_aside_after_error(one.path, config, clock, exc, touched)
            continue
        committed.append(((index, one), jobs))
    return committed


@dataclass(frozen=True)
class _Accepted:
    """A valid file, parsed and ready to commit."""

    path: Path
    source: SpecSource
    new_jobs: list[NewJob]
    read: DroppedFile


def _prepare(
    path: Path,
    store: Store,
    config: Config,
    clock: Clock,
    seed_source: Callable[[], int],
    touched: set[Path] | None,
) -> _Accepted | IngestOutcome:
    """Read and validate one file: an _Accepted to commit, or its final outcome (skipped,
    rejected, or an interrupted ingest finished). Raises OSError for errors worth retrying."""
    name = display_name(path.name)
    meant = notepad_rename(path.name)
    if meant is not None:  # set aside unread: its content may be fine, its name is not
        return _reject(
            path, config, clock, [_notepad_problem(name, meant)], None, touched, _rename_fix(meant)
        )
    try:
        read = read_dropped(path, MAX_SPEC_BYTES)
    except FileNotFoundError:
        log.info("%s vanished before it could be read; skipped", name)
        return IngestOutcome(path, IngestStatus.SKIPPED)
    except StillBeingWritten:
        log.info("%s is still open in another program; looking at it again shortly", name)
        return IngestOutcome(path, IngestStatus.BUSY)
    except NotASpecFile as exc:
        return _reject(path, config, clock, [str(exc)], None, touched)
    except PermissionError as exc:
        problem = f"musicd cannot read the file ({exc.strerror}); make it readable by the service user"
        return _reject(path, config, clock, [problem], None, touched)
    data, spec_hash = read.data, read.sha256

    pending = store.find_pending_source(path, spec_hash)
    if pending is not None:
        log.warning("%s was already queued before an interruption; finishing its move only", path)
        kept = _finish_keep(store, pending)
        return IngestOutcome(
            path,
            IngestStatus.RECOVERED,
            tuple(store.jobs_from_source(pending.id)),
            kept_path=kept,
            spec_hash=spec_hash,
        )

    try:
        new_jobs = _parse(data, name, spec_hash, seed_source)
    except _Invalid as invalid:
        return _reject(path, config, clock, invalid.problems, spec_hash, touched)

    now = clock()
    source_id = new_id(now)
    source = SpecSource(
        id=source_id,
        source_path=path,
        source_name=name,
        spec_hash=spec_hash,
        kept_path=_kept_path_for(config, now, source_id, path.name),
        ingested_at=now,
    )
    return _Accepted(path, source, new_jobs, read)


def _keep_all(
    committed: Sequence[tuple[_Accepted, list[JobRecord]]], store: Store, touched: set[Path] | None = None
) -> list[IngestOutcome]:
    """After the commit: move each file to its kept path, fsync every folder touched once,
    then mark the moved sources kept in one transaction.

    A file whose content changed since it was read (a writer that paused longer than the
    stability delay) is not moved: its jobs are withdrawn in that same transaction and its
    outcome is BUSY, so the watcher looks at it again at once and its new content is queued.
    """
    touched = set() if touched is None else touched
    settled: list[str] = []
    withdrawn: list[str] = []
    outcomes = []
    for accepted, jobs in committed:
        done, kept, changed = _settle(accepted.source, touched, keep_if_changed=False)
        if changed:
            log.info("%s changed after it was queued; its new content replaces the job", accepted.path.name)
            withdrawn.append(accepted.source.id)
            outcomes.append(
                IngestOutcome(accepted.path, IngestStatus.BUSY, spec_hash=accepted.source.spec_hash)
            )
            continue
        log.info("queued %d job(s) from %s: %s", len(jobs), accepted.path.name, ", ".join(j.id for j in jobs))
        if done:
            settled.append(accepted.source.id)
        outcomes.append(
            IngestOutcome(
                accepted.path,
                IngestStatus.QUEUED,
                tuple(jobs),
                kept_path=kept,
                spec_hash=accepted.source.spec_hash,
            )
        )
    durable.fsync_dirs(touched)
    touched.clear()
    store.mark_sources_kept(settled, withdraw=withdrawn)
    return outcomes


def recover_ingests(store: Store) -> list[SpecSource]:
    """At start-up: finish every ingest committed to the database whose file was not moved yet.

    A file still at its inbox path with the recorded content is moved to its
    kept path; a source whose inbox file is gone (moved before the crash, or
    removed by the user; its jobs' YAML is in the database either way) is just
    marked kept. Returns the sources that were finished.
    """
    finished = []
    for source in store.pending_sources():
        _finish_keep(store, source)
        finished.append(source)
    return finished


def requeue_kept_specs(
    store: Store, config: Config, published_hashes: Callable[[], set[str]], clock: Clock = utc_now
) -> list[JobRecord]:
    """At start-up: queue again every kept spec that has no spec-source row (the job database was
    deleted, or restored from an older backup) and whose track was never published, so nothing
    accepted is lost. Safe to repeat: a file queued again is recorded under its kept name.

    `published_hashes` is called (it reads the outbox) only when such a file is found.
    """
    queued: list[JobRecord] = []
    if not config.specs_dir.is_dir():
        return queued
    recorded = store.kept_names()
    unrecorded = sorted(
        p
        for p in config.specs_dir.rglob("*")
        if p.name not in recorded and not p.name.startswith(".") and p.is_file()
    )
    published = published_hashes() if unrecorded else set()
    for kept in unrecorded:
        try:
            read = read_dropped(kept, MAX_SPEC_BYTES, check_writers=False)
            if read.sha256 in published:
                continue
            name = display_name(kept.name.partition("-")[2] or kept.name)
            new_jobs = _parse(read.data, name, read.sha256, draw_seed)
        except (OSError, NotASpecFile, _Invalid) as exc:
            log.warning("kept spec %s could not be queued again: %s", kept, exc)
            continue
        now = clock()
        source = SpecSource(new_id(now), kept, name, read.sha256, kept, now, kept_at=now)
        try:
            (jobs,) = store.add_job_batches([(new_jobs, source)])
        except StoreUnavailableError:
            raise
        except Exception:  # one kept file's rows cannot be stored: the others are still queued
            log.exception("kept spec %s could not be queued again; it stays where it is", kept)
            continue
        log.warning("queued %s again (the job database had no record of it)", kept)
        queued.extend(jobs)
    return queued


# ------------------------------------------------------------------ parsing


class _Invalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _parse(data: bytes, name: str, spec_hash: str, seed_source: Callable[[], int]) -> list[NewJob]:
    """Validate the file's bytes into NewJobs (all or nothing); raises _Invalid with every problem."""
    from musicd.spec import load_batch  # lazy: keeps config/store imports light

    try:
        batch = load_batch(data, source=name)
    except SpecError as exc:
        raise _Invalid(exc.problems or [str(exc)]) from None
    return [
        NewJob(
            title=spec.display_title,
            source_name=name,
            spec_text=text,
            spec_hash=spec_hash,
            seed=spec.seed if spec.seed is not None else seed_source(),
            duration_s=spec.duration_s,
        )
        for spec, text in batch
    ]


# ------------------------------------------------------------- moving files


def _kept_path_for(config: Config, now: datetime, source_id: str, name: str) -> Path:
    return config.specs_dir / f"{now:%Y}" / f"{now:%m}" / fit_name(name, prefix=f"{source_id}-")


def _set_aside_after_error(
    path: Path, config: Config, clock: Clock, exc: Exception, touched: set[Path] | None
) -> IngestOutcome:
    """An unexpected error on one file: reject it with the reason, or say it is stuck."""
    log.exception("internal error while ingesting %s", display_name(path.name))
    problem = (
        f"musicd hit an internal error reading this file ({type(exc).__name__}: {exc}); "
        "please report it with this file"
    )
    try:
        return _reject(path, config, clock, [problem], None, touched)
    except Exception:
        log.exception("%s could not be set aside either; it is skipped until it changes", path)
        return IngestOutcome(path, IngestStatus.STUCK, problems=(problem,))


def move_file(src: Path, dst: Path, *, touched: set[Path] | None = None) -> None:
    """Move `src` to `dst` (which must not exist) without ever losing or overwriting data.

    Same filesystem: one rename. Across filesystems: copy to a hidden temporary
    name beside `dst`, fsync, rename into place, then remove `src`. Raises
    FileExistsError if `dst` exists. With `touched`, the folders a same-filesystem
    rename changed are added to it for the caller to fsync once (`durable.fsync_dirs`)
    instead of at once; the cross-filesystem path always syncs in order.
    """
    if not dst.parent.is_dir():
        dst.parent.mkdir(parents=True, exist_ok=True)
        durable.fsync_dir(dst.parent.parent)  # the new folder's own entry
    if dst.exists():
        raise FileExistsError(errno.EEXIST, "refusing to overwrite", str(dst))
    try:
        os.rename(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = durable.temporary_name(dst)
        _copy_entry(src, temp)
        os.rename(temp, dst)
        durable.fsync_dir(dst.parent)
        os.unlink(src)
        durable.fsync_dir(src.parent)
        return
    if touched is not None:
        touched.update((dst.parent, src.parent))
    else:
        durable.fsync_dir(dst.parent)
        durable.fsync_dir(src.parent)


def _copy_entry(src: Path, dst: Path) -> None:
    """Copy what the name `src` is (a link as a link, a file's bytes) without following or blocking."""
    info = os.lstat(src)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(src), dst)
        return
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EXDEV, f"cannot move {kind_of(info.st_mode)} to another filesystem", str(src))
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as reader, open(dst, "xb") as writer:
        shutil.copyfileobj(reader, writer)
        writer.flush()
        os.fsync(writer.fileno())
    shutil.copystat(src, dst, follow_symlinks=False)


def _content_hash(path: Path) -> str | None:
    """The sha256 of a spec-sized regular file (never following links), else None."""
    try:
        return read_dropped(path, MAX_SPEC_BYTES, check_writers=False).sha256
    except (OSError, NotASpecFile):
        return None


def _same_content(a: Path, b: Path) -> bool:
    first = _content_hash(a)
    return first is not None and first == _content_hash(b)


def _finish_keep(store: Store, source: SpecSource) -> Path | None:
    """Move the source's inbox file to its kept path and mark it kept; None if the move failed."""
    done, kept, _ = _settle(source, None)
    if done:
        store.mark_source_kept(source.id)
    return kept


def _settle(
    source: SpecSource, touched: set[Path] | None, *, keep_if_changed: bool = True
) -> tuple[bool, Path | None, bool]:
    """Bring the source's file to its kept path (see `move_file` for `touched`).

    Returns (whether the source may now be marked kept, the kept path if the file is there,
    whether the inbox file no longer holds the queued content). A changed file is left in the
    inbox; with `keep_if_changed` its source is closed all the same (its text is in the
    database), else the caller withdraws it. An OSError leaves it unmarked, to be finished on
    the next scan or start-up.
    """
    src, dst = source.source_path, source.kept_path
    try:
        if src.exists() and dst.exists():
            if not _same_content(src, dst):
                # The inbox file was replaced by different content after the crash: leave
                # it for a fresh ingest and close this source (its copy is already kept).
                return True, dst, False
            os.unlink(src)  # a cross-filesystem copy finished but the original was not removed
            if touched is None:
                durable.fsync_dir(src.parent)
            else:
                touched.add(src.parent)
        elif src.exists():
            if _content_hash(src) != source.spec_hash:
                if keep_if_changed:
                    log.warning("%s changed since it was queued; its queued text is in the database", src)
                return keep_if_changed, None, True
            move_file(src, dst, touched=touched)
        elif not dst.exists():
            log.warning(
                "the spec file of ingest %s (%s) is gone from the inbox and was never kept; "
                "its jobs' YAML is in the database",
                source.id,
                src,
            )
    except OSError as exc:
        log.error(
            "queued jobs from %s but could not move it to %s: %s; it will be moved on the next scan "
            "(it will not be queued twice)",
            src,
            dst,
            exc,
        )
        return False, None, False
    return True, (dst if dst.exists() else None), False


def _unique_path(folder: Path, name: str) -> Path:
    """`folder/name`, or name-2, name-3 ... when that (or its error file) is taken; names fit
    the filesystem's limit with the error file's suffix added."""
    stem, suffix = os.path.splitext(name)
    room = NAME_MAX_BYTES - len(ERROR_SUFFIX) - 8  # and a "-NNNNNN" counter
    candidate, counter = folder / fit_name(name, limit=room), 1
    while os.path.lexists(candidate) or os.path.lexists(candidate.with_name(candidate.name + ERROR_SUFFIX)):
        counter += 1
        candidate = folder / fit_name(stem, suffix=f"-{counter}{suffix}", limit=room)
    return candidate


MAX_PROBLEMS_SHOWN = 20
MAX_PROBLEM_CHARS = 600  # a problem quotes no more of the file than it needs to point at it


def _shorten(problem: str) -> str:
    """At most MAX_PROBLEM_CHARS, keeping the end (where the line number is)."""
    if len(problem) <= MAX_PROBLEM_CHARS:
        return problem
    return problem[: MAX_PROBLEM_CHARS - 61] + "\u2026" + problem[-60:]


def _notepad_problem(name: str, meant: str) -> str:
    return (
        f'the file is named "{name}": musicd reads only *.yaml, *.yml and *.json files, and '
        f'Windows Notepad adds ".txt" when it saves; rename it to {display_name(meant)}'
    )


def _rename_fix(meant: str) -> list[str]:
    return [
        f"How to fix it: rename the file to {display_name(meant)} (in Explorer, View > Show > File name",
        'extensions shows the ".txt"; in Notepad, save with "Save as type: All files"), then drop it',
        "into the inbox again:",
    ]


def error_text(
    name: str, problems: Sequence[str], inbox: Path, when: datetime, how_to_fix: Sequence[str] | None = None
) -> str:
    """The plain-language *.error.txt written beside a rejected spec.

    `how_to_fix` replaces the usual advice (correct the file) with its own lines; the inbox's
    path follows them.
    """
    name = display_name(name)
    shown = [_shorten(p) for p in problems]
    if len(shown) > MAX_PROBLEMS_SHOWN:
        hidden = len(shown) - MAX_PROBLEMS_SHOWN
        shown = [*shown[:MAX_PROBLEMS_SHOWN], f"... and {hidden} more (fix these first)"]
    problems = shown
    lines = [
        f"{ERROR_HEADER.format(name=name)}{when:%Y-%m-%d %H:%M:%S %Z}).",
        "",
        "What is wrong:" if len(problems) == 1 else f"What is wrong ({len(problems)} problems):",
        *(f"  - {p}" for p in problems),
        "",
        *(
            [*how_to_fix[:-1], f"{how_to_fix[-1]} {inbox}"]
            if how_to_fix
            else [
                "How to fix it: correct the file (each line above names the field and, where known,",
                f"the line), then drop it into the inbox again: {inbox}",
            ]
        ),
        "`musicd validate FILE` checks a spec without queuing it.",
        "",
        "This file was moved here so it is not picked up again; nothing was queued.",
        "",
    ]
    # A quoted value may hold text no file can store (half a UTF-16 pair): written as an escape.
    return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")


def _reject(
    path: Path,
    config: Config,
    clock: Clock,
    problems: list[str],
    spec_hash: str | None,
    touched: set[Path] | None = None,
    how_to_fix: Sequence[str] | None = None,
) -> IngestOutcome:
    """Move an invalid file into inbox/rejected/ and write its error file beside it."""
    target = _unique_path(config.rejected_dir, path.name)
    try:
        move_file(path, target, touched=touched)
    except FileNotFoundError:
        log.info("%s vanished before it could be rejected; skipped", path)
        return IngestOutcome(path, IngestStatus.SKIPPED, problems=tuple(problems), spec_hash=spec_hash)
    error_path = target.with_name(target.name + ERROR_SUFFIX)
    durable.write_text(error_path, error_text(path.name, problems, config.inbox, clock(), how_to_fix))
    log.warning("rejected %s (%d problem(s)); see %s", display_name(path.name), len(problems), error_path)
    return IngestOutcome(
        path,
        IngestStatus.REJECTED,
        rejected_path=target,
        error_path=error_path,
        problems=tuple(problems),
        spec_hash=spec_hash,
    )


# ------------------------------------------------- rejections a later file settled

_COUNTED = re.compile(r"(?s)(.*)-[0-9]+(\.[^.]*)?")  # "x-2.yaml": the second rejection of "x.yaml"


def _clear_after_acceptance(outcomes: Sequence[IngestOutcome], config: Config) -> None:
    """After a batch: remove earlier rejections of each accepted name (never this batch's own)."""
    names = {o.path.name for o in outcomes if o.status in (IngestStatus.QUEUED, IngestStatus.RECOVERED)}
    if not names:
        return
    fresh = {o.rejected_path for o in outcomes if o.rejected_path is not None}
    try:
        clear_stale_rejections(names, config.rejected_dir, keep=fresh)
    except OSError as exc:  # a tidy-up: it never fails the ingest
        log.warning("could not remove stale rejections from %s: %s", config.rejected_dir, exc)


def clear_stale_rejections(
    names: set[str], rejected_dir: Path, *, keep: set[Path] | None = None
) -> list[Path]:
    """Remove from `rejected_dir` the rejected copies and error files of earlier tries of `names`.

    A rejection belongs to a name when its error file's first line names it: `x.yaml` covers
    `rejected/x.yaml`, `rejected/x-2.yaml` (a second rejection) and `rejected/x.yaml.txt` (the
    Notepad name whose hint said to rename it to `x.yaml`), each with its `.error.txt`. Other
    names are never touched, nor the paths in `keep`. The copy goes first, then its error file,
    and the folder is synced once. Returns the error files removed.
    """
    keep = keep or set()
    originals: dict[str, str] = {}  # a name a rejection may carry -> the accepted name
    for name in names:
        originals[name] = name
        if name.lower().endswith(SPEC_SUFFIXES):
            originals[name + ".txt"] = name
    removed: list[Path] = []
    try:
        entries = [entry.name for entry in os.scandir(rejected_dir)]
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.endswith(ERROR_SUFFIX):
            continue
        copy = rejected_dir / entry[: -len(ERROR_SUFFIX)]
        if copy in keep:
            continue
        counted = _COUNTED.fullmatch(copy.name)
        guesses = [copy.name] + ([counted.group(1) + (counted.group(2) or "")] if counted else [])
        original = next(
            (g for g in guesses if g in originals and _rejected_as(rejected_dir / entry, g)), None
        )
        if original is None:
            continue
        try:
            if os.path.lexists(copy):
                os.unlink(copy)
            os.unlink(rejected_dir / entry)
        except OSError as exc:
            log.warning("could not remove the stale rejection %s: %s", copy, exc)
            continue
        removed.append(rejected_dir / entry)
        log.info(
            "removed %s and its error file: %s was accepted since",
            display_name(copy.name),
            display_name(originals[original]),
        )
    if removed:
        durable.fsync_dir(rejected_dir)
    return removed


def _rejected_as(error_file: Path, name: str) -> bool:
    """Whether `error_file` (read without following links, bounded) is the rejection of `name`."""
    try:
        text = read_dropped(error_file, MAX_SPEC_BYTES, check_writers=False).data
    except (OSError, NotASpecFile):
        return False
    header = ERROR_HEADER.format(name=display_name(name)).encode("utf-8")
    return text.startswith(header)
