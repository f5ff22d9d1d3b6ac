"""Why the service is not taking new work right now, and when it looks again.

A locked or full job database, a full or read-only outbox: each pauses ingest and dispatch
(jobs stay queued, files stay in the inbox) with its reason in the log, `musicd status`
and systemd's STATUS=, is retried with a growing delay (1 s up to a minute), and clears by
itself once the cause is fixed. None of them ends the service or costs a job an attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 60.0


@dataclass
class _Pause:
    reason: str
    retry_at_s: float
    delay_s: float


class Pauses:
    """Named pauses (e.g. "store", "outbox") with their reasons and retry times."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._pauses: dict[str, _Pause] = {}

    def pause(self, name: str, reason: str) -> None:
        """Note (again) that `name` stops work; the next try waits twice as long as the last."""
        now = self._monotonic()
        current = self._pauses.get(name)
        if current is None or current.reason != reason:
            log.error("paused: %s; jobs stay queued and files stay in the inbox until it is fixed", reason)
        delay = FIRST_RETRY_S if current is None else min(current.delay_s * 2, LONGEST_RETRY_S)
        self._pauses[name] = _Pause(reason, now + delay, delay)

    def resume(self, name: str) -> None:
        if self._pauses.pop(name, None) is not None:
            log.warning("resumed: %s is usable again", name)

    def active(self, name: str) -> bool:
        return name in self._pauses

    def due(self, name: str) -> bool:
        """Whether `name` is not paused, or its next try is due."""
        pause = self._pauses.get(name)
        return pause is None or self._monotonic() >= pause.retry_at_s

    def reasons(self) -> list[str]:
        return [pause.reason for pause in self._pauses.values()]
