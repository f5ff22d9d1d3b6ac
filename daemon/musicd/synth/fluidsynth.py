"""Render a Score to per-stem float32 audio with FluidSynth running in-process.

Every track gets its own MIDI channel, and FluidSynth is configured with one audio group and one
effects group (reverb + chorus unit) per channel, so `fluid_synth_process` writes each track's dry
signal and its own reverb and chorus returns into that track's stereo buffer. The stems therefore
sum exactly to the full synth mix, and each stem holds only its own instrument.

The synth is driven directly, without FluidSynth's sequencer or an audio driver: all note and
control events (controller changes, pitch bends) are sorted by sample time and audio is rendered
in the gaps between them. For speed the tracks are
shared out over a few synth instances (one SoundFont load each, done once when the renderer is
built) that render at the same time in threads; ctypes releases the GIL while FluidSynth works.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from ctypes import POINTER, c_char_p, c_double, c_int, c_void_p
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicd.errors import RenderError, ResourceMissingError
from musicd.music.profiles import MixProfile
from musicd.music.score import BEND_RANGE_SEMITONES, Score, Track
from musicd.synth.sf3 import loadable_soundfont
from musicd.synth.soundfonts import check_soundfont, soundfont_cache_dir

log = logging.getLogger(__name__)

FLUID_BUFSIZE = 64  # FluidSynth renders in blocks of this many samples
FLUID_FAILED = -1
CHANNEL_TYPE_MELODIC = 0
CHANNEL_TYPE_DRUM = 1
DRUM_BANK = 128
CC_VOLUME = 7
CC_PAN = 10
CC_EXPRESSION = 11
CC_REVERB_SEND = 91
CC_CHORUS_SEND = 93

DEFAULT_SYNTH_GAIN = 0.2
TAIL_FLOOR_DB = -80.0  # a release tail below this (dBFS) counts as silence
TAIL_CAP_S = 6.0  # never render more than this past the last event
TAIL_BLOCK = 2048  # samples rendered per step while waiting for the tail to die away
MAX_CHUNK = 16384  # longest single fluid_synth_process call (the size of the spare-output sink)
PROGRESS_BLOCK = 32768  # samples between progress ticks (~0.7 s of audio at 44.1 kHz)


_FluidLogFunction = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class _FluidApi:
    """ctypes prototypes for the parts of libfluidsynth that pyfluidsynth does not wrap."""

    def __init__(self) -> None:
        try:
            import fluidsynth  # pyfluidsynth; imports fail when libfluidsynth is missing
        except ImportError as exc:  # pragma: no cover - depends on the host
            raise ResourceMissingError(
                f"FluidSynth is not available ({exc}): install it with `apt-get install libfluidsynth3`."
            ) from exc
        self.module = fluidsynth
        lib = fluidsynth._fl

        def proto(name: str, restype: Any, *argtypes: Any) -> Any:
            if not hasattr(lib, name):
                raise ResourceMissingError(
                    f"libfluidsynth lacks {name}(); musicd needs FluidSynth 2.2 or newer "
                    "(Debian 12 ships 2.3: `apt-get install libfluidsynth3`)."
                )
            return ctypes.CFUNCTYPE(restype, *argtypes)((name, lib))

        synth, i, d = c_void_p, c_int, c_double
        self.version_str = proto("fluid_version_str", c_char_p)
        self.process = proto("fluid_synth_process", i, synth, i, i, POINTER(c_void_p), i, POINTER(c_void_p))
        self.noteon = proto("fluid_synth_noteon", i, synth, i, i, i)
        self.noteoff = proto("fluid_synth_noteoff", i, synth, i, i)
        self.cc = proto("fluid_synth_cc", i, synth, i, i, i)
        self.pitch_bend = proto("fluid_synth_pitch_bend", i, synth, i, i)
        self.pitch_wheel_sens = proto("fluid_synth_pitch_wheel_sens", i, synth, i, i)
        self.program_select = proto("fluid_synth_program_select", i, synth, i, i, i, i)
        self.set_channel_type = proto("fluid_synth_set_channel_type", i, synth, i, i)
        self.all_sounds_off = proto("fluid_synth_all_sounds_off", i, synth, i)
        self.reverb_on = proto("fluid_synth_reverb_on", i, synth, i, i)
        self.chorus_on = proto("fluid_synth_chorus_on", i, synth, i, i)
        self.set_reverb_roomsize = proto("fluid_synth_set_reverb_group_roomsize", i, synth, i, d)
        self.set_reverb_damp = proto("fluid_synth_set_reverb_group_damp", i, synth, i, d)
        self.set_reverb_width = proto("fluid_synth_set_reverb_group_width", i, synth, i, d)
        self.set_reverb_level = proto("fluid_synth_set_reverb_group_level", i, synth, i, d)
        self.set_chorus_level = proto("fluid_synth_set_chorus_group_level", i, synth, i, d)
        self.count_audio_groups = proto("fluid_synth_count_audio_groups", i, synth)
        self.count_effects_groups = proto("fluid_synth_count_effects_groups", i, synth)
        self.set_log_function = proto("fluid_set_log_function", c_void_p, i, _FluidLogFunction, c_void_p)
        self.get_sfont_by_id = proto("fluid_synth_get_sfont_by_id", c_void_p, synth, i)
        self.add_sfont = proto("fluid_synth_add_sfont", i, synth, c_void_p)
        self.remove_sfont = proto("fluid_synth_remove_sfont", i, synth, c_void_p)


_API: _FluidApi | None = None
_FLUID_LOG_LEVELS = {
    0: logging.CRITICAL,
    1: logging.ERROR,
    2: logging.DEBUG,
    3: logging.DEBUG,
    4: logging.DEBUG,
}


@_FluidLogFunction
def _fluid_log(level: int, message: bytes | None, _data: int | None) -> None:
    # FluidSynth's warnings are routine here (removing the shared SoundFont from a finished synth
    # leaves every channel without a preset), so they go to debug; errors stay errors.
    log.log(
        _FLUID_LOG_LEVELS.get(level, logging.DEBUG),
        "fluidsynth: %s",
        (message or b"").decode(errors="replace"),
    )


def _api() -> _FluidApi:
    global _API
    if _API is None:
        _API = _FluidApi()
        for level in _FLUID_LOG_LEVELS:
            _API.set_log_function(level, _fluid_log, None)
    return _API


def fluidsynth_version() -> str:
    """The version of the libfluidsynth in use, e.g. '2.3.1'."""
    return _api().version_str().decode()


@dataclass(frozen=True)
class _Part:
    """One track as one synth instance plays it: on `channel`, into output group `channel`."""

    track: Track
    channel: int
    reverb_send: float
    chorus_send: float


def _midi_value(fraction: float) -> int:
    return int(round(min(max(fraction, 0.0), 1.0) * 127))


def _track_cost(track: Track, tempo_bpm: float) -> float:
    """Rough CPU cost of a track: sounding note-seconds (with a release allowance) plus its effects."""
    seconds_per_beat = 60.0 / tempo_bpm
    sounding = sum(min(n.duration_beats * seconds_per_beat, 4.0) + 0.3 for n in track.notes)
    return sounding + (5.0 if track.notes else 0.0)


class _SynthUnit:
    """One copy of the SoundFont, loaded once, and a fresh synth around it for every render.

    A fresh synth per render (about 2 ms to build) makes renders independent: no voice, effects
    or controller state of one job can reach the next, and the same score renders bit-identically.
    """

    def __init__(
        self, api: _FluidApi, soundfont: Path, sample_rate: int, groups: int, gain: float, polyphony: int
    ) -> None:
        self.api = api
        self.groups = groups
        self.sample_rate = sample_rate
        self.gain = gain
        self.midi_channels = max(16, 16 * math.ceil(groups / 16))
        self.settings: dict[str, int] = {
            "synth.audio-groups": groups,
            "synth.audio-channels": groups,
            "synth.effects-groups": groups,
            "synth.cpu-cores": 1,
            "synth.polyphony": polyphony,
            "synth.reverb.active": 1,
            "synth.chorus.active": 1,
        }
        self.holder = api.module.Synth(gain=gain, samplerate=sample_rate, channels=16)
        if not self.holder.synth:
            raise RenderError("FluidSynth could not create a synthesizer; check the FluidSynth installation.")
        started = time.perf_counter()
        sfont_id = self.holder.sfload(str(soundfont))
        self.load_s = time.perf_counter() - started
        if sfont_id == FLUID_FAILED:
            self.holder.delete()
            self.holder = None
            raise ResourceMissingError(
                f"FluidSynth could not load the SoundFont {soundfont}: it is not a valid .sf2/.sf3 file. "
                "Point `soundfont:` in the daemon config (or MUSICD_SOUNDFONT) at a General MIDI SoundFont."
            )
        self.sfont = api.get_sfont_by_id(c_void_p(self.holder.synth), sfont_id)
        # Outputs of unused groups point here. No voice plays on them and their effects units are
        # off, so nothing is ever added to it; it is never read.
        self._sink = np.zeros(MAX_CHUNK, dtype=np.float32)
        self.ptr = c_void_p()
        self.sfont_id = FLUID_FAILED

    def close(self) -> None:
        if self.holder is not None:
            self.holder.delete()
            self.holder = None

    def _open_synth(self) -> Any:
        synth = self.api.module.Synth(
            gain=self.gain, samplerate=self.sample_rate, channels=self.midi_channels, **self.settings
        )
        if not synth.synth:
            raise RenderError("FluidSynth could not create a synthesizer; check the FluidSynth installation.")
        self.ptr = c_void_p(synth.synth)
        if (
            self.api.count_audio_groups(self.ptr) != self.groups
            or self.api.count_effects_groups(self.ptr) != self.groups
        ):
            synth.delete()
            raise RenderError(f"FluidSynth refused {self.groups} audio/effects groups; lower max_stems.")
        self.sfont_id = self.api.add_sfont(self.ptr, self.sfont)
        if self.sfont_id == FLUID_FAILED:
            synth.delete()
            raise RenderError("FluidSynth could not attach the loaded SoundFont to a synth.")
        return synth

    def _close_synth(self, synth: Any) -> None:
        self.api.all_sounds_off(self.ptr, -1)
        self.api.remove_sfont(self.ptr, self.sfont)  # it stays loaded in the holder synth
        synth.delete()
        self.ptr = c_void_p()

    def configure(self, parts: Sequence[_Part], mix: MixProfile) -> None:
        api, ptr = self.api, self.ptr
        reverb = mix.reverb
        api.set_reverb_roomsize(ptr, -1, float(reverb.room_size))
        api.set_reverb_damp(ptr, -1, float(reverb.damping))
        api.set_reverb_width(ptr, -1, float(reverb.width))
        api.set_reverb_level(ptr, -1, float(reverb.level))
        api.set_chorus_level(ptr, -1, float(mix.chorus_level))
        api.reverb_on(ptr, -1, 0)
        api.chorus_on(ptr, -1, 0)
        for part in parts:
            ch, track = part.channel, part.track
            drums = track.is_drums
            api.set_channel_type(ptr, ch, CHANNEL_TYPE_DRUM if drums else CHANNEL_TYPE_MELODIC)
            bank = DRUM_BANK if drums else 0
            if api.program_select(ptr, ch, self.sfont_id, bank, int(track.program)) == FLUID_FAILED:
                if api.program_select(ptr, ch, self.sfont_id, bank, 0) == FLUID_FAILED:
                    raise RenderError(
                        f"The SoundFont has no preset for track {track.name!r} (bank {bank}, program "
                        f"{track.program}); use a General MIDI SoundFont."
                    )
                log.warning("SoundFont lacks program %s for %s; using program 0", track.program, track.name)
            api.cc(ptr, ch, CC_VOLUME, 100)
            api.cc(ptr, ch, CC_EXPRESSION, 127)
            api.cc(ptr, ch, CC_PAN, 64)  # stems are panned in the mix
            api.cc(ptr, ch, CC_REVERB_SEND, _midi_value(part.reverb_send))
            api.cc(ptr, ch, CC_CHORUS_SEND, _midi_value(part.chorus_send))
            api.pitch_wheel_sens(ptr, ch, BEND_RANGE_SEMITONES)
            # Effects units run only where they are heard: each costs CPU every block.
            if track.notes and part.reverb_send > 0:
                api.reverb_on(ptr, ch, 1)
            if track.notes and part.chorus_send > 0:
                api.chorus_on(ptr, ch, 1)

    def _process(self, buf: np.ndarray, pos: int, count: int, n_parts: int) -> None:
        """Render `count` samples, adding them into buf[:, pos:pos+count] (one stereo pair per part)."""
        base, row_bytes = buf.ctypes.data, buf.strides[0]
        sink = self._sink.ctypes.data
        groups = self.groups
        out = (c_void_p * (2 * groups))()
        fx = (c_void_p * (4 * groups))()
        while count > 0:
            step = min(count, MAX_CHUNK)
            for g in range(groups):
                if g < n_parts:
                    left = base + 2 * g * row_bytes + 4 * pos
                    right = left + row_bytes
                else:
                    left = right = sink
                out[2 * g], out[2 * g + 1] = left, right
                # fx units: reverb L/R then chorus L/R, mixed straight into the part's own buffers
                fx[4 * g], fx[4 * g + 1], fx[4 * g + 2], fx[4 * g + 3] = left, right, left, right
            if self.api.process(self.ptr, step, 4 * groups, fx, 2 * groups, out) == FLUID_FAILED:
                raise RenderError("fluid_synth_process failed while rendering the score.")
            pos += step
            count -= step

    def render(
        self,
        parts: Sequence[_Part],
        mix: MixProfile,
        tempo_bpm: float,
        sample_rate: int,
        end_sample: int,
        tick: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Play `parts` into a planar float32 buffer (2 * len(parts), capacity), zero past the
        returned number of rendered samples; the capacity is the same for every unit. `tick` gets
        the samples rendered so far about every PROGRESS_BLOCK samples (it may raise to stop)."""
        synth = self._open_synth()
        try:
            return self._play(parts, mix, tempo_bpm, sample_rate, end_sample, tick)
        finally:
            self._close_synth(synth)

    def _play(
        self,
        parts: Sequence[_Part],
        mix: MixProfile,
        tempo_bpm: float,
        sample_rate: int,
        end_sample: int,
        tick: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, int]:
        self.configure(parts, mix)
        events = _events(parts, tempo_bpm, sample_rate)
        last_event = events[-1][0] if events else 0
        body = max(end_sample, last_event)
        cap = int(TAIL_CAP_S * sample_rate)
        buf = np.zeros((2 * len(parts), body + cap + TAIL_BLOCK), dtype=np.float32)  # pages fill lazily
        api, ptr, n_parts = self.api, self.ptr, len(parts)
        handlers = {
            EVENT_NOTE_OFF: lambda ch, key, _value: api.noteoff(ptr, ch, key),
            EVENT_CC: lambda ch, number, value: api.cc(ptr, ch, number, value),
            EVENT_BEND: lambda ch, _number, value: api.pitch_bend(ptr, ch, value + 8192),
            EVENT_NOTE_ON: lambda ch, key, velocity: api.noteon(ptr, ch, key, velocity),
        }
        pos = next_tick = 0
        for sample, kind, _order, channel, number, value in events:
            if sample > pos:
                self._process(buf, pos, sample - pos, n_parts)
                pos = sample
                if tick is not None and pos >= next_tick:
                    tick(pos)
                    next_tick = pos + PROGRESS_BLOCK
            handlers[kind](channel, number, value)
        if body > pos:
            self._process(buf, pos, body - pos, n_parts)
            pos = body
        floor = 10.0 ** (TAIL_FLOOR_DB / 20.0)
        tail_end = last_event + cap
        while pos < tail_end:
            self._process(buf, pos, TAIL_BLOCK, n_parts)
            block_peak = float(np.abs(buf[:, pos : pos + TAIL_BLOCK]).max()) if n_parts else 0.0
            pos += TAIL_BLOCK
            if block_peak < floor:
                break
        return buf, pos


