"""The peer, side by side: a plain LlamaIndex pipeline on the same model, store and data.

    python -m eval.bench.peer [--runs 3]

Peer: ``VectorStoreIndex.from_documents`` over a ``ChromaVectorStore`` (embedded
Chroma, cosine), LlamaIndex ``SentenceSplitter`` with citeqa's chunk size and
overlap, and the same int8 MiniLM wrapped as a LlamaIndex ``BaseEmbedding``.
Corpus: the RGB dev snippets. Prints, for the peer and for citeqa:

- indexing time, and the peer's ratio to its own embedding-only time;
- retrieval hit@1/hit@5 and answer accuracy on the RGB dev questions (for the
  peer, its top passage is the answer: correct when it contains a gold answer);
- in-process query latency p50/p95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from eval.bench.llama_adapter import as_llama_index
from eval.golden import GoldenRow
from eval.harness import InProcessAsker, run_eval
from eval.rgb import load_rgb, write_rgb_corpus
from indexing.corpus import load_corpus
from indexing.embedding import Embedder
from indexing.reindex import reindex
from indexing.store import Store, make_client
from service.pipeline import build_pipeline
from service.settings import Settings


def peer_index(corpus: Path, settings: Settings, embedder: Embedder, path: Path) -> tuple[object, float, float, int]:
    """(retriever, indexing seconds, embedding-only seconds of the same nodes, node count)."""
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    articles = load_corpus(corpus, max_article_bytes=settings.max_article_bytes).articles
    docs = [Document(text=a.text, doc_id=a.doc_id, metadata={"doc_id": a.doc_id}) for a in articles]
    splitter = SentenceSplitter(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    client = chromadb.PersistentClient(path=str(path))
    collection = client.get_or_create_collection(
        "peer", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    store = ChromaVectorStore(chroma_collection=collection)
    embed = as_llama_index(embedder)
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
        transformations=[splitter],
        show_progress=False,
    )
    index_s = time.perf_counter() - started
    nodes = splitter.get_nodes_from_documents(docs)
    started = time.perf_counter()
    embedder.embed([n.get_content(metadata_mode="embed") for n in nodes])
    embed_s = time.perf_counter() - started
    return index.as_retriever(similarity_top_k=5), index_s, embed_s, len(nodes)


def peer_scores(retriever: object, rows: list[GoldenRow]) -> dict[str, float]:
    positives = {r.id: {e.quote.strip() for e in r.evidence} for r in rows}
    hit1 = hit5 = correct = 0
    times = []
    for r in rows:
        started = time.perf_counter()
        nodes = retriever.retrieve(r.question)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - started) * 1000)
        texts = [n.node.get_content() for n in nodes]
        hits = [any(t.strip() in p or p in t for p in positives[r.id]) for t in texts]
        hit1 += any(hits[:1])
        hit5 += any(hits[:5])
        correct += bool(texts) and any(a.lower() in texts[0].lower() for a in r.answers)
    n = len(rows)
    times.sort()
    return {
        "hit@1": hit1 / n,
        "hit@5": hit5 / n,
        "accuracy": correct / n,
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (n - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    embedder = Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    _, rows = load_rgb()
    peer_runs, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_rgb_corpus(Path(tmp) / "rgb")
        for i in range(args.runs):
            retriever, index_s, embed_s, nodes = peer_index(corpus, settings, embedder, Path(tmp) / f"peer{i}")
            peer_runs.append((index_s, embed_s))
            s = settings.model_copy(update={"data_dir": Path(tmp) / f"ours{i}", "corpus_dir": corpus})
            store = Store(make_client(s), s.index_name())
            started = time.perf_counter()
            reindex(s, store=store, get_embedder=lambda: embedder)
            ours.append(time.perf_counter() - started)
        peer = peer_scores(retriever, rows)
        pipeline = build_pipeline(s, store, embedder, llm=None)
        result = run_eval(rows, InProcessAsker(pipeline), top_k=5).summary
    index_s = statistics.median(r[0] for r in peer_runs)
    embed_s = statistics.median(r[1] for r in peer_runs)
    ours_s = statistics.median(ours)
    print(f"RGB dev snippets; {nodes} peer nodes; median of {args.runs} runs; models preloaded in both")
    print("| | indexing s | ratio | hit@1 | hit@5 | answer accuracy | query p50 / p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| peer: LlamaIndex VectorStoreIndex + ChromaVectorStore | {index_s:.2f} | {index_s / embed_s:.2f}× its "
        f"embedding-only {embed_s:.2f} s | {peer['hit@1']:.2f} | {peer['hit@5']:.2f} | {peer['accuracy']:.2f} "
        f"(top passage) | {peer['p50']:.1f} / {peer['p95']:.1f} |"
    )
    print(
        f"| citeqa (spaCy pass + sentence vectors + reader) | {ours_s:.2f} | {ours_s / index_s:.2f}× the peer "
        f"| {result['hit@1']:.2f} | {result['hit@5']:.2f} | {result['answer_accuracy']:.2f} (quoted sentence) "
        f"| {result['latency_p50_ms']:.1f} / {result['latency_p95_ms']:.1f} |"
    )


if __name__ == "__main__":
    main()
