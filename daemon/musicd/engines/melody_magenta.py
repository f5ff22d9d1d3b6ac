"""The Magenta melody engine: the melody RNN writes each section's line, fitted to the plan.

Per sung section, phrase by phrase (4 bars), the sidecar continues a primer: the first
phrase is primed with the opening bar of the rule-based motif, later phrases with the
section's own first bar (so phrases answer each other). The model thinks in C (it was
trained on tunes transposed there): the primer is moved into C's parent scale and the
answer back into the planned key. Then the line is fitted: onsets on the genre's rhythmic
grid inside the section's bars, pitches in the part's range (the octave nearest the note
before), every note in the scale, strong beats on chord tones, phrase ends held on a chord
tone. A section name that comes back (the chorus) gets the same line. One seed per phrase
comes from the job's seed, so the same spec and seed give the same notes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicd.engines.base import Availability
from musicd.engines.cache import ModelCache, ModelKey
from musicd.engines.magenta_sidecar import MagentaSidecar, SidecarCommand
from musicd.environment import MAGENTA_BUNDLE_ENV, MAGENTA_VENV_ENV
from musicd.music.compose.harmony import Context, swing_beat, swing_unit_beats, velocity
from musicd.music.compose.melody import SECTION_SHAPE, section_line, sings_in
from musicd.music.score import Note
from musicd.music.theory import nearest_pitch
from musicd.seeding import stage_rng

if TYPE_CHECKING:
    from musicd.music.plan import Plan

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]  # the checkout: daemon/musicd/engines/ -> ../../..
VENV_ENV = MAGENTA_VENV_ENV
BUNDLE_ENV = MAGENTA_BUNDLE_ENV
DEFAULT_VENV = ROOT / ".magenta-venv"
DEFAULT_BUNDLE = ROOT / "models" / "magenta" / "musicd_attention_rnn.mag"
SERVER = ROOT / "tools" / "magenta" / "sidecar_server.py"
SIZE_HINT_BYTES = 450 * 1024**2  # TensorFlow and the graph, before the RSS is measured
STEPS_PER_QUARTER = 4
PHRASE_BARS = 4
TEMPERATURE = 1.0
MODEL_LOW, MODEL_HIGH = 48, 84  # the range the model was trained on
MAX_LEAP = 9  # semitones: a wider leap is folded to the octave nearest the note before
_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})


@dataclass(frozen=True)
class MagentaPaths:
    """Where the Magenta env, the sidecar's server script and the bundle are."""

    venv: Path
    bundle: Path
    server: Path = SERVER

    @classmethod
    def discover(cls) -> MagentaPaths:
        """$MUSICD_MAGENTA_VENV / $MUSICD_MAGENTA_BUNDLE, else the checkout's own."""
        venv = Path(os.environ.get(VENV_ENV) or DEFAULT_VENV)
        bundle = Path(os.environ.get(BUNDLE_ENV) or DEFAULT_BUNDLE)
        return cls(venv=venv, bundle=bundle)

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def availability(self) -> Availability:
        """Usable when the env has magenta, and the server and the bundle exist (no process starts)."""
        if not self.python.exists():
            return Availability(False, f"no Magenta environment at {self.venv} (run `make magenta-env`)")
        if not list(self.venv.glob("lib/python3.8/site-packages/magenta/__init__.py")):
            return Availability(
                False, f"{self.venv} has no magenta for Python 3.8 (run `make magenta-env` again)"
            )
        if not self.server.exists():
            return Availability(False, f"the sidecar server {self.server} is missing")
        if not self.bundle.exists():
            return Availability(
                False, f"no melody bundle at {self.bundle} (run `make train-magenta` or set {BUNDLE_ENV})"
            )
        return Availability(True, f"magenta in {self.venv}, bundle {self.bundle.name}")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parent_major_offset(scale: frozenset[int]) -> int:
    """The semitones from C to the major scale that holds (most of) `scale`."""
    return max(range(12), key=lambda t: (len({(p + t) % 12 for p in _MAJOR} & scale), -t))


