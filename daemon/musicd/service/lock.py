"""One service per state folder: an exclusive lock held for the life of the process."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from musicd.errors import MusicdError

log = logging.getLogger(__name__)

LOCK_NAME = "musicd.lock"


class AlreadyRunningError(MusicdError):
    """Another musicd holds the state folder."""


class StateLock:
    """`flock` on state_dir/musicd.lock; released when closed or when the process dies."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunningError naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunningError(
                f"another musicd (pid {holder}) is already running on the state folder {self.path.parent}; "
                "stop it first, or give this one its own state_dir"
            ) from None
        self._fd = fd
        try:  # the pid only helps a second instance name the holder; the lock is the flock
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            log.warning("holding %s but could not write this pid into it (%s)", self.path, exc.strerror)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
