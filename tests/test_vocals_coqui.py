"""The Coqui singing engine with a real coqui-tts model: a small random-weight VITS model built
with coqui-tts' own classes, saved as a model folder, loaded through daemon/vocals/coqui.py and
the model cache, and sung through sing().

Random weights speak noise-like audio, so what is checked is what such a model can show: sound
on the notes, silence off them, the song's length, a cache hit for the second job and the
manifest record. Where the real torchaudio does not import (CPU torch from PyPI next to CUDA-only
torchaudio wheels), tests/stubs_torchaudio/ stands in for the torchaudio/torchcodec imports,
on sys.path for this module only (see its README.md)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from musicd.engines import CoquiSettings, EngineConfig
from musicd.engines.cache import ModelCache
from musicd.music.plan import make_plan
from musicd.spec import load_spec
from musicd.vocals import coqui, sing
from musicd.vocals.coqui import coqui_unavailable_reason, model_files

STUBS = Path(__file__).parent / "stubs_torchaudio"
SAMPLE_RATE = 22050
LYRICS = "[verse]\nHold the light\nCarry me home\n\n[chorus]\nSing along\n"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("TTS") is None,
    reason="coqui-tts and torch are not installed (the ml extra)",
)


def _real_torchaudio_imports() -> bool:
    try:
        importlib.import_module("torchaudio")
        return importlib.util.find_spec("torchcodec") is not None
    except (ImportError, OSError):
        return False


@pytest.fixture(scope="module")
def torchaudio_for_coqui():
    """The real torchaudio where it imports, else the test-only stand-in on sys.path."""
    if _real_torchaudio_imports():
        yield "real"
        return
    sys.path.insert(0, str(STUBS))
    try:
        yield "stand-in"
    finally:
        sys.path.remove(str(STUBS))
        for name in [m for m in sys.modules if m.split(".")[0] in ("torchaudio", "torchcodec")]:
            del sys.modules[name]
        coqui._importable.clear()  # what imported with the stand-in must be checked again


def build_tiny_vits(folder: Path) -> Path:
    """A random-weight VITS model (about 0.26 M parameters, English letters) saved the way
    coqui-tts' trainer saves one: config.json and model.pth."""
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        upsample_initial_channel_decoder=32,
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]],
        use_sdp=False,
        init_discriminator=False,
    )
    characters = CharactersConfig(
        characters_class="TTS.tts.utils.text.characters.Graphemes",
        pad="_",
        eos="",
        bos="",
        blank="<BLNK>",
        characters="abcdefghijklmnopqrstuvwxyz",
        punctuations="!'(),-.:;? ",
        phonemes=None,
    )
    config = VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(sample_rate=16000),
        use_phonemes=False,
        text_cleaner="multilingual_cleaners",
        characters=characters,
    )
    torch.manual_seed(0)
    model = Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    model.config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture(scope="module")
def tiny_model(torchaudio_for_coqui, tmp_path_factory) -> Path:
    return build_tiny_vits(tmp_path_factory.mktemp("coqui") / "tiny-vits")


def coqui_config(folder: Path) -> EngineConfig:
    return EngineConfig(coqui=CoquiSettings(path=folder))


def song():
    spec = load_spec(
        "genres: [pop]\nduration: 20\nlyrics: |\n" + "".join(f"  {line}\n" for line in LYRICS.splitlines())
    )
    plan = make_plan(spec, 5)
    return spec, plan, int(plan.duration_s * SAMPLE_RATE)


