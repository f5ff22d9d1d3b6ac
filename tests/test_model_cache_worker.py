"""The resident model cache through the real service: `musicd run` as a subprocess, the real worker
process and the real pipeline, with tiny random-weight Riffusion and MusicGen folders.

What a job's manifest says about its models (engines.texture.models: cache hit, load seconds)
and what the worker logs (loads, evictions, idle unloads) show the cache doing its duties
across jobs. Out-of-memory errors are injected by tests/model_cache_runner.py, a job runner
(the worker.runner extension point) that wraps musicd.pipeline.run_job and makes the
diffusion pipeline's forward call raise torch.cuda.OutOfMemoryError inside the worker only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from daemon_helpers import Daemon, job_rows, manifests, published, spec_yaml, write_config

pytestmark = pytest.mark.timeout(180)

OOM_RUNNER = "model_cache_runner:run_job"
LOADED_RIFFUSION = "loaded riffusion from"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch", reason="torch (the ml extra) is not installed")
    pytest.importorskip("diffusers", reason="diffusers (the ml extra) is not installed")
    pytest.importorskip("transformers", reason="transformers (the ml extra) is not installed")
    from tiny_models import build_tiny_musicgen, build_tiny_riffusion

    root = tmp_path_factory.mktemp("models")
    return {
        "riffusion": build_tiny_riffusion(root / "riffusion"),
        "musicgen": build_tiny_musicgen(root / "musicgen"),
    }


def models_section(tiny_models: dict[str, Path], **cache: Any) -> dict[str, Any]:
    """The config's `models:` for the tiny folders, with quick inference settings.

    Both run on the CPU even where a GPU is present, so `budget_gb` is the budget that applies.
    """
    return {
        "riffusion": {
            "path": str(tiny_models["riffusion"]),
            "device": "cpu",
            "steps": 2,
            "clip_width_px": 64,
            "max_clips": 1,
            "griffin_lim_iters": 2,
        },
        "musicgen": {
            "path": str(tiny_models["musicgen"]),
            "device": "cpu",
            "window_s": 1.0,
            "prompt_s": 0.4,
            "max_windows": 1,
        },
        "cache": cache,
    }


def start_daemon(root: Path, models: dict[str, Any], runner: str | None = None) -> Daemon:
    """`musicd run` with the given `models:`; runner None is the real pipeline."""
    return Daemon(write_config(root, models=models), runner=runner)


def submit(daemon: Daemon, title: str, texture: str = "riffusion") -> dict[str, Any]:
    """Drop one short spec into the inbox and wait for its published folder; its manifest."""
    outbox = daemon.root / "outbox"
    before = len(published(outbox))
    inbox = daemon.root / "inbox"
    text = spec_yaml(title, 5, seed=3, engines={"texture": texture})
    name = re.sub(r"[^a-z0-9]+", "-", title.lower())
    (inbox / f".{name}.tmp").write_text(text)
    os.replace(inbox / f".{name}.tmp", inbox / f"{name}.yaml")
    daemon.wait_for(lambda: len(published(outbox)) > before, 120, f"job {title!r} published")
    return next(m for m in manifests(outbox) if m["title"] == title)


def texture_models(manifest: dict[str, Any]) -> list[tuple[str, bool, float]]:
    """(engine, cache_hit, load_s) of each model use the job's texture stage recorded."""
    return [(u["engine"], u["cache_hit"], u["load_s"]) for u in manifest["engines"]["texture"]["models"]]


def test_two_jobs_on_one_model_load_it_once(tmp_path: Path, tiny_models: dict[str, Path]) -> None:
    daemon = start_daemon(tmp_path, models_section(tiny_models))
    try:
        first = submit(daemon, "first")
        second = submit(daemon, "second")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert first["status"] == second["status"] == "done"
    assert first["engines"]["texture"]["used"] == "riffusion"
    [(engine, hit, load_s)] = texture_models(first)
    assert engine == "riffusion" and hit is False and load_s > 0
    assert texture_models(second) == [("riffusion", True, 0.0)]
    assert second["engines"]["texture"]["models"][0]["path"] == str(tiny_models["riffusion"])
    assert daemon.log.count(LOADED_RIFFUSION) == 1


