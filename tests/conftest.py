"""Shared test set-up: the slow modules are marked `slow` (`pytest -m "not slow"` skips them)."""

from __future__ import annotations

import pytest

# Modules that render whole songs, run the service or its worker in subprocesses, or train
# and load models: minutes together. `make test` (and CI) run them all; `make quick` does not.
SLOW_MODULES = frozenset(
    {
        "test_service",
        "test_service_cli",
        "test_interrupt",
        "test_musical_truth",
        "test_model_cache_worker",
        "test_pipeline",
        "test_magenta",
        "test_ray_backend",
        "test_web_e2e",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
