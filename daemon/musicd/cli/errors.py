"""How the command line reports a failure: one format on stderr, exit codes from one table.

Format: `musicd: error: MESSAGE`; an invalid spec or configuration (a ProblemsError)
follows with each problem on its own `  - ...` line.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from musicd.errors import MusicdError

# The exit code for each error class; an error takes the entry of its nearest listed class.
# README: `musicd validate` exits 1 with every problem; other failures exit 1 as well.
EXIT_CODES: dict[type[MusicdError], int] = {
    MusicdError: 1,
}


def exit_code(error: MusicdError) -> int:
    """The exit code for `error`, from EXIT_CODES."""
    return next(EXIT_CODES[kind] for kind in type(error).__mro__ if kind in EXIT_CODES)


def report(error: MusicdError) -> None:
    """Print `error` on stderr in the one format (a ProblemsError's message lists its problems)."""
    click.echo(f"musicd: error: {error}", err=True)


def fail(error: MusicdError) -> NoReturn:
    """Report `error` and exit with its code."""
    report(error)
    sys.exit(exit_code(error))


class ReportingGroup(click.Group):
    """A command group whose commands' MusicdErrors are reported and turned into exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MusicdError as error:
            fail(error)
