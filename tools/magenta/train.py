"""Train musicd's Magenta melody model from public-domain tunes, reproducibly.

Runs in .magenta-venv (Python 3.8, magenta 2.1.4; `make magenta-env`). Stages, each skipped
when its output exists (delete build/magenta/ to start over):

  corpora   the music21 10.5.1 wheel (pip download, no install) -> the ABC of O'Neill's Music
            of Ireland (1850), Ryan's Mammoth Collection (1883), Aird's Airs (1782-1803).
            Essen is left out: its encodings carry a non-commercial permission.
  midi      abc2midi (Debian's abcmidi) per book: one MIDI file per tune; duplicates dropped
  notes     magenta's convert_dir_to_note_sequences -> notesequences.tfrecord
  dataset   magenta's melody_rnn pipeline with a fixed seed and a 10 % evaluation split by tune;
            melodies are squashed into MIDI 48..84 and transposed to C (the config's encoder)
  train     attention_rnn, batch 64, layers [64, 64], in rounds of --round-steps; after each
            round every held-out melody is evaluated once (loss, perplexity, accuracy); the
            best checkpoint is the one whose eval loss beat the best before it by more than
            --min-delta; stops when --patience evaluations in a row bring no such improvement,
            at --max-steps, or when another round would pass --max-minutes
  export    the best checkpoint -> a generator bundle (.mag) and metrics.json beside it

The training input is magenta's shuffled queue (several reader threads), so a rerun follows
the same procedure and split but does not give bit-identical weights.

Usage: .magenta-venv/bin/python tools/magenta/train.py [--out models/magenta] [--max-steps N]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile

# One thread each: the training box is shared (and TF's own default takes every core).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MUSIC21 = "music21==10.5.1"
CORPORA = {  # music21 corpus folder -> (book, licence note)
    "oneills1850": ("O'Neill's Music of Ireland: 1,850 Melodies (Chicago 1903)", "public domain"),
    "ryansMammoth": ("Ryan's Mammoth Collection (Boston 1883)", "public domain"),
    "airdsAirs": ("Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-1803)", "public domain"),
}
CONFIG = "attention_rnn"
HPARAMS = "batch_size=64,rnn_layer_sizes=[64,64]"
TRAIN_DROPOUT_KEEP = 0.5  # attention_rnn's default
SEED = 1850
EVAL_RATIO = 0.1
BUNDLE_NAME = "musicd_attention_rnn.mag"


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def venv_bin(name: str) -> str:
    return os.path.join(os.path.dirname(sys.executable), name)


def stage_corpora(work: str) -> str:
    abc_dir = os.path.join(work, "abc")
    if os.path.isdir(abc_dir):
        return abc_dir
    wheel_dir = os.path.join(work, "wheel")
    if not glob.glob(os.path.join(wheel_dir, "music21-*.whl")):
        pip = os.path.join(ROOT, ".venv", "bin", "pip")
        pip_cmd = [pip] if os.path.exists(pip) else [sys.executable, "-m", "pip"]
        subprocess.run([*pip_cmd, "download", "-q", "--no-deps", MUSIC21, "-d", wheel_dir], check=True)
    wheel = sorted(glob.glob(os.path.join(wheel_dir, "music21-*.whl")))[-1]
    tmp = abc_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            parts = name.split("/")
            if len(parts) == 4 and parts[1] == "corpus" and parts[2] in CORPORA and name.endswith(".abc"):
                target = os.path.join(tmp, parts[2], parts[3])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as out:
                    out.write(zf.read(name))
    os.rename(tmp, abc_dir)
    log("corpora: %s" % {c: len(os.listdir(os.path.join(abc_dir, c))) for c in CORPORA})
    return abc_dir


def stage_midi(work: str, abc_dir: str) -> tuple[str, dict]:
    midi_dir = os.path.join(work, "midi")
    counts_file = os.path.join(work, "midi_counts.json")
    if os.path.isdir(midi_dir) and os.path.exists(counts_file):
        with open(counts_file) as f:
            return midi_dir, json.load(f)
    tmp = midi_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    seen: set[str] = set()
    counts: dict = {}
    for corpus in CORPORA:
        out = os.path.join(tmp, corpus)
        os.makedirs(out)
        kept = dropped = 0
        for abc in sorted(glob.glob(os.path.join(abc_dir, corpus, "*.abc"))):
            scratch = os.path.join(tmp, "scratch")
            os.makedirs(scratch, exist_ok=True)
            stem = os.path.basename(abc)[: -len(".abc")].replace("-", "_")
            shutil.copy(abc, os.path.join(scratch, "book.abc"))
            # Without -o, abc2midi writes one book<X>.mid per tune of a multi-tune book.
            subprocess.run(
                ["abc2midi", "book.abc", "-NGUI", "-quiet", "-silent"],
                cwd=scratch,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            for mid in sorted(m for m in os.listdir(scratch) if m.endswith(".mid")):
                path = os.path.join(scratch, mid)
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                if digest in seen or os.path.getsize(path) < 64:
                    dropped += 1  # the same tune in two overlapping books, or empty
                    os.remove(path)
                    continue
                seen.add(digest)
                os.rename(path, os.path.join(out, stem + "_" + mid[len("book") :]))
                kept += 1
            shutil.rmtree(scratch)
        counts[corpus] = {"tunes": kept, "dropped_duplicates_or_empty": dropped}
    os.rename(tmp, midi_dir)
    with open(counts_file, "w") as f:
        json.dump(counts, f, indent=1)
    log(f"midi: {counts}")
    return midi_dir, counts


def stage_notes(work: str, midi_dir: str) -> str:
    out = os.path.join(work, "notesequences.tfrecord")
    if not os.path.exists(out):
        subprocess.run(
            [
                venv_bin("convert_dir_to_note_sequences"),
                "--input_dir=" + midi_dir,
                "--output_file=" + out + ".tmp",
                "--recursive",
                "--log=ERROR",
            ],
            check=True,
        )
        os.rename(out + ".tmp", out)
    return out


def load_config():  # type: ignore[no-untyped-def]
    from magenta.models.melody_rnn import melody_rnn_model

    config = melody_rnn_model.default_configs[CONFIG]
    config.hparams.parse(HPARAMS)
    config.hparams.dropout_keep_prob = TRAIN_DROPOUT_KEEP  # evaluate() turns it off for a while
    return config


def count_records(path: str) -> int:
    import tensorflow.compat.v1 as tf

    return sum(1 for _ in tf.io.tf_record_iterator(path))


def stage_dataset(work: str, notes: str) -> dict:
    out = os.path.join(work, "dataset")
    if not os.path.exists(os.path.join(out, "eval_melodies.tfrecord")):
        import note_seq
        import numpy as np
        from magenta.models.melody_rnn import melody_rnn_pipeline
        from magenta.pipelines import pipeline

        random.seed(SEED)  # RandomPartition draws from Python's random: a fixed, reproducible split
        np.random.seed(SEED)
        tmp = out + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        pipe = melody_rnn_pipeline.get_pipeline(load_config(), eval_ratio=EVAL_RATIO)
        pipeline.run_pipeline_serial(pipe, pipeline.tf_record_iterator(notes, note_seq.NoteSequence), tmp)
        os.rename(tmp, out)
    return {
        "train_file": os.path.join(out, "training_melodies.tfrecord"),
        "eval_file": os.path.join(out, "eval_melodies.tfrecord"),
        "notesequences": count_records(notes),
        "train_melodies": count_records(os.path.join(out, "training_melodies.tfrecord")),
        "eval_melodies": count_records(os.path.join(out, "eval_melodies.tfrecord")),
    }


def train_round(train_dir: str, train_file: str, steps: int) -> None:
    """`steps` more training steps (magenta's StopAtStepHook counts from the checkpoint's step)."""
    from magenta.models.shared import events_rnn_graph, events_rnn_train

    tf_seed(SEED)
    build = events_rnn_graph.get_build_graph_fn("train", load_config(), [train_file])
    events_rnn_train.run_training(
        build, train_dir, steps, summary_frequency=25, save_checkpoint_secs=300, checkpoints_to_keep=5
    )


def tf_seed(seed: int) -> None:
    import numpy as np
    import tensorflow.compat.v1 as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.set_random_seed(seed)


def evaluate(train_dir: str, eval_file: str, eval_count: int, checkpoint: str | None = None) -> dict:
    """Loss, perplexity and accuracy over every held-out melody, each exactly once, no dropout.

    The eval graph reads the whole held-out set as one batch (batch size = eval_count) through
    one enqueuing thread, so the batch is the file's records in order, none twice, none left out.
    """
    import functools

    import magenta.common
    import tensorflow.compat.v1 as tf
    import tf_slim
    from magenta.models.shared import events_rnn_graph
    from tensorflow.python.training import evaluation as tf_evaluation

    config = load_config()
    config.hparams.batch_size = eval_count
    config.hparams.dropout_keep_prob = 1.0  # the model as it generates (magenta's eval keeps dropout on)
    padded_batch = magenta.common.get_padded_batch
    magenta.common.get_padded_batch = functools.partial(padded_batch, num_enqueuing_threads=1)
    try:
        with tf.Graph().as_default():
            tf.set_random_seed(SEED)
            events_rnn_graph.get_build_graph_fn("eval", config, [eval_file])()
            global_step = tf.train.get_or_create_global_step()
            final = {
                "step": global_step,
                "loss": tf.get_collection("loss")[0],
                "perplexity": tf.get_collection("metrics/perplexity")[0],
                "accuracy": tf.get_collection("metrics/accuracy")[0],
            }
            values = tf_evaluation._evaluate_once(  # one pass: what magenta's run_eval loops over
                checkpoint or tf.train.latest_checkpoint(train_dir),
                eval_ops=tf.get_collection("eval_ops"),
                final_ops=final,
                hooks=[tf_slim.evaluation.StopAfterNEvalsHook(1)],
            )
    finally:
        magenta.common.get_padded_batch = padded_batch
        load_config()  # the training batch size back onto the shared config object
    row = {k: (int(v) if k == "step" else round(float(v), 4)) for k, v in values.items()}
    row["eval_melodies"] = eval_count
    return row


def best_by_rule(curve: list, min_delta: float) -> tuple[dict | None, int]:
    """The best eval row and how many evals came after it without improving.

    One rule for saving, stopping and reporting: a row is the new best only when its eval loss
    is lower than the best so far by more than min_delta.
    """
    best = None
    stale = 0
    for row in curve:
        if best is None or row["loss"] < best["loss"] - min_delta:
            best, stale = row, 0
        else:
            stale += 1
    return best, stale


def stage_train(work: str, data: dict, args: argparse.Namespace) -> dict:
    train_dir = os.path.join(work, "run", "train")
    best_dir = os.path.join(work, "best")
    curve_file = os.path.join(work, "curve.json")
    curve: list = []
    if os.path.exists(curve_file):
        with open(curve_file) as f:
            curve = json.load(f)
    started = time.time()
    step = curve[-1]["step"] if curve else 0
    round_s = 0.0
    while True:
        best, stale = best_by_rule(curve, args.min_delta)
        if best is not None and stale >= args.patience:
            reason = (
                f"early stop: the eval loss did not improve by more than {args.min_delta} "
                f"for {args.patience} evaluations ({args.patience * args.round_steps} steps)"
            )
            break
        if step >= args.max_steps:
            reason = f"step cap {args.max_steps} reached"
            break
        elapsed = time.time() - started
        if round_s and elapsed + round_s > args.max_minutes * 60:
            reason = f"time cap: another round would pass {args.max_minutes:.0f} min of training"
            break
        t0 = time.time()
        train_round(train_dir, data["train_file"], min(args.round_steps, args.max_steps - step))
        first = os.path.join(train_dir, "model.ckpt-0")
        if not curve and os.path.exists(first + ".index"):
            curve.append(
                {**evaluate(train_dir, data["eval_file"], data["eval_melodies"], first), "wall_s": 0.0}
            )
            log(f"eval of the untrained model: {curve[0]}")
            save_best(best_dir, first, 0)
        row = evaluate(train_dir, data["eval_file"], data["eval_melodies"])
        round_s = time.time() - t0
        row["wall_s"] = round(time.time() - started, 1)
        step = row["step"]
        curve.append(row)
        with open(curve_file, "w") as f:
            json.dump(curve, f, indent=1)
        log(f"eval {row} (round {round_s:.0f} s)")
        if best_by_rule(curve, args.min_delta)[0] is row:
            save_best(best_dir, tf_latest(train_dir), step)
    best, _ = best_by_rule(curve, args.min_delta)
    assert best is not None
    log(f"training stopped: {reason}; best eval step {best['step']} loss {best['loss']:.4f}")
    return {"curve": curve, "stopped": reason, "best": best}


def save_best(best_dir: str, prefix: str, step: int) -> None:
    tmp = best_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for path in glob.glob(prefix + ".*"):
        shutil.copy(path, tmp)
    with open(os.path.join(tmp, "step"), "w") as f:
        f.write(str(step))
    shutil.rmtree(best_dir, ignore_errors=True)
    os.rename(tmp, best_dir)


def tf_latest(train_dir: str) -> str:
    import tensorflow.compat.v1 as tf

    return str(tf.train.latest_checkpoint(train_dir))


def training_curve(train_dir: str) -> list:
    """(step, loss, perplexity, accuracy) of the training batches, from the summaries."""
    import tensorflow.compat.v1 as tf

    rows: dict = {}
    for path in sorted(glob.glob(os.path.join(train_dir, "events.out.tfevents.*"))):
        try:
            for event in tf.train.summary_iterator(path):
                for value in event.summary.value:
                    if value.tag in ("loss", "metrics/perplexity", "metrics/accuracy"):
                        rows.setdefault(event.step, {})[value.tag.split("/")[-1]] = round(
                            value.simple_value, 4
                        )
        except tf.errors.DataLossError:  # a file still being written: what was read so far
            pass
    return [{"step": step, **rows[step]} for step in sorted(rows)]


def stage_export(work: str, out_dir: str, meta: dict) -> str:
    import tensorflow.compat.v1 as tf
    from magenta.models.melody_rnn import melody_rnn_sequence_generator

    best_dir = os.path.join(work, "best")
    prefix = glob.glob(os.path.join(best_dir, "*.index"))[0][: -len(".index")]
    load_config()  # the trained hparams onto the shared config object before the generator is built
    generator = melody_rnn_sequence_generator.get_generator_map()[CONFIG](checkpoint=prefix, bundle=None)
    os.makedirs(out_dir, exist_ok=True)
    bundle = os.path.join(out_dir, BUNDLE_NAME)
    description = "musicd attention_rnn [64,64], trained on O'Neill's, Ryan's and Aird's (public domain)"
    generator.create_bundle_file(bundle, description)
    with open(bundle, "rb") as f:
        meta["bundle"] = {
            "file": BUNDLE_NAME,
            "sha256": hashlib.sha256(f.read()).hexdigest(),
            "bytes": os.path.getsize(bundle),
        }
    meta["versions"] = {"tensorflow": tf.__version__, "python": sys.version.split()[0]}
    meta["train_curve"] = training_curve(os.path.join(work, "run", "train"))
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(meta, f, indent=1)
    log(f"exported {bundle} ({meta['bundle']['bytes']} bytes)")
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--work", default=os.path.join(ROOT, "build", "magenta"))
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "magenta"))
    parser.add_argument("--round-steps", type=int, default=100, help="training steps between evaluations")
    parser.add_argument("--max-steps", type=int, default=1500)
    parser.add_argument(
        "--max-minutes", type=float, default=64.0, help="cap on the training stage's wall time"
    )
    parser.add_argument(
        "--patience", type=int, default=3, help="evaluations without improvement before stopping"
    )
    parser.add_argument(
        "--min-delta", type=float, default=0.005, help="eval-loss drop that counts as improvement"
    )
    parser.add_argument("--stop-after", choices=["dataset", "train"], default=None)
    parser.add_argument(
        "--export-best", action="store_true", help="no more training: export the best checkpoint so far"
    )
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    abc_dir = stage_corpora(args.work)
    midi_dir, counts = stage_midi(args.work, abc_dir)
    notes = stage_notes(args.work, midi_dir)
    data = stage_dataset(args.work, notes)
    log("dataset: %s" % {k: v for k, v in data.items() if not k.endswith("_file")})
    if args.stop_after == "dataset":
        return
    if args.export_best:
        with open(os.path.join(args.work, "curve.json")) as f:
            curve = json.load(f)
        best, _ = best_by_rule(curve, args.min_delta)
        trained = {"curve": curve, "stopped": "stopped by hand (--export-best)", "best": best}
    else:
        trained = stage_train(args.work, data, args)
    meta = {
        "command": " ".join(["tools/magenta/train.py", *sys.argv[1:]]),
        "settings": {
            k: getattr(args, k) for k in ("round_steps", "max_steps", "max_minutes", "patience", "min_delta")
        },
        "config": CONFIG,
        "hparams": HPARAMS,
        "seed": SEED,
        "eval_ratio": EVAL_RATIO,
        "corpora": {c: {"book": CORPORA[c][0], "licence": CORPORA[c][1], **counts[c]} for c in CORPORA},
        "data": {k: v for k, v in data.items() if not k.endswith("_file")},
        "eval_steps": [r["step"] for r in trained["curve"]],
        **trained,
    }
    if args.stop_after == "train":
        return
    stage_export(args.work, args.out, meta)


if __name__ == "__main__":
    main()
