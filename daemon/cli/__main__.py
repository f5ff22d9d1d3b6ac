"""`python -m daemon.cli` runs the musicd command line."""

from daemon.cli import main

main()
