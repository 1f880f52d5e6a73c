"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates, fused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexing.store import Store, published_day
from service.cache import LruCache
from service.lexical import ChunkRow, LexicalIndex, fetch_rows, terms

# Fusion: a weighted sum of the dense cosine and the max-normalised BM25 score.
# Tuned on the RGB dev set (docs/benchmarks.md); BM25 catches exact names,
# years and quarters that MiniLM blurs.
LEXICAL_WEIGHT = 0.35
CANDIDATES = 40
# Rows fetched from Chroma per question: the reader reads 16 passages, /ask shows up to 20.
FETCH = 24


@dataclass
class Hit:
    """A retrieved chunk with its scores."""

    row: ChunkRow
    score: float
    dense: float
    lexical: float


def date_filter(since: dt.date | None, until: dt.date | None) -> dict[str, Any] | None:
    """Chroma ``where`` clause on the published day (undated chunks excluded when filtering)."""
    parts: list[dict[str, Any]] = []
    if since:
        parts.append({"published_day": {"$gte": published_day(since.isoformat())}})
    if until:
        parts.append({"published_day": {"$lte": published_day(until.isoformat())}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _mask(lexical: LexicalIndex, since: dt.date | None, until: dt.date | None) -> np.ndarray | None:
    if not since and not until:
        return None
    days = lexical.days
    ok = days > 0
    if since:
        ok &= days >= published_day(since.isoformat())
    if until:
        ok &= days <= published_day(until.isoformat())
    return ok.astype(np.float32)


def retrieve(
    question: str,
    *,
    query_vector: np.ndarray,
    store: Store,
    lexical: LexicalIndex,
    since: dt.date | None = None,
    until: dt.date | None = None,
    candidates: int = CANDIDATES,
    fetch: int = FETCH,
    cache: LruCache[str, ChunkRow] | None = None,
) -> list[Hit]:
    """The ``fetch`` best fused hits, with their chunk rows, best first."""
    n = len(lexical)
    if n == 0:
        return []
    k = min(candidates, n)
    where = date_filter(since, until)
    dense = store.chunks.query(query_embeddings=[query_vector], n_results=k, where=where, include=["distances"])
    dense_sim = {cid: 1.0 - float(d) for cid, d in zip(dense["ids"][0], dense["distances"][0], strict=True)}
    lex = lexical.search(terms(question), k, _mask(lexical, since, until))
    top_lex = lex[0][1] if lex else 1.0
    lex_norm = {lexical.ids[pos]: s / top_lex for pos, s in lex}

    fused = []
    floor = min(dense_sim.values(), default=0.0)
    for cid in dense_sim.keys() | lex_norm.keys():
        # A lexical-only hit's cosine is below the dense cut: estimate it as the lowest seen.
        d = dense_sim.get(cid, floor)
        lx = lex_norm.get(cid, 0.0)
        fused.append((d + LEXICAL_WEIGHT * lx, d, lx, cid))
    fused.sort(reverse=True)
    fused = fused[:fetch]
    rows = fetch_rows(store, [cid for *_, cid in fused], cache)
    hits = [Hit(row=rows[cid], score=sc, dense=d, lexical=lx) for sc, d, lx, cid in fused if cid in rows]
    hits.sort(key=lambda h: -h.score)
    return hits
