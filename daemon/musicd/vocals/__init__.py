"""Vocals: lyrics -> syllables on a vocal melody -> sung audio, timed lyrics and a vocal stem.

The pipeline calls `sing(...)` once per job and gets a VocalResult: the "vocals" track for
score.mid, the processed stem at the song's exact length, LRC/SRT text and the engine record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from musicd.engines.base import Singer
from musicd.engines.registry import SINGER_NAMES, make_singer
from musicd.engines.settings import EngineConfig
from musicd.errors import ModelOutOfMemoryError, MusicdError, ResourceMissingError
from musicd.music.score import Track
from musicd.seeding import stage_rng
from musicd.vocals.backing import backed_lines, chorus_voices, harmony_line, make_doubles
from musicd.vocals.bus import BackingVoice, process_vocal_bus
from musicd.vocals.melody import (
    ChordTime,
    LyricsTooLongError,
    SungNote,
    VocalLine,
    duck_lead,
    vocal_line,
)
from musicd.vocals.timing_files import lrc_text, srt_text, write_lrc, write_srt

if TYPE_CHECKING:
    from musicd.engines.cache import ModelCache, ModelUse
    from musicd.music.plan import Plan

log = logging.getLogger(__name__)

__all__ = [
    "ChordTime",
    "LyricsTooLongError",
    "SingerChoice",
    "SungNote",
    "VocalLine",
    "VocalResult",
    "choose_singer",
    "chords_from_plan",
    "duck_lead",
    "plan_vocal_line",
    "sing",
    "vocal_line",
    "write_lrc",
    "write_srt",
]


@dataclass(frozen=True)
class VocalResult:
    """What the vocals stage hands back; `audio` is None when nothing is sung."""

    track: Track | None  # "vocals" with lyric events, for score.mid
    vocal: VocalLine
    audio: np.ndarray | None  # float32 (n_samples, 2): the processed stem
    lrc_text: str
    srt_text: str
    engine_asked: str
    engine_used: str  # a singer's name, or none
    reason: str
    timings_s: dict[str, float] = field(default_factory=dict)
    models: tuple[dict[str, Any], ...] = ()  # model cache uses (ModelUse.to_dict())
    singers: tuple[dict[str, Any], ...] = ()  # per language: singer, voice, licence, reason
    backing: tuple[dict[str, Any], ...] = ()  # chorus doubles and harmonies added

    def record(self) -> dict[str, Any]:
        """The manifest entry: asked, used, why, and what was sung."""
        return {
            "asked": self.engine_asked,
            "used": self.engine_used,
            "reason": self.reason,
            "voice": self.vocal.voice if not self.vocal.is_empty else None,
            "lines": len(self.vocal.lines),
            "syllables": sum(1 for n in self.vocal.notes if not n.continuation),
            "languages": sorted({line.language for line in self.vocal.lines}),
            "timings_s": dict(self.timings_s),
            "models": [dict(m) for m in self.models],
            "singers": [dict(s) for s in self.singers],
            "backing": [dict(b) for b in self.backing],
        }


class SingerChoice(NamedTuple):
    """The singer to run (None: nobody can sing here), the name that runs, and why."""

    singer: Singer | None
    used: str
    reason: str


def chords_from_plan(plan: Plan) -> list[ChordTime]:
    """The plan's chords as timed pitch-class sets (the same spans the composer uses)."""
    from musicd.music.compose.harmony import make_context

    return [ChordTime(s.start_beat, s.duration_beats, tuple(s.chord.tones)) for s in make_context(plan).spans]


def plan_vocal_line(
    lyrics: str | None, languages: Sequence[str], voice: str, plan: Plan, seed: int
) -> VocalLine:
    """The vocal melody of `lyrics` over the plan's form and chords (vocal_line, for a plan)."""
    return vocal_line(
        lyrics,
        languages,
        plan.form,
        plan.tempo_bpm,
        plan.meter,
        plan.key_tonic,
        plan.mode,
        chords_from_plan(plan),
        voice,
        stage_rng(seed, "vocals"),
    )


