"""Fit the reader's confidence weights (logistic regression over its evidence features).

    python -m eval.bench.calibrate [--rgb-data DIR] [--seed-data DIR]

Labels: 1 when the reader's chosen quote contains a gold answer, 0 when it does
not or when the question is unanswerable. Data: the RGB dev set (answerable
news questions with hard distractors) and the seed golden set
(``eval/golden.jsonl``, with unanswerable questions). Prints the weights to
paste into ``service/reader.py`` and the accuracy/abstention trade-off per
threshold. Few features, L2-regularised: the held-back RGB half and unseen seed
questions are the check against over-fitting.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from eval.bench.corpora import RGB_DEV, write_rgb_corpus
from indexing.reindex import reindex
from indexing.settings import Settings
from indexing.store import Store, make_client
from indexing.wiring import embedder_factory
from service import reader
from service.engine import Engine
from service.retrieval import retrieve

GOLDEN = Path(__file__).resolve().parents[1] / "golden.jsonl"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _engine(data: Path, corpus: Path) -> Engine:
    settings = Settings(data_dir=data, corpus_dir=corpus)
    store = Store(make_client(settings), settings.index_name())
    get = embedder_factory(settings)
    reindex(settings, store=store, get_embedder=get)
    return Engine.load(settings, store, get())


def collect(
    engine: Engine, questions: list[tuple[str, list[str]]], by_answerable: bool = False
) -> tuple[list[dict], list[int], list[bool]]:
    """Reader features and labels for (question, answers) pairs."""
    feats, labels, oks = [], [], []
    for question, answers in questions:
        vector = engine.embedder.embed_query(question)
        hits = retrieve(question, query_vector=vector, store=engine.store, lexical=engine.lexical)
        reading = reader.read(question, hits, store=engine.store, lexical=engine.lexical, question_vector=vector)
        if not reading.best:
            continue
        feats.append(reading.features)
        oks.append(any(a.lower() in reading.best.text.lower() for a in answers))
        labels.append(
            int(bool(answers) if by_answerable else any(a.lower() in reading.best.text.lower() for a in answers))
        )
    return feats, labels, oks


def fit(
    x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, l2: float = 0.001, steps: int = 30000, lr: float = 0.5
) -> np.ndarray:
    """Weighted logistic regression by gradient descent; the last weight is the bias."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    sw = sample_weight / sample_weight.sum()
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ ((p - y) * sw) + l2 * np.r_[w[:-1], 0]
        w -= lr * grad
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rgb-data", type=Path)
    parser.add_argument("--seed-data", type=Path)
    parser.add_argument(
        "--label",
        choices=["correct", "answerable"],
        default="correct",
        help="fit P(the chosen quote is correct) or P(the corpus answers the question)",
    )
    parser.add_argument("--features", help="comma-separated subset of features to fit (others get weight 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rgb = _engine(args.rgb_data or Path(tmp) / "rgb", write_rgb_corpus(Path(tmp) / "rgb-corpus"))
        rows = [json.loads(line) for line in RGB_DEV.read_text().splitlines()]
        f1, y1, ok1 = collect(rgb, [(r["query"], r["answers"]) for r in rows], args.label == "answerable")
        seeds = _engine(args.seed_data or Path(tmp) / "seeds", SEEDS)
        gold = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
        f2, y2, ok2 = collect(seeds, [(g["question"], g["answers"]) for g in gold], args.label == "answerable")
    names = args.features.split(",") if args.features else list(f1[0])
    x = np.array([[f[n] for n in names] for f in f1 + f2])
    y = np.array(y1 + y2, dtype=float)
    # Both sets count equally, whatever their sizes.
    w = fit(x, y, np.r_[np.full(len(y1), 1 / len(y1)), np.full(len(y2), 1 / len(y2))])
    weights = {"bias": round(float(w[-1]), 2), **dict.fromkeys(f1[0], 0.0)}
    weights.update({n: round(float(v), 2) for n, v in zip(names, w[:-1], strict=True)})
    print("CONFIDENCE_WEIGHTS =", json.dumps(weights, indent=4))
    probs = np.array([reader.confidence(f, weights) for f in f1 + f2])
    n1 = len(y1)
    answerable = np.array([True] * n1 + [bool(g["answers"]) for g in gold])
    correct = np.array(ok1 + ok2, dtype=bool)
    _table("in-sample", probs, n1, correct, answerable)
    # Out-of-fold predictions (5 folds) estimate how the weights generalise.
    sw = np.r_[np.full(len(y1), 1 / len(y1)), np.full(len(y2), 1 / len(y2))]
    folds = np.arange(len(y)) % 5
    oof = np.zeros(len(y))
    for k in range(5):
        wk = fit(x[folds != k], y[folds != k], sw[folds != k])
        xb = np.hstack([x[folds == k], np.ones(((folds == k).sum(), 1))])
        oof[folds == k] = 1 / (1 + np.exp(-xb @ wk))
    _table("5-fold out-of-sample", oof, n1, correct, answerable)


def _table(title: str, probs: np.ndarray, n1: int, correct: np.ndarray, answerable: np.ndarray) -> None:
    print(f"\n{title}")
    print("threshold | RGB accuracy | seed answerable correct | seed unanswerable abstained")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        keep = probs >= t
        rgb_acc = float(np.mean(keep[:n1] & correct[:n1]))
        seed_ok = float(np.mean((keep[n1:] & correct[n1:])[answerable[n1:]]))
        seed_abst = float(np.mean(~keep[n1:][~answerable[n1:]]))
        print(f"{t:.2f} | {rgb_acc:.2f} | {seed_ok:.2f} | {seed_abst:.2f}")


if __name__ == "__main__":
    main()
