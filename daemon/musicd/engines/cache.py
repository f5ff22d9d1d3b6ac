"""The resident model cache: one per worker process, models stay loaded between jobs.

Keyed by (engine, local model path, device, dtype). A model loads on first use (the
caller passes a loader) or at start-up (`preload`). Before a load, least-recently-used
models that are not in use are evicted until the new one fits the budget: on CUDA the
free GPU memory (torch.cuda.mem_get_info) less a reserve for working memory, on the CPU
a RAM budget. A model inside `with cache.use(...)` is never evicted. `run()` adds the
out-of-memory policy: unload everything, retry once, then ModelOutOfMemoryError.
Every use is recorded (path, device, dtype, cache hit, load seconds) for the manifest.
A model that is a resident process (the Magenta sidecar) reports its size with
`resident_bytes()` and is stopped with `release_resident()` when the cache drops it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from musicd.engines.devices import cuda_free_bytes, is_out_of_memory, model_bytes, release_device_memory
from musicd.errors import ModelOutOfMemoryError

if TYPE_CHECKING:
    from musicd.engines.settings import CacheSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
GIB = 1024**3


@dataclass(frozen=True)
class ModelKey:
    engine: str
    path: str
    device: str
    dtype: str


@dataclass(frozen=True)
class ModelUse:
    """One use of a model, as the manifest records it."""

    engine: str
    path: str
    device: str
    dtype: str
    cache_hit: bool
    load_s: float
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _OutOfMemory:
    message: str


@dataclass
class _Entry:
    key: ModelKey
    model: Any
    size_bytes: int
    last_used: float
    in_use: int = 0
    pinned: bool = False  # preloaded: exempt from idle unloading (not from budget eviction)


class ModelCache:
    """Loaded models by ModelKey, an LRU under a memory budget; thread-safe."""

    def __init__(
        self,
        *,
        cpu_budget_bytes: int = 8 * GIB,
        cuda_reserve_bytes: int = int(1.5 * GIB),
        keep_alive_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        cuda_free: Callable[[], int | None] = cuda_free_bytes,
    ) -> None:
        self.cpu_budget_bytes = int(cpu_budget_bytes)
        self.cuda_reserve_bytes = int(cuda_reserve_bytes)
        self.keep_alive_s = float(keep_alive_s)
        self._clock = clock
        self._cuda_free = cuda_free
        self._entries: OrderedDict[ModelKey, _Entry] = OrderedDict()  # oldest use first
        self._lock = threading.RLock()
        self._recorders: list[list[ModelUse]] = []
        self.loads = 0
        self.evictions = 0

    @classmethod
    def from_settings(
        cls, settings: CacheSettings, clock: Callable[[], float] = time.monotonic
    ) -> ModelCache:
        """A cache from CacheSettings (models.cache in the config)."""
        return cls(
            cpu_budget_bytes=int(settings.budget_gb * GIB),
            cuda_reserve_bytes=int(settings.reserve_gb * GIB),
            keep_alive_s=settings.keep_alive_s,
            clock=clock,
        )

    # ------------------------------------------------------------ queries

    def resident(self) -> list[ModelKey]:
        """Loaded models, least recently used first."""
        with self._lock:
            return list(self._entries)

    def resident_bytes(self, device: str | None = None) -> int:
        with self._lock:
            return sum(
                e.size_bytes for e in self._entries.values() if device is None or e.key.device == device
            )

    def __contains__(self, key: ModelKey) -> bool:
        with self._lock:
            return key in self._entries

    # ------------------------------------------------------------ use

    @contextmanager
    def use(self, key: ModelKey, loader: Callable[[], T], size_hint: int = 0) -> Iterator[T]:
        """The model for `key` (loading it with `loader()` if needed), held in use for the block."""
        entry, _use = self._acquire(key, loader, size_hint, record=True)
        try:
            yield entry.model
        finally:
            with self._lock:
                entry.in_use -= 1
                entry.last_used = self._clock()

    def run(
        self, key: ModelKey, loader: Callable[[], Any], work: Callable[[Any], T], size_hint: int = 0
    ) -> T:
        """`work(model)` with the out-of-memory policy: unload all, retry once, then fail cleanly."""
        message = ""
        for attempt in (1, 2):
            outcome = self._run_once(key, loader, work, size_hint)
            if not isinstance(outcome, _OutOfMemory):
                return outcome
            message = outcome.message
            # The failed attempt's frames (and their references to models) are gone by now,
            # so unloading really frees the memory before the retry.
            log.warning(
                "%s ran out of memory (attempt %d): %s; unloading all models",
                key.engine,
                attempt,
                message,
            )
            self.unload_all()
        raise ModelOutOfMemoryError(
            f"{key.engine} ran out of memory on {key.device} even with every other model unloaded "
            f"({message}); use a smaller model, a shorter texture, a lower "
            f"models.cache.reserve_gb or engines.texture: procedural"
        )

    def _run_once(
        self, key: ModelKey, loader: Callable[[], Any], work: Callable[[Any], T], size_hint: int
    ) -> T | _OutOfMemory:
        try:
            with self.use(key, loader, size_hint) as model:
                return work(model)
        except (MemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            return _OutOfMemory(f"{type(error).__name__}: {error}")

    def preload(self, key: ModelKey, loader: Callable[[], Any], size_hint: int = 0) -> ModelUse:
        """Load a model at start-up and pin it against idle unloading."""
        entry, use = self._acquire(key, loader, size_hint, record=False)
        with self._lock:
            entry.in_use -= 1
            entry.pinned = True
        return use

    @contextmanager
    def recording(self) -> Iterator[list[ModelUse]]:
        """Collect the ModelUse of every use() inside the block (for one job's manifest)."""
        uses: list[ModelUse] = []
        with self._lock:
            self._recorders.append(uses)
        try:
            yield uses
        finally:
            with self._lock:
                self._recorders.remove(uses)

    # ------------------------------------------------------------ unloading

    def unload_idle(self, now: float | None = None) -> list[ModelKey]:
        """Unload models unused for keep_alive_s (0: never); preloaded models stay. Returns them."""
        if self.keep_alive_s <= 0:
            return []
        now = self._clock() if now is None else now
        with self._lock:
            idle = [
                k
                for k, e in self._entries.items()
                if not e.in_use and not e.pinned and now - e.last_used >= self.keep_alive_s
            ]
            for key in idle:
                self._drop(key)
        if idle:
            self._free()
            log.info("unloaded idle models: %s", ", ".join(k.engine for k in idle))
        return idle

    def unload_all(self) -> list[ModelKey]:
        """Unload every model not in use right now."""
        with self._lock:
            gone = [k for k, e in self._entries.items() if not e.in_use]
            for key in gone:
                self._drop(key)
        self._free()
        return gone

    # ------------------------------------------------------------ internals

    def _acquire(
        self, key: ModelKey, loader: Callable[[], Any], size_hint: int, record: bool
    ) -> tuple[_Entry, ModelUse]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.in_use += 1
                entry.last_used = self._clock()
                self._entries.move_to_end(key)
                use = ModelUse(key.engine, key.path, key.device, key.dtype, True, 0.0, entry.size_bytes)
                self._note(use, record)
                return entry, use
            self._make_room(key.device, size_hint, exclude=key)
            started = time.perf_counter()
            model = loader()
            load_s = time.perf_counter() - started
            size = model_bytes(model) or _resident_bytes(model) or int(size_hint)
            entry = _Entry(key, model, size, self._clock(), in_use=1)
            self._entries[key] = entry
            self.loads += 1
            log.info(
                "loaded %s from %s on %s/%s in %.2f s (%.0f MB)",
                key.engine,
                key.path,
                key.device,
                key.dtype,
                load_s,
                size / 1e6,
            )
            self._make_room(key.device, 0, exclude=key)  # the real size may exceed the hint
            use = ModelUse(key.engine, key.path, key.device, key.dtype, False, round(load_s, 3), size)
            self._note(use, record)
            return entry, use

    def _note(self, use: ModelUse, record: bool) -> None:
        if record:
            for uses in self._recorders:
                uses.append(use)

    def _fits(self, device: str, need_bytes: int) -> bool:
        if device == "cuda":
            free = self._cuda_free()
            return free is None or need_bytes <= free - self.cuda_reserve_bytes
        return self.resident_bytes(device) + need_bytes <= self.cpu_budget_bytes

    def _make_room(self, device: str, need_bytes: int, exclude: ModelKey) -> None:
        while not self._fits(device, need_bytes):
            victim = next(
                (k for k, e in self._entries.items() if k.device == device and not e.in_use and k != exclude),
                None,
            )
            if victim is None:
                log.warning(
                    "model budget on %s exceeded and nothing can be evicted (%.0f MB resident); going on",
                    device,
                    self.resident_bytes(device) / 1e6,
                )
                return
            log.info("evicting %s (%s) to make room", victim.engine, victim.path)
            self._drop(victim)
            self.evictions += 1
            self._free()

    def _drop(self, key: ModelKey) -> None:
        entry = self._entries.pop(key)
        release = getattr(entry.model, "release_resident", None)
        entry.model = None
        if callable(release):
            release()

    @staticmethod
    def _free() -> None:
        gc.collect()
        release_device_memory()


def _resident_bytes(model: Any) -> int:
    """The size a resident-process model reports (its RSS), else 0."""
    measure = getattr(model, "resident_bytes", None)
    return int(measure()) if callable(measure) else 0
