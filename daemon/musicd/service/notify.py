"""Notifications when a job is done, fails, or a spec is rejected, through Apprise.

`notify.urls` in the configuration are Apprise URLs (ntfy://, gotify://, matrix://,
mailto://, json:// and ~100 more: https://github.com/caronc/apprise/wiki). The main loop
only puts a message on a bounded queue (`put_nowait`: never blocks); one daemon thread sends
them, with `notify.retries` retries and growing pauses, each send bounded by
`notify.timeout_s` (Apprise's connect and read timeouts). A full queue drops the newest
message with a warning, and on shutdown the thread gets a few seconds to finish, so a dead
notification server can never stall or hold up the service. Apprise is imported by that
thread, only when URLs are configured.

URLs hold tokens: logs name only the scheme and host.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from musicd.config import NotifyConfig

log = logging.getLogger(__name__)

MAX_QUEUED = 100
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 60.0
SHUTDOWN_GRACE_S = 3.0


@dataclass(frozen=True)
class Notification:
    event: str  # done | failed | rejected
    title: str
    body: str
    kind: str  # Apprise's notify type: success | failure | warning | info


# (urls, notification, timeout_s) -> sent?
Sender = Callable[[Sequence[str], Notification, float], bool]


def redact(url: str) -> str:
    """A URL without its tokens and passwords: scheme and host only."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    return f"{parts.scheme}://{parts.hostname or ''}"


def _with_timeouts(url: str, timeout_s: float) -> str:
    """Apprise's connect (cto) and read (rto) timeouts on the URL, unless it sets its own."""
    query = urlsplit(url).query
    extra = [f"{name}={timeout_s:g}" for name in ("cto", "rto") if f"{name}=" not in query]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def apprise_send(urls: Sequence[str], note: Notification, timeout_s: float) -> bool:
    """Send `note` to every URL with Apprise; True when all of them took it."""
    import apprise

    client = apprise.Apprise()
    for url in urls:
        if not client.add(_with_timeouts(url, timeout_s)):
            log.error("notify: %s is not a URL Apprise understands; fix notify.urls", redact(url))
    if len(client) == 0:
        return True  # nothing usable to send to; retrying will not help
    return bool(client.notify(title=note.title, body=note.body, notify_type=note.kind))


class EventNotifier:
    """Queues notifications from the main loop and sends them from one background thread."""

    def __init__(
        self,
        settings: NotifyConfig | None,
        *,
        outbox: Path | None = None,
        sender: Sender = apprise_send,
        wait: Callable[[threading.Event, float], bool] | None = None,
    ) -> None:
        self.urls: tuple[str, ...] = tuple(settings.urls) if settings else ()
        self.events: frozenset[str] = frozenset(settings.events) if settings else frozenset()
        self.link_base = settings.link_base if settings else None
        self.retries = settings.retries if settings else 0
        self.timeout_s = settings.timeout_s if settings else 10.0
        self.outbox = outbox
        self.sender = sender
        self._wait = wait or (lambda event, seconds: event.wait(seconds))
        self._queue: queue.Queue[Notification | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self.urls) and bool(self.events)

    # ------------------------------------------------------------------ the main loop's side

    def job_done(self, title: str, job_id: str, folder: Path | None, warnings: Sequence[str] = ()) -> None:
        lines = [self._where(folder)]
        lines += [f"warning: {w}" for w in warnings]
        self.put(
            Notification("done", f"musicd: {title} is ready", "\n".join(lines) + f"\njob {job_id}", "success")
        )

    def job_failed(self, title: str, job_id: str, error: str, folder: Path | None) -> None:
        first = error.strip().splitlines()[0] if error.strip() else "failed"
        body = f"{first}\n{self._where(folder)}\njob {job_id}; `musicd status {job_id[-8:]}` shows its events"
        self.put(Notification("failed", f"musicd: {title} failed", body, "failure"))

    def spec_rejected(self, name: str, problems: Sequence[str], error_path: Path | None) -> None:
        lines = [f"- {p}" for p in list(problems)[:5]]
        if len(problems) > 5:
            lines.append(f"... and {len(problems) - 5} more")
        if error_path is not None:
            lines.append(f"details: {error_path}")
        self.put(Notification("rejected", f"musicd: {name} was rejected", "\n".join(lines), "warning"))

    def _where(self, folder: Path | None) -> str:
        if folder is None:
            return "no outbox folder"
        if self.link_base and self.outbox is not None:
            try:
                rel = folder.relative_to(self.outbox).as_posix()
            except ValueError:
                return str(folder)
            return f"{self.link_base.rstrip('/')}/{rel}/"
        return str(folder)

    def put(self, note: Notification) -> bool:
        """Queue `note` if its event is configured; never blocks. False when it was not queued."""
        if not self.enabled or note.event not in self.events:
            return False
        self._start()
        try:
            self._queue.put_nowait(note)
        except queue.Full:
            self.dropped += 1
            log.warning("notify: %d messages wait already; dropped %r", MAX_QUEUED, note.title)
            return False
        return True

    def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Let queued messages go out for up to `grace_s`, then stop retrying and return."""
        thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        thread.join(grace_s)
        self._stopping.set()
        thread.join(0.5)
        if thread.is_alive() or not self._queue.empty():
            log.warning("notify: stopped with messages unsent (the notification server is slow or down)")
        self._thread = None

    # ------------------------------------------------------------------ the thread

    def _start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="musicd-notify", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            note = self._queue.get()
            if note is None:
                return
            self._deliver(note)
            if self._stopping.is_set():
                return

    def _deliver(self, note: Notification) -> None:
        delay = FIRST_RETRY_S
        for attempt in range(self.retries + 1):
            try:
                if self.sender(self.urls, note, self.timeout_s):
                    self.sent += 1
                    log.info("notify: sent %r", note.title)
                    return
                problem = "a notification service did not accept it"
            except Exception as exc:  # the thread's boundary: a sender bug must not end notifications
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.retries:
                break
            log.info("notify: %r not sent (%s); trying again in %.0f s", note.title, problem, delay)
            if self._wait(self._stopping, delay):
                break
            delay = min(delay * 2, MAX_RETRY_S)
        log.warning(
            "notify: gave up on %r after %d tries (%s); check notify.urls (%s)",
            note.title,
            attempt + 1,
            problem,
            ", ".join(redact(u) for u in self.urls),
        )
