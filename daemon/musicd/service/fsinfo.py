"""Which filesystem a path lives on, read from /proc/self/mountinfo.

Used to refuse a SQLite database on a network share (locking and WAL shared
memory do not work there) and to pick polling for an inbox that inotify cannot
see changes on (NFS, SMB, sshfs, 9p, virtiofs: writes made by other machines
raise no local events).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

log = logging.getLogger(__name__)

MOUNTINFO_PATH = Path("/proc/self/mountinfo")

# Filesystem types whose contents can change without local inotify events, or
# whose locking SQLite cannot trust.
NETWORK_FS_TYPES: frozenset[str] = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "ncpfs",
        "9p",
        "v9fs",
        "afs",
        "coda",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "ocfs2",
        "gfs2",
        "beegfs",
        "virtiofs",
        "vboxsf",
        "vmhgfs",
        "prl_fs",
        "davfs",
        "sshfs",
        "orangefs",
        "pvfs2",
    }
)
# FUSE filesystems that are local (everything else under fuse.* is treated as remote:
# sshfs, rclone, s3fs, gcsfuse, glusterfs, davfs2, vmhgfs-fuse ...).
LOCAL_FUSE_TYPES: frozenset[str] = frozenset(
    {
        "fuse.lxcfs",
        "fuse.portal",
        "fuse.gvfsd-fuse",
        "fuse.fuse-overlayfs",
        "fuse.squashfuse",
        "fuse.appimagefuse",
        "fuse.ntfs-3g",
        "fuseblk",
        "fuse.mergerfs",
        "fuse.bindfs",
        "fusectl",
    }
)

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class MountInfo:
    """One mount: where it is, its filesystem type and its source (device or share)."""

    mount_point: PurePosixPath
    fs_type: str
    source: str

    @property
    def is_network(self) -> bool:
        """True when the filesystem is a network/remote one (see `is_network_fs_type`)."""
        return is_network_fs_type(self.fs_type)


def is_network_fs_type(fs_type: str) -> bool:
    """True for NFS, SMB/CIFS, 9p, sshfs and other remote or host-shared filesystems."""
    fs_type = fs_type.lower()
    if fs_type in NETWORK_FS_TYPES:
        return True
    if fs_type in LOCAL_FUSE_TYPES:
        return False
    # Unknown FUSE filesystems are assumed remote: watching by polling costs little,
    # missing files costs a lot.
    return (
        fs_type.startswith("fuse.") or fs_type == "fuse"
    )  # plain "fuse" is usually sshfs or davfs2 without a subtype


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 space, \\011 tab, \\012 newline, \\134 backslash)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse the text of /proc/<pid>/mountinfo into mounts, in file order.

    Line format (proc(5)): `id parent major:minor root mount_point options
    [optional fields...] - fs_type source super_options`. Malformed lines are skipped.
    """
    mounts: list[MountInfo] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            separator = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < separator + 2 or len(fields) < 5:
            continue
        mount_point = PurePosixPath(_unescape(fields[4]))
        fs_type = fields[separator + 1]
        source = _unescape(fields[separator + 2]) if len(fields) > separator + 2 else ""
        mounts.append(MountInfo(mount_point, fs_type, source))
    return mounts


def mount_for(path: PurePath | str, mounts: list[MountInfo]) -> MountInfo | None:
    """The mount holding `path`: the longest mount point that is a prefix of it (by components).

    When several mounts share the same mount point, the last one listed (the one
    mounted on top) wins. `path` should be absolute and resolved.
    """
    target = PurePosixPath(path)
    best: MountInfo | None = None
    best_depth = -1
    for mount in mounts:
        point = mount.mount_point
        if target == point or point in target.parents:
            depth = len(point.parts)
            if depth >= best_depth:
                best, best_depth = mount, depth
    return best


def _resolve_existing(path: Path) -> Path:
    """Resolve symlinks of the deepest existing ancestor (the path itself may not exist yet)."""
    path = Path(os.path.abspath(path))
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    resolved = probe.resolve()
    return resolved / path.relative_to(probe)


def filesystem_of(path: Path | str, mountinfo_text: str | None = None) -> MountInfo | None:
    """The mount holding `path` on this machine (None if mountinfo cannot be read).

    `mountinfo_text` replaces the contents of /proc/self/mountinfo (for tests).
    """
    if mountinfo_text is None:
        try:
            mountinfo_text = MOUNTINFO_PATH.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.debug("cannot read %s: %s", MOUNTINFO_PATH, exc)
            return None
        target: Path | PurePosixPath = _resolve_existing(Path(path))
    else:
        target = PurePosixPath(path)
    return mount_for(target, parse_mountinfo(mountinfo_text))


def is_network_path(path: Path | str, mountinfo_text: str | None = None) -> bool:
    """True when `path` lies on a network filesystem (False when unknown)."""
    mount = filesystem_of(path, mountinfo_text)
    return mount is not None and mount.is_network
