"""Per-stage seconds and real-time factor of whole renders, warm (SoundFont already loaded).

    .venv/bin/python bench/bench_render.py [--repeats 3] [--durations 15 60 180] [--no-video]
        [--genre house]

Prints a table: track length, video or not, median seconds per stage, total and the
real-time factor (seconds of music per second of work), plus peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from musicd.pipeline import Resources, run_job
from musicd.spec import load_spec

SPEC = """title: Benchmark
genres: [{genre}]
duration: {duration}
seed: 42
output: {{formats: [wav], stems: true, midi: true}}
{video}"""
STAGES = ("plan", "compose", "render", "texture", "mix", "master", "encode", "video")


def bench_one(
    resources: Resources, duration_s: int, video: bool, genre: str, repeats: int
) -> dict[str, float]:
    """Median per-stage seconds (and total) over `repeats` renders."""
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        text = SPEC.format(
            genre=genre, duration=duration_s, video="video: {styles: [spectrum]}\n" if video else ""
        )
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            result = run_job(load_spec(text), Path(out), resources)
            timings = dict(result.manifest["timings_s"])
            timings["total"] = time.perf_counter() - started
        runs.append(timings)
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in (*STAGES, "total")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=int, nargs="+", default=[15, 60, 180])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--genre", default="house")
    parser.add_argument("--no-video", action="store_true", help="only the renders without video")
    args = parser.parse_args()

    started = time.perf_counter()
    resources = Resources.load()
    print(f"SoundFont load: {time.perf_counter() - started:.2f} s (once per worker)")
    run_job(
        load_spec(SPEC.format(genre=args.genre, duration=10, video="")), Path(tempfile.mkdtemp()), resources
    )  # warm-up: caches, imports

    header = ["length", "video", *STAGES, "total", "x real time"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for duration in args.durations:
        for video in (False,) if args.no_video else (False, True):
            row = bench_one(resources, duration, video, args.genre, args.repeats)
            cells = [
                f"{duration} s",
                "yes" if video else "no",
                *(f"{row[s]:.2f}" for s in STAGES),
                f"{row['total']:.2f}",
                f"{duration / row['total']:.1f}x",
            ]
            print(" | ".join(cells), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB; median of {args.repeats} runs, genre {args.genre}")


if __name__ == "__main__":
    main()
