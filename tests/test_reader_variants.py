"""eval/bench/reader_variants.compare: article-wise cross-validation of the ways of
combining the rules and the model (synthetic rows: no index, no model)."""

import json
import random

import pytest

from eval.bench.calibrate_hybrid import NAMES
from eval.bench.reader_variants import VARIANTS, compare


def _row(rng: random.Random, article: str) -> dict:
    answerable = rng.random() < 0.6
    strength = rng.gauss(1.0 if answerable else -1.0, 0.7)  # what separates right answers here
    right = answerable and strength > 0.3
    feats = [0.0] * len(NAMES)
    feats[NAMES.index("model_logit")] = strength
    cands = [
        {
            "logit": strength + (0.5 if k == 0 else -1.0),
            "prerank": rng.random(),
            "right": right and k == 0,
            "rules": k == 0,
        }
        for k in range(4)
    ]
    return {
        "article": article,
        "answerable": answerable,
        "hybrid": {"features": feats, "right": right},
        "candidates": cands,
    }


def test_compare_cross_validates_by_article_and_applies_the_fit_to_the_other_set(tmp_path):
    rng = random.Random(0)
    cal = tmp_path / "cal.json"
    rgb = tmp_path / "rgb.json"
    cal.write_text(json.dumps({"rows": [_row(rng, a) for a in ("A", "B", "C", "D") for _ in range(60)]}))
    rgb.write_text(json.dumps({"rows": [_row(rng, "rgb") for _ in range(40)]}))
    result = compare(cal, rgb)
    assert set(result) == set(VARIANTS)
    for figs in result.values():
        cv = figs["cross_validated"]
        assert cv["questions"] == 240 and figs["validation"]["questions"] == 40
        assert cv["auc_right"] > 0.8  # the signal in the rows is found out of sample
        assert cv["combined"] > 0.6  # better than always refusing (0.4 unanswerable here)


def test_compare_refuses_a_test_article(tmp_path):
    rng = random.Random(1)
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps({"rows": [_row(rng, a) for a in ("A", "Warsaw") for _ in range(20)]}))
    with pytest.raises(AssertionError, match="test article"):
        compare(cal, None)
