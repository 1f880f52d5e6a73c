"""A row of figures (a chart's axis, a table row scraped with a news page) is never the
answer: the answer model reads its numbers as one (real Chroma, the real embedding model,
the shipped reader)."""

from __future__ import annotations

import json

import pytest

from indexing.reindex import reindex
from service.analysis import figures_only
from service.answering import ask
from service.pipeline import build_pipeline
from service.settings import Settings
from tests.conftest import open_store

CHART = "1,313.86 1,313.86 422.88 422.88 Q1 Q2 Q3 Q4 2016 2017 2018 2019 2020 2021 2022 2023."
ARTICLE = {
    "id": "tesla-q3",
    "title": "Tesla revenue by quarter",
    "published": "2019-10-24",
    "text": "Tesla revenue by quarter\n\nQuarterly revenue, in millions of dollars:\n\n"
    f"{CHART}\n\n"
    "Tesla's third-quarter earnings for 2019 saw the electric car maker post $6.3 billion in revenue, "
    "meeting Wall Street estimates. The company also reported a surprise profit.",
}


def test_a_row_of_figures_is_told_from_a_sentence():
    assert figures_only(CHART)
    assert figures_only("Q3 ; 2022 · 2022.")
    for sentence in (
        "Final score: 6-3, 6-7 (4-7), 6-3.",  # words enough to state something
        "December 6-7, 2023.",  # too short to tell
        "Feb 7, 2021 ... Tampa, Florida hosted the game.",
        "The $175 million package includes HIMARS rockets.",
    ):
        assert not figures_only(sentence), sentence


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("figures")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "news.jsonl").write_text(json.dumps(ARTICLE) + "\n", encoding="utf-8")
    settings = Settings(data_dir=root / "data", corpus_dir=corpus)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    return build_pipeline(settings, store, embedder, llm=None)


def test_the_answer_comes_from_the_sentence_not_the_chart(pipeline):
    # Before the rule the chart line was the answer ("422.88 422.88 Q1 Q2 Q3 Q4", confidence 0.65).
    res = ask(pipeline, "What was Tesla's revenue in Q3 2019?")
    assert not res.abstained
    assert all(CHART not in q.text for q in res.quotes)
    assert res.short_answer is not None and res.short_answer.text == "$6.3 billion"
