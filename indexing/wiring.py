"""Open the index for a writer: lock (embedded mode), client, store, lazy embedder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from indexing.coordination import ChromaLease
from indexing.embedding import Embedder
from indexing.locking import acquire
from indexing.settings import IndexingSettings
from indexing.store import Store, make_client


def embedder_factory(settings: IndexingSettings) -> Callable[[], Embedder]:
    """Load the model on first use only: a no-op reindex never pays for it."""
    return cache(lambda: Embedder(settings.embed_model, batch_size=settings.embed_batch_size))


@contextmanager
def server_lease(store: Store) -> Iterator[None]:
    """Hold the writer lease of a Chroma server while the block runs."""
    lease = ChromaLease(store.meta).acquire()
    try:
        yield
    finally:
        lease.release()


@contextmanager
def open_index_for_writing(settings: IndexingSettings) -> Iterator[tuple[Store, Callable[[], Embedder]]]:
    """Yield (store, get_embedder) while holding the writer lock.

    Embedded: the data dir's file lock (held by a running service too). Server
    mode: the writer lease in Chroma, so two reindexes never interleave.
    """
    if settings.server_mode:
        store = Store(make_client(settings), settings.index_name())
        with server_lease(store):
            yield store, embedder_factory(settings)
        return
    lock = acquire(settings.data_dir)
    try:
        store = Store(make_client(settings), settings.index_name())
        yield store, embedder_factory(settings)
    finally:
        lock.release()
