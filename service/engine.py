"""The loaded state a question needs: Chroma store, embedding model, BM25 index.

Created once (by ``create_app``'s lifespan or the CLI) and passed to
``service.answering`` functions; tests and the eval harness build their own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from indexing.embedding import Embedder
from indexing.settings import Settings
from indexing.store import ArticleRecord, Store
from service.cache import LruCache
from service.lexical import ChunkRow, LexicalIndex
from service.llm import make_llm


@dataclass
class Engine:
    """Everything ``ask`` and ``search`` read from; the lexical side can be swapped atomically."""

    settings: Settings
    store: Store
    embedder: Embedder
    lexical: LexicalIndex = field(default_factory=LexicalIndex)
    # The OpenAI-compatible LLM (service.llm.make_llm), or None: extractive answers only.
    llm: Any = None
    # Rows and article records keyed so that a cached value is never stale (service/cache.py).
    rows: LruCache[str, ChunkRow] = field(init=False)
    records: LruCache[tuple[str, str], ArticleRecord] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Budgets in characters of text (≈ bytes); half for chunk rows, half for articles.
        half = self.settings.cache_mb * 1_000_000 // 2
        # A row's cost: its text, base64 sentence vectors (decoded to float32 once read:
        # ≈ 3× more), the sentence/entity lists and the reader's analysis (≈ 4× the text).
        self.rows = LruCache(half, lambda r: 5 * len(r.text) + 4 * len(r.sentence_vectors) + 1000)
        self.records = LruCache(half, lambda a: len(a.text) + 200)

    def refresh(self) -> None:
        """Rebuild the lexical index from Chroma (after a reindex) and swap it in."""
        fresh = LexicalIndex.build(self.store)
        with self._lock:
            self.lexical = fresh

    @classmethod
    def load(cls, settings: Settings, store: Store, embedder: Embedder | None = None) -> Engine:
        """An engine over ``store`` with the lexical index built."""
        engine = cls(
            settings,
            store,
            embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size),
            llm=make_llm(settings),
        )
        engine.refresh()
        return engine
