"""The retrieve stage: dense (the store's vector query) and lexical (BM25) candidates,
fused, with the chunk rows and article records the later stages read and verify."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from indexing.embedding import Embedder
from indexing.store import ArticleRecord, ChunkRecord, Store, published_window
from service.analysis import terms
from service.cache import LruCache
from service.conflicts import Specifiers
from service.errors import IndexNotReady
from service.lexical import LexicalIndex
from service.settings import RetrievalSettings
from service.time_scope import Fit, TimeScope

# Records are fetched for the best hits only: the reader reads 16 passages, /ask shows up to 20.
RECORDS_FOR = 20


@dataclass
class ChunkRow(ChunkRecord):
    """A stored chunk with the service's analysis of it, made once and cached with the row."""

    _terms: frozenset[str] | None = field(default=None, repr=False)
    # The reader's per-sentence analysis (service.reader.row_reading).
    reading: Any = field(default=None, repr=False)

    @property
    def context_text(self) -> str:
        """What BM25 indexes: the title (when the text does not start with it) and the text."""
        return self.text if self.text.startswith(self.title) else f"{self.title}\n{self.text}"

    @property
    def terms(self) -> frozenset[str]:
        """The chunk's distinct terms (title included), computed once."""
        if self._terms is None:
            self._terms = frozenset(terms(self.context_text))
        return self._terms


@dataclass
class Hit:
    """A retrieved chunk with its scores."""

    row: ChunkRow
    score: float
    dense: float
    lexical: float


@dataclass
class Retrieved:
    """What the retrieve stage hands on: the fused hits whose article record is at the
    version they were cut from (best first), those records, the question's vector and
    the lexical snapshot the hits came from (for term statistics)."""

    question: str
    vector: np.ndarray
    lexical: LexicalIndex
    hits: list[Hit]
    records: dict[str, ArticleRecord]
    scope: TimeScope | None = None
    # (doc id, start, end) of a sentence -> how it fits the scope's periods, filled as read.
    fits: dict[tuple[str, int, int], Fit] = field(default_factory=dict)
    # (doc id, start, end) of the only sentences that may answer (the question's answer
    # options narrowed reading to them: ``service.options.narrow``); None: no such limit.
    only: frozenset[tuple[str, int, int]] | None = None
    # What the question specifies (a country, a place, an office, a direction): a sentence
    # stating another instead never answers (``service.conflicts``); None: not checked.
    specifiers: Specifiers | None = None
    # (doc id, start, end) of a sentence -> whether it contradicts ``specifiers``, filled as read.
    contradicts: dict[tuple[str, int, int], bool] = field(default_factory=dict)

    def admits(self, row: ChunkRow, index: int) -> bool:
        """Whether sentence ``index`` of ``row`` may answer: among ``only`` when set, not
        stating another of what the question specifies (``Specifiers.contradicted_by``),
        and not dated outside the periods the question asks about (``TimeScope.fit``)."""
        if self.only is not None and (row.doc_id, *row.sentences[index]) not in self.only:
            return False
        if self.specifiers and self._contradicted(row, index):
            return False
        if self.scope is None or not self.scope.periods:
            return True
        s, e = row.sentences[index]
        key = (row.doc_id, s, e)
        fit = self.fits.get(key)
        if fit is None:
            fit = self.fits[key] = self.scope.row_fit(row, index)
        return fit is not Fit.OUT

    def _contradicted(self, row: ChunkRow, index: int) -> bool:
        s, e = row.sentences[index]
        key = (row.doc_id, s, e)
        no = self.contradicts.get(key)
        if no is None and self.specifiers is not None:
            text = row.text[s - row.start : e - row.start]
            places = frozenset(
                row.text[a - row.start : b - row.start]
                for a, b, label in row.entities
                if label == "GPE" and s <= a <= b <= e
            )
            no = self.contradicts[key] = self.specifiers.contradicted_by(text, places)
        return bool(no)


class Retriever(Protocol):
    """Stage 1: a question (and a published-date window) in, fused hits out."""

    def retrieve(
        self,
        question: str,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        records_for: int = ...,
        scope: TimeScope | None = None,
    ) -> Retrieved: ...


