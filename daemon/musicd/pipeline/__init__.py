"""The generation pipeline: one job spec in, a finished job folder out."""

from musicd.pipeline.run import JobResult, Resources, run_job

__all__ = ["JobResult", "Resources", "run_job"]
