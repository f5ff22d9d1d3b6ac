"""The resident model cache: loading, hits, LRU eviction under a budget, in-use protection,
idle unloading, the out-of-memory policy, and the same with the tiny real models."""

from __future__ import annotations

import threading
import weakref

import pytest

from musicd.engines import ModelCache, ModelKey, parse_engine_config, preload_models
from musicd.errors import ModelOutOfMemoryError

MB = 1_000_000


class Model:
    """A stand-in model object: only its identity matters to the cache."""

    def __init__(self, name: str) -> None:
        self.name = name


class Loader:
    """Counts loads; optionally fails the first `failures` calls with `error`."""

    def __init__(self, name: str, failures: int = 0, error: type[BaseException] = MemoryError) -> None:
        self.name = name
        self.calls = 0
        self.failures = failures
        self.error = error

    def __call__(self) -> Model:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"{self.name}: out of memory (injected)")
        return Model(self.name)


def key(name: str, device: str = "cpu") -> ModelKey:
    return ModelKey(name, f"/models/{name}", device, "float32" if device == "cpu" else "float16")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_use_loads_and_the_next_is_a_hit_with_no_load_time():
    cache = ModelCache(cpu_budget_bytes=100 * MB)
    loader = Loader("a")
    with cache.recording() as uses:
        with cache.use(key("a"), loader, 10 * MB) as first:
            pass
        with cache.use(key("a"), loader, 10 * MB) as second:
            pass
    assert first is second and loader.calls == 1 and cache.loads == 1
    assert [u.cache_hit for u in uses] == [False, True]
    assert uses[1].load_s == 0.0 and uses[0].load_s >= 0.0
    assert uses[0].to_dict() == {
        "engine": "a",
        "path": "/models/a",
        "device": "cpu",
        "dtype": "float32",
        "cache_hit": False,
        "load_s": uses[0].load_s,
        "size_bytes": 10 * MB,
    }


def test_recording_only_collects_uses_inside_its_block():
    cache = ModelCache()
    with cache.use(key("a"), Loader("a")):
        pass
    with cache.recording() as uses:
        with cache.use(key("a"), Loader("a")):
            pass
    with cache.use(key("a"), Loader("a")):
        pass
    assert len(uses) == 1


def test_least_recently_used_model_is_evicted_to_fit_the_budget():
    cache = ModelCache(cpu_budget_bytes=25 * MB)
    for name in ("a", "b"):
        with cache.use(key(name), Loader(name), 10 * MB):
            pass
    with cache.use(key("a"), Loader("a"), 10 * MB):  # a is now more recent than b
        pass
    with cache.use(key("c"), Loader("c"), 10 * MB):
        pass
    assert cache.resident() == [key("a"), key("c")]
    assert cache.evictions == 1


def test_a_model_in_use_is_never_evicted():
    cache = ModelCache(cpu_budget_bytes=15 * MB)
    with cache.use(key("a"), Loader("a"), 10 * MB) as a:
        with cache.use(key("b"), Loader("b"), 10 * MB):
            assert key("a") in cache and key("b") in cache  # over budget, but a is in use
        assert a.name == "a"
    with cache.use(key("c"), Loader("c"), 10 * MB):
        pass
    assert key("c") in cache and len(cache.resident()) == 1


def test_the_cuda_budget_is_free_gpu_memory_less_the_reserve():
    total = 1000 * MB
    cache = ModelCache(cuda_reserve_bytes=200 * MB, cuda_free=lambda: total - cache.resident_bytes("cuda"))
    for name in ("a", "b"):
        with cache.use(key(name, "cuda"), Loader(name), 300 * MB):
            pass
    assert len(cache.resident()) == 2  # 600 MB used, 400 free, 200 reserved
    with cache.use(key("c", "cuda"), Loader("c"), 300 * MB):
        pass
    assert cache.resident() == [key("b", "cuda"), key("c", "cuda")]


def test_cpu_and_cuda_budgets_are_separate():
    cache = ModelCache(cpu_budget_bytes=15 * MB, cuda_free=lambda: 10_000 * MB)
    with cache.use(key("a"), Loader("a"), 10 * MB):
        pass
    with cache.use(key("b", "cuda"), Loader("b"), 10 * MB):
        pass
    assert len(cache.resident()) == 2


