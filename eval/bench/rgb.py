"""RGB dev set: answer accuracy, retrieval hit@1/hit@5, abstention rate, latency.

    python -m eval.bench.rgb [--data DIR] [--failures]

Indexes every positive and negative snippet of
``../shared/benchmarks/rgb-en-fact/dev.jsonl`` as its own article (one corpus,
all questions together), asks every query in-process and counts an answer
correct when one of its quotes contains a gold answer (case-insensitive).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from eval.bench.corpora import RGB_DEV, write_rgb_corpus
from indexing.reindex import reindex
from indexing.settings import Settings
from indexing.store import Store, make_client
from indexing.wiring import embedder_factory
from service.answering import ask
from service.engine import Engine


def evaluate(engine: Engine, path: Path = RGB_DEV, top_k: int = 5) -> dict:
    """Ask every RGB question; return summary figures and per-question rows."""
    rows = []
    for line in path.read_text().splitlines():
        q = json.loads(line)
        positives = {p.strip() for p in q["positive"]}
        t = time.perf_counter()
        res = ask(engine, q["query"], top_k=top_k)
        ms = (time.perf_counter() - t) * 1000
        answers = [a.lower() for a in q["answers"]]
        correct = not res.abstained and any(a in quote.text.lower() for quote in res.quotes for a in answers)
        hits = [p.text.strip() in positives for p in res.passages]
        rows.append(
            {
                "id": q["id"],
                "query": q["query"],
                "answers": q["answers"],
                "correct": correct,
                "abstained": res.abstained,
                "confidence": res.confidence,
                "hit1": any(hits[:1]),
                "hit5": any(hits[:5]),
                "short": res.short_answer.text if res.short_answer else None,
                "quote": res.quotes[0].text if res.quotes else None,
                "ms": ms,
            }
        )
    n = len(rows)
    lat = sorted(r["ms"] for r in rows)
    return {
        "questions": n,
        "accuracy": sum(r["correct"] for r in rows) / n,
        "hit@1": sum(r["hit1"] for r in rows) / n,
        "hit@5": sum(r["hit5"] for r in rows) / n,
        "abstained": sum(r["abstained"] for r in rows) / n,
        "short_answer_match": sum(
            bool(r["short"])
            and any(a.lower() in r["short"].lower() or r["short"].lower() in a.lower() for a in r["answers"])
            for r in rows
        )
        / n,
        "p50_ms": statistics.median(lat),
        "p95_ms": lat[int(0.95 * (n - 1))],
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="data dir to keep the RGB index in (default: temporary)")
    parser.add_argument("--failures", action="store_true", help="list every wrong answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "data"
        corpus = write_rgb_corpus(Path(tmp) / "corpus")
        settings = Settings(data_dir=data, corpus_dir=corpus)
        store = Store(make_client(settings), settings.index_name())
        get = embedder_factory(settings)
        reindex(settings, store=store, get_embedder=get)
        engine = Engine.load(settings, store, get())
        ask(engine, "warm-up question")
        result = evaluate(engine)
    if args.failures:
        for r in result["rows"]:
            if not r["correct"]:
                print(
                    f"- [{r['id']}] {r['query']} | gold {r['answers'][:2]} | short {r['short']!r} | "
                    f"abst={r['abstained']} conf={r['confidence']:.2f} hit1={r['hit1']} hit5={r['hit5']}\n"
                    f"    quote: {(r['quote'] or '')[:200]!r}"
                )
    print("| metric | value |\n|---|---:|")
    for k, v in result.items():
        if k != "rows":
            print(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")


if __name__ == "__main__":
    main()
