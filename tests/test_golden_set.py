"""The golden set itself: well-formed, varied, and verbatim in its articles."""

from __future__ import annotations

from collections import Counter

import pytest

from eval.golden import load_golden
from tests.conftest import ROOT, SEEDS


def test_golden_set_is_verbatim_and_varied():
    rows = load_golden(ROOT / "eval" / "golden.jsonl")
    assert len(rows) >= 40
    unanswerable = [r for r in rows if not r.answerable]
    assert len(unanswerable) >= 10
    tags = Counter(t for r in rows for t in r.tags)
    for needed in (
        "number",
        "date",
        "who-said",
        "what-covers",
        "both-articles",
        "paraphrase",
        "off-topic",
        "near-miss",
        "person-role",
    ):
        assert tags[needed] >= 2, needed
    texts = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    for r in rows:
        if not r.answerable:
            assert r.answers == [] and r.evidence == []
            continue
        assert r.evidence, r.id
        for e in r.evidence:
            assert e.quote in texts[e.doc_id], (r.id, e.quote)
        if r.kind == "yes_no":
            continue  # its answer is Yes or No, judged on the leading word
        for a in r.answers:
            assert any(a in texts[e.doc_id] for e in r.evidence), (r.id, a)
    # "Both articles" rows cite both.
    for r in rows:
        if "both-articles" in r.tags:
            assert len({e.doc_id for e in r.evidence}) == 2, r.id


def test_yes_no_and_comparison_rows_cover_both_corpora():
    seeds = [r for r in load_golden(ROOT / "eval" / "golden.jsonl") if r.kind != "fact"]
    dated = [r for r in load_golden(ROOT / "eval" / "golden-time.jsonl") if r.kind != "fact"]
    rows = seeds + dated
    assert len(rows) >= 10 and seeds and dated
    kinds = Counter(r.kind for r in rows)
    assert kinds["yes_no"] >= 5 and kinds["comparison"] >= 3
    verdicts = Counter(r.answers[0] for r in rows if r.kind == "yes_no")
    assert verdicts["Yes"] >= 2 and verdicts["No"] >= 2  # a model that always says Yes cannot score full
    for r in rows:
        if r.kind == "comparison":
            assert len(r.evidence) >= 2, r.id  # one quote per side


BLIND_SETS = [f"golden-blind{n}.jsonl" for n in ("", "2", "3", "4", "5", "6", "7", "8", "9")]


@pytest.mark.parametrize("name", ["golden-fresh.jsonl", *BLIND_SETS])
def test_fresh_seed_questions_are_verbatim_and_half_near_misses(name):
    """Held-out seed sets, each written before the change it measures: golden-fresh in
    session 13; golden-blind … -blind4 in session 18, -blind5 … -blind7 in session 19, -blind8
    in session 20 and -blind9 in session 22 by helper sessions that read only the seed articles
    (docs/benchmarks.md, "Session 18" to "Session 22")."""
    rows = load_golden(ROOT / "eval" / name)
    texts = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    ids = [r.id for r in rows]
    assert len(ids) == len(set(ids)) >= 30
    assert sum(not r.answerable for r in rows) >= 10
    for r in rows:
        for e in r.evidence:
            assert e.quote in texts[e.doc_id], (r.id, e.quote)
        assert not r.answerable or any(a.casefold() in e.quote.casefold() for a in r.answers for e in r.evidence), r.id
