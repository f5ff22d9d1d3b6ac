"""The error hierarchy: every error musicd raises on purpose derives from MusicdError."""

from __future__ import annotations


class MusicdError(Exception):
    """Base class; the message says what went wrong and how to fix it."""


class SpecError(MusicdError):
    """A job spec is invalid; `problems` lists every problem found, one line each."""

    def __init__(self, problems: list[str], source: str = "spec") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} is not a valid musicd job spec:\n{lines}")


class ResourceMissingError(MusicdError):
    """A required external resource (SoundFont, program, model folder) is missing."""


class RenderError(MusicdError):
    """A pipeline stage failed on valid input."""


class CancelledError(MusicdError):
    """The job was cancelled at a stage boundary."""


class ConfigError(MusicdError):
    """The service configuration is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[str], source: str = "configuration") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} is not a valid musicd configuration:\n{lines}")


class StoreError(MusicdError):
    """The job store cannot be opened or used (bad location, unknown job id, wrong state)."""


class JobNotFoundError(StoreError):
    """No job matches the id (or id prefix) given, or a prefix matches several jobs."""


class ModelOutOfMemoryError(MusicdError):
    """A model ran out of memory even after every resident model was unloaded and it was retried."""
