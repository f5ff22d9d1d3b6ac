"""Text helpers: the "did you mean" suggestion, and user text made safe to display."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

# C0 and C1 control characters (ESC starts terminal escape sequences), DEL, and the
# zero-width/bidirectional controls that can hide or reorder text.
_CONTROL = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
# libass (and most subtitle renderers) obey {\tag} override blocks even in SRT.
_OVERRIDE = re.compile(r"\{[^{}]*\\[^{}]*\}")


def closest(
    word: str, choices: Mapping[str, str] | Iterable[str], *, limit: int = 1, cutoff: float = 0.6
) -> list[str]:
    """Up to `limit` choices closest to `word`, best first: musicd's one "did you mean" search.

    With a mapping, `word` is compared with its keys (normalised spellings, aliases) and the
    values are returned, each once.
    """
    names = choices if isinstance(choices, Mapping) else {choice: choice for choice in choices}
    hits = difflib.get_close_matches(word, list(names), n=limit * 2, cutoff=cutoff)
    return list(dict.fromkeys(names[hit] for hit in hits))[:limit]


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str:
    """The suffix ` (did you mean 'mode'?)` for the choice closest to `word`; "" if none is close."""
    close = closest(word, choices, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def display_text(text: str) -> str:
    """`text` for a subtitle, lyrics file, tag or title: control characters and escape
    sequences removed, subtitle override blocks ({\\an8}) dropped, backslashes made inert."""
    text = _OVERRIDE.sub("", _CONTROL.sub("", text))
    return text.replace("\\", "\u29f5")  # a reverse solidus operator: looks like \, means nothing
