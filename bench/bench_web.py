"""`musicd web` figures: the gallery over 1,000 published jobs, and what the queue's live updates cost.

Prints the median server-side render time of the gallery page (target <= 100 ms), of a job
page, and of one live queue refresh; then the latency of the job store's write transactions,
made by another process as the service makes them, alone and while a client refreshes the
queue as fast as it can (the page itself polls every 2 s), in alternating rounds.

    .venv/bin/python bench/bench_web.py [--jobs 1000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from musicd.queue.jobs import NewJob
from musicd.queue.store import Store
from musicd.web.app import create_app
from musicd.web.context import Layout
from musicd.web.settings import WebSettings


def publish_many(outbox: Path, count: int) -> list[str]:
    ids = []
    for index in range(count):
        day = f"2026/{1 + index // 300 % 12:02d}/{1 + index // 10 % 28:02d}"
        short = f"{index:08d}"
        name = f"{index % 240000:06d}-track-number-{index}-{short}"
        folder = outbox / day / name
        (folder / "stems").mkdir(parents=True)
        for stem in ("drums", "bass", "chords", "melody", "pads"):
            (folder / "stems" / f"{stem}.flac").write_bytes(b"fLaC")
        title = f"Track number {index}"
        mix = {"wav": f"track-number-{index}.wav", "mp3": f"track-number-{index}.mp3"}
        for file_name in (*mix.values(), "cover.jpg", "score.mid", "spec.yaml"):
            (folder / file_name).write_bytes(b"x")
        manifest = {
            "status": "done",
            "job_id": "01J" + "0" * 15 + short.upper(),
            "title": title,
            "seed": index,
            "spec": {"title": title, "prompt": "warm lofi", "genres": ["lofi"]},
            "plan": {
                "genres": ["lofi", "hip-hop"],
                "tempo_bpm": 82.0,
                "key": "A minor",
                "key_tonic": "A",
                "mode": "minor",
                "meter": "4/4",
                "form": [{"name": "verse", "bars": 8}] * 12,
            },
            "mix": mix,
            "engines": {"render": {"asked": "fluidsynth", "used": "fluidsynth", "reason": ""}},
            "audio": {"duration_s": 90.0},
            "files": [{"path": f"f{i}", "bytes": 1, "sha256": "0" * 64} for i in range(20)],
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        ids.append(short)
    return ids


def timed(client: TestClient, url: str, runs: int, before: Any = None) -> list[float]:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
    return times


def store_writes(state_dir: str, count: int) -> list[float]:
    """Milliseconds of each of `count` job-store write transactions (the service's unit of work:
    one per progress step); run in its own process, as the service is."""
    times = []
    with Store.open(Path(state_dir)) as store:
        job_id = store.list_jobs(limit=1)[0].id
        for index in range(count):
            start = time.perf_counter()
            store.record_progress(job_id, "render", index % 100)
            times.append((time.perf_counter() - start) * 1000)
    return times


def writer_rounds(state_dir: Path, client: TestClient, rounds: int, count: int) -> tuple[float, float, float]:
    """Median write latency (ms) with no poller and with a poller refreshing /queue/live as fast as
    it can, alternating rounds (alone, polled, alone, ...) so order and cache effects cancel out;
    the writer is another process, so it shares no interpreter lock with the web. Also polls/s."""
    context = multiprocessing.get_context("spawn")
    alone: list[float] = []
    polled: list[float] = []
    polls, polled_s = 0, 0.0
    with context.Pool(1) as pool:
        pool.apply(store_writes, (str(state_dir), 5))  # warm: the child's imports
        for _ in range(rounds):
            alone.extend(pool.apply(store_writes, (str(state_dir), count)))
            stop = threading.Event()
            done = [0]

            def poll() -> None:
                while not stop.is_set():
                    client.get("/queue/live")
                    done[0] += 1

            poller = threading.Thread(target=poll)
            poller.start()
            started = time.perf_counter()
            polled.extend(pool.apply(store_writes, (str(state_dir), count)))
            polled_s += time.perf_counter() - started
            stop.set()
            poller.join()
            polls += done[0]
    return statistics.median(alone), statistics.median(polled), polls / polled_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        layout = Layout(inbox=root / "inbox", outbox=root / "outbox", state_dir=root / "state")
        for folder in (layout.inbox, layout.outbox, layout.state_dir):
            folder.mkdir()
        ids = publish_many(layout.outbox, args.jobs)
        with Store.open(layout.state_dir) as store:
            store.add_jobs([NewJob(f"queued {i}", "b.yaml", "title: q\n", "0" * 64) for i in range(50)])
        app = create_app(layout, WebSettings())
        client = TestClient(app, base_url="http://127.0.0.1:8080")
        timed(client, "/", 3)  # warm: templates compiled
        rescanned = timed(client, "/", args.runs, before=app.state.context.library.refresh)
        gallery = timed(client, "/", args.runs)
        last_page = timed(client, f"/?page={args.jobs // 24}", args.runs)
        job = timed(client, f"/jobs/{ids[len(ids) // 2]}", args.runs)
        live = timed(client, "/queue/live", args.runs)
        print(f"published jobs: {args.jobs}; medians of {args.runs} requests, server side (in-process ASGI)")
        print(
            f"  gallery page 1       {statistics.median(rescanned):7.1f} ms   (outbox rescanned; target <= 100 ms)"
        )
        print(f"  gallery page 1       {statistics.median(gallery):7.1f} ms   (index from the last second)")
        print(f"  gallery last page    {statistics.median(last_page):7.1f} ms")
        print(f"  job page             {statistics.median(job):7.1f} ms")
        print(
            f"  queue live refresh   {statistics.median(live):7.1f} ms   (one every 2 s per open queue page)"
        )

        alone, polled, rate = writer_rounds(layout.state_dir, client, rounds=5, count=100)
        print(f"  store write alone    {alone:7.2f} ms per transaction (median; writer in its own process)")
        print(
            f"  store write polled   {polled:7.2f} ms per transaction while the queue was refreshed "
            f"{rate:.0f} times/s (the page does 0.5/s); 5 alternating rounds of 100 writes each"
        )


if __name__ == "__main__":
    main()
