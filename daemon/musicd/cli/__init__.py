"""The `musicd` command line: thin wrappers; library errors become messages and exit codes (cli.errors)."""

from __future__ import annotations

import logging

import click

from musicd import __version__
from musicd.cli.errors import ReportingGroup


@click.group(cls=ReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="musicd")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def main(verbose: bool) -> None:
    """musicd: offline music generation from YAML job specs."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


from musicd.cli import render_cmds, service_cmds, web_cmds  # noqa: E402  (registers the subcommands)

__all__ = ["main", "render_cmds", "service_cmds", "web_cmds"]
