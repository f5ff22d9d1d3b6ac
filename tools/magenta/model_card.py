"""Write models/magenta/MODEL_CARD.md from models/magenta/metrics.json (any Python 3).

    python3 tools/magenta/model_card.py [--metrics models/magenta/metrics.json]

`make train-magenta` runs it after the export, so the card's figures are the metrics' own.
"""

from __future__ import annotations

import argparse
import json
import math
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LICENCES = """| asset | licence |
|---|---|
| the bundle (weights and this card) | MIT, like musicd (`LICENSE` at the repository root) |
| the training tunes | public domain: O'Neill's *Music of Ireland* (Chicago, 1903; the "1850" collection), *Ryan's Mammoth Collection* (Boston, 1883), *Aird's Selection of Scotch, English, Irish and Foreign Airs* (Glasgow, 1782-1803) |
| their ABC encodings | distributed in the music21 10.5.1 wheel (music21 itself BSD-3-Clause) with the encoders' permission; transcribers credited in the files (Norbert Paap for O'Neill's, Jack Campin for Aird's, Ray Davies and others for Ryan's) |
| left out | music21's Essen folksong corpus: its encodings carry a non-commercial permission; and every other corpus music21 ships (only these three public-domain books are read) |
| the code (tools/magenta/) | MIT |

No tune is shipped: only the weights."""


def _n(value: float) -> str:
    return f"{value:,}"


