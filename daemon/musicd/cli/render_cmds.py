"""Commands around one render: render, validate, genres, schema, doctor.

A MusicdError from any of them is reported by musicd.cli.errors (message on stderr, exit 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from musicd.cli import main
from musicd.cli.errors import exit_code, report
from musicd.cli.options import config_option, json_option
from musicd.errors import SpecError


@main.command()
@click.argument("spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the track into (created if missing).",
)
@click.option("--seed", type=int, default=None, help="Override the spec's seed.")
@click.option(
    "--soundfont",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="SoundFont (.sf2/.sf3) to render with [default: the configured one].",
)
@config_option
def render(
    spec_path: Path, out_dir: Path, seed: int | None, soundfont: Path | None, config_path: Path | None
) -> None:
    """Render one YAML job spec into OUT: mix, stems, MIDI, video, manifest.

    On a terminal a progress bar runs below the log lines; otherwise each step is a plain line.
    """
    from musicd.cli.progress_display import job_progress
    from musicd.config import load_config
    from musicd.pipeline import Resources, run_job
    from musicd.spec import load_spec, read_spec_file

    config = load_config(config_path, check_specs=False)
    data = read_spec_file(spec_path)
    spec = load_spec(data, source=spec_path.name)
    resources = Resources.load(soundfont or config.soundfont, **_service_resources(config))  # as the service
    with job_progress(spec.display_title) as progress:
        result = run_job(spec, out_dir, resources, seed=seed, spec_bytes=data, progress=progress)
    loud = result.manifest["loudness"]
    click.echo(f"{out_dir}: seed {result.seed}, {loud['integrated_lufs']} LUFS, {loud['true_peak_db']} dBTP")


@main.command()
@click.argument(
    "spec_paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--explain",
    is_flag=True,
    help="Also print how each job will be read: genres, tempo, key, form, files, size and time.",
)
@json_option
def validate(spec_paths: tuple[Path, ...], explain: bool, as_json: bool) -> None:
    """Check job specs; print every problem and exit 1 if any spec is invalid."""
    from musicd.spec import load_jobs, read_spec_file

    code = 0
    explained: list[dict[str, Any]] = []
    for path in spec_paths:
        data = read_spec_file(path)
        try:
            if explain or as_json:
                from musicd.spec.explain import explain_jobs

                jobs = explain_jobs(data, source=path.name)
                count = len(jobs)
            else:
                count = len(load_jobs(data, source=path.name))
        except SpecError as error:
            if as_json:
                explained.append({"spec": str(path), "valid": False, "problems": error.problems})
            else:
                report(error)
            code = max(code, exit_code(error))
            continue
        if as_json:
            explained.append({"spec": str(path), "valid": True, "jobs": jobs})
            continue
        click.echo(f"{path}: valid ({count} job{'s' if count != 1 else ''})")
        if explain:
            from musicd.spec.explain import explain_text

            for job in jobs:
                click.echo(explain_text(job))
    if as_json:
        click.echo(json.dumps(explained, indent=2, ensure_ascii=False))
    sys.exit(code)


@main.command()
def genres() -> None:
    """Print the genre table: tempo, keys, meter, groove and instruments."""
    from musicd.music.genres import genre_table_rows

    rows = genre_table_rows()
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    click.echo("  ".join(h.ljust(widths[h]) for h in headers).rstrip())
    for row in rows:
        click.echo("  ".join(str(row[h]).ljust(widths[h]) for h in headers).rstrip())


@main.command()
def schema() -> None:
    """Print the job spec's JSON Schema (jobspecs/schema.json is generated from it)."""
    from musicd.spec import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2, ensure_ascii=False))


@main.command()
@config_option
@click.option(
    "--soundfont",
    type=click.Path(path_type=Path),
    default=None,
    help="Check this SoundFont instead of the configured one.",
)
def doctor(config_path: Path | None, soundfont: Path | None) -> None:
    """Check FluidSynth, the SoundFont, ffmpeg, the engines, the service's folders and the service."""
    import os

    from musicd.config import DEFAULT_CONFIG_PATH, ENV_CONFIG_PATH, load_config
    from musicd.doctor import folder_check, run_checks, service_check

    config = load_config(config_path, check_specs=False)
    from musicd.worker.backend_report import backend_checks

    # the built-in defaults (no configuration file) name system folders: only warn about them
    from_file = (
        config_path is not None or bool(os.environ.get(ENV_CONFIG_PATH)) or DEFAULT_CONFIG_PATH.exists()
    )
    checks = [
        *run_checks(soundfont or config.soundfont, config.engines),
        *(
            folder_check(label, folder, required=from_file)
            for label, folder in (
                ("inbox", config.inbox),
                ("outbox", config.outbox),
                ("state", config.state_dir),
            )
        ),
        service_check(config.state_dir),
        *backend_checks(config),
    ]
    for check in checks:
        mark = "ok  " if check.ok else ("warn" if check.optional else "FAIL")
        click.echo(f"[{mark}] {check.name}: {check.detail}")
    sys.exit(0 if all(c.ok or c.optional for c in checks) else 1)


def _service_resources(config: Any) -> dict[str, Any]:
    """What the service's worker passes to Resources.load besides the SoundFont (`models:`, `tags:`)."""
    from musicd.service.loop import resources_kwargs

    return resources_kwargs(config)
