"""The web app in-process (Starlette's test client): paths, passwords, CSRF, the API's validation.

The end-to-end tests against a real `musicd web` and a real service are in test_web_e2e.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from musicd.queue.store import Store
from musicd.web.app import create_app
from musicd.web.context import Layout
from musicd.web.guard import CSRF_COOKIE
from musicd.web.library import parse_lrc, safe_file, scan_outbox
from musicd.web.settings import WebError, WebSettings, hash_password, settings_from, verify_password

JOB_NAME = "120000-night-drive-abcdefgh"


def make_layout(root: Path) -> Layout:
    for name in ("inbox", "outbox", "state"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return Layout(inbox=root / "inbox", outbox=root / "outbox", state_dir=root / "state")


def publish(
    layout: Layout, name: str = JOB_NAME, title: str = "Night drive", day: str = "2026/11/23"
) -> Path:
    folder = layout.outbox / day / name
    (folder / "stems").mkdir(parents=True)
    (folder / "mix.wav").write_bytes(b"RIFF" + bytes(2000))
    (folder / "stems" / "drums.wav").write_bytes(b"RIFF" + bytes(100))
    (folder / "lyrics.lrc").write_text("[ti:x]\n[00:01.50]first <line>\n[00:03.00]second\n[00:04.00]\n")
    manifest = {
        "job_id": "01J" + "0" * 15 + name[-8:].upper(),
        "status": "done",
        "title": title,
        "seed": 7,
        "plan": {"genres": ["lofi"], "tempo_bpm": 82.0, "key": "A minor", "key_tonic": "A", "mode": "minor"},
        "audio": {"duration_s": 12.5},
        "engines": {"render": {"asked": "fluidsynth", "used": "fluidsynth", "reason": ""}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return make_layout(tmp_path)


@pytest.fixture
def client(layout: Layout) -> TestClient:
    return TestClient(create_app(layout, WebSettings()), base_url="http://127.0.0.1:8080")


def inbox_files(layout: Layout) -> list[str]:
    return sorted(p.name for p in layout.inbox.iterdir() if p.is_file())


# ------------------------------------------------------------------- paths


def test_safe_file_serves_only_files_inside_published_job_folders(layout: Layout, tmp_path: Path) -> None:
    folder = publish(layout)
    rel = f"2026/11/23/{JOB_NAME}"
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (folder / "leak.txt").symlink_to(secret)
    (layout.outbox / "2026/11/23/120001-linked-zzzzzzzz").symlink_to(tmp_path)
    (layout.outbox / ".staging" / "x").mkdir(parents=True)
    (layout.outbox / ".staging" / "x" / "mix.wav").write_bytes(b"x")
    assert safe_file(layout.outbox, f"{rel}/mix.wav") == (folder / "mix.wav").resolve()
    assert safe_file(layout.outbox, f"{rel}/stems/drums.wav") is not None
    for bad in (
        f"{rel}/../../../../../secret.txt",
        f"{rel}/leak.txt",
        "2026/11/23/120001-linked-zzzzzzzz/secret.txt",
        ".staging/x/mix.wav",
        f"{rel}/stems",
        f"{rel}",
        f"/{rel}/mix.wav",
        f"{rel}\\..\\mix.wav",
        f"{rel}/mix.wav\0",
        "../secret.txt",
        "",
    ):
        assert safe_file(layout.outbox, bad) is None, bad


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/2026/11/23/120000-night-drive-abcdefgh/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/2026%2F11%2F23%2F120000-night-drive-abcdefgh%2F..%2F..%2Fsecret.txt",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/2026/11/23/120000-night-drive-abcdefgh/leak.txt",
        "/files/2026/11/23/120000-night-drive-abcdefgh/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/files/2026/11/23/120000-night-drive-abcdefgh/mix.wav%00",
    ],
)
def test_traversal_attempts_are_404(layout: Layout, client: TestClient, tmp_path: Path, path: str) -> None:
    folder = publish(layout)
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    answer = client.get(path)
    assert answer.status_code == 404
    assert "secret" not in answer.text and "root:" not in answer.text


def test_files_answer_range_requests_with_206(layout: Layout, client: TestClient) -> None:
    publish(layout)
    url = f"/files/2026/11/23/{JOB_NAME}/mix.wav"
    whole = client.get(url)
    assert whole.status_code == 200 and len(whole.content) == 2004
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == "bytes 100-199/2004"
    assert len(part.content) == 100
    assert client.get(url + "?download=1").headers["content-disposition"].startswith("attachment")


# ----------------------------------------------------------------- pages


def test_gallery_and_job_page_escape_titles_and_lyrics(layout: Layout, client: TestClient) -> None:
    publish(layout, title="<script>alert(1)</script>")
    page = client.get("/")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "82 BPM" in page.text and "A minor" in page.text and "0:12" in page.text
    job = client.get("/jobs/abcdefgh")
    assert job.status_code == 200
    assert "first &lt;line&gt;" in job.text and 'data-t="1.50"' in job.text
    assert "stem drums" in job.text
    assert "content-security-policy" in job.headers


def test_gallery_paginates_newest_first(layout: Layout, tmp_path: Path) -> None:
    for index in range(30):
        publish(layout, name=f"12{index:04d}-track-{index:08d}", title=f"track {index}")
    client = TestClient(create_app(layout, WebSettings(page_size=10)), base_url="http://127.0.0.1:8080")
    first = client.get("/").text
    assert "track 29" in first and "track 20" in first and "track 19" not in first
    assert "page 1 of 3" in first
    assert "track 0<" in client.get("/?page=3").text
    assert client.get("/?page=abc").status_code == 200


def test_lrc_parsing() -> None:
    lines = parse_lrc("[ar:someone]\n[00:02.00][00:10.5]twice\n[01:00.25]later\nnot a line\n")
    assert [(line.time_s, line.text) for line in lines] == [(2.0, "twice"), (10.5, "twice"), (60.25, "later")]


def test_scan_outbox_ignores_hidden_and_foreign_folders(layout: Layout) -> None:
    publish(layout)
    publish(layout, name="120500-broken-hgfedcba-failed")
    (layout.outbox / ".staging" / "abc").mkdir(parents=True)
    (layout.outbox / "2026" / "notes").mkdir()
    found = scan_outbox(layout.outbox)
    assert [(p.short_id, p.failed) for p in found] == [("hgfedcba", True), ("abcdefgh", False)]


# ----------------------------------------------------------------- submit


def _csrf(client: TestClient) -> str:
    client.get("/submit")
    return client.cookies[CSRF_COOKIE]


def test_form_with_problems_shows_them_beside_the_fields_and_writes_nothing(
    layout: Layout, client: TestClient
) -> None:
    token = _csrf(client)
    answer = client.post(
        "/submit", data={"csrf": token, "duration": "900", "bpm": "500", "genres": ["lofi"], "key": "H minor"}
    )
    assert answer.status_code == 400
    assert 'id="errors-duration"' in answer.text and "too long" in answer.text
    assert 'id="errors-bpm"' in answer.text
    assert 'id="errors-key"' in answer.text
    assert inbox_files(layout) == []


def test_valid_form_is_written_atomically_into_the_inbox(layout: Layout, client: TestClient) -> None:
    token = _csrf(client)
    answer = client.post(
        "/submit",
        data={"csrf": token, "title": "From the form", "duration": "20", "genres": ["lofi", "jazz"]},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    (name,) = inbox_files(layout)
    assert name.startswith("web-") and name.endswith(".yaml")
    assert answer.headers["location"] == f"/jobs/{name[4:-5]}"
    text = (layout.inbox / name).read_text()
    assert "From the form" in text and "jazz" in text
    assert client.get(answer.headers["location"]).status_code == 200


def test_yaml_box_and_upload_are_validated_too(layout: Layout, client: TestClient) -> None:
    token = _csrf(client)
    bad = client.post("/submit", data={"csrf": token, "yaml": "genres: [polka-metal]\ntempo: 3\n"})
    assert bad.status_code == 400 and 'id="errors-yaml"' in bad.text and "polka-metal" in bad.text
    big = client.post(
        "/submit",
        data={"csrf": token},
        files={"file": ("big.yaml", b"title: x\n" + b"#" * 300_000, "application/x-yaml")},
    )
    assert big.status_code == 413
    good = client.post(
        "/submit",
        data={"csrf": token},
        files={"file": ("s.yaml", b"title: uploaded\nduration: 10\ngenres: [lofi]\n", "application/x-yaml")},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert len(inbox_files(layout)) == 1


def test_post_without_csrf_token_is_refused(layout: Layout, client: TestClient) -> None:
    client.get("/")
    assert client.post("/submit", data={"title": "x", "duration": "10"}).status_code == 403
    assert client.post("/submit", data={"csrf": "wrong" * 10, "title": "x"}).status_code == 403
    token = client.cookies[CSRF_COOKIE]
    cross = client.post("/submit", data={"csrf": token}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert (
        client.post(
            "/api/generate-opensource", content=b"{}", headers={"content-type": "text/plain"}
        ).status_code
        == 403
    )
    assert inbox_files(layout) == []


# -------------------------------------------------------------------- API


def test_api_rejects_a_bad_body_with_every_problem(layout: Layout, client: TestClient) -> None:
    answer = client.post(
        "/api/generate-opensource",
        json={"musicPrompt": "x", "genres": ["polka-metal"], "durationSec": 900, "tempo": 3},
    )
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert len(problems) == 3, problems
    assert any(p.startswith("genres[0]") for p in problems)
    assert any(p.startswith("durationSec") or p.startswith("duration") for p in problems)
    assert any("tempo" in p for p in problems)
    assert not any("(line" in p for p in problems)
    for body in (b"[1, 2]", b"not json", b'"text"'):
        bad = client.post(
            "/api/generate-opensource", content=body, headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
    assert inbox_files(layout) == []


def test_api_accepts_the_original_body_and_reports_the_submission(layout: Layout, client: TestClient) -> None:
    answer = client.post(
        "/api/generate-opensource",
        json={
            "musicPrompt": "warm lofi for studying",
            "genres": ["lofi"],
            "durationSec": 30,
            "artistInspiration": "Nujabes",
            "lyrics": "[verse]\nhello",
            "vocalLanguages": ["en"],
            "generateVideo": True,
            "videoStyles": ["Abstract Visualizer"],
        },
    )
    assert answer.status_code == 202, answer.text
    data = answer.json()
    assert inbox_files(layout) == [f"web-{data['id']}.yaml"]
    status = client.get(data["statusUrl"])
    assert status.status_code == 200 and status.json()["state"] == "submitted"
    # the service rejects it (as if): the API says so with the error text
    rejected = layout.inbox / "rejected"
    rejected.mkdir()
    os.rename(layout.inbox / f"web-{data['id']}.yaml", rejected / f"web-{data['id']}.yaml")
    (rejected / f"web-{data['id']}.yaml.error.txt").write_text("it was bad")
    again = client.get(data["statusUrl"] + "?wait=5").json()
    assert again["state"] == "rejected" and again["error"] == "it was bad"


def test_api_job_from_the_store_and_the_outbox(layout: Layout, client: TestClient) -> None:
    from musicd.queue.jobs import NewJob

    with Store.open(layout.state_dir) as store:
        (job,) = store.add_jobs([NewJob("Queued one", "web-x.yaml", "title: q\n", "0" * 64, duration_s=5)])
    data = client.get(f"/api/jobs/{job.id}").json()
    assert data["state"] == "queued" and data["jobId"] == job.id
    assert client.get(f"/api/jobs/{job.short_id}").json()["jobId"] == job.id
    publish(layout)
    done = client.get("/api/jobs/abcdefgh").json()
    assert done["state"] == "done" and done["bpm"] == 82.0 and done["key"] == "A" and done["scale"] == "minor"
    assert done["assets"]["mixUrl"].endswith("/mix.wav") and done["assets"]["videoUrl"] is None
    assert done["assets"]["stems"] == {"drums": f"/files/2026/11/23/{JOB_NAME}/stems/drums.wav"}
    assert client.get(done["assets"]["mixUrl"]).status_code == 200
    assert client.get("/api/jobs/nothing-here").status_code == 404
    assert client.get(f"/api/jobs/{job.id}?wait=-1").status_code == 400
    assert client.get(f"/api/jobs/{job.id}?wait=nan").status_code == 400


def test_health_capabilities_and_openapi(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    caps = client.get("/api/capabilities").json()
    assert "lofi" in caps["genres"] and caps["limits"]["maxSpecBytes"] == 64 * 1024
    context = client.app.state.context  # type: ignore[attr-defined]
    while caps["checksPending"]:  # the doctor's checks finish in their own thread
        assert caps["checks"] is None and caps["ready"] is None
        caps = context.capabilities(wait_s=60.0)
    assert any(c["name"] == "ffmpeg" for c in caps["checks"]) and isinstance(caps["ready"], bool)
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/api/generate-opensource" in doc["paths"]


# --------------------------------------------------------------- password


def test_with_a_password_everything_asks_for_it(layout: Layout) -> None:
    publish(layout)
    settings = WebSettings(password_hash=hash_password("s3cret", iterations=1000))
    client = TestClient(create_app(layout, settings), base_url="http://127.0.0.1:8080")
    for path in ("/", "/queue", "/submit", "/jobs/abcdefgh"):
        answer = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    for path in (f"/files/2026/11/23/{JOB_NAME}/mix.wav", "/api/jobs/abcdefgh", "/api/capabilities"):
        assert client.get(path).status_code == 401
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/jobs/abcdefgh", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/jobs/abcdefgh", headers={"Authorization": "Bearer nope"}).status_code == 401
    client.get("/login")
    token = client.cookies[CSRF_COOKIE]
    assert client.post("/login", data={"csrf": token, "password": "wrong"}).status_code == 401
    ok = client.post(
        "/login", data={"csrf": token, "password": "s3cret", "next": "/queue"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/queue"
    assert client.get("/").status_code == 200
    assert client.get(f"/files/2026/11/23/{JOB_NAME}/mix.wav").status_code == 200
    assert client.post("/submit", data={"title": "x"}).status_code == 403


def test_passwords_and_settings() -> None:
    stored = hash_password("pw", iterations=1000)
    assert verify_password("pw", stored) and not verify_password("px", stored)
    assert not verify_password("pw", "garbage")
    with pytest.raises(WebError, match="without a password"):
        WebSettings(host="0.0.0.0").checked()
    assert WebSettings(host="::1").checked().host == "::1"
    assert WebSettings(host="0.0.0.0", password_hash=stored).checked().needs_password


def test_password_file_may_hold_the_password_or_its_hash(tmp_path: Path) -> None:
    plain = tmp_path / "pw"
    plain.write_text("hunter2\n")
    settings = settings_from(None, password_file=plain, host="0.0.0.0")
    assert settings.password_hash and verify_password("hunter2", settings.password_hash)
    hashed = tmp_path / "hash"
    hashed.write_text(hash_password("other", iterations=1000))
    assert verify_password("other", settings_from(None, password_file=hashed).password_hash or "")


# ------------------------------------------------------- the job database


def _older_schema(state_dir: Path) -> None:
    """A database as the previous musicd left it: the newest migration not applied."""
    import sqlite3

    from musicd.queue.migrations import MIGRATIONS

    Store.open(state_dir).close()
    conn = sqlite3.connect(state_dir / "musicd.sqlite3")
    with conn:
        conn.execute("DROP INDEX jobs_source_name")
        conn.execute("DELETE FROM migrations WHERE name = ?", [MIGRATIONS[-1].name])
    conn.close()


def test_the_web_never_creates_the_job_database(layout: Layout, client: TestClient) -> None:
    live = client.get("/queue/live")
    assert live.status_code == 200 and "there is no job database at" in live.text
    assert client.get("/api/jobs/01J00000000000000000000000").status_code == 404
    assert list(layout.state_dir.iterdir()) == []


def test_the_web_never_migrates_a_database_at_an_older_schema(layout: Layout, client: TestClient) -> None:
    import hashlib

    _older_schema(layout.state_dir)
    db = layout.state_dir / "musicd.sqlite3"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    live = client.get("/queue/live")
    assert "older schema" in live.text and "restart the service" in live.text
    assert client.get("/api/jobs/01J00000000000000000000000").status_code == 404
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    wal = layout.state_dir / "musicd.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # a WAL reader's empty files, no page written


def test_the_web_reads_the_store_read_only_and_writes_only_retry_and_cancel(
    layout: Layout, client: TestClient
) -> None:
    from musicd.errors import StoreUnavailableError
    from musicd.queue.jobs import JobState, NewJob

    with Store.open(layout.state_dir) as store:
        (job,) = store.add_jobs([NewJob("Queued one", "a.yaml", "title: q\n", "0" * 64, duration_s=5)])
    assert client.get(f"/api/jobs/{job.id}").json()["state"] == "queued"
    reader = client.app.state.context.store()  # type: ignore[attr-defined]
    assert reader.read_only
    with pytest.raises(StoreUnavailableError, match="readonly"):
        reader.request_cancel(job.id)
    client.get("/queue")
    token = client.cookies[CSRF_COOKIE]
    answer = client.post(f"/jobs/{job.id}/cancel", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 303 and "cancelled" in answer.headers["location"]
    with Store.open(layout.state_dir) as store:
        assert store.get(job.id).state is JobState.CANCELLED
    assert client.post("/jobs/01J00000000000000000000000/retry", data={"csrf": token}).status_code == 404


def test_a_submission_id_finds_its_job_by_index_however_old(layout: Layout, client: TestClient) -> None:
    from musicd.queue.jobs import NewJob

    accepted = client.post(
        "/api/generate-opensource", json={"musicPrompt": "rain", "genres": ["lofi"], "durationSec": 30}
    ).json()
    submission = accepted["id"]
    assert accepted["submissionId"] == submission and accepted["jobId"] is None
    name = f"web-{submission}.yaml"
    with Store.open(layout.state_dir) as store:
        (job,) = store.add_jobs([NewJob("Rain", name, "title: rain\n", "0" * 64, duration_s=30)])
        store.add_jobs([NewJob(f"later {i}", "b.yaml", "title: b\n", "1" * 64) for i in range(2100)])
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE source_name = ?", [name]
        ).fetchall()
    assert any("jobs_source_name" in str(row) for row in plan), plan
    (layout.inbox / name).unlink()  # the service took the spec
    data = client.get(accepted["statusUrl"]).json()
    assert data["id"] == submission and data["submissionId"] == submission and data["jobId"] == job.id
    by_job = client.get(f"/api/jobs/{job.id}").json()
    assert by_job["id"] == job.id and by_job["submissionId"] == submission


def test_with_a_password_health_answers_liveness_only(layout: Layout) -> None:
    settings = WebSettings(password_hash=hash_password("s3cret", iterations=1000))
    client = TestClient(create_app(layout, settings), base_url="http://127.0.0.1:8080")
    assert client.get("/api/health").json() == {"status": "ok"}
    signed_in = client.get("/api/health", headers={"Authorization": "Bearer s3cret"}).json()
    assert signed_in["status"] == "ok" and "queue" in signed_in and "version" in signed_in


def test_wrong_passwords_are_rate_limited_per_client(layout: Layout) -> None:
    from musicd.web.guard import FAILURES_PER_CLIENT

    settings = WebSettings(password_hash=hash_password("s3cret", iterations=1000))
    client = TestClient(create_app(layout, settings), base_url="http://127.0.0.1:8080")
    for guess in range(FAILURES_PER_CLIENT):
        assert client.get("/api/jobs/x", headers={"Authorization": f"Bearer guess{guess}"}).status_code == 401
    refused = client.get("/api/jobs/x", headers={"Authorization": "Bearer another"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # even the right password waits: a guesser cannot tell it found it
    assert client.get("/api/jobs/x", headers={"Authorization": "Bearer s3cret"}).status_code == 429
    other = TestClient(create_app(layout, settings), base_url="http://127.0.0.1:8080", client=("10.0.0.2", 1))
    assert (
        other.get("/api/health", headers={"Authorization": "Bearer s3cret"}).json().get("queue") is not None
    )


def test_a_spec_over_the_inbox_limit_is_refused_with_the_inbox_message(
    layout: Layout, client: TestClient
) -> None:
    client.get("/submit")
    token = client.cookies[CSRF_COOKIE]
    text = "title: big\nprompt: rain\n# " + "x" * (100 * 1024) + "\n"  # 100 KiB: under the request limit
    answer = client.post("/submit", data={"csrf": token, "yaml": text})
    assert answer.status_code == 400
    assert "a job spec may be at most 64 KiB" in answer.text
    assert inbox_files(layout) == []


def test_the_password_hash_may_come_from_the_environment(tmp_path: Path) -> None:
    from musicd.config import load_config

    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        f"inbox: {tmp_path / 'in'}\noutbox: {tmp_path / 'out'}\nstate_dir: {tmp_path / 's'}\n"
    )
    stored = hash_password("from-env", iterations=1000)
    config = load_config(config_path, env={"MUSICD_WEB__PASSWORD_HASH": stored})
    settings = settings_from(config.web, host="0.0.0.0").checked()
    assert settings.needs_password and settings.password_hash == stored
    client = TestClient(create_app(make_layout(tmp_path), settings), base_url="http://127.0.0.1:8080")
    assert client.get("/api/jobs/abcdefgh").status_code == 401
    assert client.get("/api/jobs/abcdefgh", headers={"Authorization": "Bearer from-env"}).status_code == 404


def test_wait_blocks_until_the_job_ends(layout: Layout, client: TestClient) -> None:
    import threading

    from musicd.queue.jobs import JobState, NewJob

    with Store.open(layout.state_dir) as store:
        (job,) = store.add_jobs([NewJob("Waited", "w.yaml", "title: w\n", "0" * 64, duration_s=5)])
    answers: list[dict[str, object]] = []
    waiter = threading.Thread(
        target=lambda: answers.append(client.get(f"/api/jobs/{job.id}?wait=60").json()), daemon=True
    )
    waiter.start()
    waiter.join(1.5)
    assert waiter.is_alive() and not answers  # still waiting: the job has not ended
    assert client.get("/api/health").json()["status"] == "ok"  # the loop serves others meanwhile
    with Store.open(layout.state_dir) as store:
        store.claim_next()
        store.finish(job.id, JobState.CANCELLED, error="cancelled by the test")
    waiter.join(10)
    assert not waiter.is_alive() and answers[0]["state"] == "cancelled"
