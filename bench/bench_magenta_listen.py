"""Listening with analysis: the same specs rendered with `melody: rules` and `melody: magenta`,
the rendered melody stem transcribed independently (librosa pyin), and the two compared.

    .venv/bin/python bench/bench_magenta_listen.py [--genres folk pop lofi] [--seeds 2] [--duration 30]

Needs .magenta-venv and the bundle (`make magenta-env`); prints why not otherwise.
Per song and engine, from the transcription of stems/melody.flac (the score is not read):
  in key      share of transcribed note time whose pitch class is in the planned key
  range       semitones between the 5th and 95th percentile of the transcribed pitches
  steps       share of intervals between transcribed notes of at most 2 semitones
  leaps       share of intervals wider than 7 semitones
  turns       share of notes where the contour changes direction
  repeats     share of 3-interval figures heard earlier in the song (motivic repetition)
and how well the transcription agrees with the score's melody:
  heard       share of the score's melody time where pyin hears that pitch (within 50 cents,
              octave errors counted as misses)
  raw in-key  (magenta only) share of the model's own notes in the key before fitting.
The fitting step puts every magenta note in the scale and every strong-beat note on a chord
tone, so "strong beats on chord tones" is 100 % for both engines by construction and proves
nothing about the model; it is not reported. In-key after fitting is near 100 % for the same
reason; only the raw in-key share is the model's own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from musicd.engines.melody_magenta import MagentaPaths
from musicd.music.compose.harmony import make_context
from musicd.music.plan import make_plan
from musicd.pipeline import Resources, run_job
from musicd.spec import load_spec

ANALYSIS_SR = 22050
HOP = 256
MIN_NOTE_FRAMES = 4  # ~46 ms at 22.05 kHz / 256


def transcribe(audio: np.ndarray, sample_rate: int, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """(midi pitch per frame, NaN where unvoiced; frame times s) of a mono melody stem, by pyin."""
    import librosa

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    mono = librosa.resample(mono.astype(np.float32), orig_sr=sample_rate, target_sr=ANALYSIS_SR)
    f0, voiced, _ = librosa.pyin(
        mono,
        fmin=float(librosa.midi_to_hz(low - 3)),
        fmax=float(librosa.midi_to_hz(high + 3)),
        sr=ANALYSIS_SR,
        frame_length=2048,
        hop_length=HOP,
    )
    midi = np.where(voiced, librosa.hz_to_midi(np.nan_to_num(f0, nan=1.0)), np.nan)
    times = librosa.frames_to_time(np.arange(len(midi)), sr=ANALYSIS_SR, hop_length=HOP)
    return midi, times


def notes_of(midi: np.ndarray) -> list[tuple[int, int]]:
    """Transcribed notes as (pitch, frames): runs of voiced frames on one rounded pitch."""
    out: list[tuple[int, int]] = []
    run_pitch, run = -1, 0
    for value in midi:
        pitch = -1 if np.isnan(value) else int(round(value))
        if pitch == run_pitch:
            run += 1
            continue
        if run_pitch >= 0 and run >= MIN_NOTE_FRAMES:
            out.append((run_pitch, run))
        run_pitch, run = pitch, 1
    if run_pitch >= 0 and run >= MIN_NOTE_FRAMES:
        out.append((run_pitch, run))
    merged: list[tuple[int, int]] = []
    for pitch, frames in out:  # a note split by an unvoiced gap is one note held
        if merged and merged[-1][0] == pitch:
            merged[-1] = (pitch, merged[-1][1] + frames)
        else:
            merged.append((pitch, frames))
    return merged


def shape(notes: list[tuple[int, int]], scale: frozenset[int]) -> dict[str, float]:
    pitches = [p for p, _ in notes]
    frames = sum(f for _, f in notes)
    intervals = [b - a for a, b in zip(pitches, pitches[1:])]
    turns = sum(1 for a, b in zip(intervals, intervals[1:]) if a * b < 0)
    figures = [tuple(intervals[k : k + 3]) for k in range(len(intervals) - 2)]
    seen: set[tuple[int, ...]] = set()
    repeats = 0
    for figure in figures:
        repeats += figure in seen
        seen.add(figure)
    return {
        "in key": sum(f for p, f in notes if p % 12 in scale) / max(frames, 1),
        "range": float(np.percentile(pitches, 95) - np.percentile(pitches, 5)) if pitches else 0.0,
        "steps": sum(abs(i) <= 2 for i in intervals) / max(len(intervals), 1),
        "leaps": sum(abs(i) > 7 for i in intervals) / max(len(intervals), 1),
        "turns": turns / max(len(intervals) - 1, 1),
        "repeats": repeats / max(len(figures), 1),
    }


def heard_share(midi: np.ndarray, times: np.ndarray, score_notes: list[tuple[float, float, int]]) -> float:
    """Share of the score's melody frames where the transcription is within 50 cents of the note."""
    hit = total = 0
    for start_s, end_s, pitch in score_notes:
        frames = (times >= start_s + 0.03) & (times < end_s)  # past the attack
        total += int(frames.sum())
        hit += int(np.sum(np.abs(midi[frames] - pitch) <= 0.5))  # NaN (unvoiced) compares False
    return hit / max(total, 1)


