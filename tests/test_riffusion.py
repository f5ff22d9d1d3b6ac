"""The Riffusion engine with a tiny random-weight Stable Diffusion folder built offline."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from musicd.engines import (
    ModelCache,
    TextureRequest,
    choose_texture_engine,
    engine_report,
    parse_engine_config,
)
from musicd.engines.riffusion import RiffusionEngine, join_with_crossfade, riffusion_prompt
from musicd.errors import ResourceMissingError
from musicd.music.sections import Section


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    pytest.importorskip("torch", reason="torch (the ml extra) is not installed")
    pytest.importorskip("diffusers", reason="diffusers (the ml extra) is not installed")
    pytest.importorskip("transformers", reason="transformers (the ml extra) is not installed")
    from tiny_models import build_tiny_riffusion

    return build_tiny_riffusion(tmp_path_factory.mktemp("models") / "riffusion-model-v1")


def settings(path, **overrides):
    riffusion = {"path": str(path), "steps": 2, "clip_width_px": 64, "griffin_lim_iters": 2, **overrides}
    return parse_engine_config({"riffusion": riffusion})


def song(duration_bars: int = 2, tempo_bpm: float = 120.0, sample_rate: int = 44100, seed: int = 3):
    bar_s = 4 * 60.0 / tempo_bpm
    sections = (Section("verse", 0, 1, 0.3),)
    if duration_bars > 1:
        sections += (Section("chorus", 1, duration_bars - 1, 0.9),)
    return TextureRequest(
        prompt="dusty tape",
        genres=("lofi", "hip-hop"),
        moods=("mellow",),
        tempo_bpm=tempo_bpm,
        key_tonic="F",
        mode="minor",
        meter=(4, 4),
        sections=sections,
        duration_s=duration_bars * bar_s,
        sample_rate=sample_rate,
        seed=seed,
    )


def test_generates_the_songs_exact_length_through_the_cache(model_dir):
    request = song(duration_bars=1)  # 2 s: four chained 0.64 s clips, 64 ms crossfades
    engine = RiffusionEngine(settings(model_dir))
    assert engine.clip_count(request) == 4
    audio = engine.generate(request, ModelCache())
    assert audio.shape == (request.n_samples, 2) and audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-12.0, abs=0.01)


def test_two_generations_load_once_and_the_second_is_a_hit(model_dir):
    engine = RiffusionEngine(settings(model_dir, max_clips=1))
    cache = ModelCache()
    with cache.recording() as uses:
        first = engine.generate(song(), cache)
        second = engine.generate(song(), cache)
    assert cache.loads == 1
    assert [(u.cache_hit, u.device, u.dtype, u.path) for u in uses] == [
        (False, "cpu", "float32", str(model_dir)),
        (True, "cpu", "float32", str(model_dir)),
    ]
    assert uses[0].load_s > 0 and uses[1].load_s == 0.0
    assert np.array_equal(first, second)  # same seed, same texture
    assert not np.allclose(first, engine.generate(song(seed=4), cache))


def test_a_few_clips_loop_to_fill_a_longer_song_at_another_rate(model_dir):
    request = song(duration_bars=3, tempo_bpm=100.0, sample_rate=48000)
    audio = RiffusionEngine(settings(model_dir, max_clips=1)).generate(request, ModelCache())
    assert audio.shape == (request.n_samples, 2)
    bar = int(request.bar_s * 48000)
    assert np.sqrt(np.mean(audio[2 * bar :] ** 2)) > 1e-4  # the loop reaches the end


def test_a_missing_model_folder_is_unusable_and_texture_falls_back_to_procedural(tmp_path):
    missing = tmp_path / "no-such-model"
    config = parse_engine_config({"riffusion": str(missing)})
    status = RiffusionEngine(config).availability(config)
    assert not status.usable and str(missing) in status.reason and "does not exist" in status.reason
    engine, used, reason = choose_texture_engine("riffusion", config)
    assert used == "procedural" and engine.name == "procedural"
    assert "riffusion asked for but unusable" in reason and str(missing) in reason


def test_an_incomplete_folder_names_the_files_it_lacks(tmp_path, model_dir):
    partial = tmp_path / "partial"
    shutil.copytree(model_dir, partial)
    shutil.rmtree(partial / "unet")
    status = RiffusionEngine(settings(partial)).availability(settings(partial))
    assert not status.usable and "unet/config.json" in status.reason and str(partial) in status.reason


def test_corrupt_weights_are_a_clear_error_naming_the_folder(tmp_path, model_dir):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ResourceMissingError, match=str(broken)):
        RiffusionEngine(settings(broken)).generate(song(), ModelCache())


def test_asked_by_name_it_runs_even_on_the_cpu_but_auto_skips_it_there(model_dir):
    config = settings(model_dir)
    engine, used, reason = choose_texture_engine("riffusion", config)
    assert used == "riffusion" and "on cpu" in reason
    engine, used, reason = choose_texture_engine("auto", config)
    assert used == "procedural" and "no GPU" in reason
    on_cpu = parse_engine_config({"riffusion": str(model_dir), "texture_auto_on_cpu": True})
    assert choose_texture_engine("auto", on_cpu).used == "riffusion"


def test_doctor_says_riffusion_is_usable_but_slow_without_a_gpu(model_dir):
    row = next(r for r in engine_report(settings(model_dir)) if r["engine"] == "riffusion")
    assert row["usable"] is True and row["device"] == "cpu" and "slowly" in row["reason"]


def test_prompt_carries_genres_moods_energy_and_the_spec_prompt():
    request = song()
    assert riffusion_prompt(request, 0.9) == "lofi, hip hop, mellow, energetic, full, dusty tape"
    assert riffusion_prompt(request, 0.5) == "lofi, hip hop, mellow, dusty tape"


def test_clips_join_with_an_equal_power_crossfade():
    a = np.ones(1000, dtype=np.float32)
    joined = join_with_crossfade([a, a], 200)
    assert len(joined) == 1800
    assert np.all(joined[800:1000] >= 0.99) and np.all(joined[800:1000] <= 1.42)