def test_idle_models_unload_after_keep_alive_but_preloaded_ones_stay():
    clock = Clock()
    cache = ModelCache(keep_alive_s=60.0, clock=clock)
    preloaded = cache.preload(key("p"), Loader("p"), MB)
    assert preloaded.cache_hit is False
    with cache.use(key("a"), Loader("a"), MB):
        pass
    clock.now += 30
    assert cache.unload_idle() == []
    clock.now += 31
    assert cache.unload_idle() == [key("a")]
    assert cache.resident() == [key("p")]


def test_keep_alive_zero_keeps_models_forever():
    clock = Clock()
    cache = ModelCache(keep_alive_s=0.0, clock=clock)
    with cache.use(key("a"), Loader("a")):
        pass
    clock.now += 10**6
    assert cache.unload_idle() == [] and key("a") in cache


def test_idle_unloading_skips_a_model_in_use():
    clock = Clock()
    cache = ModelCache(keep_alive_s=1.0, clock=clock)
    with cache.use(key("a"), Loader("a")):
        clock.now += 100
        assert cache.unload_idle(now=clock.now) == []
    clock.now += 100
    assert cache.unload_idle() == [key("a")]


def test_out_of_memory_once_unloads_everything_and_retries():
    cache = ModelCache()
    with cache.use(key("other"), Loader("other")):
        pass
    loader = Loader("big", failures=1)
    result = cache.run(key("big"), loader, lambda model: f"ran {model.name}")
    assert result == "ran big" and loader.calls == 2
    assert cache.resident() == [key("big")]  # "other" went in the clean-up


def test_out_of_memory_during_work_retries_once():
    cache = ModelCache()
    attempts = []

    def work(model: Model) -> str:
        attempts.append(model)
        if len(attempts) == 1:
            raise MemoryError("injected")
        return "done"

    assert cache.run(key("a"), Loader("a"), work) == "done"
    assert len(attempts) == 2 and attempts[0] is not attempts[1]  # reloaded after the unload


def test_the_failed_attempts_model_is_freed_before_the_retry():
    cache = ModelCache()
    loaded = []

    def loader() -> Model:
        model = Model(f"attempt {len(loaded) + 1}")
        loaded.append(weakref.ref(model))
        return model

    def work(model: Model) -> bool:
        if len(loaded) == 1:
            raise MemoryError("injected")
        return loaded[0]() is None  # nothing (not even the traceback) kept the first copy alive

    assert cache.run(key("m"), loader, work) is True


def test_out_of_memory_twice_is_a_clean_error_and_the_cache_stays_usable():
    cache = ModelCache()
    with pytest.raises(ModelOutOfMemoryError, match="ran out of memory.*procedural"):
        cache.run(key("big"), Loader("big", failures=2), lambda model: None)
    assert cache.resident() == []
    assert cache.run(key("small"), Loader("small"), lambda model: model.name) == "small"


def test_other_errors_pass_through_without_unloading():
    cache = ModelCache()
    with cache.use(key("a"), Loader("a")):
        pass

    def broken(model: Model) -> None:
        raise ValueError("not a memory problem")

    with pytest.raises(ValueError):
        cache.run(key("a"), Loader("a"), broken)
    assert key("a") in cache


