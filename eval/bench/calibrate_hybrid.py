"""Fit the hybrid reader's choice of sentence and its confidence on the calibration
articles, and choose its abstention threshold; write ``service/models/hybrid-confidence.json``.

    python -m eval.bench.calibrate_hybrid [--data DIR] [--out FILE] [--model FILE] [--l2 0.01]

The calibration articles are the ones the reader recipe set aside
(``training/reader/manifest.json``, read as data): nothing was trained on them and
nothing here touches the four test articles, the RGB dev set or the golden set
(those are validation only). Every paragraph of those articles is indexed as one
corpus (as ``citeqa eval --format squad`` does); every question goes through the
real retrieve stage.

1. Choice: for every answerable question, the rules' best sentences and their own
   choice are read by the answer model (``HybridReader.pool``); a logistic fit of
   "this sentence holds a gold answer" on (model logit, rules score, rules' choice)
   gives the preference. Pool sizes 2, 3, 5 and 8 are fitted; the one whose picks
   hold a gold answer most often is kept.
2. Confidence: with that choice, every question through ``HybridReader.evidence``.
   Label: the question is answerable and the chosen quote (or the short answer)
   holds a gold answer. Features: the rule reader's evidence
   (``service.rule_reader.FEATURES``), the model's logit for the chosen sentence,
   whether the rules chose it too and the preference's margin over the runner-up;
   an L2-regularised logistic fit.
The threshold is the one that gets the most calibration questions right
(answerable answered right, or unanswerable abstained).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.bench.calibrate_reader import (
    THRESHOLD_RULE,
    calibration_articles,
    calibration_figures,
    fit_logistic,
    indexed,
    write_artifact,
)
from eval.golden import GoldenRow
from eval.metrics import contains_answer
from eval.squad import SQUAD_DIR, load_squad, write_squad_corpus
from service.answer_model import MODEL_FILE, AnswerModel
from service.pipeline import build_pipeline
from service.reader import HYBRID_CALIBRATION, HYBRID_FORMAT, HYBRID_OWN, HybridCalibration, HybridChoice, HybridReader
from service.retrieval import Retrieved
from service.rule_reader import FEATURES, RuleReader
from service.stages import Answer

NAMES = [*FEATURES, *HYBRID_OWN]
CHOICE_NAMES = ("model_logit", "rules_score", "rules_choice")
POOLS = (2, 3, 5, 8)
# The rules' own choice, with the largest pool read (step 1 fits every smaller pool from it).
UNFITTED = HybridCalibration(
    0.0, {}, 0.0, HybridChoice(max(POOLS), {"model_logit": 0.0, "rules_score": 0.0, "rules_choice": 1.0}), {}
)


def holds_gold(row: GoldenRow, text: str) -> bool:
    """The question is answerable and ``text`` holds one of its gold answers (case-insensitive)."""
    return row.answerable and contains_answer(text, row.answers)


def holds_answer(row: GoldenRow, answer: Answer | None, retrieved: Retrieved) -> bool:
    """The label: the question is answerable and a quote (or the short answer) holds a gold answer."""
    if answer is None:
        return False
    spans = [*answer.quotes, *([answer.short] if answer.short else [])]
    return any(holds_gold(row, retrieved.records[d].text[s:e]) for d, s, e in spans)


def pools(reader: HybridReader, rows: list[GoldenRow], retrieve: Callable) -> list[list[tuple[int, list[float], bool]]]:
    """Per answerable question: (rank, choice features, holds a gold answer) of each pool sentence."""
    out = []
    for row in rows:
        if not row.answerable:
            continue
        ranking = reader.rules.rank(row.question, retrieve(row.question))
        if ranking is None:
            out.append([])
            continue
        entries = reader.pool(row.question, ranking, max(POOLS))
        out.append(
            [
                (e.rank, [e.scored.logit, e.candidate.score, float(e.rules_choice)], holds_gold(row, e.candidate.text))
                for e in entries
            ]
        )
    return out


def fit_choice(per_question: list[list[tuple[int, list[float], bool]]], l2: float) -> tuple[HybridChoice, dict]:
    """The pool size and preference weights whose picks hold a gold answer most often."""
    fits = {}
    for size in POOLS:
        members = [[m for m in q if m[0] < size or m[1][2]] for q in per_question]
        x = np.array([m[1] for q in members for m in q], dtype=float)
        y = np.array([m[2] for q in members for m in q], dtype=float)
        w = fit_logistic(x, y, l2=l2 * len(x))
        right = [bool(q) and max(q, key=lambda m: float(np.dot(m[1], w[:-1])))[2] for q in members]
        fits[size] = (float(np.mean(right)), w)
    size = max(POOLS, key=lambda k: (fits[k][0], -k))
    weights = {n: round(float(v), 4) for n, v in zip(CHOICE_NAMES, fits[size][1][:-1], strict=True)}
    rules_only = float(np.mean([any(m[1][2] and m[2] for m in q) for q in per_question]))
    figures = {
        "answerable_questions": len(per_question),
        "rules_choice_holds_answer": rules_only,
        "pick_holds_answer_by_pool": {str(k): round(v[0], 4) for k, v in fits.items()},
    }
    return HybridChoice(size, weights), figures


def collect(
    data: Path, articles: list[str], model: AnswerModel | None = None, l2: float = 0.01
) -> tuple[np.ndarray, np.ndarray, np.ndarray, HybridChoice, dict]:
    """(features, right, answerable) one row per question, with the fitted choice and its figures."""
    records, rows = load_squad(data, articles)
    xs, right, answerable = [], [], []
    with indexed(lambda dest: write_squad_corpus(dest, records)) as (settings, store, get):
        reader = HybridReader(RuleReader(settings), model or AnswerModel(), UNFITTED)
        pipeline = build_pipeline(settings, store, get(), llm=None, reader=reader)
        print(f"step 1: the choice, over {sum(r.answerable for r in rows)} answerable questions", flush=True)
        choice, figures = fit_choice(pools(reader, rows, pipeline.retriever.retrieve), l2)
        print(f"pool {choice.pool}, weights {choice.weights}: {figures}", flush=True)
        reader.calibration = HybridCalibration(0.0, {}, 0.0, choice, {})
        for n, row in enumerate(rows):
            retrieved = pipeline.retriever.retrieve(row.question)
            reading, feats = reader.evidence(row.question, retrieved)
            xs.append([feats.get(k, 0.0) for k in NAMES])
            right.append(holds_answer(row, reading.best, retrieved))
            answerable.append(row.answerable)
            if n % 250 == 0:
                print(f"step 2: {n}/{len(rows)} questions read", flush=True)
    return np.array(xs, dtype=float), np.array(right), np.array(answerable), choice, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SQUAD_DIR)
    parser.add_argument("--out", type=Path, default=HYBRID_CALIBRATION)
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the answer model (ONNX) to calibrate")
    parser.add_argument("--l2", type=float, default=0.01, help="L2 weight of the logistic fits")
    args = parser.parse_args()
    articles = calibration_articles()
    model = AnswerModel(args.model)
    x, y, answerable, choice, choice_figures = collect(args.data, articles, model, args.l2)
    w = fit_logistic(x, y.astype(float), l2=args.l2 * len(x))
    probs = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    threshold, figures = calibration_figures(probs, y, answerable)
    body = {
        "format": HYBRID_FORMAT,
        "version": 2,
        "model_sha256": model.sha256(),
        "label": "answerable, and the chosen quote or short answer holds a gold answer",
        "articles": articles,
        "fitted_by": f"python -m eval.bench.calibrate_hybrid --l2 {args.l2}",
        "date": dt.date.today().isoformat(),
        "choice": {
            "pool": choice.pool,
            "rule": "of pool sizes " + ", ".join(map(str, POOLS)) + ": the one whose picks hold a gold answer "
            "most often (answerable calibration questions)",
            "label": "the sentence holds a gold answer",
            "weights": choice.weights,
            "figures": choice_figures,
        },
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "figures": figures,
        "bias": round(float(w[-1]), 4),
        "weights": {n: round(float(v), 4) for n, v in zip(NAMES, w[:-1], strict=True)},
    }
    write_artifact(args.out, body)


if __name__ == "__main__":
    main()
