"""Song form: a genre's full-length section template fitted to a number of whole bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.genres import FormPart
from daemon.sections import Section

TINY_FORM_BARS = 16  # below this a song is intro, one chorus and an ending


@dataclass
class _Part:
    name: str
    bars: int
    energy: float
    drop_rank: int = 0


def _sections(parts: Sequence[_Part]) -> tuple[Section, ...]:
    merged: list[_Part] = []
    for p in parts:  # two choruses in a row are one long chorus
        if merged and merged[-1].name == p.name and p.bars > 0:
            merged[-1] = _Part(p.name, merged[-1].bars + p.bars, max(merged[-1].energy, p.energy))
        elif p.bars > 0:
            merged.append(p)
    out, bar = [], 0
    for p in merged:
        if p.bars > 0:
            out.append(Section(p.name, bar, p.bars, round(p.energy, 3)))
            bar += p.bars
    return tuple(out)


def _tiny(template: Sequence[FormPart], total_bars: int) -> list[_Part]:
    peak = max((p.energy for p in template), default=0.8)
    intro_energy = template[0].energy if template else 0.35
    outro_energy = template[-1].energy if template else 0.4
    if total_bars == 1:
        return [_Part("outro", 1, outro_energy)]
    if total_bars == 2:
        return [_Part("chorus", 1, peak), _Part("outro", 1, outro_energy)]
    intro = 1 if total_bars < 6 else 2 if total_bars < 12 else 4
    outro = 1 if total_bars < 6 else 2 if total_bars < 14 else 4
    chorus = total_bars - intro - outro
    return [_Part("intro", intro, intro_energy), _Part("chorus", chorus, peak),
            _Part("outro", outro, outro_energy)]


def _insert_loop(parts: list[_Part], template: Sequence[FormPart], loop: Sequence[str]) -> int:
    """Insert one more pass of the loop sections; returns the bars added."""
    by_name = {p.name: p for p in template}
    block = [_Part(n, by_name[n].bars, by_name[n].energy, 5) for n in loop if n in by_name]
    if not block:
        return 0
    hits = [i for i, p in enumerate(parts) if p.name == block[-1].name]
    at = (hits[-2] if len(hits) >= 2 else hits[-1]) + 1 if hits else len(parts) - 1
    parts[at:at] = block
    return sum(p.bars for p in block)


def fit_form(template: Sequence[FormPart], loop: Sequence[str], total_bars: int,
             phrase_bars: int = 4) -> tuple[Section, ...]:
    """Sections of exactly `total_bars` bars following `template`.

    Long songs repeat the `loop` sections; short ones drop sections by drop rank, then
    halve the longest; bars left over lengthen sections by whole phrases and the last
    odd bars go to the outro, whose final bar holds the tonic.
    """
    if total_bars < 1:
        raise ValueError("a song needs at least one bar")
    if total_bars < TINY_FORM_BARS:
        return _sections(_tiny(template, total_bars))
    parts = [_Part(p.name, p.bars, p.energy, p.drop_rank) for p in template]

    def size() -> int:
        return sum(p.bars for p in parts)

    block = sum(next(p.bars for p in template if p.name == n) for n in loop
                if any(p.name == n for p in template))
    while block and size() + block <= total_bars:
        _insert_loop(parts, template, loop)
    while size() > total_bars and any(p.drop_rank for p in parts):
        worst = max(p.drop_rank for p in parts)
        victim = max(i for i, p in enumerate(parts) if p.drop_rank == worst)
        del parts[victim]
    intro, middle, outro = parts[0], parts[1:-1], parts[-1]
    while size() > total_bars:  # shorten in whole phrases: long middle sections first
        longest = max(p.bars for p in middle)
        if longest > 8 or (longest > 4 and intro.bars <= 4 and outro.bars <= 4):
            victim = min((p for p in middle if p.bars == longest), key=lambda p: p.energy)
            victim.bars -= phrase_bars if victim.bars > phrase_bars else 4
        elif max(intro.bars, outro.bars) > 2:
            edge = intro if intro.bars >= outro.bars else outro
            edge.bars = max(2, edge.bars // 2)
        elif len(middle) > 1:  # keep the peak section, drop from the front
            peak = max(range(len(middle)), key=lambda i: (middle[i].energy, i))
            del middle[0 if peak != 0 else 1]
        else:
            middle[0].bars -= 1
        parts = [intro, *middle, outro]
    spare = total_bars - size()
    ranked = sorted(range(len(middle)), key=lambda i: (-middle[i].energy, -i))
    step = max(4, phrase_bars)
    while spare >= step:
        grown = False
        for i in ranked:
            cap = 32 if middle[i].name == "drop" else max(16, 2 * phrase_bars)
            if middle[i].bars + step <= cap and spare >= step:
                middle[i].bars += step
                spare -= step
                grown = True
        if not grown:
            break
    while spare >= 4 and intro.bars < 8:
        intro.bars += 4
        spare -= 4
    outro.bars += spare
    parts = [intro, *middle, outro]
    assert size() == total_bars
    return _sections(parts)
