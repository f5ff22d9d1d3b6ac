"""What `musicd status` and `musicd doctor` say about the worker backend (local, or Ray's actors and nodes).

A running service with `worker.backend: ray` keeps state_dir/backend.json up to date
(musicd.worker.ray_backend.RayPool): the cluster reachable or why not, each actor (state, job,
node, pid, musicd version) and each node. This module only reads it, with nothing heavy
imported, so the read-only commands stay fast.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicd.service.status_file import pid_alive

if TYPE_CHECKING:
    from musicd.config import Config
    from musicd.doctor import Check

BACKEND_STATUS_NAME = "backend.json"


def backend_status_path(state_dir: Path) -> Path:
    """Where a running service with the Ray backend writes its actors and nodes."""
    return state_dir / BACKEND_STATUS_NAME


def read_backend_status(path: Path) -> dict[str, Any] | None:
    """What a service last wrote to backend.json (None if nothing readable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def backend_summary(config: Config) -> dict[str, Any]:
    """The backend as configured and, for Ray, as the running service last saw it."""
    summary: dict[str, Any] = {"backend": config.worker.backend}
    if config.worker.backend != "ray":
        return summary
    ray = config.ray
    summary.update(address=ray.address, workers=ray.workers, results=ray.results)
    state = read_backend_status(backend_status_path(config.state_dir))
    if state is None:
        summary.update(available=None, reason="no service with the Ray backend has run here yet")
        return summary
    pid = state.get("service_pid")
    live = isinstance(pid, int) and pid_alive(pid)
    summary.update(
        available=bool(state.get("available")) and live,
        reason=state.get("reason", "") if live else "the service is not running (last known state below)",
        updated_s_ago=round(time.time() - float(state.get("updated_at", 0.0)), 1),
        actors=state.get("actors", []),
        nodes=state.get("nodes", []),
    )
    return summary


def backend_lines(summary: dict[str, Any]) -> list[str]:
    """`musicd status` lines for the backend."""
    if summary["backend"] != "ray":
        return ["backend: local (one worker process on this machine)"]
    if summary.get("available"):
        head = f"backend: ray at {summary['address']}, reachable"
    else:
        head = f"backend: ray at {summary['address']}, UNAVAILABLE: {summary.get('reason') or '?'}"
    lines = [head]
    nodes = summary.get("nodes", [])
    if nodes:
        alive = [n for n in nodes if n.get("alive")]
        lines.append(f"  nodes: {len(alive)} alive of {len(nodes)}")
        for node in nodes:
            state = "alive" if node.get("alive") else "dead"
            lines.append(
                f"    {node.get('ip', '?'):15} {node.get('hostname', ''):20} {state:5} "
                f"{node.get('cpus', 0):g} CPU {node.get('gpus', 0):g} GPU"
            )
    for actor in summary.get("actors", []):
        where = f"on {actor['node_ip']} pid {actor.get('pid')}" if actor.get("node_ip") else ""
        job = f" job {actor['job_id']}" if actor.get("job_id") else ""
        why = f" ({actor['reason']})" if actor.get("reason") and actor["state"] != "idle" else ""
        version = f" musicd {actor['version']}" if actor.get("version") else ""
        lines.append(f"  {actor['name']}: {actor['state']}{job} {where}{version}{why}".rstrip())
    return lines


def backend_checks(config: Config) -> list[Check]:
    """`musicd doctor`: the backend, Ray's installation, and the cluster as the service last saw it."""
    from musicd.doctor import Check

    if config.worker.backend != "ray":
        return [Check("worker backend", True, "local (one worker process on this machine)")]
    checks = []
    try:
        version = importlib.metadata.version("ray")
        checks.append(Check("Ray", True, f"{version} (every node needs this same version)"))
    except importlib.metadata.PackageNotFoundError:
        checks.append(
            Check(
                "Ray", False, "worker.backend is ray but Ray is not installed: pip install 'musicd[cluster]'"
            )
        )
    summary = backend_summary(config)
    lines = backend_lines(summary)
    ok = bool(summary.get("available"))
    detail = "; ".join([lines[0].removeprefix("backend: "), *(line.strip() for line in lines[1:])])
    checks.append(Check("worker backend", ok, detail, optional=summary.get("available") is None))
    return checks
