"""`musicd web` for real: a subprocess on 127.0.0.1 (a free port) beside a real service, in Chromium.

Two temp layouts: one served by the real pipeline (a short song with lyrics and a video,
submitted through the API), one by the fast test runner (daemon_runner: "slow" jobs to
watch and cancel, "error" jobs to retry). Playwright drives Debian's /usr/bin/chromium
(never a downloaded browser). Every server listens on 127.0.0.1 only and is stopped.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from daemon_helpers import REPO_DIR, TESTS_DIR, Daemon, job_rows, wait_until, write_config

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebServer:
    """`musicd web --host 127.0.0.1 --port P` as a subprocess (its own group; dies with the tests)."""

    def __init__(self, config_path: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = config_path.parent / f"web-{self.port}.log"
        self._log = open(self.log_path, "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICD_")}
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(REPO_DIR), env.get("PYTHONPATH", "")])
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from musicd.cli import main; main()", "web", "--config", str(config_path)]
            + ["--host", "127.0.0.1", "--port", str(self.port), *extra],
            cwd=REPO_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._up, 30, "musicd web to answer")
        except AssertionError:
            self.stop()
            raise AssertionError(f"musicd web did not start; log:\n{self.log_path.read_text()}") from None

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"musicd web exited; log:\n{self.log_path.read_text()}")
        try:
            return httpx.get(self.url + "/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """GET exactly `path` (no client-side normalisation of `..` or `%2F`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A layout served by the real pipeline, with one song already rendered through the API."""
    root = tmp_path_factory.mktemp("web-real")
    config = write_config(root, watch={"stability_delay_s": 0.2})
    daemon = Daemon(config, runner=None)
    web = None
    try:
        web = WebServer(config)
        body = {
            "title": "Night <b>drive</b>",
            "musicPrompt": "warm lofi for a night drive",
            "genres": ["lofi"],
            "durationSec": 8,
            "lyrics": "[verse]\nCity lights are glowing\nDriving through the night",
            "vocalLanguages": ["en"],
            "generateVideo": True,
            "videoStyles": ["Abstract Visualizer"],
            "seed": 11,
        }
        answer = httpx.post(web.url + "/api/generate-opensource", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        done = wait_until(
            lambda: _done(web.url + accepted["statusUrl"] + "?wait=20"), 240, "the API job to finish"
        )
        yield {
            "root": root,
            "config": config,
            "daemon": daemon,
            "web": web,
            "accepted": accepted,
            "job": done,
        }
    finally:
        if web is not None:
            web.stop()
        daemon.stop()


def _done(url: str) -> dict[str, Any] | None:
    data: dict[str, Any] = httpx.get(url, timeout=40).json()
    assert data["state"] not in ("failed", "rejected", "cancelled"), data
    return data if data["state"] == "done" else None


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A layout served by the fast test runner."""
    root = tmp_path_factory.mktemp("web-fake")
    config = write_config(root, watch={"stability_delay_s": 0.2})
    daemon = Daemon(config)
    web = None
    try:
        web = WebServer(config)
        yield {"root": root, "config": config, "daemon": daemon, "web": web}
    finally:
        if web is not None:
            web.stop()
        daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (`make setup` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(bypass_csp=True)  # lets the test evaluate its own JavaScript
    try:
        yield context.new_page()
    finally:
        context.close()


def submit_api(web: WebServer, **body: Any) -> dict[str, Any]:
    answer = httpx.post(web.url + "/api/generate-opensource", json=body, timeout=10)
    assert answer.status_code == 202, answer.text
    data: dict[str, Any] = answer.json()
    return data


def job_state(web: WebServer, key: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{web.url}/api/jobs/{key}", timeout=10).json()
    return data


# ---------------------------------------------------------------- the API


def test_api_job_renders_through_the_service_and_its_mix_url_serves_audio(real: dict[str, Any]) -> None:
    web, job = real["web"], real["job"]
    assert job["jobId"] and len(job["jobId"]) == 26
    assert job["bpm"] and job["key"] and job["scale"] in ("major", "minor", "dorian", "mixolydian", "aeolian")
    assert job["genres"] == ["lofi"]
    assert job["assets"]["mixUrl"].endswith(".mp3")
    assert job["assets"]["videoUrl"].endswith("/video.mp4")
    assert job["assets"]["lrcUrl"] and job["engines"]["render"]["used"] == "fluidsynth"
    audio = httpx.get(web.url + job["assets"]["mixUrl"], timeout=10)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    assert audio.content[:3] == b"ID3" or audio.content[:2] == b"\xff\xfb"
    part = httpx.get(web.url + job["assets"]["mixUrl"], headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == audio.content[1000:2000]
    # the 202's id keeps working, and so do the job id and its short id
    assert job_state(web, real["accepted"]["id"])["jobId"] == job["jobId"]
    assert job_state(web, job["jobId"][-8:])["state"] == "done"


def test_api_bad_body_gets_400_with_every_problem_and_nothing_in_the_inbox(real: dict[str, Any]) -> None:
    web = real["web"]
    inbox = real["root"] / "inbox"
    before = sorted(p.name for p in inbox.iterdir())
    answer = httpx.post(
        web.url + "/api/generate-opensource",
        json={"genres": ["polka-metal"], "durationSec": 9000, "videoStyles": ["Sparkles"], "tempo": 90},
        timeout=10,
    )
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert len(problems) == 4, problems
    assert sorted(p.name for p in inbox.iterdir()) == before


def test_traversal_attempts_return_404(real: dict[str, Any]) -> None:
    web, job = real["web"], real["job"]
    mix = job["assets"]["mixUrl"]
    folder_url = mix.rsplit("/", 1)[0]
    folder = real["root"] / "outbox" / folder_url.removeprefix("/files/")
    (folder / "passwd").symlink_to("/etc/passwd")
    (real["root"] / "outbox" / "2026").mkdir(exist_ok=True)
    assert raw_get(web.port, mix)[0] == 200
    for path in (
        "/files/../../../../etc/passwd",
        "/files/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{folder_url}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{folder_url}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/config.yaml",
        f"{folder_url}/../../../../../config.yaml",
        f"{folder_url}/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ):
        status, body = raw_get(web.port, path)
        assert status == 404, (path, status)
        assert b"root:" not in body and b"inbox:" not in body


# ------------------------------------------------------------ in a browser


def test_gallery_shows_the_job_and_its_audio_plays_with_the_manifest_duration(
    real: dict[str, Any], page: Any
) -> None:
    web, job = real["web"], real["job"]
    manifest = httpx.get(web.url + job["assets"]["manifestUrl"], timeout=10).json()
    page.goto(web.url + "/")
    card = page.locator(f'li.card[data-job="{job["jobId"]}"]')
    assert card.count() == 1
    assert "Night <b>drive</b>" in card.locator("h2").inner_text()  # escaped, shown as text
    assert "lofi" in card.inner_text() and "BPM" in card.inner_text()
    ranges: list[int] = []
    page.on("response", lambda r: ranges.append(r.status) if r.url.endswith(".mp3") else None)
    card.locator("h2 a").click()
    page.wait_for_url(f"**/jobs/{job['jobId']}")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=20000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert abs(duration - manifest["audio"]["duration_s"]) <= 0.1, (duration, manifest["audio"])
    page.evaluate("document.getElementById('player').currentTime = 5.5")
    page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=20000)
    assert abs(page.evaluate("document.getElementById('player').currentTime") - 5.5) < 0.1
    wait_until(lambda: 206 in ranges, 10, "a 206 answer to the player's range request")
    # the lyrics in time, the video, the downloads and the manifest
    lines = page.locator("#lyrics li")
    assert lines.count() >= 2 and "City lights" in page.locator("#lyrics").inner_text()
    assert page.locator("video").count() == 1
    downloads = page.locator(".downloads").inner_text()
    for label in ("mix (mp3)", "mix (wav)", "MIDI score", "lyrics (LRC)", "lyrics (SRT)", "stem "):
        assert label in downloads
    assert '"tempo_bpm"' in page.locator("pre.manifest").text_content()
    page.evaluate("const p = document.getElementById('player'); p.muted = true; p.currentTime = 0; p.play()")
    page.wait_for_function("document.querySelector('#lyrics li.now') !== null", timeout=15000)


def test_bad_spec_in_the_form_shows_errors_beside_the_fields_and_writes_nothing(
    real: dict[str, Any], page: Any
) -> None:
    web = real["web"]
    inbox = real["root"] / "inbox"
    before = sorted(p.name for p in inbox.iterdir())
    page.goto(web.url + "/submit")
    page.fill("input[name=title]", "Broken one")
    page.fill("input[name=duration]", "900")
    page.fill("input[name=bpm]", "12")
    page.fill("input[name=key]", "Q major")
    page.click("form.submit button[type=submit]")
    assert "too long" in page.locator("#errors-duration").inner_text()
    assert page.locator("#errors-bpm").count() == 1 and page.locator("#errors-key").count() == 1
    assert page.locator("input[name=title]").input_value() == "Broken one"  # kept for fixing
    page.fill("textarea[name=yaml]", "genres: [lofi]\nduration: oops\n")
    page.click("form.submit button[type=submit]")
    assert "duration" in page.locator("#errors-yaml").inner_text()
    assert sorted(p.name for p in inbox.iterdir()) == before


def test_form_submission_appears_in_the_queue_live_then_in_the_gallery(
    fake: dict[str, Any], page: Any
) -> None:
    web = fake["web"]
    page.goto(web.url + "/submit")
    page.fill("input[name=title]", "slow")
    page.check("input[name=genres][value=ambient]")
    page.fill("input[name=duration]", "6")
    page.click("form.submit button[type=submit]")
    page.wait_for_url("**/jobs/*")
    submission = page.url.rsplit("/", 1)[-1]
    page.goto(web.url + "/queue")
    row = page.locator("tr.job-running", has_text="slow")
    row.wait_for(timeout=20000)  # live: the page refreshes itself, no reload
    first = row.locator("td").nth(3).inner_text()
    wait_until(
        lambda: row.count() == 0 or row.locator("td").nth(3).inner_text() != first, 15, "live progress"
    )
    job_id = wait_until(lambda: job_state(web, submission)["jobId"], 10, "the job id")
    wait_until(lambda: job_state(web, submission)["state"] == "done", 30, "the slow job to finish")
    page.goto(web.url + "/")
    assert page.locator(f'li.card[data-job="{job_id}"]').count() == 1


def test_a_running_job_page_updates_its_progress_in_place(fake: dict[str, Any], page: Any) -> None:
    web = fake["web"]
    page.goto(web.url + "/submit")
    page.fill("input[name=title]", "slow")
    page.check("input[name=genres][value=ambient]")
    page.fill("input[name=duration]", "12")
    page.click("form.submit button[type=submit]")
    page.wait_for_url("**/jobs/*")
    page.locator("#state", has_text="running").wait_for(timeout=30000)  # one reload: the state changed
    page.locator("#progress", has_text="%").wait_for(timeout=15000)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    first = page.inner_text("#progress")
    page.wait_for_function(
        "(first) => document.getElementById('progress').textContent !== first", arg=first, timeout=15000
    )
    assert page.evaluate("window.sameDocument === true")  # the percent changed without a reload
    submission = page.url.rsplit("/", 1)[-1]
    wait_until(lambda: job_state(web, submission)["state"] == "done", 40, "the slow job to finish")


def test_cancel_and_retry_from_the_queue_page(fake: dict[str, Any], page: Any) -> None:
    web = fake["web"]
    failing = submit_api(web, title="error", genres=["ambient"], durationSec=5)
    wait_until(lambda: job_state(web, failing["id"])["state"] == "failed", 30, "the error job to fail")
    running = submit_api(web, title="slow", genres=["ambient"], durationSec=30)
    wait_until(lambda: job_state(web, running["id"])["state"] == "running", 30, "the slow job to run")
    queued = submit_api(web, title="waiting", genres=["ambient"], durationSec=5)
    wait_until(lambda: job_state(web, queued["id"])["state"] == "queued", 30, "the job to queue")
    ids = {
        key: job_state(web, item["id"])["jobId"]
        for key, item in (("failing", failing), ("running", running), ("queued", queued))
    }

    page.goto(web.url + "/queue")
    page.locator(f'tr[data-job="{ids["queued"]}"] button[data-action=cancel]').click()
    assert "cancelled" in page.locator(".flash").inner_text()
    assert job_state(web, ids["queued"])["state"] == "cancelled"
    page.locator(f'tr[data-job="{ids["running"]}"] button[data-action=cancel]').click()
    assert "cancel requested" in page.locator(".flash").inner_text()
    wait_until(lambda: job_state(web, ids["running"])["state"] == "cancelled", 30, "the running job to stop")
    page.goto(web.url + "/queue")
    assert (
        "the test runner was asked to fail" in page.locator(f'tr[data-job="{ids["failing"]}"]').inner_text()
    )
    page.locator(f'tr[data-job="{ids["failing"]}"] button[data-action=retry]').click()
    assert "queued again" in page.locator(".flash").inner_text()
    rows = {r["id"]: r for r in job_rows(fake["root"] / "state")}
    assert rows[ids["failing"]]["state"] in ("queued", "running", "failed")
    wait_until(
        lambda: job_state(web, ids["failing"])["state"] == "failed", 30, "the retried job to fail again"
    )


def test_with_a_password_every_page_and_file_asks_for_it(fake: dict[str, Any], page: Any) -> None:
    root = fake["root"]
    (root / "web-password").write_text(PASSWORD + "\n")
    done = submit_api(fake["web"], title="locked away", genres=["ambient"], durationSec=5)
    job = wait_until(lambda: (s := job_state(fake["web"], done["id"]))["state"] == "done" and s, 30, "done")
    web = WebServer(fake["config"], "--password-file", str(root / "web-password"))
    try:
        for path in ("/", "/queue", "/submit", f"/jobs/{job['jobId']}"):
            answer = httpx.get(web.url + path, headers={"accept": "text/html"}, timeout=10)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
        for path in (job["assets"]["mixUrl"], job["assets"]["manifestUrl"], f"/api/jobs/{job['jobId']}"):
            assert httpx.get(web.url + path, timeout=10).status_code == 401, path
        assert httpx.post(web.url + "/api/generate-opensource", json={}, timeout=10).status_code == 401
        page.goto(web.url + "/queue")
        page.wait_for_url("**/login?next=*")
        page.fill("input[name=password]", "wrong")
        page.click("form.login button")
        assert "Wrong password" in page.content()
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button")
        page.wait_for_url("**/queue")
        page.goto(web.url + "/")
        assert page.locator(f'li.card[data-job="{job["jobId"]}"]').count() == 1
        assert page.request.get(web.url + job["assets"]["mixUrl"]).status == 200
        # logged in, yet a POST without the CSRF token is refused
        refused = page.request.post(web.url + f"/jobs/{job['jobId']}/retry", form={"next": "/"})
        assert refused.status == 403
        bearer = {"Authorization": f"Bearer {PASSWORD}"}
        assert httpx.get(web.url + f"/api/jobs/{job['jobId']}", headers=bearer, timeout=10).status_code == 200
    finally:
        web.stop()


def test_a_public_address_without_a_password_is_refused(fake: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICD_")}
    result = subprocess.run(
        [sys.executable, "-c", "from musicd.cli import main; main()", "web", "--config", str(fake["config"])]
        + ["--host", "0.0.0.0", "--port", str(free_port())],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "without a password" in result.stderr


# ------------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """A web server over a layout with a job database but no service (fuzzed bodies pile up in the inbox)."""
    from musicd.queue.store import Store

    root = tmp_path_factory.mktemp("web-fuzz")
    config = write_config(root)
    Store.open(root / "state").close()
    server = WebServer(config)
    try:
        yield server
    finally:
        server.stop()


def test_openapi_fuzz_never_gets_a_server_error(fuzz_server: WebServer) -> None:
    """Every operation of /api/openapi.json, fuzzed (valid and invalid data): no 500, answers as documented."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_url(fuzz_server.url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    calls = 0
    for operation, mode in itertools.product(operations, list(schemathesis.GenerationMode)):
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.path in (
            "/api/health",
            "/api/capabilities",
        ):
            continue  # nothing to get wrong: no parameters, no body

        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(mode))
        def fuzz(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(
                base_url=fuzz_server.url,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )

        fuzz()
    assert calls >= 100
    assert "Traceback" not in fuzz_server.log_path.read_text()


def test_openapi_document_is_served_and_describes_the_api(fuzz_server: WebServer) -> None:
    doc = httpx.get(fuzz_server.url + "/api/openapi.json", timeout=10).json()
    assert set(doc["paths"]) == {
        "/api/generate-opensource",
        "/api/jobs/{job_id}",
        "/api/capabilities",
        "/api/health",
    }
    body = doc["paths"]["/api/generate-opensource"]["post"]["requestBody"]["content"]["application/json"]
    assert {
        "musicPrompt",
        "genres",
        "durationSec",
        "artistInspiration",
        "lyrics",
        "vocalLanguages",
        "generateVideo",
        "videoStyles",
    } <= set(body["schema"]["properties"])
    assert json.dumps(doc)  # plain JSON
    assert yaml.safe_dump(doc)
