"""Indexing long articles, in one sitting: `citeqa index`, its model passes alone, and
the plain LlamaIndex peer, on a corpus of 1,000 long articles (≥ 5 M characters).

    python -m eval.bench.long_articles [--articles 1000] [--chars 5500] [--small-runs 3]

The corpus is generated at run time from public text, never shipped: the SQuAD 2.0
paragraphs in ``../shared/benchmarks/squad2/`` (CC BY-SA 4.0, Wikipedia) joined, per
Wikipedia article, into one stream of sentences; each generated article is a window
of about ``--chars`` characters of one stream, starting at a seeded random sentence,
under a title line — so chunk texts rarely repeat (a repeated text would be embedded
once by the peer and by us alike, but would not measure the work). Median length
and spread are printed.

Reported, as seconds per million characters (and ratios from the same sitting):

- ``citeqa index`` on a fresh data dir, in a subprocess, as users run it (the whole
  command and the ``in S.SS s`` it prints);
- its model passes alone, models loaded (``eval.bench.indexing.floor``: the spaCy
  pass over the article texts and the embedding pass over every text the indexer
  embeds: the chunk texts, with sentence vectors pooled from that pass since
  issue 20 — before it, a second pass over every sentence text);
- the LlamaIndex peer (``eval.bench.peer.peer_index``: ``SentenceSplitter`` with the
  same chunk size and overlap, ``VectorStoreIndex`` over ``ChromaVectorStore``,
  the same int8 MiniLM), its embedding pass alone beside it.

Then ``--small-runs`` whole-command runs of ``citeqa index`` on the seeds and on the
RGB dev snippets (median and each run).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from eval.bench.corpora import write_rgb_corpus
from eval.bench.indexing import citeqa_index, floor
from eval.squad import SQUAD_DIR
from indexing.embedding import Embedder
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def squad_streams(squad_dir: Path = SQUAD_DIR) -> dict[str, list[str]]:
    """Every SQuAD article's paragraphs as one list of sentences, by title."""
    streams: dict[str, list[str]] = {}
    for path in sorted(squad_dir.glob("*.json")):
        for art in json.loads(path.read_text(encoding="utf-8"))["data"]:
            sents = streams.setdefault(art["title"].replace("_", " "), [])
            for para in art["paragraphs"]:
                sents.extend(s.strip() for s in _SENTENCE_END.split(para["context"]) if s.strip())
    if not streams:
        raise SystemExit(f"no SQuAD files in {squad_dir}")
    return streams


def write_long_corpus(dest: Path, articles: int, chars: int, seed: int = 7) -> list[int]:
    """``articles`` .txt files of about ``chars`` characters under ``dest``; their lengths."""
    streams = squad_streams()
    titles = sorted(streams)
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    lengths = []
    for n in range(articles):
        title = rng.choice(titles)
        sents = streams[title]
        i = rng.randrange(len(sents))
        target = int(chars * rng.uniform(0.7, 1.3))
        body: list[str] = []
        size = 0
        while size < target:
            body.append(sents[i % len(sents)])
            size += len(body[-1]) + 1
            i += 1
        paragraphs = [" ".join(body[k : k + 5]) for k in range(0, len(body), 5)]
        text = f"{title}: notes, part {n + 1}\n\n" + "\n\n".join(paragraphs) + "\n"
        (dest / f"long-{n:05d}.txt").write_text(text, encoding="utf-8")
        lengths.append(len(text))
    return lengths


def peer(corpus: Path, settings: Settings, tmp: Path) -> tuple[float, float, int]:
    """(peer indexing seconds, its embedding-only seconds, nodes)."""
    from eval.bench.peer import peer_index

    embedder = Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    embedder.embed(["warm up"])
    _, index_s, embed_s, nodes = peer_index(corpus, settings, embedder, tmp / "peer-chroma")
    return index_s, embed_s, nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--chars", type=int, default=5500)
    parser.add_argument("--small-runs", type=int, default=3, help="citeqa index runs on the seeds and on RGB")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "long"
        lengths = write_long_corpus(corpus, args.articles, args.chars)
        total = sum(lengths)
        mchars = total / 1e6
        print(
            f"corpus: {len(lengths)} articles, {total:,} characters (median {statistics.median(lengths):,.0f}, "
            f"min {min(lengths):,}, max {max(lengths):,}), from SQuAD 2.0 paragraphs",
            flush=True,
        )
        rows: list[tuple[str, float]] = []
        t = time.perf_counter()
        printed, wall = citeqa_index(corpus)
        print(f"citeqa index: whole {wall:.1f} s, printed {printed:.1f} s", flush=True)
        rows += [("`citeqa index`, whole command", wall), ("`citeqa index`, printed S.SS", printed)]
        f = floor(corpus, settings)
        model_s = f["nlp_s"] + f["embed_s"]
        print(
            f"model passes alone: spaCy {f['nlp_s']:.1f} s + embedding {f['embed_s']:.1f} s ({int(f['texts'])} texts)",
            flush=True,
        )
        rows += [
            ("model passes alone: spaCy", f["nlp_s"]),
            (f"model passes alone: embedding ({int(f['texts'])} texts)", f["embed_s"]),
            ("model passes alone: sum", model_s),
        ]
        peer_s = None
        if not args.skip_peer:
            peer_s, peer_embed, nodes = peer(corpus, settings, tmp)
            print(f"LlamaIndex peer: {peer_s:.1f} s ({nodes} nodes; its embedding alone {peer_embed:.1f} s)")
            rows += [("LlamaIndex peer", peer_s), (f"LlamaIndex peer: its embedding alone ({nodes} nodes)", peer_embed)]
        sitting = time.perf_counter() - t
        print(f"\none sitting, {sitting / 60:.1f} min; {mchars:.2f} M characters")
        print("| what | seconds | s per M characters | ÷ model passes | ÷ peer |")
        print("|---|---:|---:|---:|---:|")
        for label, sec in rows:
            ratio_peer = f"{sec / peer_s:.2f}" if peer_s else "–"
            print(f"| {label} | {sec:.1f} | {sec / mchars:.1f} | {sec / model_s:.2f} | {ratio_peer} |")
        for name, small in (("seeds", ROOT / "seeds"), ("RGB snippets", write_rgb_corpus(tmp / "rgb"))):
            runs = [citeqa_index(small)[1] for _ in range(args.small_runs)]
            each = ", ".join(f"{r:.2f}" for r in runs)
            print(f"`citeqa index` whole command, {name}: median {statistics.median(runs):.2f} s ({each})")


if __name__ == "__main__":
    main()
