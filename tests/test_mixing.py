"""Stem mixing: every setting is measured on real signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from musicd.audio.mixing import (
    as_stereo,
    duck_gain,
    glue,
    mix_bus,
    mix_stems,
    pan_gains,
    process_stem,
    rbj_biquad,
    sum_stems,
)
from musicd.errors import RenderError
from musicd.music.profiles import MixProfile, StemMix

SR = 44100


def tone(freq_hz: float, seconds: float = 1.0, amplitude: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    mono = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def rms_db(audio: np.ndarray) -> float:
    steady = audio[len(audio) // 4 :]  # skip the filters' start-up
    return 10 * math.log10(float(np.mean(steady.astype(np.float64) ** 2)))


def level_change_db(stem: StemMix, freq_hz: float) -> float:
    source = tone(freq_hz)
    return rms_db(process_stem(source, stem, SR)) - rms_db(source)


def test_gain_db_scales_the_stem() -> None:
    assert level_change_db(StemMix(gain_db=-6.0), 1000) == pytest.approx(-6.0, abs=0.01)
    assert level_change_db(StemMix(gain_db=3.5), 1000) == pytest.approx(3.5, abs=0.01)


def test_pan_is_constant_power_and_centre_is_unity() -> None:
    source = tone(500)
    centre = process_stem(source, StemMix(pan=0.0), SR)
    assert np.allclose(centre, source, atol=1e-6)
    left = process_stem(source, StemMix(pan=-1.0), SR)
    assert np.abs(left[:, 1]).max() < 1e-6
    assert rms_db(left[:, :1]) - rms_db(source[:, :1]) == pytest.approx(10 * math.log10(2), abs=0.01)
    for pan in (-0.7, -0.2, 0.3, 0.9):
        panned = process_stem(source, StemMix(pan=pan), SR)
        power = np.mean(panned.astype(np.float64) ** 2)
        assert power == pytest.approx(np.mean(source.astype(np.float64) ** 2), rel=1e-4)
    gl, gr = pan_gains(0.5)
    assert gr > gl > 0


def test_highpass_and_lowpass_cut_outside_their_band() -> None:
    assert level_change_db(StemMix(highpass_hz=200), 40) < -20
    assert level_change_db(StemMix(highpass_hz=200), 2000) == pytest.approx(0.0, abs=0.1)
    assert level_change_db(StemMix(highpass_hz=200), 200) == pytest.approx(-3.0, abs=0.1)
    assert level_change_db(StemMix(lowpass_hz=2000), 12000) < -20
    assert level_change_db(StemMix(lowpass_hz=2000), 100) == pytest.approx(0.0, abs=0.1)


def test_shelves_lift_and_cut_their_side_of_the_spectrum() -> None:
    low = StemMix(low_shelf_db=6.0)
    assert level_change_db(low, 40) == pytest.approx(6.0, abs=0.3)
    assert level_change_db(low, 200) == pytest.approx(3.0, abs=0.2)  # half gain at the corner
    assert level_change_db(low, 5000) == pytest.approx(0.0, abs=0.1)
    high = StemMix(high_shelf_db=-6.0)
    assert level_change_db(high, 18000) == pytest.approx(-6.0, abs=0.4)
    assert level_change_db(high, 6000) == pytest.approx(-3.0, abs=0.2)
    assert level_change_db(high, 200) == pytest.approx(0.0, abs=0.1)


def test_rbj_biquads_match_their_analytic_responses() -> None:
    sos = rbj_biquad("highpass", 100, SR)[None, :]
    _, response = signal.sosfreqz(sos, worN=[100.0], fs=SR)
    assert 20 * math.log10(abs(response[0])) == pytest.approx(-3.01, abs=0.01)
    with pytest.raises(RenderError, match="between 0"):
        rbj_biquad("lowpass", 30000, SR)


def test_ducking_dips_at_each_trigger_and_recovers_with_the_release_time() -> None:
    release_ms = 120.0
    gain = duck_gain(3 * SR, SR, [1.0, 2.0], depth_db=6.0, release_ms=release_ms)
    gain_db = 20 * np.log10(gain)
    at = int(1.0 * SR)
    assert gain_db[at] == pytest.approx(-6.0, abs=0.01)
    assert gain_db[at + int(release_ms * 1e-3 * SR)] == pytest.approx(-6.0 / math.e, abs=0.05)
    assert gain_db[at - int(0.01 * SR)] == pytest.approx(0.0, abs=1e-6)  # before the 5 ms ramp
    assert gain_db[int(0.5 * SR)] == 0.0
    assert gain_db[int(1.9 * SR)] > -0.01  # recovered before the next kick
    assert np.abs(np.diff(gain_db)).max() < 0.05  # no steps anywhere: no clicks


def test_mix_ducks_only_stems_with_duck_db() -> None:
    stems = {"pads": tone(300, 2.0), "lead": tone(800, 2.0)}
    profile = MixProfile(stems={"pads": StemMix(duck_db=8.0)}, duck_release_ms=100.0)
    mixed = mix_stems(stems, profile, SR, duck_times_s=[1.0])
    dip = slice(int(1.0 * SR), int(1.0 * SR) + 40)
    source, ducked = stems["pads"][dip, 0], mixed["pads"][dip, 0]
    audible = np.abs(source) > 0.01
    ratio_db = 20 * np.log10(np.median(ducked[audible] / source[audible]))
    assert ratio_db == pytest.approx(-8.0, abs=0.1)
    before = slice(int(0.5 * SR), int(0.9 * SR))
    assert np.allclose(mixed["pads"][before], stems["pads"][before], atol=1e-6)
    assert np.allclose(mixed["lead"], stems["lead"], atol=1e-6)


def test_the_mix_is_the_sum_of_the_returned_stems_padded_to_the_longest() -> None:
    stems = {"a": tone(200, 1.0), "b": tone(300, 1.5)[:, 0], "c": tone(400, 0.5)}
    profile = MixProfile(
        stems={
            "a": StemMix(gain_db=-3, pan=-0.5, highpass_hz=80),
            "b": StemMix(pan=0.4, low_shelf_db=2.0),
            "c": StemMix(high_shelf_db=-2.0, lowpass_hz=9000),
        }
    )
    mixed = mix_stems(stems, profile, SR)
    assert {a.shape for a in mixed.values()} == {(int(1.5 * SR), 2)}
    assert all(a.dtype == np.float32 for a in mixed.values())
    total = sum_stems(mixed)
    assert np.allclose(total, mixed["a"] + mixed["b"] + mixed["c"], atol=1e-6)
    assert np.abs(mixed["c"][int(0.6 * SR) :]).max() < 1e-3  # padding stays quiet


def test_filters_keep_their_output_through_digital_silence() -> None:
    # A decaying hit followed by exact zeros: the denormal guard must not change the result.
    hit = np.zeros((SR, 2), np.float32)
    hit[:4000] = (np.exp(-np.arange(4000) / 300) * np.sin(np.arange(4000) * 0.05))[:, None]
    stem = StemMix(highpass_hz=100, low_shelf_db=3.0)
    processed = process_stem(hit, stem, SR)
    sos = np.array([rbj_biquad("highpass", 100, SR), rbj_biquad("lowshelf", 200, SR, 3.0)])
    reference = signal.sosfilt(sos.astype(np.float32), hit, axis=0)
    assert np.abs(processed - reference).max() < 1e-6
    exact = signal.sosfilt(sos, hit.astype(np.float64), axis=0)
    assert np.abs(processed - exact).max() < 1e-3 * np.abs(exact).max()  # float32 is plenty


def test_bad_stem_shapes_are_rejected() -> None:
    with pytest.raises(RenderError, match="mono or stereo"):
        mix_stems({"x": np.zeros((10, 3), np.float32)}, MixProfile(), SR)
    with pytest.raises(RenderError):
        mix_stems({}, MixProfile(), SR)


def drum_stem(seconds: float = 8.0, tempo_bpm: float = 120.0, seed: int = 1) -> np.ndarray:
    """Kick (decaying 55 Hz sine with a click) and snare (decaying noise) on alternate beats,
    hi-hats on eighths; a few hits accented 8 dB louder, as loud fills are."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n, np.float64)
    t = np.arange(int(0.4 * SR)) / SR
    kick = np.sin(2 * np.pi * (55 * t + 40 * (1 - np.exp(-t / 0.01)))) * np.exp(-t / 0.12)
    snare = rng.standard_normal(t.size) * np.exp(-t / 0.06) * 0.6
    hat = rng.standard_normal(int(0.05 * SR)) * np.exp(-np.arange(int(0.05 * SR)) / (0.01 * SR)) * 0.15
    beat = int(60 / tempo_bpm * SR)
    for index, start in enumerate(range(0, n - kick.size, beat)):
        accent = 10 ** (8 / 20) if index % 7 == 3 else 1.0
        hit = kick if index % 2 == 0 else snare
        out[start : start + hit.size] += accent * 0.3 * hit
        out[start + beat // 2 : start + beat // 2 + hat.size] += hat
    return np.stack([out, out], axis=1).astype(np.float32)


def crest_db(audio: np.ndarray) -> float:
    return 20 * math.log10(
        float(np.abs(audio).max()) / math.sqrt(float(np.mean(audio.astype(np.float64) ** 2)))
    )


def test_transient_control_lowers_the_drums_crest_factor_and_keeps_their_level() -> None:
    from musicd.audio.dynamics import gated_rms_db

    drums = drum_stem()
    profile = MixProfile(stems={"drums": StemMix(), "keys": StemMix()})
    mixed = mix_stems({"drums": drums, "keys": tone(440, 8.0)}, profile, SR)
    before, after = crest_db(drums), crest_db(mixed["drums"])
    assert before - after >= 3.0, (before, after)  # the accents no longer stick out
    assert gated_rms_db(mixed["drums"], SR) == pytest.approx(gated_rms_db(drums, SR), abs=0.05)
    assert np.allclose(mixed["keys"], tone(440, 8.0), atol=1e-6)  # only transient_stems
    off = mix_stems({"drums": drums}, MixProfile(transient_ratio=1.0), SR)
    assert np.allclose(off["drums"], drums, atol=1e-6)
    # a gentler setting does less
    gentle = mix_stems({"drums": drums}, MixProfile(transient_threshold_db=18.0), SR)
    assert before > crest_db(gentle["drums"]) > after


def test_mix_bus_glues_loud_passages_and_stems_still_add_up_to_the_mix() -> None:
    quiet, loud = tone(440, 2.0, 0.025), tone(440, 2.0, 0.4)
    stems = {"a": np.concatenate([quiet, loud]), "b": np.concatenate([quiet, loud])[:, 0] * 0.5}
    profile = MixProfile(glue_threshold_db=0.0, glue_ratio=2.0, glue_knee_db=0.0, glue_auto_release_ms=0.0)
    before = sum_stems(stems)
    glued_stems, mix = mix_bus(stems, profile, SR)
    assert np.allclose(sum_stems(glued_stems), mix, atol=1e-6)
    # threshold 0 dB above the gated RMS: the loud half's peaks sit at RMS + 3 dB (the quiet
    # half, 24 dB down, falls under the gate), so they come down by 3 dB * (1 - 1/2)
    loud_ratio_db = 20 * math.log10(
        np.abs(mix[int(3.5 * SR) :]).max() / np.abs(before[int(3.5 * SR) :]).max()
    )
    assert loud_ratio_db == pytest.approx(-1.5, abs=0.05)
    quiet_ratio_db = 20 * math.log10(
        np.abs(mix[: int(1.5 * SR)]).max() / np.abs(before[: int(1.5 * SR)]).max()
    )
    assert quiet_ratio_db == pytest.approx(0.0, abs=0.01)
    assert np.allclose(glue(before, profile, SR), mix, atol=1e-6)
    unchanged, plain = mix_bus(stems, MixProfile(glue_ratio=1.0), SR)
    assert np.allclose(plain, before, atol=1e-6)
    assert np.allclose(sum_stems(stems), before, atol=1e-6)  # the inputs are left alone
    owned = {name: as_stereo(audio).copy() for name, audio in stems.items()}
    in_place, mix_again = mix_bus(owned, profile, SR, in_place=True)
    assert in_place["a"] is owned["a"] and np.allclose(mix_again, mix, atol=1e-6)
