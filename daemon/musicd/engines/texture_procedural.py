"""The procedural texture engine: DSP layers in the song's tempo and key (numpy/scipy only).

Layers, mixed per genre (GENRE_TEXTURES): an evolving pad (detuned band-limited saws or
sines on the key's chord tones with a slowly moving low-pass), a drone bed, an "air" bed
of soft filtered noise, noise risers into choruses and drops, vinyl crackle, tape hiss and
wow for lofi, and sidechain-style pumping on the beat for dance genres. Levels follow the
sections' energy. Deterministic for a seed; returned unmixed with peaks at -12 dBFS.

Tonal layers are synthesised once as a loop of whole bars (oscillators and LFOs run
whole cycles per loop, so it tiles seamlessly) at a sixth of the sample rate (they are
dark by design), upsampled, tiled and shaped by the section energy at the full rate;
noise beds are short loops too. That keeps a minute of texture near 0.1 s of CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np
from scipy import signal

from musicd.engines.base import Availability, TextureEngine, TextureRequest
from musicd.engines.cache import ModelCache
from musicd.engines.fit import TEXTURE_PEAK_DBFS, normalize_peak
from musicd.engines.settings import EngineConfig
from musicd.music.sections import Section
from musicd.music.theory import MODE_INTERVALS
from musicd.music.theory import pitch_class as tonic_to_pitch_class
from musicd.seeding import stage_rng

log = logging.getLogger(__name__)

DOWNSAMPLE = 6  # tonal layers run at a sixth of the sample rate (7350 Hz at 44.1 kHz)
BLOCK = 256  # envelopes (section energy) are applied per block of samples
TABLE_SIZE = 2048
LOOP_MIN_S = 12.0  # tonal layers repeat every whole number of bars lasting at least this long
NOISE_LOOP_S = 5.3  # noise beds repeat this often (long enough not to be heard as a loop)
RISER_SECTIONS = frozenset({"chorus", "drop"})


@dataclass(frozen=True)
class TextureStyle:
    """How much of each layer a genre gets (0 = none, 1 = full)."""

    pad: float = 0.5
    saw: float = 0.5  # 0 = pure sines, 1 = saws
    cutoff_hz: float = 1800.0  # pad low-pass at full energy
    drone: float = 0.0
    air: float = 0.0
    riser: float = 0.4
    crackle: float = 0.0
    hiss: float = 0.0
    wow_cents: float = 0.0
    pump: float = 0.0  # sidechain dip depth on every beat
    level_db: float = -22.0  # gain the mix gives this texture (texture_level_db)


GENRE_TEXTURES: dict[str, TextureStyle] = {
    "lofi": TextureStyle(
        pad=0.6, saw=0.4, cutoff_hz=1400, riser=0.2, crackle=1.0, hiss=0.6, wow_cents=14, level_db=-15
    ),
    "hip-hop": TextureStyle(
        pad=0.5, saw=0.4, cutoff_hz=1500, riser=0.4, crackle=0.5, hiss=0.3, wow_cents=5, level_db=-20
    ),
    "trap": TextureStyle(pad=0.5, saw=0.2, cutoff_hz=1600, riser=0.9, level_db=-21),
    "techno": TextureStyle(pad=0.5, saw=0.8, cutoff_hz=2200, air=0.3, riser=1.0, pump=0.6, level_db=-19),
    "house": TextureStyle(pad=0.6, saw=0.7, cutoff_hz=2400, riser=0.9, pump=0.5, level_db=-19),
    "deep-house": TextureStyle(pad=0.7, saw=0.5, cutoff_hz=1700, air=0.2, riser=0.6, pump=0.45, level_db=-18),
    "trance": TextureStyle(pad=0.8, saw=0.9, cutoff_hz=3200, air=0.3, riser=1.0, pump=0.5, level_db=-16),
    "drum-and-bass": TextureStyle(
        pad=0.6, saw=0.6, cutoff_hz=2400, air=0.3, riser=1.0, pump=0.3, level_db=-19
    ),
    "dubstep": TextureStyle(pad=0.5, saw=0.8, cutoff_hz=2000, riser=1.0, pump=0.4, level_db=-19),
    "synthwave": TextureStyle(
        pad=0.8, saw=0.9, cutoff_hz=2800, riser=0.6, hiss=0.3, wow_cents=4, pump=0.3, level_db=-16
    ),
    "ambient": TextureStyle(pad=1.0, saw=0.1, cutoff_hz=1500, drone=1.0, air=0.6, riser=0.2, level_db=-8),
    "chillout": TextureStyle(
        pad=0.8, saw=0.3, cutoff_hz=1600, drone=0.4, air=0.3, riser=0.3, hiss=0.1, pump=0.15, level_db=-14
    ),
    "cinematic": TextureStyle(pad=0.8, saw=0.5, cutoff_hz=1400, drone=1.0, air=0.4, riser=0.8, level_db=-12),
    "pop": TextureStyle(pad=0.5, saw=0.5, cutoff_hz=2200, riser=0.5, level_db=-22),
    "rock": TextureStyle(pad=0.3, saw=0.6, cutoff_hz=1600, drone=0.2, riser=0.3, level_db=-26),
    "funk": TextureStyle(pad=0.3, saw=0.4, riser=0.3, level_db=-26),
    "disco": TextureStyle(pad=0.4, saw=0.6, cutoff_hz=2600, riser=0.5, pump=0.2, level_db=-24),
    "soul": TextureStyle(pad=0.4, saw=0.2, hiss=0.15, riser=0.2, level_db=-25),
    "rnb": TextureStyle(pad=0.5, saw=0.3, cutoff_hz=1600, riser=0.3, level_db=-23),
    "jazz": TextureStyle(pad=0.3, saw=0.1, cutoff_hz=1300, riser=0.0, crackle=0.25, hiss=0.3, level_db=-27),
    "blues": TextureStyle(pad=0.3, saw=0.2, cutoff_hz=1300, riser=0.0, crackle=0.3, hiss=0.3, level_db=-27),
    "bossa-nova": TextureStyle(pad=0.3, saw=0.1, cutoff_hz=1300, riser=0.0, hiss=0.2, level_db=-27),
    "reggae": TextureStyle(pad=0.3, saw=0.3, riser=0.2, hiss=0.1, level_db=-26),
    "afrobeat": TextureStyle(pad=0.3, saw=0.3, riser=0.3, level_db=-26),
    "folk": TextureStyle(pad=0.3, saw=0.0, cutoff_hz=1200, drone=0.3, air=0.2, riser=0.0, level_db=-27),
    "country": TextureStyle(pad=0.25, saw=0.0, cutoff_hz=1200, drone=0.2, riser=0.0, level_db=-28),
}
DEFAULT_STYLE = TextureStyle()


def texture_style(genres: tuple[str, ...] | list[str]) -> TextureStyle:
    """The genres' styles blended: each layer at its strongest, the texture level at its loudest."""
    styles = [GENRE_TEXTURES[g] for g in genres if g in GENRE_TEXTURES] or [DEFAULT_STYLE]
    if len(styles) == 1:
        return styles[0]
    values = {f.name: max(getattr(s, f.name) for s in styles) for f in fields(TextureStyle)}
    values["saw"] = float(np.mean([s.saw for s in styles]))
    values["cutoff_hz"] = float(np.mean([s.cutoff_hz for s in styles]))
    return TextureStyle(**values)


