"""The error hierarchy: every error musicd raises on purpose derives from MusicdError."""

from __future__ import annotations


class MusicdError(Exception):
    """Base class; the message says what went wrong and how to fix it."""


class ProblemsError(MusicdError):
    """An input with problems; `problems` lists every one found, one line each."""

    kind = "input"
    default_source = "input"

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source or self.default_source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.source} is not a valid {self.kind}:\n{lines}")


class SpecError(ProblemsError):
    """A job spec is invalid."""

    kind = "musicd job spec"
    default_source = "spec"


class ResourceMissingError(MusicdError):
    """A required external resource (SoundFont, program, model folder) is missing."""


class RenderError(MusicdError):
    """A pipeline stage failed on valid input."""


class CancelledError(MusicdError):
    """The job was cancelled at a stage boundary."""


class ConfigError(ProblemsError):
    """The service configuration is invalid."""

    kind = "musicd configuration"
    default_source = "configuration"


class StoreError(MusicdError):
    """The job store cannot be opened or used (bad location, unknown job id, wrong state)."""


class StoreUnavailableError(StoreError):
    """The job database cannot be used for now (locked, disk full, read-only, gone); retry later."""


class JobNotFoundError(StoreError):
    """No job matches the id (or id prefix) given, or a prefix matches several jobs."""


class ModelOutOfMemoryError(MusicdError):
    """A model ran out of memory even after every resident model was unloaded and it was retried."""
