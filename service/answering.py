"""``ask`` and ``search``: the domain functions behind ``POST /ask``, ``POST /search``,
``citeqa ask`` and ``citeqa eval``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from indexing.store import ArticleRecord
from service.citations import Citer, Event
from service.engine import Engine
from service.errors import IndexNotReady
from service.llm import PROMPT_CANDIDATES, LLMUnavailable, Source, generate, prompt
from service.quotes import verified_passage, verified_quote, verified_span
from service.reader import Reading, read
from service.retrieval import Hit, retrieve
from service.schemas import AskResponse, Passage

log = logging.getLogger(__name__)
ABSTAIN_ANSWER = "The indexed articles do not answer this question."


def _records(engine: Engine, hits: list[Hit]) -> dict[str, ArticleRecord]:
    """The article records these hits were cut from, at the version each hit was cut from."""
    keys = list(dict.fromkeys((h.row.doc_id, h.row.content_hash) for h in hits))
    found, missing = engine.records.get_many(keys)
    if missing:
        for doc_id, record in engine.store.documents([d for d, _ in missing]).items():
            engine.records.put((doc_id, record.content_hash), record)
            found[(doc_id, record.content_hash)] = record
    # A hit whose article changed since is dropped by its callers (hash mismatch).
    return {doc_id: found[(doc_id, h)] for doc_id, h in keys if (doc_id, h) in found}


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
    hits = retrieve(
        text, query_vector=vector, store=engine.store, lexical=lexical, since=since, until=until, cache=engine.rows
    )
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
    """Answer with verified quotes (through the LLM when one is configured), or abstain."""
    for event in ask_events(engine, question, top_k=top_k, since=since, until=until):
        if event.kind == "done":
            return event.data
    raise AssertionError("ask_events ends with a done event")


def ask_events(
    engine: Engine,
    question: str,
    *,
    top_k: int = 5,
    since: dt.date | None = None,
    until: dt.date | None = None,
    stream: bool = False,
) -> Iterator[Event]:
    """``sentence`` and ``quote`` events as the LLM's answer verifies (LLM mode only), then
    ``done`` with the whole response. If the LLM fails after sentences were sent, ``done``
    carries the extractive answer: clients render the ``done`` body as the final word.

    Retrieval and reading run before this returns, so their errors (empty index,
    Chroma down) raise here and can still become an HTTP error status."""
    vector, lexical, hits = _hits(engine, question, since, until)
    records = _records(engine, hits[:20])
    hits = [h for h in hits if h.row.doc_id in records and records[h.row.doc_id].content_hash == h.row.content_hash]
    passages = _passages(hits, records, top_k)
    reading = read(question, hits, store=engine.store, lexical=lexical, question_vector=vector)
    extractive = _extractive(engine, question, reading, records, passages)
    if engine.llm is None or not reading.ranked:
        return iter([Event("done", extractive)])
    return _llm_events(engine, question, reading, records, passages, extractive, stream)


def _llm_events(
    engine: Engine,
    question: str,
    reading: Reading,
    records: dict[str, ArticleRecord],
    passages: list[Passage],
    extractive: AskResponse,
    stream: bool,
) -> Iterator[Event]:
    sources = _sources(reading, records)
    citer = Citer({s.number: s for s in sources}, records)
    try:
        text = generate(engine.llm, prompt(question, sources), timeout_s=engine.settings.llm_timeout_s, stream=stream)
        for piece in text:
            yield from citer.feed(piece)
        yield from citer.finish()
        if not citer.sentences:
            raise LLMUnavailable("the LLM gave no verifiable sentence (it may have said the sources don't answer)")
    except LLMUnavailable as exc:
        log.warning("LLM answer not used, extractive answer returned instead: %s", exc)
        yield Event("done", extractive)
        return
    for sentence, reason in citer.dropped:
        log.info("LLM sentence dropped (%s): %s", reason, sentence[:200])
    short = extractive.short_answer
    inside = short and any(
        q.doc_id == short.doc_id and q.start <= short.start and short.end <= q.end for q in citer.quotes
    )
    yield Event(
        "done",
        AskResponse(
            question=question,
            answer=citer.answer,
            abstained=False,
            confidence=extractive.confidence,
            mode="llm",
            short_answer=short if inside else None,
            quotes=citer.quotes,
            passages=passages,
        ),
    )


def _extractive(
    engine: Engine, question: str, reading: Reading, records: dict[str, ArticleRecord], passages: list[Passage]
) -> AskResponse:
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


def _sources(reading: Reading, records: dict[str, ArticleRecord]) -> list[Source]:
    """The numbered sentences the LLM sees: the reader's choice first, then its ranking."""
    spans = list(reading.quotes) + [(c.doc_id, c.start, c.end) for c in reading.ranked]
    out: list[Source] = []
    for doc_id, start, end in dict.fromkeys(spans):
        quote = verified_quote(records.get(doc_id), start, end)
        if quote is None:
            continue
        out.append(Source(len(out) + 1, doc_id, quote.title, quote.published, start, end, quote.text))
        if len(out) == PROMPT_CANDIDATES:
            break
    return out
