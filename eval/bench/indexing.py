"""Indexing against its physical floor.

The floor is the model work the indexer must do, run alone on exactly the
texts it processes: the spaCy pass (sentences + entities) and the embedding
pass over the chunk texts (sentence vectors pooled from that pass), models
already loaded. Then a full
``citeqa index`` (fresh data dir, in a subprocess, as users run it) on the
same corpus; the ratio is what our own code costs on top.

    python -m eval.bench.indexing [--corpus DIR] [--runs 3]

Without ``--corpus`` it uses the RGB dev snippets (read from ../shared).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.corpora import write_rgb_corpus
from indexing.corpus import load_corpus
from indexing.embedding import Embedder
from indexing.nlp import annotate, load_pipeline
from indexing.parsing import prepare
from indexing.reindex import embed_spans
from service.settings import Settings


def floor(corpus: Path, settings: Settings) -> dict[str, float]:
    """Seconds for the spaCy pass and the embedding pass alone (models preloaded)."""
    articles = load_corpus(corpus, max_article_bytes=settings.max_article_bytes).articles
    prepared = prepare(articles, settings)  # warm-up, and the exact texts to embed
    texts: dict[str, tuple[tuple[int, int], ...]] = {}  # chunk text embedded -> its sentences' spans in it
    for p in prepared:
        for c in p.chunks:
            text, spans = embed_spans(p.article, c)
            texts.setdefault(text, spans)
    load_pipeline()
    embedder = Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    embedder.embed(list(texts)[:32])
    t = time.perf_counter()
    annotate([a.text for a in articles])
    nlp_s = time.perf_counter() - t
    t = time.perf_counter()
    embedder.embed_spans_async(list(texts), list(texts.values()))()  # one pass: chunk and sentence vectors
    embed_s = time.perf_counter() - t
    return {"articles": len(articles), "texts": len(texts), "nlp_s": nlp_s, "embed_s": embed_s}


def citeqa_index(corpus: Path) -> tuple[float, float]:
    """(printed S.SS, wall seconds) of `citeqa index` on a fresh data dir."""
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "CITEQA_DATA_DIR": data, "CITEQA_CORPUS_DIR": str(corpus)}
        t = time.perf_counter()
        out = subprocess.run(
            [str(Path(sys.executable).with_name("citeqa")), "index"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wall = time.perf_counter() - t
    m = re.search(r"in (\d+\.\d\d) s", out)
    assert m, out
    return float(m.group(1)), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="corpus dir (default: RGB dev snippets)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or write_rgb_corpus(Path(tmp) / "rgb")
        # Floor and index runs alternate, and each index run is compared with the floor
        # measured just before it: this VM's speed drifts by ±10 % over minutes, which
        # would skew a ratio of two medians measured minutes apart.
        floors, runs = [], []
        for _ in range(args.runs):
            floors.append(floor(corpus, settings))
            runs.append(citeqa_index(corpus))
    f = {k: statistics.median(x[k] for x in floors) for k in floors[0]}
    floor_s = f["nlp_s"] + f["embed_s"]
    pair_floor = [x["nlp_s"] + x["embed_s"] for x in floors]
    printed = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    printed_ratio = statistics.median(r[0] / fl for r, fl in zip(runs, pair_floor, strict=True))
    wall_ratio = statistics.median(r[1] / fl for r, fl in zip(runs, pair_floor, strict=True))
    print(
        f"corpus: {corpus if args.corpus else 'RGB dev snippets'}; {int(f['articles'])} articles, "
        f"{int(f['texts'])} texts embedded; median of {args.runs} runs; a ratio is the median over "
        "runs of (index run / the floor measured just before it)"
    )
    for i, (fl, r) in enumerate(zip(pair_floor, runs, strict=True), 1):
        print(f"run {i}: floor {fl:.2f} s, printed {r[0]:.2f} s ({r[0] / fl:.2f}x), whole {r[1]:.2f} s")
    print("| step | seconds | ratio to floor |")
    print("|---|---:|---:|")
    print(f"| floor: spaCy pass alone | {f['nlp_s']:.2f} | |")
    print(f"| floor: embedding pass alone | {f['embed_s']:.2f} | |")
    print(f"| floor: sum | {floor_s:.2f} | 1.00 |")
    print(f"| `citeqa index`, printed S.SS | {printed:.2f} | {printed_ratio:.2f} |")
    print(f"| `citeqa index`, whole command | {wall:.2f} | {wall_ratio:.2f} |")


if __name__ == "__main__":
    main()
