"""Running ffmpeg and ffprobe: the one place that finds them, runs them and reports their failures.

Commands are built with ffmpeg-python (which escapes every option, titles and paths included) and
compiled by `compile_command`; `run_ffmpeg` runs one, optionally reading `-progress pipe:1` to
report the fraction done. A failure is a RenderError saying what was being done, followed by the
last lines ffmpeg printed.

Both programs run in their own process group, so a terminal's Ctrl-C reaches musicd alone, which
decides; and (through util-linux's setpriv, where present) they are killed when the thread that
started them dies, so a worker killed mid-job leaves no ffmpeg behind.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ffmpeg

from musicd.errors import RenderError
from musicd.programs import require_program

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 25
_KEPT_STDERR_LINES = 2000  # while following progress; the summaries callers parse come last


@dataclass(frozen=True)
class FfmpegOutput:
    """What a successful run printed: stdout as bytes (empty when following progress), stderr as text."""

    stdout: bytes
    stderr: str


def compile_command(stream: ffmpeg.nodes.OutputStream, *, loglevel: str = "error") -> list[str]:
    """The command line of an ffmpeg-python output stream, run by the ffmpeg on PATH: no stdin,
    banner or stats, and only messages at `loglevel` or above on stderr."""
    quiet = stream.global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", loglevel)
    return list(quiet.compile(cmd=require_program("ffmpeg")))


@functools.cache
def _die_with_parent_prefix() -> tuple[str, ...]:
    """The command prefix that makes a program get SIGKILL when its parent dies (PR_SET_PDEATHSIG,
    kept across exec); empty where util-linux's setpriv is missing."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


def child_command(args: Sequence[str]) -> list[str]:
    """`args` run so that the program dies with the process that starts it."""
    return [*_die_with_parent_prefix(), *args]


def stderr_tail(stderr: bytes | str | None, lines: int = STDERR_TAIL_LINES) -> str:
    """The last `lines` lines a program printed, or a note that it printed nothing."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else (stderr or "")
    return "\n".join(text.strip().splitlines()[-lines:])


def _failure(program: str, what: str, returncode: int, stderr: str) -> RenderError:
    tail = stderr_tail(stderr) or f"({program} printed nothing; exit status {returncode})"
    return RenderError(f"{program} failed to {what}:\n{tail}")


def run_ffmpeg(
    args: Sequence[str],
    *,
    what: str,
    duration_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> FfmpegOutput:
    """Run a compiled ffmpeg command; `what` completes "ffmpeg failed to ..." in the error.

    With `progress`, ffmpeg reports its output time on stdout (about twice a second), and the
    callback gets the fraction done (0..1, increasing, ending at 1.0) of an output `duration_s`
    long at every report that moved. If the callback raises (a cancel), ffmpeg is killed at once
    and the exception propagates.
    """
    if progress is not None:
        if duration_s is None or duration_s <= 0:
            raise ValueError("following ffmpeg's progress needs the output's duration_s")
        args = [args[0], "-progress", "pipe:1", *args[1:]]
    log.debug("running %s", subprocess.list2cmdline(args))
    with subprocess.Popen(
        child_command(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,  # its own group: a terminal's Ctrl-C reaches musicd, which decides
    ) as proc:
        if progress is None or duration_s is None:
            stdout, stderr_bytes = proc.communicate()
            stderr = stderr_bytes.decode("utf-8", "replace")
        else:
            stdout, stderr = b"", _follow_progress(proc, duration_s, progress)
    if proc.returncode != 0:
        raise _failure("ffmpeg", what, proc.returncode, stderr)
    return FfmpegOutput(stdout, stderr)


def _follow_progress(
    proc: subprocess.Popen[bytes], duration_s: float, progress: Callable[[float], None]
) -> str:
    """Report progress from `-progress pipe:1` until ffmpeg exits; returns its stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    kept: collections.deque[bytes] = collections.deque(maxlen=_KEPT_STDERR_LINES)
    stderr_pipe: IO[bytes] = proc.stderr
    reader = threading.Thread(target=lambda: kept.extend(stderr_pipe), daemon=True)
    reader.start()
    last = -1.0
    try:
        for line in proc.stdout:
            key, _, value = line.decode("ascii", "replace").strip().partition("=")
            if key != "out_time_us" or not value.lstrip("-").isdigit():
                continue
            # every report that moved reaches the callback, so a cancel it checks acts within one
            fraction = min(max(int(value) / 1e6 / duration_s, 0.0), 1.0)
            if fraction > last:
                last = fraction
                progress(fraction)
    except BaseException:
        proc.kill()  # the callback raised (or we were interrupted): stop ffmpeg too
        raise
    finally:
        proc.wait()
        reader.join(timeout=10)
    if proc.returncode == 0 and last < 1.0:
        progress(1.0)
    return b"".join(kept).decode("utf-8", "replace")


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON description of a media file: its "format" and "streams"."""
    args = [
        require_program("ffprobe"),
        *("-v", "error", "-show_format", "-show_streams", "-of", "json"),
        str(path),
    ]
    result = subprocess.run(
        child_command(args), stdin=subprocess.DEVNULL, capture_output=True, check=False, process_group=0
    )
    if result.returncode != 0:
        raise _failure("ffprobe", f"read {path}", result.returncode, result.stderr.decode("utf-8", "replace"))
    info: dict[str, Any] = json.loads(result.stdout)
    return info
