"""Message helpers shared by musicd's validators: the "did you mean" suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """The suffix ` (did you mean 'mode'?)` for the choice closest to `word`; "" if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""
