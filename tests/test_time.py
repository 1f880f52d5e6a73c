"""Questions in time, through the real app over a real index of the dated corpus
(eval/dated/: fictional articles whose facts change, dated by metadata sidecars),
with the clock injected: nothing here depends on the real date.

One test per rule of README "Time": a stated year, "this week" with as_of, a changed
fact (newest source, superseded), as_of before a fact existed, the 422s, the clock.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from service.time_scope import Fit, TimeScope
from tests.conftest import ROOT, open_store
from tests.llm_server import ScriptedLLM

DATED = ROOT / "eval" / "dated"
TODAY = dt.date(2026, 3, 6)


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, embedder) -> Settings:
    from indexing.reindex import reindex

    settings = Settings(data_dir=tmp_path_factory.mktemp("dated-index"), corpus_dir=DATED)
    reindex(settings, store=open_store(settings), get_embedder=lambda: embedder)
    return settings


# The app's clock reads this; a test may move it (and puts it back).
_today = [TODAY]


@pytest.fixture(scope="module")
def client(dated_index):
    with TestClient(create_app(dated_index, clock=lambda: _today[0])) as c:
        yield c


@pytest.fixture(scope="module")
def published(client) -> dict[str, str | None]:
    docs = client.get("/documents", params={"limit": 1000}).json()["documents"]
    return {d["doc_id"]: d["published"] for d in docs}


def ask(client: TestClient, question: str, **extra) -> dict:
    r = client.post("/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_sidecars_date_the_corpus(published):
    assert published["eastport-marathon-2024.md"] == "2024-04-21"
    assert published["eastport-marathon-history.md"] is None
    assert len(published) == 20  # the .meta.json files are not articles


def test_a_stated_year_is_never_answered_from_another_years_article(client):
    for year, winner, other in [("2025", "Omar Brandt", "Lila Haddad"), ("2024", "Lila Haddad", "Omar Brandt")]:
        body = ask(client, f"Who won the Eastport Marathon in {year}?")
        assert not body["abstained"], body
        assert winner in body["quotes"][0]["text"]
        assert all(other not in q["text"] for q in body["quotes"])
        assert all(q["published"] is None or q["published"].startswith(year) for q in body["quotes"])
    # A year the corpus does not cover: abstain, rather than answer from another year.
    assert ask(client, "Who won the Eastport Marathon in 2019?")["abstained"]


def test_an_undated_article_satisfies_a_year_through_its_own_text(client):
    body = ask(client, "Who won the Eastport Marathon in 2021?", as_of="2024-01-01")
    assert not body["abstained"] and "Greta Holm" in body["quotes"][0]["text"]
    assert body["quotes"][0]["doc_id"] == "eastport-marathon-history.md" and body["quotes"][0]["published"] is None


def test_this_week_with_as_of_uses_only_that_week_and_abstains_on_an_empty_week(client, published):
    body = ask(client, "What did Millbrook council approve this week?", as_of="2026-03-06")
    assert not body["abstained"] and "footbridge" in body["quotes"][0]["text"]
    week = (dt.date(2026, 2, 28), dt.date(2026, 3, 6))
    for q in body["quotes"]:
        day = dt.date.fromisoformat(published[q["doc_id"]])
        assert week[0] <= day <= week[1]
    assert body["as_of"] == "2026-03-06"
    empty = ask(client, "What did Millbrook council approve this week?", as_of="2026-03-20")
    assert empty["abstained"] and empty["quotes"] == []


def test_a_changed_fact_is_answered_from_the_newest_source_with_the_older_quote_after_it(client):
    body = ask(client, "Who is the chief executive of Harbor Light Energy?")
    assert not body["abstained"] and body["superseded"] is True
    first, *older = body["quotes"]
    assert first["doc_id"] == "harbor-light-reyes-takes-over.md" and "Daniel Reyes" in first["text"]
    assert older and older[0]["doc_id"] == "harbor-light-names-okafor.md"
    dates = [q["published"] for q in body["quotes"]]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert body["short_answer"] and "Reyes" in body["short_answer"]["text"]


def test_an_as_of_before_a_fact_existed_answers_from_what_was_known_then(client, published):
    then = ask(client, "Who is the chief executive of Harbor Light Energy?", as_of="2022-06-01")
    assert not then["abstained"] and "Maria Okafor" in then["quotes"][0]["text"]
    assert then["superseded"] is False
    assert all((published[q["doc_id"]] or "") <= "2022-06-01" for q in then["quotes"] + then["passages"])
    # Before either article: nothing was known.
    assert ask(client, "Who is the chief executive of Harbor Light Energy?", as_of="2019-01-01")["abstained"]
    # A contest that had not happened yet on the as-of day.
    assert ask(client, "Which country won the 2026 Northsea Song Contest?", as_of="2026-03-01")["abstained"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"since": "2024-01-01", "as_of": "2023-06-01"}, "since must not be after as_of"),
        ({"until": "2024-01-01", "as_of": "2023-06-01"}, "until must not be after as_of"),
        ({"as_of": "2024-13-01"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": 20240101}, "as_of"),
        ({"as_of": "2024-01-01T00:00:00"}, "as_of"),
    ],
)
def test_bad_as_of_is_422(client, extra, field):
    for path, key in (("/ask", "question"), ("/search", "query")):
        r = client.post(path, json={key: "Who won the Eastport Marathon?", **extra})
        assert r.status_code == 422, r.text
        assert field in json.dumps(r.json()["detail"])


def test_the_clock_is_injected_and_echoed(client):
    question = "What did Millbrook council approve this week?"
    body = ask(client, question)
    assert body["as_of"] == "2026-03-06"
    assert not body["abstained"] and "footbridge" in body["quotes"][0]["text"]
    _today[0] = dt.date(2026, 3, 20)
    try:
        body = ask(client, question)
    finally:
        _today[0] = TODAY
    assert body["as_of"] == "2026-03-20" and body["abstained"]


def test_search_with_as_of_leaves_out_later_articles_and_keeps_undated_ones(client, published):
    r = client.post("/search", json={"query": "Eastport Marathon winner", "as_of": "2024-12-31", "top_k": 10})
    assert r.status_code == 200 and r.json()["as_of"] == "2024-12-31"
    docs = {p["doc_id"] for p in r.json()["passages"]}
    assert "eastport-marathon-history.md" in docs and "eastport-marathon-2024.md" in docs
    assert all(published[d] is None or published[d] <= "2024-12-31" for d in docs)
    assert client.post("/search", json={"query": "Eastport Marathon winner"}).json()["as_of"] is None


def test_an_answer_whose_time_cannot_be_checked_says_so_in_its_confidence(tmp_path, embedder):
    """An undated article with no date anywhere near: kept for a question naming a year,
    its confidence scaled by UNDATED_CONFIDENCE — checked against the read stage's own
    confidence for the same request, and in the app's response."""
    from indexing.reindex import reindex
    from service.time_scope import UNDATED_CONFIDENCE

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "prize.txt").write_text(
        "Harbour prize\n\nThe Harbour Prize for poetry was awarded to Mira Esteves for her collection Salt Roads. "
        "The judges praised its plain language."
    )
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus, abstain_threshold=0.0)
    reindex(settings, store=open_store(settings), get_embedder=lambda: embedder)
    question = "Who was awarded the Harbour Prize for poetry in 2024?"
    with TestClient(create_app(settings, clock=lambda: TODAY)) as c:
        body = ask(c, question)
        pipeline = c.app.state.citeqa.pipeline
        scope = TimeScope.of(question, None, TODAY)
        retrieved = pipeline.retriever.retrieve(question, scope=scope)
        reading = pipeline.reader.read(scope.reader_question(retrieved.fits), retrieved)
    best = reading.best
    assert best is not None and "Mira Esteves" in body["quotes"][0]["text"]
    assert retrieved.fits[tuple(best.quotes[0])] is Fit.UNKNOWN
    assert body["confidence"] == pytest.approx(best.confidence * UNDATED_CONFIDENCE, abs=1e-4)
    # Without a year in the question, nothing is scaled.
    plain = TimeScope.of("Who was awarded the Harbour Prize for poetry?", None, TODAY)
    assert plain.adjust(reading, retrieved.fits) is reading


