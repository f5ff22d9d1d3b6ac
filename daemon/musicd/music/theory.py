"""Music theory: pitch and key names, modes and scales, roman-numeral chords, key signatures.

The one reader of pitch, mode and key names ("F#", "e flat", "Aeolian", "Ebm", "D dorian").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from musicd.errors import MusicdError

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

# Scale intervals of each mode. "blues" is the major scale's frame with the blue minor
# third and minor seventh added (the notes of I7, IV7 and a blues melody).
MODE_INTERVALS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic-minor": (0, 2, 3, 5, 7, 8, 11),
    "blues": (0, 2, 3, 4, 5, 7, 9, 10),
}
# Other names of modes, in the form `_mode_word` gives them.
MODE_ALIASES: dict[str, str] = {
    "ionian": "major",
    "maj": "major",
    "aeolian": "minor",
    "min": "minor",
    "m": "minor",
    "natural-minor": "minor",
    "dor": "dorian",
    "phryg": "phrygian",
    "lyd": "lydian",
    "mixo": "mixolydian",
    "mixolyd": "mixolydian",
    "loc": "locrian",
}
# The modes a job spec's `key:` may name (the others are the composer's own).
KEY_MODES: tuple[str, ...] = ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian")
MAX_KEY_NAME_CHARS = 40
KEY_FORM_HELP = (
    "write a tonic A-G with an optional # or b, then a mode (major, minor, dorian, phrygian, "
    'lydian, mixolydian or locrian), e.g. "C major", "F# minor", "D dorian", "Bb", "Ebm"'
)

# Seven-note scale that roman-numeral degrees count in (blues counts in major).
_DEGREE_SCALE = {"blues": "major"}
# Offset from the mode's tonic down to the parent major key's tonic (for key signatures).
_PARENT_MAJOR_OFFSET = {
    "major": 0,
    "minor": 3,
    "dorian": -2,
    "phrygian": -4,
    "lydian": -5,
    "mixolydian": -7,
    "locrian": 1,
    "harmonic-minor": 3,
    "blues": 0,
}
# Intended chromatic pitch classes (interval above the tonic) per mode, and why they occur.
CHROMATIC_ALLOWANCES: dict[str, dict[int, str]] = {
    "blues": {11: "the major third of the V7 chord (the leading tone) in the 12-bar changes"},
}
MINOR_FAMILY = frozenset({"minor", "dorian", "phrygian", "locrian", "harmonic-minor"})


class TheoryError(MusicdError, ValueError):
    """A pitch name, mode, key or chord symbol could not be understood."""


def _mode_word(mode: str) -> str:
    """ "Natural  Minor" -> "natural-minor": lower case, runs of spaces, _ and - as one -."""
    return "-".join(mode.lower().replace("_", " ").replace("-", " ").split())


def normalise_mode(mode: str) -> str:
    """The canonical mode name ("Aeolian" -> "minor"); raises TheoryError if unknown."""
    key = _mode_word(mode)
    key = MODE_ALIASES.get(key, key)
    if key not in MODE_INTERVALS:
        raise TheoryError(f"unknown mode {mode!r}; use one of {', '.join(MODE_INTERVALS)}")
    return key


def mode_family(mode: str) -> str:
    """ "minor" for the minor-third modes, else "major"."""
    return "minor" if normalise_mode(mode) in MINOR_FAMILY else "major"


def pitch_class(name: str) -> int:
    """Pitch class 0..11 of a note name such as "C", "F#", "Bb", "E\u266d" or "e flat"."""
    text = name.strip().replace("♯", "#").replace("♭", "b") if isinstance(name, str) else ""
    words = text[1:].replace("-", " ").lower().split()
    if words in (["sharp"], ["flat"]):
        text = text[0] + ("#" if words == ["sharp"] else "b")
    if not text or text[0].upper() not in _LETTER_PC:
        raise TheoryError(f"unknown pitch name {name!r}; use a letter A-G with optional # or b")
    pc = _LETTER_PC[text[0].upper()]
    for accidental in text[1:]:
        if accidental == "#":
            pc += 1
        elif accidental == "b":
            pc -= 1
        else:
            raise TheoryError(f"unknown pitch name {name!r}; use a letter A-G with optional # or b")
    return pc % 12


def prefers_flats(tonic: str, mode: str) -> bool:
    """Whether notes in this key are spelled with flats."""
    if "b" in tonic[1:]:
        return True
    if "#" in tonic[1:]:
        return False
    return key_signature(tonic, mode)[0] < 0


def pitch_name(pc: int, flats: bool = False) -> str:
    return (FLAT_NAMES if flats else SHARP_NAMES)[pc % 12]


def tonic_name(name: str) -> str:
    """Tidy spelling of a tonic ("f#" -> "F#", "bb" -> "Bb")."""
    pc = pitch_class(name)
    return pitch_name(pc, flats="b" in name.strip()[1:].replace("♭", "b"))


def scale_pitch_classes(tonic: str | int, mode: str) -> frozenset[int]:
    root = tonic if isinstance(tonic, int) else pitch_class(tonic)
    return frozenset((root + i) % 12 for i in MODE_INTERVALS[normalise_mode(mode)])


def allowed_pitch_classes(tonic: str | int, mode: str) -> frozenset[int]:
    """The scale plus the mode's intended chromatic notes (see CHROMATIC_ALLOWANCES)."""
    root = tonic if isinstance(tonic, int) else pitch_class(tonic)
    extra = CHROMATIC_ALLOWANCES.get(normalise_mode(mode), {})
    return scale_pitch_classes(root, mode) | {(root + i) % 12 for i in extra}


