"""Options several commands share."""

from __future__ import annotations

from pathlib import Path

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="MUSICD_CONFIG",
    show_envvar=True,
    help="Configuration file [default: /etc/musicd/config.yaml, if present].",
)
