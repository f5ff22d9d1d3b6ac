"""The genre table: names, aliases and (below) each genre's musical profile."""

from __future__ import annotations

import difflib
import re

GENRE_NAMES: tuple[str, ...] = (
    "lofi", "hip-hop", "trap", "techno", "house", "deep-house", "trance", "drum-and-bass",
    "dubstep", "synthwave", "ambient", "chillout", "pop", "rock", "funk", "disco", "soul",
    "rnb", "jazz", "blues", "bossa-nova", "reggae", "afrobeat", "folk", "country", "cinematic",
)

ALIASES: dict[str, str] = {
    "lo-fi": "lofi", "lofi-hip-hop": "lofi", "chillhop": "lofi",
    "hiphop": "hip-hop", "rap": "hip-hop", "boom-bap": "hip-hop",
    "dnb": "drum-and-bass", "drum-n-bass": "drum-and-bass", "drum-&-bass": "drum-and-bass",
    "drum-bass": "drum-and-bass", "jungle": "drum-and-bass",
    "deephouse": "deep-house", "edm": "house", "dance": "house",
    "retrowave": "synthwave", "outrun": "synthwave", "synth-wave": "synthwave",
    "chill": "chillout", "chill-out": "chillout", "downtempo": "chillout", "lounge": "chillout",
    "r&b": "rnb", "r-and-b": "rnb", "r-n-b": "rnb", "rhythm-and-blues": "rnb",
    "bossa": "bossa-nova", "bossanova": "bossa-nova", "samba": "bossa-nova",
    "afrobeats": "afrobeat", "afro": "afrobeat",
    "classical": "cinematic", "orchestral": "cinematic", "film": "cinematic", "epic": "cinematic",
    "soundtrack": "cinematic", "score": "cinematic",
    "country-folk": "folk", "acoustic": "folk", "singer-songwriter": "folk",
    "dub": "reggae", "ska": "reggae", "motown": "soul", "neo-soul": "soul",
    "swing": "jazz", "bebop": "jazz", "smooth-jazz": "jazz", "rock-and-roll": "rock",
    "indie": "rock", "alt-rock": "rock", "metal": "rock", "punk": "rock", "grunge": "rock",
    "brostep": "dubstep", "electro": "techno", "minimal": "techno", "acid": "techno",
    "psytrance": "trance", "uplifting-trance": "trance", "drill": "trap",
    "nu-disco": "disco", "boogie": "disco", "electro-pop": "pop", "synthpop": "pop",
    "new-age": "ambient", "drone": "ambient", "space": "ambient",
}


def _normalise(name: str) -> str:
    text = name.strip().lower().replace("_", "-")
    text = re.sub(r"\s*&\s*", "-&-", text)
    text = re.sub(r"[\s/]+", "-", text)
    return re.sub(r"-+", "-", text).strip("-")


def canonical_genre(name: str) -> str | None:
    """The table's name for `name` (any case, spaces or dashes, aliases), or None if unknown."""
    key = _normalise(name)
    if key in GENRE_NAMES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    squashed = key.replace("-", "")
    for candidate in (*GENRE_NAMES, *ALIASES):
        if candidate.replace("-", "") == squashed:
            return ALIASES.get(candidate, candidate)
    return None


def close_genres(name: str, limit: int = 3) -> list[str]:
    """Known genre names closest to an unknown one, for "did you mean" messages."""
    key = _normalise(name)
    hits = difflib.get_close_matches(key, [*GENRE_NAMES, *ALIASES], n=limit * 2, cutoff=0.5)
    names = dict.fromkeys(ALIASES.get(hit, hit) for hit in hits)
    return list(names)[:limit]
