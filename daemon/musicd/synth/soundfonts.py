"""Finding the SoundFont that the render stage plays the score with."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from musicd.errors import ResourceMissingError

log = logging.getLogger(__name__)

SOUNDFONT_ENV = "MUSICD_SOUNDFONT"
# Searched in order: MuseScore General (its pianos, strings, brass and kits are a generation past
# FluidR3's; an .sf3, loaded from a decoded copy in the cache folder), then FluidR3.
DEFAULT_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
)
SOUNDFONT_SUFFIXES = (".sf2", ".sf3")

_INSTALL_HINT = (
    "install one with `apt-get install musescore-general-soundfont`, or point musicd at any General MIDI "
    f".sf2/.sf3 file with `soundfont:` in the daemon config or the {SOUNDFONT_ENV} environment variable"
)


@dataclass(frozen=True)
class SoundFontInfo:
    """What the manifest records about the SoundFont a job was rendered with."""

    path: Path
    name: str
    format: str  # "sf2" or "sf3"
    size_bytes: int


def default_soundfont(
    env: Mapping[str, str] | None = None, candidates: Sequence[Path] = DEFAULT_SOUNDFONTS
) -> Path:
    """$MUSICD_SOUNDFONT if set, else the first installed default SoundFont.

    Raises ResourceMissingError when none is found.
    """
    env = os.environ if env is None else env
    configured = env.get(SOUNDFONT_ENV, "").strip()
    if configured:
        return check_soundfont(Path(configured), origin=f"${SOUNDFONT_ENV}")
    for candidate in candidates:
        if candidate.is_file():
            log.debug("using default SoundFont %s", candidate)
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise ResourceMissingError(f"No SoundFont found (looked for {searched}): {_INSTALL_HINT}.")


def resolve_soundfont(configured: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The SoundFont to use: the daemon config's `soundfont:` if given, else default_soundfont()."""
    if configured is not None:
        return check_soundfont(Path(configured), origin="`soundfont:` in the daemon config")
    return default_soundfont(env)


def soundfont_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where decoded SoundFont copies are kept: systemd's CacheDirectory=, else the XDG cache."""
    env = os.environ if env is None else env
    systemd_cache = env.get("CACHE_DIRECTORY", "").split(":")[0]
    if systemd_cache:
        return Path(systemd_cache) / "soundfonts"
    xdg = env.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "musicd" / "soundfonts"


def check_soundfont(path: Path, origin: str = "the SoundFont setting") -> Path:
    """Return `path` if it is a readable .sf2/.sf3 file, else raise ResourceMissingError."""
    path = path.expanduser()
    if not path.is_file():
        raise ResourceMissingError(f"SoundFont {path} (from {origin}) does not exist: {_INSTALL_HINT}.")
    if path.suffix.lower() not in SOUNDFONT_SUFFIXES:
        raise ResourceMissingError(
            f"{path} (from {origin}) is not a SoundFont: expected a .sf2 or .sf3 file; {_INSTALL_HINT}."
        )
    return path


def soundfont_info(path: Path) -> SoundFontInfo:
    """Name, format and size of a SoundFont file, for the manifest."""
    return SoundFontInfo(
        path=path,
        name=path.stem,
        format=path.suffix.lower().lstrip("."),
        size_bytes=path.stat().st_size,
    )
