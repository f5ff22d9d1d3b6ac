"""The plan stage: a job spec's genres and prompt words become tempo, key, form, parts and mix.

Everything random is drawn from the job seed; explicit tempo and key in the spec always win.
Every choice is recorded in `Plan.decisions` in plain words for the manifest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from musicd.music.compose.form import ENDING, fit_form, form_cost
from musicd.music.genres import ALIASES, GENRE_NAMES, GENRES, Genre, MelodyStyle, gm_program_name
from musicd.music.moods import MOODS, find_moods, prompt_words
from musicd.music.profiles import MixProfile, VideoProfile
from musicd.music.sections import Section
from musicd.music.theory import (
    mode_family,
    normalise_mode,
    parse_roman,
    pitch_class,
    prefers_flats,
    recase_roman,
    tonic_name,
)
from musicd.seeding import stage_rng
from musicd.synth.kits import kit_named

log = logging.getLogger(__name__)

DEFAULT_GENRE = "lofi"
PRIMARY_WEIGHT = 0.7  # share of the primary genre when two genres blend


class SpecLike(Protocol):
    """The JobSpec attributes the planner reads."""

    @property
    def prompt(self) -> str | None: ...
    @property
    def genres(self) -> tuple[str, ...]: ...
    @property
    def duration_s(self) -> float: ...
    @property
    def bpm(self) -> float | None: ...
    @property
    def key(self) -> Any: ...  # KeySpec(tonic, mode) | None


@dataclass(frozen=True)
class Plan:
    """Everything the composer and the later stages need to know about one song."""

    genres: tuple[str, ...]
    tempo_bpm: float
    key_tonic: str
    mode: str
    meter: tuple[int, int]
    swing: float
    form: tuple[Section, ...]
    progressions: tuple[tuple[str, ...], ...]  # per section, one entry per bar ("ii7 V7" splits)
    instruments: dict[str, int]  # role -> GM program (0-based)
    groove: str
    voicing: str
    comping: str
    bass_style: str
    melody: MelodyStyle
    mix: MixProfile
    video: VideoProfile
    moods: tuple[str, ...]
    seed: int
    requested_duration_s: float
    decisions: tuple[str, ...] = field(default=())
    kit: str = "standard"  # the drum kit (synth/kits.py): a drum machine or a SoundFont kit
    voices: dict[str, str] = field(default_factory=dict)  # role -> synth voice (synth/voices.py)

    @property
    def beats_per_bar(self) -> float:
        return self.meter[0] * 4.0 / self.meter[1]

    @property
    def bars(self) -> int:
        return self.form[-1].end_bar if self.form else 0

    @property
    def duration_s(self) -> float:
        """Length up to the last bar line."""
        return self.bars * self.beats_per_bar * 60.0 / self.tempo_bpm

    @property
    def primary(self) -> Genre:
        return GENRES[self.genres[0]]

    def bar_to_seconds(self, bar: float) -> float:
        return bar * self.beats_per_bar * 60.0 / self.tempo_bpm

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the manifest."""
        flats = prefers_flats(self.key_tonic, self.mode)
        tonic_pc = pitch_class(self.key_tonic)

        def chord_names(bars: Sequence[str]) -> list[str]:
            return [
                " ".join(parse_roman(s, tonic_pc, self.mode).name(flats) for s in b.split()) for b in bars
            ]

        return {
            "genres": list(self.genres),
            "tempo_bpm": round(self.tempo_bpm, 2),
            "key": f"{self.key_tonic} {self.mode}",
            "key_tonic": self.key_tonic,
            "mode": self.mode,
            "meter": f"{self.meter[0]}/{self.meter[1]}",
            "swing": self.swing,
            "groove": self.groove,
            "bars": self.bars,
            "duration_s": round(self.duration_s, 3),
            "requested_duration_s": self.requested_duration_s,
            "form": [
                {
                    "name": s.name,
                    "start_bar": s.start_bar,
                    "bars": s.bars,
                    "energy": s.energy,
                    "start_s": round(self.bar_to_seconds(s.start_bar), 3),
                    "progression": list(prog),
                    "chords": chord_names(prog),
                }
                for s, prog in zip(self.form, self.progressions)
            ],
            "instruments": {
                role: {"program": p, "name": gm_program_name(p)} for role, p in self.instruments.items()
            },
            "styles": {"voicing": self.voicing, "comping": self.comping, "bass": self.bass_style},
            "kit": kit_named(self.kit).to_dict(),
            "voices": dict(self.voices),
            "moods": list(self.moods),
            "seed": self.seed,
            "decisions": list(self.decisions),
        }


