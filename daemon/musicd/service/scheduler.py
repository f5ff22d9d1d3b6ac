"""Scheduled generation: `schedules:` entries with a 5-field cron expression enqueue jobs.

Fire times come from APScheduler 3's `CronTrigger`, but nothing runs on a background
thread: the service loop asks `Scheduler.due(now)` with its own (injectable) clock and
enqueues what is due, so tests can drive a per-minute cron with a fake clock and the
store is only ever touched from the main loop.

Misfires and coalescing: the time up to which each schedule's firings were handled is
kept in `state_dir/schedules.json` (written on each firing and when a schedule is first
seen). When the service starts (or the loop was busy) and firings were missed, the
latest missed one runs once if it lies within `grace_s` (default one hour) of now;
several missed firings coalesce into that one; older ones are skipped and logged. A
schedule seen for the first time fires only at its next fire time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from apscheduler.triggers.cron import CronTrigger

from musicd import durable
from musicd.clock import utc_now
from musicd.errors import MusicdError

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 3600.0
STATE_FILE_NAME = "schedules.json"


class ScheduleError(MusicdError):
    """A `schedules:` entry is invalid."""


@dataclass(frozen=True)
class Schedule:
    """One `schedules:` entry: a name, a cron expression, and a spec file or an inline job."""

    name: str
    cron: str
    timezone: str | None = None
    spec_path: Path | None = None
    job: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)

    def trigger(self) -> CronTrigger:
        try:
            return CronTrigger.from_crontab(self.cron, timezone=self.timezone)
        except (ValueError, LookupError) as exc:
            raise ScheduleError(
                f"schedule {self.name!r}: cron {self.cron!r} is not valid ({exc}); "
                "use five fields: minute hour day-of-month month day-of-week, e.g. '0 7 * * *'"
            ) from exc

    def spec_text(self) -> str:
        """The YAML of the job(s) to enqueue at each firing."""
        if self.spec_path is not None:
            try:
                return self.spec_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ScheduleError(
                    f"schedule {self.name!r}: cannot read spec {self.spec_path}: {exc.strerror or exc}"
                ) from exc
        return yaml.safe_dump(dict(self.job or {}), sort_keys=False, allow_unicode=True)


def parse_schedules(entries: Iterable[Mapping[str, Any]] | None, base_dir: Path) -> list[Schedule]:
    """Build Schedules from the raw `schedules:` list; relative spec paths are resolved from base_dir."""
    schedules: list[Schedule] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries or []):
        where = f"schedules[{index}]"
        if isinstance(entry, Schedule):
            schedules.append(entry)
            seen.add(entry.name)
            continue
        if not isinstance(entry, Mapping):
            raise ScheduleError(f"{where} must be a mapping with name, cron and spec or job")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ScheduleError(f"{where}: 'name' is required (a short text)")
        if name in seen:
            raise ScheduleError(f"{where}: the name {name!r} is used twice; names must be unique")
        cron = entry.get("cron")
        if not isinstance(cron, str) or len(cron.split()) != 5:
            raise ScheduleError(f"schedule {name!r}: 'cron' must have five fields, e.g. '0 7 * * *'")
        spec, job = entry.get("spec"), entry.get("job")
        if (spec is None) == (job is None):
            raise ScheduleError(f"schedule {name!r}: give exactly one of 'spec' (a file) or 'job' (inline)")
        if job is not None and not isinstance(job, Mapping):
            raise ScheduleError(f"schedule {name!r}: 'job' must be a mapping (a job spec)")
        spec_path = None
        if spec is not None:
            spec_path = Path(str(spec)).expanduser()
            if not spec_path.is_absolute():
                spec_path = base_dir / spec_path
        tz = entry.get("timezone")
        schedule = Schedule(
            name=name, cron=cron, timezone=str(tz) if tz else None, spec_path=spec_path, job=job
        )
        schedule.trigger()  # validates the cron expression and timezone now
        schedules.append(schedule)
        seen.add(name)
    return schedules


@dataclass(frozen=True)
class Firing:
    """One firing to enqueue: `fire_time` is the scheduled time; `coalesced` missed firings it stands for."""

    schedule: Schedule
    fire_time: datetime
    coalesced: int = 1


class Scheduler:
    """Decides which schedules are due; the caller enqueues the jobs."""

    def __init__(
        self,
        schedules: Iterable[Schedule],
        state_dir: Path,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        clock: Callable[[], datetime] = utc_now,
        persist: bool = True,
    ) -> None:
        """`persist=False` reads the state file but never writes it (for `musicd status`)."""
        self.state_path = state_dir / STATE_FILE_NAME
        self.persist = persist
        self.grace_s = grace_s
        self.clock = clock
        self._anchors: dict[str, datetime] = self._load_state()
        self._schedules: dict[str, Schedule] = {}
        self._triggers: dict[str, CronTrigger] = {}
        self._next: dict[str, datetime | None] = {}
        self.reload(schedules)

    @property
    def schedules(self) -> list[Schedule]:
        return list(self._schedules.values())

    def reload(self, schedules: Iterable[Schedule]) -> None:
        """Replace the schedules (SIGHUP); a kept name keeps its history."""
        now = self.clock()
        self._schedules = {s.name: s for s in schedules}
        self._triggers = {name: s.trigger() for name, s in self._schedules.items()}
        changed = False
        for name in self._schedules:
            if name not in self._anchors:
                self._anchors[name] = now
                changed = True
        if changed:
            self._save_state()
        self._next = {name: self._first_candidate(name, now) for name in self._schedules}

    def _first_candidate(self, name: str, now: datetime) -> datetime | None:
        start = max(self._anchors[name], now - timedelta(seconds=self.grace_s))
        skipped = self._triggers[name].get_next_fire_time(self._anchors[name], self._anchors[name])
        if skipped is not None and skipped <= start and self._anchors[name] < start:
            log.warning(
                "schedule %s: firings since %s were missed by more than %.0f s; skipped",
                name,
                skipped.isoformat(),
                self.grace_s,
            )
        return self._after(name, start)

    def _after(self, name: str, moment: datetime) -> datetime | None:
        trigger = self._triggers[name]
        return trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))

    def due(self, now: datetime | None = None) -> list[Firing]:
        """The firings due at `now` (at most one per schedule; missed ones coalesce)."""
        now = now or self.clock()
        firings: list[Firing] = []
        for name, schedule in self._schedules.items():
            candidate = self._next.get(name)
            if candidate is None or candidate > now:
                continue
            latest, count = candidate, 0
            while candidate is not None and candidate <= now:
                latest, count = candidate, count + 1
                candidate = self._after(name, candidate)
            self._next[name] = candidate
            self._anchors[name] = latest
            if now - latest > timedelta(seconds=self.grace_s):
                log.warning("schedule %s: firing at %s is past the grace period; skipped", name, latest)
                continue
            firings.append(Firing(schedule, latest, count))
        if firings:
            self._save_state()
        return firings

    def next_fire_times(self) -> dict[str, datetime | None]:
        """The next fire time of each schedule (None for one that will never fire again)."""
        return dict(self._next)

    def _load_state(self) -> dict[str, datetime]:
        try:
            raw = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable schedule state %s: %s", self.state_path, exc)
            return {}
        anchors: dict[str, datetime] = {}
        for name, entry in raw.items() if isinstance(raw, dict) else ():
            try:
                anchors[name] = datetime.fromisoformat(entry["handled_until"])
            except (KeyError, TypeError, ValueError):
                continue
        return anchors

    def _save_state(self) -> None:
        if not self.persist:
            return
        data = {name: {"handled_until": moment.isoformat()} for name, moment in self._anchors.items()}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_json(self.state_path, data)
