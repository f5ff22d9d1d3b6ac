"""Progress inside the long stages and cancels that interrupt them (real FluidSynth and ffmpeg).

A job reports progress between its stages' boundaries (FluidSynth by blocks, the encode stage by
file, the video from ffmpeg's `-progress`), and a cancel stops a render or kills the ffmpeg of a
video within a second or two instead of at the stage's end. `musicd status` turns the progress
into an ETA.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import musicd.pipeline.run as pipeline_run
from daemon_helpers import musicd_cli, write_config
from musicd.errors import CancelledError
from musicd.music.profiles import MixProfile
from musicd.pipeline.run import STAGE_WEIGHTS, Resources, run_job
from musicd.queue.jobs import NewJob
from musicd.queue.store import Store
from musicd.spec import load_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CANCEL_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def resources() -> Resources:
    return Resources.load()


def _spec(text: str):
    return load_spec(text, source="test.yaml")


def _ffmpeg_children() -> set[int]:
    """ffmpeg processes started by this test process (alive, not zombies)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and fields[0] not in "ZX" and b"ffmpeg" in cmdline:
            found.add(int(entry.name))
    return found


def _bounds(seen: list[tuple[str, float]], stage: str) -> tuple[float, float]:
    """The percent a stage starts and ends at (its first and last report)."""
    percents = [p for s, p in seen if s == stage]
    return percents[0], percents[-1]


def test_render_and_encode_report_progress_between_their_start_and_end(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_run, "SUB_PROGRESS_INTERVAL_S", 0.0)  # every step, not once a second
    monkeypatch.setattr(pipeline_run, "SUB_PROGRESS_MIN_STEP", 0.0)
    seen: list[tuple[str, float]] = []
    spec = _spec("genres: [rock]\nduration: 30\nseed: 5\noutput: {formats: [wav, mp3], stems: true}\n")
    run_job(spec, tmp_path, resources, progress=lambda stage, pct: seen.append((stage, pct)))
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and percents[0] == 0.0 and percents[-1] == 100.0
    for stage in ("render", "encode"):
        start, end = _bounds(seen, stage)
        inside = [p for s, p in seen if s == stage and start < p < end]
        assert len(inside) >= 2, f"{stage}: no progress between {start} and {end}: {seen}"


def test_video_progress_fills_its_share_of_the_job_at_most_once_a_second(
    resources: Resources, tmp_path: Path
) -> None:
    seen: list[tuple[float, str, float]] = []
    spec = _spec("genres: [rock]\nduration: 30\nseed: 5\nvideo: true\noutput: {stems: false}\n")
    run_job(
        spec,
        tmp_path,
        resources,
        progress=lambda stage, pct: seen.append((time.monotonic(), stage, pct)),
    )
    video = [(t, p) for t, s, p in seen if s == "video"]
    (_, start), (_, end) = video[0], video[-1]
    assert [p for _, p in video[1:-1] if start < p < end], "the video stage reported no progress inside it"
    # the stage's share of the job is its weight's share
    stages = ("plan", "compose", "render", "texture", "mix", "master", "encode", "video")
    share = 100 * STAGE_WEIGHTS["video"] / sum(STAGE_WEIGHTS[s] for s in stages)
    assert end - start == pytest.approx(share, abs=0.2)
    # throttled: the reports after the stage's start, up to its end report, are spaced out
    steps = list(zip(video, video[1:-1]))
    assert all(t2 - t1 >= pipeline_run.SUB_PROGRESS_INTERVAL_S - 0.01 for (t1, _), (t2, _) in steps)
    assert all(p2 - p1 >= pipeline_run.SUB_PROGRESS_MIN_STEP - 0.05 for (_, p1), (_, p2) in steps)


def test_cancel_during_the_video_kills_ffmpeg_within_two_seconds(
    resources: Resources, tmp_path: Path
) -> None:
    asked: list[float] = []

    def progress(stage: str, percent: float) -> None:
        if stage == "video" and not asked and _ffmpeg_children():
            asked.append(time.monotonic())  # cancel once ffmpeg is rendering the video

    spec = _spec("genres: [house]\nduration: 120\nseed: 2\nvideo: true\noutput: {stems: false}\n")
    with pytest.raises(CancelledError, match="during the video stage"):
        run_job(spec, tmp_path, resources, progress=progress, should_cancel=lambda: bool(asked))
    took_s = time.monotonic() - asked[0]
    assert took_s < CANCEL_WITHIN_S, f"the cancel took {took_s:.2f} s"
    assert not _ffmpeg_children()
    assert not list(tmp_path.glob("video*")) and not (tmp_path / "manifest.json").exists()


