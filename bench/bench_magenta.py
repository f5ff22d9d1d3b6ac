"""The Magenta melody engine: sidecar cold start, melody seconds per minute of music, sidecar RSS,
and a score-level comparison of the two melody engines on the same plans (what `auto` picks
is decided by bench_magenta_listen.py, which transcribes the rendered stems).

    .venv/bin/python bench/bench_magenta.py [--seeds 3] [--genres folk pop lofi jazz]

Needs .magenta-venv and the bundle (`make magenta-env`); prints why not otherwise.
Analysis per melody (after fitting; the same plan for both engines):
  raw in-key   share of the model's own notes already in the planned key before fitting
  chord tones  share of strong-beat notes on the sounding chord's tones (100 % for magenta
               by construction: the fitting step puts them there; not evidence about the model)
  steps        share of intervals of at most 2 semitones (stepwise motion)
  leaps        share of intervals wider than 7 semitones
  bar rhythm   share of bars whose onset pattern repeats an earlier bar of its section
"""

from __future__ import annotations

import argparse
import statistics
import time

from musicd.engines.cache import ModelCache
from musicd.engines.magenta_sidecar import MagentaSidecar, SidecarCommand
from musicd.engines.melody_choice import compose_with_melody
from musicd.engines.melody_magenta import MagentaPaths
from musicd.music.compose.harmony import Context, make_context
from musicd.music.plan import Plan, make_plan
from musicd.music.score import Note, Score
from musicd.spec import load_spec


def cold_start(paths: MagentaPaths) -> tuple[float, int]:
    started = time.perf_counter()
    sidecar = MagentaSidecar.launch(SidecarCommand(paths.python, paths.server, paths.bundle))
    seconds = time.perf_counter() - started
    rss = sidecar.resident_bytes()
    sidecar.release_resident()
    return seconds, rss


def analyse(plan: Plan, ctx: Context, score: Score) -> dict[str, float]:
    notes: list[Note] = list(score.track("melody").notes)
    bar = ctx.beats_per_bar
    strong = [n for n in notes if abs(n.start_beat % bar) < 1e-6 or abs(n.start_beat % 2) < 1e-6]
    chord = [n for n in strong if n.pitch % 12 in ctx.chord_at(n.start_beat).chord.tones]
    intervals = [abs(b.pitch - a.pitch) for a, b in zip(notes, notes[1:])]
    repeats = total = 0
    for section in plan.form:
        seen: set[tuple[float, ...]] = set()
        for k in range(section.bars):
            start = (section.start_bar + k) * bar
            pattern = tuple(
                round(n.start_beat - start, 2) for n in notes if start <= n.start_beat < start + bar
            )
            if not pattern:
                continue
            total += 1
            repeats += pattern in seen
            seen.add(pattern)
    return {
        "chord tones": len(chord) / max(len(strong), 1),
        "steps": sum(i <= 2 for i in intervals) / max(len(intervals), 1),
        "leaps": sum(i > 7 for i in intervals) / max(len(intervals), 1),
        "bar rhythm": repeats / max(total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--genres", nargs="+", default=["folk", "pop", "lofi", "jazz"])
    parser.add_argument("--duration", type=int, default=60)
    args = parser.parse_args()
    paths = MagentaPaths.discover()
    status = paths.availability()
    if not status.usable:
        print(f"magenta is not usable here: {status.reason}")
        return
    seconds, rss = cold_start(paths)
    print(f"sidecar cold start: {seconds:.1f} s; RSS after load {rss / 1e6:.0f} MB")

    cache = ModelCache()
    per_minute: list[float] = []
    rows: dict[str, dict[str, list[float]]] = {"rules": {}, "magenta": {}}
    raw: list[float] = []
    rss_warm = 0.0
    for genre in args.genres:
        for seed in range(1, args.seeds + 1):
            text = f"genres: [{genre}]\nduration: {args.duration}\n"
            plan = make_plan(load_spec(text, source="bench.yaml"), seed)
            ctx = make_context(plan)
            for engine in ("rules", "magenta"):
                score, record = compose_with_melody(plan, engine, cache)
                if engine == "magenta":
                    if record["used"] != "magenta":
                        print(f"magenta fell back: {record['reason']}")
                        return
                    if record["cache_hit"]:
                        per_minute.append(record["generate_s"] / (score.duration_s / 60.0))
                    raw.append(record["raw_in_key_share"])
                    rss_warm = record["sidecar_rss_mb"]
                for name, value in analyse(plan, ctx, score).items():
                    rows[engine].setdefault(name, []).append(value)
    cache.unload_all()
    if per_minute:
        print(
            f"melody generation (warm): {statistics.median(per_minute):.2f} s per minute of music "
            f"(median of {len(per_minute)}, {args.duration} s songs)"
        )
    print(f"sidecar RSS after {len(raw)} melodies: {rss_warm:.0f} MB")
    print(f"\n{len(args.genres)} genres x {args.seeds} seeds, {args.duration} s each; medians")
    names = list(rows["rules"])
    print(f"{'engine':8s} {'raw in-key':>10s} " + " ".join(f"{n:>11s}" for n in names))
    for engine, values in rows.items():
        first = f"{statistics.median(raw):10.2f}" if engine == "magenta" else f"{'-':>10s}"
        print(f"{engine:8s} {first} " + " ".join(f"{statistics.median(values[n]):11.2f}" for n in names))


if __name__ == "__main__":
    main()
