"""The Magenta melody engine for real: the shipped bundle in the .magenta-venv sidecar.

`make test` creates .magenta-venv (`make magenta-env`); without it the tests that need the
sidecar skip with the reason, and the fallback test still runs. The sidecar starts once
for the module's Resources (its cold start is the slow part) and serves every test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest

from daemon_helpers import Daemon, manifests, published, spec_yaml, write_config
from musicd.engines.cache import ModelCache, ModelKey
from musicd.engines.melody_choice import compose_with_melody
from musicd.engines.melody_magenta import BUNDLE_ENV, VENV_ENV, MagentaMelodyEngine, MagentaPaths, file_sha256
from musicd.music.midi import score_to_midi
from musicd.music.plan import Plan, make_plan
from musicd.music.score import Score
from musicd.pipeline import Resources, run_job
from musicd.spec import load_spec

pytestmark = pytest.mark.timeout(900)

PATHS = MagentaPaths.discover()
STATUS = PATHS.availability()
needs_magenta = pytest.mark.skipif(not STATUS.usable, reason=f"Magenta is not usable here: {STATUS.reason}")

SPEC_20S = (
    "title: Magenta tune\ngenres: [folk]\nduration: 20\nseed: 11\n"
    "engines: {melody: magenta}\noutput: {formats: [wav], stems: false, midi: true}\n"
)
LONG_SPEC = "genres: [pop]\nduration: 120\nengines: {melody: magenta}\n"


@pytest.fixture(scope="module")
def resources() -> Resources:
    return Resources.load()


def _plan(text: str, seed: int = 11) -> Plan:
    return make_plan(load_spec(text, source="test.yaml"), seed)


def _melody(score: Score) -> list[tuple[float, float, int]]:
    return [(n.start_beat, n.duration_beats, n.pitch) for n in score.track("melody").notes]


def _sidecar_pid(resources: Resources) -> int:
    key = ModelKey("magenta", str(PATHS.bundle), "cpu", "float32")
    with resources.models.use(key, lambda: pytest.fail("the sidecar is not resident")) as sidecar:
        pid = sidecar.pid
    assert pid is not None
    return int(pid)


@needs_magenta
def test_two_jobs_through_one_resources_start_one_sidecar(resources: Resources, tmp_path: Path) -> None:
    first = run_job(load_spec(SPEC_20S), tmp_path / "a", resources).manifest["engines"]["compose"]
    second = run_job(load_spec(SPEC_20S), tmp_path / "b", resources).manifest["engines"]["compose"]
    assert first["used"] == second["used"] == "magenta", first["reason"]
    assert first["cache_hit"] is False and first["load_s"] > 0
    assert second["cache_hit"] is True and second["load_s"] == 0.0
    assert first["sidecar_pid"] == second["sidecar_pid"]
    assert resources.models.loads == 1
    assert (tmp_path / "a" / "score.mid").read_bytes() == (tmp_path / "b" / "score.mid").read_bytes()


@needs_magenta
def test_a_20s_magenta_song_renders_and_the_manifest_names_the_bundle(
    resources: Resources, tmp_path: Path
) -> None:
    result = run_job(load_spec(SPEC_20S), tmp_path, resources)
    record = result.manifest["engines"]["compose"]
    assert record["used"] == "magenta" and record["asked"] == "magenta"
    assert record["bundle"] == PATHS.bundle.name
    assert record["bundle_sha256"] == file_sha256(PATHS.bundle)
    assert record["temperature"] == 1.0 and record["steps"] > 0 and record["requests"] > 0
    assert {"cache_hit", "load_s"} <= set(record)
    # the model's own notes, before the fitting step moves any into the key (trained in C,
    # primed in the key's parent major): a trained model keeps to the key by itself
    assert record["raw_in_key_share"] >= 0.8
    midi = mido.MidiFile(tmp_path / "score.mid")
    names = [msg.name for track in midi.tracks for msg in track if msg.type == "track_name"]
    assert "melody" in names
    assert (tmp_path / "magenta-tune.wav").exists()


@needs_magenta
def test_the_magenta_melody_differs_from_the_rules_and_one_seed_gives_the_same_midi(
    resources: Resources,
) -> None:
    plan = _plan(SPEC_20S)
    rules, _ = compose_with_melody(plan, "rules", resources.models)
    magenta, record = compose_with_melody(plan, "magenta", resources.models)
    again, _ = compose_with_melody(plan, "magenta", resources.models)
    assert record["used"] == "magenta"
    assert _melody(magenta) != _melody(rules)
    assert score_to_midi(magenta) == score_to_midi(again)
    other, _ = compose_with_melody(_plan(SPEC_20S, seed=12), "magenta", resources.models)
    assert _melody(other) != _melody(magenta)
    # the other parts are the composer's own
    assert magenta.track("bass").notes == rules.track("bass").notes


@needs_magenta
@pytest.mark.parametrize("text", [LONG_SPEC, "genres: [lofi]\nduration: 90\nkey: F# minor\n", SPEC_20S])
def test_strong_beat_melody_notes_are_scale_tones_in_range(resources: Resources, text: str) -> None:
    plan = _plan(text)
    score, record = compose_with_melody(plan, "magenta", resources.models)
    assert record["used"] == "magenta"
    from musicd.music.compose.harmony import make_context

    ctx = make_context(plan)
    notes = score.track("melody").notes
    strong = [n for n in notes if abs(n.start_beat % ctx.beats_per_bar) < 1e-6 or n.start_beat % 2 == 0]
    in_scale = [n for n in strong if n.pitch % 12 in ctx.scale]
    assert len(strong) >= plan.bars // 2
    assert len(in_scale) / len(strong) >= 0.9
    low = plan.melody.center_pitch - plan.melody.range_semitones // 2
    assert all(low <= n.pitch <= low + plan.melody.range_semitones for n in notes)
    bar_beats = plan.beats_per_bar
    assert all(n.start_beat + n.duration_beats <= plan.bars * bar_beats + 1e-6 for n in notes)


@needs_magenta
def test_the_chorus_melody_recurs(resources: Resources) -> None:
    plan = _plan(LONG_SPEC)
    score, _ = compose_with_melody(plan, "magenta", resources.models)
    choruses = [s for s in plan.form if s.name == "chorus"]
    assert len(choruses) >= 2
    bars = min(s.bars for s in choruses[:2]) - 1
    melody = score.track("melody").notes

    def line(start_bar: int) -> list[tuple[float, int]]:
        start = start_bar * plan.beats_per_bar
        end = start + bars * plan.beats_per_bar
        return [(round(n.start_beat - start, 3), n.pitch) for n in melody if start <= n.start_beat < end]

    first, again = line(choruses[0].start_bar), line(choruses[1].start_bar)
    assert len(first) >= bars
    assert first == again


@needs_magenta
def test_a_sidecar_killed_mid_job_is_restarted_and_the_job_completes(
    resources: Resources, tmp_path: Path
) -> None:
    run_job(load_spec(SPEC_20S), tmp_path / "warm", resources)  # the sidecar is resident
    victim = _sidecar_pid(resources)

    def kill_at_compose(stage: str, _percent: float) -> None:
        if stage == "compose" and _alive(victim):
            os.kill(victim, signal.SIGKILL)

    result = run_job(load_spec(SPEC_20S), tmp_path / "job", resources, progress=kill_at_compose)
    record = result.manifest["engines"]["compose"]
    assert not _alive(victim)
    assert record["used"] == "magenta", record["reason"]
    assert record["sidecar_restarts"] == 1 and record["sidecar_pid"] != victim
    assert (tmp_path / "job" / "score.mid").read_bytes() == (tmp_path / "warm" / "score.mid").read_bytes()


@needs_magenta
def test_a_sidecar_that_dies_inside_a_request_is_restarted(tmp_path: Path) -> None:
    cache = ModelCache()
    engine = MagentaMelodyEngine(cache, PATHS, fail_after=1)  # the first process dies in its 1st request
    plan = _plan(SPEC_20S)
    score, record = compose_with_melody(plan, "magenta", cache, engine=engine)
    assert record["used"] == "magenta" and record["sidecar_restarts"] == 1
    reference, _ = compose_with_melody(plan, "magenta", cache)
    assert _melody(score) == _melody(reference)
    cache.unload_all()


@needs_magenta
def test_the_cache_evicts_the_sidecar_and_stops_its_process(resources: Resources) -> None:
    compose_with_melody(_plan(SPEC_20S), "magenta", resources.models)  # resident (a hit when it is)
    pid = _sidecar_pid(resources)
    assert resources.models.resident_bytes("cpu") > 50 * 1024**2  # its RSS counts against the budget
    budget = resources.models.cpu_budget_bytes
    resources.models.cpu_budget_bytes = 1
    try:
        with resources.models.use(ModelKey("other", "x", "cpu", "float32"), object, 1):
            pass
    finally:
        resources.models.cpu_budget_bytes = budget
    assert ModelKey("magenta", str(PATHS.bundle), "cpu", "float32") not in resources.models
    assert not _alive(pid)


def test_a_missing_magenta_env_falls_back_to_rules_with_the_reason(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VENV_ENV, str(tmp_path / "no-such-venv"))
    result = run_job(load_spec(SPEC_20S), tmp_path / "out", resources)
    record = result.manifest["engines"]["compose"]
    assert record["asked"] == "magenta" and record["used"] == "rules"
    assert "no Magenta environment" in record["reason"] and "make magenta-env" in record["reason"]
    rules, _ = compose_with_melody(_plan(SPEC_20S), "rules", resources.models)
    assert (tmp_path / "out" / "score.mid").read_bytes() == score_to_midi(rules)


def test_a_missing_bundle_falls_back_to_rules_with_the_reason(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BUNDLE_ENV, str(tmp_path / "none.mag"))
    _, record = compose_with_melody(_plan(SPEC_20S), "magenta", resources.models)
    assert record["used"] == "rules"
    assert "make magenta-env" in record["reason"] or "no melody bundle" in record["reason"]


@needs_magenta
def test_two_jobs_through_the_real_service_start_one_sidecar(tmp_path: Path) -> None:
    daemon = Daemon(
        write_config(tmp_path, worker={"job_timeout_base_s": 400}), runner=None
    )  # the real pipeline
    outbox = tmp_path / "outbox"
    try:
        for title in ("first", "second"):
            before = len(published(outbox))
            text = spec_yaml(title, 6, seed=3, genres=["folk"], engines={"melody": "magenta"})
            (tmp_path / "inbox" / f".{title}.tmp").write_text(text)
            os.replace(tmp_path / "inbox" / f".{title}.tmp", tmp_path / "inbox" / f"{title}.yaml")
            daemon.wait_for(lambda b=before: len(published(outbox)) > b, 400, f"job {title} published")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    done = {m["title"]: m for m in manifests(outbox)}
    assert all(m["status"] == "done" for m in done.values()), [m.get("error") for m in done.values()]
    found: dict[str, Any] = {title: m["engines"]["compose"] for title, m in done.items()}
    assert found["first"]["used"] == found["second"]["used"] == "magenta", found
    assert found["first"]["cache_hit"] is False and found["second"]["cache_hit"] is True
    assert found["first"]["sidecar_pid"] == found["second"]["sidecar_pid"]
    assert len(re.findall(r"magenta sidecar pid \d+ ready", daemon.log)) == 1
    assert not _alive(int(found["first"]["sidecar_pid"]))  # stopped with the worker


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


LYRICS_SPEC = (
    "title: Magenta song\ngenres: [folk]\nduration: 20\nseed: 5\nengines: {melody: magenta}\n"
    "lyrics: |\n  [verse]\n  Morning light on the harbour wall\n  [chorus]\n  Sing it again\n"
    "output: {formats: [wav], stems: true, midi: true}\n"
)


def _track_notes(path: Path, name: str) -> list[tuple[int, int]]:
    """(note, velocity) of a named track's note-ons in a MIDI file."""
    for track in mido.MidiFile(path).tracks:
        if any(m.type == "track_name" and m.name == name for m in track):
            return [(m.note, m.velocity) for m in track if m.type == "note_on" and m.velocity > 0]
    return []


