"""Filesystem detection from mountinfo text: longest-prefix match, escapes, network types."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from musicd.service.fsinfo import filesystem_of, is_network_fs_type, is_network_path, parse_mountinfo

SAMPLE = r"""22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
25 22 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 0:35 / /mnt/nas rw,relatime shared:20 - cifs //nas/music rw,vers=3.1.1,cache=strict
41 40 8:17 / /mnt/nas/local rw,relatime shared:21 - xfs /dev/sdb1 rw
42 22 0:36 / /srv/nfs rw,relatime - nfs4 server:/export rw,vers=4.2
43 22 0:37 / /home/me/remote rw,nosuid,nodev,relatime - fuse.sshfs me@box:/data rw,user_id=1000
44 22 0:38 / /mnt/my\040share rw,relatime - 9p drvfs rw,dirsync
45 22 0:39 / /srv/nfsdata rw,relatime - ext4 /dev/sdc1 rw
46 42 0:40 / /srv/nfs rw,relatime - tmpfs tmpfs rw
47 22 0:41 / /mnt/pool rw,relatime - fuse.mergerfs pool rw
"""


def test_parses_mount_points_types_and_sources() -> None:
    mounts = parse_mountinfo(SAMPLE)
    assert len(mounts) == 10
    nas = mounts[2]
    assert (nas.mount_point, nas.fs_type, nas.source) == (PurePosixPath("/mnt/nas"), "cifs", "//nas/music")


def test_octal_escapes_in_mount_points_are_decoded() -> None:
    mount = filesystem_of("/mnt/my share/inbox", SAMPLE)
    assert mount is not None and mount.fs_type == "9p" and mount.is_network


@pytest.mark.parametrize(
    ("path", "fs_type", "network"),
    [
        ("/var/lib/musicd/state", "ext4", False),
        ("/mnt/nas/inbox", "cifs", True),
        ("/mnt/nas", "cifs", True),
        ("/mnt/nas/local/state", "xfs", False),  # a local disk mounted inside the share
        ("/mnt/nasty", "ext4", False),  # prefix by path components, not by characters
        ("/srv/nfsdata/x", "ext4", False),
        ("/home/me/remote/inbox", "fuse.sshfs", True),
        ("/mnt/pool/inbox", "fuse.mergerfs", False),
        ("/srv/nfs/inbox", "tmpfs", False),  # the later mount on the same point wins
    ],
)
def test_longest_prefix_mount_decides(path: str, fs_type: str, network: bool) -> None:
    mount = filesystem_of(path, SAMPLE)
    assert mount is not None and mount.fs_type == fs_type
    assert is_network_path(path, SAMPLE) is network


@pytest.mark.parametrize(
    "fs_type", ["nfs", "NFS4", "cifs", "smb3", "9p", "fuse.sshfs", "fuse.rclone", "virtiofs"]
)
def test_network_types(fs_type: str) -> None:
    assert is_network_fs_type(fs_type)


@pytest.mark.parametrize(
    "fs_type", ["ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "fuse.mergerfs", "fuseblk"]
)
def test_local_types(fs_type: str) -> None:
    assert not is_network_fs_type(fs_type)


def test_malformed_lines_are_skipped() -> None:
    assert parse_mountinfo("garbage\n1 2 3\n") == []


def test_this_machine_knows_the_filesystem_of_a_temp_folder(tmp_path: Path) -> None:
    mount = filesystem_of(tmp_path / "not" / "yet" / "there")
    assert mount is not None and mount.fs_type
