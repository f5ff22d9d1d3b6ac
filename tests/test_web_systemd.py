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


def test_the_web_unit_listens_reads_the_outbox_and_writes_only_the_inbox() -> None:
    text = UNIT.read_text()
    assert re.search(r"(?m)^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$", text)
    assert re.search(r"(?m)^ProtectSystem=strict$", text)
    assert re.search(r"(?m)^ReadOnlyPaths=/var/lib/musicd /srv/musicd$", text)
    writable = " ".join(re.findall(r"(?m)^ReadWritePaths=(.*)$", text)).split()
    assert "/srv/musicd/inbox" in writable
    assert all(p == "/srv/musicd/inbox" or "musicd.sqlite3" in p for p in writable), writable
    assert "ExecStart=/usr/local/bin/musicd web " in text and "CapabilityBoundingSet=\n" in text
