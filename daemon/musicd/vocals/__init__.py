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
from pathlib import Path
from typing import Any

import numpy as np

from musicd.errors import ModelOutOfMemoryError, MusicdError, ResourceMissingError
from musicd.music.score import Track
from musicd.seeding import stage_rng
from musicd.vocals.bus import process_vocal_bus
from musicd.vocals.melody import (
    ChordTime,
    LyricsTooLongError,
    SungNote,
    VocalLine,
    duck_lead,
    vocal_line,
)
from musicd.vocals.timing_files import lrc_text, srt_text, write_lrc, write_srt

log = logging.getLogger(__name__)

__all__ = [
    "ChordTime",
    "LyricsTooLongError",
    "SungNote",
    "VocalLine",
    "VocalResult",
    "chords_from_plan",
    "duck_lead",
    "sing",
    "vocal_line",
    "write_lrc",
    "write_srt",
]

ENGINES = ("auto", "espeak", "coqui", "none")


@dataclass(frozen=True)
class VocalResult:
    """What the vocals stage hands back; `audio` is None when nothing is sung."""

    track: Track | None  # "vocals" with lyric events, for score.mid
    vocal: VocalLine
    audio: np.ndarray | None  # float32 (n_samples, 2): the processed stem
    lrc_text: str
    srt_text: str
    engine_asked: str
    engine_used: str  # espeak | coqui | none
    reason: str
    timings_s: dict[str, float] = field(default_factory=dict)
    models: tuple[dict[str, Any], ...] = ()  # model cache uses (ModelUse.to_dict()), coqui only

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
        }


def chords_from_plan(plan: Any) -> list[ChordTime]:
    """The plan's chords as timed pitch-class sets (the same spans the composer uses)."""
    from musicd.music.compose.harmony import make_context

    return [ChordTime(s.start_beat, s.duration_beats, tuple(s.chord.tones)) for s in make_context(plan).spans]


def sing(
    lyrics: str | None,
    languages: Sequence[str],
    voice: str,
    engine: str,
    plan: Any,
    sample_rate: int,
    n_samples: int,
    seed: int,
    *,
    coqui_model_dir: Path | None = None,
    cache: Any = None,
) -> VocalResult:
    """Sing `lyrics` over the planned song: the one entry point of the vocals stage.

    `plan` is a musicd.music.plan.Plan (form, tempo, meter, key, mode, genres, progressions are read).
    The stem is exactly `n_samples` long. Raises LyricsTooLongError when the lyrics cannot fit;
    a missing engine falls back (coqui -> espeak -> none) and the result says why, as does a
    Coqui model that fails to load or runs out of memory.
    """
    timings: dict[str, float] = {}
    languages = tuple(languages) or ("en",)
    if engine not in ENGINES:
        raise MusicdError(f"unknown vocal engine {engine!r}; use one of {', '.join(ENGINES)}")
    empty = VocalLine((), (), (), plan.tempo_bpm, voice)
    if not (lyrics or "").strip() or engine == "none":
        why = "vocals.engine is none" if engine == "none" else "the spec has no lyrics"
        return VocalResult(None, empty, None, "", "", engine, "none", why, timings)
    started = time.perf_counter()
    vocal = vocal_line(
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
    timings["melody"] = round(time.perf_counter() - started, 3)
    lrc, srt = lrc_text(vocal), srt_text(vocal)
    if vocal.is_empty:
        return VocalResult(
            None, vocal, None, lrc, srt, engine, "none", "the lyrics hold no singable words", timings
        )
    singer, used, reason = _choose_singer(engine, coqui_model_dir, cache)
    if singer is None:
        return VocalResult(vocal.to_track(), vocal, None, lrc, srt, engine, "none", reason, timings)
    started = time.perf_counter()
    try:
        with _recording(cache) as models:
            dry = singer(vocal, sample_rate, n_samples)
    except (ResourceMissingError, ModelOutOfMemoryError) as error:
        if used != "coqui":
            raise
        log.warning("the Coqui model could not sing (%s); falling back to espeak-ng", error)
        singer, used, fallback = _choose_singer("espeak", None, None)
        reason = f"{reason}, but it failed ({error}); " + (
            "fell back to espeak-ng" if singer is not None else fallback
        )
        if singer is None:
            return VocalResult(vocal.to_track(), vocal, None, lrc, srt, engine, "none", reason, timings)
        dry = singer(vocal, sample_rate, n_samples)
    timings["singing"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    stem = process_vocal_bus(dry, sample_rate, plan.genres, plan.tempo_bpm)
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
    )


@contextmanager
def _recording(cache: Any) -> Iterator[list[Any]]:
    """The model cache's uses inside the block (none without a cache)."""
    if cache is None:
        yield []
        return
    with cache.recording() as uses:
        yield uses


def _espeak_singer(vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
    from musicd.vocals.espeak import speak
    from musicd.vocals.singing import sing_vocal_line

    return sing_vocal_line(vocal, speak, sample_rate, n_samples)


def _choose_singer(engine: str, coqui_model_dir: Path | None, cache: Any):
    """(sing(vocal, sample_rate, n_samples) -> dry audio, or None; engine used; reason)."""
    reasons: list[str] = []
    if engine in ("auto", "coqui"):
        from musicd.vocals.coqui import coqui_unavailable_reason, sing_with_coqui

        problem = coqui_unavailable_reason(coqui_model_dir)
        if problem is None and coqui_model_dir is not None:
            model_dir = coqui_model_dir

            def coqui_singer(vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
                return sing_with_coqui(vocal, model_dir, cache, sample_rate, n_samples)

            return (
                coqui_singer,
                "coqui",
                ("asked for coqui" if engine == "coqui" else "a Coqui model is configured"),
            )
        if engine == "coqui":
            reasons.append(f"coqui is not available ({problem})")
    from musicd.vocals.espeak import espeak_unavailable_reason

    problem = espeak_unavailable_reason()
    if problem is None:
        reasons.append("espeak-ng is the default singing voice" if not reasons else "fell back to espeak-ng")
        return _espeak_singer, "espeak", "; ".join(reasons)
    reasons.append(f"espeak-ng is not available ({problem})")
    return None, "none", "; ".join(reasons)