def _ask_with_scripted_llm(dated_index, embedder, question: str, reply) -> tuple[object, list[dict[int, str]]]:
    """Ask in-process (beside the module's app, which holds the data dir's writer lock)
    with the scripted LLM (tests/llm_server.py: no model can be hosted here) answering
    ``reply(sources)``; returns the response and the numbered sources citeqa sent."""
    from service.answering import ask as ask_
    from service.pipeline import build_pipeline

    seen: list[dict[int, str]] = []
    server = ScriptedLLM()

    def script(sources: dict[int, str]) -> str:
        seen.append(sources)
        return reply(sources)

    server.reset(script)
    try:
        settings = dated_index.model_copy(update={"llm_base_url": server.base_url, "llm_timeout_s": 5.0})
        pipeline = build_pipeline(settings, open_store(settings), embedder, clock=lambda: TODAY)
        body = ask_(pipeline, question)
    finally:
        server.close()
    return body, seen


def test_llm_mode_gets_only_candidates_that_pass_the_time_rules(client, dated_index, embedder):
    """The scripted LLM records the numbered sources citeqa sends it."""
    _, seen = _ask_with_scripted_llm(
        dated_index, embedder, "Who won the Eastport Marathon in 2025?", lambda sources: "NO ANSWER"
    )
    assert seen and seen[0], "the LLM was asked, with sources"
    texts = list(seen[0].values())
    assert any("Omar Brandt" in t for t in texts)
    assert not any("Lila Haddad" in t or "Greta Holm" in t for t in texts)


def test_llm_mode_sees_only_the_newest_article_when_sources_disagree(client, dated_index, embedder):
    """A small model does not weigh dates: given both Harbor Light articles, SmolLM2 quoted
    the outdated chief executive. The scripted LLM records what citeqa sends it."""
    body, seen = _ask_with_scripted_llm(
        dated_index,
        embedder,
        "Who is the chief executive of Harbor Light Energy?",
        lambda sources: f"{sources[1]} [1]",
    )
    assert seen and seen[0]
    assert all("will be its chief executive" not in t for t in seen[0].values())  # the older article's words
    assert body.mode == "llm" and body.superseded and "Daniel Reyes" in body.answer
    assert {q.doc_id for q in body.quotes} == {"harbor-light-reyes-takes-over.md"}
