"""Spec checks that need the song's plan: lyrics that cannot be sung in the song's form.

The form follows from the genres, the duration and the tempo. With a seed, or with an
explicit `bpm` (the form then does not depend on the seed), the plan is exact. Without
either the tempo is drawn per job, so the lyrics are rejected only when they fit at none
of the tempos that FIT_SEEDS seeds give.
"""

from __future__ import annotations

from musicd.spec.model import JobSpec

FIT_SEEDS = 16  # seeds tried when the tempo, and so the form, depends on the seed


def sings(spec: JobSpec) -> bool:
    """Whether the job has lyrics to sing."""
    return bool(spec.lyrics and spec.lyrics.strip()) and spec.vocals.engine != "none"


def lyrics_fit_problem(spec: JobSpec) -> str | None:
    """Why the lyrics cannot be sung in the song (section, bars missing), or None if they fit."""
    if not sings(spec):
        return None
    from musicd.music.plan import make_plan
    from musicd.vocals.melody import LyricsTooLongError, check_lyrics_fit

    exact = spec.seed is not None or spec.bpm is not None
    seeds = [spec.seed if spec.seed is not None else 0] if exact else range(FIT_SEEDS)
    closest: tuple[LyricsTooLongError, float, int] | None = None
    for seed in seeds:
        plan = make_plan(spec, seed)
        try:
            check_lyrics_fit(spec.lyrics, spec.vocals.languages, plan.form, plan.tempo_bpm, plan.meter)
        except LyricsTooLongError as failed:
            if closest is None or failed.missing_bars < closest[0].missing_bars:
                closest = (failed, plan.tempo_bpm, plan.bars)
        else:
            return None
    assert closest is not None
    error, tempo_bpm, bars = closest
    where = f"at {tempo_bpm:g} bpm the song has {bars} bars"
    if not exact:
        where = f"at every tempo musicd would pick ({len(seeds)} seeds tried); the closest, {where}"
    return f"{error} ({where})"
