"""Song form: a genre's full-length section template fitted to a number of whole bars.

Sections come in musical phrase lengths: intros and outros of 2, 4 or 8 bars, verses,
choruses, bridges and drops of 4, 8 or 16 (12-bar passes for the blues, 8-bar ones for
jazz heads). An odd total gets a final one-bar "ending" on the tonic. Songs long enough
have a verse (or build) before the first chorus (or drop).

Fitting is a small search: candidate section lists (the template with loops repeated for
long songs, with optional sections dropped for short ones, and a ladder of tiny forms) are
each sized by dynamic programming to the exact bar count, and the cheapest wins. The cost
says how far the sizes stray from the template and what was left out; `form_cost` exposes
it so the planner can prefer a tempo at which the form sits well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from musicd.music.genres import FormPart
from musicd.music.sections import Section

HOOKS = frozenset({"chorus", "drop"})
EDGES = frozenset({"intro", "outro"})
ENDING = "ending"
ENDING_COST = 0.35  # an odd bar count: a one-bar tonic tag after the outro
DROP_COST = 1.0  # leaving out one optional template section
LADDER_COSTS = (2.5, 4.0, 6.0, 8.0)  # tiny forms, see _ladder
TAG_COST = 1.5  # a two-bar tonic tag after the outro (only when no other even split fits)
RELAXED_COST = 6.0  # per section sized outside its phrase lengths (only when nothing else fits)
MAX_HOOK_MERGE_BARS = 16

# Section sizes in bars for 4-bar-phrase genres; 12-bar (blues) and 8-bar (jazz) forms below.
SIZES: dict[str, tuple[int, ...]] = {
    "intro": (2, 4, 8),
    "outro": (2, 4, 8),
    "verse": (4, 8, 16),
    "chorus": (4, 8, 16),
    "drop": (4, 8, 16, 32),
    "bridge": (4, 8, 16),
    "breakdown": (4, 8, 16),
    "pre-chorus": (2, 4, 8),
    "build": (4, 8, 16),
}
WEIGHTS: dict[str, float] = {
    "intro": 0.8,
    "outro": 0.8,
    "verse": 1.0,
    "chorus": 1.0,
    "drop": 0.8,
    "bridge": 1.2,
    "breakdown": 1.0,
    "pre-chorus": 1.2,
    "build": 1.2,
}


@dataclass(frozen=True)
class _Slot:
    name: str
    base: float  # the template's size, scaled down for a song shorter than the template
    full: int  # the template's size as written
    energy: float
    sizes: tuple[int, ...]
    weight: float
    last_hook: bool = False


def _sizes(name: str, base: int, phrase_bars: int, tiny: bool, body: int) -> tuple[int, ...]:
    if name in EDGES:
        return tuple(sorted(set(SIZES[name]) | ({16} if base >= 8 else set())))
    if phrase_bars >= 8:
        sizes: tuple[int, ...] = (phrase_bars, 2 * phrase_bars)  # a 24-bar blues chorus is two passes
        if name in ("pre-chorus", "build", "breakdown"):
            sizes = (4, 8)
    else:
        sizes = SIZES.get(name, (4, 8, 16))
    if tiny and name in HOOKS and (phrase_bars < 12 or body < phrase_bars):
        sizes = tuple(sorted(set(sizes) | ({4, 8} if phrase_bars >= 12 else {2, 4})))
    return sizes


def _size_cost(slot: _Slot, size: int) -> float:
    ratio = math.log2(size / slot.base)
    weight = slot.weight * (0.45 if slot.last_hook and ratio > 0 else 1.0)
    cost = weight * abs(ratio)
    if size == 2 and slot.name not in EDGES:
        cost += 2.0
    if slot.name in HOOKS and size < 8 <= slot.full:
        cost += 0.8  # a hook needs room to land
    if slot.name in EDGES and size > 8:
        cost += 0.8
    return cost


def _relaxed_sizes(slot: _Slot) -> tuple[int, ...]:
    top = max(32, 2 * slot.full)
    return tuple(range(2, top + 1, 2))


def _best_sizes(slots: Sequence[_Slot], total: int, relaxed: bool) -> tuple[float, tuple[int, ...]] | None:
    """The cheapest sizes for `slots` summing to `total` bars (dynamic programming)."""
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for slot in slots:
        options = [(s, _size_cost(slot, s)) for s in slot.sizes]
        if relaxed:
            strict = set(slot.sizes)
            options += [
                (s, _size_cost(slot, s) + RELAXED_COST) for s in _relaxed_sizes(slot) if s not in strict
            ]
        nxt: dict[int, tuple[float, tuple[int, ...]]] = {}
        for used, (cost, sizes) in best.items():
            for size, extra in options:
                at = used + size
                if at > total:
                    continue
                candidate = (cost + extra, sizes + (size,))
                if at not in nxt or candidate < nxt[at]:
                    nxt[at] = candidate
        best = nxt
        if not best:
            return None
    return best.get(total)


def _merge(parts: Sequence[FormPart], phrase_bars: int) -> list[FormPart]:
    """Two hook sections in a row become one longer one (8-bar choruses only)."""
    out: list[FormPart] = []
    for p in parts:
        prev = out[-1] if out else None
        if prev is not None and prev.name == p.name and p.name in HOOKS and phrase_bars < 12:
            cap = 2 * MAX_HOOK_MERGE_BARS if p.name == "drop" else MAX_HOOK_MERGE_BARS
            out[-1] = FormPart(
                p.name,
                min(max(prev.bars, p.bars), cap),
                max(prev.energy, p.energy),
                min(prev.drop_rank, p.drop_rank),
            )
        else:
            out.append(p)
    return out


def _with_loops(template: Sequence[FormPart], loop: Sequence[str], times: int) -> list[FormPart]:
    """The template with `times` more passes of the loop sections, placed before the last
    hook section; every second pass opens with an interlude (bridge or breakdown) when the
    template has one and the loop does not."""
    parts = list(template)
    by_name = {p.name: p for p in template}
    block = [by_name[n] for n in loop if n in by_name]
    if not block:
        return parts
    interlude = next((by_name[n] for n in ("bridge", "breakdown") if n in by_name and n not in loop), None)
    for k in range(times):
        hooks = [i for i, p in enumerate(parts) if p.name == block[-1].name]
        at = (hooks[-2] if len(hooks) >= 2 else hooks[-1]) + 1 if hooks else len(parts) - 1
        extra = [FormPart(p.name, p.bars, p.energy, 9) for p in block]
        if interlude is not None and k % 2 == 1:
            extra.insert(0, FormPart(interlude.name, interlude.bars, interlude.energy, 9))
        parts[at:at] = extra
    return parts


def _ladder(template: Sequence[FormPart]) -> list[list[FormPart]]:
    """Tiny forms, from most to least complete."""
    core = [p for p in template if p.drop_rank == 0]
    intro = next((p for p in core if p.name == "intro"), FormPart("intro", 4, 0.35))
    outro = next((p for p in reversed(core) if p.name == "outro"), FormPart("outro", 4, 0.4))
    hook_at = next((i for i, p in enumerate(core) if p.name in HOOKS), None)
    hook = core[hook_at] if hook_at is not None else FormPart("chorus", 8, 0.85)
    peak = max((p.energy for p in template if p.name in HOOKS), default=hook.energy)
    hook = FormPart(hook.name, hook.bars, peak)
    lead_in = [p for p in (core[1:hook_at] if hook_at else []) if p.name not in EDGES][:1]
    if not lead_in:
        return [[intro, hook, outro], [hook, outro], [hook]]
    return [[*lead_in, hook, outro], [intro, hook, outro], [hook, outro], [hook]]


def _candidates(
    template: Sequence[FormPart], loop: Sequence[str], body: int, phrase_bars: int
) -> list[tuple[list[FormPart], float, bool]]:
    """(parts, structural cost, tiny) for every section list worth sizing."""
    out: list[tuple[list[FormPart], float, bool]] = []
    grown = [list(template)]
    while sum(p.bars for p in grown[-1]) < body and len(grown) < 200:
        longer = _with_loops(template, loop, len(grown))
        if sum(p.bars for p in longer) <= sum(p.bars for p in grown[-1]):
            break
        grown.append(longer)
    for parts in grown[-3:]:
        out.append((parts, 0.0, False))
    parts = list(template)
    dropped = 0
    for rank in sorted({p.drop_rank for p in template if p.drop_rank}, reverse=True):
        parts = [p for p in parts if p.drop_rank != rank]
        dropped = sum(1 for p in template if p.drop_rank) - sum(1 for p in parts if p.drop_rank)
        out.append((parts, DROP_COST * dropped, False))
    ladder = _ladder(template)
    for level, tiny in enumerate(ladder):
        cost = LADDER_COSTS[level + len(LADDER_COSTS) - len(ladder)]
        if phrase_bars >= 12:  # one or two full blues choruses are a whole song
            cost = min(cost, 1.5 + 0.5 * level)
        out.append((tiny, cost + DROP_COST * dropped, True))
    return [(_merge(p, phrase_bars), cost, tiny) for p, cost, tiny in out]


def _slots(parts: Sequence[FormPart], phrase_bars: int, tiny: bool, body: int) -> tuple[_Slot, ...]:
    last_hook = max((i for i, p in enumerate(parts) if p.name in HOOKS), default=-1)
    scale = min(1.0, body / max(1, sum(p.bars for p in parts))) ** 0.6
    return tuple(
        _Slot(
            p.name,
            max(2.0, p.bars * scale),
            p.bars,
            p.energy,
            _sizes(p.name, p.bars, phrase_bars, tiny, body),
            WEIGHTS.get(p.name, 1.0),
            i == last_hook,
        )
        for i, p in enumerate(parts)
    )


@lru_cache(maxsize=512)
def _fit(
    template: tuple[FormPart, ...], loop: tuple[str, ...], total_bars: int, phrase_bars: int
) -> tuple[float, tuple[Section, ...]]:
    if total_bars < 1:
        raise ValueError("a song needs at least one bar")
    if total_bars == 1:
        return LADDER_COSTS[-1], (Section(ENDING, 0, 1, template[-1].energy if template else 0.4),)
    best: tuple[float, list[FormPart], tuple[int, ...], int] | None = None
    tails = ((1, ENDING_COST),) if total_bars % 2 else ((0, 0.0), (2, TAG_COST))
    for relaxed in (False, True):
        for tail, tail_cost in tails:
            body = total_bars - tail
            for parts, structural, tiny in _candidates(template, loop, body, phrase_bars):
                sized = _best_sizes(_slots(parts, phrase_bars, tiny, body), body, relaxed)
                if sized is None:
                    continue
                cost = sized[0] + structural + tail_cost
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, parts, sized[1], tail)
        if best is not None:
            break
    if best is None:  # nothing fits in phrases: one section of all the bars
        body = total_bars - total_bars % 2
        name = "outro" if body <= 4 else "chorus"
        best = (LADDER_COSTS[-1] * 2, [FormPart(name, body, 0.6)], (body,), total_bars % 2)
    cost, parts, sizes, tail = best
    sections: list[Section] = []
    bar = 0
    for part, size in zip(parts, sizes):
        sections.append(Section(part.name, bar, size, round(part.energy, 3)))
        bar += size
    if tail:
        energy = template[-1].energy if template else 0.4
        sections.append(Section(ENDING, bar, tail, round(energy, 3)))
    assert sum(s.bars for s in sections) == total_bars
    return cost, tuple(sections)


def fit_form(
    template: Sequence[FormPart], loop: Sequence[str], total_bars: int, phrase_bars: int = 4
) -> tuple[Section, ...]:
    """Sections of exactly `total_bars` bars following `template` in phrase lengths.

    Long songs repeat the `loop` sections (with an interlude every second pass); short ones
    leave out sections by drop rank and shorten the rest by whole phrases; an odd bar count
    ends with a one-bar tonic "ending".
    """
    return _fit(tuple(template), tuple(loop), int(total_bars), int(phrase_bars))[1]


def form_cost(
    template: Sequence[FormPart], loop: Sequence[str], total_bars: int, phrase_bars: int = 4
) -> float:
    """How awkwardly `total_bars` bars hold the template (0 = the template as written)."""
    return _fit(tuple(template), tuple(loop), int(total_bars), int(phrase_bars))[0]
