"""Read a YAML document safely and remember where each field sits (for line numbers in messages)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from musicd.errors import SpecError

MAX_SPEC_BYTES = 64 * 1024
_MAX_WALK_DEPTH = 8
_MAX_WALK_ENTRIES = 20_000  # aliases can make the node tree look exponentially large
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"

Path = tuple["str | int", ...]


def format_path(path: Path) -> str:
    """("jobs", 2, "vocals", "languages", 0) -> "jobs[2].vocals.languages[0]"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if len(part) <= 40 else part[:39] + "\u2026"
            text += f".{name}" if text else name
    return text


@dataclass(frozen=True)
class NodeInfo:
    """Where one value sits in the file: the line of its key (if any), its own line, its raw text."""

    key_line: int | None
    value_line: int
    raw: str | None  # source text of a scalar ("1:30", "yes", "no"), None for lists/mappings


@dataclass
class SourceIndex:
    """Field paths -> positions in the YAML text (1-based lines); empty for non-YAML input."""

    nodes: dict[Path, NodeInfo] = field(default_factory=dict)
    duplicates: list[tuple[Path, int, int]] = field(default_factory=list)  # path, first, again

    def line(self, path: Path) -> int | None:
        """The line of the value at `path`, else of its nearest ancestor that has one."""
        info = self.nodes.get(path)
        if info is not None:  # a scalar's own line; a list's or mapping's key line
            return info.value_line if info.raw is not None or info.key_line is None else info.key_line
        for end in range(len(path) - 1, -1, -1):
            info = self.nodes.get(path[:end])
            if info is not None:
                return info.key_line or info.value_line
        return None

    def key_line(self, path: Path) -> int | None:
        """The line of the key at `path` (falls back to line())."""
        info = self.nodes.get(path)
        if info is not None and info.key_line is not None:
            return info.key_line
        return self.line(path)

    def raw(self, path: Path) -> str | None:
        info = self.nodes.get(path)
        return info.raw if info is not None else None


def _problem(message: str, source: str) -> SpecError:
    return SpecError([message], source)


def oversized_problem(size_bytes: int, source: str) -> SpecError:
    """The problem of a spec file over MAX_SPEC_BYTES."""
    size = f"{size_bytes / 1024:.1f} KiB" if size_bytes < 1024**2 else f"{size_bytes / 1024**2:,.1f} MiB"
    return _problem(
        f"the file is {size}; a job spec may be at most "
        f"{MAX_SPEC_BYTES // 1024} KiB (long lyrics belong in `lyrics:`, up to a few pages)",
        source,
    )


def decode_spec_bytes(data: bytes | str, source: str) -> str:
    """The spec's text; rejects oversized, binary and non-UTF-8 input with a plain message."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_SPEC_BYTES:
        raise oversized_problem(len(raw), source)
    if isinstance(data, str):
        text = data
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise _problem("the file is not readable text; save it as UTF-8", source) from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            raise _problem(
                f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); "
                "a job spec is a plain-text YAML file, save it as UTF-8",
                source,
            ) from None
    text = text.lstrip("\ufeff")
    bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if bad:
        line = text[: bad.start()].count("\n") + 1
        raise _problem(
            f"the file contains binary data (control character 0x{ord(bad.group()):02x} on line "
            f"{line}); a job spec is a plain-text YAML file",
            source,
        )
    return text


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


_SPEC_KIND = "job spec"
_SPEC_ONE_DOCUMENT_HINT = "put one job per file, or several jobs in a `jobs:` list"


def yaml_error_text(
    err: yaml.YAMLError,
    text: str | None = None,
    *,
    kind: str = _SPEC_KIND,
    one_document_hint: str = _SPEC_ONE_DOCUMENT_HINT,
) -> str:
    """One plain-language problem line for a YAML error, with its line number.

    `text` is the document parsed (for the line of a bad character); `kind` names
    the document in the tag message ("a job spec holds only ..."); `one_document_hint`
    follows the complaint about a second `---` document.
    """
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1})" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err)
    if isinstance(err, yaml.reader.ReaderError):
        line = None if text is None else text.count("\n", 0, err.position) + 1
        at = f" (line {line})" if line is not None else ""
        return f"the file contains a character YAML does not allow{at}; save it as plain text"
    if isinstance(err, yaml.constructor.ConstructorError):
        tag = re.search(r"tag '([^']+)'", problem)
        if tag:
            return (
                f"the tag {_short_tag(tag.group(1))} is not allowed{where}; a {kind} holds only "
                "plain text, numbers, true/false, lists and mappings"
            )
        if "unhashable" in problem:
            return f"a list or mapping is used as a field name{where}; field names are plain words"
        return f"the file could not be read as YAML: {problem}{where}"
    if isinstance(err, yaml.composer.ComposerError):
        if "single document" in (getattr(err, "context", "") or ""):
            second = f" (another `---` on line {mark.line + 1})" if mark is not None else ""
            return f"the file holds more than one YAML document{second}; {one_document_hint}"
        if "undefined alias" in problem:
            return f"the file uses an alias (*name) with no matching anchor (&name){where}"
    hint = (
        '; check the indentation, and put quotes around text that contains ": " or starts '
        "with a special character such as *, &, !, %, @ or `"
    )
    return f"the file is not valid YAML: {problem}{where}{hint}"


class _TooLarge(Exception):
    """The document expands (through aliases and merges) past what a job spec can be."""


class _Walker:
    """Builds a SourceIndex from a composed node tree (before construction resolves merges)."""

    def __init__(self) -> None:
        self.index = SourceIndex()
        self.budget = _MAX_WALK_ENTRIES

    def record(self, path: Path, key_node: yaml.Node | None, node: yaml.Node) -> None:
        if path in self.index.nodes:
            return
        raw = node.value if isinstance(node, yaml.ScalarNode) else None
        key_line = key_node.start_mark.line + 1 if key_node is not None else None
        self.index.nodes[path] = NodeInfo(key_line, node.start_mark.line + 1, raw)

    def walk(self, node: yaml.Node, path: Path, depth: int = 0) -> None:
        self.budget -= 1
        if self.budget < 0 or depth > _MAX_WALK_DEPTH:
            return
        if isinstance(node, yaml.MappingNode):
            for key, key_node, value_node in self._pairs(node, path):
                self.record(path + (key,), key_node, value_node)
                self.walk(value_node, path + (key,), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.record(path + (i,), None, item)
                self.walk(item, path + (i,), depth + 1)

    def _pairs(self, node: yaml.MappingNode, path: Path) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """Own pairs first, then merged (`<<: *anchor`) ones; own keys win; own duplicates noted.

        Every pair and every merge counts against the walk's budget: merges of merges can
        make a small file expand exponentially, and that is refused, not computed.
        """
        seen: dict[str, int] = {}
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        merges: list[yaml.Node] = []
        self.budget -= len(node.value)
        if self.budget < 0:
            raise _TooLarge
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.extend(value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node])
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                self.index.duplicates.append((path + (key,), seen[key], line))
            else:
                seen[key] = line
            pairs.append((key, key_node, value_node))
        for merged in merges:
            if isinstance(merged, yaml.MappingNode):
                for key, key_node, value_node in self._pairs(merged, path):
                    if key not in seen:
                        seen[key] = key_node.start_mark.line + 1
                        pairs.append((key, key_node, value_node))
        return pairs


# \uD800-\uDFFF and \U0000D800-\U0000DFFF: the escapes that give half a character
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]|\\U0000[dD][89a-fA-F]")


def _json_tabs_as_spaces(text: str) -> str:
    """JSON indented with tabs, with each tab as a space (PyYAML refuses tabs between tokens).

    Valid JSON holds no raw tab inside a string, so for a document that parses as JSON this
    changes no value and keeps every line number; any other text is returned as it is.
    """
    if "\t" not in text or text.lstrip()[:1] not in ("{", "["):
        return text
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return text
    return text.replace("\t", " ")


def _json_error_text(text: str, source: str) -> str | None:
    """For a *.json file YAML could not read either: JSON's own complaint, with its line."""
    if not source.lower().endswith(".json"):
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return f"the file is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
    except (ValueError, RecursionError):
        return None
    return None


