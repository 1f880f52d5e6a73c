"""Chunks and sentences are exact slices of the article text."""

from __future__ import annotations

from indexing.chunking import count_tokens
from indexing.corpus import Article, load_corpus
from indexing.parsing import prepare
from service.settings import Settings
from tests.conftest import SEEDS


def test_every_seed_chunk_and_sentence_is_an_exact_slice():
    settings = Settings()
    articles = load_corpus(SEEDS, max_article_bytes=settings.max_article_bytes).articles
    prepared = prepare(articles, settings)
    assert len(prepared) == 2
    for p in prepared:
        text = p.article.text
        assert len(p.chunks) >= 2
        covered = set()
        for c in p.chunks:
            assert text[c.start : c.end] == c.text
            assert c.text == c.text.strip()
            assert count_tokens(c.text) <= settings.chunk_size
            for s, e in c.sentences:
                assert c.start <= s < e <= c.end and text[s:e].strip() == text[s:e]
                covered.update(range(s, e))
            for s, e, label in c.entities:
                assert c.start <= s < e <= c.end and label
        # Every non-space character of the article is in some chunk.
        assert all(ch.isspace() for i, ch in enumerate(text) if i not in covered)
        # Neighbouring chunks overlap by whole sentences or touch.
        for a, b in zip(p.chunks, p.chunks[1:], strict=False):
            assert b.start <= a.end + 3 and b.start > a.start


def test_abbreviations_do_not_end_sentences():
    text = (SEEDS / "us-ukraine-coproduction-memorandum.txt").read_text()
    p = prepare([Article("m", "t", text)], Settings())[0]
    sentences = [text[s:e] for c in p.chunks for s, e in c.sentences]
    assert any("Washington, D.C. on December 6-7, 2023." in s for s in sentences)


def test_over_long_sentence_is_split_into_fitting_chunks():
    text = "word " * 3000 + "end."
    p = prepare([Article("long", "t", text)], Settings(chunk_size=64, chunk_overlap=8))[0]
    assert len(p.chunks) > 10
    for c in p.chunks:
        assert text[c.start : c.end] == c.text and count_tokens(c.text) <= 64
