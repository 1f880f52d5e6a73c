"""The in-memory side of retrieval: BM25 (bm25s) over the chunks stored in Chroma,
every chunk's published day, and an int8 copy of every chunk's vector.

Built from the store at start-up and rebuilt when the index changes, so it always
matches the dense side (Chroma's own sparse index is Cloud-only). It supplies
document frequencies for the reader's term statistics, and the dense side of a
date-filtered question: Chroma answers a metadata filter by scanning the metadata
(≈ 90 ms at 20k chunks, against ≈ 2 ms unfiltered), while the chunks of a window
are scored here exactly, ≈ 388 bytes a chunk (39 MB at 100k).
"""

from __future__ import annotations

import functools
import logging
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexing.malloc import release_freed_memory
from indexing.store import Store
from service.analysis import terms


@dataclass
class LexicalIndex:
    """BM25 over chunk titles + texts. Only ids, dates and the BM25 matrix stay in
    memory; chunk texts are fetched from the store for each question's candidates."""

    ids: list[str] = field(default_factory=list)
    retriever: Any = None
    doc_freq: dict[str, int] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Unit chunk vectors as int8 rows with one float32 scale each (scale / 127 per unit).
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))
    scales: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    _weights: dict[str, float] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, store: Store) -> LexicalIndex:
        """Read every chunk from the store, a page at a time, and index it."""
        import bm25s

        # bm25s logs every index build at DEBUG on its own logger.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        ids: list[str] = []
        days: list[int] = []
        token_ids: list[array[int]] = []  # 4 bytes a token, against a list's 8-byte pointers
        vocab: dict[str, int] = {}
        df: dict[str, int] = {}
        vectors: list[np.ndarray] = []  # int8 rows, quantised as read: a float copy would double the peak
        scales: list[float] = []
        for chunk in store.iter_chunk_texts(vectors=True):
            text, title = chunk.text, chunk.title
            toks = terms(text if text.startswith(title) else f"{title}\n{text}")
            ids.append(chunk.chunk_id)
            days.append(chunk.published_day)
            vector = chunk.vector
            scale = float(np.abs(vector).max()) or 1e-12
            vectors.append(np.round(vector * (127 / scale)).astype(np.int8))
            scales.append(scale / 127)
            token_ids.append(array("I", [vocab.setdefault(t, len(vocab)) for t in toks]))
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        index = cls(ids=ids, position={c: i for i, c in enumerate(ids)}, doc_freq=df)
        index.days = np.array(days, dtype=np.int64)
        if vectors:
            index.vectors = np.stack(vectors)
            index.scales = np.array(scales, dtype=np.float32)
        del vectors  # 100k small arrays (≈ 50 MB at 100k chunks): gone before BM25's own peak
        if ids:
            retriever = _lean_bm25()()
            retriever.index(bm25s.tokenization.Tokenized(ids=token_ids, vocab=vocab), show_progress=False)
            index.retriever = retriever
        del token_ids
        release_freed_memory()  # BM25's build left ≈ 47 MB of freed heap mapped at 100k chunks
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency over chunks (unknown terms get the maximum)."""
        n = max(1, len(self.ids))
        return math.log(1 + (n - self.doc_freq.get(term, 0) + 0.5) / (self.doc_freq.get(term, 0) + 0.5))

    def weight(self, term: str) -> float:
        """A term's weight in coverage: 1 + idf, so that in a small corpus, where
        every topical word is in every chunk, common words still count."""
        w = self._weights.get(term)
        if w is None:
            w = self._weights[term] = 1.0 + self.idf(term)
        return w

    def window_mask(self, window: tuple[int, int] | None) -> np.ndarray | None:
        """1.0 for chunks published inside ``window`` (first, last day as YYYYMMDD), else 0;
        None when nothing is filtered. Undated chunks are outside every window."""
        if window is None:
            return None
        days = self.days
        return ((days > 0) & (days >= window[0]) & (days <= window[1])).astype(np.float32)

    def scope_mask(
        self,
        window: tuple[int, int] | None,
        as_of: int | None = None,
        periods: Sequence[tuple[int, int]] = (),
        year_terms: Sequence[str] = (),
    ) -> np.ndarray | None:
        """1.0 for the chunks a request may read, else 0; None when nothing is filtered.

        ``window`` (since/until): dated chunks inside it only. ``as_of`` (YYYYMMDD): no
        chunk published after it (undated chunks kept). ``periods`` (first, last day):
        chunks published in one, undated chunks, and chunks naming one of ``year_terms``
        (the sentence-level check, ``TimeScope.fit``, comes after)."""
        days = self.days
        keep = self.window_mask(window)
        keep = None if keep is None else keep > 0
        if as_of is not None:
            keep = _and(keep, (days == 0) | (days <= as_of))
        if periods:
            near = days == 0
            for first, last in periods:
                near |= (days >= first) & (days <= last)
            named = [t for t in year_terms if t in self.doc_freq]
            if named and self.retriever is not None:
                near |= self.retriever.get_scores(named) > 0
            keep = _and(keep, near)
        if keep is None or keep.all():  # nothing left out: the unfiltered (faster) path
            return None
        return keep.astype(np.float32)

    def nearest(self, vector: np.ndarray, k: int, mask: np.ndarray) -> list[tuple[str, float]]:
        """The ``k`` chunks a ``window_mask`` keeps that are nearest ``vector``, scored
        exactly: (chunk id, cosine), best first."""
        keep = np.flatnonzero(mask)
        if len(keep) == 0:
            return []
        # einsum's own loop, not BLAS: a float32 matmul of 1,427 rows took ≈ 8 ms here (OpenBLAS
        # under OPENBLAS_CORETYPE), int8 @ float32 ≈ 4 ms, this ≈ 0.23 ms.
        raw = np.einsum("ij,j->i", self.vectors[keep], vector.astype(np.float32), dtype=np.float32, casting="unsafe")
        sims = raw * self.scales[keep]
        k = min(k, len(keep))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((top, -sims[top]))]
        return [(self.ids[keep[i]], float(sims[i])) for i in top]

    def search(self, query_terms: Sequence[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (row position, BM25 score) with a positive score."""
        known = [t for t in query_terms if t in self.doc_freq]
        if not known or self.retriever is None:
            return []
        k = min(k, len(self.ids))
        # get_scores + argpartition: BM25.retrieve spins up a thread pool on every call.
        scores = self.retriever.get_scores(known, weight_mask=mask)
        # Only chunks holding a query term score above zero: usually a few thousand
        # of 100k, so the partial sort runs over those alone.
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        top = hits[np.lexsort((hits, -scores[hits]))]  # best first; ties by position, deterministic
        return [(int(d), float(scores[d])) for d in top]


@functools.cache
def _lean_bm25() -> type:
    import bm25s

    class LeanBM25(bm25s.BM25):
        """bm25s's BM25 with a leaner sparse-matrix build (scores are identical).

        bm25s sorts its (score, document, term) triples by a packed int64 key made
        from int64 copies of both index arrays: at 100k chunks that build was the
        API's start-up peak, 189 MB above what the finished matrix keeps (42 MB).
        Documents arrive in order, so a stable sort by term alone gives the same
        order with one int64 array."""

        @staticmethod
        def _np_csc(data: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> tuple:
            indptr = np.zeros(shape[1] + 1, dtype=np.int64)
            np.cumsum(np.bincount(cols, minlength=shape[1]), out=indptr[1:])
            order = np.argsort(cols, kind="stable")
            return data[order], rows[order], indptr

    return LeanBM25


def _and(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    return b if a is None else a & b
