"""systemd's notify protocol (sd_notify) over $NOTIFY_SOCKET, with no extra dependency.

Messages are `KEY=VALUE` lines sent as one unix datagram. An address starting with
`@` is in the abstract namespace. Outside systemd (no $NOTIFY_SOCKET) every call is a
no-op, so the service runs the same in a terminal, under cron or in tests.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _socket_address(raw: str) -> str | bytes:
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


class Notifier:
    """Sends sd_notify messages; silent when the process is not supervised by systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_interval_s = watchdog_interval_s(env)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one message made of `fields` (e.g. READY=1, STATUS="..."); True if sent."""
        if self.address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, _socket_address(self.address))
        except OSError as exc:
            log.warning("could not notify systemd at %s: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask systemd for `seconds` more before the start (or stop) times out."""
        return self.send(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def reloading(self, monotonic_usec: int | None = None) -> bool:
        """RELOADING=1 (with MONOTONIC_USEC, which systemd >= 253 wants for Type=notify-reload)."""
        if monotonic_usec is None:
            monotonic_usec = time_monotonic_usec()
        return self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec)

    def stopping(self) -> bool:
        return self.send(STOPPING=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def time_monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares RELOADING against."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def watchdog_interval_s(env: Mapping[str, str]) -> float | None:
    """Half of $WATCHDOG_USEC in seconds (how often to pet the watchdog), or None if unset.

    $WATCHDOG_PID, when set, must name this process; otherwise the watchdog is someone else's.
    """
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.strip() != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000 / 2
