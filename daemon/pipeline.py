"""One job from spec to finished folder: plan, compose, render, mix, master, encode, video.

Stages are plain functions of their inputs; this module sequences them, writes files at the
edges, reports progress and checks for cancellation between stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daemon import __version__
from daemon.compose import compose
from daemon.cover import render_cover
from daemon.encode import encode_audio, write_wav
from daemon.errors import CancelledError
from daemon.loudness import measure_file_loudness, measure_loudness
from daemon.manifest import write_manifest
from daemon.mastering import master
from daemon.midi import score_to_midi
from daemon.mixing import mix_stems
from daemon.plan import Plan, make_plan
from daemon.render import FluidRenderer
from daemon.score import Score
from daemon.seeding import draw_seed
from daemon.soundfont import default_soundfont
from daemon.spec import JobSpec
from daemon.tools import ffmpeg_version
from daemon.video import render_video

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
KICK_PITCHES = frozenset({35, 36})
STEM_HEADROOM_DB = -0.3  # stems keep their common gain; this is the most any may peak

# Share of the whole job each stage takes, for progress percentages.
STAGE_WEIGHTS = {"plan": 1, "compose": 2, "render": 30, "mix": 8, "master": 10, "encode": 9,
                 "video": 40}

ProgressFn = Callable[[str, float], None]


@dataclass
class Resources:
    """What a worker keeps resident between jobs: the SoundFont, loaded once."""

    renderer: FluidRenderer

    @classmethod
    def load(cls, soundfont: Path | None = None) -> Resources:
        return cls(renderer=FluidRenderer(soundfont or default_soundfont(), SAMPLE_RATE))


@dataclass(frozen=True)
class JobResult:
    out_dir: Path
    manifest: dict[str, Any]
    seed: int


@dataclass
class _Stages:
    """Progress, cancellation and per-stage timings for one run."""

    stages: tuple[str, ...]
    progress: ProgressFn | None
    should_cancel: Callable[[], bool] | None
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.should_cancel is not None and self.should_cancel():
            raise CancelledError(f"cancelled before the {name} stage")
        self._report(name, done=False)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self._report(name, done=True)

    def _report(self, name: str, *, done: bool) -> None:
        if self.progress is None:
            return
        total = sum(STAGE_WEIGHTS.get(s, 1) for s in self.stages)
        index = self.stages.index(name) + (1 if done else 0)
        finished = sum(STAGE_WEIGHTS.get(s, 1) for s in self.stages[:index])
        self.progress(name, round(100.0 * finished / total, 1))


def kick_times_s(score: Score) -> list[float]:
    """Onsets of kick drums, which trigger sidechain ducking."""
    drums = next((t for t in score.tracks if t.is_drums), None)
    if drums is None:
        return []
    return sorted({score.beats_to_seconds(n.start_beat) for n in drums.notes
                   if n.pitch in KICK_PITCHES})


def run_job(spec: JobSpec, out_dir: Path, resources: Resources, *, seed: int | None = None,
            progress: ProgressFn | None = None, should_cancel: Callable[[], bool] | None = None,
            manifest_extra: Mapping[str, Any] | None = None,
            spec_bytes: bytes | None = None) -> JobResult:
    """Render `spec` into `out_dir` (created if needed); manifest.json is written last."""
    seed = seed if seed is not None else spec.seed if spec.seed is not None else draw_seed()
    names = ("plan", "compose", "render", "mix", "master", "encode")
    stages = _Stages(names + (("video",) if spec.video is not None else ()), progress, should_cancel)
    out_dir.mkdir(parents=True, exist_ok=True)

    with stages.stage("plan"):
        plan = make_plan(spec, seed)
        video_styles = spec.video.styles_or(plan.video.default_style) if spec.video else ()
    with stages.stage("compose"):
        score = compose(plan)
        midi_bytes = score_to_midi(score)
    with stages.stage("render"):
        stems = resources.renderer.render(score, plan.mix)
    with stages.stage("mix"):
        stems = mix_stems(stems, plan.mix, SAMPLE_RATE, kick_times_s(score))
        mix = np.sum(list(stems.values()), axis=0)
    with stages.stage("master"):
        mastered = master(mix, SAMPLE_RATE, spec.master.loudness_lufs, spec.master.true_peak_db)
    with stages.stage("encode"):
        files = _write_audio(out_dir, spec, stems, mastered, midi_bytes, spec_bytes, seed)
        cover_title = spec.display_title
        render_cover(files["wav"], out_dir / "cover.png", title=cover_title, profile=plan.video)
    if video_styles:
        with stages.stage("video"):
            for index, style in enumerate(video_styles):
                name = "video.mp4" if index == 0 else f"video-{style}.mp4"
                render_video(files["wav"], out_dir / name, style=style, title=cover_title,
                             profile=plan.video)

    manifest = _manifest(spec, plan, score, seed, resources, mastered, files["wav"],
                         stages.seconds, manifest_extra)
    write_manifest(out_dir, manifest)
    log.info("rendered %r into %s in %.2f s", cover_title, out_dir, sum(stages.seconds.values()))
    return JobResult(out_dir=out_dir, manifest=manifest, seed=seed)


def _write_audio(out_dir: Path, spec: JobSpec, stems: dict[str, np.ndarray], mastered: Any,
                 midi_bytes: bytes, spec_bytes: bytes | None, seed: int) -> dict[str, Path]:
    """mix.wav and the other formats, stems at the master's gain, score.mid and spec.yaml."""
    wav = out_dir / "mix.wav"
    write_wav(wav, mastered.audio, SAMPLE_RATE, bits=16, rng=np.random.default_rng(seed))
    files = {"wav": wav}
    for fmt in spec.output.formats:
        if fmt != "wav":
            files[fmt] = encode_audio(wav, out_dir / f"mix.{fmt}", fmt)
    if spec.output.stems:
        stem_dir = out_dir / "stems"
        stem_dir.mkdir(exist_ok=True)
        gain = 10 ** (mastered.gain_db / 20)
        peak = max(float(np.max(np.abs(s))) for s in stems.values()) * gain
        gain *= min(1.0, 10 ** (STEM_HEADROOM_DB / 20) / peak) if peak > 0 else 1.0
        for name, audio in stems.items():
            write_wav(stem_dir / f"{name}.wav", audio * gain, SAMPLE_RATE, bits=24)
    if spec.output.midi:
        (out_dir / "score.mid").write_bytes(midi_bytes)
    if spec_bytes is not None:
        (out_dir / "spec.yaml").write_bytes(spec_bytes)
    return files


