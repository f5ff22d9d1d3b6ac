"""Field kinds: each checks one YAML value, collecting plain-language problems, and describes
itself as JSON Schema, so the validator and the schema come from the same definitions."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from musicd.music.theory import KEY_FORM_HELP, KEY_PATTERN, TheoryError, parse_key
from musicd.spec.yaml_source import Path, SourceIndex, format_path
from musicd.text import closest


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()  # returned by a check that has recorded its problems


def _shorten(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def format_number(value: float) -> str:
    """90.0 -> "90", 82.5 -> "82.5"."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return _shorten(str(value))


def describe(value: Any) -> str:
    """What a value is, in words, for "expected X, got Y" messages (never dumps big structures)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"true/false ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({format_number(value)})"
    if isinstance(value, str):
        return f'text ("{_shorten(value)}")'
    if isinstance(value, list):
        return f"a list ({len(value)} {'entry' if len(value) == 1 else 'entries'})"
    if isinstance(value, dict):
        return "a mapping (field: value pairs)"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"a date ({value.isoformat()})"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.casefold())


def unknown_field_message(name: str, known: Sequence[str], hints: Mapping[str, str]) -> str:
    """ "unknown field; did you mean duration?" with a suggestion from spelling or common synonyms."""
    squashed = _squash(name)
    for candidate in known:
        if _squash(candidate) == squashed:
            return f"unknown field; did you mean {candidate}?"
    for synonym, target in hints.items():
        if _squash(synonym) == squashed:
            outer, _, inner = target.rpartition(".")
            shown = f"{inner} inside {outer}" if outer else inner
            return f"unknown field; did you mean {shown}?"
    by_lower = {candidate.lower(): candidate for candidate in known}
    close = closest(name.lower(), by_lower, limit=2)
    if close:
        return f"unknown field; did you mean {' or '.join(close)}?"
    return f"unknown field; the fields here are: {', '.join(known)}"


class Checker:
    """Collects problems with their field paths and line numbers; reads raw scalar text."""

    def __init__(self, index: SourceIndex) -> None:
        self.index = index
        self._found: list[tuple[int, int, str]] = []

    def problem(self, path: Path, message: str, *, at_key: bool = False, line: int | None = None) -> None:
        """Record `message` about `path`; the line is looked up in the index unless given."""
        if line is None:
            line = self.index.key_line(path) if at_key else self.index.line(path)
        where = format_path(path)
        text = f"{where}: {message}" if where else message
        if line is not None:
            text += f" (line {line})"
        self._found.append((line if line is not None else 1 << 30, len(self._found), text))

    @property
    def problems(self) -> list[str]:
        """Every problem found, in file order."""
        return [text for _, _, text in sorted(self._found)]

    def text_of(self, value: Any, path: Path) -> str | None:
        """The text the user wrote: strings as is; for a plain scalar YAML read as a number,
        boolean or date ("1:30", "no", "2024-01-01") its source text; None for other values."""
        if isinstance(value, str):
            return value
        if value is None or isinstance(value, (list, dict, bytes)):
            return None
        raw = self.index.raw(path)
        if raw is not None:
            return raw
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return format_number(value)
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return None

    def show(self, value: Any, path: Path) -> str:
        """The value as the user wrote it: text in quotes, numbers bare."""
        if isinstance(value, str):
            return f'"{_shorten(value)}"'
        raw = self.index.raw(path)
        if raw is not None:
            return _shorten(raw)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_number(value)
        return describe(value)


class Kind:
    """One kind of field value."""

    expected = "a value"

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def wrong_type(self, value: Any, path: Path, checker: Checker, hint: str = "") -> Any:
        checker.problem(path, f"expected {self.expected}, got {describe(value)}{hint}")
        return INVALID


_HALF_CHARACTER = re.compile("[\ud800-\udfff]")  # a lone UTF-16 surrogate: no file or database can store it


class Text(Kind):
    """Free text with a length bound."""

    def __init__(self, max_chars: int, *, single_line: bool = False, empty_hint: str = "") -> None:
        self.max_chars = max_chars
        self.single_line = single_line
        self.empty_hint = empty_hint
        self.expected = "one line of text" if single_line else "text"

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        text = checker.text_of(value, path)
        if text is None:
            return self.wrong_type(value, path, checker)
        text = text.strip()
        if not text:
            checker.problem(path, f"is empty; {self.empty_hint or 'write something or leave the field out'}")
            return INVALID
        half = _HALF_CHARACTER.search(text)
        if half is not None:
            checker.problem(
                path,
                f"holds half a character (U+{ord(half.group()):04X}, from a \\uD800-\\uDFFF escape "
                "without its other half); write the character itself",
            )
            return INVALID
        if self.single_line and "\n" in text:
            checker.problem(path, "must be a single line of text")
            return INVALID
        if len(text) > self.max_chars:
            checker.problem(
                path, f"is {len(text)} characters long; allowed up to {self.max_chars} characters"
            )
            return INVALID
        return text

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": self.max_chars}
        if self.single_line:
            schema["pattern"] = "^[^\\n]*$"
        return schema


class Number(Kind):
    """A number within an inclusive range, optionally whole."""

    def __init__(
        self,
        low: int,
        high: int,
        *,
        integer: bool = False,
        unit: str = "",
        low_word: str = "too low",
        high_word: str = "too high",
        allowed: str = "",
    ) -> None:
        self.low, self.high, self.integer, self.unit = low, high, integer, unit
        self.low_word, self.high_word = low_word, high_word
        self.allowed = allowed or f"{low}..{high}" + (f" {unit}" if unit else "")
        self.expected = allowed or f"{'a whole number' if integer else 'a number'} ({self.allowed})"

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = ""
            if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d+)?\s*", value):
                hint = "; write the number without quotes"
            return self.wrong_type(value, path, checker, hint)
        return self.check_range(value, checker.show(value, path), path, checker)

    def check_range(self, value: float, shown: str, path: Path, checker: Checker) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            checker.problem(path, f"{shown} is not a usable number; allowed {self.allowed}")
            return INVALID
        if self.integer and value != int(value):
            checker.problem(path, f"{shown} is not a whole number; allowed {self.allowed}")
            return INVALID
        if value < self.low or value > self.high:
            word = self.low_word if value < self.low else self.high_word
            checker.problem(path, f"{shown} is {word}; allowed {self.allowed}")
            return INVALID
        return int(value) if self.integer else float(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer" if self.integer else "number", "minimum": self.low, "maximum": self.high}


# Seconds ("90", "90s", "90 seconds"), minutes:seconds ("1:30", "01:30.5"), or "2m", "1m30s", "1 min 30 s".
DURATION_PATTERN = (
    r"^\s*(?:(\d+):([0-5]?\d(?:\.\d+)?)"
    r"|(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?"
    r"|(\d+)\s*(?:m|min|mins|minutes)\s*(?:(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?)?)\s*$"
)
_DURATION_RE = re.compile(DURATION_PATTERN)
MAX_DURATION_CHARS = 32


def parse_duration_s(text: str) -> float | None:
    """Seconds in "90", "90s", "1:30", "2m", "1m30s"; None if the text is not a duration."""
    if len(text) > MAX_DURATION_CHARS:  # bounds the pattern's work and the numbers it reads
        return None
    match = _DURATION_RE.match(text)
    if match is None:
        return None
    minutes, seconds, plain, long_minutes, long_seconds = match.groups()
    if plain is not None:
        return float(plain)
    if minutes is not None:
        return int(minutes) * 60 + float(seconds)
    return int(long_minutes) * 60 + float(long_seconds or 0)


class Duration(Number):
    """Seconds as a number or as text such as "1:30"."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(low, high, unit="seconds", low_word="too short", high_word="too long")
        self.expected = f'seconds ({self.allowed}) or minutes:seconds such as "1:30"'

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        if isinstance(value, str):
            seconds = parse_duration_s(value)
            if seconds is None:
                checker.problem(
                    path,
                    f'"{_shorten(value)}" is not a duration; write seconds (90) or '
                    f'minutes:seconds ("1:30"), allowed {self.allowed}',
                )
                return INVALID
            return self.check_range(seconds, f'"{value.strip()}"', path, checker)
        return super().check(value, path, checker)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [super().json_schema(), {"type": "string", "pattern": DURATION_PATTERN}]}


