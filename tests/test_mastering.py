"""Mastering and loudness measurement, checked independently with ffmpeg's ebur128 on 16-bit files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from musicd.audio.encode import write_wav
from musicd.audio.loudness import (
    integrated_lufs,
    loudness_range,
    measure_file_loudness,
    measure_loudness,
    parse_ebur128_summary,
    true_peak_db,
)
from musicd.audio.mastering import limiter_reduction_db, master
from musicd.audio.mixing import mix_stems, sum_stems
from musicd.errors import RenderError
from musicd.music.profiles import MixProfile, StemMix
from musicd.music.score import Note, Score, Track
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.soundfonts import default_soundfont

SR = 44100


@pytest.fixture(scope="module")
def renderer() -> FluidRenderer:
    r = FluidRenderer(default_soundfont(), SR)
    yield r
    r.close()


def _score(tracks: list[Track], bars: int, tempo_bpm: float = 120.0) -> Score:
    return Score(tempo_bpm, (4, 4), "E", "minor", tuple(tracks), bars * 4.0)


def ambient_pad(bars: int = 6) -> Score:
    chords = [(52, 59, 64, 67), (48, 55, 60, 64), (50, 57, 62, 66)]
    pads = [Note(b * 4.0, 4.0, p, 35) for b in range(bars) for p in chords[b % 3]]
    return _score([Track("pads", 89, 0, tuple(pads))], bars, tempo_bpm=70.0)


def drum_hits(bars: int = 6) -> Score:
    hits = []
    for b in range(bars):
        hits.append(Note(b * 4.0, 0.5, 36, 127))
        hits.append(Note(b * 4.0 + 2.5, 0.5, 38, 127))
    return _score([Track("drums", 0, 9, tuple(hits))], bars)


def dense_rock(bars: int = 6) -> Score:
    eighths = [i * 0.5 for i in range(bars * 8)]
    drums = [Note(t, 0.25, 42, 100) for t in eighths]
    drums += [Note(t, 0.25, 36 if int(t) % 2 == 0 else 38, 120) for t in eighths if t == int(t)]
    guitar = [Note(t, 0.45, p, 110) for t in eighths for p in (40, 47, 52)]
    bass = [Note(t, 0.45, 28, 110) for t in eighths]
    return _score(
        [
            Track("drums", 0, 9, tuple(drums)),
            Track("guitar", 30, 0, tuple(guitar)),
            Track("bass", 34, 1, tuple(bass)),
        ],
        bars,
        tempo_bpm=140.0,
    )


MATERIALS = {"ambient_pad": ambient_pad, "drum_hits": drum_hits, "dense_rock": dense_rock}


def render_mix(renderer: FluidRenderer, score: Score) -> np.ndarray:
    profile = MixProfile(stems={"drums": StemMix(reverb_send=0.05), "guitar": StemMix(pan=-0.3)})
    return sum_stems(mix_stems(renderer.render(score, profile), profile, SR))


@pytest.mark.parametrize("material", sorted(MATERIALS))
def test_master_hits_minus_14_lufs_under_minus_1_dbtp_as_ffmpeg_measures_the_wav(
    renderer: FluidRenderer, material: str, tmp_path: Path
) -> None:
    mix = render_mix(renderer, MATERIALS[material]())
    result = master(mix, SR, target_lufs=-14.0, true_peak_db=-1.0)
    assert result.reached_target
    wav = write_wav(tmp_path / "mix.wav", result.audio, SR, bits=16, rng=np.random.default_rng(1))
    measured = measure_file_loudness(wav)
    assert measured.integrated_lufs == pytest.approx(-14.0, abs=0.5)
    assert measured.true_peak_db <= -1.0
    ours = measure_loudness(result.audio, SR)
    assert ours.integrated_lufs == pytest.approx(-14.0, abs=0.15)
    assert ours.true_peak_db <= -1.0


@pytest.mark.parametrize("material", ["drum_hits", "dense_rock"])
def test_master_reaches_a_louder_target_with_a_higher_ceiling(
    renderer: FluidRenderer, material: str, tmp_path: Path
) -> None:
    mix = render_mix(renderer, MATERIALS[material]())
    result = master(mix, SR, target_lufs=-9.0, true_peak_db=-0.5)
    wav = write_wav(tmp_path / "loud.wav", result.audio, SR, bits=16, rng=np.random.default_rng(2))
    measured = measure_file_loudness(wav)
    assert measured.integrated_lufs == pytest.approx(-9.0, abs=0.5)
    assert measured.true_peak_db <= -0.5
    assert result.limiter_reduction_db > 1.0  # this loud, peaks must have been limited
    # the reported true peak (checked only near gain changes) equals a full measurement
    assert result.true_peak_db == pytest.approx(true_peak_db(result.audio), abs=0.01)


def test_master_on_peaky_material_limits_instead_of_missing_the_ceiling(renderer: FluidRenderer) -> None:
    mix = render_mix(renderer, drum_hits())
    crest_db = true_peak_db(mix) - integrated_lufs(mix, SR)
    assert crest_db > 13.0  # -14 LUFS at -1 dBTP is impossible without limiting
    result = master(mix, SR, -14.0, -1.0)
    assert result.limiter_reduction_db > 0.5
    assert true_peak_db(result.audio) <= -1.0


def test_quiet_material_only_needs_gain() -> None:
    t = np.arange(10 * SR) / SR
    quiet = (0.01 * np.sin(2 * np.pi * 220 * t))[:, None].repeat(2, axis=1).astype(np.float32)
    result = master(quiet, SR, -14.0, -1.0)
    assert result.limiter_reduction_db == 0.0
    assert np.allclose(result.audio, quiet * 10 ** (result.gain_db / 20), rtol=1e-5)
    assert integrated_lufs(result.audio, SR) == pytest.approx(-14.0, abs=0.05)


def test_silence_is_returned_unchanged() -> None:
    silence = np.zeros((5 * SR, 2), np.float32)
    result = master(silence, SR)
    assert not result.reached_target
    assert np.array_equal(result.audio, silence)
    with pytest.raises(RenderError):
        master(np.full((SR, 2), np.nan, np.float32), SR)


def test_limiter_reduction_covers_every_peak_and_moves_smoothly() -> None:
    rng = np.random.default_rng(3)
    required = np.zeros(5 * SR, np.float32)
    spots = rng.integers(1000, required.size - 1000, 40)
    required[spots] = rng.uniform(0.5, 20.0, spots.size)
    reduction = limiter_reduction_db(required, SR)
    assert np.all(reduction >= required - 1e-4)
    assert np.abs(np.diff(reduction)).max() < 0.2  # dB per sample: ramps, never steps
    window = int(0.005 * SR)
    first = int(spots.min())
    assert reduction[first - window - 5] == pytest.approx(0.0, abs=1e-6)  # no earlier than look-ahead


def test_fast_meter_agrees_with_pyloudnorm() -> None:
    rng = np.random.default_rng(4)
    audio = (rng.standard_normal((20 * SR, 2)) * 0.1).astype(np.float32)
    audio[: 5 * SR] *= 0.05  # a quiet intro the gate must drop
    expected = pyloudnorm.Meter(SR).integrated_loudness(audio.astype(np.float64))
    assert integrated_lufs(audio, SR) == pytest.approx(expected, abs=0.02)
    assert loudness_range(audio, SR) == pytest.approx(
        pyloudnorm.Meter(SR).loudness_range(audio.astype(np.float64)), abs=0.2
    )


def test_true_peak_sees_peaks_between_samples() -> None:
    n = np.arange(4 * SR)
    fade = np.minimum(1.0, np.minimum(n, n[::-1]) / 2000.0)
    sine = (np.sin(2 * np.pi * (SR / 4) * n / SR + math.pi / 4) * fade)[:, None].astype(np.float32)
    assert 20 * math.log10(np.abs(sine).max()) == pytest.approx(-3.01, abs=0.05)
    assert true_peak_db(sine) == pytest.approx(0.0, abs=0.15)


def test_file_measurement_agrees_with_the_in_memory_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    audio = (rng.standard_normal((8 * SR, 2)) * 0.05).astype(np.float32)
    wav = write_wav(tmp_path / "noise.wav", audio, SR, bits=24)
    ours, ffmpeg_says = measure_loudness(audio, SR), measure_file_loudness(wav)
    assert ffmpeg_says.integrated_lufs == pytest.approx(ours.integrated_lufs, abs=0.2)
    assert ffmpeg_says.true_peak_db == pytest.approx(ours.true_peak_db, abs=0.3)
    assert ffmpeg_says.sample_peak_db == pytest.approx(ours.sample_peak_db, abs=0.1)
    assert ffmpeg_says.lra == pytest.approx(ours.lra, abs=1.0)


def test_unreadable_files_and_summaries_raise_clear_errors(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wav"
    bogus.write_text("not audio")
    with pytest.raises(RenderError, match="ffmpeg failed to measure the loudness of .*bogus.wav"):
        measure_file_loudness(bogus)
    with pytest.raises(RenderError, match="no summary"):
        parse_ebur128_summary("nothing here")


def test_an_unreachable_target_is_reported_and_the_ceiling_still_holds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = np.arange(5 * SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 1000 * t))[:, None].repeat(2, axis=1).astype(np.float32)
    result = master(sine, SR, target_lufs=0.0, true_peak_db=-1.0)  # a sine can't be this loud
    assert not result.reached_target
    assert "could not master" in caplog.text
    assert true_peak_db(result.audio) <= -1.0
    assert integrated_lufs(result.audio, SR) > -2.0  # still pushed as far as the limiter goes
