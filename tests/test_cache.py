"""The row and article caches behind /ask: bounded, and never serving an old
version of an edited article (real Chroma, real model)."""

from __future__ import annotations

from indexing.reindex import reindex
from service.answering import ask
from service.cache import LruCache
from service.pipeline import build_pipeline
from tests.conftest import copy_seeds, open_store

QUESTION = "How much was the military aid package the US announced on December 6, 2023?"


def test_lru_evicts_least_recent_past_the_budget():
    cache: LruCache[str, str] = LruCache(10, len)
    cache.put("a", "xxxx")
    cache.put("b", "yyyy")
    assert cache.get_many(["a"]) == ({"a": "xxxx"}, [])  # "a" is now the most recent
    cache.put("c", "zzzz")  # 12 > 10: the least recent ("b") goes
    found, missing = cache.get_many(["a", "b", "c"])
    assert found == {"a": "xxxx", "c": "zzzz"} and missing == ["b"]
    cache.put("huge", "q" * 11)  # bigger than the whole budget: not kept, nothing evicted
    assert cache.get_many(["huge", "a"]) == ({"a": "xxxx"}, ["huge"])


def test_edited_article_is_never_answered_from_the_cache(tmp_path, make_settings, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    pipeline = build_pipeline(settings, store, embedder)
    cached = pipeline.retriever

    first = ask(pipeline, QUESTION)
    assert not first.abstained and len(cached.rows) > 0 and len(cached.records) > 0
    doc = first.quotes[0].doc_id
    again = ask(pipeline, QUESTION)
    assert cached.rows.hits > 0 and cached.records.hits > 0  # the second ask was served from the caches
    assert [q.model_dump() for q in again.quotes] == [q.model_dump() for q in first.quotes]

    # Shift every offset of the quoted article, reindex, follow: quotes must match the new text.
    path = corpus / doc
    text = "EDITOR'S NOTE: corrected and re-published.\n\n" + path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    reindex(settings, store=store, get_embedder=lambda: embedder)
    pipeline.refresh()
    after = ask(pipeline, QUESTION)
    assert not after.abstained
    for q in after.quotes:
        assert q.doc_id != doc or text[q.start : q.end] == q.text
    assert any(q.doc_id == doc and q.start > first.quotes[0].start for q in after.quotes)