class Flag(Kind):
    """true or false."""

    expected = "true or false"

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        return value if isinstance(value, bool) else self.wrong_type(value, path, checker)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Choice(Kind):
    """One name from a fixed set, read through a lookup that accepts aliases and any case."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        enum: Sequence[str],
        *,
        noun: str,
        allowed: str,
        suggest: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.lookup, self.enum, self.noun = lookup, tuple(enum), noun
        self.allowed, self.suggest = allowed, suggest
        self.expected = f"{noun} ({allowed})" if len(allowed) < 80 else noun

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        text = checker.text_of(value, path)
        if text is None:
            return self.wrong_type(value, path, checker)
        found = self.lookup(text)
        if found is not None:
            return found
        close = self.suggest(text) if self.suggest else []
        message = f'"{_shorten(text)}" is not {self.noun}'
        if close:
            message += f" (did you mean {' or '.join(close)}?)"
        checker.problem(path, f"{message}; allowed: {self.allowed}")
        return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.enum)}


class ListOf(Kind):
    """A list of one kind (a single value counts as a one-entry list); duplicates dropped."""

    def __init__(self, item: Kind, max_items: int, *, noun_plural: str, split_commas: bool = False) -> None:
        self.item, self.max_items, self.noun_plural = item, max_items, noun_plural
        self.split_commas = split_commas
        self.expected = f"a list of {noun_plural}"

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        if isinstance(value, dict):
            return self.wrong_type(value, path, checker, f", e.g. [{self.item_example()}]")
        if isinstance(value, list):
            entries = [(item, path + (i,)) for i, item in enumerate(value)]
        elif self.split_commas and isinstance(value, str) and "," in value:
            entries = [(part, path) for part in value.split(",") if part.strip()]
        else:
            entries = [(value, path)]
        if len(entries) > self.max_items:
            checker.problem(
                path, f"has {len(entries)} entries; allowed up to {self.max_items} {self.noun_plural}"
            )
            return INVALID
        results = [self.item.check(item, item_path, checker) for item, item_path in entries]
        if any(result is INVALID for result in results):
            return INVALID
        return tuple(dict.fromkeys(results))

    def item_example(self) -> str:
        return self.item.enum[0] if isinstance(self.item, Choice) and self.item.enum else "..."

    def json_schema(self) -> dict[str, Any]:
        item = self.item.json_schema()
        return {"anyOf": [{"type": "array", "items": item, "maxItems": self.max_items}, item]}


class KeyName(Kind):
    """A musical key such as "A minor" (musicd.music.theory grammar)."""

    def __init__(self) -> None:
        self.expected = 'a key name such as "A minor"'

    def check(self, value: Any, path: Path, checker: Checker) -> Any:
        text = checker.text_of(value, path)
        if text is None:
            return self.wrong_type(value, path, checker)
        try:
            return parse_key(text)
        except TheoryError:
            checker.problem(path, f'"{_shorten(text)}" is not a key; {KEY_FORM_HELP}')
            return INVALID

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": KEY_PATTERN,
            "examples": ["A minor", "F# minor", "D dorian", "Bb", "Ebm"],
        }


@dataclass(frozen=True)
class Field:
    """One named field of a mapping."""

    name: str
    kind: Kind
    description: str
    default: Any = None


class Section(Kind):
    """A mapping of named fields; unknown names are problems with a "did you mean"."""

    def __init__(
        self, fields: Sequence[Field], *, example: str, hints: Mapping[str, str] | None = None
    ) -> None:
        self.fields = {field.name: field for field in fields}
        self.example = example
        self.hints = dict(hints or {})
        self.expected = f"a mapping with {', '.join(self.fields)}"

    def check(
        self,
        value: Any,
        path: Path,
        checker: Checker,
        injected: Mapping[str, tuple[Any, Path]] | None = None,
    ) -> Any:
        """Checked values by field name (absent and null fields left out), or INVALID."""
        if not isinstance(value, dict):
            return self.wrong_type(value, path, checker, f", e.g. {self.example}")
        entries: dict[str, tuple[Any, Path]] = dict(injected or {})
        ok = True
        for key, item in value.items():
            if not isinstance(key, str):
                checker.problem(path, f"field names are words; {describe(key)} is not a field name")
                ok = False
            elif key not in self.fields:
                checker.problem(
                    path + (key,), unknown_field_message(key, list(self.fields), self.hints), at_key=True
                )
                ok = False
            elif item is not None:
                entries[key] = (item, path + (key,))
        checked: dict[str, Any] = {}
        for name, (item, item_path) in entries.items():
            result = self.fields[name].kind.check(item, item_path, checker)
            ok = ok and result is not INVALID
            checked[name] = result
        return checked if ok else INVALID

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: field_schema(field) for name, field in self.fields.items()},
            "additionalProperties": False,
        }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also accepts null (null means "use the default")."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def field_schema(field: Field) -> dict[str, Any]:
    """The JSON Schema of one field: description first, then its kind, then the default."""
    schema: dict[str, Any] = {"description": field.description}
    schema.update(nullable(field.kind.json_schema()))
    if field.default is not None:
        schema["default"] = field.default
    return schema
