"""A small subtractive synthesizer in numpy/scipy for the parts General MIDI does not carry.

A `Voice` is plain data: oscillators (saw, square, sine, an organ's drawbars; a detuned unison
stack makes the supersaw; a sine sub an octave down), a resonant low-pass filter with its own
ADSR envelope (plus velocity, key tracking and CC11 expression routed to the cutoff: the
dubstep wobble), an amplitude ADSR, a pitch envelope (the 808's thump), glide between legato
notes (the 303 slide), pitch bends from the score (the 808 glide), tanh drive and a
tempo-synced stereo delay. A voice may instead be layers of others played on the same notes
(house's piano stab doubled by the organ stab).

Rendering is per note and vectorised: each note's oscillators, filter and envelopes are whole
numpy arrays. The time-varying filter is a morph between a few fixed biquads (cutoffs a
half-octave apart spanning the note's cutoff curve), crossfaded sample by sample by where the
cutoff curve is, so every filter pass is one `lfilter` call. Notes that render alike (same
pitch, length, velocity, no control curve) are rendered once and reused. Random phases come
from a generator seeded by the caller, so the same score and seed give the same samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import lfilter, resample_poly

from musicd.music.score import BEND_RANGE_SEMITONES, Control, Note, Track

CC_EXPRESSION = 11
MAX_MORPH_FILTERS = 6
MORPH_STEP_OCTAVES = 0.75
VELOCITY_BUCKET = 12
GATE_QUANTUM = 128  # samples (3 ms): note lengths this close render alike
LEGATO_GAP_S = 0.005  # a note starting this close after the last one ends glides into it


@dataclass(frozen=True)
class Envelope:
    """ADSR: attack, decay and release in seconds, sustain level 0..1."""

    attack_s: float = 0.005
    decay_s: float = 0.2
    sustain: float = 1.0
    release_s: float = 0.1


@dataclass(frozen=True)
class Voice:
    name: str
    wave: str = "saw"  # saw | square | sine | organ | ep (a two-operator FM electric piano)
    unison: int = 1  # oscillators per note (7 = a supersaw)
    detune_cents: float = 0.0  # spread of the unison stack, outermost voice to centre
    spread: float = 0.0  # stereo spread of the unison stack (0 mono .. 1 wide)
    sub_level: float = 0.0  # a sine an octave below
    octave: int = 0
    cutoff_hz: float = 0.0  # 0 = no filter
    resonance: float = 0.707  # the biquad's Q
    filter_env_octaves: float = 0.0  # the filter envelope's peak above the cutoff
    filter_env: Envelope = Envelope(0.003, 0.3, 0.0, 0.2)
    velocity_octaves: float = 0.5  # cutoff opening at full velocity (the 303 accent)
    key_tracking: float = 0.5  # cutoff follows the pitch by this share of its octaves from C4
    expression_octaves: float = 0.0  # CC11 closes the cutoff by up to this many octaves
    expression_to_amp: float = 1.0  # share of CC11 that goes to the level
    amp_env: Envelope = Envelope()
    pitch_env_semitones: float = 0.0  # a note starts this far above its pitch ...
    pitch_env_s: float = 0.0  # ... and falls to it with this time constant
    glide_s: float = 0.0  # portamento time into a legato note (mono voices)
    drive: float = 0.0  # tanh saturation (0 clean .. 1 hard)
    delay_beats: float = 0.0  # stereo ping-pong delay time (0 = none)
    delay_feedback: float = 0.35
    delay_mix: float = 0.0
    gain: float = 0.25
    mono: bool = False  # one note at a time (glide needs it)
    half_rate: bool = True  # render at half the sample rate (the filter keeps the top dark)
    organ_partials: tuple[tuple[float, float], ...] = field(
        default=((1.0, 1.0), (2.0, 0.7), (3.0, 0.45), (4.0, 0.35), (6.0, 0.2), (8.0, 0.25))
    )
    fm_index: float = 0.0  # "ep": the modulator's depth at full velocity (the Rhodes bark) ...
    fm_decay_s: float = 0.35  # ... decaying with this time constant to a third of it
    tine_level: float = 0.0  # "ep": the tine's bell partial (14x the pitch), a short ping
    tremolo_hz: float = 0.0  # a stereo auto-pan / rotor over the whole track (Rhodes, Leslie)
    tremolo_depth: float = 0.0
    layers: tuple[tuple[str, float], ...] = ()  # (voice, gain): played together on the same notes


def _voice(name: str, **kw: object) -> Voice:
    return Voice(name, **kw)  # type: ignore[arg-type]


VOICES: dict[str, Voice] = {
    v.name: v
    for v in (
        # trance: a seven-saw supersaw for chords and pads, five for the lead
        _voice(
            "supersaw",
            unison=7,
            detune_cents=28.0,
            spread=0.85,
            cutoff_hz=2600.0,
            resonance=0.9,
            filter_env_octaves=1.0,
            filter_env=Envelope(0.01, 0.6, 0.3, 0.4),
            amp_env=Envelope(0.012, 0.4, 0.8, 0.35),
            gain=0.16,
        ),
        _voice(
            "supersaw-lead",
            unison=5,
            detune_cents=18.0,
            spread=0.6,
            cutoff_hz=3200.0,
            resonance=1.0,
            filter_env_octaves=1.2,
            filter_env=Envelope(0.005, 0.25, 0.4, 0.2),
            amp_env=Envelope(0.006, 0.3, 0.85, 0.25),
            delay_beats=0.75,
            delay_mix=0.28,
            gain=0.2,
        ),
        # techno: the acid 303 line: one saw, a screaming resonant filter, accents, slides
        _voice(
            "acid",
            wave="saw",
            cutoff_hz=260.0,
            resonance=7.0,
            filter_env_octaves=3.3,
            filter_env=Envelope(0.002, 0.16, 0.0, 0.05),
            velocity_octaves=1.2,
            key_tracking=0.3,
            amp_env=Envelope(0.002, 0.3, 0.85, 0.02),
            glide_s=0.06,
            drive=0.55,
            gain=0.3,
            mono=True,
        ),
        # drum-and-bass: the reese: two detuned saws beating against a clean sub
        _voice(
            "reese",
            unison=2,
            detune_cents=14.0,
            spread=0.3,
            sub_level=0.9,
            cutoff_hz=700.0,
            resonance=1.1,
            filter_env_octaves=0.6,
            filter_env=Envelope(0.02, 0.5, 0.5, 0.2),
            key_tracking=0.2,
            amp_env=Envelope(0.008, 0.3, 0.9, 0.08),
            drive=0.35,
            gain=0.32,
            mono=True,
            glide_s=0.03,
        ),
        # dubstep: the wobble: CC11 sweeps the cutoff over four octaves
        _voice(
            "wobble",
            unison=3,
            detune_cents=10.0,
            spread=0.25,
            sub_level=0.8,
            cutoff_hz=2400.0,
            resonance=3.0,
            key_tracking=0.2,
            expression_octaves=4.2,
            expression_to_amp=0.25,
            amp_env=Envelope(0.004, 0.2, 0.95, 0.05),
            drive=0.6,
            gain=0.3,
            mono=True,
        ),
        # trap: the 808: a sine with a falling thump, long decay, saturated for small speakers
        _voice(
            "808",
            wave="sine",
            key_tracking=0.0,
            amp_env=Envelope(0.002, 1.8, 0.55, 0.12),
            pitch_env_semitones=7.0,
            pitch_env_s=0.025,
            drive=0.55,
            gain=0.5,
            mono=True,
            glide_s=0.0,
        ),
        # synthwave: a Juno-ish polysynth, a plucky arp and an eighth-note saw bass
        _voice(
            "polysynth",
            unison=2,
            detune_cents=9.0,
            spread=0.6,
            cutoff_hz=1500.0,
            resonance=1.3,
            filter_env_octaves=1.4,
            filter_env=Envelope(0.01, 0.5, 0.35, 0.4),
            amp_env=Envelope(0.015, 0.5, 0.75, 0.4),
            gain=0.2,
        ),
        _voice(
            "pluck",
            wave="square",
            cutoff_hz=500.0,
            resonance=2.0,
            filter_env_octaves=3.0,
            filter_env=Envelope(0.001, 0.12, 0.08, 0.1),
            amp_env=Envelope(0.002, 0.25, 0.3, 0.12),
            delay_beats=0.75,
            delay_mix=0.3,
            gain=0.18,
            half_rate=False,
        ),
        _voice(
            "synth-bass",
            sub_level=0.6,
            cutoff_hz=420.0,
            resonance=1.6,
            filter_env_octaves=2.2,
            filter_env=Envelope(0.002, 0.14, 0.15, 0.05),
            key_tracking=0.3,
            amp_env=Envelope(0.002, 0.2, 0.85, 0.04),
            drive=0.25,
            gain=0.3,
            mono=True,
        ),
        # house: the M1-style organ stab, percussive drawbars
        _voice(
            "organ-stab",
            wave="organ",
            cutoff_hz=3500.0,
            resonance=0.8,
            filter_env_octaves=0.8,
            filter_env=Envelope(0.001, 0.15, 0.2, 0.1),
            amp_env=Envelope(0.002, 0.28, 0.35, 0.09),
            drive=0.2,
            gain=0.16,
        ),
        # house: the M1-style piano stab: a bright FM piano whose bark dies fast, short and dry
        _voice(
            "piano-stab",
            wave="ep",
            fm_index=4.2,
            fm_decay_s=0.1,
            tine_level=0.12,
            amp_env=Envelope(0.001, 0.75, 0.12, 0.12),
            drive=0.1,
            gain=0.3,
        ),
        # house: piano stabs doubled by the organ stab an octave's worth of drawbars under them
        _voice("house-stab", layers=(("piano-stab", 1.0), ("organ-stab", 0.55))),
        # deep house: a round, warm bass (a dark saw on a sine sub, barely any filter movement),
        # the filtered chord stab (two detuned saws, a closed low-pass snapping open, an echo) and
        # a filtered pad swelling open over bars
        _voice(
            "deep-bass",
            sub_level=0.9,
            cutoff_hz=190.0,
            resonance=0.9,
            filter_env_octaves=1.0,
            filter_env=Envelope(0.004, 0.25, 0.2, 0.08),
            key_tracking=0.4,
            velocity_octaves=0.3,
            amp_env=Envelope(0.004, 0.35, 0.8, 0.06),
            drive=0.1,
            gain=0.32,
            mono=True,
            glide_s=0.02,
        ),
        _voice(
            "deep-stab",
            unison=2,
            detune_cents=8.0,
            spread=0.5,
            cutoff_hz=620.0,
            resonance=1.3,
            filter_env_octaves=1.7,
            filter_env=Envelope(0.002, 0.22, 0.1, 0.15),
            amp_env=Envelope(0.003, 0.45, 0.3, 0.2),
            delay_beats=0.75,
            delay_mix=0.18,
            gain=0.2,
        ),
        _voice(
            "filtered-pad",
            unison=4,
            detune_cents=10.0,
            spread=0.9,
            cutoff_hz=480.0,
            resonance=1.4,
            filter_env_octaves=1.4,
            filter_env=Envelope(2.5, 3.0, 0.45, 2.0),
            key_tracking=0.3,
            amp_env=Envelope(0.9, 1.0, 0.9, 1.5),
            gain=0.13,
        ),
        # soul, rnb, chillout: a tine electric piano (FM bark and bell) through a suitcase
        # tremolo that pans it across the stereo field
        _voice(
            "rhodes",
            wave="ep",
            fm_index=2.2,
            fm_decay_s=0.4,
            tine_level=0.22,
            amp_env=Envelope(0.002, 2.6, 0.25, 0.35),
            tremolo_hz=4.8,
            tremolo_depth=0.45,
            drive=0.12,
            gain=0.3,
        ),
        # soul, gospel-tinged rnb: a tonewheel organ (16', 8', 4' and upper drawbars) on a
        # Leslie's fast rotor
        _voice(
            "tonewheel",
            wave="organ",
            organ_partials=((0.5, 0.8), (1.0, 1.0), (1.5, 0.45), (2.0, 0.7), (3.0, 0.3), (4.0, 0.35)),
            amp_env=Envelope(0.006, 0.05, 1.0, 0.07),
            tremolo_hz=6.4,
            tremolo_depth=0.3,
            drive=0.18,
            gain=0.13,
        ),
        # chillout and drum-and-bass: a soft, slow, warm analogue pad
        _voice(
            "soft-pad",
            unison=4,
            detune_cents=13.0,
            spread=0.8,
            cutoff_hz=850.0,
            resonance=0.8,
            filter_env_octaves=0.9,
            filter_env=Envelope(1.4, 2.5, 0.5, 1.6),
            key_tracking=0.3,
            amp_env=Envelope(0.7, 1.2, 0.85, 1.3),
            gain=0.13,
        ),
    )
}


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def adsr(env: Envelope, gate_n: int, total_n: int, sample_rate: int) -> np.ndarray:
    """The envelope over `total_n` samples: attack, decay to sustain while the gate is open
    (`gate_n` samples), then an exponential-looking release from wherever it was."""
    t = np.arange(total_n, dtype=np.float64) / sample_rate
    attack = max(env.attack_s, 1e-4)
    decay = max(env.decay_s, 1e-4)
    held = np.where(
        t < attack,
        t / attack,
        env.sustain + (1.0 - env.sustain) * np.exp(-(t - attack) / (decay / 3.0)),
    )
    if gate_n >= total_n:
        return held
    level_at_off = held[gate_n - 1] if gate_n > 0 else 0.0
    release = max(env.release_s, 1e-4)
    out = held
    after = t[gate_n:] - t[gate_n]
    out[gate_n:] = level_at_off * np.exp(-after / (release / 4.0))
    return out


def _blep(phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """PolyBLEP correction that removes most of a naive saw's aliasing."""
    out = np.zeros_like(phase)
    low = phase < dt
    x = phase[low] / dt[low]
    out[low] = x + x - x * x - 1.0
    high = phase > 1.0 - dt
    x = (phase[high] - 1.0) / dt[high]
    out[high] = x * x + x + x + 1.0
    return out