def degree_scale(tonic_pc: int, mode: str) -> tuple[int, ...]:
    """The seven pitch classes that scale degrees 1..7 name in this mode."""
    mode = normalise_mode(mode)
    intervals = MODE_INTERVALS[_DEGREE_SCALE.get(mode, mode)]
    return tuple((tonic_pc + i) % 12 for i in intervals)


def key_signature(tonic: str, mode: str) -> tuple[int, bool]:
    """(accidentals, is_minor) for a MIDI key signature: sharps > 0, flats < 0.

    Church modes use the signature of their parent major scale, written as that scale's
    relative minor for minor-third modes (D dorian -> 0 accidentals, "A minor").
    """
    mode = normalise_mode(mode)
    parent_pc = (pitch_class(tonic) + _PARENT_MAJOR_OFFSET[mode]) % 12
    sharps = (parent_pc * 7) % 12
    accidentals = sharps if sharps <= 5 else sharps - 12
    if sharps == 6:  # F# / Gb: follow the spelling
        accidentals = -6 if "b" in tonic[1:] else 6
    return accidentals, mode in MINOR_FAMILY


# --- chords -------------------------------------------------------------------------------

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}
_CHORD_RE = re.compile(r"^(?P<acc>[b#]?)(?P<num>(?:vii|vi|v|iv|iii|ii|i))(?P<suffix>.*)$", re.I)
# Explicit qualities, intervals above the root; anything else is stacked in thirds from the scale.
_EXPLICIT = {
    "dom7": (0, 4, 7, 10),
    "dom9": (0, 4, 7, 10, 14),
    "5": (0, 7, 12),
}
_SUFFIXES = (
    "",
    "7",
    "9",
    "11",
    "6",
    "add9",
    "sus2",
    "sus4",
    "7sus4",
    "maj7",
    "maj9",
    "m7",
    "dom7",
    "dom9",
    "5",
    "ø7",
    "o",
    "+",
)


