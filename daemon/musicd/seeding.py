"""One seed for the whole job; each stage draws from its own generator derived from it."""

from __future__ import annotations

import secrets
import zlib

import numpy as np

MAX_SEED = 2**31 - 1


def draw_seed() -> int:
    """A fresh seed for a spec that gave none (recorded in the manifest)."""
    return secrets.randbelow(MAX_SEED) + 1


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """A generator for one stage: adding a stage never changes another stage's output."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])
