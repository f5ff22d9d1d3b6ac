"""Production by genre: punchy drums (transient shaper, parallel compression), the bus EQ, tape
saturation, the dusty top, width, and the sidechain pump's rate on a rendered stem."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfreqz

from musicd.audio.dynamics import gated_rms_db, transient_shaper_gain
from musicd.audio.mixing import bus_eq_sos, duck_gain, mix_stems, stem_eq_sos
from musicd.audio.production import (
    PRODUCTION,
    lowpass_top,
    produce,
    pump_rate_hz,
    punch,
    stereo_width,
    tape_saturate,
    widen,
)
from musicd.music.compose import compose
from musicd.music.genres import GENRE_NAMES, GENRES
from musicd.music.plan import make_plan
from musicd.music.profiles import MixProfile
from musicd.pipeline.run import kick_times_s
from musicd.spec import load_spec
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.render import render_stems
from musicd.synth.soundfonts import default_soundfont

SR = 44100
ENV_RATE = 441  # envelopes decimated to 100 Hz for the rate analysis


@pytest.fixture(scope="module")
def renderer():
    r = FluidRenderer(default_soundfont(), SR)
    yield r
    r.close()


def envelope_100hz(audio: np.ndarray) -> np.ndarray:
    """RMS per 10 ms frame of a stereo stem."""
    mono = audio.mean(axis=1).astype(np.float64)
    frames = mono[: len(mono) // ENV_RATE * ENV_RATE].reshape(-1, ENV_RATE)
    return np.sqrt((frames**2).mean(axis=1))


def beat_strength(envelope: np.ndarray, tempo_bpm: float) -> float:
    """Share of the envelope's modulation spectrum (0.5-8 Hz) within 5 % of the beat rate."""
    env = np.log(envelope + 1e-6)
    env = env - env.mean()
    spectrum = np.abs(np.fft.rfft(env * np.hanning(len(env)))) ** 2
    freqs = np.fft.rfftfreq(len(env), 0.01)
    band = (freqs >= 0.5) & (freqs <= 8.0)
    beat = np.abs(freqs - tempo_bpm / 60.0) <= 0.05 * tempo_bpm / 60.0
    return float(spectrum[beat].sum() / spectrum[band].sum())


@pytest.mark.parametrize("genre", ["house", "techno", "trance"])
def test_the_sidechain_pump_runs_at_the_tempo(genre):
    plan = make_plan(load_spec(f"genres: [{genre}]\nduration: 30\n"), 7)
    score = compose(plan)
    depth = plan.mix.stem("pads").duck_db or plan.mix.stem("bass").duck_db
    assert depth > 0
    length = int(score.duration_s * SR)
    gain = duck_gain(length, SR, kick_times_s(score), depth, plan.mix.duck_release_ms)
    envelope = gain[::ENV_RATE].astype(np.float64)  # 100 Hz
    rate = pump_rate_hz(envelope, SR // ENV_RATE)
    assert abs(rate - plan.tempo_bpm / 60.0) < 0.05 * plan.tempo_bpm / 60.0, (rate, plan.tempo_bpm)


@pytest.mark.parametrize("genre", ["house", "trance"])
def test_a_rendered_pads_stem_pumps_at_the_tempo(genre, renderer):
    """The pads (sustained chords) rendered and mixed: their level envelope pumps at the beat
    rate with the kick's sidechain, and barely without it."""
    plan = make_plan(load_spec(f"genres: [{genre}]\nduration: 40\n"), 5)
    score = compose(plan)
    stems = produce(render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed), genre, SR)
    pads = {"pads": stems["pads"]}
    drop = next(s for s in plan.form if s.name == "drop")
    start, end = (int(score.beats_to_seconds(b * 4) * SR) for b in (drop.start_bar, drop.end_bar))
    pumped = envelope_100hz(mix_stems(pads, plan.mix, SR, kick_times_s(score))["pads"][start:end])
    still = envelope_100hz(mix_stems(pads, plan.mix, SR, ())["pads"][start:end])
    beat_hz = plan.tempo_bpm / 60.0
    rate = pump_rate_hz(np.log(pumped + 1e-6), 100, lo_hz=0.75 * beat_hz)  # above the chord changes
    assert abs(rate - beat_hz) < 0.05 * beat_hz, (rate, plan.tempo_bpm)
    assert beat_strength(pumped, plan.tempo_bpm) > 2 * beat_strength(still, plan.tempo_bpm)
    dips = 20 * np.log10(np.percentile(pumped, 90) / np.percentile(pumped, 10))
    assert dips > 0.5 * plan.mix.stem("pads").duck_db, dips


