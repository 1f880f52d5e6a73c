"""Sentence-aware chunking with exact character offsets.

A chunk is a run of whole sentences (from ``indexing.nlp``) whose tiktoken
``cl100k_base`` count stays under the chunk size; neighbouring chunks share
trailing sentences up to the overlap. Chunks are slices of the article text by
construction, so ``text[start:end] == chunk.text`` always holds. (LlamaIndex's
``SentenceSplitter`` returns re-joined strings without offsets, so its output
would have to be searched back into the text; and the reader needs the same
sentence bounds as the chunks.)
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexing.corpus import Article
from indexing.nlp import Annotation


def _tiktoken_cache() -> None:
    # tiktoken would download cl100k_base on first use; llama-index-core ships it.
    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.submodule_search_locations:
        cache = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
        if cache.is_dir():
            os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))


@lru_cache(maxsize=1)
def encoding() -> Any:
    """The cl100k_base encoding, from the cache shipped with llama-index-core."""
    _tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """tiktoken cl100k_base token count."""
    return len(encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Chunk:
    """A slice of an article, with the sentences and entities inside it."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    entities: tuple[tuple[int, int, str], ...]


def chunk_id(doc_id: str, content_hash: str, start: int, end: int) -> str:
    """Deterministic id: re-writing the same chunk is an upsert, never a duplicate."""
    return hashlib.sha256(f"{doc_id}\0{content_hash}\0{start}\0{end}".encode()).hexdigest()[:32]


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at whitespace into pieces of at most ``max_chars``."""
    pieces = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut if cut > start else start + max_chars
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


def split_sentences(text: str, sentences: list[tuple[int, int]], chunk_size: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens), over-long ones cut so each fits a chunk."""
    out = []
    for s, e in sentences:
        n = count_tokens(text[s:e])
        if n <= chunk_size:
            out.append((s, e, n))
            continue
        # ~3 characters per token keeps pieces under the limit for ordinary text.
        for ps, pe in _split_long(text, s, e, max(64, chunk_size * 3)):
            out.append((ps, pe, count_tokens(text[ps:pe])))
    return out


def chunk_article(article: Article, annotation: Annotation, *, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Group the article's sentences into overlapping chunks with exact offsets."""
    text = article.text
    sents = split_sentences(text, annotation.sentences, chunk_size)
    ents = sorted(annotation.entities)
    ent_starts = [e[0] for e in ents]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sents):
        j, tokens = i, 0
        while j < len(sents) and (j == i or tokens + sents[j][2] <= chunk_size):
            tokens += sents[j][2]
            j += 1
        start, end = sents[i][0], sents[j - 1][1]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(article.doc_id, article.content_hash, start, end),
                doc_id=article.doc_id,
                start=start,
                end=end,
                text=text[start:end],
                sentences=tuple((s, e) for s, e, _ in sents[i:j]),
                entities=tuple(
                    ent
                    for ent in ents[bisect.bisect_left(ent_starts, start) : bisect.bisect_left(ent_starts, end)]
                    if ent[1] <= end
                ),
            )
        )
        if j >= len(sents):
            break
        # Step back over whole trailing sentences that fit in the overlap.
        k, back = j, 0
        while k - 1 > i and back + sents[k - 1][2] <= chunk_overlap:
            back += sents[k - 1][2]
            k -= 1
        i = k
    return chunks