def test_concurrent_users_share_one_load():
    cache = ModelCache()
    loader = Loader("a")
    barrier = threading.Barrier(4)
    seen = []

    def user() -> None:
        barrier.wait(timeout=10)
        with cache.use(key("a"), loader) as model:
            seen.append(model)

    threads = [threading.Thread(target=user) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert loader.calls == 1 and len(seen) == 4 and len({id(m) for m in seen}) == 1


# ---------------------------------------------------------------- with the tiny real models


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    pytest.importorskip("torch", reason="torch (the ml extra) is not installed")
    pytest.importorskip("diffusers", reason="diffusers (the ml extra) is not installed")
    pytest.importorskip("transformers", reason="transformers (the ml extra) is not installed")
    from tiny_models import build_tiny_musicgen, build_tiny_riffusion

    root = tmp_path_factory.mktemp("models")
    return build_tiny_riffusion(root / "riffusion"), build_tiny_musicgen(root / "musicgen")


def engine_config(tiny_models, budget_gb: float = 8.0, preload=()):
    riffusion, musicgen = tiny_models
    return parse_engine_config(
        {
            "riffusion": {
                "path": str(riffusion),
                "steps": 2,
                "clip_width_px": 64,
                "max_clips": 1,
                "griffin_lim_iters": 2,
            },
            "musicgen": {"path": str(musicgen), "window_s": 1.0, "prompt_s": 0.4},
            "cache": {"budget_gb": budget_gb, "preload": list(preload)},
        }
    )


def texture_request(duration_s: float = 2.0):
    from musicd.engines import TextureRequest
    from musicd.music.sections import Section

    return TextureRequest(
        prompt="",
        genres=("lofi",),
        moods=("warm",),
        tempo_bpm=120.0,
        key_tonic="C",
        mode="major",
        meter=(4, 4),
        sections=(Section("verse", 0, 1, 0.5),),
        duration_s=duration_s,
        sample_rate=44100,
        seed=5,
    )


def test_a_budget_for_one_tiny_model_evicts_the_other(tiny_models):
    from musicd.engines.musicgen import MusicGenEngine
    from musicd.engines.riffusion import RiffusionEngine

    config = engine_config(tiny_models, budget_gb=1.6e-3)  # ~1.7 MB: one model at a time
    cache = ModelCache.from_settings(config.cache)
    RiffusionEngine(config).generate(texture_request(), cache)
    assert [k.engine for k in cache.resident()] == ["riffusion"]
    MusicGenEngine(config).generate(texture_request(), cache)
    assert [k.engine for k in cache.resident()] == ["musicgen"]
    assert cache.evictions == 1 and cache.loads == 2
    assert 0 < cache.resident_bytes("cpu") <= 1.6e-3 * 1024**3


def test_preload_loads_configured_models_before_any_job(tiny_models):
    from musicd.engines.riffusion import RiffusionEngine

    config = engine_config(tiny_models, preload=("riffusion", "musicgen"))
    cache = ModelCache.from_settings(config.cache)
    results = preload_models(cache, config)
    assert [(r["engine"], r["loaded"]) for r in results] == [("riffusion", True), ("musicgen", True)]
    assert all(r["load_s"] > 0 and r["cache_hit"] is False for r in results)
    with cache.recording() as uses:
        RiffusionEngine(config).generate(texture_request(), cache)
    assert [(u.engine, u.cache_hit, u.load_s) for u in uses] == [("riffusion", True, 0.0)]
    assert cache.loads == 2


def test_preload_of_a_missing_model_is_reported_not_fatal(tmp_path):
    config = parse_engine_config({"musicgen": str(tmp_path / "nowhere"), "cache": {"preload": ["musicgen"]}})
    results = preload_models(ModelCache(), config)
    assert results[0]["engine"] == "musicgen" and results[0]["loaded"] is False
    assert str(tmp_path / "nowhere") in results[0]["reason"]


def test_torch_cuda_out_of_memory_in_a_real_model_is_recovered(tiny_models):
    import torch

    from musicd.engines.riffusion import RiffusionEngine

    config = engine_config(tiny_models)

    class FlakyRiffusion(RiffusionEngine):
        """The real engine whose first load reports CUDA out of memory, like a full GPU."""

        failures = 1

        def load(self, plan):
            if FlakyRiffusion.failures:
                FlakyRiffusion.failures -= 1
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
            return super().load(plan)

    cache = ModelCache.from_settings(config.cache)
    audio = FlakyRiffusion(config).generate(texture_request(), cache)
    assert audio.shape == (texture_request().n_samples, 2)
    FlakyRiffusion.failures = 2
    cache.unload_all()
    with pytest.raises(ModelOutOfMemoryError):
        FlakyRiffusion(config).generate(texture_request(), cache)


def test_unknown_models_key_is_an_error_with_a_suggestion() -> None:
    from musicd.engines import parse_engine_config
    from musicd.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_engine_config({"musicgenn": {"path": "/m"}})
    assert any("did you mean musicgen?" in p for p in caught.value.problems)


def test_coqui_model_path_resolves_against_the_config_folder(tmp_path) -> None:
    from musicd.engines import parse_engine_config

    config = parse_engine_config({"coqui": {"path": "voices/vits"}}, tmp_path)
    assert config.coqui.path == tmp_path / "voices/vits"