def analyse_song(
    resources: Resources, genre: str, seed: int, duration_s: int, engine: str, work: Path
) -> dict[str, Any]:
    import soundfile

    text = (
        f"title: {genre} {seed} {engine}\ngenres: [{genre}]\nduration: {duration_s}\nseed: {seed}\n"
        f"engines: {{melody: {engine}}}\noutput: {{formats: [wav], stems: true, midi: true}}\n"
    )
    spec = load_spec(text, source="bench.yaml")
    out = work / f"{genre}-{seed}-{engine}"
    result = run_job(spec, out, resources)
    record = result.manifest["engines"]["compose"]
    if record["used"] != engine:
        raise SystemExit(f"{engine} was not used for {genre} seed {seed}: {record['reason']}")
    plan = make_plan(spec, seed)
    ctx = make_context(plan)
    audio, sample_rate = soundfile.read(out / "stems" / "melody.flac", dtype="float32")
    low = plan.melody.center_pitch - plan.melody.range_semitones // 2
    midi, times = transcribe(audio, sample_rate, low, low + plan.melody.range_semitones)
    import mido

    beat_s = 60.0 / plan.tempo_bpm
    score_notes = []
    midi_file = mido.MidiFile(out / "score.mid")
    for track in midi_file.tracks:
        if not any(m.type == "track_name" and m.name == "melody" for m in track):
            continue
        now, on = 0, {}
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                on[message.note] = now
            elif message.type in ("note_off", "note_on") and message.note in on:
                begin = on.pop(message.note)
                tpb = midi_file.ticks_per_beat
                score_notes.append((begin / tpb * beat_s, now / tpb * beat_s, message.note))
    row = shape(notes_of(midi), ctx.scale)
    row["heard"] = heard_share(midi, times, score_notes)
    if engine == "magenta":
        row["raw in-key"] = float(record["raw_in_key_share"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--genres", nargs="+", default=["folk", "pop", "lofi"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=30)
    args = parser.parse_args()
    status = MagentaPaths.discover().availability()
    if not status.usable:
        print(f"magenta is not usable here: {status.reason}")
        sys.exit(1)
    resources = Resources.load()
    rows: dict[str, list[dict[str, Any]]] = {"rules": [], "magenta": []}
    with tempfile.TemporaryDirectory(prefix="bench-magenta-listen-") as tmp:
        for genre in args.genres:
            for seed in range(1, args.seeds + 1):
                for engine in rows:
                    row = analyse_song(resources, genre, seed, args.duration, engine, Path(tmp))
                    rows[engine].append(row)
                    figures = " ".join(f"{k} {v:.2f}" for k, v in row.items())
                    print(f"{genre:6s} seed {seed} {engine:8s} {figures}", flush=True)
    resources.models.unload_all()
    names = ["in key", "range", "steps", "leaps", "turns", "repeats", "heard", "raw in-key"]
    print(f"\n{len(args.genres)} genres x {args.seeds} seeds, {args.duration} s each; medians")
    print(f"{'engine':8s} " + " ".join(f"{n:>10s}" for n in names))
    for engine, found in rows.items():
        cells = []
        for name in names:
            values = [r[name] for r in found if name in r]
            cells.append(f"{statistics.median(values):10.2f}" if values else f"{'-':>10s}")
        print(f"{engine:8s} " + " ".join(cells))


if __name__ == "__main__":
    main()
