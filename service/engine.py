"""The loaded state a question needs: Chroma store, embedding model, BM25 index.

Created once (by ``create_app``'s lifespan or the CLI) and passed to
``service.answering`` functions; tests and the eval harness build their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from indexing.embedding import Embedder
from indexing.settings import Settings
from indexing.store import Store
from service.lexical import LexicalIndex


@dataclass
class Engine:
    """Everything ``ask`` and ``search`` read from; the lexical side can be swapped atomically."""

    settings: Settings
    store: Store
    embedder: Embedder
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self) -> None:
        """Rebuild the lexical index from Chroma (after a reindex) and swap it in."""
        fresh = LexicalIndex.build(self.store)
        with self._lock:
            self.lexical = fresh

    @classmethod
    def load(cls, settings: Settings, store: Store, embedder: Embedder | None = None) -> Engine:
        """An engine over ``store`` with the lexical index built."""
        engine = cls(settings, store, embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size))
        engine.refresh()
        return engine