@dataclass(frozen=True)
class Chord:
    """A chord: its root and tones as pitch classes (root first), and its roman symbol."""

    symbol: str
    root_pc: int
    tones: tuple[int, ...]  # pitch classes, root, third, fifth, then extensions

    @property
    def triad(self) -> tuple[int, ...]:
        return self.tones[:3]

    def name(self, flats: bool = False) -> str:
        """Lead-sheet name such as "Am7" or "Fmaj9"."""
        ivs = {(t - self.root_pc) % 12 for t in self.tones}
        root = pitch_name(self.root_pc, flats)
        if 4 not in ivs and 3 not in ivs:
            base = "5" if ivs <= {0, 7} else ("sus4" if 5 in ivs else "sus2")
            return root + base
        minor = 3 in ivs and 4 not in ivs
        dim = minor and 6 in ivs and 7 not in ivs
        text = root + ("dim" if dim and 10 not in ivs else "m" if minor else "")
        if dim and 10 in ivs:
            text = root + "m7b5"
        elif 11 in ivs:
            text += "maj7" if 2 not in ivs else "maj9"
        elif 10 in ivs:
            text += "7" if 2 not in ivs else "9"
        elif 9 in ivs:
            text += "6"
        elif 2 in ivs:
            text += "add9"
        return text


def parse_roman(symbol: str, tonic_pc: int, mode: str) -> Chord:
    """A chord from a roman numeral in a key: degrees count in the mode's scale and the
    chord is stacked in the mode's thirds ("ii7" in C major = D F A C) unless the suffix
    names a quality outright (dom7, dom9, 5 for a power chord). A leading b/# shifts the
    root chromatically and builds a major triad (bVII in major = the borrowed chord)."""
    match = _CHORD_RE.match(symbol.strip())
    if not match or match["suffix"] not in _SUFFIXES:
        raise TheoryError(f"unknown chord symbol {symbol!r}; use roman numerals like ii7, V, bVII")
    scale = degree_scale(tonic_pc, mode)
    degree = _ROMAN[match["num"].lower()] - 1
    suffix = match["suffix"]
    if match["acc"]:
        shift = -1 if match["acc"] == "b" else 1
        root = (scale[degree] + shift) % 12
        ivs: tuple[int, ...] = (0, 3, 7) if match["num"].islower() else (0, 4, 7)
        if suffix == "7":
            ivs = ivs + ((10,) if match["num"].isupper() else (10,))
        return Chord(symbol, root, tuple((root + i) % 12 for i in ivs))
    root = scale[degree]
    if suffix in _EXPLICIT:
        return Chord(symbol, root, tuple((root + i) % 12 for i in _EXPLICIT[suffix]))

    def third_above(step: int) -> int:
        return scale[(degree + step) % 7]

    triad = [root, third_above(2), third_above(4)]
    if suffix in ("sus2", "sus4", "7sus4"):
        triad[1] = third_above(1) if suffix == "sus2" else third_above(3)
    tones = list(triad)
    if suffix in ("7", "9", "11", "maj7", "maj9", "m7", "ø7", "7sus4"):
        tones.append(third_above(6))
    if suffix in ("9", "maj9", "11", "add9"):
        tones.append(third_above(1))
    if suffix == "11":
        tones.append(third_above(3))
    if suffix == "6":
        tones.append(third_above(5))
    return Chord(symbol, root, tuple(tones))


def roman_case_matches(symbol: str, tonic_pc: int, mode: str) -> bool:
    """Whether the numeral's case agrees with the chord's third (upper = major)."""
    match = _CHORD_RE.match(symbol.strip())
    if not match:
        return False
    chord = parse_roman(symbol, tonic_pc, mode)
    ivs = {(t - chord.root_pc) % 12 for t in chord.tones}
    if 3 not in ivs and 4 not in ivs:
        return True
    return match["num"].isupper() == (4 in ivs)


def recase_roman(symbol: str, tonic_pc: int, mode: str) -> str:
    """The symbol with its numeral's case set from the chord it makes in this mode."""
    match = _CHORD_RE.match(symbol.strip())
    if not match or match["acc"]:
        return symbol
    chord = parse_roman(symbol, tonic_pc, mode)
    ivs = {(t - chord.root_pc) % 12 for t in chord.tones}
    if 3 not in ivs and 4 not in ivs:
        return symbol
    num = match["num"].upper() if 4 in ivs else match["num"].lower()
    return num + match["suffix"]