def _wave(wave: str, phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    if wave == "sine":
        return np.sin(2.0 * np.pi * phase)
    if wave == "saw":
        return 2.0 * phase - 1.0 - _blep(phase, dt)
    if wave == "square":
        shifted = (phase + 0.5) % 1.0
        return np.where(phase < 0.5, 1.0, -1.0) + _blep(phase, dt) - _blep(shifted, dt)
    raise ValueError(f"unknown oscillator wave {wave!r}")


def oscillator(wave: str, freq_hz: np.ndarray, sample_rate: int, start_phase: float = 0.0) -> np.ndarray:
    """One oscillator following the per-sample frequency curve `freq_hz`."""
    dt = np.minimum(freq_hz / sample_rate, 0.49)
    phase = (start_phase + np.cumsum(dt) - dt) % 1.0
    return _wave(wave, phase, dt)


ORGAN_TABLE_SIZE = 4096


def _organ_table(partials: Sequence[tuple[float, float]]) -> np.ndarray:
    x = np.arange(ORGAN_TABLE_SIZE) / ORGAN_TABLE_SIZE
    # the 16' drawbar (ratio 0.5) rides one octave down: the table spans two cycles of the pitch
    table = sum(level * np.sin(2.0 * np.pi * 2.0 * ratio * x) for ratio, level in partials)
    return np.asarray(table, dtype=np.float64) / sum(level for _, level in partials)


def _organ(partials: Sequence[tuple[float, float]], freq_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Drawbar organ from a wavetable (two cycles of the pitch, so the sub-octave fits)."""
    table = _organ_table(tuple(partials))
    phase = np.cumsum(freq_hz * 0.5 / sample_rate) % 1.0
    return table[(phase * ORGAN_TABLE_SIZE).astype(np.int64)]


def _electric_piano(
    voice: Voice, freq_hz: np.ndarray, t: np.ndarray, velocity: float, sample_rate: int
) -> np.ndarray:
    """A two-operator FM tine piano: a sine carrier phase-modulated at its own pitch by an index
    that falls from the velocity's bark to a mellow third of it, plus the tine's short bell
    partial (skipped where it would alias)."""
    phase = 2.0 * np.pi * (np.cumsum(freq_hz / sample_rate) - freq_hz / sample_rate)
    peak = voice.fm_index * (0.35 + 0.65 * velocity)
    index = peak * (1.0 / 3.0 + (2.0 / 3.0) * np.exp(-t / max(voice.fm_decay_s, 1e-3)))
    out = np.sin(phase + index * np.sin(phase))
    if voice.tine_level and float(freq_hz[0]) * 14.0 < 0.45 * sample_rate:
        out += voice.tine_level * velocity * np.sin(14.0 * phase) * np.exp(-t / 0.025)
    return out


def tremolo(audio: np.ndarray, rate_hz: float, depth: float, sample_rate: int) -> np.ndarray:
    """A stereo auto-pan (channels, n) in place: the two sides swing in opposite phase, so the
    sum keeps its level within `depth` / 2."""
    if rate_hz <= 0 or depth <= 0 or audio.shape[0] != 2:
        return audio
    lfo = np.sin(2.0 * np.pi * rate_hz * np.arange(audio.shape[1]) / sample_rate)
    audio[0] *= 1.0 - 0.5 * depth * (1.0 + lfo)
    audio[1] *= 1.0 - 0.5 * depth * (1.0 - lfo)
    return audio


def lowpass_coefficients(cutoff_hz: float, q: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ cookbook biquad low-pass."""
    w0 = 2.0 * math.pi * min(cutoff_hz, 0.45 * sample_rate) / sample_rate
    alpha = math.sin(w0) / (2.0 * max(q, 0.1))
    cos_w0 = math.cos(w0)
    a0 = 1.0 + alpha
    b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2]) / a0
    a = np.array([1.0, -2.0 * cos_w0 / a0, (1.0 - alpha) / a0])
    return b, a