def kick_train(period_s: float = 0.5, seconds: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Decaying 60 Hz hits, stereo, and each sample's time since its hit."""
    t = np.arange(int(seconds * SR)) / SR
    since = t % period_s
    hit = (0.3 * np.sin(2 * np.pi * 60 * since) * np.exp(-since / 0.15)).astype(np.float32)
    return np.stack([hit, hit], axis=1), since


def level_db(audio: np.ndarray, mask: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio[mask, 0].astype(np.float64) ** 2)))


def test_the_transient_shaper_lifts_each_attack_and_leaves_a_steady_tone_alone():
    hits, since = kick_train()
    gain_db = 20 * np.log10(transient_shaper_gain(hits, SR, 4.0))
    assert gain_db[(since > 0.001) & (since < 0.004)].mean() > 3.0  # the hit's first milliseconds
    assert abs(gain_db[(since > 0.15) & (since < 0.45)]).max() < 0.3  # its body and tail
    tone = np.repeat((0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * SR) / SR))[:, None], 2, axis=1)
    assert abs(20 * np.log10(transient_shaper_gain(tone.astype(np.float32), SR, 4.0)[SR:])).max() < 0.1


def test_punchy_drums_hit_harder_over_a_fuller_tail_at_the_same_level():
    hits, since = kick_train()
    attack, body, tail = since < 0.015, (since > 0.08) & (since < 0.3), since > 0.3
    out = punch(hits, SR, 4.0, 0.25)
    assert abs(gated_rms_db(out, SR) - gated_rms_db(hits, SR)) < 0.05  # the mix balance holds
    contrast = (level_db(out, attack) - level_db(out, body)) - (level_db(hits, attack) - level_db(hits, body))
    assert contrast > 1.0, contrast
    crushed = punch(hits, SR, 0.0, 0.35)  # the parallel send alone lifts the quiet tail
    assert level_db(crushed, tail) - level_db(hits, tail) > 2.0
    assert punch(hits, SR, 0.0, 0.0) is hits  # nothing asked, nothing done


def test_rendered_hip_hop_drums_get_harder_attacks(renderer):
    plan = make_plan(load_spec("genres: [hip-hop]\nduration: 20\n"), 3)
    score = compose(plan)
    drums = render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed)["drums"]
    punched = punch(drums, SR, PRODUCTION["hip-hop"].punch_db, PRODUCTION["hip-hop"].parallel)
    contrasts = []
    for audio in (drums, punched):
        values = []
        for kick in kick_times_s(score)[2:-2]:
            a = int(kick * SR)
            values.append(level_db(audio[a : a + int(0.3 * SR)], np.arange(int(0.3 * SR)) < int(0.02 * SR)))
            values[-1] -= level_db(audio[a : a + int(0.3 * SR)], np.arange(int(0.3 * SR)) >= int(0.08 * SR))
        contrasts.append(float(np.median(values)))
    assert contrasts[1] > contrasts[0] + 0.5, contrasts


@pytest.mark.parametrize(
    "low,high", [((90.0, 2.0), (10000.0, 1.5)), ((100.0, 1.5), (7000.0, -2.0)), ((0.0, 0.0), (8000.0, -1.5))]
)
def test_the_bus_eq_is_one_biquad_with_its_shelf_gains(low, high):
    sos = bus_eq_sos(low, high, SR)
    assert sos is not None and sos.shape == (1, 6)
    freqs = [15.0, 1000.0, 20000.0] + [f for f, g in (low, high) if g]
    _, response = sosfreqz(sos, worN=freqs, fs=SR)
    db = 20 * np.log10(np.abs(response))
    assert abs(db[0] - low[1]) < 0.35 and abs(db[1]) < 0.25 and abs(db[2] - high[1]) < 0.6
    corners = [g / 2 for f, g in (low, high) if g]  # half the shelf's gain at its corner
    assert np.allclose(db[3:], corners, atol=0.3)
    assert bus_eq_sos((0.0, 0.0), (0.0, 0.0), SR) is None


