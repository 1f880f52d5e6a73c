"""The ``citeqa`` console script: starts ``citeqa index``'s parse process before the
CLI's own imports (typer, rich), so spaCy loads meanwhile (docs/benchmarks.md §1)."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["index"]:
        from indexing.parsing import shared

        shared().start()  # `index` closes it; a bad option or --help exits, which kills it
    from citeqa.cli import main as cli_main

    cli_main()