def sing(
    lyrics: str | None,
    languages: Sequence[str],
    voice: str,
    engine: str,
    plan: Plan,
    sample_rate: int,
    n_samples: int,
    seed: int,
    *,
    config: EngineConfig | None = None,
    cache: ModelCache | None = None,
) -> VocalResult:
    """Sing `lyrics` over the planned song: the one entry point of the vocals stage.

    `engine` is auto, none or a singer's name (musicd.engines.registry.SINGER_NAMES); `config`
    holds the singers' settings (models.coqui) and `cache` their models. The stem is exactly
    `n_samples` long. Raises LyricsTooLongError when the lyrics cannot fit. A singer that is
    unusable, or whose model fails to load or runs out of memory, falls back to the singers
    after it in the registry (coqui -> espeak -> none) and the result says why.
    """
    timings: dict[str, float] = {}
    languages = tuple(languages) or ("en",)
    if engine not in ("auto", "none", *SINGER_NAMES):
        raise MusicdError(
            f"unknown vocal engine {engine!r}; use one of auto, {', '.join(SINGER_NAMES)}, none"
        )
    empty = VocalLine((), (), (), plan.tempo_bpm, voice)
    if not (lyrics or "").strip() or engine == "none":
        why = "vocals.engine is none" if engine == "none" else "the spec has no lyrics"
        return VocalResult(None, empty, None, "", "", engine, "none", why, timings)
    started = time.perf_counter()
    vocal = plan_vocal_line(lyrics, languages, voice, plan, seed)
    timings["melody"] = round(time.perf_counter() - started, 3)
    lrc, srt = lrc_text(vocal), srt_text(vocal)
    if vocal.is_empty:
        return VocalResult(
            None, vocal, None, lrc, srt, engine, "none", "the lyrics hold no singable words", timings
        )
    config = config or EngineConfig()
    languages_sung = list(dict.fromkeys(line.language for line in vocal.lines))
    choices = {lang: choose_singer(engine, config, cache, lang) for lang in languages_sung}
    if all(choice.singer is None for choice in choices.values()):
        reason = "; ".join(dict.fromkeys(choice.reason for choice in choices.values()))
        return VocalResult(vocal.to_track(), vocal, None, lrc, srt, engine, "none", reason, timings)
    started = time.perf_counter()
    dry = np.zeros(n_samples, np.float32)
    records: list[dict[str, Any]] = []
    names: list[str] = []
    sung_by: list[tuple[Singer, list[str]]] = []  # who sang which languages, after fallbacks
    with _recording(cache) as models:
        for name in dict.fromkeys(c.used for c in choices.values() if c.singer is not None):
            group = [lang for lang, c in choices.items() if c.used == name]
            singer = choices[group[0]].singer
            assert singer is not None
            part = _lines_in(vocal, group)
            try:
                if n_samples > 0:  # a stem of no length (a placeholder result) needs no singing
                    dry += singer.sing(part, sample_rate, n_samples)
            except (ResourceMissingError, ModelOutOfMemoryError) as error:
                log.warning("%s could not sing (%s); falling back", name, error)
                later = SINGER_NAMES[SINGER_NAMES.index(name) + 1 :]
                if not later:
                    raise
                fallback, _why, problems = _first_usable(later, config, cache, group[0])
                why = f"{choices[group[0]].reason}, but it failed ({error}); " + (
                    f"fell back to {fallback.label}" if fallback is not None else "; ".join(problems)
                )
                for lang in group:
                    choices[lang] = SingerChoice(fallback, fallback.name if fallback else "none", why)
                if fallback is None:
                    continue
                singer = fallback
                dry += fallback.sing(part, sample_rate, n_samples)
            names.append(singer.name)
            sung_by.append((singer, group))
    for lang, choice in choices.items():
        voice_name, licence = (
            choice.singer.voice_for(lang, vocal.voice) if choice.singer is not None else (None, "")
        )
        records.append(
            {
                "language": lang,
                "singer": choice.used,
                "voice": voice_name,
                "licence": licence,
                "reason": choice.reason,
            }
        )
    used = "+".join(dict.fromkeys(names)) or "none"
    reasons = list(dict.fromkeys(choice.reason for choice in choices.values()))
    reason = (
        reasons[0]
        if len(reasons) == 1
        else "; ".join(f"{lang}: {choice.used} ({choice.reason})" for lang, choice in choices.items())
    )
    if used == "none":
        return VocalResult(vocal.to_track(), vocal, None, lrc, srt, engine, "none", reason, timings)
    timings["singing"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    # (the harmonies reuse the lead's loaded models; `models` lists the lead's uses only)
    backing, backing_records = _chorus_backing(dry, vocal, plan, sung_by, sample_rate, seed)
    if backing_records:
        timings["backing"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    stem = process_vocal_bus(
        dry, sample_rate, plan.genres, plan.tempo_bpm, singer=sung_by[0][0].name, backing=backing
    )
    timings["bus"] = round(time.perf_counter() - started, 3)
    log.info("sang %d lines with %s in %.2f s", len(vocal.lines), used, sum(timings.values()))
    return VocalResult(
        vocal.to_track(),
        vocal,
        stem,
        lrc,
        srt,
        engine,
        used,
        reason,
        timings,
        tuple(use.to_dict() for use in models),
        tuple(records),
        tuple(backing_records),
    )


def _chorus_backing(
    dry: np.ndarray,
    vocal: VocalLine,
    plan: Plan,
    sung_by: Sequence[tuple[Singer, list[str]]],
    sample_rate: int,
    seed: int,
) -> tuple[list[BackingVoice], list[dict[str, Any]]]:
    """The genre's chorus doubles and harmonies (none for most genres, or without a chorus)
    and what was added, for the manifest. Harmonies are sung by the singers that sang the lead."""
    voices = chorus_voices(plan.genres)
    if voices is None or not backed_lines(vocal) or not np.any(dry):
        return [], []
    rng = stage_rng(seed, "vocal-backing")
    parts, records = make_doubles(dry, vocal, sample_rate, voices, rng)
    chords = chords_from_plan(plan)
    for direction, pan, gain_db in voices.harmonies:
        line = harmony_line(vocal, chords, plan.key_tonic, plan.mode, direction)
        take = np.zeros(len(dry), np.float32)
        try:
            for singer, group in sung_by:
                take += singer.sing(_lines_in(line, group), sample_rate, len(dry))
        except (ResourceMissingError, ModelOutOfMemoryError) as error:
            log.warning("the %s harmony was not sung (%s)", direction, error)
            continue
        parts.append(BackingVoice(take, pan, gain_db))
        moved = [b.note.pitch - a.note.pitch for a, b in zip(_chorus_notes(vocal), line.notes)]
        records.append(
            {
                "part": f"harmony {direction}",
                "sections": sorted({vocal.lines[i].section for i in backed_lines(vocal)}),
                "notes": len(line.notes),
                "intervals": {str(k): moved.count(k) for k in sorted(set(moved))},
                "pan": pan,
                "gain_db": gain_db,
                "singer": "+".join(singer.name for singer, _ in sung_by),
            }
        )
    return parts, records


def _chorus_notes(vocal: VocalLine) -> list[SungNote]:
    chorus = set(backed_lines(vocal))
    return [n for n in vocal.notes if n.line_index in chorus]


def _lines_in(vocal: VocalLine, languages: Sequence[str]) -> VocalLine:
    """The vocal line with only the notes of lines in `languages` (lines and words stay whole)."""
    if all(line.language in languages for line in vocal.lines):
        return vocal
    keep = {i for i, line in enumerate(vocal.lines) if line.language in languages}
    notes = tuple(n for n in vocal.notes if n.line_index in keep)
    return VocalLine(notes, vocal.lines, vocal.words, vocal.tempo_bpm, vocal.voice)


def choose_singer(
    asked: str, config: EngineConfig, cache: ModelCache | None = None, language: str | None = None
) -> SingerChoice:
    """Resolve `vocals.engine` (auto or a singer's name) to a singer, for `language` if given.

    `auto` takes the first singer of the registry (best first) that is usable and sings the
    language, and says why it suits; a singer asked for by name runs when it can, else the first
    one after it that can, with the reason.
    """
    if asked == "auto":
        singer, why, problems = _first_usable(SINGER_NAMES, config, cache, language)
        if singer is None:
            return SingerChoice(None, "none", "; ".join(problems))
        return SingerChoice(singer, singer.name, why)
    first = make_singer(asked, config, cache)
    problem = _problem(first, language)
    if problem is None:
        return SingerChoice(first, first.name, f"asked for {asked}")
    later = SINGER_NAMES[SINGER_NAMES.index(asked) + 1 :]
    singer, _why, more = _first_usable(later, config, cache, language)
    if singer is None:
        return SingerChoice(None, "none", "; ".join([problem, *more]))
    return SingerChoice(singer, singer.name, "; ".join([problem, f"fell back to {singer.label}"]))


def _problem(singer: Singer, language: str | None) -> str | None:
    """None when `singer` can sing `language` here, else why not (in words)."""
    status = singer.availability()
    if not status.usable:
        return f"{singer.label} is not available ({status.reason})"
    why_not = singer.supports(language) if language else None
    return f"{singer.label} cannot sing {language} ({why_not})" if why_not else None


def _first_usable(
    names: Sequence[str], config: EngineConfig, cache: ModelCache | None, language: str | None = None
) -> tuple[Singer | None, str, list[str]]:
    """The first singer of `names` that can sing `language` and why it suits, and why each
    before it cannot."""
    problems: list[str] = []
    for name in names:
        singer = make_singer(name, config, cache)
        problem = _problem(singer, language)
        if problem is None:
            return singer, singer.availability().reason, problems
        problems.append(problem)
    return None, "", problems


@contextmanager
def _recording(cache: ModelCache | None) -> Iterator[list[ModelUse]]:
    """The model cache's uses inside the block (none without a cache)."""
    if cache is None:
        yield []
        return
    with cache.recording() as uses:
        yield uses