def morph_lowpass(audio: np.ndarray, cutoff_hz: np.ndarray, q: float, sample_rate: int) -> np.ndarray:
    """Low-pass `audio` (channels, n) with a cutoff that moves per sample: fixed biquads a
    half-octave apart over the curve's range, crossfaded by where the curve is."""
    top = 0.45 * sample_rate
    curve = np.clip(cutoff_hz, 20.0, top)
    lo, hi = float(curve.min()), float(curve.max())
    span = math.log2(hi / lo)
    if span < 0.05:
        b, a = lowpass_coefficients(lo, q, sample_rate)
        return lfilter(b, a, audio, axis=-1)
    count = min(MAX_MORPH_FILTERS, max(2, math.ceil(span / MORPH_STEP_OCTAVES) + 1))
    cutoffs = lo * 2.0 ** (np.linspace(0.0, span, count))
    position = np.log2(curve / lo) / span * (count - 1)
    index = np.minimum(position.astype(np.int64), count - 2)
    frac = position - index
    out = np.zeros_like(audio, dtype=np.float64)
    for k, cutoff in enumerate(cutoffs):
        weight = np.where(index == k, 1.0 - frac, 0.0) + np.where(index == k - 1, frac, 0.0)
        if not weight.any():
            continue
        b, a = lowpass_coefficients(float(cutoff), q, sample_rate)
        out += lfilter(b, a, audio, axis=-1) * weight
    return out


