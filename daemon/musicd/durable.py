"""Durable writes: write a temporary name, fsync it, rename it into place, fsync the folder.

Every file musicd promises to keep (a kept spec, a manifest, the scheduler's state) is
written through here, so a power cut leaves either the old file or the new one, never half.
A folder fsync that the filesystem does not support (some network shares) is logged once
per folder; any other failure is raised, because durability is the promise.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

# fsync on a folder descriptor is refused by some filesystems (SMB, some FUSE); not a failure.
_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES}
_warned: set[str] = set()


def fsync_file(path: Path) -> None:
    """Flush one file's data to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make the names created, renamed or removed in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            _warn_once(folder, exc)
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        _warn_once(folder, exc)
    finally:
        os.close(fd)


def fsync_dirs(folders: Iterable[Path]) -> None:
    """fsync each folder once, deepest first."""
    for folder in sorted(set(folders), key=lambda p: (-len(p.parts), str(p))):
        fsync_dir(folder)


def temporary_name(path: Path) -> Path:
    """A hidden, short name beside `path` (watchers ignore it; it fits any name limit)."""
    tag = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:12]
    return path.with_name(f".{tag}.{os.getpid()}.tmp")


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write whose bytes replace `path` atomically and durably when the block ends.

    They go to a hidden temporary name first; if the block raises, `path` is left as it was.
    """
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically and durably (through a hidden temporary name)."""
    with replacing(path) as handle:
        handle.write(data)
    return path


def write_new(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` durably as `folder/stem+suffix`, or `stem-1+suffix`, ... : never over a file.

    The bytes go to a hidden temporary name first, so a watcher of `folder` sees the file
    appear whole, under a name nobody else had.
    """
    tmp = temporary_name(folder / f"{stem}{suffix}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        counter = 0
        while True:
            target = folder / (f"{stem}{suffix}" if counter == 0 else f"{stem}-{counter}{suffix}")
            try:
                os.link(tmp, target)  # unlike rename, never replaces a file already there
                break
            except FileExistsError:
                counter += 1
            except OSError:  # a filesystem without hard links
                if target.exists():
                    counter += 1
                    continue
                os.replace(tmp, target)
                break
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(folder)
    return target


def write_text(path: Path, text: str) -> Path:
    """`write_bytes` for UTF-8 text."""
    return write_bytes(path, text.encode("utf-8"))


def json_text(data: Any) -> str:
    """musicd's one JSON style: indented, UTF-8 kept readable, keys in the order given."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as JSON (musicd's one style) atomically and durably."""
    return write_text(path, json_text(data))


def _warn_once(folder: Path, exc: OSError) -> None:
    key = str(folder)
    if key not in _warned:
        _warned.add(key)
        log.warning(
            "cannot fsync folder %s (%s); its renames are only as durable as that filesystem makes them",
            folder,
            exc.strerror or exc,
        )
