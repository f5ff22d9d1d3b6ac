"""`musicd doctor`: what this machine can and cannot do, and why: programs, SoundFont, engines,
the service's folders and whether the service runs."""

from __future__ import annotations

import getpass
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _soundfont(path: Path | None, load: bool = True) -> Check:
    """What `musicd render` accepts: a .sf2/.sf3 file that FluidSynth loads (one real load unless
    `load` is False: then only the file and its kind are checked)."""
    from musicd.synth.soundfonts import check_soundfont, default_soundfont

    try:
        found = check_soundfont(path) if path is not None else default_soundfont()
        if load:
            from musicd.synth.fluidsynth import FluidRenderer  # checks the file as render does, then loads it

            FluidRenderer(found, threads=1).close()
    except (MusicdError, OSError) as error:
        return Check("SoundFont", False, str(error))
    loads = ", loads in FluidSynth" if load else ""
    return Check("SoundFont", True, f"{found} ({found.stat().st_size / 1e6:.0f} MB{loads})")


def folder_check(label: str, folder: Path, *, required: bool = True) -> Check:
    """Whether the service can write in `folder`, which filesystem holds it, and its free space.

    A folder not created yet is a warning when its parent exists (the service creates it) and
    a failure when the parent is missing too (an unmounted share). `required` False makes every
    failure a warning (the built-in defaults, when no configuration file is in use).
    """
    from musicd.service.fsinfo import filesystem_of
    from musicd.service.outbox import MIN_FREE_BYTES

    name = f"{label} folder"
    if not folder.is_dir():
        if folder.exists():
            return Check(name, False, f"{folder} is not a folder", not required)
        if folder.parent.is_dir():
            return Check(name, False, f"{folder} does not exist yet (the service creates it)", True)
        return Check(
            name,
            False,
            f"neither {folder} nor its parent {folder.parent} exists (is the share mounted?); create "
            "it or point the configuration elsewhere (`musicd init DIR` makes a layout)",
            not required,
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".musicd-doctor-"):
            pass
        usage = shutil.disk_usage(folder)
    except OSError as error:
        return Check(
            name,
            False,
            f"{folder} is not writable by {getpass.getuser()} ({error.strerror or error}); fix its "
            "permissions or mount, and run doctor as the service's user",
            not required,
        )
    mount = filesystem_of(folder)
    where = (
        f"{mount.fs_type} ({'network' if mount.is_network else 'local'}) mounted at {mount.mount_point}"
        if mount is not None
        else "filesystem unknown"
    )
    free = f"{usage.free / 2**30:.1f} GiB free"
    detail = f"{folder}: writable; {where}; {free}"
    if usage.free < MIN_FREE_BYTES:
        return Check(
            name,
            False,
            f"{detail}, under the {MIN_FREE_BYTES / 2**20:.0f} MiB a job needs; free some space",
            not required,
        )
    return Check(name, True, detail)


def service_check(state_dir: Path) -> Check:
    """Whether a service runs on `state_dir` (its status file, pid and heartbeat)."""
    from musicd.service.status_file import liveness, read_status

    alive = liveness(read_status(state_dir), datetime.now(UTC))
    return Check("service", alive.alive, alive.why, optional=True)


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


def run_checks(
    soundfont: Path | None = None, engines: EngineConfig | None = None, *, load_soundfont: bool = True
) -> list[Check]:
    """Every machine check, required ones first (`load_soundfont` False: the SoundFont's file
    is checked but not loaded, for callers that must answer quickly)."""
    return [
        _fluidsynth(),
        _soundfont(soundfont, load_soundfont),
        _program("ffmpeg", "ffmpeg"),
        _program("ffprobe", "ffmpeg"),
        _program("espeak-ng", "espeak-ng", optional=True, flag="--version"),
        *_singers(engines),
        _magenta(),
        _torch(),
        *_engines(engines),
    ]
