"""The indexing layer's exceptions: one tree, one base, drawn here (after httpx's
``_exceptions.py``), so callers catch ``IndexingError`` once.

    IndexingError                 anything the indexing layer refuses or cannot do
    ├── CorpusError               the corpus is unusable (missing, nothing indexable)
    ├── IndexLocked               another process holds the data dir's writer lock
    ├── StoreUnavailable          Chroma cannot be reached, or its server is incompatible
    └── WorkerFailed              a child process of ``citeqa index`` failed or exited;
        ├── ParseError            the spaCy parse process         the next run completes
        └── EmbedError            an embedding process            the index

``service.errors`` maps ``StoreUnavailable`` to HTTP 503; the CLI turns every
``IndexingError`` into a message and a non-zero exit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from indexing.corpus import Skipped


class IndexingError(Exception):
    """Base of every error the indexing layer raises on purpose."""


class CorpusError(IndexingError):
    """The corpus is unusable (missing, not a directory, nothing indexable); ``skipped`` says why each file was."""

    def __init__(self, message: str, skipped: list[Skipped] | None = None) -> None:
        super().__init__(message)
        self.skipped = skipped or []


class IndexLocked(IndexingError):
    """Another process holds the data dir."""


class StoreUnavailable(IndexingError):
    """The Chroma server cannot be reached or is not compatible."""


class WorkerFailed(IndexingError):
    """A child process of the indexer failed or exited; the run stops and the next one starts new processes."""


class ParseError(WorkerFailed):
    """The parse process failed or exited; the run stops and the next one starts a new process."""


class EmbedError(WorkerFailed):
    """An embedding process failed or exited; the run stops and the next one starts new processes."""
