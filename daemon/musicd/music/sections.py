"""A song section: a named span of whole bars with an energy level."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """intro, verse, pre-chorus, chorus, drop, breakdown, bridge or outro, in whole bars."""

    name: str
    start_bar: int
    bars: int
    energy: float  # 0 (sparse) .. 1 (full)

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars
