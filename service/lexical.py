"""The lexical side of retrieval: BM25 (bm25s) over the chunks stored in Chroma.

Built from Chroma at start-up and rebuilt when the index changes, so it always
matches the dense side (Chroma's own sparse index is Cloud-only). It also
supplies document frequencies for the reader's term statistics.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from indexing.store import Store, decode_vectors
from service.cache import LruCache

# Small pages keep the peak low: reading Chroma records leaves native heap
# behind in proportion to the page (measured: 5,000-record pages left 340 MiB
# at 20k chunks, 1,000-record pages 120 MiB, most of it returned by malloc_trim).
BUILD_PAGE = 1000


def _release_freed_memory() -> None:
    """Hand freed native heap back to the OS (glibc only; a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_TOKEN = re.compile(r"(?u)\b\w\w+\b|\b\d\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# Irregular past forms the Snowball stemmer leaves apart from their base verb.
IRREGULAR = {
    "won": "win",
    "bought": "buy",
    "sold": "sell",
    "led": "lead",
    "began": "begin",
    "begun": "begin",
    "took": "take",
    "taken": "take",
    "held": "hold",
    "became": "become",
    "made": "make",
    "said": "say",
    "told": "tell",
    "wrote": "write",
    "written": "write",
    "chose": "choose",
    "chosen": "choose",
    "ran": "run",
    "gave": "give",
    "given": "give",
    "met": "meet",
    "paid": "pay",
    "spent": "spend",
    "brought": "bring",
    "built": "build",
    "beat": "beat",
    "beaten": "beat",
    "found": "found",
    "sent": "send",
    "signed": "sign",
    "struck": "strike",
    "left": "leave",
    "fell": "fall",
    "rose": "rise",
    # Agent nouns, so "director" meets "directed" and "winner" meets "won".
    "director": "direct",
    "directors": "direct",
    "winner": "win",
    "winners": "win",
    "founder": "found",
    "founders": "found",
    "creator": "create",
    "producer": "produce",
    "publisher": "publish",
    "developer": "develop",
    "owner": "own",
    "leader": "lead",
    "writer": "write",
    "inventor": "invent",
    "manufacturer": "manufacture",
    "organizer": "organize",
    "organiser": "organise",
    "host": "host",
    "defence": "defense",
    "offence": "offense",
    "programme": "program",
    "buyer": "buy",
    "seller": "sell",
    "acquirer": "acquire",
    "acquisition": "acquire",
    "signatory": "sign",
}


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed, stop-word-free tokens (the same for index and query)."""
    return list(_terms(text))


@lru_cache(maxsize=16384)
def _terms(text: str) -> tuple[str, ...]:
    stop = stopwords()
    words = [IRREGULAR.get(w, w) for w in _TOKEN.findall(text.lower()) if w not in stop]
    return tuple(_stemmer().stemWords(words)) if words else ()


@dataclass
class ChunkRow:
    """One chunk, fetched from Chroma for the candidates of one question."""

    chunk_id: str
    doc_id: str
    title: str
    url: str | None
    published: str | None
    published_day: int | None
    start: int
    end: int
    content_hash: str
    text: str
    sentences: list[tuple[int, int]]
    entities: list[tuple[int, int, str]]
    sentence_vectors: str = ""
    _terms: frozenset[str] | None = None
    _vectors: np.ndarray | None = None
    # The reader's per-sentence analysis (service.reader.row_reading), made once per cached row.
    reading: Any = None

    @property
    def context_text(self) -> str:
        """What BM25 indexes: the title (when the text does not start with it) and the text."""
        return self.text if self.text.startswith(self.title) else f"{self.title}\n{self.text}"

    def vectors(self, dim: int) -> np.ndarray:
        """The sentence vectors, decoded once (rows stay cached across questions)."""
        if self._vectors is None:
            self._vectors = decode_vectors(self.sentence_vectors, dim)
        return self._vectors

    @property
    def terms(self) -> frozenset[str]:
        """The chunk's distinct terms (title included), computed once."""
        if self._terms is None:
            self._terms = frozenset(terms(self.context_text))
        return self._terms


def row_from(chunk_id: str, text: str, meta: dict[str, Any]) -> ChunkRow:
    """A ChunkRow from a Chroma record."""
    return ChunkRow(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        url=meta.get("url"),
        published=meta.get("published"),
        published_day=meta.get("published_day"),
        start=int(meta["start"]),
        end=int(meta["end"]),
        content_hash=meta.get("content_hash", ""),
        text=text,
        sentences=[tuple(s) for s in json.loads(meta.get("sentences", "[]"))],
        entities=[tuple(e) for e in json.loads(meta.get("entities", "[]"))],
        sentence_vectors=meta.get("sentence_vectors", ""),
    )


def fetch_rows(
    store: Store, chunk_ids: Sequence[str], cache: LruCache[str, ChunkRow] | None = None
) -> dict[str, ChunkRow]:
    """The chunks with these ids, from ``cache`` or Chroma (ids no longer stored are absent)."""
    if not chunk_ids:
        return {}
    wanted = list(dict.fromkeys(chunk_ids))
    found, missing = cache.get_many(wanted) if cache is not None else ({}, wanted)
    if missing:
        got = store.chunks.get(ids=missing, include=["documents", "metadatas"])
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            found[i] = row = row_from(i, d, m)
            if cache is not None:
                cache.put(i, row)
    return found


@dataclass
class LexicalIndex:
    """BM25 over chunk titles + texts. Only ids, dates and the BM25 matrix stay in
    memory; chunk texts are fetched from Chroma for each question's candidates."""

    ids: list[str] = field(default_factory=list)
    retriever: Any = None
    doc_freq: dict[str, int] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    days: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _weights: dict[str, float] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, store: Store) -> LexicalIndex:
        """Read every chunk from Chroma, a page at a time, and index it."""
        import bm25s

        # bm25s logs every index build at DEBUG on its own logger.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        ids: list[str] = []
        days: list[int] = []
        token_ids: list[list[int]] = []
        vocab: dict[str, int] = {}
        df: dict[str, int] = {}
        offset = 0
        while True:
            page = store.chunks.get(include=["documents", "metadatas"], limit=BUILD_PAGE, offset=offset)
            for chunk_id, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
                title = meta.get("title", "")
                toks = _terms(text if text.startswith(title) else f"{title}\n{text}")
                ids.append(chunk_id)
                days.append(meta.get("published_day") or 0)
                token_ids.append([vocab.setdefault(t, len(vocab)) for t in toks])
                for t in set(toks):
                    df[t] = df.get(t, 0) + 1
            if len(page["ids"]) < BUILD_PAGE:
                break
            offset += BUILD_PAGE
        _release_freed_memory()
        index = cls(ids=ids, position={c: i for i, c in enumerate(ids)}, doc_freq=df)
        index.days = np.array(days, dtype=np.int64)
        if ids:
            retriever = bm25s.BM25()
            retriever.index(bm25s.tokenization.Tokenized(ids=token_ids, vocab=vocab), show_progress=False)
            index.retriever = retriever
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