# Event kinds, in the order they are applied when they fall on the same sample: a note ends,
# then the controls change, then new notes start (so they begin with the new bend and level).
EVENT_NOTE_OFF, EVENT_CC, EVENT_BEND, EVENT_NOTE_ON = 0, 1, 2, 3
_CONTROL_EVENT = {"cc": EVENT_CC, "bend": EVENT_BEND}


def _events(
    parts: Sequence[_Part], tempo_bpm: float, sample_rate: int
) -> list[tuple[int, int, int, int, int, int]]:
    """(sample, kind, order, channel, key or controller, velocity or value), time-ordered; controls
    on one sample keep their order in the track."""
    samples_per_beat = sample_rate * 60.0 / tempo_bpm
    events: list[tuple[int, int, int, int, int, int]] = []
    append = events.append
    for part in parts:
        ch = part.channel
        for note in part.track.notes:
            if note.velocity <= 0 or not 0 <= note.pitch <= 127:
                continue
            on = max(0, int(round(note.start_beat * samples_per_beat)))
            off = max(on + 1, int(round((note.start_beat + note.duration_beats) * samples_per_beat)))
            append((on, EVENT_NOTE_ON, 0, ch, note.pitch, min(note.velocity, 127)))
            append((off, EVENT_NOTE_OFF, 0, ch, note.pitch, 0))
        for order, control in enumerate(part.track.controls):
            at = max(0, int(round(control.beat * samples_per_beat)))
            append((at, _CONTROL_EVENT[control.kind], order, ch, control.number, control.value))
    events.sort()
    return events