def _whole_characters(document: Any, text: str, source: str) -> Any:
    """Join the UTF-16 halves that `\\uD83C\\uDFB5` escapes leave in strings (JSON writers such
    as Python's json.dumps escape every emoji so) into one character; refuse a lone half.

    Containers are visited once each (aliases share them), so the work stays linear.
    """
    if not _SURROGATE_ESCAPE.search(text):
        return document

    def whole(value: str) -> str:
        try:
            return value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            raise _problem(
                "the file has a \\uD800-\\uDFFF escape without its other half (an emoji or rare "
                "character is written as two such escapes, e.g. \\uD83C\\uDFB5); write the "
                "character itself, or both halves",
                source,
            ) from None

    def fix(value: Any) -> Any:
        return whole(value) if isinstance(value, str) else value

    seen: set[int] = set()
    pending = [document]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            pairs = [(fix(key), value) for key, value in item.items()]
            item.clear()
            for key, value in pairs:
                item[key] = fix(value)
                pending.append(value)
        elif isinstance(item, list):
            item[:] = [fix(value) for value in item]
            pending.extend(item)
    return fix(document)


def read_yaml(data: bytes | str, source: str) -> tuple[Any, SourceIndex]:
    """Parse with PyYAML's SafeLoader; returns the document and where its fields sit.

    JSON is read the same way (it is YAML), tab indentation included. Raises SpecError for
    input that is not a readable YAML document (empty files included).
    """
    text = _json_tabs_as_spaces(decode_spec_bytes(data, source))
    try:
        loader = yaml.SafeLoader(text)  # its reader already refuses some characters
    except yaml.YAMLError as err:
        raise _problem(yaml_error_text(err, text), source) from None
    try:
        node = loader.get_single_node()
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            raise _problem(
                "the file is empty; a job spec needs at least a prompt or genres, e.g. "
                "`prompt: relaxing lofi for studying` or `genres: [lofi]`",
                source,
            )
        walker = _Walker()
        walker.record((), None, node)
        walker.walk(node, ())
        document = _whole_characters(loader.construct_document(node), text, source)
    except yaml.YAMLError as err:
        raise _problem(_json_error_text(text, source) or yaml_error_text(err, text), source) from None
    except RecursionError:
        raise _problem("the file is nested too deeply to be a job spec", source) from None
    except _TooLarge:
        raise _problem(
            "the file expands to too many entries through YAML aliases and merge keys (<<); "
            "a job spec is a few dozen fields: write them out",
            source,
        ) from None
    except ValueError as err:  # e.g. an integer with thousands of digits
        detail = "a number with thousands of digits" if "digits" in str(err) else str(err)
        raise _problem(f"the file holds a value that cannot be read ({detail})", source) from None
    finally:
        loader.dispose()
    return document, walker.index
