"""The service's commands as a user runs them: run --once exit codes, status/list --json, submit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon_helpers import (  # no_leftover_processes: autouse, kills and fails on leftovers
    TEST_RUNNER,
    Daemon,
    musicd_cli,
    no_leftover_processes,  # noqa: F401
    spec_yaml,
    write_config,
)

pytestmark = pytest.mark.timeout(180)


def test_run_once_prints_a_summary_and_exits_3_when_a_job_failed_or_a_spec_was_rejected(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "inbox").mkdir(exist_ok=True)
    (tmp_path / "inbox" / "good.yaml").write_text(spec_yaml("good"))
    (tmp_path / "inbox" / "bad.yaml").write_text("genres: [polka-metal]\n")
    result = musicd_cli("run", "--once", "--config", str(config), "--runner", TEST_RUNNER, timeout_s=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "musicd: 1 done, 0 failed, 0 cancelled, 1 rejected" in result.stdout
    (tmp_path / "inbox" / "again.yaml").write_text(spec_yaml("fine"))
    clean = musicd_cli("run", "--once", "--config", str(config), "--runner", TEST_RUNNER, timeout_s=120)
    assert clean.returncode == 0 and "1 done, 0 failed" in clean.stdout

    status = musicd_cli("status", "--json", "--config", str(config))
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["service"]["alive"] is False and "stopped" in data["service"]["summary"]
    assert data["service"]["rejected"] == 1 and data["queue"]["done"] == 2
    listed = json.loads(musicd_cli("list", "--json", "--config", str(config)).stdout)
    assert sorted(j["title"] for j in listed) == ["fine", "good"] and all(j["outbox"] for j in listed)
    text = musicd_cli("status", "--config", str(config)).stdout
    assert text.startswith("service: not running (stopped") and "1 rejected" in text


def test_submit_warns_without_a_service_and_refuses_a_missing_inbox(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "inbox").mkdir(exist_ok=True)
    spec = tmp_path / "song.yaml"
    spec.write_text(spec_yaml("song"))
    result = musicd_cli("submit", "--config", str(config), str(spec))
    assert result.returncode == 0 and (tmp_path / "inbox" / "song.yaml").is_file()
    assert "warning: no musicd service is running" in result.stderr
    missing = tmp_path / "elsewhere" / "config.yaml"
    missing.parent.mkdir()
    missing.write_text("inbox: /nonexistent/share/inbox\n")
    refused = musicd_cli("submit", "--config", str(missing), str(spec))
    assert refused.returncode == 1 and "does not exist" in refused.stderr
    assert not Path("/nonexistent/share").exists()


def test_submit_wait_prints_the_outbox_folder_and_exits_3_on_failure(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: (tmp_path / "state" / "status.json").exists(), 30, "the status file")
        good, bad = tmp_path / "good.yaml", tmp_path / "broken.yaml"
        good.write_text(spec_yaml("good"))
        bad.write_text(spec_yaml("error"))
        ok = musicd_cli(
            "submit", "--wait", "--timeout", "60", "--config", str(config), str(good), timeout_s=90
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "warning" not in ok.stderr and "done" in ok.stdout and str(tmp_path / "outbox") in ok.stdout
        failed = musicd_cli("submit", "--wait", "--config", str(config), str(bad), timeout_s=90)
        assert failed.returncode == 3 and "failed" in failed.stdout
        alive = json.loads(musicd_cli("status", "--json", "--config", str(config)).stdout)["service"]
        assert alive["alive"] is True and alive["pid"] == daemon.process.pid
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]


def test_status_shows_schedule_firings_in_the_schedules_own_timezone(tmp_path: Path) -> None:
    from musicd.queue.store import Store

    job = {"genres": ["ambient"], "duration": 5}
    config = write_config(
        tmp_path, schedules=[{"name": "tokyo", "cron": "0 7 * * *", "timezone": "Asia/Tokyo", "job": job}]
    )
    (tmp_path / "state").mkdir(exist_ok=True)
    Store.open(tmp_path / "state").close()
    result = musicd_cli("status", "--config", str(config), env={"TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "tokyo:" in line)
    assert line.strip().endswith("07:00 Asia/Tokyo"), line
    data = json.loads(musicd_cli("status", "--json", "--config", str(config)).stdout)
    assert data["schedules"][0]["timezone"] == "Asia/Tokyo" and data["schedules"][0]["next_local"].endswith(
        "07:00 Asia/Tokyo"
    )
