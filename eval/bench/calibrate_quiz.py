"""Fit the quiz confidence on the calibration articles; write ``service/models/quiz-confidence.json``.

    python -m eval.bench.calibrate_quiz [--data DIR] [--out FILE] [--choices 4] [--l2 0.001]

Every question of the calibration articles (``training/reader/manifest.json``; never
the four test articles, RGB or the golden sets) is asked as a quiz by
``eval.choices.quiz_rows`` (answerable ones with their gold answer among the options,
unanswerable ones with options none of which is right) through the real pipeline,
with the default hybrid reader and its fitted confidence. Label: the question is
answerable and the chosen quote (or the short answer) holds a gold answer. Features
(``service.options.quiz_features``): the reader's confidence as log-odds and whether
the chosen quote names an option; an L2-regularised logistic fit. The abstention threshold stays the reader's: both
confidences are probabilities of the same event, so one cut means the same for both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np

from eval.bench.calibrate_reader import (
    calibration_articles,
    calibration_figures,
    ece,
    fit_logistic,
    indexed,
    write_artifact,
)
from eval.choices import quiz_rows
from eval.metrics import contains_answer
from eval.squad import SQUAD_DIR, load_squad, write_squad_corpus
from service.answering import ask
from service.options import QUIZ_CALIBRATION, QUIZ_FEATURES, QUIZ_FORMAT, OptionChooser
from service.pipeline import build_pipeline
from service.reader import HYBRID_CALIBRATION, HybridCalibration, HybridReader
from service.rule_reader import RuleReader
from service.stages import ThresholdDecider


class _Recording(OptionChooser):
    """The pipeline's chooser without a quiz calibration, keeping each question's features."""

    def __init__(self, model) -> None:
        super().__init__(model, None)
        self.seen: list[dict[str, float]] = []

    def choose(self, question, reading, retrieved, options):
        reading, feats = self.evidence(question, reading, retrieved, options)
        self.seen.append(feats)
        return reading


def collect(data: Path, articles: list[str], choices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, right, answerable), one row per quiz question."""
    records, rows = load_squad(data, articles)
    quiz = quiz_rows(rows, choices)
    xs, right, answerable = [], [], []
    with indexed(lambda dest: write_squad_corpus(dest, records)) as (settings, store, get):
        reader = HybridReader(RuleReader(settings))
        recording = _Recording(reader.model)
        # the reader's choice, given or not, is what is labelled: nothing is cut
        pipeline = build_pipeline(
            settings, store, get(), llm=None, reader=reader, chooser=recording, decider=ThresholdDecider(0.0)
        )
        for n, row in enumerate(quiz):
            res = ask(pipeline, row.question)
            feats = recording.seen[-1]
            if not feats:  # nothing was read (no candidate sentence): an abstention, whatever the fit
                continue
            texts = [q.text for q in res.quotes] + ([res.short_answer.text] if res.short_answer else [])
            xs.append([feats[k] for k in QUIZ_FEATURES])
            right.append(row.answerable and any(contains_answer(t, row.answers) for t in texts))
            answerable.append(row.answerable)
            if n % 250 == 0:
                print(f"{n}/{len(quiz)} quiz questions asked", flush=True)
    return np.array(xs, dtype=float), np.array(right), np.array(answerable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SQUAD_DIR)
    parser.add_argument("--out", type=Path, default=QUIZ_CALIBRATION)
    parser.add_argument("--choices", type=int, default=4, help="options per quiz question")
    # Two weights over ~1,500 questions need little shrinking: at the hybrid fit's 0.01 (19 weights)
    # "names_option" stayed at 1.6 and an answer naming no option kept P ~ 0.45 where 4 % were right.
    parser.add_argument("--l2", type=float, default=0.001, help="L2 weight of the logistic fit")
    args = parser.parse_args()
    articles = calibration_articles()
    x, y, answerable = collect(args.data, articles, args.choices)
    w = fit_logistic(x, y.astype(float), l2=args.l2 * len(x))
    probs = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    hybrid = HybridCalibration.load()
    _, figures = calibration_figures(probs, y, answerable)
    answered = probs >= hybrid.threshold
    figures.update(
        {
            "threshold": hybrid.threshold,
            "answerable_right_at_reader_threshold": float(np.mean((answered & y)[answerable])),
            "unanswerable_abstained_at_reader_threshold": float(np.mean(~answered[~answerable])),
            "ece_of_the_readers_own_confidence": ece(1 / (1 + np.exp(-x[:, 0])), y),
        }
    )
    body = {
        "format": QUIZ_FORMAT,
        "version": 1,
        "hybrid_confidence_sha256": hashlib.sha256(HYBRID_CALIBRATION.read_bytes()).hexdigest(),
        "label": "answerable, and the chosen quote or short answer holds a gold answer",
        "articles": articles,
        "choices": args.choices,
        "fitted_by": f"python -m eval.bench.calibrate_quiz --choices {args.choices} --l2 {args.l2}",
        "date": dt.date.today().isoformat(),
        "threshold_rule": "none of its own: the reader's threshold (hybrid-confidence.json) cuts this probability too",
        "figures": figures,
        "bias": round(float(w[-1]), 4),
        "weights": {n: round(float(v), 4) for n, v in zip(QUIZ_FEATURES, w[:-1], strict=True)},
    }
    write_artifact(args.out, body)


if __name__ == "__main__":
    main()