class MagentaMelodyEngine:
    """Writes the melody part through the Magenta sidecar held in `cache`."""

    name = "magenta"

    def __init__(
        self,
        cache: ModelCache,
        paths: MagentaPaths | None = None,
        *,
        temperature: float = TEMPERATURE,
        request_timeout_s: float = 60.0,
        fail_after: int = 0,
    ) -> None:
        self.cache = cache
        self.paths = paths or MagentaPaths.discover()
        self.temperature = temperature
        self.request_timeout_s = request_timeout_s
        self.fail_after = fail_after
        self.stats: dict[str, Any] = {}

    def availability(self) -> Availability:
        return self.paths.availability()

    @property
    def key(self) -> ModelKey:
        return ModelKey("magenta", str(self.paths.bundle), "cpu", "float32")

    def _launch(self) -> MagentaSidecar:
        command = SidecarCommand(
            self.paths.python, self.paths.server, self.paths.bundle, fail_after=self.fail_after
        )
        return MagentaSidecar.launch(command, request_timeout_s=self.request_timeout_s)

    def record(self) -> dict[str, Any]:
        """What the manifest says about the last melody written."""
        return {
            "bundle": self.paths.bundle.name,
            "bundle_sha256": file_sha256(self.paths.bundle),
            "temperature": self.temperature,
            "steps_per_quarter": STEPS_PER_QUARTER,
            **self.stats,
        }

    # ------------------------------------------------------------ the composer

    def write(self, ctx: Context, rng: np.random.Generator) -> tuple[Note, ...]:
        """The melody part (a PART_COMPOSERS-style composer); raises MagentaSidecarError."""
        hit = self.key in self.cache
        started = time.perf_counter()
        with self.cache.use(self.key, self._launch, SIZE_HINT_BYTES) as sidecar:
            restarts_before = sidecar.restarts
            writer = _Writer(ctx, sidecar, self.temperature)
            notes = writer.melody(rng)
            self.stats = {
                "steps": writer.steps,
                "requests": writer.requests,
                "cache_hit": hit,
                "load_s": 0.0 if hit else sidecar.load_s,
                "raw_in_key_share": round(writer.raw_in_key / max(writer.raw_notes, 1), 3),
                "sidecar_pid": sidecar.pid,
                "sidecar_restarts": sidecar.restarts - restarts_before,
                "sidecar_rss_mb": round(sidecar.resident_bytes() / 1e6, 1),
                "generate_s": round(time.perf_counter() - started - (0.0 if hit else sidecar.load_s), 3),
            }
        return notes


