"""Publishing into the dated outbox: one rename, complete manifest, exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from musicd.service.outbox import (
    find_published,
    publish_failure,
    publish_success,
    remove_stale_staging,
    slugify,
    staging_dir,
)

JOB_ID = "01JD0000000000000000ABCDEF"
FINISHED = datetime(2026, 5, 17, 21, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def stage_outputs(outbox: Path, job_id: str = JOB_ID) -> Path:
    stage = staging_dir(outbox, job_id)
    (stage / "stems").mkdir(parents=True)
    (stage / "mix.wav").write_bytes(b"RIFF....")
    (stage / "stems" / "bass.wav").write_bytes(b"RIFF....")
    (stage / "manifest.json").write_text(json.dumps({"title": "Night Drive", "seed": 7}))
    return stage


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Night Drive", "night-drive"),
        ("../../etc/passwd", "etc-passwd"),
        ("Café — Über Ñandú", "cafe-uber-nandu"),
        ("a\x00b\nc/d\\e", "a-b-c-d-e"),
        ("", "untitled"),
        (None, "untitled"),
        ("...", "untitled"),
        ("漢字だけ", "hanzidake"),
        ("Ночной город", "nochnoy-gorod"),
        ("夜の雨", "yenoyu"),
        ("🌙", "crescent-moon"),
        ("\u200b", "untitled"),
    ],
)
def test_slugify_is_safe_and_never_empty(text: str | None, slug: str) -> None:
    assert slugify(text) == slug


def test_non_latin_title_keeps_its_name_in_the_folder_and_its_title_in_the_manifest(tmp_path: Path) -> None:
    stage = staging_dir(tmp_path, JOB_ID)
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text(json.dumps({"title": "Ночной город"}, ensure_ascii=False))
    folder = publish_success(tmp_path, JOB_ID, title="Ночной город", finished_at=FINISHED)
    assert folder.name == f"210405-nochnoy-gorod-{JOB_ID[-8:].lower()}"
    assert json.loads((folder / "manifest.json").read_text())["title"] == "Ночной город"


def test_slug_length_is_bounded() -> None:
    slug = slugify("word " * 100)
    assert len(slug) <= 48 and not slug.endswith("-")


def test_publish_moves_staging_into_dated_folder_with_complete_manifest(tmp_path: Path) -> None:
    stage_outputs(tmp_path)
    target = publish_success(tmp_path, JOB_ID, title="Night Drive", finished_at=FINISHED)
    assert target == tmp_path / "2026" / "05" / "17" / "210405-night-drive-00abcdef"
    assert (target / "stems" / "bass.wav").exists()
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["job_id"] == JOB_ID
    assert manifest["status"] == "done"
    assert manifest["finished_at"] == FINISHED.isoformat()
    assert manifest["seed"] == 7  # what the worker wrote is kept
    assert not staging_dir(tmp_path, JOB_ID).exists()
    assert not list(target.glob("*.tmp"))


def test_publishing_twice_returns_the_same_folder(tmp_path: Path) -> None:
    stage_outputs(tmp_path)
    first = publish_success(tmp_path, JOB_ID, title="Night Drive", finished_at=FINISHED)
    stage_outputs(tmp_path)  # a re-run after a crash between the rename and the database update
    second = publish_success(tmp_path, JOB_ID, title="Other", finished_at=FINISHED + timedelta(minutes=3))
    assert second == first
    assert not staging_dir(tmp_path, JOB_ID).exists()
    assert len([p for p in (tmp_path / "2026").rglob("manifest.json")]) == 1


def test_find_published_needs_the_manifest_to_name_the_job(tmp_path: Path) -> None:
    impostor = tmp_path / "2026" / "05" / "17" / "101010-x-00abcdef"
    impostor.mkdir(parents=True)
    (impostor / "manifest.json").write_text(json.dumps({"job_id": "SOMEONEELSE00abcdef"}))
    assert find_published(tmp_path, JOB_ID, FINISHED, FINISHED) is None


def test_failed_job_is_published_with_error_and_spec(tmp_path: Path) -> None:
    stage_outputs(tmp_path)  # partial outputs are discarded
    target = publish_failure(
        tmp_path,
        JOB_ID,
        title="Night Drive",
        finished_at=FINISHED,
        error="render failed: boom",
        spec_text="genres: [lofi]\n",
        manifest_fields={"attempts": 3},
    )
    assert target.name == "210405-night-drive-00abcdef-failed"
    assert (target / "error.txt").read_text() == "render failed: boom\n"
    assert (target / "spec.yaml").read_text() == "genres: [lofi]\n"
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["attempts"] == 3
    assert not (target / "mix.wav").exists()
    assert find_published(tmp_path, JOB_ID, FINISHED) == target


def test_stale_staging_is_removed_except_running_jobs(tmp_path: Path) -> None:
    stage_outputs(tmp_path, "01JD000000000000000000KEEP")
    stage_outputs(tmp_path, "01JD00000000000000000GONE1")
    removed = remove_stale_staging(tmp_path, keep={"01JD000000000000000000KEEP"})
    assert [p.name for p in removed] == ["01JD00000000000000000GONE1"]
    assert staging_dir(tmp_path, "01JD000000000000000000KEEP").exists()


def test_unsafe_job_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        staging_dir(tmp_path, "../escape")