# --- genres -------------------------------------------------------------------------------

_GENRE_PHRASES: dict[str, str] = {**{n: n for n in GENRE_NAMES}, **ALIASES}


def infer_genres(prompt: str) -> tuple[tuple[str, ...], str]:
    """Genres named or suggested by prompt words, and why; (("lofi",), reason) if none."""
    words = prompt_words(prompt.replace("&", " & "))
    named: dict[str, tuple[int, str]] = {}
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            phrase = "-".join(words[i : i + size]).replace("-&-", "-&-")
            genre = _GENRE_PHRASES.get(phrase)
            if genre and genre not in named:
                named[genre] = (i, phrase)
    if named:
        ordered = sorted(named, key=lambda g: named[g][0])
        return tuple(ordered[:2]), "genre named in the prompt: " + ", ".join(
            f"'{named[g][1]}'" for g in ordered[:2]
        )
    scores: dict[str, int] = {}
    for word in words:
        for candidate in GENRES.values():
            if word in candidate.keywords:
                scores[candidate.name] = scores.get(candidate.name, 0) + 1
    if scores:
        best = sorted(scores, key=lambda g: (-scores[g], GENRE_NAMES.index(g)))[:2]
        hits = [w for w in words if w in GENRES[best[0]].keywords]
        return tuple(best), f"genre {best[0]} suggested by prompt word(s) {', '.join(hits)}"
    return (DEFAULT_GENRE,), f"no genre named or suggested by the prompt; default {DEFAULT_GENRE}"


# --- helpers ------------------------------------------------------------------------------


def _weighted_choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)
    values = np.array([max(weights[n], 0.0) for n in names], dtype=float)
    if values.sum() <= 0:
        return names[0]
    return names[int(rng.choice(len(names), p=values / values.sum()))]


def _blend(primary: dict[str, float], secondary: dict[str, float] | None) -> dict[str, float]:
    if not secondary:
        return dict(primary)
    out = {k: v * PRIMARY_WEIGHT for k, v in primary.items()}
    for k, v in secondary.items():
        out[k] = out.get(k, 0.0) + v * (1 - PRIMARY_WEIGHT)
    return out


def _pool(genre: Genre, mode: str) -> tuple[tuple[str, ...], ...]:
    """The genre's progressions for a mode, borrowing a same-family pool if needed."""
    if mode in genre.progressions:
        return genre.progressions[mode]
    family = mode_family(mode)
    if family in genre.progressions:
        return genre.progressions[family]
    same = [k for k in genre.progressions if mode_family(k) == family]
    source = genre.progressions[same[0] if same else next(iter(genre.progressions))]
    # re-spell for this mode: explicit dominants become diatonic sevenths
    return tuple(
        tuple(" ".join(s.replace("dom7", "7").replace("dom9", "9") for s in bar.split()) for bar in loop)
        for loop in source
    )


TEMPO_COST = 12.0  # form cost per unit of |log(tempo / desired)| (5% off ~ 0.6)
MAX_TEMPO_CANDIDATES = 9


def _tempo_and_bars(
    desired_bpm: float,
    lo: float,
    hi: float,
    duration_s: float,
    beats_per_bar: float,
    genre: Genre | None = None,
) -> tuple[float, int]:
    """A tempo near `desired_bpm` at which a whole number of bars lasts `duration_s`, chosen
    so that the genre's form fits those bars in phrase lengths."""
    exact_bars = duration_s * desired_bpm / 60.0 / beats_per_bar
    candidates = {max(1, math.floor(exact_bars)), max(1, math.ceil(exact_bars))}
    if genre is not None:
        low_bars = math.ceil(duration_s * lo / 60.0 / beats_per_bar)
        high_bars = math.floor(duration_s * hi / 60.0 / beats_per_bar)
        near = sorted(range(max(1, low_bars), high_bars + 1), key=lambda b: abs(b - exact_bars))
        candidates |= set(near[:MAX_TEMPO_CANDIDATES])

    def fitted(bars: int) -> float:
        return min(max(bars * beats_per_bar * 60.0 / duration_s, lo), hi)

    def cost(bars: int) -> tuple[float, float]:
        tempo = fitted(bars)
        # a tempo that no whole number of bars fits inside the range stays in the range: then
        # the song's length is what gives (by as little as possible)
        miss_s = abs(bars * beats_per_bar * 60.0 / tempo - duration_s)
        shape = form_cost(genre.form, genre.loop, bars, genre.phrase_bars) if genre else 0.0
        return (round(miss_s, 6), TEMPO_COST * abs(math.log(tempo / desired_bpm)) + shape)

    bars = min(sorted(candidates), key=cost)
    return round(fitted(bars), 3), bars