def render(m: dict) -> str:
    s = m["settings"]
    best = m["best"]
    curve = m["curve"]
    data = m["data"]
    bundle = m["bundle"]
    last = curve[-1]
    falling = last["step"] == best["step"] or (len(curve) > 1 and last["loss"] < curve[-2]["loss"])
    rows = []
    for r in curve:
        mark = "**" if r["step"] == best["step"] else ""
        label = f"{r['step']} (untrained)" if r["step"] == 0 else str(r["step"])
        if r["step"] == best["step"]:
            label += " (exported)"
        rows.append(
            f"| {mark}{label}{mark} | {mark}{r['loss']:.4f}{mark} | {mark}{r['perplexity']:.2f}{mark} "
            f"| {mark}{r['accuracy']:.3f}{mark} | {(r.get('wall_s') or 0) / 60:.1f} |"
        )
    train = [t for t in m.get("train_curve", []) if "loss" in t]
    every = max(1, math.ceil(len(train) / 14))
    picked = train[::every]
    if train and picked[-1] is not train[-1]:
        picked.append(train[-1])
    train_table = ""
    if picked:
        train_table = (
            "| step | "
            + " | ".join(str(t["step"]) for t in picked)
            + " |\n|---|"
            + "---|" * len(picked)
            + "\n| loss | "
            + " | ".join(f"{t['loss']:.3f}" for t in picked)
            + " |\n| accuracy | "
            + " | ".join(f"{t.get('accuracy', float('nan')):.3f}" for t in picked)
            + " |"
        )
    corpora = "\n".join(
        f"| {c['book']} (`{name}`) | {_n(c['tunes'])} | {c['dropped_duplicates_or_empty']} |"
        for name, c in m["corpora"].items()
    )
    if m["stopped"].startswith("early stop"):
        verdict = (
            f"Training stopped on its own: {m['stopped']}. The eval loss had stopped improving; "
            f"the exported checkpoint is the best one, step {best['step']}."
        )
    else:
        verdict = (
            f"Training stopped on a cap, **not** because the evaluation loss stopped improving: "
            f"{m['stopped']}. "
            + (
                "The eval loss was **still falling** at the cap (the last evaluation was the best), "
                "so a longer run would very likely give a better model."
                if falling
                else "The last evaluations had stopped improving by more than the minimum delta "
                "but the patience had not run out."
            )
        )
    return f"""# {bundle["file"]}: the model card

A Magenta `attention_rnn` melody model trained here, from scratch, for musicd's
`engines: {{melody: magenta}}`. File: `{bundle["file"]}` ({_n(bundle["bytes"])} bytes, sha256
`{bundle["sha256"]}`), a magenta 2.1.4 generator bundle (TensorFlow {m["versions"]["tensorflow"]}
checkpoint + config), trained with Python {m["versions"]["python"]}.

## Licences

{LICENCES}

## Data

| book (music21 folder) | tunes converted by abc2midi | dropped (duplicates across overlapping files, empty) |
|---|---|---|
{corpora}

{_n(data["notesequences"])} NoteSequences. Magenta's melody pipeline (time-signature split, 4
steps per quarter, melodies of at least 7 bars and 5 distinct pitches, at most 512 steps,
squashed into MIDI 48..84 and transposed to C by the config's key-aware encoder) made
**{_n(data["train_melodies"])} training and {_n(data["eval_melodies"])} evaluation melodies**. The
{m["eval_ratio"]:.0%} evaluation split is drawn per tune with Python's `random` seeded
{m["seed"]}, so no tune is in both.

## Steps: `make train-magenta` (`{m["command"]}`)

1. `pip download --no-deps music21==10.5.1`; unzip the three books' `.abc` files.
2. `abc2midi book.abc -NGUI -quiet -silent` per book file (one MIDI per tune; magenta's own
   `convert_dir_to_note_sequences` crashes on ABC); duplicates dropped by the MIDI's sha256.
3. `convert_dir_to_note_sequences --recursive` -> `notesequences.tfrecord`.
4. `melody_rnn_pipeline.get_pipeline(attention_rnn, eval_ratio={m["eval_ratio"]})` with the fixed
   seed {m["seed"]} (what `melody_rnn_create_dataset` runs).
5. Training: `{m["config"]}`, hparams `{m["hparams"]}` (attention length 40, dropout keep 0.5,
   learning rate 0.001 from the config), TensorFlow on one intra-op and one inter-op thread,
   `nice -n 19`. Every {s["round_steps"]} steps the whole evaluation set is evaluated: all
   {_n(data["eval_melodies"])} held-out melodies, each exactly once, in one batch, with dropout
   off (the model as it generates).
6. **Early stopping:** an evaluation is an improvement when its loss is lower than the best
   so far by more than {s["min_delta"]}; the best checkpoint is saved at each improvement;
   training stops after {s["patience"]} evaluations in a row without one (patience
   {s["patience"] * s["round_steps"]} steps), or at the caps: {s["max_steps"]} steps, or
   {s["max_minutes"]:.0f} minutes of training wall time (no round is started that would pass it).
7. Export of the best checkpoint with `MelodyRnnSequenceGenerator.create_bundle_file` (what
   `melody_rnn_generate --save_generator_bundle` does); `metrics.json` beside it holds every
   figure below, the settings and the command; this card is written from it
   (`tools/magenta/model_card.py`).

Rerunning `make train-magenta` after `rm -rf build/magenta` repeats the same data, split,
schedule and stopping rule. The weights are not bit-identical: magenta's training input is a
shuffled queue filled by several threads. A time cap makes the step count depend on the
machine's speed: `--max-steps {last["step"]}` repeats this run's schedule exactly.

## Figures

{verdict}

Held-out evaluation ({_n(data["eval_melodies"])} melodies, every one, after each round):

| step | eval loss | eval perplexity | eval accuracy | training wall time (min) |
|---|---|---|---|---|
{chr(10).join(rows)}

**Exported: step {best["step"]}, eval loss {best["loss"]:.4f}, perplexity {best["perplexity"]:.2f},
accuracy {best["accuracy"]:.3f}.**

Training batches (64 melodies each, with dropout; from the training summaries):

{train_table}

Trained on one niced TensorFlow thread of a 2-core machine shared with other work.

## Limits

A small model ([64, 64] units) trained on a shared 2-core CPU: it has learnt the tunes' scale
and rhythm habits, not long-range form. musicd uses it inside a fitting step (grid, key,
range, chord tones on strong beats, phrase-end cadences, chorus repetition; see the README),
so those properties of musicd's output are the fitter's, not the model's. Its idiom is Irish
and Scottish dance tunes and airs: reels, jigs, hornpipes, strathspeys, slow airs.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", default=os.path.join(ROOT, "models", "magenta", "metrics.json"))
    args = parser.parse_args()
    with open(args.metrics) as f:
        metrics = json.load(f)
    out = os.path.join(os.path.dirname(args.metrics), "MODEL_CARD.md")
    with open(out, "w") as f:
        f.write(render(metrics))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
