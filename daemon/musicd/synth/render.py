"""The render stage: every track to its stem, on FluidSynth, a synth voice or a drum machine.

Tracks the plan gives a synth voice (synth/voices.py) and drums on a drum-machine kit
(synth/drum_machine.py) are rendered in numpy, in a thread beside FluidSynth, which plays the
rest with the resident SoundFont; the synthesized stems get their reverb send through a
convolution room (synth/reverb.py) as FluidSynth's carry its reverb return. All stems come back the same length (the longest, so no tail
is cut), so they still add up to the mix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

import numpy as np

from musicd.audio.dynamics import gated_rms_db
from musicd.music.profiles import MixProfile
from musicd.music.score import Score, Track
from musicd.music.theory import pitch_class
from musicd.synth.drum_machine import render_drums
from musicd.synth.kits import kit_named
from musicd.synth.reverb import room_reverb
from musicd.synth.voices import VOICES, render_track

log = logging.getLogger(__name__)

SYNTH_TAIL_S = 1.0  # room past the musical end for the synth voices' releases and echoes
TAIL_FLOOR = 10.0 ** (-80.0 / 20.0)
MIN_REVERB_SEND = 0.05  # sends below this (the bass's) are inaudible: no room for them
# The level (gated RMS, dBFS) each main role's stem enters the mix at, whatever plays it (a
# SoundFont program, a synth voice, a drum machine; the figures are what FluidR3's stems measured
# over the genre table's renders), so the genre's StemMix alone sets the balance: a drum machine
# no longer lands 15-25 dB above the SoundFont's parts, nor one SoundFont's quiet leads under
# another's loud kits.
ROLE_LEVEL_DB = {"drums": -35.0, "bass": -36.0, "chords": -38.0, "pads": -39.0, "melody": -36.0, "arp": -40.0}
DEFAULT_LEVEL_DB = -37.0


class StemRenderer(Protocol):
    sample_rate: int

    def render(
        self, score: Score, mix: MixProfile, progress: Callable[[float], None] | None = None
    ) -> dict[str, np.ndarray]: ...


def synthesized_tracks(score: Score, voices: Mapping[str, str], kit: str) -> dict[str, str]:
    """{track name: what plays it} for the tracks rendered here rather than on FluidSynth."""
    out: dict[str, str] = {}
    machine = kit_named(kit).synthesized
    for track in score.tracks:
        if track.is_drums and machine:
            out[track.name] = f"drum machine {kit}"
        elif not track.is_drums and voices.get(track.name) in VOICES:
            out[track.name] = f"synth voice {voices[track.name]}"
    return out


def _at_role_level(audio: np.ndarray, name: str, sample_rate: int, default_db: float | None) -> np.ndarray:
    """`audio` scaled to its role's gated RMS (ROLE_LEVEL_DB; `default_db` for other names, None:
    leave those as they are), so the genre's mix profile, not the instrument, sets the balance."""
    target = ROLE_LEVEL_DB.get(name, default_db)
    level = gated_rms_db(audio, sample_rate)
    if target is not None and np.isfinite(level):
        audio *= np.float32(10.0 ** ((target - level) / 20.0))
    return audio


def _synth_one(
    track: Track,
    score: Score,
    mix: MixProfile,
    voices: Mapping[str, str],
    kit: str,
    sample_rate: int,
    length: int,
    seed: int,
) -> np.ndarray:
    """One synthesized stem at its role's SoundFont level, with its reverb send through the
    genre's room, as FluidSynth's stems carry theirs."""
    if track.is_drums:
        tonic = pitch_class(score.key_tonic)
        audio = render_drums(track.notes, kit, score.tempo_bpm, sample_rate, length, tonic)
    else:
        rng = np.random.default_rng([seed, *track.name.encode()])
        audio = render_track(track, VOICES[voices[track.name]], score.tempo_bpm, sample_rate, length, rng)
    send = mix.stem(track.name).reverb_send
    if send >= MIN_REVERB_SEND:
        audio = room_reverb(np.ascontiguousarray(audio, dtype=np.float32), send, mix.reverb, sample_rate)
    # levelled with its room, as a SoundFont stem is with its reverb return
    return _at_role_level(audio, track.name, sample_rate, DEFAULT_LEVEL_DB)


def render_stems(
    renderer: StemRenderer,
    score: Score,
    mix: MixProfile,
    voices: Mapping[str, str],
    kit: str,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """{track name: float32 (n, 2)} in the score's track order, every stem the same length.

    `progress` gets the fraction of FluidSynth's part rendered (0..1); it may raise to stop.
    """
    sample_rate = renderer.sample_rate
    synth_names = synthesized_tracks(score, voices, kit)
    synth_tracks = [t for t in score.tracks if t.name in synth_names]
    fluid_tracks = tuple(t for t in score.tracks if t.name not in synth_names)
    synth_length = int(round((score.duration_s + SYNTH_TAIL_S) * sample_rate))
    started = time.perf_counter()

    def synthesize() -> dict[str, np.ndarray]:
        return {
            t.name: _synth_one(t, score, mix, voices, kit, sample_rate, synth_length, seed)
            for t in synth_tracks
        }

    if fluid_tracks:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voices") as pool:
            pending = pool.submit(synthesize) if synth_tracks else None
            rendered = renderer.render(replace(score, tracks=fluid_tracks), mix, progress)
            # SoundFonts differ in how loud each program plays (MuseScore General's leads sit
            # 3-4 dB under FluidR3's, its kits 2-3 dB over): the main roles enter at one level
            stems = {name: _at_role_level(audio, name, sample_rate, None) for name, audio in rendered.items()}
            synth = pending.result() if pending is not None else {}
        length = len(next(iter(stems.values())))
    else:
        stems, synth = {}, synthesize()
        length = 0
    if synth:
        # the synth stems' audible end past the musical end (their tails fade out within
        # SYNTH_TAIL_S); only the tail needs scanning
        end_sample = int(round(score.duration_s * sample_rate))
        loud = 0
        for audio in synth.values():
            hits = np.flatnonzero(np.abs(audio[end_sample:]).max(axis=1) >= TAIL_FLOOR)
            loud = max(loud, end_sample + int(hits[-1]) + 1 if hits.size else 0)
        target = max(length, min(synth_length, max(loud, end_sample)), 1)
        if target > length and stems:
            stems = {name: _fit(audio, target) for name, audio in stems.items()}
        for name, audio in synth.items():
            stems[name] = _fit(audio, target)
        log.debug(
            "synthesized %s in %.2f s (beside FluidSynth)",
            ", ".join(f"{n} ({w})" for n, w in synth_names.items()),
            time.perf_counter() - started,
        )
    return {t.name: stems[t.name] for t in score.tracks}


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """`audio` (n, 2) trimmed or zero-padded to `length`, keeping its memory layout (FluidSynth's
    stems are column-major views: copying them planar is a plain memcpy per channel)."""
    if len(audio) >= length:
        return audio[:length]
    if audio.strides[0] < audio.strides[1]:  # column-major
        planar = np.zeros((audio.shape[1], length), dtype=audio.dtype)
        planar[:, : len(audio)] = audio.T
        return planar.T
    out = np.zeros((length, audio.shape[1]), dtype=audio.dtype)
    out[: len(audio)] = audio
    return out
