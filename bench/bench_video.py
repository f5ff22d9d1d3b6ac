"""Real-time factor of each visualizer style on a 60 s input (median of 3 runs).

    .venv/bin/python bench/bench_video.py [--duration 60] [--runs 3] [--audio some.wav]

The input is a synthetic stereo mix (chords, a beat, noise) unless --audio is given.
Real-time factor = audio duration / wall time to render the whole MP4; the CPU
seconds ffmpeg used are printed too, since wall time depends on what else runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicd.media.cover import render_cover  # noqa: E402
from musicd.media.video import VIDEO_STYLES, render_video  # noqa: E402
from musicd.music.profiles import VideoProfile  # noqa: E402

SAMPLE_RATE = 44100


def synth_mix(path: Path, duration_s: float, seed: int = 7) -> None:
    """Chords that swell, a kick-and-noise beat, a little stereo delay."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SAMPLE_RATE * duration_s)) / SAMPLE_RATE
    mix = np.zeros_like(t)
    for i, freq_hz in enumerate((110.0, 220.0, 277.18, 329.63, 440.0, 659.26)):
        swell = 0.5 + 0.5 * np.sin(2 * np.pi * t * (0.25 + 0.07 * i))
        mix += 0.12 * swell * np.sin(2 * np.pi * freq_hz * t)
    beat_phase = (t * 2.0) % 1.0
    mix += 0.6 * np.exp(-beat_phase * 18) * np.sin(2 * np.pi * 55 * t)
    mix += 0.15 * np.exp(-((t * 4.0) % 1.0) * 30) * rng.normal(0, 1, t.size)
    stereo = np.stack([mix, np.roll(mix, 331) * 0.9], axis=1)
    stereo /= np.abs(stereo).max() * 1.12
    sf.write(path, stereo.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of synthetic audio")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--audio", type=Path, help="use this file instead of synthetic audio")
    parser.add_argument("--styles", nargs="*", default=list(VIDEO_STYLES))
    args = parser.parse_args()

    profile = VideoProfile()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        audio = args.audio
        if audio is None:
            audio = tmp_dir / "bench.wav"
            synth_mix(audio, args.duration)
        duration_s = sf.info(str(audio)).duration
        print(f"input: {audio.name}, {duration_s:.1f} s; {args.runs} runs per style")
        print(f"{'style':<10} {'median wall s':>14} {'x real time':>12} {'ffmpeg CPU s':>13} {'MB':>6}")
        for style in args.styles:
            walls, cpus = [], []
            out = tmp_dir / f"{style}.mp4"
            for _ in range(args.runs):
                cpu0, wall0 = children_cpu_s(), time.perf_counter()
                render_video(audio, out, style=style, title="Benchmark: 60 s", profile=profile)
                walls.append(time.perf_counter() - wall0)
                cpus.append(children_cpu_s() - cpu0)
            wall = statistics.median(walls)
            print(
                f"{style:<10} {wall:>14.2f} {duration_s / wall:>12.1f} "
                f"{statistics.median(cpus):>13.2f} {out.stat().st_size / 1e6:>6.1f}"
            )
        covers = []
        for _ in range(args.runs):
            wall0 = time.perf_counter()
            render_cover(audio, tmp_dir / "cover.png", title="Benchmark: 60 s", profile=profile)
            covers.append(time.perf_counter() - wall0)
        print(f"{'cover':<10} {statistics.median(covers):>14.2f}")


if __name__ == "__main__":
    main()
