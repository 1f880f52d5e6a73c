"""``ask`` and ``search``: the domain functions behind ``POST /ask``, ``POST /search``,
``citeqa ask`` and ``citeqa eval``."""

from __future__ import annotations

import datetime as dt

from indexing.store import ArticleRecord
from service.engine import Engine
from service.errors import IndexNotReady
from service.quotes import verified_passage, verified_quote, verified_span
from service.reader import read
from service.retrieval import Hit, retrieve
from service.schemas import AskResponse, Passage

ABSTAIN_ANSWER = "The indexed articles do not answer this question."


def _records(engine: Engine, hits: list[Hit]) -> dict[str, ArticleRecord]:
    return engine.store.documents([h.row.doc_id for h in hits])


def _passages(hits: list[Hit], records: dict[str, ArticleRecord], top_k: int) -> list[Passage]:
    out = []
    for h in hits:
        record = records.get(h.row.doc_id)
        # A chunk from another version of the article (mid-reindex) is never shown.
        if record is None or record.content_hash != h.row.content_hash:
            continue
        p = verified_passage(record, h.row.chunk_id, h.row.start, h.row.end, h.row.text, round(h.score, 6))
        if p:
            out.append(p)
        if len(out) == top_k:
            break
    return out


def _hits(engine: Engine, text: str, since: dt.date | None, until: dt.date | None):
    if len(engine.lexical) == 0:
        raise IndexNotReady("the index is empty: run `citeqa index` first")
    vector = engine.embedder.embed_query(text)
    lexical = engine.lexical  # one consistent snapshot for this request
    hits = retrieve(text, query_vector=vector, store=engine.store, lexical=lexical, since=since, until=until)
    return vector, lexical, hits


def search(
    engine: Engine, query: str, *, top_k: int = 5, since: dt.date | None = None, until: dt.date | None = None
) -> list[Passage]:
    """The best passages for a query, fused score first."""
    _, _, hits = _hits(engine, query, since, until)
    hits = hits[: max(top_k * 3, 20)]
    return _passages(hits, _records(engine, hits), top_k)


def ask(
    engine: Engine, question: str, *, top_k: int = 5, since: dt.date | None = None, until: dt.date | None = None
) -> AskResponse:
    """Answer with verified quotes, or abstain."""
    vector, lexical, hits = _hits(engine, question, since, until)
    records = _records(engine, hits[:20])
    hits = [h for h in hits if h.row.doc_id in records and records[h.row.doc_id].content_hash == h.row.content_hash]
    passages = _passages(hits, records, top_k)
    reading = read(question, hits, store=engine.store, lexical=lexical, question_vector=vector)
    quotes = [q for q in (verified_quote(records.get(d), s, e) for d, s, e in reading.quotes) if q]
    short = None
    if reading.short:
        d, s, e = reading.short
        inside = any(q.doc_id == d and q.start <= s and e <= q.end for q in quotes)
        short = verified_span(records.get(d), s, e) if inside else None
    confidence = round(min(1.0, max(0.0, reading.confidence)), 4)
    if not quotes or confidence < engine.settings.abstain_threshold:
        return AskResponse(
            question=question,
            answer=ABSTAIN_ANSWER,
            abstained=True,
            confidence=confidence,
            short_answer=None,
            quotes=[],
            passages=passages,
        )
    return AskResponse(
        question=question,
        answer=" … ".join(q.text for q in quotes),
        abstained=False,
        confidence=confidence,
        short_answer=short,
        quotes=quotes,
        passages=passages,
    )