def _manifest(spec: JobSpec, plan: Plan, score: Score, seed: int, resources: Resources,
              mastered: Any, wav: Path, seconds: dict[str, float],
              extra: Mapping[str, Any] | None) -> dict[str, Any]:
    internal = measure_loudness(mastered.audio, SAMPLE_RATE)
    measured = measure_file_loudness(wav)
    renderer = resources.renderer
    return {
        "status": "done",
        "musicd_version": __version__,
        **dict(extra or {}),
        "title": spec.display_title,
        "seed": seed,
        "spec": spec.to_dict(),
        "plan": plan.to_dict(),
        "engines": {
            "compose": {"asked": spec.engines.melody, "used": "rules",
                        "reason": _melody_reason(spec.engines.melody)},
            "render": {"asked": "fluidsynth", "used": "fluidsynth", "reason": ""},
            "texture": {"asked": spec.engines.texture, "used": "none",
                        "reason": "no texture engine is installed in this version"},
            "vocals": {"asked": spec.vocals.engine if spec.lyrics else "none", "used": "none",
                       "reason": "lyrics are recorded; singing is not available in this version"
                       if spec.lyrics else "the spec has no lyrics"},
        },
        "audio": {
            "duration_s": round(len(mastered.audio) / SAMPLE_RATE, 3),
            "music_duration_s": round(score.duration_s, 3),
            "sample_rate": SAMPLE_RATE,
            "target_lufs": spec.master.loudness_lufs,
            "target_true_peak_db": spec.master.true_peak_db,
            "master_gain_db": round(mastered.gain_db, 2),
            "limiter_reduction_db": round(mastered.limiter_reduction_db, 2),
        },
        "loudness": {
            "integrated_lufs": round(measured.integrated_lufs, 2),
            "true_peak_db": round(measured.true_peak_db, 2),
            "lra": round(measured.lra, 2),
            "measured_by": "ffmpeg ebur128 (peak=true) on mix.wav",
            "pyloudnorm_integrated_lufs": round(internal.integrated_lufs, 2),
        },
        "timings_s": seconds,
        "versions": {
            "musicd": __version__,
            "fluidsynth": renderer.fluidsynth_version,
            "ffmpeg": ffmpeg_version(),
            "soundfont": renderer.soundfont.name,
        },
    }


def _melody_reason(asked: str) -> str:
    if asked in ("auto", "rules"):
        return ""
    return f"the {asked} melody engine is not available in this version; used the rule-based composer"
