"""Synthesized drum-machine kits (808, 909, 707 and a breakbeat kit) for the electronic genres.

Every sound is built from the textbook recipe of its analogue original: the kick a sine with a
falling pitch envelope and its own amplitude decay (plus a click), snares a tuned body under
band-passed noise, claps a few noise bursts and a tail, hats six detuned square waves (the
808's metallic cluster) high-passed, toms and congas pitched sines, cowbell two squares.
Each sound of a kit is synthesized once per sample rate and cached; a drum track is then the
sum of its hits, each scaled by velocity. An open hat is choked by the next closed or pedal
hat, as on the machines. Noise comes from a generator with a fixed seed, so renders repeat.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.signal import butter, sosfilt

from musicd.music.score import Note

HAT_FREQS_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)  # the 808's six square oscillators
CHOKE_FADE_S = 0.006
CLOSED_HATS = frozenset({42, 44})
OPEN_HATS = frozenset({46})


@dataclass(frozen=True)
class DrumKit:
    """The knobs of one drum machine."""

    name: str
    description: str
    kick_start_hz: float
    kick_end_hz: float
    kick_pitch_s: float  # time constant of the kick's pitch fall
    kick_decay_s: float
    kick_click: float
    kick_drive: float
    snare_tone_hz: float
    snare_tone_decay_s: float
    snare_noise_decay_s: float
    snare_noise_hz: float  # centre of the noise band
    snare_tone_level: float
    clap_tail_s: float
    hat_decay_s: float
    open_hat_decay_s: float
    hat_highpass_hz: float
    level: float = 0.5


KITS: dict[str, DrumKit] = {
    k.name: k
    for k in (
        DrumKit(
            "tr-808",
            "Roland TR-808 character: long booming kick, snappy tuned snare, clap, thin metallic hats",
            kick_start_hz=120.0,
            kick_end_hz=48.0,
            kick_pitch_s=0.05,
            kick_decay_s=0.9,
            kick_click=0.25,
            kick_drive=0.3,
            snare_tone_hz=238.0,
            snare_tone_decay_s=0.08,
            snare_noise_decay_s=0.12,
            snare_noise_hz=4500.0,
            snare_tone_level=0.7,
            clap_tail_s=0.16,
            hat_decay_s=0.045,
            open_hat_decay_s=0.35,
            hat_highpass_hz=7000.0,
        ),
        DrumKit(
            "tr-909",
            "Roland TR-909 character: punchy driven kick, noisy snare, bright hats",
            kick_start_hz=260.0,
            kick_end_hz=52.0,
            kick_pitch_s=0.022,
            kick_decay_s=0.38,
            kick_click=0.6,
            kick_drive=0.55,
            snare_tone_hz=190.0,
            snare_tone_decay_s=0.06,
            snare_noise_decay_s=0.18,
            snare_noise_hz=3500.0,
            snare_tone_level=0.45,
            clap_tail_s=0.2,
            hat_decay_s=0.05,
            open_hat_decay_s=0.42,
            hat_highpass_hz=8000.0,
        ),
        DrumKit(
            "tr-707",
            "Roland TR-707 / LinnDrum character: tight kick, big gated snare, crisp hats",
            kick_start_hz=180.0,
            kick_end_hz=58.0,
            kick_pitch_s=0.025,
            kick_decay_s=0.28,
            kick_click=0.45,
            kick_drive=0.2,
            snare_tone_hz=200.0,
            snare_tone_decay_s=0.09,
            snare_noise_decay_s=0.32,
            snare_noise_hz=2500.0,
            snare_tone_level=0.5,
            clap_tail_s=0.25,
            hat_decay_s=0.04,
            open_hat_decay_s=0.3,
            hat_highpass_hz=6500.0,
        ),
        DrumKit(
            "boom-bap",
            "sampled boom-bap character: short thick kick, cracking snare, dusty hats",
            kick_start_hz=150.0,
            kick_end_hz=55.0,
            kick_pitch_s=0.03,
            kick_decay_s=0.32,
            kick_click=0.5,
            kick_drive=0.6,
            snare_tone_hz=185.0,
            snare_tone_decay_s=0.07,
            snare_noise_decay_s=0.2,
            snare_noise_hz=2200.0,
            snare_tone_level=0.6,
            clap_tail_s=0.18,
            hat_decay_s=0.035,
            open_hat_decay_s=0.25,
            hat_highpass_hz=5500.0,
        ),
        DrumKit(
            "breaks",
            "breakbeat character (drum-and-bass, dubstep): tight punchy kick, loud cracking snare",
            kick_start_hz=210.0,
            kick_end_hz=50.0,
            kick_pitch_s=0.018,
            kick_decay_s=0.3,
            kick_click=0.7,
            kick_drive=0.5,
            snare_tone_hz=210.0,
            snare_tone_decay_s=0.07,
            snare_noise_decay_s=0.22,
            snare_noise_hz=3000.0,
            snare_tone_level=0.55,
            clap_tail_s=0.2,
            hat_decay_s=0.035,
            open_hat_decay_s=0.28,
            hat_highpass_hz=7500.0,
        ),
    )
}


def _t(duration_s: float, sample_rate: int) -> np.ndarray:
    return np.arange(int(duration_s * sample_rate)) / sample_rate


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _band(x: np.ndarray, low_hz: float, high_hz: float, sample_rate: int) -> np.ndarray:
    nyq = sample_rate / 2
    sos = butter(2, [max(low_hz, 20.0) / nyq, min(high_hz, nyq * 0.95) / nyq], btype="band", output="sos")
    return sosfilt(sos, x)


def _highpass(x: np.ndarray, hz: float, sample_rate: int) -> np.ndarray:
    sos = butter(2, min(hz, sample_rate * 0.45) / (sample_rate / 2), btype="high", output="sos")
    return sosfilt(sos, x)


def kick(kit: DrumKit, sample_rate: int, seed: int = 1) -> np.ndarray:
    """A sine falling from kick_start_hz to kick_end_hz, its own decay, a click, some drive."""
    t = _t(kit.kick_decay_s * 3.0, sample_rate)
    freq = kit.kick_end_hz + (kit.kick_start_hz - kit.kick_end_hz) * np.exp(-t / kit.kick_pitch_s)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / (kit.kick_decay_s / 2.5))
    click = _highpass(_noise(len(t), seed), 2000.0, sample_rate) * np.exp(-t / 0.003) * kit.kick_click
    out = body + 0.3 * click
    if kit.kick_drive:
        k = 1.0 + 4.0 * kit.kick_drive
        out = np.tanh(k * out) / math.tanh(k)
    return out


def snare(kit: DrumKit, sample_rate: int, seed: int = 2) -> np.ndarray:
    t = _t(max(kit.snare_noise_decay_s, kit.snare_tone_decay_s) * 4.0, sample_rate)
    tone = (
        np.sin(2 * np.pi * kit.snare_tone_hz * t) + 0.5 * np.sin(2 * np.pi * kit.snare_tone_hz * 1.7 * t)
    ) * np.exp(-t / (kit.snare_tone_decay_s / 2.5))
    noise = _band(_noise(len(t), seed), kit.snare_noise_hz / 3, kit.snare_noise_hz * 2.5, sample_rate)
    noise *= np.exp(-t / (kit.snare_noise_decay_s / 2.5))
    noise /= max(float(np.abs(noise).max()), 1e-9)
    return kit.snare_tone_level * tone / 1.5 + noise


def clap(kit: DrumKit, sample_rate: int, seed: int = 3) -> np.ndarray:
    t = _t(0.04 + kit.clap_tail_s * 3.0, sample_rate)
    noise = _band(_noise(len(t), seed), 700.0, 2600.0, sample_rate)
    env = np.zeros_like(t)
    for k, at in enumerate((0.0, 0.011, 0.022, 0.033)):
        after = t - at
        burst = np.where(
            after >= 0, np.exp(-np.maximum(after, 0) / (0.008 if k < 3 else kit.clap_tail_s / 2.5)), 0
        )
        env = np.maximum(env, burst)
    out = noise * env
    return out / max(float(np.abs(out).max()), 1e-9)


def metallic(decay_s: float, highpass_hz: float, sample_rate: int, seed: int = 4) -> np.ndarray:
    """The 808 hat: six square waves at inharmonic frequencies, high-passed, with a decay."""
    t = _t(decay_s * 4.0, sample_rate)
    cluster = sum(np.sign(np.sin(2 * np.pi * f * 1.92 * t + k)) for k, f in enumerate(HAT_FREQS_HZ))
    tone = _highpass(np.asarray(cluster, dtype=np.float64), highpass_hz, sample_rate)
    noise = _highpass(_noise(len(t), seed), highpass_hz, sample_rate)
    out = (0.7 * tone / 6.0 + 0.3 * noise) * np.exp(-t / (decay_s / 2.5))
    return out / max(float(np.abs(out).max()), 1e-9)


def tom(kit: DrumKit, pitch_hz: float, sample_rate: int) -> np.ndarray:
    t = _t(0.6, sample_rate)
    freq = pitch_hz * (1.0 + 0.6 * np.exp(-t / 0.03))
    return np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.exp(-t / 0.12)


def cowbell(sample_rate: int) -> np.ndarray:
    t = _t(0.4, sample_rate)
    tone = np.sign(np.sin(2 * np.pi * 540.0 * t)) + np.sign(np.sin(2 * np.pi * 800.0 * t))
    out = _band(tone, 500.0, 3000.0, sample_rate) * np.exp(-t / 0.08)
    return out / max(float(np.abs(out).max()), 1e-9)


def click(freq_hz: float, decay_s: float, sample_rate: int, seed: int = 5) -> np.ndarray:
    """Rim, claves, conga, shaker: a short pitched sine and/or noise blip."""
    t = _t(decay_s * 5.0, sample_rate)
    tone = np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / decay_s)
    noise = _highpass(_noise(len(t), seed), min(freq_hz * 2, 8000.0), sample_rate) * np.exp(
        -t / (decay_s / 2)
    )
    return 0.8 * tone + 0.3 * noise


def _sound_for(kit: DrumKit, pitch: int, sample_rate: int) -> np.ndarray:
    if pitch in (35, 36):
        return kick(kit, sample_rate)
    if pitch in (38, 40):
        return snare(kit, sample_rate) * (1.0 if pitch == 38 else 0.85)
    if pitch == 39:
        return clap(kit, sample_rate)
    if pitch == 37:
        return click(1700.0, 0.012, sample_rate) * 0.8
    if pitch in (42, 44):
        return (
            metallic(kit.hat_decay_s * (0.8 if pitch == 44 else 1.0), kit.hat_highpass_hz, sample_rate) * 0.55
        )
    if pitch == 46:
        return metallic(kit.open_hat_decay_s, kit.hat_highpass_hz, sample_rate) * 0.55
    if pitch in (49, 57, 52, 55):
        return metallic(1.2, 5000.0, sample_rate, seed=pitch) * 0.45
    if pitch in (51, 59, 53):
        return metallic(0.6 if pitch != 53 else 0.4, 3500.0, sample_rate, seed=pitch) * 0.35
    if pitch in (41, 43, 45, 47, 48, 50):
        return tom(kit, 80.0 * 2 ** ((pitch - 41) / 12.0 * 1.4), sample_rate) * 0.8
    if pitch == 56:
        return cowbell(sample_rate) * 0.5
    if pitch in (54, 69, 70, 82):  # tambourine, cabasa, shaker
        return metallic(0.06, 6000.0, sample_rate, seed=pitch) * 0.35
    if pitch in (60, 61, 62, 63, 64):  # bongos, congas
        return click(180.0 * 2 ** ((pitch - 60) / 6.0), 0.06, sample_rate) * 0.7
    return click(2500.0, 0.015, sample_rate, seed=pitch) * 0.5  # claves, woodblocks, the rest


def tuned_to(hz: float, tonic_pc: int | None) -> float:
    """The frequency of the key's tonic nearest `hz` (producers tune the kick to the key)."""
    if tonic_pc is None:
        return hz
    midi = 69.0 + 12.0 * math.log2(hz / 440.0)
    offset = (tonic_pc - round(midi)) % 12
    nearest = round(midi) + (offset if offset <= 6 else offset - 12)
    return 440.0 * 2.0 ** ((nearest - 69) / 12.0)


