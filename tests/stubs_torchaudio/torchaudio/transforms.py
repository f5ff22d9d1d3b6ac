"""TEST-ONLY stand-in (see tests/stubs_torchaudio/README.md)."""

from __future__ import annotations

from typing import Any


class Resample:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the test stand-in for torchaudio does not resample")