def _symbol_with_voicing(numeral: str, voicing: str, mode: str, tonic_pc: int) -> str:
    if mode == "blues":
        return numeral + "dom7"
    suffix = {"seventh": "7", "ninth": "9", "power": "5"}.get(voicing, "")
    return recase_roman(numeral + suffix, tonic_pc, mode)


def _cadence_symbol(genre: Genre, mode: str, tonic_pc: int) -> str:
    """The chord before the final tonic (the minor modes use VII for a major-key V)."""
    cad = genre.cadence
    numeral = cad.replace("dom7", "")
    if mode_family(mode) == "minor" and numeral.upper() == "V" and mode != "blues":
        numeral = "VII"
    if mode == "blues" and cad.endswith("dom7"):
        return cad
    return _symbol_with_voicing(numeral, genre.voicing, mode, tonic_pc)


# Fallback programs per role when every listed one is already taken by another role.
ROLE_FALLBACKS: dict[str, tuple[int, ...]] = {
    "bass": (33, 38, 32),
    "chords": (0, 4, 27),
    "melody": (73, 11, 80),
    "pads": (89, 88, 49, 91),
    "arp": (98, 46, 11),
}
ROLE_PRIORITY = ("bass", "chords", "melody", "pads", "arp")


def choose_instruments(
    primary: Genre,
    secondary: Genre | None,
    moods: Sequence[str],
    rng: np.random.Generator,
    decisions: list[str],
) -> dict[str, int]:
    """A GM program per role: the primary genre's instruments (its first choice most of the
    time), the secondary genre only filling a role the primary lacks, no program on two
    roles."""
    wanted: dict[str, tuple[int, ...]] = {}
    for role, options in primary.programs.items():
        if len(options) > 1 and rng.random() >= 0.65:
            pick = int(rng.integers(1, len(options)))
            options = (options[pick], *options[:pick], *options[pick + 1 :])
        wanted[role] = options
    if secondary:
        for role in ("pads", "arp"):
            if role in secondary.programs and role not in wanted:
                wanted[role] = secondary.programs[role]
                decisions.append(f"{role} from {secondary.name}")
    for m in moods:
        for role in MOODS[m].add_roles:
            if role not in wanted:
                wanted[role] = ROLE_FALLBACKS[role]
                decisions.append(f"{role} added for mood '{m}'")
    instruments: dict[str, int] = {}
    own = [r for r in ROLE_PRIORITY if r in primary.programs]
    for role in (*own, *(r for r in ROLE_PRIORITY if r in wanted and r not in own)):
        taken = set(instruments.values())
        choice = next(p for p in (*wanted[role], *ROLE_FALLBACKS[role]) if p not in taken)
        if choice != wanted[role][0]:
            decisions.append(
                f"{role} {gm_program_name(choice)} (not "
                f"{gm_program_name(wanted[role][0])}, already on another part)"
            )
        instruments[role] = choice
    return instruments


# --- the planner --------------------------------------------------------------------------


