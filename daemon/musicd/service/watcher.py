"""Watch the inbox and hand over spec files once they are complete and stable.

Event handlers (run on watchdog's thread) only note candidate paths. The
service loop calls `poll_ready(now)` with its own monotonic clock: it runs the
periodic full rescan when due, re-checks every candidate with `lstat`, and
returns those that had no events and the same (size, mtime_ns, inode) for
`stability_delay_s` across two looks and are still regular, readable files.
A returned path stays "in flight" (never returned again) until `done(path)`.

Native events (inotify) by default; polling when `watch.mode` is `polling`, or
in `auto` mode when the inbox is on a network filesystem (where other machines'
writes raise no local events) or inotify cannot start. The start-up scan and
the periodic rescan catch anything the events missed.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from musicd.config import REJECTED_DIR_NAME, WatchConfig
from musicd.errors import MusicdError
from musicd.service import fsinfo
from musicd.service.dropped import NOTEPAD_SUFFIXES, SPEC_SUFFIXES
from musicd.service.folders import make_last_level

log = logging.getLogger(__name__)

IGNORED_NAMES = frozenset(
    {"@eadir", "thumbs.db", "desktop.ini", "#recycle", "#snapshot", "$recycle.bin", "lost+found"}
)
IGNORED_PREFIXES = (".", "~syncthing~", "~$")
IGNORED_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".swp", ".swx", ".crdownload", ".download", "~")


def is_ignored_name(name: str) -> bool:
    """True for hidden and temporary names: `.*` (incl. rsync's `.name.XXXXXX`, `._*`,
    `.DS_Store`), `~syncthing~*`, `*.part`, `*.tmp`, `*.swp`, `@eaDir`, `Thumbs.db` ..."""
    lowered = name.lower()
    return (
        lowered in IGNORED_NAMES or lowered.startswith(IGNORED_PREFIXES) or lowered.endswith(IGNORED_SUFFIXES)
    )


def is_spec_candidate(path: Path, inbox: Path, recursive: bool) -> bool:
    """Whether `path` is a file the inbox should take: a non-ignored *.yaml / *.yml / *.json
    (any case) directly in `inbox`, or in a non-ignored subfolder when `recursive`;
    never anything under inbox/rejected/. `x.yaml.txt` (as Windows Notepad saves) is taken
    too, so that ingest can set it aside with a hint to rename it."""
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        return False
    if not parts or (len(parts) > 1 and not recursive):
        return False
    if len(parts) > 1 and parts[0] == REJECTED_DIR_NAME:
        return False
    if any(is_ignored_name(part) for part in parts):
        return False
    return parts[-1].lower().endswith(SPEC_SUFFIXES + NOTEPAD_SUFFIXES)


def resolve_mode(inbox: Path, config: WatchConfig, mountinfo_text: str | None = None) -> str:
    """`native` or `polling`: the configured mode, or for `auto` polling on a network filesystem."""
    if config.mode != "auto":
        return config.mode
    mount = fsinfo.filesystem_of(inbox, mountinfo_text)
    if mount is not None and mount.is_network:
        log.info("inbox %s is on %s (%s): watching it by polling", inbox, mount.fs_type, mount.mount_point)
        return "polling"
    return "native"


WATCHDOG_INOTIFY_LOGGER = "watchdog.observers.inotify"
INACTIVE_EMITTER_MESSAGE = "called when the thread is inactive"


class _ShutdownRaceFilter(logging.Filter):
    """Lowers watchdog's "emitter inactive" record, logged when an event races its stop, to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and INACTIVE_EMITTER_MESSAGE in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


@dataclass
class _Candidate:
    signature: tuple[int, int, int] | None = None
    since: float | None = None
    dirty: bool = False
    warned: tuple[int, int, int] | None = None


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher) -> None:
        self._watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        self._watcher._on_present(event.src_path, event.is_directory)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._watcher._on_present(event.src_path, event.is_directory)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._watcher._on_present(event.src_path, event.is_directory)

    def on_moved(self, event: FileSystemEvent) -> None:
        self._watcher._on_gone(event.src_path)
        self._watcher._on_present(event.dest_path, event.is_directory)

    def on_deleted(self, event: FileSystemEvent) -> None:
        self._watcher._on_gone(event.src_path)