@needs_magenta
def test_a_spec_with_lyrics_and_a_magenta_melody_sings_over_the_magenta_lead(
    resources: Resources, tmp_path: Path
) -> None:
    import soundfile

    result = run_job(load_spec(LYRICS_SPEC), tmp_path, resources)
    compose_record = result.manifest["engines"]["compose"]
    vocals = result.manifest["engines"]["vocals"]
    assert compose_record["used"] == "magenta", compose_record["reason"]
    assert vocals["used"] != "none" and vocals["syllables"] > 0, vocals["reason"]
    # the lead is the magenta line (pitch for pitch), stepped back under the voice
    plan = _plan(LYRICS_SPEC, seed=5)
    magenta, _ = compose_with_melody(plan, "magenta", resources.models)
    lead = _track_notes(tmp_path / "score.mid", "melody")
    assert [p for p, _ in lead] == [n.pitch for n in magenta.track("melody").notes]
    ducked = [v for (_, v), n in zip(lead, magenta.track("melody").notes) if v < n.velocity]
    assert ducked, "no lead note stepped back under the voice"
    assert _track_notes(tmp_path / "score.mid", "vocals")
    # the voice is on top: louder than the lead while it sings
    voice, rate = soundfile.read(tmp_path / "stems" / "vocals.flac", dtype="float32")
    lead_audio, _ = soundfile.read(tmp_path / "stems" / "melody.flac", dtype="float32")
    sung = np.abs(voice).max(axis=1) > 1e-3
    assert sung.mean() > 0.1
    n = min(len(voice), len(lead_audio))
    rms = lambda a: float(np.sqrt(np.mean(a[:n][sung[:n]] ** 2)))  # noqa: E731
    assert rms(voice) > 2 * rms(lead_audio), (rms(voice), rms(lead_audio), rate)