def test_coqui_model_sings_on_the_notes_through_the_model_cache(tiny_model):
    assert coqui_unavailable_reason(tiny_model) is None
    spec, plan, n_samples = song()
    cache = ModelCache()
    first = sing(
        spec.lyrics,
        ["en"],
        "low",
        "coqui",
        plan,
        SAMPLE_RATE,
        n_samples,
        seed=5,
        config=coqui_config(tiny_model),
        cache=cache,
    )
    assert first.engine_used == "coqui" and first.reason == "asked for coqui"
    assert first.audio is not None and first.audio.shape == (n_samples, 2)
    record = first.record()
    assert record["used"] == "coqui" and record["syllables"] >= 8
    [use] = record["models"]
    assert use["engine"] == "coqui" and use["path"] == str(tiny_model)
    assert use["device"] in ("cpu", "cuda") and use["dtype"] == "float32"
    assert use["cache_hit"] is False and use["load_s"] > 0 and use["size_bytes"] > 100_000

    # The dry take (before the bus's reverb) sounds on the notes and is silent elsewhere.
    from musicd.vocals.coqui import sing_with_coqui

    dry = sing_with_coqui(first.vocal, tiny_model, cache, SAMPLE_RATE, n_samples)
    vocal = first.vocal
    spans = [
        (
            vocal.beats_to_seconds(n.note.start_beat),
            vocal.beats_to_seconds(n.note.start_beat + n.note.duration_beats),
        )
        for n in vocal.notes
    ]
    sounding = [np.max(np.abs(dry[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)])) > 1e-3 for a, b in spans]
    assert np.mean(sounding) >= 0.8
    first_note = int(spans[0][0] * SAMPLE_RATE)
    last_end = int((spans[-1][1] + 0.1) * SAMPLE_RATE)
    assert not np.any(dry[: max(0, first_note - 10)]) and not np.any(dry[last_end:])
    for previous, following in zip(vocal.lines, vocal.lines[1:]):
        gap = dry[
            int(vocal.beats_to_seconds(previous.end_beat + 0.25) * SAMPLE_RATE) : int(
                (vocal.beats_to_seconds(following.start_beat) - 0.02) * SAMPLE_RATE
            )
        ]
        assert gap.size == 0 or np.max(np.abs(gap)) < 1e-3

    second = sing(
        spec.lyrics,
        ["en"],
        "low",
        "coqui",
        plan,
        SAMPLE_RATE,
        n_samples,
        seed=5,
        config=coqui_config(tiny_model),
        cache=cache,
    )
    assert cache.loads == 1 and len(cache.resident()) == 1
    assert [m["cache_hit"] for m in second.record()["models"]] == [True]
    assert second.lrc_text == first.lrc_text and second.track == first.track


def test_auto_engine_prefers_a_configured_coqui_model(tiny_model):
    spec, plan, n_samples = song()
    result = sing(
        spec.lyrics,
        ["en"],
        "high",
        "auto",
        plan,
        SAMPLE_RATE,
        n_samples,
        seed=5,
        config=coqui_config(tiny_model),
        cache=ModelCache(),
    )
    assert result.engine_used == "coqui" and result.reason == "a Coqui model is configured"
    assert np.max(np.abs(result.audio)) > 0.5  # the bus brings it to -3 dBFS


def test_broken_coqui_model_falls_back_to_espeak_and_says_why(torchaudio_for_coqui, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"model": "vits"}')
    (folder / "model.pth").write_bytes(b"not a checkpoint")
    assert model_files(folder) == (folder / "model.pth", folder / "config.json")
    spec, plan, n_samples = song()
    cache = ModelCache()
    result = sing(
        spec.lyrics,
        ["en"],
        "low",
        "coqui",
        plan,
        SAMPLE_RATE,
        n_samples,
        seed=5,
        config=coqui_config(folder),
        cache=cache,
    )
    assert result.engine_used == "piper" and result.audio is not None  # the next singer for English
    assert "could not be loaded" in result.reason and "fell back to piper" in result.reason
    # The broken model never became resident; the Piper voice that sang instead did.
    assert [key.engine for key in cache.resident()] == ["piper"]
    assert [m["engine"] for m in result.record()["models"]] == ["piper"]


def test_coqui_folder_problems_are_explained(tmp_path):
    assert "no Coqui model folder" in coqui_unavailable_reason(None)
    assert "does not exist" in coqui_unavailable_reason(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    assert "model checkpoint" in coqui_unavailable_reason(tmp_path)


def test_job_with_a_coqui_model_records_it_in_the_manifest(tiny_model, tmp_path):
    import json

    import soundfile as sf

    from musicd.engines import parse_engine_config
    from musicd.pipeline import Resources, run_job

    resources = Resources.load(engines=parse_engine_config({"coqui": {"path": str(tiny_model)}}))
    spec = load_spec(
        "genres: [folk]\nduration: 20\nseed: 4\noutput: {formats: [wav]}\n"
        "lyrics: |\n  Hold the light across the water\n"
    )
    result = run_job(spec, tmp_path, resources)
    vocals = result.manifest["engines"]["vocals"]
    assert vocals["used"] == "coqui" and vocals["reason"] == "a Coqui model is configured"
    assert [m["engine"] for m in vocals["models"]] == ["coqui"]
    assert json.loads((tmp_path / "manifest.json").read_text())["engines"]["vocals"] == vocals
    stem, _ = sf.read(tmp_path / "stems/vocals.flac")
    assert np.max(np.abs(stem)) > 0.01
