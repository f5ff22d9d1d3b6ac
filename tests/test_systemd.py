"""The service unit: hardened enough (systemd-analyze security) and valid (systemd-analyze verify)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "musicd.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def test_the_unit_is_rated_at_most_2_5_by_systemd_analyze_security() -> None:
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(UNIT)], capture_output=True, text=True, check=False
    )
    match = re.search(r"Overall exposure level for musicd\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.5


def test_the_unit_verifies_with_exec_start_at_the_installed_binary(tmp_path: Path) -> None:
    musicd = Path(sys.executable).with_name("musicd")
    assert musicd.exists(), "musicd is not installed beside this Python"
    text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={musicd}", UNIT.read_text())
    unit = tmp_path / "musicd.service"
    unit.write_text(text)
    result = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_unit_keeps_gpu_access_and_the_notify_socket() -> None:
    text = UNIT.read_text()
    assert "DevicePolicy=closed" in text and "DeviceAllow=/dev/nvidiactl rw" in text
    assert not re.search(r"(?m)^PrivateDevices=", text) and "RestrictAddressFamilies=AF_UNIX" in text
