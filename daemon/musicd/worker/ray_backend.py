"""The Ray backend (`worker.backend: ray`): worker actors on a Ray cluster, driven from the service.

Two halves, one concept:

- `RayPool` lives in the service's process and has the loop's pool interface
  (musicd.worker.pool): free slots, submit, poll, cancel. It never imports Ray. It starts and
  watches the *bridge*, a child process that is the Ray driver, and talks to it over a pipe with
  the worker's own messages (musicd.worker.protocol).
- `bridge_main` (the child) connects to the cluster (`ray.address`), keeps `ray.workers` actors
  (musicd.worker.ray_actor.WorkerActor: the same worker code, Resources resident, one job at a
  time) and hands each job to a free one. Progress comes back by long poll; the finished
  folder is read back in chunks of CHUNK_BYTES, each chunk one object in Ray's object store
  (a window of them in flight), and written into the job's staging folder here. The service
  then publishes it as for the local worker: it stays the only SQLite writer and the only
  publisher. With `ray.results: shared-outbox` actors write straight into the staging folder,
  which must then be at the same path on every node.

Why a separate process: a Ray driver whose head (GCS) disappears ends its own process after a
while; the service must not. Failures and what they cost:

- an actor or its node dies (RayActorError, node removed): its job gets a WorkerDied (counted
  as a crash attempt, requeued by the loop) and the actor is made again;
- a job past its time limit, or an actor silent for heartbeat_timeout_s: the actor is killed
  (WorkerDied, counted) and made again; cancel reaches the running actor (at its next progress report);
- an actor whose node runs another musicd version is refused (BackendStatus says which node
  and both versions) and asked again every REFUSED_RETRY_S; so is one that dies before its
  hello answers because its creation failed (musicd missing or different on that node);
- a dispatch no actor took within heartbeat_timeout_s (the actor counted as free died and
  none could be made) goes back to the queue without counting an attempt;
- the cluster cannot be reached or is lost: in-flight jobs are requeued without counting an
  attempt, BackendStatus(available=False) pauses the "ray" backend in `musicd status`, and the
  bridge reconnects with a growing delay. A bridge that dies or stops answering is restarted.

The pool writes what the bridge reports (actors, nodes, reachable or why not) to
state_dir/backend.json, which `musicd status` and `musicd doctor` show.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicd import durable
from musicd.worker.joblog import install_worker_logging
from musicd.worker.process import _die_with_parent, current_rss_bytes
from musicd.worker.protocol import (
    BackendStatus,
    Heartbeat,
    JobFailed,
    JobSucceeded,
    Message,
    RunJob,
    Shutdown,
    WorkerDied,
    WorkerReady,
    WorkerStartFailed,
    receive_all,
)
from musicd.worker.ray_actor import musicd_version
from musicd.worker.supervisor import RunningJob

if TYPE_CHECKING:
    from musicd.config import RayConfig

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 * 2**20  # one object in the object store per chunk of a result file
CHUNK_WINDOW = 8  # chunks in flight per job
EVENTS_WAIT_S = 0.2  # an actor's long poll for progress
HEALTH_INTERVAL_S = 2.0  # how often the bridge asks the cluster for its nodes
TICK_S = 0.02
REFUSED_RETRY_S = 30.0  # a refused actor (version, resources) is asked again this often
FIRST_RECONNECT_S = 1.0
LONGEST_RECONNECT_S = 30.0
BRIDGE_START_TIMEOUT_S = 120.0  # connecting (ray.init) may take this long before the bridge is killed
INSTALL_HINT = "install the cluster extra on this machine and every node: pip install 'musicd[cluster]'"


# --- orders (pool -> bridge), beside Shutdown --------------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    order: RunJob
    time_limit_s: float


@dataclass(frozen=True)
class CancelJob:
    job_id: str


@dataclass(frozen=True)
class BridgeSettings:
    address: str
    workers: int
    num_cpus: float
    num_gpus: float
    results: str
    runner: str
    soundfont: str | None
    staging_root: str
    heartbeat_interval_s: float
    heartbeat_timeout_s: float
    version: str
    resources_kwargs: Mapping[str, Any] = field(default_factory=dict)
    log_level: int | None = None


# --- the service side ---------------------------------------------------------------------------


class RayPool:
    """The service's side of the Ray backend: a pool of `ray.workers` slots behind the bridge process."""

    backend = "ray"

    def __init__(
        self,
        ray_config: RayConfig,
        *,
        runner: str,
        soundfont: Path | None,
        staging_root: Path,
        status_path: Path | None = None,
        heartbeat_interval_s: float = 1.0,
        heartbeat_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        resources_kwargs: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> None:
        """`version` is the musicd version actors must run (this one's unless a test says otherwise)."""
        self.ray_config = ray_config
        self.settings = BridgeSettings(
            address=ray_config.address,
            workers=ray_config.workers,
            num_cpus=ray_config.num_cpus,
            num_gpus=ray_config.num_gpus,
            results=ray_config.results,
            runner=runner,
            soundfont=str(soundfont) if soundfont else None,
            staging_root=str(staging_root),
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_timeout_s=heartbeat_timeout_s,
            version=version or musicd_version(),
            resources_kwargs=dict(resources_kwargs or {}),
        )
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.status_path = status_path
        self.clock = clock
        self._ctx = multiprocessing.get_context("spawn")
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self._ready = False
        self.status = BackendStatus(False, "starting the Ray bridge")
        self.running: dict[str, RunningJob] = {}
        self._cancels: set[str] = set()
        self.last_heard_s = 0.0
        self.started_s = 0.0
        self.restart_at_s: float | None = None
        self.restart_delay_s = FIRST_RECONNECT_S
        self.restarts = 0

    # lifecycle

    def start(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        settings = replace(
            self.settings,
            heartbeat_timeout_s=self.heartbeat_timeout_s,
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        process = self._ctx.Process(
            target=bridge_main, name="musicd-ray", daemon=True, args=(child, settings)
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        self._ready = False
        self.started_s = self.last_heard_s = self.clock()
        self.restart_at_s = None
        log.info("Ray bridge process %s starting (cluster %s)", process.pid, self.settings.address)

    def keep_alive(self) -> None:
        if self.process is None and self.restart_at_s is not None and self.clock() >= self.restart_at_s:
            self.restarts += 1
            self.start()

    def stop(self, grace_s: float) -> bool:
        if self.process is None:
            return True
        try:
            if self.conn is not None:
                self.conn.send(Shutdown())
        except OSError:
            pass
        self.process.join(grace_s)
        exited = not self.process.is_alive()
        self.kill()
        self._write_status(BackendStatus(False, "the service stopped"))
        return exited

    def kill(self) -> None:
        """Kill the bridge at once; its actors end with it (Ray ends the actors an ended driver owned)."""
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None
        self._ready = False
        self.running.clear()
        self._cancels.clear()

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def idle(self) -> bool:
        return self._ready and not self.running

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def free_slots(self) -> int:
        if not self._ready or not self.status.available:
            return 0
        usable = sum(1 for actor in self.status.actors if actor.get("state") in ("idle", "busy", "sending"))
        return max(0, usable - len(self.running))

    def running_jobs(self) -> list[RunningJob]:
        return list(self.running.values())

    # jobs

    def submit(self, order: RunJob, time_limit_s: float) -> None:
        if self.conn is None or self.free_slots <= 0:
            raise RuntimeError("no Ray worker actor is free for a job")
        now = self.clock()
        self.running[order.job_id] = RunningJob(order.job_id, now, now + time_limit_s)
        self.conn.send(Dispatch(order, time_limit_s))

    def request_cancel(self, job_id: str) -> bool:
        if job_id not in self.running or self.conn is None:
            return False
        self._cancels.add(job_id)
        self.conn.send(CancelJob(job_id))
        return True

    def cancel_sent(self, job_id: str) -> bool:
        return job_id in self._cancels

    # watching

    def wait_handles(self) -> list[Any]:
        if self.process is None or self.conn is None:
            return []
        return [self.conn, self.process.sentinel]

    def poll(self) -> list[Message]:
        if self.process is None or self.conn is None:
            return []
        messages = receive_all(self.conn, self._note)
        messages.extend(self._check_health())
        return messages

    def _note(self, message: Message) -> None:
        self.last_heard_s = self.clock()
        if isinstance(message, WorkerReady):
            self._ready = True
            self.restart_delay_s = FIRST_RECONNECT_S
        elif isinstance(message, BackendStatus):
            self.status = message
            self._write_status(message)
        elif isinstance(message, (JobSucceeded, JobFailed)) or (
            isinstance(message, WorkerDied) and message.job_id is not None
        ):
            assert message.job_id is not None
            self.running.pop(message.job_id, None)
            self._cancels.discard(message.job_id)

    def _check_health(self) -> list[Message]:
        assert self.process is not None
        now = self.clock()
        reason: str | None = None
        if not self.process.is_alive():
            reason = f"the Ray bridge process exited (exit code {self.process.exitcode})"
        elif self._ready and now - self.last_heard_s > self._silence_limit_s():
            reason = f"the Ray cluster at {self.settings.address} stopped answering for {now - self.last_heard_s:.0f} s"
        elif not self._ready and now - self.started_s > BRIDGE_START_TIMEOUT_S:
            reason = f"the Ray bridge did not start within {BRIDGE_START_TIMEOUT_S:.0f} s"
        if reason is None:
            return []
        log.error("%s; restarting it in %.0f s", reason, self.restart_delay_s)
        lost = list(self.running)
        self.kill()
        self.restart_at_s = now + self.restart_delay_s
        self.restart_delay_s = min(self.restart_delay_s * 2, LONGEST_RECONNECT_S)
        self.status = BackendStatus(False, f"{reason}; reconnecting")
        self._write_status(self.status)
        died: list[Message] = [WorkerDied(job_id, reason, counts=False) for job_id in lost]
        return [*died, self.status]

    def _silence_limit_s(self) -> float:
        """How long the bridge may be silent: longer while it connects (ray.init blocks)."""
        if self.status.available:
            return self.heartbeat_timeout_s
        return max(self.heartbeat_timeout_s, BRIDGE_START_TIMEOUT_S)

    def _write_status(self, status: BackendStatus) -> None:
        if self.status_path is None:
            return
        data = {
            "backend": "ray",
            "address": self.settings.address,
            "service_pid": os.getpid(),
            "updated_at": time.time(),
            "available": status.available,
            "reason": status.reason,
            "workers": self.settings.workers,
            "results": self.settings.results,
            "actors": [dict(actor) for actor in status.actors],
            "nodes": [dict(node) for node in status.nodes],
        }
        try:
            durable.write_json(self.status_path, data)
        except OSError as exc:
            log.warning("could not write %s: %s", self.status_path, exc)


# --- the bridge process (the Ray driver) ----------------------------------------------------------


def bridge_main(conn: Connection, settings: BridgeSettings) -> None:
    """Entry point of the bridge process: connect to the cluster and run jobs on its actors until Shutdown."""
    install_worker_logging(settings.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when the bridge stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _die_with_parent()
    try:
        import ray  # noqa: F401
    except ImportError:
        conn.send(WorkerStartFailed(f"worker.backend is ray but Ray is not installed; {INSTALL_HINT}"))
        return
    conn.send(WorkerReady(os.getpid(), 0.0))
    _Bridge(conn, settings).run()


@dataclass(frozen=True)
class _Waiting:
    """A dispatch not yet given to an actor, and when it arrived (monotonic s)."""

    dispatch: Dispatch
    received_s: float


@dataclass
class _Transfer:
    """A finished job's files coming back chunk by chunk into its staging folder."""

    stage: Path
    todo: deque[tuple[str, int, int]]  # (name, offset, length) not yet asked for
    in_flight: dict[Any, tuple[str, int]] = field(default_factory=dict)  # ref -> (name, offset)
    started_s: float = 0.0
    bytes: int = 0


@dataclass
class _Job:
    dispatch: Dispatch
    deadline_s: float
    run_ref: Any
    events_ref: Any = None
    final_ref: Any = None  # the last events call, made after the run returned: it drains the rest
    result: tuple[Message, list[tuple[str, int]]] | None = None
    transfer: _Transfer | None = None

    @property
    def job_id(self) -> str:
        return self.dispatch.order.job_id


@dataclass
class _Slot:
    name: str
    actor: Any = None
    state: str = "down"  # down | starting | idle | busy | sending | refused
    hello_ref: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    retry_at_s: float = 0.0
    job: _Job | None = None
    last_heard_s: float = 0.0
    actor_name: str = ""
    generation: int = 0

    def describe(self) -> dict[str, Any]:
        keys = ("node_ip", "node_id", "hostname", "pid", "version", "load_s")
        return {
            "name": self.name,
            "actor": self.actor_name,
            "state": self.state,
            "job_id": self.job.job_id if self.job else None,
            "reason": self.reason,
            **{key: self.info[key] for key in keys if key in self.info},
        }


class _Bridge:
    def __init__(self, conn: Connection, settings: BridgeSettings) -> None:
        import ray

        from musicd.worker.ray_actor import WorkerActor

        self.ray = ray
        self.conn = conn
        self.settings = settings
        self.actor_class = ray.remote(WorkerActor)
        self.slots = [_Slot(f"musicd-worker-{index + 1}") for index in range(settings.workers)]
        self.pending: deque[_Waiting] = deque()
        self.connected = False
        self.reason = f"connecting to the Ray cluster at {settings.address}"
        self.reconnect_at_s = 0.0
        self.reconnect_delay_s = FIRST_RECONNECT_S
        self.nodes: tuple[Mapping[str, Any], ...] = ()
        self.next_health_s = 0.0
        self.next_beat_s = 0.0
        self.sent_status: BackendStatus | None = None
        self.stopping = False

    # the loop

    def run(self) -> None:
        try:
            while not self.stopping:
                now = time.monotonic()
                if not self.connected and now >= self.reconnect_at_s:
                    self._report()  # "connecting ..." before ray.init, which may block a while
                    self._connect()
                if self.connected:
                    self._keep_actors(now)
                    self._assign(now)
                    self._wait_and_handle()
                    self._check_limits(time.monotonic())
                    if now >= self.next_health_s:
                        self.next_health_s = now + HEALTH_INTERVAL_S
                        self._health()
                self._report()
                if now >= self.next_beat_s:
                    self.next_beat_s = now + self.settings.heartbeat_interval_s
                    self.conn.send(Heartbeat(None, current_rss_bytes()))
                self._read_orders(0.0 if self.connected else TICK_S * 5)
        except (EOFError, OSError):  # the service is gone
            pass
        finally:
            self._shutdown()

    def _read_orders(self, timeout_s: float) -> None:
        while self.conn.poll(timeout_s):
            timeout_s = 0.0
            order = self.conn.recv()
            if isinstance(order, Shutdown):
                self.stopping = True
                return
            if isinstance(order, Dispatch):
                self.pending.append(_Waiting(order, time.monotonic()))
                if not self.connected:
                    self._drop_pending(self.reason)
            elif isinstance(order, CancelJob):
                self._cancel(order.job_id)

    def _send(self, message: Message) -> None:
        self.conn.send(message)

    # the cluster

    def _connect(self) -> None:
        ray = self.ray
        try:
            ray.init(
                address=self.settings.address,
                namespace="musicd",
                log_to_driver=True,
                logging_level=logging.WARNING,
                ignore_reinit_error=True,
            )
            self.nodes = self._node_summary()
        except Exception as exc:  # anything ray.init raises: the cluster is not usable now
            self._lost(f"cannot reach the Ray cluster at {self.settings.address}: {_first_line(exc)}")
            return
        log.info("connected to the Ray cluster at %s (%d node(s))", self.settings.address, len(self.nodes))
        self.connected = True
        self.reason = ""
        self.reconnect_delay_s = FIRST_RECONNECT_S
        self.next_health_s = time.monotonic() + HEALTH_INTERVAL_S

    def _lost(self, reason: str) -> None:
        """The cluster is unreachable: requeue what runs (not the jobs' fault), retry later."""
        if self.connected:
            log.error("lost the Ray cluster: %s", reason)
        self.reason = f"{reason}; jobs stay queued, reconnecting"
        for slot in self.slots:
            if slot.job is not None:
                self._send(WorkerDied(slot.job.job_id, reason, counts=False))
            # the generation goes on: an old actor of the same name may still be being torn down
            self.slots[self.slots.index(slot)] = _Slot(slot.name, generation=slot.generation)
        self._drop_pending(reason)
        try:
            self.ray.shutdown()
        except Exception:  # a driver that lost its head may fail to shut down cleanly
            log.debug("ray.shutdown failed", exc_info=True)
        self.connected = False
        self.nodes = ()
        self.reconnect_at_s = time.monotonic() + self.reconnect_delay_s
        self.reconnect_delay_s = min(self.reconnect_delay_s * 2, LONGEST_RECONNECT_S)

    def _drop_pending(self, reason: str) -> None:
        while self.pending:
            self._send(WorkerDied(self.pending.popleft().dispatch.order.job_id, reason, counts=False))

    def _node_summary(self) -> tuple[Mapping[str, Any], ...]:
        nodes = []
        for node in self.ray.nodes():
            resources = node.get("Resources", {})
            nodes.append(
                {
                    "node_id": node.get("NodeID", ""),
                    "ip": node.get("NodeManagerAddress", ""),
                    "hostname": node.get("NodeManagerHostname", ""),
                    "alive": bool(node.get("Alive")),
                    "cpus": resources.get("CPU", 0),
                    "gpus": resources.get("GPU", 0),
                }
            )
        return tuple(nodes)

    def _health(self) -> None:
        try:
            self.nodes = self._node_summary()
        except Exception as exc:  # the head (GCS) is gone
            self._lost(f"the Ray cluster at {self.settings.address} stopped answering: {_first_line(exc)}")

    # actors

    def _keep_actors(self, now: float) -> None:
        for slot in self.slots:
            if slot.state in ("down", "refused") and now >= slot.retry_at_s:
                try:
                    self._make_actor(slot)
                except Exception as exc:  # one slot's trouble (a name still taken, ...) is not the bridge's
                    log.exception("%s: could not make its actor", slot.name)
                    slot.actor, slot.hello_ref, slot.state = None, None, "down"
                    slot.reason = f"could not make the Ray actor: {_first_line(exc)}"
                    slot.retry_at_s = now + FIRST_RECONNECT_S

    def _make_actor(self, slot: _Slot) -> None:
        settings = self.settings
        if slot.actor is not None:
            self._kill(slot)
        slot.generation += 1
        # named (in namespace "musicd") so an operator can find it: `ray.get_actor(name, namespace="musicd")`
        slot.actor_name = f"{socket.gethostname()}-{os.getppid()}-{slot.name}-{slot.generation}"
        slot.actor = self.actor_class.options(
            name=slot.actor_name,
            num_cpus=settings.num_cpus,
            num_gpus=settings.num_gpus,
            max_restarts=0,
            max_task_retries=0,
            max_concurrency=4,  # run, events, cancel and read_chunk side by side
            scheduling_strategy="SPREAD",
        ).remote(settings.runner, settings.soundfont, dict(settings.resources_kwargs), settings.log_level)
        slot.hello_ref = slot.actor.hello.remote(settings.version)
        slot.state = "starting"
        slot.reason = (
            f"waiting for a node with {settings.num_cpus:g} CPU(s) and {settings.num_gpus:g} GPU(s) free"
        )
        slot.info = {}
        slot.last_heard_s = time.monotonic()

    def _kill(self, slot: _Slot) -> None:
        try:
            self.ray.kill(slot.actor, no_restart=True)
        except Exception:  # already dead
            log.debug("ray.kill of %s failed", slot.name, exc_info=True)
        slot.actor = None

    def _actor_lost(self, slot: _Slot, reason: str, *, counts: bool = True) -> None:
        """The slot's actor died or was killed: its job (if any) is reported, the actor made again."""
        log.error("%s: %s", slot.name, reason)
        if slot.job is not None:
            self._send(WorkerDied(slot.job.job_id, reason, counts=counts))
            slot.job = None
        self._kill(slot)
        slot.state = "down"
        slot.hello_ref = None
        slot.reason = reason
        slot.retry_at_s = 0.0

    # jobs

    def _assign(self, now: float) -> None:
        for slot in self.slots:
            if not self.pending:
                return
            if slot.state != "idle":
                continue
            dispatch = self.pending.popleft().dispatch
            order = dispatch.order
            returned = self.settings.results == "returned"
            job = _Job(dispatch, now + dispatch.time_limit_s, slot.actor.run.remote(order, returned))
            job.events_ref = slot.actor.events.remote(EVENTS_WAIT_S)
            slot.job, slot.state, slot.last_heard_s = job, "busy", now
            log.info("job %s: sent to %s on %s", order.job_id, slot.name, slot.info.get("node_ip", "?"))

    def _cancel(self, job_id: str) -> None:
        for waiting in list(self.pending):
            if waiting.dispatch.order.job_id == job_id:
                self.pending.remove(waiting)
                self._send(JobFailed(job_id, "cancelled before it started", cancelled=True))
                return
        for slot in self.slots:
            if slot.job is not None and slot.job.job_id == job_id and slot.actor is not None:
                slot.actor.cancel.remote(job_id)

    def _refs(self) -> dict[Any, tuple[_Slot, str]]:
        refs: dict[Any, tuple[_Slot, str]] = {}
        for slot in self.slots:
            if slot.hello_ref is not None:
                refs[slot.hello_ref] = (slot, "hello")
            job = slot.job
            if job is None:
                continue
            if job.result is None:
                refs[job.run_ref] = (slot, "run")
            if job.events_ref is not None:
                refs[job.events_ref] = (slot, "events")
            if job.final_ref is not None:
                refs[job.final_ref] = (slot, "final")
            if job.transfer is not None:
                for ref in job.transfer.in_flight:
                    refs[ref] = (slot, "chunk")
        return refs

    def _wait_and_handle(self) -> None:
        refs = self._refs()
        if not refs:
            time.sleep(TICK_S)
            return
        ready, _ = self.ray.wait(list(refs), num_returns=len(refs), timeout=TICK_S, fetch_local=False)
        for ref in ready:
            slot, kind = refs[ref]
            if slot.actor is None:  # lost meanwhile (an earlier ref of the same slot)
                continue
            try:
                value = self.ray.get(ref)
            except Exception as exc:  # RayActorError, ActorUnavailableError, node loss, ...
                if kind == "hello":
                    self._start_failed(slot, exc)
                else:
                    self._actor_lost(slot, _death_reason(slot, exc))
                continue
            slot.last_heard_s = time.monotonic()
            try:
                self._handle(slot, kind, ref, value)
            except (EOFError, BrokenPipeError, ConnectionResetError):
                raise  # the pipe to the service: the bridge ends (run() handles it)
            except Exception as exc:  # one job's trouble (a staging write, a bad name) ends that job only
                log.exception("%s: handling its %s answer failed", slot.name, kind)
                self._actor_lost(
                    slot, f"the Ray bridge failed on {slot.name}'s {kind} answer: {_first_line(exc)}"
                )

    def _handle(self, slot: _Slot, kind: str, ref: Any, value: Any) -> None:
        if kind == "hello":
            self._hello(slot, value)
        elif kind in ("events", "final"):
            self._events(slot, value, final=kind == "final")
        elif kind == "run":
            assert slot.job is not None
            slot.job.result = value
            slot.job.final_ref = slot.actor.events.remote(0.0)
        elif kind == "chunk":
            self._chunk(slot, ref, value)

    def _start_failed(self, slot: _Slot, exc: BaseException) -> None:
        """The actor died (or could not be made) before its hello answered."""
        slot.hello_ref = None
        self._kill(slot)
        slot.state = "down" if _system_death(exc) else "refused"
        node = _node_of(exc) or "an unknown node"
        if slot.state == "down":  # its node went away meanwhile: make it again soon, elsewhere
            slot.reason = f"the Ray actor {slot.name} died before it started ({_first_line(exc)})"
            slot.retry_at_s = time.monotonic() + FIRST_RECONNECT_S
        else:  # its creation failed: musicd missing or different on that node; ask again later
            slot.reason = (
                f"could not start a musicd actor on node {node}: is the same musicd installed there? "
                f"({_first_line(exc)})"
            )
            slot.retry_at_s = time.monotonic() + REFUSED_RETRY_S
        log.error(
            "%s: %s (asking again in %.0f s)", slot.name, slot.reason, slot.retry_at_s - time.monotonic()
        )

    def _hello(self, slot: _Slot, info: dict[str, Any]) -> None:
        slot.hello_ref = None
        node_ips = {node["node_id"]: node["ip"] for node in self.nodes}
        slot.info = {**info, "node_ip": node_ips.get(info.get("node_id"), info.get("node_ip"))}
        problem = info.get("refused") or info.get("error")
        if problem:
            log.error("%s refused: %s (asking again in %.0f s)", slot.name, problem, REFUSED_RETRY_S)
            self._kill(slot)
            slot.state, slot.reason = "refused", problem
            slot.retry_at_s = time.monotonic() + REFUSED_RETRY_S
            return
        slot.state, slot.reason = "idle", ""
        log.info(
            "%s ready on %s (pid %s, musicd %s, loaded in %.2f s)",
            slot.name,
            info.get("node_ip"),
            info.get("pid"),
            info.get("version"),
            info.get("load_s", 0.0),
        )

    def _events(self, slot: _Slot, messages: list[Message], *, final: bool) -> None:
        job = slot.job
        assert job is not None
        for message in messages:
            self._send(message)
        if final:
            job.final_ref = None
        else:
            job.events_ref = None
            if job.result is None:
                job.events_ref = slot.actor.events.remote(EVENTS_WAIT_S)
        if (
            job.result is not None
            and job.events_ref is None
            and job.final_ref is None
            and job.transfer is None
        ):
            self._finish(slot, job)

    def _finish(self, slot: _Slot, job: _Job) -> None:
        """The run returned and its last events went out: fetch its files or report the result."""
        assert job.result is not None
        message, files = job.result
        if isinstance(message, JobSucceeded) and self.settings.results == "returned":
            job.transfer = self._start_transfer(job.job_id, files)
            slot.state = "sending"
            self._more_chunks(slot, job)
            return
        if isinstance(message, JobSucceeded):  # shared outbox: already in the staging folder
            message = JobSucceeded(job.job_id, str(self._stage(job.job_id)), message.seed)
        self._done(slot, message)

    def _done(self, slot: _Slot, message: Message) -> None:
        self._send(message)
        slot.job = None
        slot.state = "idle"

    def _stage(self, job_id: str) -> Path:
        from musicd.service.outbox import staging_dir

        return staging_dir(Path(self.settings.staging_root).parent, job_id)

    def _start_transfer(self, job_id: str, files: list[tuple[str, int]]) -> _Transfer:
        stage = self._stage(job_id)
        todo: deque[tuple[str, int, int]] = deque()
        stage.mkdir(parents=True, exist_ok=True)
        for name, size in files:
            path = _inside(stage, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.truncate(size)
            todo.extend(
                (name, offset, min(CHUNK_BYTES, size - offset)) for offset in range(0, size, CHUNK_BYTES)
            )
        return _Transfer(stage, todo, started_s=time.monotonic())

    def _more_chunks(self, slot: _Slot, job: _Job) -> None:
        transfer = job.transfer
        assert transfer is not None
        while transfer.todo and len(transfer.in_flight) < CHUNK_WINDOW:
            name, offset, length = transfer.todo.popleft()
            ref = slot.actor.read_chunk.remote(job.job_id, name, offset, length)
            transfer.in_flight[ref] = (name, offset)
        if not transfer.todo and not transfer.in_flight:
            assert job.result is not None
            message = job.result[0]
            assert isinstance(message, JobSucceeded)
            took_s = time.monotonic() - transfer.started_s
            log.info(
                "job %s: %.1f MiB of results fetched from %s in %.2f s",
                job.job_id,
                transfer.bytes / 2**20,
                slot.name,
                took_s,
            )
            slot.actor.discard.remote(job.job_id)
            self._done(slot, JobSucceeded(job.job_id, str(transfer.stage), message.seed))

    def _chunk(self, slot: _Slot, ref: Any, data: bytes) -> None:
        job = slot.job
        assert job is not None and job.transfer is not None
        name, offset = job.transfer.in_flight.pop(ref)
        fd = os.open(_inside(job.transfer.stage, name), os.O_WRONLY)
        try:
            os.pwrite(fd, data, offset)
        finally:
            os.close(fd)
        job.transfer.bytes += len(data)
        self._more_chunks(slot, job)

    def _check_limits(self, now: float) -> None:
        limit_s = self.settings.heartbeat_timeout_s
        while self.pending and now - self.pending[0].received_s > limit_s:
            # the actor the service counted as free died and no other took the job: back to the queue
            waited = self.pending.popleft()
            why = "; ".join(sorted({f"{slot.name}: {slot.reason}" for slot in self.slots if slot.reason}))
            reason = f"no Ray worker actor could take the job within {limit_s:.0f} s" + (
                f" ({why})" if why else ""
            )
            log.warning("job %s: %s; returning it to the queue", waited.dispatch.order.job_id, reason)
            self._send(WorkerDied(waited.dispatch.order.job_id, reason, counts=False))
        for slot in self.slots:
            job = slot.job
            if job is not None and now > job.deadline_s:
                limit = job.dispatch.time_limit_s
                self._actor_lost(
                    slot, f"the job ran past its time limit of {limit:.0f} s (worker.job_timeout_*)"
                )
            elif job is not None and now - slot.last_heard_s > self.settings.heartbeat_timeout_s:
                self._actor_lost(
                    slot, f"the Ray actor {slot.name} sent nothing for {now - slot.last_heard_s:.0f} s (hung)"
                )

    # status

    def _report(self) -> None:
        status = BackendStatus(
            available=self.connected,
            reason=self.reason,
            actors=tuple(slot.describe() for slot in self.slots),
            nodes=self.nodes,
        )
        if status != self.sent_status:
            self.sent_status = status
            self._send(status)

    def _shutdown(self) -> None:
        if not self.connected:
            return
        for slot in self.slots:
            if slot.actor is not None:
                self._kill(slot)
        try:
            self.ray.shutdown()
        except Exception:
            log.debug("ray.shutdown failed", exc_info=True)


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{name!r} is outside the job's folder")
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _system_death(exc: BaseException) -> bool:
    """Whether an actor died of its node or process (not of its own creation failing)."""
    try:
        from ray.exceptions import RayActorError
    except ImportError:
        return False
    return isinstance(exc, RayActorError) and not exc.actor_init_failed


def _node_of(exc: BaseException) -> str | None:
    """The node address Ray's error names (`ip=10.0.0.7` in a task error, `ip: ...` in a death)."""
    match = re.search(r"\bip[=:]\s*([0-9A-Fa-f.:]*[0-9A-Fa-f])", str(exc))
    return match.group(1) if match else None


def _death_reason(slot: _Slot, exc: BaseException) -> str:
    where = slot.info.get("node_ip") or "an unknown node"
    return f"the Ray actor {slot.name} on {where} died ({_first_line(exc)})"
