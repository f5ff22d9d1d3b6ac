"""TEST-ONLY stand-in (see tests/stubs_torchaudio/README.md)."""

from __future__ import annotations

from typing import Any


def resample(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("the test stand-in for torchaudio does not resample")
