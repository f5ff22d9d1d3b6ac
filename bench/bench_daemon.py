"""Benchmark the service around the pipeline: `python bench/bench_daemon.py [--quick]`.

Prints
  1. pickup latency: a file becomes stable -> its job is running (median, p95, max);
  2. ingest rate of a 1,000-spec burst copied in with rsync (target >= 200 specs/s),
     and after the queue drains: lost and duplicated jobs (target 0 and 0);
  3. daemon overhead per job: real renders through the daemon vs the same renders in-process;
  4. worker RSS over 200 short real jobs (target: flat within 10%).

The daemon runs as a real subprocess against a temp layout. Parts 1 and 2 use the
instant job runner of tests/daemon_runner.py (worker.runner extension point) so they
measure the service, not the render; parts 3 and 4 use the real pipeline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_DIR / "tests"), str(REPO_DIR)]

from daemon_helpers import Daemon, job_rows, manifests, spec_yaml, write_config  # noqa: E402

STABILITY_DELAY_S = 0.5


def _job_count(state_dir: Path, where: str = "1") -> int:
    """How many jobs match `where`, read with a cheap COUNT (the bench must not slow the daemon)."""
    import sqlite3

    db = state_dir / "musicd.sqlite3"
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _rows_by_title(state_dir: Path) -> dict[str, dict]:
    return {row["title"]: row for row in job_rows(state_dir)}


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def bench_pickup_latency(root: Path, samples: int) -> None:
    config = write_config(root, watch={"stability_delay_s": STABILITY_DELAY_S})
    daemon = Daemon(config)
    latencies = []
    try:
        daemon.wait_for(lambda: "ready" in daemon.log, 60, "the worker")
        for index in range(samples):
            title = f"pickup {index}"
            tmp = root / "inbox" / f".p{index}.tmp"
            tmp.write_text(spec_yaml(title))
            tmp.rename(root / "inbox" / f"p{index}.yaml")
            dropped = time.time()
            row = daemon.wait_for(
                lambda: (r := _rows_by_title(root / "state").get(title)) and r["started_at"] and r, 30, title
            )
            latencies.append(_parse_time(row["started_at"]) - dropped - STABILITY_DELAY_S)
    finally:
        daemon.stop()
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(
        f"pickup latency (stable file -> job running), {samples} files, stability delay "
        f"{STABILITY_DELAY_S} s subtracted: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )


def bench_burst(root: Path, count: int) -> float:
    """One burst; prints its figures and returns the ingest rate in specs/s."""
    config = write_config(
        root, watch={"stability_delay_s": STABILITY_DELAY_S, "rescan_interval_s": 600}, log_level="INFO"
    )
    batch = root / "batch"
    batch.mkdir()
    for index in range(count):
        (batch / f"burst-{index:04d}.yaml").write_text(spec_yaml(f"burst {index}"))
    daemon = Daemon(config)
    try:
        daemon.wait_for(lambda: "ready" in daemon.log, 60, "the worker")
        start = time.monotonic()
        subprocess.run(["rsync", "-a", f"{batch}/", f"{root / 'inbox'}/"], check=True)
        copied = time.monotonic()
        daemon.wait_for(lambda: _job_count(root / "state") >= count, 300, "every spec ingested")
        ingested = time.monotonic()
        daemon.wait_for(lambda: _job_count(root / "state", "state = 'done'") >= count, 600, "every job done")
        drained = time.monotonic()
    finally:
        daemon.stop()
    found = manifests(root / "outbox")
    titles = [m["title"] for m in found]
    lost = count - len(set(titles))
    duplicated = len(titles) - len(set(titles))
    ingest_s = ingested - copied - STABILITY_DELAY_S
    print(
        f"burst of {count} specs (rsync {copied - start:.2f} s): ingested in {ingest_s:.2f} s after "
        f"becoming stable = {count / ingest_s:.0f} specs/s; all published after {drained - copied:.1f} s; "
        f"lost {lost}, duplicated {duplicated}, leftover inbox files "
        f"{len(list((root / 'inbox').glob('*.yaml')))}"
    )
    return count / ingest_s


def _render_alone(specs: list[str], out: Path) -> float:
    from musicd.pipeline import Resources, run_job
    from musicd.spec import load_spec

    resources = Resources.load()
    start = time.monotonic()
    for index, text in enumerate(specs):
        run_job(load_spec(text), out / str(index), resources, seed=index + 1)
    return (time.monotonic() - start) / len(specs)


def bench_overhead(root: Path, count: int) -> None:
    specs = [spec_yaml(f"overhead {i}", seed=i + 1) for i in range(count)]
    alone_s = _render_alone(specs, root / "alone")
    config = write_config(root / "daemon", watch={"stability_delay_s": STABILITY_DELAY_S}, log_level="INFO")
    daemon = Daemon(config, runner=None)
    state = config.parent / "state"
    try:
        daemon.wait_for(lambda: "ready" in daemon.log, 120, "the worker")
        for index, text in enumerate(specs):
            (config.parent / "inbox" / f"o{index}.yaml").write_text(text)
        daemon.wait_for(
            lambda: len([r for r in job_rows(state) if r["state"] == "done"]) == count, 600, "every render"
        )
    finally:
        daemon.stop()
    rows = job_rows(state)
    first_start = min(_parse_time(r["started_at"]) for r in rows)
    last_finish = max(_parse_time(r["finished_at"]) for r in rows)
    through_daemon_s = (last_finish - first_start) / count
    print(
        f"daemon overhead per job ({count} real 5 s renders): render alone {alone_s:.3f} s/job, "
        f"through the daemon {through_daemon_s:.3f} s/job (first start -> last finish), "
        f"overhead {(through_daemon_s - alone_s) * 1000:+.0f} ms/job"
    )


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def bench_worker_rss(root: Path, count: int, runner: str | None) -> None:
    import re

    config = write_config(root, watch={"stability_delay_s": 0.2}, log_level="INFO")
    daemon = Daemon(config, runner=runner)
    samples: list[tuple[int, int]] = []
    try:
        daemon.wait_for(lambda: "ready" in daemon.log, 120, "the worker")
        pid = int(re.search(r"worker process (\d+) starting", daemon.log).group(1))
        for index in range(count):
            (root / "inbox" / f"r{index:04d}.yaml").write_text(spec_yaml(f"rss {index}", seed=index + 1))
        done = 0
        while done < count:
            done = len([r for r in job_rows(root / "state") if r["state"] in ("done", "failed")])
            rss = _rss_kib(pid)
            if rss is not None and (not samples or samples[-1][0] != done):
                samples.append((done, rss))
            if daemon.process.poll() is not None:
                raise AssertionError(daemon.log[-3000:])
            time.sleep(0.2)
    finally:
        daemon.stop()
    after_first = [rss for done, rss in samples if done >= min(10, count // 10)]
    base, last, peak = after_first[0], after_first[-1], max(after_first)
    print(
        f"worker RSS over {count} jobs ({runner or 'real pipeline'}): after warm-up {base / 1024:.1f} MiB, "
        f"at the end {last / 1024:.1f} MiB ({(last - base) / base * 100:+.1f}%), peak {peak / 1024:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--skip-render", action="store_true", help="skip the parts that render for real")
    parser.add_argument(
        "--only",
        choices=["pickup", "burst", "overhead", "rss"],
        action="append",
        help="run only this part (repeatable)",
    )
    parser.add_argument("--burst-runs", type=int, default=3, help="bursts to run (the median is printed)")
    args = parser.parse_args()
    parts = set(args.only or ["pickup", "burst", "overhead", "rss"])
    with tempfile.TemporaryDirectory(prefix="musicd-bench-") as tmp:
        root = Path(tmp)
        if "pickup" in parts:
            bench_pickup_latency(root / "pickup", 5 if args.quick else 20)
        if "burst" in parts:
            rates = [
                bench_burst(root / f"burst{run}", 200 if args.quick else 1000)
                for run in range(max(1, args.burst_runs))
            ]
            print(
                f"burst ingest rate over {len(rates)} run(s): median {statistics.median(rates):.0f} specs/s "
                f"({', '.join(f'{r:.0f}' for r in rates)}; target >= 200)"
            )
        if "overhead" in parts and not args.skip_render:
            bench_overhead(root / "overhead", 3 if args.quick else 10)
        if "rss" in parts:
            if args.skip_render:
                bench_worker_rss(root / "rss", 200, "daemon_runner:run_job")
            else:
                bench_worker_rss(root / "rss", 20 if args.quick else 200, None)


if __name__ == "__main__":
    main()
