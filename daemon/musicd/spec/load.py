"""Entry points: YAML text -> validated JobSpec(s), every problem reported at once."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from musicd.errors import SpecError
from musicd.spec.fit import lyrics_fit_problem
from musicd.spec.kinds import Checker, describe
from musicd.spec.model import MAX_JOBS, JobSpec
from musicd.spec.validate import EXTENSION_PREFIX, check_job
from musicd.spec.yaml_source import (
    MAX_SPEC_BYTES,
    SourceIndex,
    decode_spec_bytes,
    oversized_problem,
    read_yaml,
)


def read_spec_file(path: Path) -> bytes:
    """A spec file's bytes for the command line; an oversized one is refused unread."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_SPEC_BYTES:
            raise oversized_problem(size, path.name)
        return handle.read(MAX_SPEC_BYTES + 1)  # bounded even if the file grows meanwhile


def _checker_for(index: SourceIndex) -> Checker:
    checker = Checker(index)
    for path, first_line, again_line in index.duplicates:
        checker.problem(path, f"is given twice, first on line {first_line}; keep one", line=again_line)
    return checker


def load_spec(data: bytes | str, source: str = "spec") -> JobSpec:
    """Parse and validate one job spec; raises SpecError listing every problem."""
    document, index = read_yaml(data, source)
    checker = _checker_for(index)
    if isinstance(document, dict) and "jobs" in document:
        checker.problem(
            ("jobs",),
            "this file holds a list of jobs; put one job's fields at the top "
            "level, or submit the file as a batch",
            at_key=True,
        )
        raise SpecError(checker.problems, source)
    spec = check_job(document, (), checker)
    if spec is None or checker.problems:
        raise SpecError(checker.problems, source)
    return spec


def load_jobs(data: bytes | str, source: str = "spec") -> list[JobSpec]:
    """One job, or every job of a top-level `jobs:` list; all valid or SpecError listing every problem."""
    return _load_jobs(data, source)[0]


def _load_jobs(data: bytes | str, source: str) -> tuple[list[JobSpec], bool]:
    """The specs, and whether they came from a `jobs:` list."""
    document, index = read_yaml(data, source)
    checker = _checker_for(index)
    if not (isinstance(document, dict) and "jobs" in document):
        spec = check_job(document, (), checker)
        if spec is None or checker.problems:
            raise SpecError(checker.problems, source)
        _check_fit(spec, (), checker)
        if checker.problems:
            raise SpecError(checker.problems, source)
        return [spec], False
    for key in document:
        if key != "jobs" and not (isinstance(key, str) and key.startswith(EXTENSION_PREFIX)):
            checker.problem(
                (str(key),),
                f"a file with a `jobs:` list holds nothing else; move {key} into "
                "each job that needs it (or name it x-... to hold YAML anchors)",
                at_key=True,
            )
    jobs = document["jobs"]
    specs: list[JobSpec | None] = []
    if not isinstance(jobs, list):
        checker.problem(("jobs",), f"expected a list of jobs (each starting with `- `), got {describe(jobs)}")
    elif not jobs:
        checker.problem(("jobs",), "is empty; list at least one job")
    elif len(jobs) > MAX_JOBS:
        checker.problem(("jobs",), f"has {len(jobs)} jobs; allowed up to {MAX_JOBS} per file")
    else:
        specs = [check_job(job, ("jobs", i), checker) for i, job in enumerate(jobs)]
    if checker.problems or not specs or any(spec is None for spec in specs):
        raise SpecError(checker.problems, source)
    for i, spec in enumerate(specs):
        if spec is not None:
            _check_fit(spec, ("jobs", i), checker)
    if checker.problems:
        raise SpecError(checker.problems, source)
    return [spec for spec in specs if spec is not None], True


def _check_fit(spec: JobSpec, base: tuple[str | int, ...], checker: Checker) -> None:
    """Record lyrics that cannot be sung in the song's form (spec/fit.py)."""
    problem = lyrics_fit_problem(spec)
    if problem is not None:
        checker.problem((*base, "lyrics"), problem)


def load_batch(data: bytes | str, source: str = "spec") -> list[tuple[JobSpec, str]]:
    """Like `load_jobs`, each spec paired with the YAML text of that job alone.

    A single-job file keeps its text as written (comments included); each entry of a
    `jobs:` list gets its canonical YAML (`JobSpec.to_dict`), which loads back equal.
    """
    text = decode_spec_bytes(data, source)
    specs, batch = _load_jobs(text, source)
    if not batch:
        return [(specs[0], text)]
    return [(spec, job_text(spec)) for spec in specs]


def job_text(spec: JobSpec) -> str:
    """The canonical YAML of one job."""
    return yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True)
