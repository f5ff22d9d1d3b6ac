"""The procedural texture engine, texture levels, engine settings and the engine choice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import signal, stats

from musicd.engines import (
    EngineConfig,
    TextureRequest,
    choose_texture_engine,
    engine_report,
    parse_engine_config,
)
from musicd.engines.texture_procedural import (
    ProceduralTextureEngine,
    render_procedural_texture,
    riser_targets,
    texture_level_db,
)
from musicd.errors import ConfigError
from musicd.music.sections import Section

SR = 44100
SECTIONS = (
    Section("intro", 0, 4, 0.3),
    Section("verse", 4, 8, 0.5),
    Section("chorus", 12, 8, 0.9),
    Section("outro", 20, 4, 0.4),
)


def request(
    genres=("lofi",), seed=7, tempo_bpm=120.0, sections=SECTIONS, key="A", mode="minor", bars=24, meter=(4, 4)
) -> TextureRequest:
    bar_s = meter[0] * 4 / meter[1] * 60 / tempo_bpm
    return TextureRequest(
        prompt="",
        genres=tuple(genres),
        moods=(),
        tempo_bpm=tempo_bpm,
        key_tonic=key,
        mode=mode,
        meter=meter,
        sections=sections,
        duration_s=bars * bar_s,
        sample_rate=SR,
        seed=seed,
    )


def highpass(audio: np.ndarray, cutoff_hz: float) -> np.ndarray:
    sos = signal.butter(4, cutoff_hz, btype="highpass", fs=SR, output="sos")
    return signal.sosfilt(sos, audio.mean(axis=1))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


@pytest.mark.parametrize("genres", [("lofi",), ("house",), ("ambient",), ("cinematic", "trance"), ("polka",)])
def test_texture_has_the_songs_exact_length_in_stereo(genres):
    req = request(genres)
    audio = ProceduralTextureEngine().generate(req, None)
    assert audio.dtype == np.float32
    assert audio.shape == (req.n_samples, 2)
    assert np.isfinite(audio).all()


def test_odd_lengths_and_meters_are_exact():
    req = request(("jazz",), tempo_bpm=97.0, meter=(3, 4), bars=7, sections=())
    assert render_procedural_texture(req).shape == (req.n_samples, 2)


def test_same_seed_gives_the_same_texture_and_another_seed_another():
    first = render_procedural_texture(request(seed=11))
    again = render_procedural_texture(request(seed=11))
    other = render_procedural_texture(request(seed=12))
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("genres", [("lofi",), ("techno",), ("ambient",), ("folk",)])
def test_texture_is_audible_and_peaks_near_minus_12_dbfs(genres):
    audio = render_procedural_texture(request(genres))
    peak_db = 20 * np.log10(np.abs(audio).max())
    assert -12.5 < peak_db <= -11.99
    assert 20 * np.log10(rms(audio)) > -40.0


def test_lofi_has_vinyl_crackle_that_ambient_lacks():
    steady = (Section("verse", 0, 24, 0.6),)  # no riser: only clicks can make the highs spiky
    lofi = highpass(render_procedural_texture(request(("lofi",), sections=steady)), 4000.0)
    ambient = highpass(render_procedural_texture(request(("ambient",), sections=steady)), 4000.0)
    # Clicks make the high band spiky (heavy tails); noise beds and pads do not.
    assert stats.kurtosis(lofi) > 10.0
    assert stats.kurtosis(ambient) < 3.0
    spikes = np.sum(np.abs(lofi) > 8 * np.median(np.abs(lofi)))
    assert spikes / (len(lofi) / SR) > 5  # several clicks per second


def test_a_riser_climbs_into_the_chorus():
    req = request(("trance",))
    audio = render_procedural_texture(req)
    high = highpass(audio, 3000.0)
    bar = int(req.bar_s * SR)
    chorus = 12 * bar
    quarters = [
        rms(high[chorus - 2 * bar + i * bar // 2 : chorus - 2 * bar + (i + 1) * bar // 2]) for i in range(4)
    ]
    assert quarters == sorted(quarters), quarters
    assert quarters[-1] > 4 * quarters[0]
    mid_verse = rms(high[6 * bar : 8 * bar])
    assert quarters[-1] > 3 * mid_verse


def test_risers_lead_into_choruses_drops_and_big_lifts_only():
    sections = (
        Section("intro", 0, 4, 0.2),
        Section("verse", 4, 8, 0.4),
        Section("chorus", 12, 8, 0.8),
        Section("bridge", 20, 4, 0.3),
        Section("verse", 24, 4, 0.7),
        Section("outro", 28, 4, 0.3),
    )
    assert [(s.name, s.start_bar) for s in riser_targets(sections)] == [("chorus", 12), ("verse", 24)]


def test_dance_pads_pump_on_the_beat():
    req = request(("house",), sections=(Section("verse", 0, 24, 0.8),))
    audio = render_procedural_texture(req)
    beat = int(60.0 / req.tempo_bpm * SR)
    on_beat = [rms(audio[b : b + beat // 8]) for b in range(8 * beat, 40 * beat, beat)]
    mid_beat = [
        rms(audio[b + beat // 2 : b + beat // 2 + beat // 8]) for b in range(8 * beat, 40 * beat, beat)
    ]
    assert np.mean(on_beat) < 0.75 * np.mean(mid_beat)


@pytest.mark.parametrize(("key", "mode", "allowed"), [("A", "minor", {9, 4, 0}), ("D", "major", {2, 9, 6})])
def test_the_drone_and_pad_sit_on_the_keys_chord_tones(key, mode, allowed):
    audio = render_procedural_texture(request(("ambient",), key=key, mode=mode)).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    band = (freqs > 40) & (freqs < 1200)
    peaks, _ = signal.find_peaks(spectrum[band], distance=int(5 / (freqs[1] - freqs[0])))
    strongest = peaks[np.argsort(spectrum[band][peaks])[-6:]]
    pitch_classes = {int(round(12 * np.log2(f / 440.0) + 69)) % 12 for f in freqs[band][strongest]}
    assert pitch_classes <= allowed, pitch_classes


def test_texture_sits_louder_in_ambient_than_in_rock():
    assert texture_level_db(("ambient",)) > texture_level_db(("lofi",)) > texture_level_db(("rock",))
    assert texture_level_db(("lofi", "rock")) == texture_level_db(("lofi",))
    assert texture_level_db(("not-a-genre",)) == texture_level_db(())


def test_a_minute_of_texture_renders_quickly():
    req = request(("lofi", "ambient"), bars=30)  # 60 s at 120 bpm
    render_procedural_texture(req)
    started = time.perf_counter()
    render_procedural_texture(req)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5, f"{elapsed:.2f} s for a minute"  # ~0.1 s on an idle core


def test_importing_the_engines_does_not_import_torch():
    code = "import sys, musicd.engines; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_spec_reads_the_engine_registry_without_loading_numpy():
    code = "import sys, musicd.spec; sys.exit(1 if {'numpy', 'torch'} & set(sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_procedural_engine_has_nothing_to_preload():
    from musicd.engines import ModelCache

    cache = ModelCache()
    assert ProceduralTextureEngine().preload(cache) is None and cache.resident() == []


# ---------------------------------------------------------------- settings and choice


def test_engine_settings_accept_a_path_or_a_mapping(tmp_path):
    config = parse_engine_config(
        {
            "riffusion": "models/riffusion",
            "musicgen": {"path": "/srv/musicgen", "window_s": 20, "prompt_s": 5},
            "cache": {"budget_gb": 4, "preload": ["musicgen"], "keep_alive_s": 600},
            "texture_auto_order": ["musicgen", "procedural"],
            "coqui": {"path": "/srv/tts"},
        },
        base_dir=tmp_path,
    )
    assert config.riffusion.path == tmp_path / "models" / "riffusion"
    assert config.musicgen.window_s == 20.0 and config.musicgen.prompt_s == 5.0
    assert config.cache.preload == ("musicgen",) and config.cache.budget_gb == 4.0
    assert config.texture_auto_order == ("musicgen", "procedural")
    assert config.coqui.path == Path("/srv/tts")


def test_bad_engine_settings_are_all_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_engine_config(
            {
                "riffusion": {"path": "/x", "stpes": 5, "device": "tpu"},
                "musicgen": {"window_s": 10, "prompt_s": 12},
                "cache": {"budget_gb": "lots", "preload": ["magenta"]},
                "texture_auto_order": ["riffusion", "vst"],
            }
        )
    text = str(caught.value)
    for fragment in (
        "models.riffusion.stpes",
        "models.riffusion.device",
        "models.musicgen.prompt_s",
        "models.cache.budget_gb",
        "models.cache.preload",
        "models.texture_auto_order",
    ):
        assert fragment in text


def test_texture_none_means_no_engine():
    choice = choose_texture_engine("none", EngineConfig())
    assert choice.engine is None and choice.used == "none"
    assert choice.as_record("none") == {"asked": "none", "used": "none", "reason": choice.reason}


def test_auto_without_models_picks_procedural_and_says_why():
    engine, used, reason = choose_texture_engine("auto", EngineConfig())
    assert used == "procedural" and engine.name == "procedural"
    assert "riffusion unusable" in reason and "musicgen unusable" in reason


def test_a_custom_auto_order_is_followed():
    engine, used, reason = choose_texture_engine("auto", EngineConfig(), auto_order=("procedural",))
    assert used == "procedural" and reason == "auto picked procedural"


def test_doctor_report_lists_every_texture_engine():
    report = {row["engine"]: row for row in engine_report(EngineConfig())}
    assert set(report) == {"procedural", "riffusion", "musicgen"}

    assert report["procedural"]["usable"] is True
    assert report["riffusion"]["usable"] is False
    assert "models.riffusion.path" in report["riffusion"]["reason"]


def test_the_spec_offers_the_registrys_engines():
    from musicd.engines import MELODY_ENGINE_NAMES, SINGER_NAMES, TEXTURE_ENGINE_NAMES
    from musicd.spec.choices import MELODY_ENGINES, TEXTURE_ENGINES, VOCAL_ENGINES

    assert TEXTURE_ENGINES == ("auto", "none", *TEXTURE_ENGINE_NAMES)
    assert MELODY_ENGINES == ("auto", *MELODY_ENGINE_NAMES) and "learned" not in MELODY_ENGINES
    assert VOCAL_ENGINES == ("auto", *SINGER_NAMES, "none")