def test_cancel_during_the_render_stops_fluidsynth_within_two_seconds(resources: Resources) -> None:
    from musicd.engines.melody_choice import compose_with_melody
    from musicd.music.plan import make_plan

    spec = _spec("genres: [jazz]\nduration: 240\nseed: 3\n")
    plan = make_plan(spec, 3)
    score, _ = compose_with_melody(plan, spec.engines.melody, resources.models)
    fractions: list[float] = []
    asked: list[float] = []

    class Stop(Exception):
        pass

    def progress(fraction: float) -> None:
        fractions.append(fraction)
        if asked:
            raise Stop
        if fraction > 0.05:
            asked.append(time.monotonic())

    with pytest.raises(Stop):
        resources.renderer.render(score, plan.mix, progress)
    took_s = time.monotonic() - asked[0]
    assert took_s < CANCEL_WITHIN_S and max(fractions) < 0.5
    # the synths are free again: the next render runs whole, its progress rising to the end
    whole: list[float] = []
    stems = resources.renderer.render(score, MixProfile(), whole.append)
    assert stems and whole == sorted(whole) and 0.9 < whole[-1] <= 1.0


def test_status_shows_elapsed_time_and_an_eta_that_follows_progress_inside_a_stage(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    started = time.time()
    store = Store.open(tmp_path / "state")
    try:
        (job,) = store.add_jobs(
            [NewJob(title="eta", source_name="eta.yaml", spec_text="title: eta\n", spec_hash="0", seed=1)]
        )
        store.claim_next()
        store.record_progress(job.id, "video", 40.0)
        shown = json.loads(musicd_cli("status", "--config", str(config), "--json").stdout)
        for percent in (50.0, 60.0, 80.0):
            store.record_progress(job.id, "video", percent)
        later = json.loads(musicd_cli("status", "--config", str(config), "--json").stdout)
        text = musicd_cli("status", "--config", str(config)).stdout
        history = musicd_cli("status", "--config", str(config), job.id).stdout
    finally:
        store.close()
    (first,), (second,) = shown["jobs"], later["jobs"]
    elapsed_bound = time.time() - started + 1
    assert 0 <= first["elapsed_s"] <= elapsed_bound
    assert first["eta_s"] == pytest.approx(first["elapsed_s"] * 60 / 40, abs=0.2)
    assert second["eta_s"] == pytest.approx(second["elapsed_s"] * 20 / 80, abs=0.2)
    assert f"{job.short_id} running for" in text and "left (video 80%)" in text
    # a job's history keeps a stage's first and last progress rows, not every step between
    rows = [line for line in history.splitlines() if "[video " in line]
    assert [line.split("[video ")[1] for line in rows] == ["40%]", "80%]"]


RENDER_SPEC = "title: Bar\ngenres: [ambient]\nduration: 6\nseed: 1\noutput: {stems: false}\n"


def test_render_prints_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "bar.yaml"
    spec.write_text(RENDER_SPEC)
    result = musicd_cli("render", str(spec), "-o", str(tmp_path / "out"), timeout_s=240)
    assert result.returncode == 0, result.stderr
    steps = [
        (words[1], float(words[0][:-1]))
        for words in (line.split() for line in result.stderr.splitlines())
        if len(words) == 2 and words[0].endswith("%")
    ]
    assert steps[0] == ("plan", 0.0) and steps[-1] == ("encode", 100.0)
    assert "\x1b[" not in result.stderr  # no terminal control codes in a log file


def test_render_draws_a_progress_bar_with_log_lines_above_it_on_a_terminal(tmp_path: Path) -> None:
    import pty
    import subprocess
    import sys

    from daemon_helpers import REPO_DIR, _env

    spec = tmp_path / "bar.yaml"
    spec.write_text(RENDER_SPEC)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from musicd.cli import main; main()",
            "render",
            str(spec),
            "-o",
            str(tmp_path / "o"),
        ],
        cwd=REPO_DIR,
        env={**_env(None), "COLUMNS": "120", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert proc.wait(240) == 0
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "━" in shown and "100%" in shown and "Bar" in shown  # rich's bar, at its end
    assert "rendered 'Bar'" in shown  # a log line of the pipeline, printed above the bar
    assert "  0.0%  plan" not in shown  # not the plain lines
