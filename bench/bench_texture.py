"""Benchmark the texture stage: `python bench/bench_texture.py [--quick]`.

Prints
  1. procedural texture speed (seconds of CPU per minute of audio) for a few genres
     and lengths (target: well under 0.2 s per minute);
  2. cold vs warm texture jobs through one ModelCache with the tiny random-weight
     Riffusion and MusicGen models (built offline in a temp folder) on the CPU: the
     cold job pays the load, the warm one must show a cache hit and no load time;
  3. the same through the real worker process (WorkerSupervisor, the real pipeline, a
     5 s song): whole-job seconds, the texture stage, load seconds and cache hits as
     each job's manifest records them.

Needs the ml extra for parts 2 and 3 (skipped with a note otherwise).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_DIR / "tests"), str(REPO_DIR)]

from musicd.engines import ModelCache, TextureRequest, parse_engine_config  # noqa: E402
from musicd.engines.texture_procedural import render_procedural_texture  # noqa: E402
from musicd.music.sections import Section  # noqa: E402


def song(
    genres: tuple[str, ...], duration_s: float, tempo_bpm: float = 120.0, seed: int = 1
) -> TextureRequest:
    bar_s = 240.0 / tempo_bpm
    bars = max(1, round(duration_s / bar_s))
    quarter = max(1, bars // 4)
    sections = (
        Section("intro", 0, quarter, 0.3),
        Section("verse", quarter, quarter, 0.5),
        Section("chorus", 2 * quarter, quarter, 0.9),
        Section("outro", 3 * quarter, bars - 3 * quarter, 0.4),
    )
    return TextureRequest(
        prompt="",
        genres=genres,
        moods=("warm",),
        tempo_bpm=tempo_bpm,
        key_tonic="D",
        mode="minor",
        meter=(4, 4),
        sections=sections,
        duration_s=bars * bar_s,
        sample_rate=44100,
        seed=seed,
    )


def bench_procedural(repeats: int) -> None:
    print("procedural texture (numpy/scipy, one process, this machine's load included)")
    print(f"  {'genres':<22} {'length':>8} {'best s':>8} {'median s':>9} {'s per minute':>13}")
    for genres in (("lofi",), ("house",), ("ambient",), ("cinematic", "trance"), ("rock",)):
        for duration_s in (60.0, 180.0):
            request = song(genres, duration_s)
            render_procedural_texture(request)
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                render_procedural_texture(request)
                times.append(time.perf_counter() - started)
            best, median = min(times), statistics.median(times)
            print(
                f"  {'+'.join(genres):<22} {request.duration_s:>7.0f}s {best:>8.3f} {median:>9.3f} "
                f"{best * 60 / request.duration_s:>13.3f}"
            )


def bench_neural(quick: bool) -> None:
    missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"\nneural engines skipped: {', '.join(missing)} not installed (pip install -e '.[ml]')")
        return
    from musicd.engines.musicgen import MusicGenEngine
    from musicd.engines.riffusion import RiffusionEngine
    from tiny_models import build_tiny_musicgen, build_tiny_riffusion

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        riffusion_dir = build_tiny_riffusion(Path(tmp) / "riffusion")
        musicgen_dir = build_tiny_musicgen(Path(tmp) / "musicgen")
        print(
            f"\ntiny models built offline in {time.perf_counter() - started:.1f} s "
            "(first diffusers/transformers import included)"
        )
        config = parse_engine_config(
            {
                "riffusion": {
                    "path": str(riffusion_dir),
                    "steps": 2,
                    "clip_width_px": 128,
                    "griffin_lim_iters": 8,
                },
                "musicgen": {"path": str(musicgen_dir), "window_s": 2.0, "prompt_s": 0.5},
            }
        )
        request = song(("lofi",), 8.0 if quick else 16.0)
        cache = ModelCache.from_settings(config.cache)
        print(
            f"cold vs warm texture jobs, CPU (1 torch thread), tiny models, {request.duration_s:.0f} s song"
        )
        print(f"  {'engine':<10} {'job':<5} {'total s':>8} {'load s':>7} {'cache hit':>9}")
        for engine in (RiffusionEngine(config), MusicGenEngine(config)):
            for label in ("cold", "warm"):
                with cache.recording() as uses:
                    started = time.perf_counter()
                    audio = engine.generate(request, cache)
                    total = time.perf_counter() - started
                assert audio.shape == (request.n_samples, 2)
                load_s = sum(u.load_s for u in uses)
                hit = all(u.cache_hit for u in uses)
                print(f"  {engine.name:<10} {label:<5} {total:>8.2f} {load_s:>7.2f} {str(hit):>9}")
                if label == "warm" and (load_s != 0.0 or not hit):
                    raise SystemExit("warm job loaded a model: the cache did not keep it resident")
        print(
            f"  resident: {', '.join(k.engine for k in cache.resident())} "
            f"({cache.resident_bytes() / 1e6:.1f} MB), loads {cache.loads}, evictions {cache.evictions}"
        )
        bench_through_worker(riffusion_dir, musicgen_dir, Path(tmp) / "jobs")


def _wait_for(supervisor, done, timeout_s: float = 300.0) -> list:
    """The worker's messages until `done(messages)`; SystemExit if the worker dies or stalls."""
    from multiprocessing.connection import wait

    from musicd.worker import WorkerDied, WorkerStartFailed

    messages: list = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        wait(supervisor.wait_handles(), timeout=0.2)
        messages += supervisor.poll()
        failed = [m for m in messages if isinstance(m, (WorkerDied, WorkerStartFailed))]
        if failed:
            raise SystemExit(f"worker failed: {failed[0]}")
        if done(messages):
            return messages
    raise SystemExit(f"the worker did not answer in {timeout_s:.0f} s")


