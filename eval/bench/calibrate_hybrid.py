"""Fit the hybrid reader's confidence on the calibration articles, and choose its
abstention threshold; write ``service/models/hybrid-confidence.json``.

    python -m eval.bench.calibrate_hybrid [--data DIR] [--out FILE] [--l2 0.01]

The calibration articles are the ones the reader recipe set aside
(``training/reader/manifest.json``, read as data): nothing was trained on them and
nothing here touches the four test articles, the RGB dev set or the golden set
(those are validation only). Every paragraph of those articles is indexed as one
corpus (as ``citeqa eval --format squad`` does); every question goes through the
real retrieve stage and ``HybridReader.evidence``. Label: the question is
answerable and the chosen quote (or the short answer) holds a gold answer.
Features: the rule reader's evidence (``service.rule_reader.FEATURES``) and the
answer model's logit for the chosen sentence; an L2-regularised logistic fit.
The threshold is the one that gets the most calibration questions right
(answerable answered right, or unanswerable abstained).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from eval.bench.calibrate_reader import THRESHOLD_RULE, calibration_articles, calibration_figures, fit_logistic, indexed
from eval.golden import GoldenRow
from eval.squad import SQUAD_DIR, load_squad, write_squad_corpus
from service.answer_model import MODEL_FILE, AnswerModel
from service.pipeline import build_pipeline
from service.reader import HYBRID_CALIBRATION, HYBRID_FORMAT, HybridCalibration, HybridReader
from service.retrieval import Retrieved
from service.rule_reader import FEATURES, RuleReader
from service.stages import Answer

NAMES = [*FEATURES, "model_logit"]
UNFITTED = HybridCalibration(0.0, {}, 0.0, {})


def holds_answer(row: GoldenRow, answer: Answer | None, retrieved: Retrieved) -> bool:
    """The label: the question is answerable and a quote (or the short answer) holds a gold answer."""
    if answer is None or not row.answerable:
        return False
    spans = [*answer.quotes, *([answer.short] if answer.short else [])]
    texts = [retrieved.records[d].text[s:e].lower() for d, s, e in spans]
    return any(a.lower() in t for a in row.answers for t in texts)


def collect(
    data: Path, articles: list[str], model: AnswerModel | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, right, answerable), one row per question."""
    records, rows = load_squad(data, articles)
    xs, right, answerable = [], [], []
    with indexed(lambda dest: write_squad_corpus(dest, records)) as (settings, store, get):
        reader = HybridReader(RuleReader(settings), model or AnswerModel(), UNFITTED)
        pipeline = build_pipeline(settings, store, get(), llm=None, reader=reader)
        for n, row in enumerate(rows):
            retrieved = pipeline.retriever.retrieve(row.question)
            reading, feats = reader.evidence(row.question, retrieved)
            xs.append([feats.get(k, 0.0) for k in NAMES])
            right.append(holds_answer(row, reading.best, retrieved))
            answerable.append(row.answerable)
            if n % 250 == 0:
                print(f"{n}/{len(rows)} questions read", flush=True)
    return np.array(xs, dtype=float), np.array(right), np.array(answerable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SQUAD_DIR)
    parser.add_argument("--out", type=Path, default=HYBRID_CALIBRATION)
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the answer model (ONNX) to calibrate")
    parser.add_argument("--l2", type=float, default=0.01, help="L2 weight of the logistic fit")
    args = parser.parse_args()
    articles = calibration_articles()
    model = AnswerModel(args.model)
    x, y, answerable = collect(args.data, articles, model)
    w = fit_logistic(x, y.astype(float), l2=args.l2 * len(x))
    probs = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    threshold, figures = calibration_figures(probs, y, answerable)
    body = {
        "format": HYBRID_FORMAT,
        "version": 1,
        "model_sha256": model.sha256(),
        "label": "answerable, and the chosen quote or short answer holds a gold answer",
        "articles": articles,
        "fitted_by": f"python -m eval.bench.calibrate_hybrid --l2 {args.l2}",
        "date": dt.date.today().isoformat(),
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "figures": figures,
        "bias": round(float(w[-1]), 4),
        "weights": {n: round(float(v), 4) for n, v in zip(NAMES, w[:-1], strict=True)},
    }
    args.out.write_text(json.dumps(body, indent=2) + "\n")
    print(json.dumps(body, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