def make_plan(spec: SpecLike, seed: int) -> Plan:
    """Decide how the song will go; a pure function of the spec and the seed."""
    rng = stage_rng(seed, "plan")
    decisions: list[str] = []
    prompt = spec.prompt or ""

    genres = tuple(spec.genres or ())
    if genres:
        decisions.append(f"genres {', '.join(genres)} from the spec")
    else:
        genres, why = infer_genres(prompt)
        decisions.append(why)
    genres = tuple(dict.fromkeys(genres))
    primary = GENRES[genres[0]]
    secondary = GENRES[genres[1]] if len(genres) > 1 else None
    if secondary:
        decisions.append(f"{primary.name} leads; {secondary.name} blends in")

    moods = find_moods(prompt)
    if moods:
        decisions.append(f"moods from the prompt: {', '.join(moods)}")

    meter = primary.meter
    beats_per_bar = meter[0] * 4.0 / meter[1]

    # tempo
    lo, hi = primary.bpm_min, primary.bpm_max
    typical = primary.bpm_typical
    if secondary:
        if max(lo, secondary.bpm_min) <= min(hi, secondary.bpm_max):
            lo, hi = max(lo, secondary.bpm_min), min(hi, secondary.bpm_max)
        typical = PRIMARY_WEIGHT * typical + (1 - PRIMARY_WEIGHT) * secondary.bpm_typical
        typical = min(max(typical, lo), hi)
    if spec.bpm:
        tempo_bpm = float(spec.bpm)
        bars = max(1, round(spec.duration_s * tempo_bpm / 60.0 / beats_per_bar))
        decisions.append(f"tempo {tempo_bpm:g} bpm from the spec")
    else:
        desired = float(np.clip(typical + rng.normal(0.0, (hi - lo) / 8.0), lo, hi))
        factor = math.prod(MOODS[m].tempo_factor for m in moods)
        if factor != 1.0:  # moods move the tempo inside the genre's range, never out of it
            desired = float(np.clip(desired * factor, lo, hi))
            decisions.append(f"tempo x{factor:.2f} from mood {', '.join(moods)}")
        tempo_bpm, bars = _tempo_and_bars(desired, lo, hi, spec.duration_s, beats_per_bar, primary)
        decisions.append(
            f"tempo {tempo_bpm:.2f} bpm from the {primary.name} range {lo:g}-{hi:g} (fitted to whole bars)"
        )

    # key and mode
    if spec.key is not None and getattr(spec.key, "tonic", None):
        key_tonic = tonic_name(spec.key.tonic)
        decisions.append(f"tonic {key_tonic} from the spec")
    else:
        key_tonic = _weighted_choice(rng, _blend(primary.tonics, secondary.tonics if secondary else None))
        decisions.append(f"tonic {key_tonic} from the typical {primary.name} keys")
    spec_mode = getattr(spec.key, "mode", None) if spec.key is not None else None
    if spec_mode:
        mode = normalise_mode(spec_mode)
        if mode == "major" and "blues" in primary.modes:
            mode = "blues"  # the major key's frame with the blue notes: I7, IV7, V7 changes
            decisions.append(
                f"{key_tonic} major from the spec played as {key_tonic} blues "
                "(the major key with blue notes, for the 12-bar changes)"
            )
        else:
            decisions.append(f"mode {mode} from the spec")
    else:
        weights = _blend(primary.modes, secondary.modes if secondary else None)
        if primary.name != "blues":
            for floor_mode in ("major", "minor"):
                weights[floor_mode] = max(weights.get(floor_mode, 0.0), 0.05)
        for m in moods:
            for name, f in MOODS[m].mode_factors.items():
                if name in weights:
                    weights[name] *= f
        mode = _weighted_choice(rng, weights)
        why = f"mood '{moods[0]}'" if moods and MOODS[moods[0]].mode_factors else f"the {primary.name} modes"
        decisions.append(f"mode {mode} from {why}")
    tonic_pc = pitch_class(key_tonic)

    # form
    form = fit_form(primary.form, primary.loop, bars, primary.phrase_bars)
    shift = sum(MOODS[m].energy_shift for m in moods)
    if shift:
        form = tuple(
            Section(s.name, s.start_bar, s.bars, round(min(1.0, max(0.05, s.energy + shift)), 3))
            for s in form
        )
    decisions.append(f"form {'-'.join(s.name for s in form)} in {bars} bars for {spec.duration_s:g} s")

    # progressions
    pool = list(_pool(primary, mode))
    if secondary and secondary.progressions:
        extra = list(_pool(secondary, mode))
        if extra and rng.random() < 1 - PRIMARY_WEIGHT:
            pool.append(extra[int(rng.integers(len(extra)))])
            decisions.append(f"one progression borrowed from {secondary.name}")
    order = [int(i) for i in rng.permutation(len(pool))]
    chosen: dict[str, tuple[str, ...]] = {}
    for name in ("chorus", "verse", "bridge", "pre-chorus", "breakdown"):
        chosen[name] = pool[order[len(chosen) % len(order)]]
    chosen["drop"] = chosen["chorus"]
    chosen["build"] = chosen["pre-chorus"] if len(pool) > 3 else chosen["verse"]
    chosen["intro"] = chosen["verse"] if rng.random() < 0.5 else chosen["chorus"]
    chosen["outro"] = chosen["chorus"]
    if len(chosen["chorus"]) == 12:  # a blues keeps one set of 12-bar changes throughout
        chosen = {name: chosen["chorus"] for name in chosen}
    progressions: list[tuple[str, ...]] = []
    for index, section in enumerate(form):
        loop = [recase_roman_bar(b, tonic_pc, mode) for b in chosen.get(section.name, chosen["verse"])]
        bars_seq = harmonic_rhythm(loop, primary.bars_per_chord, section.bars)
        seq = [bars_seq[i % len(bars_seq)] for i in range(section.bars)]
        if len(loop) == 12 and section.bars < 12 and section.name in ("intro", "outro", ENDING):
            seq = bars_seq[12 - section.bars :]  # the turnaround: the changes' last bars
        if index == len(form) - 1:
            seq[-1] = _symbol_with_voicing("I", primary.voicing, mode, tonic_pc)
            if len(seq) >= 2:
                seq[-2] = _cadence_symbol(primary, mode, tonic_pc)
            elif progressions:  # a one-bar ending: the bar before it leads home
                progressions[-1] = (*progressions[-1][:-1], _cadence_symbol(primary, mode, tonic_pc))
        progressions.append(tuple(seq))
    decisions.append(
        f"progressions: chorus {' '.join(chosen['chorus'])}; "
        f"verse {' '.join(chosen['verse'])}; ends on the tonic"
    )

    # instruments
    instruments = choose_instruments(primary, secondary, moods, rng, decisions)
    instruments = {r: instruments[r] for r in ("bass", "chords", "melody", "pads", "arp") if r in instruments}
    swing = (
        primary.swing
        if not secondary
        else round(PRIMARY_WEIGHT * primary.swing + (1 - PRIMARY_WEIGHT) * secondary.swing, 3)
    )

    voices = {role: voice for role, voice in primary.voices.items() if role in instruments}
    if voices:
        decisions.append("synth voices: " + ", ".join(f"{role} {voice}" for role, voice in voices.items()))
    kit = kit_named(primary.kit)
    if primary.groove != "none":
        decisions.append(f"drums on the {kit.name} kit ({kit.description})")

    video = primary.video
    if secondary:
        video = VideoProfile(
            palette=(primary.video.palette[0], *primary.video.palette[1:3], secondary.video.palette[1]),
            default_style=primary.video.default_style,
        )
    plan = Plan(
        genres=genres,
        tempo_bpm=tempo_bpm,
        key_tonic=key_tonic,
        mode=mode,
        meter=meter,
        swing=swing,
        form=form,
        progressions=tuple(progressions),
        instruments=instruments,
        groove=primary.groove,
        voicing=primary.voicing,
        comping=primary.comping,
        bass_style=primary.bass_style,
        melody=primary.melody,
        mix=primary.mix,
        video=video,
        moods=moods,
        seed=seed,
        requested_duration_s=float(spec.duration_s),
        decisions=tuple(decisions),
        kit=kit.name,
        voices=voices,
    )
    log.debug("plan: %s", plan.decisions)
    return plan


def harmonic_rhythm(loop: Sequence[str], bars_per_chord: int, section_bars: int) -> list[str]:
    """The bars one pass of `loop` takes in a section of `section_bars`: each chord lasts
    `bars_per_chord` bars where the whole loop still fits, fewer where it would not, and a
    section shorter than the loop plays two (or more) chords a bar, so every chord of the
    progression sounds. A 12-bar form keeps its changes."""
    if len(loop) == 12 or not loop:
        return list(loop)
    per_chord = max(1, min(bars_per_chord, section_bars // len(loop)))
    if section_bars >= len(loop):
        return [b for b in loop for _ in range(per_chord)]
    # fewer bars than chords: share the chords out over the bars, in order
    chords = [c for b in loop for c in b.split()]
    edges = [round(i * len(chords) / section_bars) for i in range(section_bars + 1)]
    return [" ".join(chords[edges[i] : edges[i + 1]]) for i in range(section_bars)]


def recase_roman_bar(bar: str, tonic_pc: int, mode: str) -> str:
    """Each chord symbol of a bar re-cased for the mode it is played in."""
    return " ".join(recase_roman(s, tonic_pc, mode) for s in bar.split())