@needs_magenta
def test_a_sidecar_killed_while_a_request_is_in_flight_is_restarted_and_the_job_completes(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_job(load_spec(SPEC_20S), tmp_path / "warm", resources)  # the sidecar is resident
    sidecar = _resident_sidecar(resources)
    victim = sidecar.pid
    send = sidecar._send
    killed: list[int] = []

    def send_then_kill(message: dict[str, Any]) -> None:
        send(message)  # the request is written: the sidecar is reading or generating it
        if message.get("op") == "generate" and not killed:
            killed.append(int(sidecar.pid or 0))
            os.kill(killed[0], signal.SIGKILL)

    monkeypatch.setattr(sidecar, "_send", send_then_kill)
    result = run_job(load_spec(SPEC_20S), tmp_path / "job", resources)
    record = result.manifest["engines"]["compose"]
    assert killed == [victim] and not _alive(victim)
    assert record["used"] == "magenta", record["reason"]
    assert record["sidecar_restarts"] == 1 and record["sidecar_pid"] != victim
    assert (tmp_path / "job" / "score.mid").read_bytes() == (tmp_path / "warm" / "score.mid").read_bytes()


@needs_magenta
def test_a_sidecar_killed_in_every_request_fails_over_to_the_rules_with_the_reason(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose_with_melody(_plan(SPEC_20S), "magenta", resources.models)  # the sidecar is resident
    sidecar = _resident_sidecar(resources)
    send = sidecar._send
    killed: list[int] = []

    def send_then_kill(message: dict[str, Any]) -> None:
        send(message)
        if message.get("op") == "generate":
            killed.append(int(sidecar.pid or 0))
            os.kill(killed[-1], signal.SIGKILL)

    monkeypatch.setattr(sidecar, "_send", send_then_kill)
    result = run_job(load_spec(SPEC_20S), tmp_path, resources)
    record = result.manifest["engines"]["compose"]
    assert len(killed) == 2 and len(set(killed)) == 2  # the first process, then its restart
    assert record["asked"] == "magenta" and record["used"] == "rules"
    assert "failed twice" in record["reason"] and "exited" in record["reason"], record["reason"]
    assert (tmp_path / "magenta-tune.wav").exists()
    rules, _ = compose_with_melody(_plan(SPEC_20S), "rules", resources.models)
    assert (tmp_path / "score.mid").read_bytes() == score_to_midi(rules)


@needs_magenta
def test_musicd_does_not_import_tensorflow_for_a_magenta_job(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from musicd.pipeline import Resources, run_job\n"
        "from musicd.spec import load_spec\n"
        f"spec = load_spec({SPEC_20S!r})\n"
        "resources = Resources.load()\n"
        f"result = run_job(spec, Path({str(tmp_path / 'out')!r}), resources)\n"
        "resources.models.unload_all()\n"
        "print(json.dumps({'used': result.manifest['engines']['compose']['used'],\n"
        "  'loaded': sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "                   ('tensorflow', 'magenta', 'note_seq', 'tf_slim', 'keras'))}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"used": "magenta", "loaded": []}


