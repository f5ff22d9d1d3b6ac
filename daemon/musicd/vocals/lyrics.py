"""Lyrics text -> sections, lines, words and syllables (with a stressed flag per syllable).

Alphabetic scripts are hyphenated with pyphen's dictionaries; languages without one use a
vowel-group rule; Chinese, Japanese and Korean count one character (one kana, one Hangul block)
per syllable; Devanagari is split into aksharas.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import pyphen

SECTION_NAMES = {
    "verse": "verse",
    "chorus": "chorus",
    "refrain": "chorus",
    "hook": "chorus",
    "bridge": "bridge",
    "pre-chorus": "pre-chorus",
    "prechorus": "pre-chorus",
    "pre chorus": "pre-chorus",
    "intro": "intro",
    "outro": "outro",
    "coda": "outro",
}
_MARKER_RE = re.compile(r"^\s*[\[(]\s*([^\])]+?)\s*[\])]\s*$|^\s*([A-Za-z][A-Za-z -]*?)\s*\d*\s*:\s*$")
_WORD_RE = re.compile(r"[\w'’\u0900-\u097F-]+", re.UNICODE)
CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})
_SMALL_KANA = set("ゃゅょぁぃぅぇぉっゎャュョァィゥェォッヮーヵヶ")
# Languages that stress the penultimate syllable by default; final-stress languages.
_PENULTIMATE = frozenset({"es", "it", "pt", "pl", "ro", "el", "id", "ru", "uk"})
_FINAL = frozenset({"fr", "tr"})
_VOWELS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿąęėīōūőűıœаеёиоуыэюяєіїαεηιουω"
_FI_PAIRS = {
    "aa",
    "ee",
    "ii",
    "oo",
    "uu",
    "yy",
    "ää",
    "öö",
    "ai",
    "ei",
    "oi",
    "ui",
    "yi",
    "äi",
    "öi",
    "au",
    "eu",
    "iu",
    "ou",
    "ey",
    "iy",
    "äy",
    "öy",
    "ie",
    "uo",
    "yö",
}


@dataclass(frozen=True)
class Word:
    """One sung word: its text and its syllables in order."""

    text: str
    syllables: tuple[str, ...]
    stress: int  # index of the stressed syllable, -1 when the word is weak (a, the, de...)


@dataclass(frozen=True)
class LyricLine:
    """One phrase of lyrics, in one language."""

    text: str
    words: tuple[Word, ...]
    language: str

    @property
    def syllable_count(self) -> int:
        return sum(len(w.syllables) for w in self.words)


@dataclass(frozen=True)
class LyricSection:
    """A block of lines; `label` is verse, chorus, bridge... when the lyrics name it, else None."""

    label: str | None
    lines: tuple[LyricLine, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def script_language(text: str, languages: tuple[str, ...]) -> str:
    """The language (from `languages`) whose script the text is written in; the first otherwise."""
    scripts = {_script(ch) for ch in text if ch.isalpha()}
    wanted = {
        "han": ("zh", "ja"),
        "kana": ("ja",),
        "hangul": ("ko",),
        "devanagari": ("hi",),
        "cyrillic": ("ru", "uk"),
        "greek": ("el",),
        "arabic": ("ar",),
    }
    for script in ("kana", "hangul", "han", "devanagari", "cyrillic", "greek", "arabic"):
        if script in scripts:
            for code in languages:
                if code in wanted[script]:
                    return code
    latin = [code for code in languages if code not in {"zh", "ja", "ko", "hi", "ru", "uk", "el", "ar"}]
    return latin[0] if (latin and "latin" in scripts) else languages[0]


def _script(ch: str) -> str:
    code = ord(ch)
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "han"
    if 0x0900 <= code <= 0x097F:
        return "devanagari"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if 0x0370 <= code <= 0x03FF:
        return "greek"
    if 0x0600 <= code <= 0x06FF:
        return "arabic"
    return "latin"


def section_marker(line: str) -> str | None:
    """ "verse", "chorus"... for a marker line such as "[Chorus]", "(verse 2)" or "Bridge:"."""
    match = _MARKER_RE.match(line)
    if not match:
        return None
    name = re.sub(r"\s*\d+$", "", (match.group(1) or match.group(2)).strip().lower())
    return SECTION_NAMES.get(name, name if match.group(1) else None)


def parse_lyrics(text: str, languages: tuple[str, ...]) -> tuple[LyricSection, ...]:
    """Blocks separated by blank lines or section markers, with syllabified lines."""
    sections: list[LyricSection] = []
    label: str | None = None
    lines: list[LyricLine] = []

    def close() -> None:
        nonlocal lines, label
        if lines:
            sections.append(LyricSection(label, tuple(lines)))
        lines, label = [], None

    for raw in unicodedata.normalize("NFC", text or "").splitlines():
        if not raw.strip():
            close()
            continue
        marker = section_marker(raw)
        if marker is not None:
            close()
            label = marker
            continue
        line = parse_line(raw.strip(), script_language(raw, languages))
        if line.words:
            lines.append(line)
    close()
    return tuple(sections)


def parse_line(text: str, language: str) -> LyricLine:
    """One line of lyrics split into words and syllables."""
    words: list[Word] = []
    for token in _tokens(text, language):
        syllables = syllabify(token, language)
        if syllables:
            words.append(Word(token, syllables, stressed_syllable(token, syllables, language)))
    return LyricLine(text, tuple(words), language)


def _tokens(text: str, language: str) -> list[str]:
    if language in ("zh", "ja"):
        # No spaces between words: every character (kana with its small kana) is its own unit.
        units: list[str] = []
        for ch in text:
            if ch in _SMALL_KANA and units:
                units[-1] += ch
            elif ch.isalnum():
                units.append(ch)
        return units
    return [t.strip("-'’") for t in _WORD_RE.findall(text) if t.strip("-'’")]


def syllabify(word: str, language: str) -> tuple[str, ...]:
    """The syllables of one word ("beautiful" -> ("beau", "ti", "ful"))."""
    if not word:
        return ()
    if language in ("zh", "ja"):
        return (word,)
    if language == "ko":
        return tuple(ch for ch in word if ch.isalnum())
    if any(0x0900 <= ord(ch) <= 0x097F for ch in word):
        return _aksharas(word)
    dictionary = _pyphen(language)
    if dictionary is not None:
        pieces = tuple(p for p in dictionary.inserted(word, hyphen="\u00ad").split("\u00ad") if p)
        pieces = _split_hyphen_parts(pieces)
        # Typesetting dictionaries skip breaks near word ends ("sing-ing", "hel-lo"): split any
        # piece that still holds two vowel nuclei.
        refined: list[str] = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            refined.extend(_vowel_groups(piece, language, word_final=last))
        return _merge_vowelless(tuple(refined)) if refined else (word,)
    return _vowel_groups(word, language)


def _split_hyphen_parts(pieces: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for piece in pieces:
        out.extend(p for p in piece.split("-") if p)
    return tuple(out)


def _has_vowel(text: str) -> bool:
    return any(ch.lower() in _VOWELS for ch in text)


def _merge_vowelless(pieces: tuple[str, ...]) -> tuple[str, ...]:
    """Pieces without a vowel (hyphenation artefacts) join their neighbour."""
    if not any(_has_vowel(p) for p in pieces):
        return ("".join(pieces),)
    out: list[str] = []
    for piece in pieces:
        if out and not _has_vowel(piece):
            out[-1] += piece
        elif out and not _has_vowel(out[-1]):
            out[-1] += piece
        else:
            out.append(piece)
    return tuple(out)


@cache
def _pyphen(language: str) -> pyphen.Pyphen | None:
    code = pyphen.language_fallback(language)
    return pyphen.Pyphen(lang=code, left=1, right=1) if code else None


def _vowel_groups(word: str, language: str, word_final: bool = True) -> tuple[str, ...]:
    """Rule syllabification: a syllable per vowel nucleus; one consonant before a vowel starts
    a new syllable (Finnish and Turkish follow this exactly)."""
    lower = word.lower()
    if language == "en" and word_final:
        lower = _mute_english_ending(lower)
    nuclei: list[tuple[int, int]] = []
    i = 0
    while i < len(lower):
        if lower[i] in _VOWELS:
            j = i + 1
            while j < len(lower) and lower[j] in _VOWELS and _joins(lower[j - 1 : j + 1], language):
                j += 1
            nuclei.append((i, j))
            i = j
        else:
            i += 1
    if len(nuclei) <= 1:
        return (word,)
    cuts = []
    for (_, end), (start, _) in zip(nuclei, nuclei[1:]):
        cuts.append(start - 1 if start - end >= 1 else start)
    bounds = [0] + cuts + [len(word)]
    return tuple(word[a:b] for a, b in zip(bounds, bounds[1:]) if word[a:b])


def _mute_english_ending(lower: str) -> str:
    """Silent final e, -es and -ed ("love", "times", "loved") are no nucleus: mark them as
    consonants ("#") so the vowel rule skips them."""
    groups = re.findall(r"[aeiouy]+", lower)
    if len(groups) < 2:
        return lower
    if re.search(r"[^aeiouy]e$", lower) and not lower.endswith("le"):
        return lower[:-1] + "#"
    if re.search(r"[^aeiouysxzh]es$", lower) or re.search(r"[^aeiouytd]ed$", lower):
        return lower[:-2] + "#" + lower[-1]
    return lower


def _joins(pair: str, language: str) -> bool:
    if language == "tr":
        return False
    if language == "fi":
        return pair in _FI_PAIRS
    return True


_DEV_CONSONANT = re.compile(r"[\u0915-\u0939\u0958-\u095F]\u093C?")
_DEV_VOWEL = re.compile(r"[\u0904-\u0914\u0960\u0961]")
_DEV_SIGNS = "\u0900\u0901\u0902\u0903"  # candrabindu, anusvara, visarga
_DEV_MATRA = re.compile(r"[\u093E-\u094C\u0962\u0963]")
_VIRAMA = "\u094d"


def _aksharas(word: str) -> tuple[str, ...]:
    """Devanagari orthographic syllables; a final bare consonant (its schwa unspoken in Hindi)
    joins the syllable before it: "नमस्ते" -> न, मस्, ते is approximated as न, म, स्ते."""
    units: list[tuple[str, bool]] = []  # (text, has a vowel sign or independent vowel)
    i = 0
    while i < len(word):
        match = _DEV_VOWEL.match(word, i)
        if match:
            j = match.end()
            while j < len(word) and word[j] in _DEV_SIGNS:
                j += 1
            units.append((word[i:j], True))
            i = j
            continue
        match = _DEV_CONSONANT.match(word, i)
        if not match:
            if units:
                units[-1] = (units[-1][0] + word[i], units[-1][1])
            else:
                units.append((word[i], False))
            i += 1
            continue
        j = match.end()
        while j < len(word) and word[j] == _VIRAMA:
            nxt = _DEV_CONSONANT.match(word, j + 1)
            if not nxt:
                j += 1
                break
            j = nxt.end()
        vowel = False
        if j < len(word) and _DEV_MATRA.match(word, j):
            j += 1
            vowel = True
        while j < len(word) and word[j] in _DEV_SIGNS:
            j += 1
        units.append((word[i:j], vowel))
        i = j
    if len(units) > 1 and not units[-1][1] and not units[-1][0].endswith(_VIRAMA):
        last = units.pop()
        units[-1] = (units[-1][0] + last[0], units[-1][1])
    return tuple(text for text, _ in units)


def stressed_syllable(word: str, syllables: tuple[str, ...], language: str) -> int:
    """Index of the stressed syllable by the language's default rule; -1 for short weak words."""
    n = len(syllables)
    if language in CJK_LANGUAGES or language == "hi":
        return 0
    if n == 1:
        letters = sum(ch.isalpha() for ch in word)
        return -1 if letters <= 3 else 0
    for index, syllable in enumerate(syllables):  # a written accent marks the stress
        if language in ("es", "pt", "it", "el") and any(
            unicodedata.decomposition(ch).endswith(("0301", "0300")) for ch in syllable
        ):
            return index
    if language in _FINAL:
        return n - 1
    if language in _PENULTIMATE:
        if language == "es" and word[-1].lower() not in "aeiouns":
            return n - 1
        return n - 2
    return 0