class FluidRenderer:
    """A resident FluidSynth renderer: the SoundFont is loaded once, then used for many scores.

    `threads` synth instances render at the same time (each with `ceil(max_stems / threads)` stem
    outputs); a score with more tracks than that gets another instance on first use. By default
    two for .sf2 files on a multi-core machine, one for .sf3 (each instance decodes its own copy).
    """

    def __init__(
        self,
        soundfont: Path,
        sample_rate: int = 44100,
        *,
        max_stems: int = 8,
        threads: int | None = None,
        synth_gain: float = DEFAULT_SYNTH_GAIN,
        polyphony: int = 256,
        cache_dir: Path | None = None,
    ) -> None:
        self.soundfont = check_soundfont(Path(soundfont))
        # An .sf3 is loaded from its decoded .sf2 copy in `cache_dir` (decoded on first use).
        self.loaded_from = loadable_soundfont(self.soundfont, cache_dir or soundfont_cache_dir())
        self.sample_rate = int(sample_rate)
        if threads is None:
            # Each synth instance holds its own copy of the samples: cheap for an .sf2 (0.2-0.8 s),
            # not for an .sf3 that FluidSynth decodes itself (MuseScore General: ~600 MB, 5-9 s).
            threads = 1 if self.loaded_from.suffix.lower() == ".sf3" else min(2, os.cpu_count() or 1)
        self.threads = max(1, threads)
        self.groups_per_synth = max(1, math.ceil(max_stems / self.threads))
        self._synth_gain = synth_gain
        self._polyphony = polyphony
        self._api = _api()
        self.fluidsynth_version = self._api.version_str().decode()
        self.soundfont_loads = 0
        self.load_s = 0.0
        self._units: list[_SynthUnit] = []
        loaded = False
        try:
            for _ in range(self.threads):
                self._add_unit()
            loaded = True
        finally:
            if not loaded:  # free the copies already loaded before the failure
                for unit in self._units:
                    unit.close()
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="fluid")
        self._lock = threading.Lock()  # one render at a time: the synth units are shared
        log.info(
            "FluidSynth %s: loaded %s into %d synth(s) in %.2f s",
            self.fluidsynth_version,
            self.loaded_from,
            len(self._units),
            self.load_s,
        )

    def _add_unit(self) -> _SynthUnit:
        unit = _SynthUnit(
            self._api,
            self.loaded_from,
            self.sample_rate,
            self.groups_per_synth,
            self._synth_gain,
            self._polyphony,
        )
        self._units.append(unit)
        self.soundfont_loads += 1
        self.load_s += unit.load_s
        return unit

    @property
    def soundfont_name(self) -> str:
        return self.soundfont.stem

    @property
    def manifest_info(self) -> dict[str, Any]:
        """What the manifest records about the synth."""
        return {
            "engine": "fluidsynth",
            "fluidsynth_version": self.fluidsynth_version,
            "soundfont": str(self.soundfont),
            "soundfont_name": self.soundfont_name,
            "soundfont_loaded_from": str(self.loaded_from),
            "soundfont_load_s": round(self.load_s, 3),
            "synth_instances": len(self._units),
            "sample_rate": self.sample_rate,
        }

    def close(self) -> None:
        """Free the synths (and their SoundFont copies)."""
        self._pool.shutdown(wait=True)
        for unit in self._units:
            unit.close()
        self._units.clear()

    def __enter__(self) -> FluidRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _assign(self, score: Score, mix: MixProfile) -> list[list[_Part]]:
        """Share the tracks out over the synth instances, heaviest first onto the least loaded."""
        names = [t.name for t in score.tracks]
        if len(set(names)) != len(names):
            raise RenderError(f"Track names must be unique (they name the stems): {names}")
        needed = math.ceil(len(score.tracks) / self.groups_per_synth)
        while len(self._units) < needed:
            log.warning("score has %d tracks: loading the SoundFont into another synth", len(score.tracks))
            self._add_unit()
        plans: list[list[_Part]] = [[] for _ in self._units]
        loads = [0.0] * len(self._units)
        ranked = sorted(score.tracks, key=lambda t: -_track_cost(t, score.tempo_bpm))
        for track in ranked:
            candidates = [i for i, plan in enumerate(plans) if len(plan) < self.groups_per_synth]
            unit = min(candidates, key=lambda i: loads[i])
            stem = mix.stem(track.name)
            plans[unit].append(_Part(track, len(plans[unit]), stem.reverb_send, stem.chorus_send))
            loads[unit] += _track_cost(track, score.tempo_bpm)
        return plans

    def render(
        self, score: Score, mix: MixProfile, progress: Callable[[float], None] | None = None
    ) -> dict[str, np.ndarray]:
        """Render every track of `score`; returns {track name: float32 (n, 2)}, all the same length
        (column-major views of the synth's output buffers, so no copy is made).

        The stems sum to the full synth mix. Release tails ring past the score's end until they fall
        below -80 dBFS (at most 6 s past the last note); trailing silence beyond that is trimmed.
        `progress` gets the fraction of the score rendered (0..1) from the synth threads, about
        every PROGRESS_BLOCK samples; an exception it raises stops the render and is re-raised.
        """
        if not score.tracks:
            raise RenderError("The score has no tracks to render.")
        if score.tempo_bpm <= 0:
            raise RenderError(f"Invalid tempo {score.tempo_bpm} bpm; it must be positive.")
        with self._lock:
            return self._render(score, mix, progress)

    def _render(
        self, score: Score, mix: MixProfile, progress: Callable[[float], None] | None = None
    ) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        plans = self._assign(score, mix)
        end_sample = int(round(score.duration_s * self.sample_rate))
        jobs = [(unit, parts) for unit, parts in zip(self._units, plans) if parts]

        done = [0] * len(jobs)  # samples each unit has rendered, for `progress`

        def play(index: int) -> tuple[np.ndarray, int]:
            unit, parts = jobs[index]

            def tick(pos: int) -> None:
                done[index] = min(pos, end_sample)
                assert progress is not None
                progress(sum(done) / max(1, end_sample * len(jobs)))

            return unit.render(
                parts, mix, score.tempo_bpm, self.sample_rate, end_sample, tick if progress else None
            )

        if len(jobs) == 1:
            outputs = [play(0)]
        else:
            # every unit is waited for, also when one fails: the next render reuses them all
            futures = [self._pool.submit(play, index) for index in range(len(jobs))]
            wait(futures)
            outputs = [future.result() for future in futures]
        length = _audible_length([planar[:, :rendered] for planar, rendered in outputs], end_sample)
        stems: dict[str, np.ndarray] = {}
        for (_, parts), (planar, _rendered) in zip(jobs, outputs):
            for part in parts:
                # (n, 2) views of the planar buffer (column-major): copying would cost more
                # than the mix stage's whole EQ. Beyond what a unit rendered its buffer is zeros.
                stems[part.track.name] = planar[2 * part.channel : 2 * part.channel + 2, :length].T
        elapsed = time.perf_counter() - started
        log.info(
            "rendered %d stems, %.1f s of audio in %.2f s (%.0fx real time)",
            len(stems),
            length / self.sample_rate,
            elapsed,
            length / self.sample_rate / max(elapsed, 1e-9),
        )
        return {t.name: stems[t.name] for t in score.tracks}


def _audible_length(outputs: Sequence[np.ndarray], end_sample: int) -> int:
    """Samples up to the last one above the tail floor, but never shorter than the musical end."""
    floor = 10.0 ** (TAIL_FLOOR_DB / 20.0)
    last = 0
    for planar in outputs:
        if planar.shape[1] <= end_sample:
            continue
        tail_peak = np.abs(planar[:, end_sample:]).max(axis=0)
        loud = np.flatnonzero(tail_peak >= floor)
        if loud.size:
            last = max(last, end_sample + int(loud[-1]) + 1)
    return max(end_sample, last, 1)
