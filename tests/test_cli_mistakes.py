"""Friendlier mistakes: `validate --explain`, lyrics too long caught before a job exists, `init`
errors and its schema/example, `doctor`'s folder, service and SoundFont checks, and read-only
commands that start without scipy. Every test runs the real CLI or the real component."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from musicd.cli import main
from musicd.music.genres import GENRES
from musicd.music.plan import make_plan
from musicd.queue.store import Store
from musicd.service import status_file
from musicd.spec import load_jobs, load_spec, spec_json_schema_text

REPO = Path(__file__).resolve().parent.parent
LONG_LYRICS = "".join(f"  walking down the empty street tonight under rain number {i}\n" for i in range(40))
SHORT_LYRICS = "  [verse]\n  Lost in the rhythm of the night\n  counting every passing light\n"


def musicd(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the installed CLI in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "musicd.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- validate --explain -------------------------------------------------------------------


def test_a_sad_piano_ballad_is_not_planned_as_disco() -> None:
    plan = make_plan(load_spec("prompt: sad piano ballad with soft strings\n"), 0)
    assert plan.genres == ("cinematic",)
    assert "sad" in plan.moods
    assert plan.tempo_bpm <= GENRES["cinematic"].bpm_max
    assert "ballad" in plan.decisions[0] and "strings" in plan.decisions[0]


def test_explain_says_which_prompt_words_chose_the_genre(tmp_path: Path) -> None:
    spec = write(tmp_path / "ballad.yaml", "prompt: sad piano ballad with soft strings\n")
    result = CliRunner().invoke(main, ["validate", "--explain", str(spec)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "genres:   cinematic (from the prompt)" in out
    assert "suggested by prompt word(s) ballad, strings" in out
    assert "disco" not in out
    # honest about what the prompt cannot do: no part is a piano
    assert "the prompt names piano, which no part plays" in out
    assert "moods:    sad, calm" in out
    assert "seed:     none; drawn per job" in out


def test_explain_says_when_a_string_collapses_into_one_genre(tmp_path: Path) -> None:
    spec = write(tmp_path / "beats.yaml", "title: Beats\ngenres: lo-fi hiphop\nduration: 30\n")
    result = CliRunner().invoke(main, ["validate", "--explain", str(spec)])
    assert result.exit_code == 0, result.output
    assert "genres:   lofi (from the spec)" in result.output
    assert '"lo-fi hiphop" is read as ONE genre, lofi' in result.output
    assert "[lo-fi, hiphop]" in result.output
    two = write(tmp_path / "two.yaml", "genres: [lo-fi, hiphop]\nduration: 30\n")
    result = CliRunner().invoke(main, ["validate", "--explain", str(two)])
    assert "genres:   lofi, hip-hop (from the spec)" in result.output
    assert '"lo-fi" is read as lofi' in result.output and "ONE genre" not in result.output


def test_explain_json_gives_the_plan_files_size_and_time(tmp_path: Path) -> None:
    spec_text = (
        f"title: Night Walk\ngenres: [pop]\nduration: 40\nseed: 7\nbpm: 100\nkey: D minor\n"
        f"video: {{styles: [spectrum, bars]}}\noutput: {{formats: [wav, mp3, flac]}}\nlyrics: |\n{SHORT_LYRICS}"
    )
    path = write(tmp_path / "walk.yaml", spec_text)
    result = CliRunner().invoke(main, ["validate", "--json", str(path)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)
    (job,) = entry["jobs"]
    plan = make_plan(load_spec(spec_text), 7)
    assert job["tempo_bpm"] == 100 and job["key"] == "D minor" and job["bars"] == plan.bars
    assert [(s["name"], s["bars"]) for s in job["form"]] == [(s.name, s.bars) for s in plan.form]
    assert job["form"][-1]["end_s"] == pytest.approx(plan.duration_s, abs=0.1)
    paths = [f["path"] for f in job["files"]]
    for name in (
        "night-walk.wav",
        "night-walk.mp3",
        "night-walk.flac",
        "stems/drums.flac",
        "stems/vocals.flac",
        "score.mid",
        "lyrics.lrc",
        "lyrics.srt",
        "video.mp4",
        "video-bars.mp4",
        "manifest.json",
    ):
        assert name in paths
    wav = next(f for f in job["files"] if f["path"] == "night-walk.wav")
    assert wav["bytes"] == pytest.approx(
        176_400 * (plan.duration_s + 2.5), rel=0.01
    )  # 16-bit stereo 44.1 kHz
    assert job["size_bytes"] == sum(f["bytes"] for f in job["files"])
    # render to encode, two videos and the singer at the measured per-second ratios
    assert 0.2 * plan.duration_s < job["time_s"] < 1.0 * plan.duration_s
    assert "2-core" in job["time_how"] and "measured" in job["size_how"]


def test_the_files_explain_lists_are_the_files_a_render_writes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "short.yaml",
        "title: Short One\ngenres: [reggae]\nduration: 8\nseed: 2\noutput: {formats: [wav, flac]}\n",
    )
    explained = CliRunner().invoke(main, ["validate", "--json", str(path)])
    (job,) = json.loads(explained.output)[0]["jobs"]
    rendered = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "out")])
    assert rendered.exit_code == 0, rendered.output
    written = {
        str(p.relative_to(tmp_path / "out"))
        for p in (tmp_path / "out").rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != "cover.jpg"
    }
    assert {f["path"] for f in job["files"]} == written
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["plan"]["tempo_bpm"] == job["tempo_bpm"]
    assert manifest["plan"]["key"] == job["key"]


# --- lyrics too long for the song -----------------------------------------------------------


@pytest.mark.parametrize("fixed", ["seed: 3\n", "bpm: 100\n", ""])
def test_validate_rejects_lyrics_too_long_with_the_section_and_bars_missing(
    tmp_path: Path, fixed: str
) -> None:
    spec = write(tmp_path / "long.yaml", f"genres: [pop]\nduration: 10\n{fixed}lyrics: |\n{LONG_LYRICS}")
    result = musicd("validate", str(spec))
    assert result.returncode == 1
    assert "long.yaml is not a valid musicd job spec" in result.stderr
    (problem,) = [line for line in result.stderr.splitlines() if line.startswith("  - lyrics:")]
    assert "bar(s) missing" in problem and "the chorus at bar 1 has 4 bars" in problem
    assert "raise `duration`" in problem and f"(line {4 if fixed else 3})" in problem
    if not fixed:
        assert "at every tempo musicd would pick" in problem


def test_lyrics_that_fit_the_form_pass_validation(tmp_path: Path) -> None:
    spec = write(tmp_path / "fits.yaml", f"genres: [pop]\nduration: 60\nlyrics: |\n{SHORT_LYRICS}")
    result = musicd("validate", str(spec))
    assert result.returncode == 0, result.stderr
    instrumental = f"genres: [pop]\nduration: 10\nvocals: {{engine: none}}\nlyrics: |\n{LONG_LYRICS}"
    assert len(load_jobs(instrumental)) == 1  # nothing is sung, so nothing must fit


def test_a_batch_names_the_job_whose_lyrics_do_not_fit(tmp_path: Path) -> None:
    text = (
        "jobs:\n  - {genres: [pop], duration: 60}\n"
        "  - genres: [pop]\n    duration: 10\n    seed: 1\n    lyrics: |\n"
        + "".join("      " + line.strip() + "\n" for line in LONG_LYRICS.splitlines())
    )
    result = CliRunner().invoke(main, ["validate", str(write(tmp_path / "batch.yaml", text))])
    assert result.exit_code == 1
    assert "  - jobs[1].lyrics: the chorus at bar 1" in result.output


def test_submit_and_the_inbox_reject_lyrics_too_long_and_no_job_exists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert musicd("init", str(home)).returncode == 0
    config = home / "config.yaml"
    spec = write(tmp_path / "long.yaml", f"genres: [pop]\nduration: 10\nseed: 4\nlyrics: |\n{LONG_LYRICS}")
    submitted = musicd("submit", "--config", str(config), str(spec))
    assert submitted.returncode == 1 and "bar(s) missing" in submitted.stderr
    assert list((home / "inbox").iterdir()) == []
    # dropped straight into the inbox: the service rejects it with the usual error file
    write(home / "inbox" / "long.yaml", spec.read_text())
    ran = musicd("run", "--once", "--config", str(config))
    assert ran.returncode == 3, ran.stdout + ran.stderr
    error = (home / "inbox" / "rejected" / "long.yaml.error.txt").read_text()
    assert "lyrics:" in error and "bar(s) missing" in error
    listed = musicd("list", "--json", "--config", str(config))
    assert json.loads(listed.stdout) == []  # no job, so nothing for `retry` to repeat


def test_the_command_line_refuses_a_huge_spec_without_reading_it_whole(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as handle:  # 5 GiB, sparse: a whole read would need 5 GiB of memory
        handle.truncate(5 * 1024**3)
    checked = musicd("validate", str(huge))
    assert checked.returncode == 1
    assert "the file is 5,120.0 MiB; a job spec may be at most 64 KiB" in checked.stderr


def test_submit_of_a_notepad_name_lands_in_the_inbox_as_yaml(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert musicd("init", str(home)).returncode == 0
    spec = write(tmp_path / "song.yaml.txt", "genres: [lofi]\nduration: 10\n")
    submitted = musicd("submit", "--config", str(home / "config.yaml"), str(spec))
    assert submitted.returncode == 0, submitted.stderr
    assert [p.name for p in (home / "inbox").iterdir()] == ["song.yaml"]


def test_the_worker_keeps_its_own_check_with_bars_missing() -> None:
    from musicd.vocals.melody import LyricsTooLongError, check_lyrics_fit

    plan = make_plan(load_spec("genres: [pop]\nduration: 10\nbpm: 100\n"), 0)
    with pytest.raises(LyricsTooLongError) as caught:
        check_lyrics_fit(LONG_LYRICS, ("en",), plan.form, plan.tempo_bpm, plan.meter)
    assert caught.value.section == "chorus" and caught.value.missing_bars > 0
    assert f"{caught.value.missing_bars} bar(s) missing" in str(caught.value)


# --- init -----------------------------------------------------------------------------------


def test_init_where_no_folder_can_be_made_prints_a_sentence() -> None:
    result = musicd("init", "/proc/musicd-cannot-be-here")
    assert result.returncode == 1
    assert result.stderr.startswith("musicd: error: cannot create /proc/musicd-cannot-be-here/")
    assert "Traceback" not in result.stderr and "choose a folder you can write to" in result.stderr


def test_init_on_an_existing_layout_says_so_plainly(tmp_path: Path) -> None:
    assert musicd("init", str(tmp_path / "home")).returncode == 0
    again = musicd("init", str(tmp_path / "home"))
    assert again.returncode == 1
    assert f"{tmp_path / 'home'} already holds a musicd layout" in again.stderr
    assert "not a valid musicd configuration" not in again.stderr


def test_init_writes_the_schema_and_an_example_outside_the_inbox(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = musicd("init", str(home))
    assert result.returncode == 0, result.stderr
    assert (home / "schema.json").read_text() == spec_json_schema_text()
    assert (home / "schema.json").read_text() == (REPO / "jobspecs" / "schema.json").read_text()
    (example,) = (home / "examples").iterdir()
    first = example.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema.json"
    schema_ref = first.split("$schema=")[1]
    # the same comment resolves from examples/ and from a copy in inbox/
    assert (example.parent / schema_ref).resolve() == (home / "schema.json")
    assert (home / "inbox" / schema_ref).resolve() == (home / "schema.json")
    assert list((home / "inbox").iterdir()) == []  # not ingested
    assert musicd("validate", str(example)).returncode == 0
    assert str(example) in result.stdout


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_checks_each_folder_is_writable_with_its_filesystem_and_free_space(tmp_path: Path) -> None:
    from musicd.doctor import folder_check
    from musicd.service.fsinfo import filesystem_of

    check = folder_check("inbox", tmp_path)
    mount = filesystem_of(tmp_path)
    assert check.ok and mount is not None
    assert f"{tmp_path}: writable; {mount.fs_type} (" in check.detail
    assert f"mounted at {mount.mount_point}" in check.detail and "GiB free" in check.detail
    assert list(tmp_path.iterdir()) == []  # the write probe leaves nothing behind


def test_doctor_fails_a_folder_it_cannot_write_or_whose_parent_is_missing(tmp_path: Path) -> None:
    from musicd.doctor import folder_check

    locked = folder_check("outbox", Path("/proc/sys"))  # a kernel folder: no new files, even for root
    assert not locked.ok and not locked.optional and "is not writable by" in locked.detail
    unmounted = folder_check("inbox", tmp_path / "share" / "inbox")
    assert not unmounted.ok and not unmounted.optional and "is the share mounted?" in unmounted.detail
    (tmp_path / "share").mkdir()
    later = folder_check("inbox", tmp_path / "share" / "inbox")
    assert not later.ok and later.optional and "the service creates it" in later.detail


def test_doctor_says_whether_the_service_is_alive(tmp_path: Path) -> None:
    from musicd.doctor import service_check

    assert not service_check(tmp_path).ok and "not running" in service_check(tmp_path).detail
    now = datetime.now(UTC).isoformat()
    status_file.write_status(tmp_path, {"pid": os.getpid(), "state": "running", "heartbeat_at": now})
    alive = service_check(tmp_path)
    assert alive.ok and f"pid {os.getpid()}" in alive.detail


def _quick_doctor_env(tmp_path: Path) -> dict[str, str]:
    # no Magenta environment: doctor would otherwise start its sidecar for a minute
    return {"MUSICD_MAGENTA_VENV": str(tmp_path / "no-magenta")}


def test_doctor_on_a_fresh_layout_reports_the_folders_and_the_service(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert musicd("init", str(home)).returncode == 0
    result = musicd("doctor", "--config", str(home / "config.yaml"), env=_quick_doctor_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    for label, folder in (("inbox", "inbox"), ("outbox", "outbox"), ("state", "state")):
        assert f"[ok  ] {label} folder: {home / folder}: writable;" in result.stdout
    assert "[warn] service: not running" in result.stdout


@pytest.mark.parametrize("name,content", [("notes.txt", "not a soundfont\n"), ("broken.sf2", "RIFF junk\n")])
def test_doctor_soundfont_rejects_what_render_rejects(tmp_path: Path, name: str, content: str) -> None:
    soundfont = write(tmp_path / name, content)
    doctor = musicd("doctor", "--soundfont", str(soundfont), env=_quick_doctor_env(tmp_path))
    assert doctor.returncode == 1
    (line,) = [line for line in doctor.stdout.splitlines() if line.startswith("[FAIL] SoundFont")]
    spec = write(tmp_path / "song.yaml", "genres: [lofi]\nduration: 5\nseed: 1\n")
    render = musicd("render", str(spec), "-o", str(tmp_path / "out"), "--soundfont", str(soundfont))
    assert render.returncode == 1
    assert line.removeprefix("[FAIL] SoundFont: ") in render.stderr  # the same reason, word for word


# --- read-only commands start fast -----------------------------------------------------------

PROBE = """
import sys
from musicd.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    assert not done.code, done.code
heavy = sorted(m for m in ("scipy", "musicd.pipeline", "musicd.music.plan") if m in sys.modules)
print("HEAVY", ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["list"], ["list", "--json"]])
def test_read_only_commands_do_not_import_scipy(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    assert musicd("init", str(home)).returncode == 0
    Store.open(home / "state").close()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *command, "--config", str(home / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY \n" in result.stderr, result.stderr
