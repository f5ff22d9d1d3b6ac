"""Files a user dropped into the inbox, read safely: never followed, never blocking, bounded.

A name in a shared inbox can be swapped between any check and any read (a symlink to
/etc/shadow, a FIFO, a 5 GB file), so the file is opened without following links and
without blocking, checked on the open descriptor, and read from that descriptor only,
no further than the spec size limit. Names musicd derives from a dropped name (the kept
copy, the rejected copy, its error file) stay within the filesystem's name limit.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

NAME_MAX_BYTES = 255  # ext4, xfs, btrfs, zfs and SMB all allow at most 255 bytes per name
SPEC_SUFFIXES = (".yaml", ".yml", ".json")  # what the inbox takes (JSON is read as the YAML it is)
NOTEPAD_SUFFIXES = tuple(suffix + ".txt" for suffix in SPEC_SUFFIXES)  # Windows Notepad's "x.yaml.txt"
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class NotASpecFile(Exception):
    """The name is not a regular file musicd may read; the message says what it is instead."""


class StillBeingWritten(Exception):
    """Another process has the file open; it is not finished yet (try again later)."""


@dataclass(frozen=True)
class DroppedFile:
    """The bytes of one dropped file and the identity of what was read."""

    data: bytes
    device: int
    inode: int
    size: int
    mtime_ns: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def kind_of(mode: int) -> str:
    """Plain words for what a file is ("a symbolic link", "a FIFO (named pipe)", ...)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_dropped(path: Path, max_bytes: int, *, check_writers: bool = True) -> DroppedFile:
    """Read `path` if it is a regular file of at most `max_bytes`.

    Raises FileNotFoundError if it vanished, NotASpecFile for a link, FIFO, device, folder
    or a file over the limit (nothing is read then), StillBeingWritten when another process
    holds it open (a write lease cannot be had), and OSError for read errors worth retrying.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotASpecFile("it is a symbolic link; musicd reads only regular files") from None
        if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR):
            raise NotASpecFile(
                f"it is {kind_of(os.lstat(path).st_mode)}; musicd reads only regular files"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotASpecFile(f"it is {kind_of(info.st_mode)}; musicd reads only regular files")
        if info.st_size > max_bytes:
            raise NotASpecFile(
                f"the file is {info.st_size / 1024:.1f} KiB; a job spec may be at most "
                f"{max_bytes // 1024} KiB (long lyrics belong in `lyrics:`, up to a few pages)"
            )
        if check_writers and _held_open_by_others(fd):
            raise StillBeingWritten(str(path))
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise NotASpecFile(
                f"the file grew past {max_bytes // 1024} KiB while it was read; a job spec may be at most that"
            )
        return DroppedFile(b"".join(chunks), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    finally:
        os.close(fd)


def _held_open_by_others(fd: int) -> bool:
    """True when another process has the file open (Linux: a write lease is refused).

    Only the file's owner (or a process with CAP_LEASE) may take a lease, and network
    filesystems refuse leases: those cases say nothing and count as not held.
    """
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    return False


def still_the_same(path: Path, read: DroppedFile) -> bool:
    """Whether `path` is still the very file that was read (same inode, size and mtime)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) == (
        read.device,
        read.inode,
        read.size,
        read.mtime_ns,
    )


def fit_name(name: str, suffix: str = "", prefix: str = "", limit: int = NAME_MAX_BYTES) -> str:
    """`prefix + name + suffix`, with `name` shortened (and a hash of it kept) to fit `limit` bytes."""
    whole = prefix + name + suffix
    if len(os.fsencode(whole)) <= limit:
        return whole
    stem, ext = os.path.splitext(name)
    ext = ext if len(os.fsencode(ext)) <= 16 else ""
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:10]
    room = limit - len(os.fsencode(prefix + tag + ext + suffix))
    short = os.fsencode(stem)[: max(room, 1)].decode("utf-8", errors="ignore")
    while len(os.fsencode(prefix + short + tag + ext + suffix)) > limit and short:
        short = short[:-1]
    return prefix + short + tag + ext + suffix


def notepad_rename(name: str) -> str | None:
    """For `x.yaml.txt` (Windows Notepad adds `.txt` when saving), the name meant: `x.yaml`; else None."""
    if name.lower().endswith(NOTEPAD_SUFFIXES):
        return name[: -len(".txt")]
    return None


def display_name(name: str) -> str:
    """A name as text that can always be printed and stored (undecodable bytes as \\xNN)."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")