class InboxWatcher:
    """Finds spec files in the inbox; see the module docstring.

    Typical loop: `start(now)`; then repeatedly `for p in poll_ready(now): ingest(p); done(p)`;
    `stop()` at shutdown. `now` is any monotonic clock in seconds (time.monotonic()).
    """

    def __init__(self, inbox: Path, config: WatchConfig, *, mountinfo_text: str | None = None) -> None:
        self.inbox = Path(os.path.abspath(inbox))
        self.config = config
        self.mode = resolve_mode(self.inbox, config, mountinfo_text)
        self._lock = threading.Lock()
        self._candidates: dict[Path, _Candidate] = {}
        self._in_flight: set[Path] = set()
        self._rescan_requested = False
        self._last_rescan: float | None = None
        self._observer: BaseObserver | None = None
        self._folders_named_as_specs: set[Path] = set()  # each is logged once

    # ---------------------------------------------------------- lifecycle

    def start(self, now: float) -> None:
        """Create the inbox if needed (its last level only), start the observer, then scan what is
        already there. Raises FolderMissingError when the inbox's parent is missing."""
        make_last_level(self.inbox, "inbox")
        self._start_observer()
        self.scan()
        self._last_rescan = now

    def stop(self) -> None:
        """Stop and join the observer thread (idempotent).

        watchdog's inotify emitter may read one last event after stop() deactivated it
        and then logs "queue_events() called when the thread is inactive" at ERROR (a
        race inside watchdog whatever the order of stop/unschedule/join: observer.stop()
        stops and joins the emitters itself). That record is harmless here and is
        lowered to DEBUG while stopping.
        """
        observer, self._observer = self._observer, None
        if observer is not None:
            quiet = _ShutdownRaceFilter()
            inotify_log = logging.getLogger(WATCHDOG_INOTIFY_LOGGER)
            inotify_log.addFilter(quiet)
            try:
                observer.stop()
                observer.join(timeout=10)
            finally:
                inotify_log.removeFilter(quiet)

    @property
    def observer_alive(self) -> bool:
        """True while the observer thread runs."""
        return self._observer is not None and self._observer.is_alive()

    def _start_observer(self) -> None:
        observer: BaseObserver
        if self.mode == "polling":
            observer = PollingObserver(timeout=self.config.poll_interval_s)
        else:
            observer = Observer()
        observer.schedule(_Handler(self), str(self.inbox), recursive=self.config.recursive)
        try:
            observer.start()
        except OSError as exc:
            if self.mode == "polling":
                raise
            log.warning("native file events are unavailable for %s (%s); polling instead", self.inbox, exc)
            self.mode = "polling"
            self._start_observer()
            return
        self._observer = observer
        log.info("watching %s (%s%s)", self.inbox, self.mode, ", recursive" if self.config.recursive else "")

    def _ensure_observer(self) -> None:
        if self._observer is not None and not self._observer.is_alive():
            log.warning("the inbox observer stopped; restarting it and rescanning %s", self.inbox)
            self._observer = None
            try:
                make_last_level(self.inbox, "inbox")
                self._start_observer()
            except (OSError, MusicdError) as exc:
                log.error("cannot watch %s: %s; will try again", self.inbox, exc)
            self._rescan_requested = True

    # ----------------------------------------------------- event handling

    def _accepts(self, path: Path) -> bool:
        return is_spec_candidate(path, self.inbox, self.config.recursive)

    def _on_present(self, raw_path: str | bytes, is_directory: bool) -> None:
        path = Path(os.fsdecode(raw_path))
        if is_directory:
            if self.config.recursive and path != self.inbox:
                self._rescan_requested = True  # a folder moved in: look inside it
            return
        if not self._accepts(path):
            return
        with self._lock:
            if path in self._in_flight:
                return
            self._candidates.setdefault(path, _Candidate()).dirty = True

    def _on_gone(self, raw_path: str | bytes) -> None:
        path = Path(os.fsdecode(raw_path))
        with self._lock:
            self._candidates.pop(path, None)

    # ------------------------------------------------------------ scanning

    def scan(self) -> int:
        """Note every spec file now in the inbox as a candidate; returns how many were new."""
        found: list[Path] = []
        try:
            for root, dirs, files in os.walk(self.inbox):
                root_path = Path(root)
                if self.config.recursive:
                    dirs[:] = [
                        d
                        for d in dirs
                        if not is_ignored_name(d) and not (root_path == self.inbox and d == REJECTED_DIR_NAME)
                    ]
                else:
                    self._note_folders_named_as_specs(root_path, dirs)
                    dirs[:] = []
                found.extend(root_path / f for f in files if self._accepts(root_path / f))
        except OSError as exc:
            log.error("cannot scan %s: %s", self.inbox, exc)
        added = 0
        with self._lock:
            for path in found:
                if path not in self._in_flight and path not in self._candidates:
                    self._candidates[path] = _Candidate()
                    added += 1
        if added:
            log.info("scan of %s found %d new file(s)", self.inbox, added)
        return added

    def _note_folders_named_as_specs(self, root: Path, dirs: list[str]) -> None:
        """Log once each folder named like a spec (`x.yaml/`): it is left where it is, unread."""
        for name in dirs:
            path = root / name
            if path not in self._folders_named_as_specs and self._accepts(path):
                self._folders_named_as_specs.add(path)
                log.warning(
                    "%s is a folder, not a spec file; musicd leaves it alone (rename it, or move "
                    "the spec file out of it into the inbox)",
                    path,
                )

    def rescan(self, now: float) -> int:
        """A full rescan now (what `poll_ready` runs every rescan_interval_s); restarts that timer."""
        self._rescan_requested = False
        self._last_rescan = now
        return self.scan()

    def rescan_due(self, now: float) -> bool:
        """Whether the periodic full rescan (every rescan_interval_s) is due at `now`."""
        return self._last_rescan is None or now - self._last_rescan >= self.config.rescan_interval_s

    def poll_ready(self, now: float) -> list[Path]:
        """The candidates that are complete at `now`; each is in flight until `done(path)`.

        Also restarts a dead observer and runs the periodic rescan when due.
        """
        self._ensure_observer()
        if self._rescan_requested or self.rescan_due(now):
            self.rescan(now)
        ready: list[Path] = []
        with self._lock:
            paths = list(self._candidates)
        for path in paths:
            if self._check(path, now):
                ready.append(path)
        return sorted(ready)

    def _check(self, path: Path, now: float) -> bool:
        with self._lock:
            candidate = self._candidates.get(path)
            if candidate is None:
                return False
            if path in self._in_flight:
                del self._candidates[path]
                return False
            if candidate.dirty:
                candidate.dirty = False
                candidate.since = None
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            self._drop(path)
            return False
        except OSError as exc:
            log.warning("cannot examine %s: %s", path, exc)
            return False
        if stat.S_ISDIR(info.st_mode):
            log.warning("ignoring %s: it is a folder, not a spec file", path)
            self._drop(path)
            return False
        # Links, FIFOs and devices are handed on too: ingest sets them aside (never opening them).
        regular = stat.S_ISREG(info.st_mode)
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        with self._lock:
            candidate = self._candidates.get(path)
            if candidate is None:
                return False
            if candidate.since is None or candidate.signature != signature:
                candidate.signature, candidate.since = signature, now
                return False
            if now - candidate.since < self.config.stability_delay_s:
                return False
            if regular and not os.access(path, os.R_OK):
                if candidate.warned != signature:
                    candidate.warned = signature
                    log.warning("%s is not readable by the service user; waiting until it is", path)
                return False
            del self._candidates[path]
            self._in_flight.add(path)
        return True

    def _drop(self, path: Path) -> None:
        with self._lock:
            self._candidates.pop(path, None)

    def retry(self, path: Path) -> None:
        """Release a path returned by `poll_ready` and watch it again at once (it was busy)."""
        path = Path(path)
        with self._lock:
            self._in_flight.discard(path)
            self._candidates.setdefault(path, _Candidate()).dirty = True

    def done(self, path: Path) -> None:
        """Release a path returned by `poll_ready` (after ingest). If the file is still there,
        a later scan notes it again (so a failed ingest is retried at the next rescan)."""
        with self._lock:
            self._in_flight.discard(Path(path))

    # ------------------------------------------------------------- queries

    @property
    def in_flight(self) -> frozenset[Path]:
        """Paths handed over and not yet released with `done`."""
        with self._lock:
            return frozenset(self._in_flight)

    @property
    def candidates(self) -> frozenset[Path]:
        """Paths noted and waiting to become stable."""
        with self._lock:
            return frozenset(self._candidates)
