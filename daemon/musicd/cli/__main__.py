"""`python -m musicd.cli` runs the musicd command line."""

from musicd.cli import main

main()
