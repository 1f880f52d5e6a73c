"""The newest source wins, for questions about the present state (the trigger:
``service.periods.asks_present_state``).

Each of the best-ranked dated articles is read on its own (the read stage over that
article's passages only). Where two or more give an answer the decide stage would
accept, with different short answers, the newest article's answer wins: its quote
comes first, the older disagreeing quotes follow (newest first, at most three quotes
in all) and the response says ``superseded: true``. Articles without a published day
take no part: they cannot be placed in time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from service.retrieval import Retrieved
from service.stages import MAX_QUOTES, Answer, Reader, Reading

# Dated articles read on their own, in the order of their best passage.
MAX_ARTICLES = 4
# Numbers whole ("4.25" is not "4"), thousands separators dropped ("1,000" is "1000").
_WORDS = re.compile(r"\d[\d,]*(?:\.\d+)?|\w+")
_ARTICLES = frozenset({"a", "an", "the"})


@dataclass(frozen=True)
class _Claim:
    published: str
    doc_id: str
    answer: Answer
    words: frozenset[str]


def _words(text: str) -> frozenset[str]:
    return frozenset(w.replace(",", "") for w in _WORDS.findall(text.lower()) if w not in _ARTICLES)


def _agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same short answer: one's words contain the other's ("Reyes", "Daniel Reyes")."""
    return a <= b or b <= a


def newest_first(
    question: str, reading: Reading, retrieved: Retrieved, reader: Reader, threshold: float, passages: int
) -> tuple[Reading, bool]:
    """The reading with the newest disagreeing answer first, and whether it superseded older ones."""
    docs: list[str] = []
    for hit in retrieved.hits[:passages]:
        record = retrieved.records.get(hit.row.doc_id)
        if record is not None and record.published and hit.row.doc_id not in docs:
            docs.append(hit.row.doc_id)
            if len(docs) == MAX_ARTICLES:
                break
    if len(docs) < 2:
        return reading, False
    claims: list[_Claim] = []
    for doc_id in docs:
        own = replace(retrieved, hits=[h for h in retrieved.hits if h.row.doc_id == doc_id])
        best = reader.read(question, own).best
        record = retrieved.records[doc_id]
        if best is None or best.short is None or best.confidence < threshold:
            continue
        words = _words(record.text[best.short.start : best.short.end])
        if words:
            claims.append(_Claim(record.published or "", doc_id, best, words))
    if len(claims) < 2:
        return reading, False
    claims.sort(key=lambda c: c.published, reverse=True)
    newest = claims[0]
    older = [c for c in claims[1:] if not _agree(c.words, newest.words)]
    if not older:
        return reading, False
    quotes = (newest.answer.quotes[0], *(c.answer.quotes[0] for c in older))[:MAX_QUOTES]
    answer = Answer(quotes, newest.answer.short, newest.answer.confidence)
    rest = [a for a in reading.answers if a.quotes[:1] != quotes[:1]]
    return Reading([answer, *rest]), True
