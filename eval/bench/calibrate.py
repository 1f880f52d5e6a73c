"""Fit the reader's confidence weights (logistic regression over its evidence features).

    python -m eval.bench.calibrate [--rgb-data DIR] [--seed-data DIR] [--features A,B] [--write [FILE]]

Labels: 1 when the reader's chosen quote contains a gold answer, 0 when it does
not or when the question is unanswerable. Data: the RGB dev set (answerable
news questions with hard distractors) and the seed golden set
(``eval/golden.jsonl``, with unanswerable questions). Prints the weights and
the accuracy/abstention trade-off per threshold; ``--write`` stores them as the
versioned artifact the reader loads (``service/models/rule-confidence.json`` by
default), never pasted by hand. Few features, L2-regularised: the held-back RGB half and unseen seed
questions are the check against over-fitting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np

from eval.bench.corpora import RGB_DEV, write_rgb_corpus
from indexing.reindex import reindex
from indexing.store import Store, make_client
from indexing.wiring import embedder_factory
from service.pipeline import Pipeline, build_pipeline
from service.rule_reader import CALIBRATION, FEATURES, Calibration, RuleReader
from service.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden.jsonl"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _pipeline(data: Path, corpus: Path) -> Pipeline:
    settings = Settings(data_dir=data, corpus_dir=corpus)
    store = Store(make_client(settings), settings.index_name())
    get = embedder_factory(settings)
    reindex(settings, store=store, get_embedder=get)
    return build_pipeline(settings, store, get(), llm=None)


def collect(
    pipeline: Pipeline, questions: list[tuple[str, list[str]]], by_answerable: bool = False
) -> tuple[list[dict], list[int], list[bool]]:
    """Reader features (all of them) and labels for (question, answers) pairs."""
    reader = pipeline.reader
    if not isinstance(reader, RuleReader):
        raise SystemExit("calibrate fits the rule reader's confidence; the pipeline's reader is another")
    feats, labels, oks = [], [], []
    for question, answers in questions:
        retrieved = pipeline.retriever.retrieve(question)
        reading, evidence = reader.evidence(question, retrieved)
        if not reading.best:
            continue
        text = " ".join(retrieved.records[d].text[s:e] for d, s, e in reading.best.quotes[:1])
        feats.append(evidence)
        oks.append(any(a.lower() in text.lower() for a in answers))
        labels.append(int(bool(answers) if by_answerable else any(a.lower() in text.lower() for a in answers)))
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
    parser.add_argument(
        "--write",
        nargs="?",
        type=Path,
        const=CALIBRATION,
        help=f"write the fitted weights as the reader's calibration file [default: {CALIBRATION}]",
    )
    args = parser.parse_args()
    unknown = set(args.features.split(",")) - set(FEATURES) if args.features else set()
    if unknown:
        parser.error(f"unknown features {sorted(unknown)}; choose from {FEATURES}")
    with tempfile.TemporaryDirectory() as tmp:
        rgb = _pipeline(args.rgb_data or Path(tmp) / "rgb", write_rgb_corpus(Path(tmp) / "rgb-corpus"))
        rows = [json.loads(line) for line in RGB_DEV.read_text().splitlines()]
        f1, y1, ok1 = collect(rgb, [(r["query"], r["answers"]) for r in rows], args.label == "answerable")
        seeds = _pipeline(args.seed_data or Path(tmp) / "seeds", SEEDS)
        gold = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
        f2, y2, ok2 = collect(seeds, [(g["question"], g["answers"]) for g in gold], args.label == "answerable")
    names = args.features.split(",") if args.features else list(f1[0])
    x = np.array([[f[n] for n in names] for f in f1 + f2])
    y = np.array(y1 + y2, dtype=float)
    # Both sets count equally, whatever their sizes.
    w = fit(x, y, np.r_[np.full(len(y1), 1 / len(y1)), np.full(len(y2), 1 / len(y2))])
    fitted = {n: round(float(v), 2) for n, v in zip(names, w[:-1], strict=True)}
    calibration = Calibration(round(float(w[-1]), 2), fitted, {})
    print(json.dumps({"bias": calibration.bias, "weights": fitted}, indent=4))
    if args.write:
        command = f"python -m eval.bench.calibrate --label {args.label} --features {','.join(names)} --write"
        args.write.write_text(
            json.dumps(
                {
                    "format": "citeqa-rule-confidence/1",
                    "version": 1,
                    "reader": "RuleReader (service/reader.py)",
                    "label": args.label,
                    "fitted_by": command,
                    "data": "RGB dev set and the seed golden set (eval/golden.jsonl)",
                    "date": dt.date.today().isoformat(),
                    "threshold": 0.65,
                    "threshold_rule": "chosen by hand on the RGB dev and seed golden sets (docs/history.md)",
                    "bias": calibration.bias,
                    "weights": fitted,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {args.write}")
    probs = np.array([calibration.confidence(f) for f in f1 + f2])
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
