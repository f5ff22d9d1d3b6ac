"""File and folder names of a job's outputs: the slug, the mix's name, the stems folder.

Titles in any script become ASCII with anyascii (ISC licence): "Ночной город" becomes
`nochnoy-gorod`, "夜の雨" `yenoyu`, emoji their names. The real title stays in the tags and
the manifest; only names on disk are transliterated.
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

SLUG_MAX_LEN = 48
STEMS_DIR = "stems"
STEM_FORMAT = "flac"  # 24-bit FLAC: lossless, about half the size of 24-bit WAV
# Files in stems/ that tell music libraries to skip the folder: Navidrome reads .ndignore,
# Jellyfin (10.9+) .ignore; both hold "*" (every file), the pattern form newer versions read.
IGNORE_MARKERS = (".ndignore", ".ignore")


def slugify(text: str | None, max_len: int = SLUG_MAX_LEN) -> str:
    """A safe name fragment: lowercase ascii letters, digits and single dashes; never empty."""
    normalized = unicodedata.normalize("NFKC", text or "")
    ascii_text = anyascii(normalized).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    slug = slug[:max_len].rstrip("-")
    return slug or "untitled"


def mix_name(title: str | None, fmt: str) -> str:
    """The mix's file name for `fmt`: `<slug>.<fmt>` (e.g. late-night-study.mp3)."""
    return f"{slugify(title)}.{fmt}"
