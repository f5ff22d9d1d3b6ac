"""Notifications through Apprise, received by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from musicd.config import NotifyConfig
from musicd.service.notify import EventNotifier, redact


class Hook:
    """A webhook: records each JSON body; answers `fail_first` requests with 500, waits `delay_s`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = 0
        self.delay_s = 0.0
        self.arrived = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(hook.delay_s)
                if hook.fail_first > 0:
                    hook.fail_first -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.append(json.loads(body))
                hook.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.server.shutdown()
    server.server.server_close()


def fast_notifier(hook: Hook, **settings: Any) -> EventNotifier:
    config = NotifyConfig(urls=(hook.url,), **settings)
    return EventNotifier(config, outbox=Path("/srv/outbox"), wait=lambda event, s: event.wait(0.01))


def test_a_done_job_reaches_the_webhook_with_title_and_link(hook: Hook) -> None:
    notifier = fast_notifier(hook, link_base="http://nas:8080/files/")
    folder = Path("/srv/outbox/2026/06/01/120000-night-drive-abcdefgh")
    notifier.job_done("Night Drive", "01JD00000000ABCDEFGH", folder, ["the video failed"])
    assert hook.arrived.wait(10)
    notifier.close()
    (message,) = hook.received
    assert message["title"] == "musicd: Night Drive is ready" and message["type"] == "success"
    assert "http://nas:8080/files/2026/06/01/120000-night-drive-abcdefgh/" in message["message"]
    assert "warning: the video failed" in message["message"]


def test_a_failed_send_is_retried(hook: Hook) -> None:
    hook.fail_first = 2
    notifier = fast_notifier(hook, retries=3)
    notifier.job_failed("Night Drive", "01JD00000000ABCDEFGH", "ffmpeg failed\nmore", None)
    assert hook.arrived.wait(15)
    notifier.close()
    assert hook.received[0]["type"] == "failure" and "ffmpeg failed" in hook.received[0]["message"]
    assert notifier.sent == 1


def test_only_the_configured_events_are_sent(hook: Hook) -> None:
    notifier = fast_notifier(hook, events=("failed",))
    notifier.job_done("quiet", "01JD00000000ABCDEFGH", None)
    notifier.spec_rejected("bad.yaml", ["genres[0]: nope"], None)
    notifier.job_failed("loud", "01JD00000000ABCDEFGH", "boom", None)
    assert hook.arrived.wait(10)
    notifier.close()
    assert [m["title"] for m in hook.received] == ["musicd: loud failed"]


def test_a_slow_or_dead_server_never_stalls_the_caller(hook: Hook) -> None:
    hook.delay_s = 3.0
    notifier = fast_notifier(hook, retries=0, timeout_s=1)
    start = time.monotonic()
    for index in range(150):  # more than the queue holds: the rest are dropped, not waited for
        notifier.spec_rejected(f"bad-{index}.yaml", ["x"], None)
    assert time.monotonic() - start < 0.5
    assert notifier.dropped > 0
    start = time.monotonic()
    notifier.close(grace_s=0.5)
    assert time.monotonic() - start < 5


def test_no_urls_means_nothing_is_started() -> None:
    notifier = EventNotifier(NotifyConfig())
    assert not notifier.enabled
    notifier.job_done("x", "01JD00000000ABCDEFGH", None)
    assert notifier._thread is None


def test_logs_name_only_scheme_and_host() -> None:
    assert redact("ntfys://user:secret@ntfy.example.org/topic?token=abc") == "ntfys://ntfy.example.org"
