"""Per-genre mix and video profiles: plain data the planner picks and the mix/video stages obey."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StemMix:
    """How one stem sits in the mix."""

    gain_db: float = 0.0
    pan: float = 0.0  # -1 hard left .. +1 hard right
    highpass_hz: float = 0.0  # 0 = off
    lowpass_hz: float = 0.0  # 0 = off
    low_shelf_db: float = 0.0  # shelf at 200 Hz
    high_shelf_db: float = 0.0  # shelf at 6 kHz
    reverb_send: float = 0.15  # 0..1, sent as MIDI CC91 to FluidSynth's reverb
    chorus_send: float = 0.0  # 0..1, sent as MIDI CC93 to FluidSynth's chorus
    duck_db: float = 0.0  # sidechain gain reduction from the kick (0 = none)


@dataclass(frozen=True)
class ReverbProfile:
    """FluidSynth reverb unit settings (0..1 each)."""

    room_size: float = 0.5
    damping: float = 0.4
    width: float = 0.8
    level: float = 0.6


@dataclass(frozen=True)
class MixProfile:
    """Stem settings plus the shared effects of one genre."""

    stems: dict[str, StemMix] = field(default_factory=dict)
    reverb: ReverbProfile = ReverbProfile()
    chorus_level: float = 0.8  # FluidSynth's default (2.0) is far too loud
    duck_release_ms: float = 120.0
    # Transient control: a look-ahead peak compressor on these stems (after their EQ), so a few
    # loud hits do not set the master limiter's work. The threshold is in dB above the stem's
    # own gated RMS level (a crest-factor ceiling); ratio 1 turns it off.
    transient_stems: tuple[str, ...] = ("drums",)
    transient_threshold_db: float = 13.0
    transient_ratio: float = 3.0
    transient_knee_db: float = 6.0
    transient_attack_ms: float = 1.0
    transient_release_ms: float = 60.0
    # Glue: a bus compressor on the summed mix before mastering. The threshold is in dB above the
    # mix's gated RMS level; ratio 1 turns it off.
    glue_threshold_db: float = 10.0
    glue_ratio: float = 2.0
    glue_knee_db: float = 6.0
    glue_attack_ms: float = 20.0
    glue_release_ms: float = 150.0
    glue_auto_release_ms: float = 1000.0  # slower release after sustained compression (0 = off)
    # Bus EQ: a first-order low shelf and high shelf, (corner Hz, dB) each (0 dB = none), added to
    # every instrument stem's EQ, so the stems sum to the equalised bus.
    bus_low_shelf: tuple[float, float] = (0.0, 0.0)
    bus_high_shelf: tuple[float, float] = (0.0, 0.0)

    def stem(self, name: str) -> StemMix:
        return self.stems.get(name, StemMix())


@dataclass(frozen=True)
class VideoProfile:
    """Colours for the visualizer and cover: background first, then accents (#RRGGBB)."""

    palette: tuple[str, ...] = ("#101018", "#f0a050", "#50a0f0")
    default_style: str = "spectrum"