def drive(audio: np.ndarray, amount: float) -> np.ndarray:
    """tanh saturation; 0 leaves the signal alone, 1 drives it hard (peaks kept at their level)."""
    if amount <= 0:
        return audio
    k = 1.0 + 9.0 * amount
    return np.tanh(k * audio) / math.tanh(k)


def _curve(
    controls: Sequence[Control], kind: str, number: int, beats: np.ndarray, default: float
) -> np.ndarray:
    """The value (held between changes) of one control at each of `beats`."""
    points = [
        (c.beat, c.value) for c in controls if c.kind == kind and (kind == "bend" or c.number == number)
    ]
    if not points:
        return np.full(beats.shape, default)
    at = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points], dtype=np.float64)
    index = np.searchsorted(at, beats, side="right") - 1
    return np.where(index >= 0, values[np.maximum(index, 0)], default)


@dataclass(frozen=True)
class _NoteJob:
    on: int
    gate: int
    pitch: int
    velocity: int
    glide_from: int | None


def _note_jobs(
    notes: Sequence[Note], voice: Voice, samples_per_beat: float, sample_rate: int
) -> list[_NoteJob]:
    jobs: list[_NoteJob] = []
    ordered = sorted((n for n in notes if n.velocity > 0), key=lambda n: (n.start_beat, n.pitch))
    legato_gap = int(LEGATO_GAP_S * sample_rate)
    previous: _NoteJob | None = None
    for note in ordered:
        on = max(0, int(round(note.start_beat * samples_per_beat)))
        off = max(on + 1, int(round((note.start_beat + note.duration_beats) * samples_per_beat)))
        glide_from = None
        if voice.mono and previous is not None:
            prev_end = previous.on + previous.gate
            if voice.glide_s > 0 and on <= prev_end + legato_gap and previous.pitch != note.pitch:
                glide_from = previous.pitch
            if prev_end > on:  # one note at a time: the earlier one ends where this begins
                jobs[-1] = _NoteJob(
                    previous.on,
                    max(1, on - previous.on),
                    previous.pitch,
                    previous.velocity,
                    previous.glide_from,
                )
        job = _NoteJob(on, off - on, note.pitch, min(note.velocity, 127), glide_from)
        jobs.append(job)
        previous = job
    return jobs