@needs_magenta
def test_the_sidecar_runs_in_its_own_process_group(resources: Resources) -> None:
    compose_with_melody(_plan(SPEC_20S), "magenta", resources.models)
    pid = _sidecar_pid(resources)
    assert os.getpgid(pid) == pid != os.getpgid(0)  # a terminal's Ctrl-C goes to musicd's group only


def test_doctor_reports_a_magenta_env_whose_sidecar_cannot_start_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from musicd.cli import main

    venv = tmp_path / "venv"  # the files are there, but this Python has no magenta to import
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(Path(sys.base_exec_prefix) / "bin" / "python3")
    package = venv / "lib" / "python3.8" / "site-packages" / "magenta"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    bundle = tmp_path / "model.mag"
    bundle.write_bytes(b"not a bundle")
    monkeypatch.setenv(VENV_ENV, str(venv))
    monkeypatch.setenv(BUNDLE_ENV, str(bundle))
    result = CliRunner().invoke(main, ["doctor"])
    line = next(ln for ln in result.output.splitlines() if "melody engine magenta" in ln)
    assert line.startswith("[warn]"), line
    assert "failed to load" in line and "magenta" in line and "make magenta-env" in line, line


@needs_magenta
def test_doctor_reports_the_magenta_env_usable_after_the_sidecar_wrote_notes() -> None:
    from click.testing import CliRunner

    from musicd.cli import main

    result = CliRunner().invoke(main, ["doctor"])
    line = next(ln for ln in result.output.splitlines() if "melody engine magenta" in ln)
    assert line.startswith("[ok  ]"), line
    assert re.search(r"the sidecar started in [\d.]+ s and wrote [1-9]\d* notes", line), line


def _resident_sidecar(resources: Resources) -> Any:
    key = ModelKey("magenta", str(PATHS.bundle), "cpu", "float32")
    with resources.models.use(key, lambda: pytest.fail("the sidecar is not resident")) as sidecar:
        return sidecar
