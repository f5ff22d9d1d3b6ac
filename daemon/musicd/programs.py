"""External programs musicd relies on: where they are and which version."""

from __future__ import annotations

import functools
import shutil
import subprocess

from musicd.errors import ResourceMissingError

INSTALL_HINT = "install it with `apt-get install ffmpeg` (or run `make setup`)"


def require_program(name: str) -> str:
    """The full path of `name`, or a clear error saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise ResourceMissingError(f"{name} is not on PATH; {INSTALL_HINT.replace('ffmpeg', name)}")
    return path


@functools.cache
def program_version(name: str, flag: str = "-version") -> str:
    """First line of `name`'s version output, or "missing"."""
    path = shutil.which(name)
    if path is None:
        return "missing"
    result = subprocess.run([path, flag], capture_output=True, text=True, check=False)
    lines = (result.stdout or result.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def ffmpeg_version() -> str:
    """e.g. "5.1.9-0+deb12u1" from `ffmpeg -version`."""
    words = program_version("ffmpeg").split()
    return words[2] if len(words) > 2 and words[:2] == ["ffmpeg", "version"] else words[-1]
