"""Compare ways of combining the rule reader and the answer model, by article-wise
cross-validation on the SQuAD calibration articles, and apply the fits to RGB dev.

    python -m eval.bench.reader_variants collect OUT.json [--model FILE] [--set calibration|rgb]
    python -m eval.bench.reader_variants compare CAL.json [RGB.json]

``collect`` indexes the set (the four calibration articles of
``training/reader/manifest.json``, or RGB dev) and, per question, records the hybrid
reader's choice and features (``calibrate_hybrid.NAMES``) and the model reader's
candidates (logit, pre-rank, holds a gold answer, is the rules' sentence). The test
articles are refused: nothing is compared on them. ``compare`` fits each variant on
three calibration articles and scores the fourth (threshold by the calibration rule,
chosen on the three), pooled over the four folds; then fits on all four and applies
that to the second file (RGB: validation, never fitted on). Variants:

- ``hybrid``: the rules' sentence; confidence on the rules' features + its model logit
  (the shipped ``HybridReader`` until session 14; since then it also lets the model
  choose among the rules' best sentences, fitted by ``calibrate_hybrid``: collected
  here with the unfitted choice, which keeps the rules' sentence);
- ``hybrid+``: the same, plus the model's view of the question: its best logit over
  the candidates, the margin to the second, whether its best is the rules' sentence;
- ``model``: the model reader's ranking (logit, pre-rank) and Platt confidence (the
  shipped ``ModelReader``);
- ``model+``: the model's choice, confidence on its rank, margin, agreement with the
  rules, and the rules' features;
- ``joint``: ranking on (logit, pre-rank, is the rules' sentence), confidence as ``model+``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from eval.bench.calibrate_hybrid import NAMES, holds_answer
from eval.bench.calibrate_hybrid import UNFITTED as HYBRID_UNFITTED
from eval.bench.calibrate_reader import UNFITTED as MODEL_UNFITTED
from eval.bench.calibrate_reader import calibration_articles, choose_threshold, fit_logistic, indexed
from eval.squad import SQUAD_DIR, TEST_ARTICLES, load_squad, write_squad_corpus
from service.answer_model import MODEL_FILE, AnswerModel
from service.pipeline import build_pipeline
from service.reader import HybridReader, ModelReader
from service.rule_reader import RuleReader
from service.stages import Answer, Offsets

VARIANTS = ("hybrid", "hybrid+", "model", "model+", "joint")


def collect(out: Path, model_file: Path, which: str) -> None:
    model = AnswerModel(model_file)
    rows_out = []
    if which == "rgb":
        from eval.rgb import load_rgb, write_rgb_corpus

        _, rows = load_rgb()
        write_corpus = write_rgb_corpus
    else:
        articles = calibration_articles()
        assert not set(articles) & set(TEST_ARTICLES)
        records, rows = load_squad(SQUAD_DIR, articles)

        def write_corpus(dest: Path) -> Path:
            return write_squad_corpus(dest, records)

    with indexed(write_corpus) as (settings, store, get):
        hybrid = HybridReader(RuleReader(settings), model, HYBRID_UNFITTED)
        model_reader = ModelReader(settings, model=model, calibration=MODEL_UNFITTED)
        pipeline = build_pipeline(settings, store, get(), llm=None, reader=hybrid)
        for n, row in enumerate(rows):
            retrieved = pipeline.retriever.retrieve(row.question)
            reading, feats = hybrid.evidence(row.question, retrieved)
            first = reading.best.quotes[0] if reading.best else None
            cands, scored = model_reader.scored(row.question, retrieved)
            rows_out.append(
                {
                    "article": row.tags[-1],
                    "answerable": row.answerable,
                    "hybrid": {
                        "features": [feats.get(k, 0.0) for k in NAMES],
                        "right": holds_answer(row, reading.best, retrieved),
                    },
                    "candidates": [
                        {
                            "logit": s.logit,
                            "prerank": c.prerank,
                            "right": holds_answer(
                                row, Answer((Offsets(c.row.doc_id, c.start, c.end),), None, 0.0), retrieved
                            ),
                            "rules": bool(first and first.doc_id == c.row.doc_id and first.start == c.start),
                        }
                        for c, s in zip(cands, scored, strict=True)
                    ],
                }
            )
            if n % 250 == 0:
                print(f"{n}/{len(rows)} questions read", flush=True)
    out.write_text(json.dumps({"set": which, "model": model.sha256(), "names": NAMES, "rows": rows_out}))
    print(f"wrote {out}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    labels = labels.astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    ranks = np.argsort(np.argsort(scores)) + 1
    pos = labels.sum()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * (~labels).sum()))


def _ece(p: np.ndarray, y: np.ndarray) -> float:
    bins = np.minimum((p * 10).astype(int), 9)
    return float(
        sum((bins == k).mean() * abs(y[bins == k].mean() - p[bins == k].mean()) for k in range(10) if (bins == k).any())
    )


def _rank_weights(rows: list[dict], with_rules: bool) -> np.ndarray:
    c = np.array(
        [
            [x["logit"], x["prerank"], *([float(x["rules"])] if with_rules else []), x["right"]]
            for r in rows
            for x in r["candidates"]
        ],
        dtype=float,
    )
    return fit_logistic(c[:, :-1], c[:, -1])


def _features(rows: list[dict], variant: str, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the confidence features of the answer the variant gives, and whether it is right."""
    xs, ys = [], []
    for r in rows:
        c = r["candidates"] or [{"logit": -10.0, "prerank": 0.0, "right": False, "rules": False}]
        logit = np.array([x["logit"] for x in c])
        prerank = np.array([x["prerank"] for x in c])
        rules = np.array([float(x["rules"]) for x in c])
        right = np.array([x["right"] for x in c])
        h = r["hybrid"]["features"]
        if variant.startswith("hybrid"):
            top = np.sort(logit)[::-1]
            extra = [top[0], top[0] - (top[1] if len(top) > 1 else -10.0), rules[int(np.argmax(logit))]]
            xs.append(h + (extra if variant == "hybrid+" else []))
            ys.append(r["hybrid"]["right"])
            continue
        rank = w[0] * logit + w[1] * prerank + (w[2] * rules if variant == "joint" else 0.0)
        i = int(np.argmax(rank))
        top = np.sort(rank)[::-1]
        margin = top[0] - (top[1] if len(top) > 1 else -10.0)
        xs.append([rank[i]] if variant == "model" else [rank[i], margin, rules[i], logit[i], *h])
        ys.append(bool(right[i]))
    return np.array(xs, dtype=float), np.array(ys)


