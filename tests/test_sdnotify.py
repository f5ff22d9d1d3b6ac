"""sd_notify over a real unix datagram socket (path and abstract namespace)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from musicd.service.sdnotify import Notifier, watchdog_interval_s


@pytest.fixture()
def path_socket(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    sock.bind(address)
    sock.settimeout(5)
    yield sock, address
    sock.close()


def test_ready_and_status_arrive_as_one_datagram(path_socket) -> None:
    sock, address = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.ready(status="idle, 0 queued")
    assert sock.recv(4096) == b"READY=1\nSTATUS=idle, 0 queued"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    notifier.close()


def test_extend_timeout_and_reloading_messages(path_socket) -> None:
    sock, address = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    notifier.extend_timeout(90)
    assert sock.recv(4096) == b"EXTEND_TIMEOUT_USEC=90000000"
    notifier.reloading(monotonic_usec=1234)
    assert sock.recv(4096) == b"RELOADING=1\nMONOTONIC_USEC=1234"


def test_abstract_namespace_socket() -> None:
    name = f"musicd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("3 queued")
        assert sock.recv(4096) == b"STATUS=3 queued"
    finally:
        sock.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False


def test_missing_socket_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.ready() is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
