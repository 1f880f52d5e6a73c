"""The ``citeqa`` console script: starts ``citeqa index``'s parse and embedding
processes before the CLI's own imports (typer, rich, Chroma), so spaCy and the
model load meanwhile (docs/benchmarks.md §1)."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["index"]:
        from indexing.parsing import shared

        shared().start()  # `index` closes it; a bad option or --help exits, which kills it
        from indexing.embedding import start_bulk_workers

        start_bulk_workers()  # for the default model; an index configured with another starts its own
    from citeqa.cli import main as cli_main

    cli_main()
