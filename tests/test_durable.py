"""Durable writes: whole files under their final names, never over another file."""

from __future__ import annotations

from pathlib import Path

from musicd.durable import write_bytes, write_new


def test_write_new_never_replaces_a_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    (tmp_path / "song.yaml").write_bytes(b"first")
    second = write_new(tmp_path, "song", ".yaml", b"second")
    third = write_new(tmp_path, "song", ".yaml", b"third")
    assert (second.name, third.name) == ("song-1.yaml", "song-2.yaml")
    assert [p.read_bytes() for p in (tmp_path / "song.yaml", second, third)] == [
        b"first",
        b"second",
        b"third",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song-1.yaml", "song-2.yaml", "song.yaml"]


def test_write_bytes_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    write_bytes(target, b"old")
    write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
