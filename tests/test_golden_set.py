"""The golden set itself: well-formed, varied, and verbatim in its articles."""

from __future__ import annotations

from collections import Counter

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
        for a in r.answers:
            assert any(a in texts[e.doc_id] for e in r.evidence), (r.id, a)
    # "Both articles" rows cite both.
    for r in rows:
        if "both-articles" in r.tags:
            assert len({e.doc_id for e in r.evidence}) == 2, r.id
