"""The retrieve stage's date windows: scored in memory, they agree with Chroma's own
metadata filter and keep nothing outside the window (real Chroma, real model)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from indexing.reindex import reindex
from indexing.store import published_window
from service.pipeline import build_pipeline
from tests.conftest import open_store

TOPICS = [
    "The city council approved a new budget for public libraries",
    "A storm flooded the harbour and closed the ferry service",
    "The football club signed a young striker from Brazil",
    "Researchers found a new species of frog in the rainforest",
]


@pytest.fixture(scope="module")
def dated(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("dated")
    rows = []
    for year in (2019, 2020, 2021):
        for month in (2, 7):
            for n, topic in enumerate(TOPICS):
                rows.append(
                    {
                        "id": f"{year}-{month}-{n}",
                        "title": f"{topic.split()[1].title()} news {year}",
                        "published": f"{year}-{month:02d}-{10 + n:02d}",
                        "text": f"{topic} in {year}. Officials said more would follow in the coming months.",
                    }
                )
    rows.append({"id": "undated", "title": "Undated", "text": f"{TOPICS[0]}. No date was given."})
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "news.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    from service.settings import Settings

    settings = Settings(data_dir=root / "data", corpus_dir=corpus)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    return build_pipeline(settings, store, embedder, llm=None)


WINDOWS = [
    (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
    (dt.date(2021, 7, 10), dt.date(2021, 7, 16)),
    (dt.date(2020, 7, 1), None),
    (None, dt.date(2019, 12, 31)),
]


@pytest.mark.parametrize(("since", "until"), WINDOWS)
def test_windowed_dense_search_matches_chromas_filter(dated, since, until):
    window = published_window(since, until)
    lexical = dated.retriever.lexical
    for topic in TOPICS:
        vector = dated.embedder.embed_query(topic)
        ours = lexical.nearest(vector, 10, lexical.window_mask(window))
        chroma = dated.store.query_chunks(vector, 10, window=window)
        assert len(ours) == len(chroma)
        # int8 copies of the vectors: the same chunks, up to near-ties at the cut (these
        # articles differ only in their year), with cosines within quantisation error
        assert ours[0][0] == chroma[0][0] or abs(ours[0][1] - chroma[0][1]) < 0.01
        assert len({c for c, _ in ours} & {c for c, _ in chroma}) >= len(chroma) - 2
        assert all(abs(a - b) < 0.01 for (_, a), (_, b) in zip(ours, chroma, strict=True))


@pytest.mark.parametrize(("since", "until"), WINDOWS)
def test_retrieved_hits_lie_inside_the_window(dated, since, until):
    retrieved = dated.retriever.retrieve("flooded harbour ferry", since=since, until=until)
    assert retrieved.hits
    for hit in retrieved.hits:
        day = dt.date.fromisoformat(hit.row.published)  # undated articles never pass a window
        assert (since is None or day >= since) and (until is None or day <= until)


def test_an_empty_window_retrieves_nothing(dated):
    assert dated.retriever.retrieve("storm", since=dt.date(2030, 1, 1)).hits == []


def test_the_lean_bm25_build_keeps_bm25s_scores(dated):
    """The start-up build sorts the sparse matrix its own way (less memory,
    service/lexical.py); the matrix and every score must be bm25s's own."""
    import bm25s
    import numpy as np

    from service.analysis import terms

    ours = dated.retriever.lexical.retriever
    vocab = {t: i for t, i in ours.vocab_dict.items() if t}  # bm25s adds the empty token itself
    tokens = [
        [vocab[t] for t in terms(c.text if c.text.startswith(c.title) else f"{c.title}\n{c.text}")]
        for c in dated.store.iter_chunk_texts()
    ]
    assert len(tokens) == len(dated.retriever.lexical) > 20
    theirs = bm25s.BM25()
    theirs.index(bm25s.tokenization.Tokenized(ids=tokens, vocab=vocab), show_progress=False)
    assert theirs.vocab_dict == ours.vocab_dict
    for key in ("data", "indices", "indptr"):
        assert np.array_equal(ours.scores[key], theirs.scores[key]), key
    for question in ("storm in the harbour", "football club signed a striker from Brazil in 2020", "officials"):
        query = [t for t in terms(question) if t in vocab]
        assert np.array_equal(ours.get_scores(query), theirs.get_scores(query))
        assert ours.get_scores(query).max() > 0
