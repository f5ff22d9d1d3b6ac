"""`musicd web`: the web UI and the HTTP API, beside the service (see musicd.web)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from musicd.cli import main
from musicd.cli.options import config_option


@main.command()
@config_option
@click.option("--host", default=None, help="Address to listen on [default: web.host, else 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: web.port, else 8080].")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A file holding the password or its hash (e.g. a systemd credential); "
    "required with a host that is not loopback unless web.password_hash is set.",
)
@click.option(
    "--hash-password",
    "hash_only",
    is_flag=True,
    help="Read a password (prompt, or stdin) and print its hash for web.password_hash, then exit.",
)
def web(
    config_path: Path | None, host: str | None, port: int | None, password_file: Path | None, hash_only: bool
) -> None:
    """Serve the web UI and the HTTP API (gallery, queue, submit form, /api/...)."""
    from musicd.web.settings import hash_password, settings_from

    if hash_only:
        if sys.stdin.isatty():
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
        click.echo(hash_password(password))
        return
    from musicd.config import load_config
    from musicd.web.app import layout_of, serve

    config = load_config(config_path, check_specs=False)
    settings = settings_from(getattr(config, "web", None), password_file=password_file, host=host, port=port)
    click.echo(f"musicd web: http://{settings.host}:{settings.port}/ (outbox {config.outbox})", err=True)
    serve(layout_of(config), settings)
