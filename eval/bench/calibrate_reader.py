"""Fit the trained reader's ranking and confidence on the calibration articles, and
choose its abstention threshold; write ``service/models/reader-calibration.json``.

    python -m eval.bench.calibrate_reader [--data DIR] [--out FILE]

The calibration articles are the ones the reader recipe set aside
(``training/reader/manifest.json``, read here as data): nothing was trained on
them, and nothing here touches the four test articles. Every paragraph of those
articles is indexed as one corpus (as ``citeqa eval --format squad`` does) and
every question goes through the real retrieve stage and the reader's candidates
and model. Two logistic fits:

1. ranking: "this candidate sentence holds a gold answer" on (model logit,
   pre-rank score), over every candidate of every question (an unanswerable
   question's candidates are all negatives);
2. confidence (Platt scaling): "the best-ranked candidate holds a gold answer" on
   its ranking score, one row per question.

The threshold is the one that gets the most calibration questions right
(answerable answered right, or unanswerable abstained): the rule in
docs/reader-model.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from eval.squad import SQUAD_DIR, TEST_ARTICLES, load_squad, write_squad_corpus
from indexing.reindex import reindex
from indexing.store import Store, make_client
from indexing.wiring import embedder_factory
from service.answer_model import MODEL_FILE, AnswerModel
from service.pipeline import build_pipeline
from service.reader import CALIBRATION, FORMAT, Calibration, ModelReader
from service.settings import Settings

MANIFEST = Path(__file__).resolve().parents[2] / "training" / "reader" / "manifest.json"


# Rank by the model's logit alone while the fit is made.
UNFITTED = Calibration(1.0, 0.0, 1.0, 0.0, 0.0, {})


@contextmanager
def indexed(write_corpus: Callable[[Path], Path]) -> Iterator[tuple[Settings, Store, Callable]]:
    """A fresh on-disk index of the corpus ``write_corpus(dir)`` writes, in a temporary
    directory: (settings, store, embedder factory), for the calibration commands."""
    with tempfile.TemporaryDirectory(prefix="citeqa-calibrate-") as tmp:
        corpus = write_corpus(Path(tmp) / "corpus")
        settings = Settings(data_dir=Path(tmp) / "data", corpus_dir=corpus)
        store = Store(make_client(settings), settings.index_name())
        get = embedder_factory(settings)
        reindex(settings, store=store, get_embedder=get)
        yield settings, store, get


def calibration_articles(manifest: Path = MANIFEST) -> list[str]:
    """The articles the recipe kept for calibration (never the test articles)."""
    splits = json.loads(manifest.read_text(encoding="utf-8"))["splits"]
    articles = list(splits["calibration"])
    assert not set(articles) & set(TEST_ARTICLES), "a test article in the calibration split"
    return articles


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 100, l2: float = 1e-3) -> np.ndarray:
    """Logistic regression of y on the columns of x (a bias column is added last), by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def collect(data: Path, articles: list[str], model: AnswerModel | None = None) -> list[dict]:
    """Per question: every candidate's (logit, pre-rank, holds a gold answer), and answerability."""
    records, rows = load_squad(data, articles)
    out = []
    with indexed(lambda dest: write_squad_corpus(dest, records)) as (settings, store, get):
        reader = ModelReader(settings, model, calibration=UNFITTED)
        pipeline = build_pipeline(settings, store, get(), llm=None, reader=reader)
        for n, row in enumerate(rows):
            cands, scored = reader.scored(row.question, pipeline.retriever.retrieve(row.question))
            out.append(
                {
                    "answerable": row.answerable,
                    "candidates": [
                        (s.logit, c.prerank, row.answerable and any(a.lower() in c.text.lower() for a in row.answers))
                        for c, s in zip(cands, scored, strict=True)
                    ],
                }
            )
            if n % 250 == 0:
                print(f"{n}/{len(rows)} questions read", flush=True)
    return out