def test_every_genre_has_a_bus_eq_and_the_beat_genres_have_punchy_drums():
    assert set(PRODUCTION) == set(GENRE_NAMES)
    for name in GENRE_NAMES:
        mix = GENRES[name].mix
        assert mix.bus_low_shelf[1] or mix.bus_high_shelf[1], name
    assert GENRES["reggae"].mix.bus_low_shelf == (100.0, 3.0)
    for name in ("hip-hop", "trap", "house", "techno", "trance", "drum-and-bass", "dubstep", "funk"):
        assert PRODUCTION[name].punch_db >= 2.0 and PRODUCTION[name].parallel > 0, name


def test_the_bus_eq_is_in_every_stems_eq_so_the_stems_sum_to_the_equalised_bus():
    mix = GENRES["reggae"].mix
    bus = bus_eq_sos(mix.bus_low_shelf, mix.bus_high_shelf, SR)
    for name in ("drums", "bass", "chords", "melody", "pads", "arp"):
        sos = stem_eq_sos(mix.stem(name), SR, bus)
        assert sos is not None and np.array_equal(sos[0], bus[0]), name
    # stems with nothing but the bus EQ: their mix is the bus EQ applied to their sum
    rng = np.random.default_rng(4)
    stems = {n: (0.1 * rng.standard_normal((SR, 2))).astype(np.float32) for n in ("bass", "chords", "pads")}
    profile = MixProfile(bus_low_shelf=(100.0, 3.0), bus_high_shelf=(8000.0, -1.5), transient_stems=())
    out = mix_stems(stems, profile, SR)
    summed = mix_stems({"bass": sum(stems.values())}, profile, SR)["bass"]
    assert np.allclose(sum(out.values()), summed, atol=1e-5)
    spectrum_in = np.abs(np.fft.rfft(stems["bass"][:, 0])) ** 2
    spectrum_out = np.abs(np.fft.rfft(out["bass"][:, 0])) ** 2
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    low, top = (freqs > 20) & (freqs < 50), freqs > 15000
    assert 10 * np.log10(spectrum_out[low].sum() / spectrum_in[low].sum()) > 2.0  # +3 dB under 100 Hz
    assert 10 * np.log10(spectrum_out[top].sum() / spectrum_in[top].sum()) < -1.0  # -1.5 dB of top


def test_tape_saturation_rounds_peaks_and_keeps_quiet_signals():
    t = np.arange(SR) / SR
    quiet = (0.01 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    assert np.allclose(tape_saturate(quiet, 0.35), quiet, rtol=0.01, atol=1e-6)
    loud = (0.9 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    out = tape_saturate(loud, 0.35)
    spectrum = np.abs(np.fft.rfft(out))
    assert spectrum[300] > 0.02 * spectrum[100]  # odd harmonics from the tape


def test_lofi_top_is_dusty_and_trance_chords_are_wider():
    noise = np.random.default_rng(1).standard_normal((SR, 2)).astype(np.float32)
    dark = lowpass_top(noise, 7500.0, SR)
    spectrum = np.abs(np.fft.rfft(dark[:, 0]))
    assert spectrum[15000:].mean() < 0.2 * spectrum[1000:3000].mean()
    stereo = np.stack([noise[:, 0], 0.7 * noise[:, 0] + 0.3 * noise[:, 1]], axis=1)
    assert stereo_width(widen(stereo, 1.4)) > 1.3 * stereo_width(stereo)
    out = produce({"chords": stereo, "vocals": stereo}, "trance", SR)
    assert out["vocals"] is stereo and stereo_width(out["chords"]) > stereo_width(stereo)
    assert produce({"chords": stereo}, "no-such-genre", SR)["chords"] is stereo
    assert {"lofi", "hip-hop"} <= set(PRODUCTION)


def test_production_keeps_every_stem_its_shape_and_is_repeatable():
    rng = np.random.default_rng(2)
    stems = {n: (0.3 * rng.standard_normal((SR, 2))).astype(np.float32) for n in ("drums", "chords")}
    out = produce(stems, "lofi", SR)
    assert all(out[n].shape == stems[n].shape for n in stems)
    again = produce(stems, "lofi", SR)
    assert all(np.array_equal(out[n], again[n]) for n in stems)
