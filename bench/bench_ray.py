"""Benchmark the Ray backend against the local worker: `python bench/bench_ray.py [--jobs N]`.

Prints
  1. jobs per minute for N short real jobs (5 s of ambient, no stems) with the local backend,
     Ray with 1 actor and Ray with 2 actors (warm: resources loaded before the clock starts);
  2. dispatch overhead per job: the instant test runner (tests/daemon_runner.py) run one job at
     a time, claim -> done in the job database, local vs Ray;
  3. result transfer for a 60 s job with stems: the job through Ray with results returned
     (files streamed back in chunks through the object store) vs written in place
     (`ray.results: shared-outbox`), vs the local backend; and the MiB moved.

The service runs in this process (Service.step, real clocks); the Ray cluster is a one-node
cluster on 127.0.0.1 with 2 CPUs started here and shut down at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import wait as wait_for_handles
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
REPO_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_DIR / "tests"), str(REPO_DIR)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(REPO_DIR / "tests"), os.environ.get("PYTHONPATH")])
)

from daemon_helpers import TEST_RUNNER, spec_yaml, write_config  # noqa: E402
from musicd.config import load_config  # noqa: E402
from musicd.queue.jobs import JobState, NewJob  # noqa: E402
from musicd.service.loop import Service  # noqa: E402
from musicd.worker.backend_report import backend_status_path, read_backend_status  # noqa: E402


def _turn_until(service: Service, condition: Callable[[], bool], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if service.step() is not None or time.monotonic() > deadline:
            raise RuntimeError("the service ended or timed out")
        wait_for_handles(service.supervisor.wait_handles() if service.supervisor else [], timeout=0.02)


def _ready(service: Service, actors: int) -> bool:
    assert service.supervisor is not None
    if service.supervisor.backend == "local":
        return service.supervisor.ready
    state = read_backend_status(backend_status_path(service.config.state_dir)) or {}
    return sum(1 for a in state.get("actors", []) if a["state"] == "idle") >= actors


def _service(root: Path, backend: str, address: str, actors: int, runner: str | None, **ray: Any) -> Service:
    config_path = write_config(
        root,
        worker={"backend": backend, "heartbeat_interval_s": 0.5},
        ray={"address": address, "workers": actors, "num_cpus": 1, **ray},
        log_level="WARNING",
    )
    service = Service(load_config(config_path, env={}), runner=runner)
    service.start()
    _turn_until(service, lambda: _ready(service, actors), 300)
    return service


def _run_jobs(service: Service, specs: list[str]) -> tuple[float, list[Any]]:
    """Queue the specs, turn until all are finished; (seconds, job records)."""
    store = service.store
    assert store is not None
    start = time.monotonic()
    jobs = store.add_jobs(
        [
            NewJob(title=f"bench {i}", source_name="bench", spec_text=text, spec_hash=f"b{i}", seed=i)
            for i, text in enumerate(specs)
        ]
    )
    ids = [job.id for job in jobs]
    _turn_until(service, lambda: all(store.get(i).state in (JobState.DONE, JobState.FAILED) for i in ids))
    took = time.monotonic() - start
    finished = [store.get(i) for i in ids]
    failed = [job for job in finished if job.state is not JobState.DONE]
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) failed: {failed[0].error}")
    return took, finished


def _configs(address: str) -> list[tuple[str, str, int]]:
    return [("local", "local", 1), ("Ray, 1 actor", "ray", 1), ("Ray, 2 actors", "ray", 2)]


def bench_throughput(root: Path, address: str, count: int) -> None:
    specs = [spec_yaml(f"short {i}", 5) for i in range(count)]
    print(f"\n{count} short real jobs (5 s ambient, no stems), warm:")
    for label, backend, actors in _configs(address):
        service = _service(root / f"tp-{backend}-{actors}", backend, address, actors, None)
        try:
            took, _ = _run_jobs(service, specs)
        finally:
            service.shutdown()
        print(f"  {label:14} {took:6.1f} s  {count / took * 60:6.1f} jobs/min")


def bench_dispatch(root: Path, address: str, count: int) -> None:
    print(f"\ndispatch overhead, instant test runner, {count} jobs one at a time (claim -> done):")
    results = {}
    for label, backend, actors in _configs(address)[:2]:
        service = _service(root / f"dp-{backend}", backend, address, actors, TEST_RUNNER)
        try:
            per_job = []
            for i in range(count):
                took, _ = _run_jobs(service, [spec_yaml(f"instant {i}", 5)])
                per_job.append(took * 1000)
        finally:
            service.shutdown()
        results[label] = statistics.median(per_job)
        print(
            f"  {label:14} median {results[label]:6.1f} ms/job (p90 {sorted(per_job)[int(count * 0.9) - 1]:.1f})"
        )
    print(f"  Ray adds {results['Ray, 1 actor'] - results['local']:.1f} ms per job")


def _folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _transfer_rows(root: Path, address: str, spec: str, rows: list[Any], medians: dict[str, float]) -> None:
    for label, backend, extra in rows:
        folder = root / f"tr-{label.replace(' ', '').replace(',', '-')}"
        service = _service(folder, backend, address, 1, None, **extra)
        try:
            times = []
            for _ in range(3):
                took, [job] = _run_jobs(service, [spec])
                times.append(took)
                medians["size"] = _folder_mib(job.outbox_path)
        finally:
            service.shutdown()
        medians[label] = statistics.median(times)
        print(f"  {label:16} {medians[label]:6.2f} s", flush=True)


def bench_transfer(root: Path, address: str) -> None:
    spec = spec_yaml("transfer", 60, output={"stems": True, "formats": ["wav", "mp3"]}, genres=["house"])
    print("\n60 s house job with stems (wav + mp3), median of 3, one actor:")
    rows = [
        ("local", "local", {}),
        ("Ray, returned", "ray", {}),
        ("Ray, in place", "ray", {"results": "shared-outbox"}),
    ]
    medians: dict[str, float] = {}
    log_path = root / "bridge.log"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger().setLevel(logging.INFO)
    saved_stderr = os.dup(2)
    with open(log_path, "w") as log_file:  # the bridge (a child process) logs each transfer to stderr
        os.dup2(log_file.fileno(), 2)
    try:
        _transfer_rows(root, address, spec, rows, medians)
    finally:
        os.dup2(saved_stderr, 2)
        logging.getLogger().setLevel(logging.WARNING)
    size = medians.pop("size")
    fetched = [float(m) for m in re.findall(r"results fetched from \S+ in ([0-9.]+) s", log_path.read_text())]
    transfer = statistics.median(fetched) if fetched else float("nan")
    print(
        f"  result transfer (the bridge's own timing, median of {len(fetched)}): {transfer:.2f} s for "
        f"{size:.0f} MiB ({size / transfer:.0f} MiB/s); Ray returned vs local, whole job: "
        f"{medians['Ray, returned'] - medians['local']:+.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--transfer-only", action="store_true", help="only part 3")
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "include_dashboard": False, "object_store_memory": 200 * 2**20},
    )
    try:
        with tempfile.TemporaryDirectory(prefix="musicd-bench-ray-") as tmp:
            root = Path(tmp)
            print(f"Ray cluster at {cluster.address} (one node, 2 CPUs); {os.cpu_count()} cores here")
            if not args.transfer_only:
                bench_throughput(root, cluster.address, args.jobs)
                bench_dispatch(root, cluster.address, args.jobs)
            bench_transfer(root, cluster.address)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