def test_a_budget_for_one_model_evicts_the_least_recently_used(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    # Riffusion is ~1.4 MB and MusicGen ~0.8 MB: 1.6e-3 GiB (~1.7 MB) holds one of them.
    daemon = start_daemon(tmp_path, models_section(tiny_models, budget_gb=1.6e-3))
    try:
        riffusion = submit(daemon, "riffusion first", "riffusion")
        musicgen = submit(daemon, "musicgen next", "musicgen")
        evicted_for_musicgen = "evicting riffusion" in daemon.log
        riffusion_again = submit(daemon, "riffusion again", "riffusion")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert [texture_models(m)[0][:2] for m in (riffusion, musicgen, riffusion_again)] == [
        ("riffusion", False),
        ("musicgen", False),
        ("riffusion", False),
    ]
    assert texture_models(riffusion_again)[0][2] > 0  # loaded again: it had been evicted
    assert evicted_for_musicgen
    assert "evicting musicgen" in daemon.log
    assert daemon.log.count(LOADED_RIFFUSION) == 2


def test_out_of_memory_retries_once_then_fails_the_job_and_the_worker_goes_on(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    daemon = start_daemon(tmp_path, models_section(tiny_models), runner=OOM_RUNNER)
    try:
        recovered = submit(daemon, "oom-once")
        failed = submit(daemon, "oom-twice")
        after = submit(daemon, "after")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    # One out-of-memory error: every model is unloaded and the retry loads it afresh.
    assert recovered["status"] == "done"
    assert recovered["engines"]["texture"]["used"] == "riffusion"
    assert [hit for _, hit, _ in texture_models(recovered)] == [False, False]
    assert "riffusion ran out of memory (attempt 1)" in daemon.log
    # Two in a row: the job fails with the reason and a way out, in its failed folder.
    assert failed["status"] == "failed"
    failed_dir = next(p for p in published(tmp_path / "outbox") if "oom-twice" in p.name)
    assert failed_dir.name.endswith("-failed")
    error = (failed_dir / "error.txt").read_text()
    assert "riffusion ran out of memory" in error and "CUDA out of memory" in error
    assert "engines.texture: procedural" in error
    rows = {r["title"]: r for r in job_rows(tmp_path / "state")}
    assert rows["oom-twice"]["state"] == "failed" and rows["oom-twice"]["attempts"] == 1
    # The worker survived: the same process rendered the next job, with the model cached.
    assert after["status"] == "done"
    assert after["worker_pid"] == recovered["worker_pid"]
    assert texture_models(after)[0][0] == "riffusion"


def test_missing_model_folder_falls_back_to_procedural_with_the_reason(tmp_path: Path) -> None:
    nowhere = tmp_path / "models" / "riffusion-model-v1"
    daemon = start_daemon(tmp_path, {"riffusion": str(nowhere)})
    try:
        manifest = submit(daemon, "no model here")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert manifest["status"] == "done"
    texture = manifest["engines"]["texture"]
    assert texture["asked"] == "riffusion" and texture["used"] == "procedural"
    assert str(nowhere) in texture["reason"] and "does not exist" in texture["reason"]
    assert texture["models"] == []


def test_preloaded_model_is_loaded_before_ready_and_the_first_job_hits(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    daemon = start_daemon(tmp_path, models_section(tiny_models, preload=["riffusion"]))
    try:
        daemon.wait_for(lambda: re.search(r"worker \d+ ready", daemon.log), 60, "the worker ready")
        log_at_ready = daemon.log
        first = submit(daemon, "first after start")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert LOADED_RIFFUSION in log_at_ready
    ready_at = re.search(r"worker \d+ ready", log_at_ready)
    assert ready_at is not None and log_at_ready.index(LOADED_RIFFUSION) < ready_at.start()
    assert texture_models(first) == [("riffusion", True, 0.0)]
    assert daemon.log.count(LOADED_RIFFUSION) == 1


def test_a_model_idle_past_keep_alive_is_unloaded_between_jobs(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    daemon = start_daemon(tmp_path, models_section(tiny_models, keep_alive_s=1))
    try:
        first = submit(daemon, "before the pause")
        daemon.wait_for(
            lambda: "unloaded idle models: riffusion" in daemon.log, 30, "the idle riffusion model unloaded"
        )
        later = submit(daemon, "after the pause")
    finally:
        assert daemon.stop() == 0, daemon.log[-3000:]
    assert texture_models(first)[0][:2] == ("riffusion", False)
    assert texture_models(later)[0][:2] == ("riffusion", False)  # a load again, not a hit
    assert texture_models(later)[0][2] > 0
    assert daemon.log.count(LOADED_RIFFUSION) == 2