@functools.lru_cache(maxsize=256)
def drum_sound(kit_name: str, pitch: int, sample_rate: int, tonic_pc: int | None = None) -> np.ndarray:
    """One hit of `pitch` on the kit (mono float64, peak about the kit level), its kick's
    resting pitch tuned to the key's tonic when one is given; cached."""
    kit = KITS[kit_name]
    if tonic_pc is not None:
        end = tuned_to(kit.kick_end_hz, tonic_pc)
        kit = replace(kit, kick_end_hz=end, kick_start_hz=kit.kick_start_hz * end / kit.kick_end_hz)
    sound = _sound_for(kit, pitch, sample_rate) * kit.level
    sound.setflags(write=False)
    return sound


def render_drums(
    notes: Sequence[Note],
    kit_name: str,
    tempo_bpm: float,
    sample_rate: int,
    length: int,
    tonic_pc: int | None = None,
) -> np.ndarray:
    """The drum track on the kit: float32 (length, 2), every hit scaled by its velocity."""
    if kit_name not in KITS:
        raise ValueError(f"unknown drum machine {kit_name!r}; known: {', '.join(sorted(KITS))}")
    samples_per_beat = sample_rate * 60.0 / tempo_bpm
    out = np.zeros(length, dtype=np.float64)
    ordered = sorted((n for n in notes if n.velocity > 0), key=lambda n: n.start_beat)
    hat_closes = [int(round(n.start_beat * samples_per_beat)) for n in ordered if n.pitch in CLOSED_HATS]
    fade_n = int(CHOKE_FADE_S * sample_rate)
    for note in ordered:
        start = int(round(note.start_beat * samples_per_beat))
        if start >= length:
            continue
        sound = drum_sound(kit_name, note.pitch, sample_rate, tonic_pc)
        end = min(length, start + len(sound))
        hit = sound[: end - start] * (min(note.velocity, 127) / 127.0) ** 1.4
        if note.pitch in OPEN_HATS:
            index = bisect.bisect_right(hat_closes, start)
            choke = hat_closes[index] if index < len(hat_closes) else None
            if choke is not None and choke < end:
                cut = choke - start
                hit = hit[: min(cut + fade_n, end - start)].copy()
                hit[cut:] *= np.linspace(1.0, 0.0, len(hit) - cut)
                end = start + len(hit)
        out[start:end] += hit
    stereo = np.empty((length, 2), dtype=np.float32)
    stereo[:, 0] = out
    stereo[:, 1] = out
    return stereo
