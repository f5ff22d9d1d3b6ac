"""musicd's Magenta sidecar: a long-lived melody RNN behind a JSON-lines pipe (Python 3.8).

Started by musicd's worker (daemon/musicd/engines/magenta_sidecar.py) inside .magenta-venv,
never imported by musicd itself. It loads one generator bundle (.mag) once, prints a ready
line, then answers one JSON object per line on stdin with one JSON object per line on stdout:

  {"id": 1, "op": "generate", "primer": [[pitch, start_step, end_step], ...],
   "total_steps": 128, "temperature": 1.0, "seed": 7, "steps_per_quarter": 4}
      -> {"id": 1, "ok": true, "notes": [[pitch, start_step, end_step], ...], "seconds": 0.4}
  {"id": 2, "op": "ping"}  -> {"id": 2, "ok": true, "pid": 1234}
  {"id": 3, "op": "quit"}  -> {"id": 3, "ok": true}, then exit
  a failure                -> {"id": N, "ok": false, "error": "..."}

Generation is deterministic for a seed: numpy's and Python's generators are reseeded per
request and TensorFlow runs on one thread. stdout carries only protocol lines; TensorFlow's
chatter goes to stderr. The process exits when stdin closes or its parent dies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # a melody RNN needs no GPU; leave it to musicd

QPM = 120.0


def die_with_parent() -> None:
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def load(bundle_path: str):  # type: ignore[no-untyped-def]
    from magenta.models.melody_rnn import melody_rnn_sequence_generator
    from magenta.models.shared import sequence_generator_bundle

    bundle = sequence_generator_bundle.read_bundle_file(bundle_path)
    config_id = bundle.generator_details.id
    generator = melody_rnn_sequence_generator.get_generator_map()[config_id](checkpoint=None, bundle=bundle)
    generator.initialize()
    return generator, config_id


def generate(generator, request: dict) -> list:  # type: ignore[no-untyped-def]
    import numpy as np
    from note_seq.protobuf import generator_pb2, music_pb2

    steps_per_quarter = int(request.get("steps_per_quarter", 4))
    step_s = 60.0 / QPM / steps_per_quarter
    primer = music_pb2.NoteSequence()
    primer.tempos.add(qpm=QPM)
    primer.ticks_per_quarter = 220
    end_step = 0
    for pitch, start, end in request.get("primer", []):
        primer.notes.add(pitch=int(pitch), start_time=start * step_s, end_time=end * step_s, velocity=90)
        end_step = max(end_step, int(end))
    primer_steps = int(request.get("primer_steps", end_step))
    primer.total_time = primer_steps * step_s
    total_steps = int(request["total_steps"])
    options = generator_pb2.GeneratorOptions()
    options.args["temperature"].float_value = float(request.get("temperature", 1.0))
    options.args["beam_size"].int_value = 1
    options.args["branch_factor"].int_value = 1
    options.args["steps_per_iteration"].int_value = 1
    options.generate_sections.add(start_time=primer_steps * step_s, end_time=total_steps * step_s)
    seed = int(request.get("seed", 0)) % (2**32)
    random.seed(seed)
    np.random.seed(seed)
    sequence = generator.generate(primer, options)
    notes = []
    for note in sorted(sequence.notes, key=lambda n: (n.start_time, n.pitch)):
        start = int(round(note.start_time / step_s))
        end = int(round(note.end_time / step_s))
        if end > start and start < total_steps:
            notes.append([int(note.pitch), start, min(end, total_steps)])
    return notes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--fail-after", type=int, default=0, help="tests: exit abruptly on the Nth generate")
    args = parser.parse_args()
    die_with_parent()
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints goes to stderr, never into the protocol
    started = time.time()
    try:
        generator, config_id = load(args.bundle)
    except Exception as error:  # the sidecar's boundary: say why it cannot start
        out.write(json.dumps({"ready": False, "error": f"{type(error).__name__}: {error}"}) + "\n")
        out.flush()
        sys.exit(2)
    ready = {
        "ready": True,
        "pid": os.getpid(),
        "config": config_id,
        "load_s": round(time.time() - started, 3),
    }
    out.write(json.dumps(ready) + "\n")
    out.flush()
    generated = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        request: dict = {}
        try:
            request = json.loads(line)
            op = request.get("op")
            if op == "quit":
                out.write(json.dumps({"id": request.get("id"), "ok": True}) + "\n")
                out.flush()
                return
            if op == "ping":
                reply = {"id": request.get("id"), "ok": True, "pid": os.getpid()}
            elif op == "generate":
                generated += 1
                if args.fail_after and generated >= args.fail_after:
                    os._exit(3)  # a crash in the middle of a request, for the restart test
                t0 = time.time()
                notes = generate(generator, request)
                reply = {
                    "id": request.get("id"),
                    "ok": True,
                    "notes": notes,
                    "seconds": round(time.time() - t0, 3),
                }
            else:
                reply = {"id": request.get("id"), "ok": False, "error": f"unknown op {op!r}"}
        except Exception as error:  # the request's boundary: answer with the reason, keep serving
            reply = {"id": request.get("id"), "ok": False, "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
