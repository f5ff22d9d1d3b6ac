"""Musical key names: "C major", "F# minor", "D dorian", "Bb", "Ebm" -> KeySpec(tonic, mode)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from musicd.errors import MusicdError
from musicd.music.theory import MODE_INTERVALS as THEORY_MODES

MODES: tuple[str, ...] = ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian")

MODE_ALIASES: dict[str, str] = {
    "maj": "major",
    "ionian": "major",
    "min": "minor",
    "m": "minor",
    "aeolian": "minor",
    "natural minor": "minor",
    "dor": "dorian",
    "phryg": "phrygian",
    "lyd": "lydian",
    "mixo": "mixolydian",
    "mixolyd": "mixolydian",
    "loc": "locrian",
}

# Semitones above the tonic for each mode's scale degrees (one table with the composer's).
MODE_INTERVALS: dict[str, tuple[int, ...]] = {mode: THEORY_MODES[mode] for mode in MODES}

NATURAL_PITCH_CLASSES: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

KEY_FORM_HELP = (
    "write a tonic A-G with an optional # or b, then a mode (major, minor, dorian, phrygian, "
    'lydian, mixolydian or locrian), e.g. "C major", "F# minor", "D dorian", "Bb", "Ebm"'
)


class KeyNameError(MusicdError, ValueError):
    """A key name that cannot be read; the message says which forms are allowed."""


def _any_case(word: str) -> str:
    """A regex matching `word` in any letter case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _build_key_pattern() -> str:
    mode_words = sorted({*MODES, *MODE_ALIASES}, key=lambda word: (-len(word), word))
    modes = "|".join(_any_case(word).replace(r"\ ", r"\s+") for word in mode_words)
    sharp_flat = f"{_any_case('sharp')}|{_any_case('flat')}"
    accidental = f"(#|\u266f|b|B|\u266d|-?\\s*(?:{sharp_flat}))"
    return f"^\\s*([A-Ga-g])\\s*{accidental}?\\s*[-_]?\\s*({modes})?\\s*$"


# One grammar for both the parser and the JSON Schema (Python and ECMA-262 read it alike).
KEY_PATTERN: str = _build_key_pattern()
_KEY_RE = re.compile(KEY_PATTERN)


_ACCIDENTAL_WORDS = frozenset({"", "#", "\u266f", "sharp", "-sharp", "b", "\u266d", "flat", "-flat"})


def _accidental_sign(accidental: str | None) -> str:
    if not accidental:
        return ""
    text = accidental.lower().lstrip("-").strip()
    return "#" if text in ("#", "\u266f", "sharp") else "b"


@dataclass(frozen=True)
class KeySpec:
    """A key: tonic spelled as written ("F#", "Bb") and one of MODES."""

    tonic: str
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise KeyNameError(f"{self.mode!r} is not a mode; modes: {', '.join(MODES)}")
        tonic_to_pitch_class(self.tonic)

    @property
    def pitch_class(self) -> int:
        """The tonic's pitch class, 0 (C) .. 11 (B)."""
        return tonic_to_pitch_class(self.tonic)

    def scale_pitch_classes(self) -> tuple[int, ...]:
        """The seven pitch classes of the scale, starting at the tonic."""
        return tuple((self.pitch_class + step) % 12 for step in MODE_INTERVALS[self.mode])

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


def parse_key(text: str) -> KeySpec:
    """Read a key name such as "A minor", "f# min", "Bb", "Ebm", "D dorian", "C sharp major".

    A bare tonic means major; "m" means minor and "M" major. Raises KeyNameError otherwise.
    """
    match = _KEY_RE.match(text) if isinstance(text, str) else None
    if match is None:
        shown = text if isinstance(text, str) else repr(text)
        raise KeyNameError(f'"{shown}" is not a key; {KEY_FORM_HELP}')
    letter, accidental, mode_word = match.groups()
    tonic = letter.upper() + _accidental_sign(accidental)
    if mode_word is None or mode_word == "M":
        mode = "major"
    else:
        word = " ".join(mode_word.lower().split())
        mode = MODE_ALIASES.get(word, word)
    return KeySpec(tonic=tonic, mode=mode)


def tonic_to_pitch_class(tonic: str) -> int:
    """Pitch class 0..11 of a tonic such as "C", "f#", "Bb", "bb", "E\u266d"."""
    text = tonic.strip() if isinstance(tonic, str) else ""
    if not text or text[0].upper() not in NATURAL_PITCH_CLASSES:
        raise KeyNameError(f"{tonic!r} is not a tonic; write a letter A-G with an optional # or b")
    rest = text[1:].strip().lower()
    if rest not in _ACCIDENTAL_WORDS:
        raise KeyNameError(f"{tonic!r} is not a tonic; write a letter A-G with an optional # or b")
    shift = {"#": 1, "b": -1, "": 0}[_accidental_sign(rest)]
    return (NATURAL_PITCH_CLASSES[text[0].upper()] + shift) % 12
