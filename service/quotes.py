"""The quote guarantee, in one place: a span becomes a ``Quote`` only if it is
verbatim in the indexed article text at its offsets."""

from __future__ import annotations

from indexing.store import ArticleRecord
from service.schemas import Passage, Quote, Span


def verified_span(record: ArticleRecord | None, start: int, end: int, text: str | None = None) -> Span | None:
    """A Span for ``record.text[start:end]``, or None if the offsets or text do not match."""
    if record is None or not (0 <= start < end <= len(record.text)):
        return None
    piece = record.text[start:end]
    if text is not None and piece != text:
        return None
    return Span(
        doc_id=record.doc_id,
        title=record.title,
        url=record.url,
        published=record.published,
        start=start,
        end=end,
        text=piece,
    )


def verified_quote(record: ArticleRecord | None, start: int, end: int, text: str | None = None) -> Quote | None:
    """A Quote, or None when it cannot be verified (it is then never shown)."""
    span = verified_span(record, start, end, text)
    return Quote(**span.model_dump()) if span else None


def verified_passage(
    record: ArticleRecord | None, chunk_id: str, start: int, end: int, text: str, score: float
) -> Passage | None:
    """A Passage, or None when the chunk no longer matches the article text."""
    span = verified_span(record, start, end, text)
    return Passage(**span.model_dump(), chunk_id=chunk_id, score=score) if span else None