def nearest_pitch(pc: int, target: int, low: int = 0, high: int = 127) -> int:
    """The MIDI pitch with class `pc` closest to `target`, kept within [low, high]."""
    base = target - ((target - pc) % 12)
    candidates = [p for p in (base - 12, base, base + 12, base + 24) if low <= p <= high]
    if not candidates:
        candidates = [p for p in range(low, high + 1) if p % 12 == pc] or [target]
    return min(candidates, key=lambda p: (abs(p - target), p))


# ---------------------------------------------------------------------------- keys


def _any_case(word: str) -> str:
    """A regex matching `word` in any letter case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _key_schema_pattern() -> str:
    words = sorted({*KEY_MODES, *MODE_ALIASES}, key=lambda word: (-len(word), word))
    modes = "|".join(_any_case(word).replace(r"\-", r"[-\s]+") for word in words)
    accidental = f"(#|\u266f|b|B|\u266d|-?\\s*(?:{_any_case('sharp')}|{_any_case('flat')}))"
    return f"^\\s*([A-Ga-g])\\s*{accidental}?\\s*[-_]?\\s*({modes})?\\s*$"


# The key grammar for the JSON Schema (editors); `parse_key` reads the same grammar in linear time.
KEY_PATTERN: str = _key_schema_pattern()

_ACCIDENTALS = (("sharp", "#"), ("flat", "b"), ("#", "#"), ("\u266f", "#"), ("\u266d", "b"), ("b", "b"))


@dataclass(frozen=True)
class KeySpec:
    """A key: tonic spelled as written ("F#", "Bb") and one of KEY_MODES."""

    tonic: str
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in KEY_MODES:
            raise TheoryError(f"{self.mode!r} is not a mode; modes: {', '.join(KEY_MODES)}")
        pitch_class(self.tonic)

    @property
    def pitch_class(self) -> int:
        """The tonic's pitch class, 0 (C) .. 11 (B)."""
        return pitch_class(self.tonic)

    def scale_pitch_classes(self) -> tuple[int, ...]:
        """The seven pitch classes of the scale, starting at the tonic."""
        return tuple((self.pitch_class + step) % 12 for step in MODE_INTERVALS[self.mode])

    def __str__(self) -> str:
        return f"{self.tonic} {self.mode}"


def parse_key(text: str) -> KeySpec:
    """Read a key name such as "A minor", "f# min", "Bb", "Ebm", "D dorian", "C sharp major".

    A bare tonic means major; "m" means minor and "M" major. Raises TheoryError otherwise.
    Linear in the length of `text`, which is bounded (MAX_KEY_NAME_CHARS).
    """
    if not isinstance(text, str):
        raise TheoryError(f"{text!r} is not a key; {KEY_FORM_HELP}")
    shown = text if len(text) <= MAX_KEY_NAME_CHARS else text[:MAX_KEY_NAME_CHARS] + "\u2026"
    problem = TheoryError(f'"{shown}" is not a key; {KEY_FORM_HELP}')
    rest = text.strip()
    if len(text) > MAX_KEY_NAME_CHARS or not rest or rest[0] not in "ABCDEFGabcdefg":
        raise problem
    letter, rest = rest[0].upper(), rest[1:].lstrip()
    sign = ""
    after_dash = rest[1:].lstrip().lower() if rest.startswith("-") else ""
    for word, mark in _ACCIDENTALS:
        if rest.lower().startswith(word) and (word != "b" or rest[:1] in "bB"):
            sign, rest = mark, rest[len(word) :]
            break
        if len(word) > 1 and after_dash.startswith(word):
            sign, rest = mark, rest[1:].lstrip()[len(word) :]
            break
    rest = rest.strip()
    if rest[:1] in ("-", "_"):
        rest = rest[1:].strip()
    if rest in ("", "M"):
        return KeySpec(letter + sign, "major")
    mode = MODE_ALIASES.get(_mode_word(rest), _mode_word(rest))
    if mode not in KEY_MODES or rest[:1] in "-_":
        raise problem
    return KeySpec(letter + sign, mode)
