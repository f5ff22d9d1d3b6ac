"""The MusicGen engine with a tiny random-weight checkpoint built offline, and fitting to bars."""

from __future__ import annotations

import numpy as np
import pytest

from musicd.engines import ModelCache, TextureRequest, choose_texture_engine, parse_engine_config
from musicd.engines.fit import bar_seconds, fit_to_bars, normalize_peak, time_stretch
from musicd.engines.musicgen import MusicGenEngine, musicgen_prompt
from musicd.errors import ResourceMissingError
from musicd.music.sections import Section


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    pytest.importorskip("torch", reason="torch (the ml extra) is not installed")
    pytest.importorskip("transformers", reason="transformers (the ml extra) is not installed")
    from tiny_models import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("models") / "musicgen-small")


def settings(path, **overrides):
    return parse_engine_config(
        {"musicgen": {"path": str(path), "window_s": 1.0, "prompt_s": 0.4, **overrides}}
    )


def song(bars: int = 2, tempo_bpm: float = 120.0, sample_rate: int = 44100, seed: int = 9):
    return TextureRequest(
        prompt="rainy window",
        genres=("lofi", "jazz"),
        moods=("calm",),
        tempo_bpm=tempo_bpm,
        key_tonic="Eb",
        mode="major",
        meter=(4, 4),
        sections=(Section("verse", 0, bars, 0.5),),
        duration_s=bars * 240.0 / tempo_bpm,
        sample_rate=sample_rate,
        seed=seed,
    )


class CountingEngine(MusicGenEngine):
    """The real engine, counting its generate() windows."""

    def __init__(self, config):
        super().__init__(config)
        self.windows = []

    def _generate_window(self, loaded, prompt, tail, frames, seed, plan):
        audio = super()._generate_window(loaded, prompt, tail, frames, seed, plan)
        self.windows.append((None if tail is None else tail.shape[1], frames, audio.shape[1]))
        return audio


def test_generates_the_songs_exact_length_window_by_window(model_dir):
    request = song(bars=1)  # 2 s with 1 s windows: continuation from the audio tail
    engine = CountingEngine(settings(model_dir))
    audio = engine.generate(request, ModelCache())
    assert audio.shape == (request.n_samples, 2) and audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-12.0, abs=0.01)
    assert len(engine.windows) >= 3
    assert engine.windows[0][0] is None  # text only
    prompt_samples, new_frames, decoded = engine.windows[1]
    assert prompt_samples == 20 * 640  # 0.4 s of 32 kHz audio, whole 640-sample frames
    assert decoded == prompt_samples + new_frames * 640  # the prompt comes back, then new audio


def test_two_generations_load_once_and_the_second_is_a_hit(model_dir):
    engine = MusicGenEngine(settings(model_dir))
    cache = ModelCache()
    with cache.recording() as uses:
        first = engine.generate(song(), cache)
        second = engine.generate(song(), cache)
    assert cache.loads == 1
    assert [u.cache_hit for u in uses] == [False, True] and uses[1].load_s == 0.0
    assert uses[0].path == str(model_dir) and uses[0].device == "cpu" and uses[0].dtype == "float32"
    assert np.array_equal(first, second)
    other = engine.generate(song(seed=10), cache)
    assert not np.allclose(first, other)


def test_max_windows_loops_the_result_at_another_rate(model_dir):
    request = song(bars=2, tempo_bpm=90.0, sample_rate=48000)
    engine = CountingEngine(settings(model_dir, max_windows=1))
    audio = engine.generate(request, ModelCache())
    assert len(engine.windows) == 1 and audio.shape == (request.n_samples, 2)


def test_a_missing_model_folder_falls_back_to_procedural(tmp_path):
    missing = tmp_path / "musicgen-small"
    config = parse_engine_config({"musicgen": str(missing)})
    engine, used, reason = choose_texture_engine("musicgen", config)
    assert used == "procedural" and str(missing) in reason and "does not exist" in reason


def test_a_folder_without_weights_is_unusable_and_says_so(tmp_path, model_dir):
    folder = tmp_path / "musicgen"
    folder.mkdir()
    for name in ("config.json", "tokenizer_config.json"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    status = MusicGenEngine(settings(folder)).availability(settings(folder))
    assert not status.usable and "no weights" in status.reason and str(folder) in status.reason


def test_corrupt_weights_are_a_clear_error_naming_the_folder(tmp_path, model_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ResourceMissingError, match=str(broken)):
        MusicGenEngine(settings(broken)).generate(song(), ModelCache())


def test_prompt_names_genres_moods_tempo_and_key():
    assert musicgen_prompt(song()) == "lofi, jazz track, calm, 120 bpm, in Eb major. rainy window"


# ---------------------------------------------------------------- fitting to bars (numpy only)


def sine(seconds: float, freq_hz: float = 440.0, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([np.sin(2 * np.pi * freq_hz * t)] * 2, axis=1).astype(np.float32)


def test_long_audio_is_trimmed_to_the_song_with_a_fade():
    fitted = fit_to_bars(sine(5.0), 44100, 120.0, (4, 4), 44100 * 4)
    assert fitted.shape == (44100 * 4, 2)
    assert abs(fitted[-1, 0]) < 1e-3 and abs(fitted[0, 0]) < 1e-3


def test_short_audio_is_stretched_to_whole_bars_and_looped():
    rate = 44100
    bar = bar_seconds(120.0, (4, 4))  # 2 s
    n = int(5 * bar * rate)
    fitted = fit_to_bars(sine(1.7), rate, 120.0, (4, 4), n, crossfade_s=0.1)
    assert fitted.shape == (n, 2)
    spectrum = np.abs(np.fft.rfft(fitted[:, 0]))
    peak_hz = np.fft.rfftfreq(n, 1 / rate)[spectrum.argmax()]
    assert abs(12 * np.log2(peak_hz / 440.0)) < 0.5  # stretched in time, not in pitch
    quarter = int(0.25 * bar * rate)
    levels = [np.sqrt(np.mean(fitted[i : i + quarter] ** 2)) for i in range(quarter, n - quarter, quarter)]
    assert min(levels) > 0.4 * max(levels)  # no gaps at the loop points


def test_time_stretch_changes_length_not_pitch():
    stretched = time_stretch(sine(1.0), 0.8)
    assert len(stretched) == 55125
    spectrum = np.abs(np.fft.rfft(stretched[:, 0]))
    assert abs(np.fft.rfftfreq(len(stretched), 1 / 44100)[spectrum.argmax()] - 440.0) < 3.0


def test_normalize_peak_leaves_silence_alone():
    assert not normalize_peak(np.zeros((10, 2), dtype=np.float32)).any()
    assert np.abs(normalize_peak(sine(0.1))).max() == pytest.approx(10 ** (-12 / 20), rel=1e-5)