def render_track(
    track: Track,
    voice: Voice,
    tempo_bpm: float,
    sample_rate: int,
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Play one track on `voice` (or on each of its layers, summed): float32 (length, 2).

    A voice whose filter keeps its top octave dark renders at half the sample rate and is
    upsampled once at the end (half the work for the same sound); layers that all do are summed
    at half rate and upsampled together."""
    parts = [(voice_for(name), gain) for name, gain in voice.layers] if voice.layers else [(voice, 1.0)]
    half = sample_rate >= 32000 and all(v.half_rate for v, _ in parts)
    rate, n = (sample_rate // 2, (length + 1) // 2) if half else (sample_rate, length)
    out: np.ndarray | None = None
    for part, gain in parts:
        planar = _render_planar(track, part, tempo_bpm, rate, n, rng)
        if gain != 1.0:
            planar *= gain
        out = planar if out is None else out + planar
    assert out is not None
    if half:
        out = resample_poly(out, 2, 1, axis=-1)[:, :length]
    return np.ascontiguousarray(out.T, dtype=np.float32)


def _render_planar(
    track: Track,
    voice: Voice,
    tempo_bpm: float,
    sample_rate: int,
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """One voice's notes, tremolo and echoes at `sample_rate`: float64 (2, length)."""
    samples_per_beat = sample_rate * 60.0 / tempo_bpm
    out = np.zeros((2, length), dtype=np.float64)
    controls = track.controls
    has_bend = any(c.kind == "bend" for c in controls)
    has_expr = any(c.kind == "cc" and c.number == CC_EXPRESSION for c in controls)
    release_n = int(max(voice.amp_env.release_s, 0.005) * sample_rate)
    cache: dict[tuple[int, int, int, int | None], np.ndarray] = {}
    # unison layout: detune offsets (cents) and pan per oscillator, fixed per voice
    u = max(1, voice.unison)
    offsets = np.linspace(-1.0, 1.0, u) if u > 1 else np.zeros(1)
    detunes = offsets * voice.detune_cents
    pans = offsets * voice.spread
    left_gain = np.sqrt(0.5 * (1.0 - pans))
    right_gain = np.sqrt(0.5 * (1.0 + pans))
    norm = 1.0 / math.sqrt(u)
    for job in _note_jobs(track.notes, voice, samples_per_beat, sample_rate):
        total = min(job.gate + release_n, length - job.on)
        if total <= 0:
            continue
        # notes alike but for a little velocity share one rendering (the level stays exact)
        bucket = min(127, max(1, VELOCITY_BUCKET * round(job.velocity / VELOCITY_BUCKET)))
        gate = max(1, GATE_QUANTUM * round(job.gate / GATE_QUANTUM))
        key = (job.pitch, gate, bucket, job.glide_from)
        dynamic = has_bend or has_expr
        if not dynamic and key in cache and cache[key].shape[1] >= total:
            segment = cache[key][:, :total]
        else:
            segment = _render_note(
                replace(job, velocity=bucket, gate=gate) if not dynamic else job,
                total,
                voice,
                sample_rate,
                samples_per_beat,
                controls if dynamic else (),
                (detunes, left_gain, right_gain, norm),
                rng,
            )
            if not dynamic:
                cache[key] = segment
        level = (job.velocity / bucket) ** 1.5 if not dynamic else 1.0
        out[:, job.on : job.on + segment.shape[1]] += segment * level if level != 1.0 else segment
    if voice.tremolo_hz > 0:
        out = tremolo(out, voice.tremolo_hz, voice.tremolo_depth, sample_rate)
    if voice.delay_beats > 0 and voice.delay_mix > 0:
        out = _ping_pong(
            out, int(round(voice.delay_beats * samples_per_beat)), voice.delay_feedback, voice.delay_mix
        )
    return out


def _render_note(
    job: _NoteJob,
    total: int,
    voice: Voice,
    sample_rate: int,
    samples_per_beat: float,
    controls: Sequence[Control],
    unison: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    rng: np.random.Generator,
) -> np.ndarray:
    detunes, left_gain, right_gain, norm = unison
    t = np.arange(total, dtype=np.float64) / sample_rate
    pitch = np.full(total, float(job.pitch + 12 * voice.octave))
    if job.glide_from is not None and voice.glide_s > 0:
        pitch += (job.glide_from - job.pitch) * np.exp(-t / (voice.glide_s / 3.0))
    if voice.pitch_env_semitones:
        pitch += voice.pitch_env_semitones * np.exp(-t / max(voice.pitch_env_s, 1e-4))
    beats = (job.on + np.arange(total)) / samples_per_beat
    if controls:
        bend = _curve(controls, "bend", 0, beats, 0.0)
        pitch += bend / 8192.0 * BEND_RANGE_SEMITONES
        expression = _curve(controls, "cc", CC_EXPRESSION, beats, 127.0) / 127.0
    else:
        expression = None
    freq = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
    if voice.wave == "organ":
        mono = _organ(voice.organ_partials, freq, sample_rate)
        sig = np.vstack([mono, mono]) * math.sqrt(0.5)
    elif voice.wave == "ep":
        mono = _electric_piano(voice, freq, t, job.velocity / 127.0, sample_rate)
        sig = np.vstack([mono, mono]) * math.sqrt(0.5)
    else:
        dt = np.minimum(freq / sample_rate, 0.49)
        base = np.cumsum(dt) - dt
        ratios = 2.0 ** (detunes / 1200.0)
        starts = rng.random(len(ratios))
        phase = ((starts[:, None] + ratios[:, None] * base[None, :]) % 1.0).astype(np.float32)
        stack = _wave(voice.wave, phase, (ratios[:, None] * dt[None, :]).astype(np.float32))
        gains = np.vstack([left_gain, right_gain]).astype(np.float32) * np.float32(norm)
        sig = (gains @ stack).astype(np.float64)
    if voice.sub_level:
        sub = voice.sub_level * np.sin(2.0 * np.pi * np.cumsum(freq * 0.5 / sample_rate))
        sig += sub * math.sqrt(0.5)
    velocity = job.velocity / 127.0
    if voice.cutoff_hz > 0:
        octaves = np.full(
            total,
            voice.velocity_octaves * (velocity - 0.75)
            + voice.key_tracking * (job.pitch + 12 * voice.octave - 60) / 12.0,
        )
        if voice.filter_env_octaves:
            octaves = octaves + voice.filter_env_octaves * adsr(
                voice.filter_env, job.gate, total, sample_rate
            )
        if expression is not None and voice.expression_octaves:
            octaves = octaves - voice.expression_octaves * (1.0 - expression)
        cutoff = voice.cutoff_hz * 2.0**octaves
        sig = morph_lowpass(sig, cutoff, voice.resonance, sample_rate)
    sig = drive(sig, voice.drive)
    amp = adsr(voice.amp_env, job.gate, total, sample_rate) * velocity**1.5 * voice.gain
    if expression is not None and voice.expression_to_amp:
        amp = amp * (1.0 - voice.expression_to_amp * (1.0 - expression))
    return sig * amp


def _ping_pong(audio: np.ndarray, delay_n: int, feedback: float, mix: float, taps: int = 4) -> np.ndarray:
    """A tempo-synced stereo delay: echoes alternate left and right, each `feedback` quieter."""
    if delay_n <= 0:
        return audio
    out = audio.copy()
    mono = audio.mean(axis=0)
    n = audio.shape[1]
    for k in range(1, taps + 1):
        shift = k * delay_n
        if shift >= n:
            break
        gain = mix * feedback ** (k - 1)
        out[(k + 1) % 2, shift:] += gain * mono[: n - shift]
    return out


def voice_for(name: str) -> Voice:
    try:
        return VOICES[name]
    except KeyError:
        raise ValueError(f"unknown synth voice {name!r}; known: {', '.join(sorted(VOICES))}") from None


def render_voices(
    tracks: Sequence[Track],
    voices: Mapping[str, str],
    tempo_bpm: float,
    sample_rate: int,
    length: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Every track named in `voices` played on its voice: {track name: float32 (length, 2)}."""
    out: dict[str, np.ndarray] = {}
    for track in tracks:
        name = voices.get(track.name)
        if name is None:
            continue
        rng = np.random.default_rng([seed, *track.name.encode()])
        out[track.name] = render_track(track, voice_for(name), tempo_bpm, sample_rate, length, rng)
    return out
