"""How `musicd render` shows a job's progress: a rich progress bar on a terminal, plain lines otherwise.

On a terminal the bar stays at the bottom of stderr and log lines scroll above it (rich's live
display takes over stderr, and the log handlers writing there follow it while the bar runs).
When stderr is a file or a pipe, every report is one plain line: `  42.0%  video`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

ProgressFn = Callable[[str, float], None]


def _plain(stream: TextIO) -> ProgressFn:
    def report(stage: str, percent: float) -> None:
        click.echo(f"  {percent:5.1f}%  {stage}", err=True, file=stream)

    return report


@contextmanager
def _log_handlers_follow(original: TextIO) -> Iterator[None]:
    """Point the root logger's handlers that write to `original` at the current sys.stderr (rich's
    proxy, which prints above the bar) while the bar runs; restore them afterwards."""
    moved = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is original
    ]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in moved:
            handler.setStream(original)


@contextmanager
def job_progress(title: str, *, stream: TextIO | None = None) -> Iterator[ProgressFn]:
    """A progress callback for run_job: a bar when `stream` (default stderr) is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield _plain(stream)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    original = sys.stderr
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[stage]:<8}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=Console(file=stream),
        redirect_stderr=True,
        redirect_stdout=False,
    )
    task = progress.add_task(title, total=100.0, stage="")

    def report(stage: str, percent: float) -> None:
        progress.update(task, completed=percent, stage=stage)

    with progress, _log_handlers_follow(original):
        yield report
