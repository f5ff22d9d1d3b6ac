"""The vocal bus: sung windows, the cached reverb, and that windowed processing equals
processing the whole take."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from musicd.vocals.bus import (
    _process,
    process_vocal_bus,
    reverb_ir,
    singer_space,
    sung_windows,
    vocal_space,
)

SAMPLE_RATE = 22050


def bursts(starts_s: list[float], length_s: float = 0.5, total_s: float = 14.0) -> np.ndarray:
    """Noise bursts (a stand-in for sung phrases) at `starts_s`, silence elsewhere."""
    rng = np.random.default_rng(5)
    audio = np.zeros(int(total_s * SAMPLE_RATE), np.float32)
    for start_s in starts_s:
        a = int(start_s * SAMPLE_RATE)
        audio[a : a + int(length_s * SAMPLE_RATE)] = 0.3 * rng.standard_normal(int(length_s * SAMPLE_RATE))
    return audio


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(audio, np.float64) ** 2)))


def test_windows_cover_each_phrase_and_its_tail_and_merge_close_phrases():
    audio = bursts([1.0, 1.8, 8.0])
    tail = SAMPLE_RATE  # 1 s
    phrase_ends = [int(np.flatnonzero(audio[: int(s * SAMPLE_RATE)])[-1]) + 1 for s in (3.0, 9.0)]
    windows = sung_windows(audio, tail)
    assert len(windows) == 2
    for (start, end), first_s, phrase_end in zip(windows, (1.0, 8.0), phrase_ends):
        assert start <= first_s * SAMPLE_RATE < start + 32 and start % 32 == 0
        assert phrase_end + tail <= end < phrase_end + tail + 32 and end % 32 == 0
    assert sung_windows(audio, 20 * SAMPLE_RATE)[0][1] == len(audio)  # clipped at the end
    assert sung_windows(np.zeros(100, np.float32), tail) == []


@pytest.mark.parametrize("genre", ["pop", "ambient", "rock"])
def test_windowed_bus_matches_processing_the_whole_take(genre):
    audio = bursts([1.0, 6.5, 9.0])
    stem = process_vocal_bus(audio, SAMPLE_RATE, [genre], 100.0)
    start = SAMPLE_RATE // 32 * 32
    whole = np.zeros_like(stem)
    whole[start:] = _process(audio[start:], SAMPLE_RATE, vocal_space([genre]), 100.0)
    assert stem.shape == (len(audio), 2) and stem.dtype == np.float32
    assert np.max(np.abs(stem - whole)) < 1e-4 * np.max(np.abs(whole))
    assert not np.any(stem[:start])  # nothing before the first note


def test_reverb_tail_decays_sixty_db_over_its_length_and_darkens():
    ir = reverb_ir(SAMPLE_RATE, 2.0)
    assert reverb_ir(SAMPLE_RATE, 2.0) is ir and not ir.flags.writeable  # made once, shared
    assert ir.shape == (int(2.0 * SAMPLE_RATE) + int(0.02 * SAMPLE_RATE), 2)
    assert np.allclose(np.sum(ir.astype(np.float64) ** 2, axis=0), 1.0, atol=1e-4)
    assert np.corrcoef(ir[:, 0], ir[:, 1])[0, 1] < 0.1  # decorrelated: a wide stereo room

    def level_db(a_s: float, b_s: float) -> float:
        part = ir[int(a_s * SAMPLE_RATE) : int(b_s * SAMPLE_RATE)].astype(np.float64)
        return 10 * np.log10(np.mean(part**2))

    assert -66 < level_db(1.9, 2.0) - level_db(0.02, 0.12) < -50

    def centroid_hz(a_s: float, b_s: float) -> float:
        freqs, power = welch(
            ir[int(a_s * SAMPLE_RATE) : int(b_s * SAMPLE_RATE), 0], SAMPLE_RATE, nperseg=1024
        )
        return float(np.sum(freqs * power) / np.sum(power))

    assert centroid_hz(1.0, 1.5) < 0.7 * centroid_hz(0.02, 0.3)


def test_bus_level_and_delay_follow_the_genre():
    audio = bursts([1.0], total_s=6.0)
    dry_end = int(1.5 * SAMPLE_RATE)
    for genre in ("pop", "rock", "ambient"):
        stem = process_vocal_bus(audio, SAMPLE_RATE, [genre], 120.0)
        assert np.max(np.abs(stem)) <= 10 ** (-1 / 20) + 1e-6  # never above -1 dBFS
        sung_db = 20 * np.log10(rms(stem[int(1.05 * SAMPLE_RATE) : int(1.45 * SAMPLE_RATE)].mean(axis=1)))
        assert -18.5 < sung_db < -15.0  # the sung passage at -18 dBFS RMS, plus its room
        space = vocal_space([genre])
        after = stem[dry_end + int(0.3 * SAMPLE_RATE) : dry_end + int(0.5 * SAMPLE_RATE)]
        late = np.sqrt(np.mean(after.astype(np.float64) ** 2))
        assert late > 1e-3  # the room rings on after the phrase
        if space.delay_beats == 0:
            assert late < 0.1
    # Ping-pong delay: an echo one delay after the phrase, on one side only.
    stem = process_vocal_bus(bursts([1.0], length_s=0.05, total_s=4.0), SAMPLE_RATE, ["ambient"], 120.0)
    echo = int((1.0 + 0.75 * 0.5) * SAMPLE_RATE)
    left, right = (np.max(np.abs(stem[echo : echo + int(0.05 * SAMPLE_RATE), c])) for c in (0, 1))
    assert right > 2 * left


def band_db(audio: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    freqs, power = welch(np.asarray(audio, np.float64), sample_rate, nperseg=4096)
    return float(10 * np.log10(np.sum(power[(freqs >= low_hz) & (freqs < high_hz)]) + 1e-30))


def test_takes_with_different_peaks_come_out_equally_loud():
    """A level set on loudness, not peaks: a spiky take (clicks on top of the singing, as a
    buzzy formant voice has) is not pushed down against a smooth one."""
    smooth = bursts([1.0], length_s=2.0, total_s=6.0)
    spiky = smooth.copy()
    spiky[int(1.5 * SAMPLE_RATE) :: SAMPLE_RATE // 5][:5] = 1.0
    levels = []
    for take in (smooth, spiky):
        stem = process_vocal_bus(take, SAMPLE_RATE, ["rock"], 120.0)
        levels.append(20 * np.log10(rms(stem[int(1.2 * SAMPLE_RATE) : int(2.8 * SAMPLE_RATE)])))
    assert abs(levels[0] - levels[1]) < 1.0


def test_soul_and_rnb_put_the_voice_up_front():
    audio = bursts([1.0], total_s=6.0)
    sung, tail = (
        slice(int(1.05 * SAMPLE_RATE), int(1.45 * SAMPLE_RATE)),
        slice(int(1.8 * SAMPLE_RATE), int(2.3 * SAMPLE_RATE)),
    )
    pop = process_vocal_bus(audio, SAMPLE_RATE, ["pop"], 120.0)
    for genre in ("soul", "rnb"):
        front = process_vocal_bus(audio, SAMPLE_RATE, [genre], 120.0)
        louder_db = 20 * np.log10(rms(front[sung]) / rms(pop[sung]))
        assert 1.5 < louder_db < 3.0
        # drier: the room after the phrase is further below the phrase than pop's
        assert rms(front[tail]) / rms(front[sung]) < 0.8 * rms(pop[tail]) / rms(pop[sung])
        # more presence: 3-5 kHz against 300-1000 Hz
        presence = band_db(front[sung, 0], SAMPLE_RATE, 3000, 5000) - band_db(
            front[sung, 0], SAMPLE_RATE, 300, 1000
        )
        presence_pop = band_db(pop[sung, 0], SAMPLE_RATE, 3000, 5000) - band_db(
            pop[sung, 0], SAMPLE_RATE, 300, 1000
        )
        assert presence > presence_pop + 1.0


def test_each_singer_gets_its_own_tone_and_room():
    """A band-limited take (a 22.05 kHz voice, nothing above 11 kHz) at 44.1 kHz: Piper's and
    MBROLA's treatment put back some top octave and more room, espeak's adds no top."""
    rate = 44100
    rng = np.random.default_rng(2)
    take = np.zeros(5 * rate, np.float32)
    burst = rng.standard_normal(rate // 2)
    from scipy.signal import butter, sosfilt

    take[rate : rate + rate // 2] = 0.3 * sosfilt(butter(8, 8000, fs=rate, output="sos"), burst)
    sung, tail = slice(rate, rate + rate // 2), slice(int(1.52 * rate), int(1.65 * rate))
    stems = {
        name: process_vocal_bus(take, rate, ["rock"], 120.0, singer=name)
        for name in ("espeak", "piper", "mbrola")
    }
    top = {
        name: band_db(stem[sung, 0], rate, 11000, 20000) - band_db(stem[sung, 0], rate, 0, 20000)
        for name, stem in stems.items()
    }
    assert top["piper"] > top["espeak"] + 15 and top["mbrola"] > top["espeak"] + 15
    assert top["piper"] < -20  # air, not hiss
    room = {name: rms(stem[tail]) / rms(stem[sung]) for name, stem in stems.items()}
    assert room["piper"] > 1.1 * room["espeak"]
    assert singer_space("piper+espeak") == singer_space("piper")
    assert singer_space("unknown").reverb_scale == 1.0


def test_peaks_are_limited_without_pulling_the_voice_down():
    """A take whose loudest clicks stand 30 dB over its singing (a neural voice's plosives)
    still reaches the sung level; only the clicks are held at -1 dBFS."""
    take = bursts([1.0], length_s=2.0, total_s=6.0) / 6  # singing about 0.05 RMS
    clicks = [int(s * SAMPLE_RATE) for s in (1.3, 1.7, 2.2, 2.6)]
    take[clicks] = 1.0
    stem = process_vocal_bus(take, SAMPLE_RATE, ["rock"], 120.0)
    assert np.max(np.abs(stem)) <= 10 ** (-1 / 20) + 1e-6
    away = np.ones(len(stem), bool)
    for c in clicks:
        away[c - SAMPLE_RATE // 50 : c + SAMPLE_RATE // 50] = False
    sung = away & (np.arange(len(stem)) > 1.05 * SAMPLE_RATE) & (np.arange(len(stem)) < 2.95 * SAMPLE_RATE)
    assert -19.5 < 20 * np.log10(rms(stem[sung].mean(axis=1))) < -15.0