class _Writer:
    """One melody through one sidecar."""

    def __init__(self, ctx: Context, sidecar: MagentaSidecar, temperature: float) -> None:
        self.ctx = ctx
        self.plan: Plan = ctx.plan
        self.sidecar = sidecar
        self.temperature = temperature
        self.style = self.plan.melody
        self.low = self.style.center_pitch - self.style.range_semitones // 2
        self.high = self.low + self.style.range_semitones
        self.scale = ctx.scale_pitches(self.low, self.high)
        self.offset = parent_major_offset(ctx.scale)
        self.bar_beats = ctx.beats_per_bar
        self.bar_steps = int(round(self.bar_beats * STEPS_PER_QUARTER))
        self.grid = max(self.style.subdivision, 1.0 / STEPS_PER_QUARTER)
        self.steps = 0
        self.requests = 0
        self.raw_notes = 0  # notes the model wrote, and how many were in the key before fitting
        self.raw_in_key = 0

    def melody(self, rng: np.random.Generator) -> tuple[Note, ...]:
        plan, ctx = self.plan, self.ctx
        unit = swing_unit_beats(plan)
        lines: dict[str, tuple[int, list[tuple[float, float, int]]]] = {}  # name -> bars, relative line
        notes: list[Note] = []
        for index, section in enumerate(plan.form):
            bars = section.bars - (1 if index == len(plan.form) - 1 else 0)
            if not sings_in(section.name, self.style) or bars <= 0:
                continue
            start = ctx.section_start_beat(index)
            if section.name in lines and lines[section.name][0] >= bars:  # the chorus comes back
                end = bars * self.bar_beats
                line = [(b + start, min(n, end - b), p) for b, n, p in lines[section.name][1] if b < end]
            else:
                line = self._section(section.name, bars, section.energy, start)
                lines.setdefault(section.name, (bars, [(b - start, n, p) for b, n, p in line]))
            for beat, length, pitch in line:
                on_beat = abs(beat - round(beat)) < 1e-6
                notes.append(
                    Note(
                        round(swing_beat(beat, plan.swing, unit), 4),
                        round(length, 4),
                        pitch,
                        velocity(96, section.energy, 6 if on_beat else 0, float(rng.normal(0, 4))),
                    )
                )
        final_start = ctx.final_bar * ctx.beats_per_bar
        previous = notes[-1].pitch if notes else self.style.center_pitch
        tonic = nearest_pitch(ctx.tonic_pc, previous, self.low, self.high)
        notes.append(Note(final_start, ctx.beats_per_bar, tonic, velocity(90, plan.form[-1].energy)))
        return tuple(notes)

    # ------------------------------------------------------------ one section

    def _section(self, name: str, bars: int, energy: float, start: float) -> list[tuple[float, float, int]]:
        rule_line = section_line(self.ctx, name, bars, energy, start)
        primer = self._to_model(
            [(b - start, length, p) for b, length, p in rule_line if b < start + self.bar_beats]
        )
        _density, shift = SECTION_SHAPE.get(name, (0.7, 0))
        anchor = self.style.center_pitch + shift
        line: list[tuple[float, float, int]] = []
        first_phrase: list[tuple[int, int, int]] = []
        for phrase, phrase_bar in enumerate(range(0, bars, PHRASE_BARS)):
            phrase_len = min(PHRASE_BARS, bars - phrase_bar)
            seed = int(stage_rng(self.plan.seed, f"compose.melody.magenta.{name}.{phrase}").integers(2**31))
            prime = primer if phrase == 0 else [n for n in first_phrase if n[0] < self.bar_steps]
            total = phrase_len * self.bar_steps
            primed = min(self.bar_steps, total // 2)  # a one-bar phrase: half primer, half new
            raw = self.sidecar.generate(
                [(p, s, min(e, primed)) for s, e, p in prime if s < primed],
                total,
                seed=seed,
                temperature=self.temperature,
                primer_steps=primed,
                steps_per_quarter=STEPS_PER_QUARTER,
            )
            self.steps += total
            self.requests += 1
            generated = [(s, e, p) for p, s, e in raw]
            if phrase == 0:
                first_phrase = generated
            phrase_start = start + phrase_bar * self.bar_beats
            line += self._fit(
                generated, phrase_start, phrase_len, anchor, line[-1][2] if line else None, primed
            )
        return line

    def _to_model(self, notes: list[tuple[float, float, int]]) -> list[tuple[int, int, int]]:
        """(beat, length, pitch) in the key -> (start_step, end_step, pitch) in C, in the model's range."""
        out = []
        for beat, length, pitch in notes:
            p = pitch - self.offset
            while p < MODEL_LOW:
                p += 12
            while p > MODEL_HIGH:
                p -= 12
            s = int(round(beat * STEPS_PER_QUARTER))
            e = max(s + 1, int(round((beat + length) * STEPS_PER_QUARTER)))
            out.append((s, e, p))
        return out

    def _fit(
        self,
        generated: list[tuple[int, int, int]],
        phrase_start: float,
        phrase_bars: int,
        anchor: int,
        previous: int | None,
        primed_steps: int = 0,
    ) -> list[tuple[float, float, int]]:
        """Model notes (steps, in C) -> the phrase in the key, on the grid, range, scale and chords."""
        end = phrase_start + phrase_bars * self.bar_beats
        onsets: dict[float, int] = {}
        for s, _e, p in sorted(generated):
            beat = round(round(s / STEPS_PER_QUARTER / self.grid) * self.grid, 6)
            if beat < phrase_bars * self.bar_beats and beat not in onsets:
                onsets[beat] = p + self.offset
                if s >= primed_steps:  # the model's own notes, not the primer's
                    self.raw_notes += 1
                    self.raw_in_key += (p + self.offset) % 12 in self.ctx.scale
        if not onsets:
            return []
        # the phrase's register: its median moved to the section's anchor by whole octaves
        median = statistics.median(onsets.values())
        octave = 12 * round((anchor - median) / 12)
        beats = sorted(onsets)
        out: list[tuple[float, float, int]] = []
        pitch = previous
        for k, rel in enumerate(beats):
            beat = phrase_start + rel
            target = onsets[rel] + octave
            pitch = self._place(target, pitch)
            bar_pos = (rel % self.bar_beats) if self.bar_beats else 0.0
            strong = abs(bar_pos - round(bar_pos)) < 1e-9 and round(bar_pos) % 2 == 0
            if strong:
                pitch = self._chord_tone(pitch, beat)
            nxt = phrase_start + beats[k + 1] if k + 1 < len(beats) else end
            gap = nxt - beat
            length = max(min(self.grid * 0.9, gap), gap * self.style.legato)
            out.append((round(beat, 6), round(length, 4), pitch))
        # the phrase ends on a chord tone, held, with a breath before the next phrase
        last_beat, _length, last_pitch = out[-1]
        held = max(self.grid, end - last_beat - min(1.0, self.bar_beats / 4))
        out[-1] = (last_beat, round(held, 4), self._chord_tone(last_pitch, last_beat))
        return out

    def _place(self, target: int, previous: int | None) -> int:
        """`target` as a scale pitch in range: its own pitch class (else the nearest scale tone's),
        in its own octave unless that leaps more than MAX_LEAP from `previous`."""
        candidates = [p for p in self.scale if p % 12 == target % 12]
        if not candidates:
            nearest = min(self.scale, key=lambda p: (abs(p - target), p))
            candidates = [p for p in self.scale if p % 12 == nearest % 12]
        best = min(candidates, key=lambda p: (abs(p - target), p))
        if previous is not None and abs(best - previous) > MAX_LEAP:
            best = min(candidates, key=lambda p: (abs(p - previous), p))
        return best

    def _chord_tone(self, pitch: int, beat: float) -> int:
        tones = self.ctx.chord_at(beat).chord.tones
        options = [p for p in self.scale if p % 12 in tones]
        return min(options, key=lambda p: (abs(p - pitch), p)) if options else pitch