def texture_level_db(genres: tuple[str, ...] | list[str]) -> float:
    """Gain in dB the mix applies to the texture stem (which peaks at -12 dBFS) for these genres."""
    return texture_style(genres).level_db


# ---------------------------------------------------------------- helpers


# ---------------------------------------------------------------- helpers


def _midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _chord_notes(key_tonic: str, mode: str) -> tuple[list[float], float]:
    """Pad voicing (MIDI notes: root, fifth, octave, third, ninth) and the drone root."""
    intervals = MODE_INTERVALS.get(mode, MODE_INTERVALS["major"])
    root = 48 + tonic_to_pitch_class(key_tonic)  # C3..B3
    third, fifth = intervals[2], intervals[4]
    notes = [root, root + fifth, root + 12, root + 12 + third]
    if intervals[1] == 2:  # a natural ninth fits this mode
        notes.append(root + 24 + intervals[1])
    return [float(n) for n in notes], float(root - 12)


def _saw_table(freq_hz: float, sample_rate: float) -> np.ndarray:
    """One band-limited period of a saw for this pitch (harmonics below Nyquist)."""
    harmonics = max(1, int((sample_rate / 2 * 0.9) // freq_hz))
    phase = np.arange(TABLE_SIZE) / TABLE_SIZE * 2 * np.pi
    k = np.arange(1, harmonics + 1)[:, None]
    table = (np.sin(k * phase[None, :]) / k).sum(axis=0)
    return (table / np.max(np.abs(table))).astype(np.float32)


class _Loop:
    """A span of whole bars, `n` samples at `sample_rate`, that every tonal layer repeats
    exactly: oscillators and LFOs run whole cycles per loop, so tiling it is seamless."""

    def __init__(self, n: int, sample_rate: float) -> None:
        self.n = n
        self.sample_rate = sample_rate
        self.seconds = n / sample_rate
        self.position = np.arange(n, dtype=np.float64) / n  # 0..1 through the loop

    def cycles(self, rate_hz: float) -> float:
        """Whole cycles per loop nearest to a rate (at least one)."""
        return float(max(1, round(rate_hz * self.seconds)))

    def lfo(self, rate_hz: float, phase: float) -> np.ndarray:
        return np.sin(2 * np.pi * self.cycles(rate_hz) * self.position + phase).astype(np.float32)

    def phase(self, freq_hz: float, wow: np.ndarray | None) -> np.ndarray:
        """Oscillator phase in cycles (whole cycles per loop), bent by the wow curve if any."""
        cycles = self.cycles(freq_hz)
        if wow is None:
            return cycles * self.position
        return cycles * self.position + freq_hz * wow


def _steady_filter(sos: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """Filter a periodic signal as if it had always been playing (no start transient)."""
    twice = signal.sosfilt(sos, np.concatenate([loop, loop]), axis=0)
    return twice[len(loop) :].astype(np.float32)


def _periodic_upsample(loop: np.ndarray, factor: int) -> np.ndarray:
    """Band-limited upsampling of a periodic signal by an integer factor (zero-padded FFT)."""
    return (signal.resample(loop, len(loop) * factor, axis=0)).astype(np.float32)


def _tile(loop: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    reps = -(-(n + offset) // len(loop))
    return np.tile(loop, (reps, 1))[offset : offset + n]


def _energy_curve(sections: tuple[Section, ...], n: int, sample_rate: float, bar_s: float) -> np.ndarray:
    """Section energy at `n` points `1/sample_rate` apart, smoothed over about one bar."""
    step_s = 0.05
    times = np.arange(0.0, n / sample_rate + step_s, step_s)
    values = np.full(len(times), 0.6, dtype=np.float32)
    for section in sections:
        start, end = section.start_bar * bar_s, section.end_bar * bar_s
        values[(times >= start) & (times < end)] = section.energy
    width = max(1, int(bar_s / step_s))
    kernel = np.hanning(width + 2)[1:-1]
    padded = np.pad(values, width, mode="edge")
    smoothed = np.convolve(padded, kernel / kernel.sum(), mode="same")[width : width + len(values)]
    return np.interp(np.arange(n, dtype=np.float32) / np.float32(sample_rate), times, smoothed).astype(
        np.float32
    )


def _pump_envelope(loop: _Loop, beats: int, depth: float, attack_s: float = 0.006) -> np.ndarray:
    """Gain ducking by `depth` on each beat (a few ms attack) and recovering within the beat."""
    position = (loop.position * beats) % 1.0
    attack = attack_s * beats / loop.seconds  # in beats
    duck = np.where(
        position < attack, position / attack, (1.0 - np.clip((position - attack) / 0.6, 0.0, 1.0)) ** 2
    )
    return (1.0 - depth * duck).astype(np.float32)


# ---------------------------------------------------------------- layers


def _pad_loop(
    request: TextureRequest,
    style: TextureStyle,
    rng: np.random.Generator,
    loop: _Loop,
    wow: np.ndarray | None,
) -> np.ndarray:
    """Detuned voices on the chord tones, stereo, unfiltered, at the loop's (low) rate."""
    notes, _ = _chord_notes(request.key_tonic, request.mode)
    out = np.zeros((loop.n, 2), dtype=np.float32)
    for index, note in enumerate(notes):
        base_hz = _midi_to_hz(note)
        table = _saw_table(base_hz, loop.sample_rate)
        level = 1.0 if index < 3 else 0.55  # colour tones quieter than root/fifth/octave
        swell = 0.75 + 0.25 * loop.lfo(rng.uniform(0.03, 0.09), rng.uniform(0, 2 * np.pi))
        for cents, pan in ((-7.0, 0.15), (0.0, 0.5), (7.0, 0.85)):
            hz = base_hz * 2.0 ** ((cents + rng.uniform(-1.5, 1.5)) / 1200.0)
            phase = loop.phase(hz, wow) + rng.random()
            wave = style.saw * table[(phase * TABLE_SIZE).astype(np.int64) % TABLE_SIZE]
            if style.saw < 1.0:
                wave = wave + (1.0 - style.saw) * np.sin(2 * np.pi * phase).astype(np.float32)
            voice = (level * swell * wave).astype(np.float32)
            out[:, 0] += voice * np.float32(np.cos(pan * np.pi / 2))
            out[:, 1] += voice * np.float32(np.sin(pan * np.pi / 2))
    return out / len(notes)


def _drone_loop(
    request: TextureRequest, rng: np.random.Generator, loop: _Loop, wow: np.ndarray | None
) -> np.ndarray:
    _, root = _chord_notes(request.key_tonic, request.mode)
    out = np.zeros((loop.n, 2), dtype=np.float32)
    for offset, level in ((0.0, 1.0), (7.0, 0.5), (12.0, 0.35)):
        hz = _midi_to_hz(root + offset)
        for channel, detune in ((0, -0.4), (1, 0.4)):
            phase = loop.phase(hz + detune, wow) + rng.random()
            out[:, channel] += level * np.sin(2 * np.pi * phase).astype(np.float32)
    swell = 0.7 + 0.3 * loop.lfo(1.0 / loop.seconds, rng.uniform(0, 2 * np.pi))
    return 0.25 * out * swell[:, None]


def _tonal_loops(
    request: TextureRequest, style: TextureStyle, rng: np.random.Generator, loop: _Loop
) -> tuple[np.ndarray, np.ndarray]:
    """Two loops at the full rate: the base pad+drone, and what full energy adds (brightness)."""
    wow = None
    if style.wow_cents:
        drift = 0.8 * loop.lfo(0.55, rng.uniform(0, 6.3)) + 0.2 * loop.lfo(5.7, 0.0)
        # Phase offset (in seconds) whose derivative bends the pitch by +-wow_cents.
        ratio = 2.0 ** (style.wow_cents / 1200.0) - 1.0
        wow = np.cumsum(ratio * drift / loop.sample_rate, dtype=np.float64)
        wow -= np.linspace(0.0, wow[-1], loop.n)  # keep it periodic
    base = np.zeros((loop.n, 2), dtype=np.float32)
    lift = np.zeros((loop.n, 2), dtype=np.float32)
    if style.pad:
        raw = style.pad * _pad_loop(request, style, rng, loop, wow)
        nyquist = loop.sample_rate / 2 * 0.95
        dark = _steady_filter(
            signal.butter(2, min(style.cutoff_hz * 0.4, nyquist), fs=loop.sample_rate, output="sos"), raw
        )
        bright = _steady_filter(
            signal.butter(2, min(style.cutoff_hz, nyquist), fs=loop.sample_rate, output="sos"), raw
        )
        sweep = (0.5 + 0.5 * loop.lfo(1.0 / loop.seconds, rng.uniform(0, 2 * np.pi)))[:, None]
        base += dark + 0.3 * sweep * (bright - dark)
        lift += 0.7 * (bright - dark)
    if style.drone:
        base += style.drone * _drone_loop(request, rng, loop, wow)
    if style.pump:
        beats = int(round(loop.seconds * request.tempo_bpm / 60.0))
        pump = _pump_envelope(loop, beats, style.pump)[:, None]
        base *= pump
        lift *= pump
    both = _periodic_upsample(np.concatenate([base, lift], axis=1), DOWNSAMPLE)
    return both[:, :2], both[:, 2:]


def _noise_loop(n: int, rng: np.random.Generator, sos: np.ndarray) -> np.ndarray:
    return _steady_filter(sos, rng.standard_normal((n, 2), dtype=np.float32))


def _crackle(n: int, sample_rate: int, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Sparse broadband clicks (a few loud pops among many faint ones), mostly centred."""
    rate_per_s = 6.0 + 14.0 * amount
    count = int(rng.poisson(rate_per_s * n / sample_rate))
    out = np.zeros((n, 2), dtype=np.float32)
    if count == 0:
        return out
    impulse = np.zeros(48, dtype=np.float32)
    impulse[0] = 1.0
    kernel = signal.sosfilt(
        signal.butter(2, 1200.0, btype="highpass", fs=sample_rate, output="sos"), impulse
    ).astype(np.float32)
    positions = np.sort(rng.integers(0, max(1, n - len(kernel)), size=count))
    heights = np.minimum(rng.pareto(2.5, size=count) * 0.08 + 0.03, 0.6) * rng.choice((-1.0, 1.0), count)
    spread = rng.uniform(0.7, 1.0, size=(count, 2))
    index = positions[:, None] + np.arange(len(kernel))[None, :]
    for channel in range(2):
        values = (heights * spread[:, channel])[:, None] * kernel[None, :]
        np.add.at(out[:, channel], index.ravel(), values.ravel().astype(np.float32))
    return 0.6 * amount * out


def _riser(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose band and level climb to the end (an upward sweep into the next section)."""
    noise = rng.standard_normal((2, length), dtype=np.float32)
    nperseg = 1024
    _, _, spec = signal.stft(noise, fs=sample_rate, nperseg=nperseg)  # (2, freqs, frames)
    freqs = np.fft.rfftfreq(nperseg, 1.0 / sample_rate)
    progress = np.linspace(0.0, 1.0, spec.shape[-1])
    cutoff = 400.0 * (12000.0 / 400.0) ** progress
    mask = 1.0 / (1.0 + (freqs[:, None] / cutoff[None, :]) ** 4)
    _, shaped = signal.istft(spec * mask[None], fs=sample_rate, nperseg=nperseg)
    shaped = shaped.T[:length]
    if len(shaped) < length:
        shaped = np.pad(shaped, ((0, length - len(shaped)), (0, 0)))
    ramp = np.linspace(0.0, 1.0, length, dtype=np.float32) ** 1.5
    tail = min(length, int(0.01 * sample_rate))
    ramp[-tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
    return (0.12 * shaped * ramp[:, None]).astype(np.float32)


def riser_targets(sections: tuple[Section, ...]) -> list[Section]:
    """Sections a riser leads into: choruses and drops, and any big lift in energy."""
    targets = []
    for previous, section in zip(sections, sections[1:]):
        lift = section.energy - previous.energy
        if section.start_bar >= 2 and (section.name in RISER_SECTIONS or lift >= 0.3):
            targets.append(section)
    return targets


# ---------------------------------------------------------------- engine


def render_procedural_texture(request: TextureRequest) -> np.ndarray:
    """The texture for a request: float32 (n_samples, 2), peaks at -12 dBFS."""
    sample_rate = request.sample_rate
    n = request.n_samples
    if n == 0:
        return np.zeros((0, 2), dtype=np.float32)
    style = texture_style(request.genres)
    rng = stage_rng(request.seed, "texture.procedural")
    bar_s = request.bar_s
    sections = request.sections or (Section("verse", 0, max(1, round(request.duration_s / bar_s)), 0.6),)
    n_blocks = -(-n // BLOCK)
    energy = _energy_curve(sections, n_blocks, sample_rate / BLOCK, bar_s)[:, None, None]

    loop_bars = max(1, int(np.ceil(LOOP_MIN_S / bar_s)))
    loop = _Loop(int(round(loop_bars * bar_s * sample_rate / DOWNSAMPLE)), sample_rate / DOWNSAMPLE)
    base, lift = _tonal_loops(request, style, rng, loop)
    level = 0.35 + 0.65 * energy
    n_padded = n_blocks * BLOCK
    out = _tile(base, n_padded)
    blocks = out.reshape(n_blocks, BLOCK, 2)  # a view: envelopes apply per block
    blocks *= level
    lifted = _tile(lift, n_padded).reshape(n_blocks, BLOCK, 2)
    lifted *= energy * level
    blocks += lifted
    del lifted

    noise_n = int(NOISE_LOOP_S * sample_rate)
    if style.air:
        sos = signal.butter(2, (1500.0, 7000.0), btype="bandpass", fs=sample_rate, output="sos")
        air = 0.05 * style.air * _noise_loop(noise_n, rng, sos)
        bed = _tile(air, n_padded, int(rng.integers(noise_n)))
        bed.reshape(n_blocks, BLOCK, 2)[:] *= 0.4 + 0.6 * energy
        out += bed
    if style.hiss:
        sos = signal.butter(
            1, (3000.0, min(12000.0, sample_rate * 0.45)), btype="bandpass", fs=sample_rate, output="sos"
        )
        out += _tile(0.02 * style.hiss * _noise_loop(noise_n, rng, sos), n_padded)
    out = out[:n]
    if style.crackle:
        out += _crackle(n, sample_rate, rng, style.crackle)
    if style.riser:
        for section in riser_targets(sections):
            length = int(round(min(2, section.start_bar) * bar_s * sample_rate))
            end = min(n, int(round(section.start_bar * bar_s * sample_rate)))
            start = max(0, end - length)
            out[start:end] += style.riser * _riser(end - start, sample_rate, rng)
    fade = min(n, int(bar_s * sample_rate))
    out[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None] ** 2
    tail = min(n, int(0.5 * bar_s * sample_rate))
    out[n - tail :] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)[:, None]
    return normalize_peak(out, TEXTURE_PEAK_DBFS)


class ProceduralTextureEngine(TextureEngine):
    """Always available: pure DSP, no model."""

    name = "procedural"

    def availability(self, config: EngineConfig | None = None) -> Availability:
        return Availability(True, "built in (numpy/scipy DSP)", "cpu")

    def generate(self, request: TextureRequest, cache: ModelCache | None = None) -> np.ndarray:
        return render_procedural_texture(request)

    def preload(self, cache: ModelCache) -> None:
        """Nothing to load."""
        return None
