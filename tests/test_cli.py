"""The command line: help everywhere, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from musicd.cli import main

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("jobspecs/examples").glob("*.yaml"))


def _commands() -> list[str]:
    return sorted(main.commands)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_console_script_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "musicd.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "render" in result.stdout


def test_validate_accepts_the_examples() -> None:
    result = CliRunner().invoke(main, ["validate", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output


def test_validate_reports_problems_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("genres: [lofi]\nduration: 900\ntempo: 90\n")
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "duration: 900 is too long; allowed 5..600 seconds (line 2)" in result.output
    assert "tempo" in result.output and "did you mean" in result.output.lower()


def test_genres_lists_the_whole_table() -> None:
    from musicd.music.genres import GENRE_NAMES

    result = CliRunner().invoke(main, ["genres"])
    assert result.exit_code == 0
    for name in GENRE_NAMES:
        assert name in result.output


def test_schema_command_prints_the_published_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    published = Path(__file__).parent.parent / "jobspecs/schema.json"
    assert json.loads(result.output) == json.loads(published.read_text())


def test_doctor_finds_fluidsynth_soundfont_and_ffmpeg() -> None:
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in ("FluidSynth", "SoundFont", "ffmpeg"):
        assert f"[ok  ] {name}" in result.output


def test_render_writes_a_track_folder(tmp_path: Path) -> None:
    spec = tmp_path / "song.yaml"
    spec.write_text("title: CLI song\ngenres: [reggae]\nduration: 8\nseed: 2\n")
    result = CliRunner().invoke(main, ["render", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/manifest.json").is_file() and "LUFS" in result.output


def test_render_of_an_invalid_spec_exits_1_with_the_problem(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("genres: [polka-metal]\n")
    result = CliRunner().invoke(main, ["render", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1 and "polka-metal" in result.output
    assert not (tmp_path / "out").exists()


def test_errors_share_one_format_and_exit_code(tmp_path: Path) -> None:
    bad_config = tmp_path / "config.yaml"
    bad_config.write_text("watch: {mdoe: polling}\n")
    result = CliRunner().invoke(main, ["status", "--config", str(bad_config)])
    assert result.exit_code == 1
    first, second = result.output.splitlines()[:2]
    assert first == f"musicd: error: {bad_config} is not a valid musicd configuration:"
    assert second.startswith("  - watch.mdoe (config.yaml line 1): unknown key 'mdoe'")
    init = CliRunner().invoke(main, ["init", str(tmp_path / "home")])
    assert init.exit_code == 0, init.output
    no_db = CliRunner().invoke(main, ["list", "--config", str(tmp_path / "home" / "config.yaml")])
    assert no_db.exit_code == 1 and no_db.output.startswith("musicd: error: no job database in ")
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("genres: [polka-metal]\n")
    for command in (["validate"], ["render", "-o", str(tmp_path / "out")]):
        result = CliRunner().invoke(main, [*command, str(bad_spec)])
        assert result.exit_code == 1
        assert result.output.startswith(
            "musicd: error: bad.yaml is not a valid musicd job spec:\n  - genres[0]"
        )


def test_render_uses_the_configured_soundfont(tmp_path: Path) -> None:
    spec = tmp_path / "short.yaml"
    spec.write_text("genres: [ambient]\nduration: 5\noutput: {stems: false, formats: [wav]}\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"soundfont: {tmp_path / 'missing.sf2'}\n")
    result = CliRunner().invoke(
        main, ["render", str(spec), "-o", str(tmp_path / "out"), "--config", str(config)]
    )
    assert result.exit_code == 1 and "missing.sf2" in result.output
