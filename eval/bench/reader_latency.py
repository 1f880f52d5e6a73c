"""Where the answer model's time goes, against K (sentences read per question) and
input length: tokenise, model (padding and the onnxruntime run), rest (span search).

    python -m eval.bench.reader_latency [--questions 40] [--ks 1,2,4,6,8,12,16]

Inputs are real (question, sentence) pairs from the SQuAD calibration articles
(the reader recipe's manifest; never the test articles): each question is read
with K sentences of its own paragraph, as the `model` reader reads its K
pre-ranked candidates, once without the previous sentence ("short") and once
with it where it fits ("with previous": the reader's encoding). The session
uses every core on one batch, as the service does. Accuracy against K is a
`citeqa eval` on the calibration articles with `CITEQA_READER_CANDIDATES=K`
(docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time

import numpy as np

from eval.bench.calibrate_reader import calibration_articles
from eval.squad import SQUAD_DIR, load_squad
from service.answer_model import AnswerModel, best_span

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _questions(n: int, seed: int) -> list[tuple[str, str, list[str]]]:
    """(question, title, sentences of its paragraph) from the calibration articles."""
    records, rows = load_squad(SQUAD_DIR, calibration_articles())
    by_doc = {f"squad.jsonl:{r['id']}": r for r in records}
    out = []
    for row in rows:
        if not row.evidence:
            continue
        rec = by_doc[row.evidence[0].doc_id]
        body = rec["text"].split("\n\n", 1)[1]
        sentences = [s for s in _SENTENCE.split(body) if len(s.split()) >= 3]
        if len(sentences) >= 2:
            out.append((row.question, rec["title"], sentences))
    random.Random(seed).shuffle(out)
    return out[:n]


def measure(model: AnswerModel, questions, k: int, previous: bool) -> dict[str, float]:
    tok, run, rest, lengths = [], [], [], []
    for question, title, sentences in questions:
        picked = [(sentences[i % len(sentences)], sentences[i % len(sentences) - 1] if i else "") for i in range(k)]
        t0 = time.perf_counter()
        items = [model.encode(question, title, s, p if previous else "") for s, p in picked]
        t1 = time.perf_counter()
        _, start, end = model.run(items)
        t2 = time.perf_counter()
        _ = [best_span(start[i], end[i], item) for i, item in enumerate(items)]
        t3 = time.perf_counter()
        tok.append(t1 - t0)
        run.append(t2 - t1)
        rest.append(t3 - t2)
        lengths.append(float(np.mean([len(x.input_ids) for x in items])))
    ms = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    return {
        "k": k,
        "input": "with previous" if previous else "short",
        "mean_tokens": round(statistics.mean(lengths), 1),
        "tokenise_ms": ms(tok),
        "model_ms": ms(run),
        "rest_ms": ms(rest),
        "total_ms": ms([a + b + c for a, b, c in zip(tok, run, rest, strict=True)]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--ks", default="1,2,4,6,8,12,16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = AnswerModel()
    questions = _questions(args.questions, args.seed)
    measure(model, questions[:5], 4, True)  # warm-up: session creation, first-run allocations
    print("| K | input | mean tokens | tokenise ms | model ms | rest ms | total ms (p50 per question) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for k in (int(x) for x in args.ks.split(",")):
        for previous in (False, True):
            r = measure(model, questions, k, previous)
            print(
                f"| {r['k']} | {r['input']} | {r['mean_tokens']} | {r['tokenise_ms']} | {r['model_ms']} | "
                f"{r['rest_ms']} | {r['total_ms']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
