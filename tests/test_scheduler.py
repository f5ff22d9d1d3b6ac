"""The scheduler: cron fire times from an injected clock, coalescing, grace period, state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from musicd.service.scheduler import Schedule, ScheduleError, Scheduler, parse_schedules


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


START = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)


def every_minute(name: str = "m") -> Schedule:
    return Schedule(name=name, cron="* * * * *", timezone="UTC", job={"genres": ["ambient"], "duration_s": 5})


def test_per_minute_cron_fires_once_per_minute(tmp_path: Path) -> None:
    clock = FakeClock(START)
    scheduler = Scheduler([every_minute()], tmp_path, clock=clock)
    assert scheduler.due() == []
    fired = []
    for _ in range(36):  # six minutes in ten-second steps
        clock.advance(10)
        fired += scheduler.due()
    assert [f.fire_time.minute for f in fired] == [1, 2, 3, 4, 5, 6]
    assert all(f.coalesced == 1 for f in fired)


def test_next_fire_times_are_listed(tmp_path: Path) -> None:
    clock = FakeClock(START)
    schedule = Schedule(name="morning", cron="0 7 * * *", timezone="UTC", job={"genres": ["lofi"]})
    scheduler = Scheduler([schedule], tmp_path, clock=clock)
    assert scheduler.next_fire_times() == {"morning": datetime(2026, 3, 3, 7, 0, tzinfo=UTC)}


def test_missed_firings_within_grace_coalesce_into_one_at_start(tmp_path: Path) -> None:
    clock = FakeClock(START)
    Scheduler([every_minute()], tmp_path, clock=clock)  # first seen at START, state written
    clock.advance(30 * 60)  # the box was off for half an hour
    restarted = Scheduler([every_minute()], tmp_path, clock=clock)
    fired = restarted.due()
    assert len(fired) == 1
    assert fired[0].coalesced == 30
    assert fired[0].fire_time == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert restarted.due() == []


def test_firing_missed_beyond_grace_is_skipped(tmp_path: Path) -> None:
    clock = FakeClock(START)
    daily = Schedule(name="d", cron="15 10 * * *", timezone="UTC", job={"genres": ["lofi"]})
    Scheduler([daily], tmp_path, clock=clock)
    clock.advance(3 * 3600)  # 10:15 passed 2h45m ago; grace is one hour
    restarted = Scheduler([daily], tmp_path, clock=clock, grace_s=3600)
    assert restarted.due() == []
    assert restarted.next_fire_times()["d"] == datetime(2026, 3, 3, 10, 15, tzinfo=UTC)


def test_new_schedule_does_not_fire_for_the_past(tmp_path: Path) -> None:
    clock = FakeClock(START)
    scheduler = Scheduler([every_minute()], tmp_path, clock=clock)
    assert scheduler.due() == []
    clock.advance(30)
    assert len(scheduler.due()) == 1


def test_reload_keeps_history_and_adds_new_schedules(tmp_path: Path) -> None:
    clock = FakeClock(START)
    scheduler = Scheduler([every_minute("a")], tmp_path, clock=clock)
    clock.advance(30)
    assert [f.schedule.name for f in scheduler.due()] == ["a"]
    scheduler.reload([every_minute("a"), every_minute("b")])
    assert scheduler.due() == []
    clock.advance(60)
    assert sorted(f.schedule.name for f in scheduler.due()) == ["a", "b"]


def test_timezone_is_respected(tmp_path: Path) -> None:
    clock = FakeClock(START)
    schedule = Schedule(name="tokyo", cron="0 20 * * *", timezone="Asia/Tokyo", job={"genres": ["lofi"]})
    scheduler = Scheduler([schedule], tmp_path, clock=clock)
    assert scheduler.next_fire_times()["tokyo"] == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def test_parse_schedules_resolves_spec_paths_and_inline_jobs(tmp_path: Path) -> None:
    (tmp_path / "night.yaml").write_text("genres: [ambient]\nduration_s: 5\n")
    schedules = parse_schedules(
        [
            {"name": "night", "cron": "0 2 * * *", "spec": "night.yaml"},
            {"name": "inline", "cron": "*/5 * * * *", "timezone": "UTC", "job": {"genres": ["lofi"]}},
        ],
        tmp_path,
    )
    assert schedules[0].spec_path == tmp_path / "night.yaml"
    assert "ambient" in schedules[0].spec_text()
    assert yaml.safe_load(schedules[1].spec_text()) == {"genres": ["lofi"]}


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"name": "x", "cron": "* * *", "job": {}}, "five fields"),
        ({"name": "x", "cron": "61 * * * *", "job": {}}, "not valid"),
        ({"name": "x", "cron": "* * * * *"}, "exactly one"),
        ({"cron": "* * * * *", "job": {}}, "'name' is required"),
        ({"name": "x", "cron": "* * * * *", "timezone": "Mars/Olympus", "job": {}}, "not valid"),
    ],
)
def test_invalid_schedule_entries_are_explained(tmp_path: Path, entry: dict, words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        parse_schedules([entry], tmp_path)


def test_duplicate_names_are_rejected(tmp_path: Path) -> None:
    entry = {"name": "x", "cron": "* * * * *", "job": {"genres": ["lofi"]}}
    with pytest.raises(ScheduleError, match="used twice"):
        parse_schedules([entry, entry], tmp_path)
