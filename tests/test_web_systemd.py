"""systemd/musicd-web.service: valid, hardened, and allowing only what `musicd web` needs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "musicd-web.service"
ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_web_unit_verifies_and_is_rated_at_most_2_5(tmp_path: Path) -> None:
    assert ANALYZE is not None
    musicd = Path(sys.executable).with_name("musicd")
    unit = tmp_path / "musicd-web.service"
    unit.write_text(re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={musicd}", UNIT.read_text()))
    verify = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(unit)], capture_output=True, text=True, check=False
    )
    match = re.search(r"Overall exposure level for musicd-web\.service: ([0-9.]+)", security.stdout)
    assert match, security.stdout + security.stderr
    assert float(match.group(1)) <= 2.5


def _documented_layout() -> dict[str, str]:
    """inbox, outbox and state_dir of the configuration systemd/README.md installs."""
    import yaml

    docs = (UNIT.parent / "README.md").read_text()
    block = re.search(r"/etc/musicd/config\.yaml >/dev/null <<'YAML'\n(.*?)\nYAML\n", docs, re.S)
    assert block, "systemd/README.md no longer shows the configuration it installs"
    config = yaml.safe_load(block.group(1))
    return {key: str(config[key]) for key in ("inbox", "outbox", "state_dir")}


def _paths(text: str, key: str) -> list[str]:
    return [p.lstrip("-") for p in " ".join(re.findall(rf"(?m)^{key}=(.*)$", text)).split()]


def _under(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def test_the_web_unit_matches_the_documented_layout() -> None:
    text = UNIT.read_text()
    layout = _documented_layout()
    writable, read_only = _paths(text, "ReadWritePaths"), _paths(text, "ReadOnlyPaths")
    # the inbox and the job database's folder (state_dir/musicd.sqlite3 with its -wal/-shm)
    assert sorted(writable) == sorted([layout["inbox"], layout["state_dir"]]), writable
    assert _under(layout["outbox"], read_only) and not _under(layout["outbox"], writable)


def test_the_web_unit_listens_and_has_no_capabilities() -> None:
    text = UNIT.read_text()
    assert re.search(r"(?m)^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$", text)
    assert re.search(r"(?m)^ProtectSystem=strict$", text)
    assert "ExecStart=/usr/local/bin/musicd web " in text and "CapabilityBoundingSet=\n" in text