def choose_threshold(probs: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> tuple[float, float]:
    """The threshold that gets the most questions right, and that share."""
    best_t, best = 0.5, -1.0
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        answered = probs >= t
        share = float(np.mean(np.where(answerable, answered & right, ~answered)))
        if share > best:
            best_t, best = float(t), share
    return best_t, best


THRESHOLD_RULE = (
    "the threshold (0.05-0.95, steps of 0.01) that gets the most calibration questions "
    "right: answerable answered with a right quote, or unanswerable abstained"
)


def write_artifact(path: Path, body: dict) -> None:
    """Write a fitted artifact (and show it)."""
    path.write_text(json.dumps(body, indent=2) + "\n")
    print(json.dumps(body, indent=2))
    print(f"wrote {path}")


def ece(probs: np.ndarray, y: np.ndarray) -> float:
    """Expected calibration error over 10 equal-width bins."""
    bins = np.minimum((probs * 10).astype(int), 9)
    return float(
        sum(
            (bins == k).sum() / len(probs) * abs(y[bins == k].mean() - probs[bins == k].mean())
            for k in range(10)
            if (bins == k).any()
        )
    )


def calibration_figures(probs: np.ndarray, y: np.ndarray, answerable: np.ndarray) -> tuple[float, dict]:
    """The chosen threshold, and what the fitted confidence does on the calibration
    questions (one per question: its probability, whether the answer given is right)."""
    threshold, share = choose_threshold(probs, y, answerable)
    answered = probs >= threshold
    confident = probs >= 0.9
    return threshold, {
        "questions": len(y),
        "answerable": int(answerable.sum()),
        "chosen_right": float(y[answerable].mean()),
        "combined_at_threshold": share,
        "answerable_right_at_threshold": float(np.mean((answered & y)[answerable])),
        "unanswerable_abstained_at_threshold": float(np.mean(~answered[~answerable])),
        "precision_at_0.9": float(y[confident].mean()) if confident.any() else None,
        "share_at_0.9": float(confident.sum() / answerable.sum()),
        "ece_all_questions_in_sample": ece(probs, y),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SQUAD_DIR)
    parser.add_argument("--out", type=Path, default=CALIBRATION)
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the answer model (ONNX) to calibrate")
    args = parser.parse_args()
    articles = calibration_articles()
    model = AnswerModel(args.model)
    rows = collect(args.data, articles, model)
    cand = np.array([c for r in rows for c in r["candidates"]], dtype=float)
    w = fit_logistic(cand[:, :2], cand[:, 2])
    best, right, answerable = [], [], []
    for r in rows:
        answerable.append(r["answerable"])
        if not r["candidates"]:
            best.append(-1e3)
            right.append(False)
            continue
        x = np.array(r["candidates"], dtype=float)
        ranks = x[:, :2] @ w[:2]
        i = int(np.argmax(ranks))
        best.append(float(ranks[i]))
        right.append(bool(x[i, 2]))
    z, y, answerable = np.array(best), np.array(right), np.array(answerable)
    a, b = fit_logistic(z[:, None], y.astype(float))
    probs = 1 / (1 + np.exp(-(a * z + b)))
    threshold, figures = calibration_figures(probs, y, answerable)
    body = {
        "format": FORMAT,
        "version": 1,
        "model_sha256": model.sha256(),
        "reader_candidates": Settings().reader_candidates,
        "rank": {"logit": round(float(w[0]), 6), "prerank": round(float(w[1]), 6)},
        "confidence": {"a": round(float(a), 6), "b": round(float(b), 6)},
        "method": "rank = logistic fit of 'the candidate holds a gold answer' on (model logit, pre-rank); "
        "confidence = Platt scaling of the best candidate's rank: P(right) = sigmoid(a * rank + b)",
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "articles": articles,
        "fitted_by": "python -m eval.bench.calibrate_reader",
        "date": dt.date.today().isoformat(),
        "figures": figures,
    }
    write_artifact(args.out, body)


if __name__ == "__main__":
    main()