def _fit_and_apply(train: list[dict], test: list[dict], variant: str, l2: float = 0.01) -> dict:
    w = _rank_weights(train, variant == "joint") if variant.startswith(("model", "joint")) else None
    x, y = _features(train, variant, w)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    beta = fit_logistic((x - mu) / sd, y.astype(float), l2=l2 * len(x))

    def prob(z: np.ndarray) -> np.ndarray:
        return _sigmoid(np.hstack([(z - mu) / sd, np.ones((len(z), 1))]) @ beta)

    threshold, _ = choose_threshold(prob(x), y, np.array([r["answerable"] for r in train]))
    xt, yt = _features(test, variant, w)
    p = prob(xt)
    return {"p": p, "right": yt, "answered": p >= threshold, "answerable": np.array([r["answerable"] for r in test])}


def _figures(parts: list[dict]) -> dict:
    p, y, answered, answerable = (
        np.concatenate([d[k] for d in parts]) for k in ("p", "right", "answered", "answerable")
    )
    return {
        "questions": len(p),
        "combined": float(np.mean(np.where(answerable, answered & y, ~answered))),
        "answerable_right": float(np.mean((answered & y)[answerable])),
        "unanswerable_abstained": float(np.mean(~answered[~answerable])) if (~answerable).any() else None,
        "chosen_right": float(y[answerable].mean()),
        "auc_right": _auc(p, y),
        "ece": _ece(p, y),
    }


def compare(calibration: Path, validation: Path | None) -> dict:
    rows = json.loads(calibration.read_text())["rows"]
    other = json.loads(validation.read_text())["rows"] if validation else None
    articles = sorted({r["article"] for r in rows})
    assert not set(articles) & set(TEST_ARTICLES), "a test article in the comparison"
    out = {}
    for variant in VARIANTS:
        folds = [
            _fit_and_apply([r for r in rows if r["article"] != a], [r for r in rows if r["article"] == a], variant)
            for a in articles
        ]
        out[variant] = {"cross_validated": _figures(folds)}
        if other:
            out[variant]["validation"] = _figures([_fit_and_apply(rows, other, variant)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("out", type=Path)
    c.add_argument("--model", type=Path, default=MODEL_FILE)
    c.add_argument("--set", choices=["calibration", "rgb"], default="calibration")
    m = sub.add_parser("compare")
    m.add_argument("calibration", type=Path)
    m.add_argument("validation", type=Path, nargs="?")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args.out, args.model, args.set)
        return
    result = compare(args.calibration, args.validation)
    for variant, figs in result.items():
        line = f"{variant:8s} " + " ".join(
            f"{part}: " + ", ".join(f"{k} {v:.3f}" for k, v in f.items() if isinstance(v, float))
            for part, f in figs.items()
        )
        print(line)


if __name__ == "__main__":
    main()
