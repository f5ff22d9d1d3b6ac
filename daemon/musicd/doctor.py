"""`musicd doctor`: what this machine can and cannot do, and why."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from musicd.engines import SINGER_NAMES, EngineConfig, engine_report, make_singer
from musicd.errors import MusicdError
from musicd.programs import program_version


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    optional: bool = False


def _fluidsynth() -> Check:
    try:
        from musicd.synth.fluidsynth import fluidsynth_version

        return Check("FluidSynth library", True, fluidsynth_version())
    except (ImportError, OSError, MusicdError) as error:
        return Check(
            "FluidSynth library", False, f"{error}; install it with `apt-get install libfluidsynth3`"
        )


def _soundfont(path: Path | None) -> Check:
    from musicd.synth.soundfonts import default_soundfont

    try:
        found = path or default_soundfont()
    except MusicdError as error:
        return Check("SoundFont", False, str(error))
    if not found.is_file():
        return Check("SoundFont", False, f"{found} does not exist")
    return Check("SoundFont", True, f"{found} ({found.stat().st_size / 1e6:.0f} MB)")


def _program(name: str, package: str, optional: bool = False, flag: str = "-version") -> Check:
    version = program_version(name, flag)
    if version == "missing":
        return Check(name, False, f"not found; install it with `apt-get install {package}`", optional)
    return Check(name, True, version, optional)


def _torch() -> Check:
    if importlib.util.find_spec("torch") is None:
        return Check(
            "torch",
            False,
            "not installed (optional: `pip install -e '.[ml]'` for the neural engines)",
            optional=True,
        )
    import torch

    cuda = (
        f"CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}"
        if torch.cuda.is_available()
        else "no CUDA GPU: models run on the CPU"
    )
    return Check("torch", True, f"{torch.__version__}; {cuda}", optional=True)


def _engines(engines: EngineConfig | None) -> list[Check]:
    return [
        Check(
            f"texture engine {row['engine']}",
            row["usable"],
            f"{'usable' if row['usable'] else 'unusable'} on {row['device']}: {row['reason']}",
            optional=row["engine"] != "procedural",
        )
        for row in engine_report(engines)
    ]


def _singers(engines: EngineConfig | None) -> list[Check]:
    config = engines or EngineConfig()
    checks = []
    for name in SINGER_NAMES:
        status = make_singer(name, config).availability()
        detail = f"usable: {status.reason}" if status.usable else status.reason
        checks.append(Check(f"singing engine {name}", status.usable, detail, optional=True))
    return checks


def _magenta() -> Check:
    from musicd.engines.melody_choice import magenta_availability

    status = magenta_availability()
    detail = f"usable: {status.reason}" if status.usable else status.reason
    return Check("melody engine magenta", status.usable, detail, optional=True)


def run_checks(soundfont: Path | None = None, engines: EngineConfig | None = None) -> list[Check]:
    """Every check, required ones first."""
    return [
        _fluidsynth(),
        _soundfont(soundfont),
        _program("ffmpeg", "ffmpeg"),
        _program("ffprobe", "ffmpeg"),
        _program("espeak-ng", "espeak-ng", optional=True, flag="--version"),
        *_singers(engines),
        _magenta(),
        _torch(),
        *_engines(engines),
    ]
