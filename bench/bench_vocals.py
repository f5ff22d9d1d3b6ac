"""Vocal synthesis speed: seconds of work per second of sung audio, and per 60 s song.

Run: .venv/bin/python bench/bench_vocals.py
"""

from __future__ import annotations

import time

from daemon.plan import make_plan
from daemon.spec import load_spec
from daemon.vocals import sing

LYRICS = """[verse]
The city lights are calling me tonight
I walk alone beneath the silver rain
Every step is bringing me home
To the place where I belong

[chorus]
Sing it loud and sing it clear
We are here, we are here
"""


def main() -> None:
    spec = load_spec("genres: [pop]\nduration: 60\nlyrics: |\n" +
                     "".join(f"  {line}\n" for line in LYRICS.splitlines()))
    plan = make_plan(spec, 7)
    sample_rate = 44100
    n_samples = int(plan.duration_s * sample_rate)
    sing(spec.lyrics, ["en"], "low", "espeak", plan, sample_rate, n_samples, seed=7)  # warm up
    for voice in ("low", "high"):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            result = sing(spec.lyrics, ["en"], voice, "espeak", plan, sample_rate, n_samples, seed=7)
            runs.append((time.perf_counter() - start, result))
        elapsed, result = min(runs, key=lambda r: r[0])
        vocal = result.vocal
        sung_s = sum(vocal.beats_to_seconds(n.note.duration_beats) for n in vocal.notes)
        print(f"voice={voice}: song {plan.duration_s:.1f} s, sung {sung_s:.1f} s, "
              f"{sum(1 for n in vocal.notes if not n.continuation)} syllables; best of 3: "
              f"{elapsed:.2f} s total {result.timings_s} -> "
              f"{elapsed / sung_s:.3f} s per sung second, {elapsed * 60 / plan.duration_s:.2f} s per 60 s song")


if __name__ == "__main__":
    main()
