"""The ``citeqa`` console script: starts ``citeqa index``'s parse and embedding
processes before the CLI's own imports (typer, rich, Chroma), so spaCy and the
model load meanwhile (docs/history.md §1)."""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["index"]:
        from indexing.parsing import shared

        shared().start()  # `index` closes it; a bad option or --help exits, which kills it
        from indexing.embedding import start_bulk_workers

        # One embedding process now, for the guesses embedded while spaCy loads; the
        # other starts with the run: four interpreters loading at once delayed spaCy's
        # load, and with it the whole run (docs/history.md §1). For the default
        # model; an index configured with another starts its own.
        start_bulk_workers(count=1)
    from citeqa.cli import main as cli_main

    cli_main()
