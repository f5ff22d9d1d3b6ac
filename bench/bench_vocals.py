"""Vocal synthesis speed for a 60 s pop song: the whole vocals stage and its parts (melody,
singing, bus), median of several runs, plus the vocal bus alone on the same dry take.

Run: .venv/bin/python bench/bench_vocals.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from musicd.music.plan import make_plan
from musicd.spec import load_spec
from musicd.vocals import sing
from musicd.vocals.bus import process_vocal_bus

LYRICS = """[verse]
The city lights are calling me tonight
I walk alone beneath the silver rain
Every step is bringing me home
To the place where I belong

[chorus]
Sing it loud and sing it clear
We are here, we are here
"""
SAMPLE_RATE = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per voice (median)")
    args = parser.parse_args()
    spec = load_spec(
        "genres: [pop]\nduration: 60\nlyrics: |\n" + "".join(f"  {line}\n" for line in LYRICS.splitlines())
    )
    plan = make_plan(spec, 7)
    n_samples = int(plan.duration_s * SAMPLE_RATE)
    sing(spec.lyrics, ["en"], "low", "espeak", plan, SAMPLE_RATE, n_samples, seed=7)  # warm up
    for voice in ("low", "high"):
        totals: list[float] = []
        parts: dict[str, list[float]] = {}
        for _ in range(args.runs):
            start = time.perf_counter()
            result = sing(spec.lyrics, ["en"], voice, "espeak", plan, SAMPLE_RATE, n_samples, seed=7)
            totals.append(time.perf_counter() - start)
            for name, seconds in result.timings_s.items():
                parts.setdefault(name, []).append(seconds)
        vocal = result.vocal
        sung_s = sum(vocal.beats_to_seconds(n.note.duration_beats) for n in vocal.notes)
        total = statistics.median(totals)
        medians = {name: round(statistics.median(values), 3) for name, values in parts.items()}
        print(
            f"voice={voice}: song {plan.duration_s:.1f} s, sung {sung_s:.1f} s, "
            f"{sum(1 for n in vocal.notes if not n.continuation)} syllables; median of "
            f"{args.runs}: {total:.2f} s total {medians} (min {min(totals):.2f}, max "
            f"{max(totals):.2f}) -> {total / sung_s:.3f} s per sung second, "
            f"{total * 60 / plan.duration_s:.2f} s per 60 s song"
        )
    from musicd.vocals.espeak import speak
    from musicd.vocals.singing import sing_vocal_line

    dry = sing_vocal_line(result.vocal, speak, SAMPLE_RATE, n_samples)
    bus_runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        process_vocal_bus(dry, SAMPLE_RATE, plan.genres, plan.tempo_bpm)
        bus_runs.append(time.perf_counter() - start)
    print(
        f"vocal bus alone ({'/'.join(plan.genres)}, {len(dry) / SAMPLE_RATE:.0f} s at "
        f"{SAMPLE_RATE} Hz): median of {args.runs}: {statistics.median(bus_runs):.3f} s "
        f"(min {min(bus_runs):.3f}, max {max(bus_runs):.3f})"
    )


if __name__ == "__main__":
    main()