def bench_through_worker(riffusion_dir: Path, musicgen_dir: Path, jobs_dir: Path) -> None:
    """Cold and warm real jobs through one resident worker process, as the service runs them."""
    from musicd.worker import JobFailed, JobSucceeded, RunJob, WorkerSupervisor

    engines = parse_engine_config(
        {
            "riffusion": {
                "path": str(riffusion_dir),
                "steps": 2,
                "clip_width_px": 128,
                "griffin_lim_iters": 8,
            },
            "musicgen": {"path": str(musicgen_dir), "window_s": 2.0, "prompt_s": 0.5},
        }
    )
    supervisor = WorkerSupervisor(heartbeat_interval_s=0.5, resources_kwargs={"engines": engines})
    started = time.perf_counter()
    supervisor.start()
    _wait_for(supervisor, lambda _: supervisor.ready)
    print(
        f"\ncold vs warm jobs through the worker process (real pipeline, 5 s song, CPU); "
        f"worker ready in {time.perf_counter() - started:.2f} s"
    )
    print(f"  {'engine':<10} {'job':<5} {'job s':>7} {'texture s':>10} {'load s':>7} {'cache hit':>9}")
    try:
        for engine in ("riffusion", "musicgen"):
            for label in ("cold", "warm"):
                job_id = f"{engine}-{label}"
                spec = (
                    f"title: {job_id}\ngenres: [lofi]\nduration: 5\nseed: 3\n"
                    f"output: {{stems: false}}\nengines: {{texture: {engine}}}\n"
                )
                order = RunJob(job_id=job_id, spec_text=spec, seed=3, out_dir=str(jobs_dir / job_id))
                started = time.perf_counter()
                supervisor.submit(order, 600.0)
                messages = _wait_for(
                    supervisor,
                    lambda ms: any(
                        isinstance(m, (JobSucceeded, JobFailed)) and m.job_id == job_id for m in ms
                    ),
                )
                total = time.perf_counter() - started
                failed = [m for m in messages if isinstance(m, JobFailed)]
                if failed:
                    raise SystemExit(f"{job_id} failed: {failed[0].error}")
                manifest = json.loads((jobs_dir / job_id / "manifest.json").read_text())
                uses = manifest["engines"]["texture"]["models"]
                load_s = sum(u["load_s"] for u in uses)
                hit = bool(uses) and all(u["cache_hit"] for u in uses)
                print(
                    f"  {engine:<10} {label:<5} {total:>7.2f} {manifest['timings_s']['texture']:>10.2f} "
                    f"{load_s:>7.2f} {str(hit):>9}"
                )
                if label == "warm" and (load_s != 0.0 or not hit):
                    raise SystemExit("warm job loaded a model: the worker did not keep it resident")
    finally:
        supervisor.stop(grace_s=10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a shorter neural song")
    args = parser.parse_args()
    bench_procedural(3 if args.quick else 7)
    bench_neural(args.quick)


if __name__ == "__main__":
    main()
