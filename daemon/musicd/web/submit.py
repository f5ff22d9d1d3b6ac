"""Submitting from the web: a form, a YAML box or an API body -> the same validator -> the inbox.

Nothing is written unless every job of the spec is valid. A valid spec is written
atomically (hidden temporary name, fsync, rename) into the inbox as `web-<ID>.yaml`,
so the service stays the only thing that ingests it; <ID> (a ULID) names the
submission until the service has given it a job id, and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from musicd import durable
from musicd.errors import SpecError
from musicd.queue.store import new_id

SUBMISSION_PREFIX = "web-"
ERROR_SUFFIX = ".error.txt"  # what the service writes beside a rejected spec
_LINE = re.compile(r"\s*\(line \d+\)\s*$")
_FIELD = re.compile(r"^([A-Za-z_][\w-]*)")
_SUBMISSION_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

# The body fields of the original HTTP API (the validator accepts these names as aliases).
API_FIELDS = (
    "musicPrompt",
    "genres",
    "durationSec",
    "artistInspiration",
    "lyrics",
    "vocalLanguages",
    "generateVideo",
    "videoStyles",
)


@dataclass(frozen=True)
class Checked:
    """A validated spec ready for the inbox, or its problems by field."""

    text: str
    jobs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_field(self) -> dict[str, list[str]]:
        """Problems keyed by their top-level field ('' for the file as a whole)."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            head, sep, _ = problem.partition(":")
            match = _FIELD.match(head) if sep else None
            grouped.setdefault(match.group(1) if match else "", []).append(problem)
        return grouped


def strip_line(problem: str) -> str:
    """A problem without its `(line N)`, for input that was never a YAML file."""
    return _LINE.sub("", problem)


def check_text(text: str, source: str = "spec") -> Checked:
    """Validate YAML text with musicd.spec (one job or a `jobs:` list)."""
    from musicd.spec import load_jobs

    try:
        jobs = load_jobs(text, source=source)
    except SpecError as exc:
        return Checked(text, problems=exc.problems or [str(exc)])
    return Checked(text, jobs=len(jobs))


def spec_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def form_to_spec(form: dict[str, Any]) -> dict[str, Any]:
    """The spec the simple form describes (blank fields left out; numbers as typed, the validator checks)."""
    spec: dict[str, Any] = {}
    for name in ("title", "prompt", "key", "lyrics"):
        value = str(form.get(name) or "").strip()
        if value:
            spec[name] = value.replace("\r\n", "\n")
    genres = [g for g in form.get("genres", []) if g]
    if genres:
        spec["genres"] = genres
    for name in ("duration", "bpm"):
        value = str(form.get(name) or "").strip()
        if value:
            spec[name] = _number(value)
    style = str(form.get("video") or "").strip()
    if style:
        spec["video"] = {"styles": [style]}
    return spec


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text  # "1:30" and typos go to the validator as text
    return int(number) if number.is_integer() else number


def api_body_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body must be a JSON object with the fields " + ", ".join(API_FIELDS)]
    return []


def write_submission(inbox: Path, text: str, now: datetime | None = None) -> str:
    """Write `text` atomically into the inbox as web-<ID>.yaml; returns <ID>."""
    submission_id = new_id(now or datetime.now(UTC))
    inbox.mkdir(parents=True, exist_ok=True)
    durable.write_text(inbox / submission_file(submission_id), text)
    return submission_id


def submission_file(submission_id: str) -> str:
    return f"{SUBMISSION_PREFIX}{submission_id}.yaml"


def submission_of(source_name: str | None) -> str | None:
    """The submission id of a spec file the web wrote (`web-<ID>.yaml`), else None."""
    if not source_name or not source_name.startswith(SUBMISSION_PREFIX) or not source_name.endswith(".yaml"):
        return None
    candidate = source_name[len(SUBMISSION_PREFIX) : -len(".yaml")]
    return candidate if is_submission_id(candidate) else None


def is_submission_id(text: str) -> bool:
    return bool(_SUBMISSION_ID.match(text.upper()))


@dataclass(frozen=True)
class Pending:
    """A submission the service has not turned into a job (yet): waiting in the inbox, or rejected."""

    submission_id: str
    state: str  # "submitted" | "rejected"
    error: str | None = None


def pending_submission(inbox: Path, submission_id: str) -> Pending | None:
    """Where a submission without a job row lies: still in the inbox, or rejected with its error text."""
    name = submission_file(submission_id.upper())
    if (inbox / name).is_file():
        return Pending(submission_id, "submitted")
    error_file = inbox / "rejected" / (name + ERROR_SUFFIX)
    if error_file.is_file():
        try:
            error = error_file.read_text(encoding="utf-8", errors="replace")[:20000]
        except OSError:
            error = "rejected by the service"
        return Pending(submission_id, "rejected", error)
    return None
