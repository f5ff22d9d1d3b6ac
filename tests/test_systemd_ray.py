"""The Ray drop-in for musicd.service: valid beside the unit, and opening only what a Ray driver needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD / "musicd.service"
DROP_IN = SYSTEMD / "musicd.service.d" / "ray.conf.example"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _installed(tmp_path: Path) -> Path:
    """The unit (ExecStart at this musicd) with the drop-in installed beside it, as systemd reads them."""
    musicd = Path(sys.executable).with_name("musicd")
    assert musicd.exists(), "musicd is not installed beside this Python"
    unit = tmp_path / "musicd.service"
    unit.write_text(re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={musicd}", UNIT.read_text()))
    (tmp_path / "musicd.service.d").mkdir()
    shutil.copy(DROP_IN, tmp_path / "musicd.service.d" / "ray.conf")
    return unit


def _security(unit: Path) -> str:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(unit)], capture_output=True, text=True, check=False
    )
    assert "Overall exposure level" in result.stdout, result.stdout + result.stderr
    return result.stdout


def test_the_unit_with_the_ray_drop_in_verifies_without_warnings(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = _installed(tmp_path)
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_drop_in_opens_tcp_to_the_cluster_only_and_keeps_the_rest(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(UNIT, plain / "musicd.service")
    before = _security(plain / "musicd.service")
    (tmp_path / "with").mkdir()
    after = _security(_installed(tmp_path / "with"))  # the drop-in is read by systemd-analyze too
    internet = re.compile(r"(?m)^(\S) RestrictAddressFamilies=~AF_\(INET\|INET6\)")
    assert internet.search(before).group(1) == "✓"  # type: ignore[union-attr]
    assert internet.search(after).group(1) == "✗"  # type: ignore[union-attr]
    assert re.search(r"(?m)^✓ RestrictAddressFamilies=~AF_PACKET", after)  # no raw sockets
    assert "IP address allow list with non-localhost entries" in after  # the cluster's subnet, no more
    assert re.search(r"(?m)^✓ PrivateTmp=", after)  # /tmp stays private: Ray's temp dir is elsewhere
    exposure = float(re.search(r"exposure level for musicd\.service: ([0-9.]+)", after).group(1))  # type: ignore[union-attr]
    assert exposure <= 2.5


def test_the_drop_in_makes_the_documented_ray_temp_dir_writable() -> None:
    drop_in = DROP_IN.read_text()
    writable = re.findall(r"(?m)^ReadWritePaths=(\S+)$", drop_in)
    docs = (SYSTEMD / "README.md").read_text()
    temp_dirs = set(re.findall(r"--temp-dir=([\w/.-]+)", docs))
    assert temp_dirs and temp_dirs <= set(writable), (temp_dirs, writable)
    assert not re.search(r"(?m)^(PrivateTmp|ProtectProc|IPAddressDeny)=", drop_in)
    assert re.search(r"(?m)^IPAddressAllow=localhost \S+", drop_in)