class HybridRetriever:
    """Dense top-N from the store and BM25 top-N, fused as ``dense + w * bm25 / max(bm25)``."""

    def __init__(self, settings: RetrievalSettings, store: Store, embedder: Embedder, *, cache_mb: int = 64) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.lexical = LexicalIndex()
        # Budgets in characters of text (≈ bytes); half for chunk rows, half for articles.
        half = cache_mb * 1_000_000 // 2
        # A row's cost: its text, base64 sentence vectors (decoded to float32 once read:
        # ≈ 3× more), the sentence/entity lists and the reader's analysis (≈ 4× the text).
        self.rows: LruCache[str, ChunkRow] = LruCache(
            half, lambda r: 5 * len(r.text) + 4 * len(r.sentence_vectors) + 1000
        )
        # Keyed (doc id, content hash): service/cache.py says why that is never stale.
        self.records: LruCache[tuple[str, str], ArticleRecord] = LruCache(half, lambda a: len(a.text) + 200)
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Rebuild the lexical index from the store (after a reindex) and swap it in."""
        fresh = LexicalIndex.build(self.store)
        with self._lock:
            self.lexical = fresh

    def retrieve(
        self,
        question: str,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        records_for: int = RECORDS_FOR,
        scope: TimeScope | None = None,
    ) -> Retrieved:
        """The best fused hits for ``question``; raises ``IndexNotReady`` on an empty index.

        With a ``scope``: no article published after its ``as_of`` (when given), and no
        passage with no sentence that fits the periods the question asks about."""
        lexical = self.lexical  # one consistent snapshot for this request
        if len(lexical) == 0:
            raise IndexNotReady("the index is empty: run `citeqa index` first")
        vector = self.embedder.embed_query(question)
        mask = lexical.scope_mask(
            published_window(since, until),
            scope.as_of_day if scope else None,
            scope.day_ranges() if scope else [],
            scope.year_terms() if scope else [],
        )
        hits = self.fuse(question, vector, lexical, mask)
        retrieved = Retrieved(question, vector, lexical, hits, {}, scope)
        if scope is not None and scope.periods:
            # Every sentence's fit is noted (no short cut): the reader's question depends on them all.
            hits = [h for h in hits if sum(retrieved.admits(h.row, i) for i in range(len(h.row.sentences)))]
        records = self.article_records(hits[:records_for])
        # A chunk from another version of its article (mid-reindex) is never read or shown.
        retrieved.hits = [
            h for h in hits if h.row.doc_id in records and records[h.row.doc_id].content_hash == h.row.content_hash
        ]
        retrieved.records = records
        return retrieved

    def fuse(self, question: str, vector: np.ndarray, lexical: LexicalIndex, mask: np.ndarray | None) -> list[Hit]:
        """The ``retrieval_fetch`` best fused hits among the chunks ``mask`` keeps (None:
        all), with their chunk rows, best first."""
        n = len(lexical)
        k = min(self.settings.retrieval_candidates, n)
        # A window's chunks are scored in memory: Chroma's metadata filter cost ≈ 45× its
        # unfiltered query at 20k chunks (service/lexical.py).
        dense = self.store.query_chunks(vector, k) if mask is None else lexical.nearest(vector, k, mask)
        dense_sim = dict(dense)
        lex = lexical.search(terms(question), k, mask)
        top_lex = lex[0][1] if lex else 1.0
        lex_norm = {lexical.ids[pos]: s / top_lex for pos, s in lex}

        weight = self.settings.retrieval_lexical_weight
        fused = []
        floor = min(dense_sim.values(), default=0.0)
        for cid in dense_sim.keys() | lex_norm.keys():
            # A lexical-only hit's cosine is below the dense cut: estimate it as the lowest seen.
            d = dense_sim.get(cid, floor)
            lx = lex_norm.get(cid, 0.0)
            fused.append((d + weight * lx, d, lx, cid))
        fused.sort(reverse=True)
        fused = fused[: self.settings.retrieval_fetch]
        rows = self.chunk_rows([cid for *_, cid in fused])
        hits = [Hit(row=rows[cid], score=sc, dense=d, lexical=lx) for sc, d, lx, cid in fused if cid in rows]
        hits.sort(key=lambda h: -h.score)
        return hits

    def chunk_rows(self, chunk_ids: list[str]) -> dict[str, ChunkRow]:
        """The chunks with these ids, from the cache or the store (ids no longer stored are absent)."""
        if not chunk_ids:
            return {}
        found, missing = self.rows.get_many(list(dict.fromkeys(chunk_ids)))
        if missing:
            for cid, row in self.store.chunks_by_id(missing, ChunkRow).items():
                found[cid] = row
                self.rows.put(cid, row)
        return found

    def article_records(self, hits: list[Hit]) -> dict[str, ArticleRecord]:
        """The article records these hits were cut from, at the version each hit was cut from."""
        keys = list(dict.fromkeys((h.row.doc_id, h.row.content_hash) for h in hits))
        found, missing = self.records.get_many(keys)
        if missing:
            for doc_id, record in self.store.documents([d for d, _ in missing]).items():
                self.records.put((doc_id, record.content_hash), record)
                found[(doc_id, record.content_hash)] = record
        # A hit whose article changed since is dropped (hash mismatch).
        return {doc_id: found[(doc_id, h)] for doc_id, h in keys if (doc_id, h) in found}
