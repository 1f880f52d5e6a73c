"""Query latency, throughput and memory against corpus size, over HTTP.

    python -m eval.bench.scale [--sizes seeds,rgb,20000,100000] [--seconds 15] [--repeats 3] [--workers2] [--keep DIR]

For each corpus: build the index, start ``citeqa serve`` (uvicorn, one process,
embedded Chroma — as users run it), and measure ``/ask`` and ``/search`` with 1
client (sequential requests) and 8 concurrent clients (a bounded asyncio load on
loopback): p50/p95/p99, requests/s, errors, and the server's peak RSS. With
``--workers2`` the largest corpus is also served in server mode (``chroma run``
on the same data, ``citeqa serve --workers 2``). Prints Markdown tables and
writes ``docs/latency.png``.

How the large corpora are built (honestly, within 2 cores): embedding 100k
chunks plus their sentences would take hours here, so the ~20k and ~100k chunk
corpora are *derived*: articles recombined from the real sentences of the seeds
and the RGB snippets (so BM25 and the reader see realistic text), parsed and
embedded **once per distinct sentence** with the real spaCy pipeline and model;
each article reuses its sentences' annotations and vectors, its chunks are made
by the real chunker, and a chunk's vector is the normalised mean of its
sentence vectors instead of a fresh embedding of the chunk text. Everything is
written through citeqa's own ``Store.write_articles``; the query path is
exactly the product's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

from eval.bench.latency import _port, questions, start_serve
from eval.rgb import RGB_DEV, load_rgb, write_rgb_corpus
from indexing.chunking import chunk_article
from indexing.corpus import Article, load_corpus
from indexing.embedding import Embedder
from indexing.nlp import Annotation
from indexing.parsing import prepare
from indexing.reindex import reindex
from indexing.store import ArticleVectors, Store, make_client
from indexing.wiring import embedder_factory
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CITEQA = Path(sys.executable).with_name("citeqa")
CHROMA = Path(sys.executable).with_name("chroma")


def sentence_pool(settings: Settings, embedder: Embedder) -> list[tuple[str, list[tuple[int, int, str]], np.ndarray]]:
    """Every distinct sentence of the seeds and RGB snippets: (text, entities relative to it, vector)."""
    records, _ = load_rgb(RGB_DEV)
    articles = load_corpus(ROOT / "seeds", max_article_bytes=settings.max_article_bytes).articles
    articles += [Article(f"rgb:{r['id']}", r["text"][:80], r["text"]) for r in records]
    pool: dict[str, list[tuple[int, int, str]]] = {}
    for p in prepare(articles, settings):
        for c in p.chunks:
            for s, e in c.sentences:
                text = p.article.text[s:e]
                if text not in pool and len(text) > 20:
                    pool[text] = [(a - s, b - s, label) for a, b, label in c.entities if a >= s and b <= e]
    texts = list(pool)
    vectors = embedder.embed(texts)
    return [(t, pool[t], v) for t, v in zip(texts, vectors, strict=True)]


def build_derived(data: Path, target_chunks: int, settings: Settings, embedder: Embedder, seed: int = 7) -> int:
    """Write a derived corpus of about ``target_chunks`` chunks; return the chunk count."""
    pool = sentence_pool(settings, embedder)
    rng = random.Random(seed)
    store = Store(make_client(settings.model_copy(update={"data_dir": data})), settings.index_name())
    total, batch, n = 0, [], 0
    while total < target_chunks:
        picks = rng.sample(pool, rng.randint(3, 8))
        parts, ann, vec_of, pos = [], Annotation(), {}, 0
        for text, ents, vec in picks:
            if parts:
                sep = rng.choice([" ", "\n\n"])
                parts.append(sep)
                pos += len(sep)
            parts.append(text)
            ann.sentences.append((pos, pos + len(text)))
            ann.entities.extend((pos + a, pos + b, label) for a, b, label in ents)
            vec_of[(pos, pos + len(text))] = vec
            pos += len(text)
        body = "".join(parts)
        article = Article(
            f"derived/{n:06d}.txt",
            body[:80],
            body,
            published=f"20{rng.randint(10, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        )
        chunks = chunk_article(article, ann, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
        chunk_vecs = []
        for c in chunks:
            m = np.mean([vec_of[b] for b in c.sentences], axis=0)
            chunk_vecs.append(m / np.linalg.norm(m))
        batch.append(
            ArticleVectors(
                article,
                chunks,
                np.array(chunk_vecs, dtype=np.float32),
                [np.array([vec_of[b] for b in c.sentences], dtype=np.float32) for c in chunks],
            )
        )
        total += len(chunks)
        n += 1
        if len(batch) == 500:
            store.write_articles(batch, replacing={})
            batch = []
    if batch:
        store.write_articles(batch, replacing={})
    store.version.bump()
    return store.chunk_count()


def build_real(data: Path, corpus: Path, settings: Settings) -> int:
    s = settings.model_copy(update={"data_dir": data, "corpus_dir": corpus})
    store = Store(make_client(s), s.index_name())
    reindex(s, store=store, get_embedder=embedder_factory(s))
    return store.chunk_count()


def status_mib(pid: int, field: str) -> float:
    """A memory field of /proc/PID/status (``VmRSS``, ``VmHWM``: peak), in MiB; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mib(pid: int) -> float:
    """VmHWM of the process and its children (workers), in MiB."""
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    return sum(status_mib(p, "VmHWM") for p in pids)


async def load(url: str, route: str, payloads: list[dict], clients: int, seconds: float, n: int) -> dict:
    """Bounded load: ``clients`` concurrent loops for ``seconds`` (or ``n`` requests when one client).

    The client is aiohttp (C HTTP parser) rather than httpx: it shares the 2 cores
    with the server, and httpx spent ≈ 1.8 ms of CPU per request against aiohttp's
    ≈ 0.6 ms (docs/history.md §5) — CPU the server then lacked."""
    times: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=30)) as client:
        for p in payloads[:5]:
            async with client.post(route, json=p) as r:
                await r.read()

        async def one(cid: int) -> None:
            nonlocal errors
            i = cid
            while (time.perf_counter() < deadline) if clients > 1 else (len(times) < n):
                t = time.perf_counter()
                try:
                    async with client.post(route, json=payloads[i % len(payloads)]) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                times.append((time.perf_counter() - t) * 1000)
                errors += not ok
                i += clients

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in range(clients)))
        wall = time.perf_counter() - started
    v = sorted(times)
    return {
        "n": len(v),
        "p50": statistics.median(v),
        "p95": v[int(0.95 * (len(v) - 1))],
        "p99": v[int(0.99 * (len(v) - 1))],
        "rps": len(v) / wall,
        "errors": errors,
    }


# Date-filtered /ask passes (1 client) over the derived corpora, whose articles are
# dated 2010-2023: a one-year window (≈ 1/14 of the chunks) and a one-week window.
WINDOWS = {"year": ("2018-01-01", "2018-12-31"), "week": ("2018-06-04", "2018-06-10")}


# Time passes (1 client), the same questions: asked as of mid-2018 (later articles left
# out), with "this year" added and an as_of (a relative period, resolved against it),
# and with "in 2018" added (a stated year, no as_of).
TIME_PASSES = {
    "as_of": lambda q: {"question": q, "as_of": "2018-06-30"},
    "this year + as_of": lambda q: {"question": q.rstrip("?") + " this year?", "as_of": "2018-06-30"},
    "in 2018": lambda q: {"question": q.rstrip("?") + " in 2018?"},
}


def measure(url: str, qs: list[str], seconds: float, repeats: int) -> dict:
    """Each route with 1 and 8 clients, ``repeats`` times; the run with the median p50
    (1 client) or median throughput (8 clients) is kept, its figures reported whole.
    Then ``/ask`` with each ``WINDOWS`` filter and each ``TIME_PASSES`` pass, 1 client."""
    out = {}
    for label, (since, until) in WINDOWS.items():
        payloads = [{"question": q, "since": since, "until": until} for q in qs]
        runs = [asyncio.run(load(url, "/ask", payloads, 1, seconds, 200)) for _ in range(repeats)]
        out[(f"/ask {label}", 1)] = sorted(runs, key=lambda r: r["p50"])[len(runs) // 2]
    for label, make in TIME_PASSES.items():
        payloads = [make(q) for q in qs]
        runs = [asyncio.run(load(url, "/ask", payloads, 1, seconds, 200)) for _ in range(repeats)]
        out[(f"/ask {label}", 1)] = sorted(runs, key=lambda r: r["p50"])[len(runs) // 2]
    for route, key in (("/ask", "question"), ("/search", "query")):
        payloads = [{key: q} for q in qs]
        runs = [asyncio.run(load(url, route, payloads, 1, seconds, 200)) for _ in range(repeats)]
        out[(route, 1)] = sorted(runs, key=lambda r: r["p50"])[len(runs) // 2]
        runs = [asyncio.run(load(url, route, payloads, 8, seconds, 0)) for _ in range(repeats)]
        out[(route, 8)] = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        out[(route, 8)]["all_rps"] = [r["rps"] for r in runs]
    return out


def serve_and_measure(
    env: dict[str, str], qs: list[str], seconds: float, repeats: int, *args: str
) -> tuple[dict, float]:
    """Start `citeqa serve`, measure both routes, read its peak RSS, stop it."""
    proc, url = start_serve(env, *args)
    try:
        return measure(url, qs, seconds, repeats), peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="seeds,rgb,20000,100000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median run is reported")
    parser.add_argument("--workers2", action="store_true", help="also serve the largest corpus with --workers 2")
    parser.add_argument("--keep", type=Path, help="keep built indexes under this dir (reused when present)")
    args = parser.parse_args()
    settings = Settings()
    qs = questions("rgb") + questions("seeds")
    rows, plot = [], []
    embedder: Embedder | None = None
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for size in args.sizes.split(","):
            data = base / f"data-{size}"
            built = time.perf_counter()
            if size == "seeds":
                chunks = build_real(data, ROOT / "seeds", settings)
            elif size == "rgb":
                chunks = build_real(data, write_rgb_corpus(Path(tmp) / "rgb"), settings)
            else:
                # A kept index is reused only if it was built under today's index name
                # (a chunker change renames the collections; the old data would be ignored).
                marker = data / "chunks.json"
                kept = json.loads(marker.read_text()) if marker.exists() else {}
                if kept.get("index") == settings.index_name():
                    chunks = kept["chunks"]
                else:
                    shutil.rmtree(data, ignore_errors=True)
                    data.mkdir(parents=True)
                    embedder = embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
                    chunks = build_derived(data, int(size), settings, embedder)
                    marker.write_text(json.dumps({"chunks": chunks, "index": settings.index_name()}))
            build_s = time.perf_counter() - built
            env = {"CITEQA_DATA_DIR": str(data), "CITEQA_CORPUS_DIR": str(ROOT / "seeds")}
            res, rss = serve_and_measure(env, qs, args.seconds, args.repeats)
            rows.append((size, chunks, "embedded, 1 process", res, rss, build_s))
            plot.append((chunks, res[("/ask", 1)]["p50"], res[("/search", 1)]["p50"]))
            print(f"{size}: {chunks} chunks, built in {build_s:.0f} s, peak RSS {rss:.0f} MiB", flush=True)
        if args.workers2:
            size, chunks = rows[-1][0], rows[-1][1]
            data = base / f"data-{size}"
            port = _port()
            chroma = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(data / "chroma"), "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(5)
            env = {
                "CITEQA_CHROMA_HOST": "127.0.0.1",
                "CITEQA_CHROMA_PORT": str(port),
                "CITEQA_CORPUS_DIR": str(ROOT / "seeds"),
                "CITEQA_DATA_DIR": str(Path(tmp) / "unused"),
            }
            try:
                res, rss = serve_and_measure(env, qs, args.seconds, args.repeats, "--workers", "2")
            finally:
                chroma.terminate()
                chroma.wait(30)
            rows.append((size, chunks, "server mode, --workers 2 (API only; Chroma separate)", res, rss, 0.0))
    print(
        "\n| corpus | chunks | serving | route | 1 client p50 / p95 / p99 ms | 8 clients p50 / p95 / p99 ms "
        "| 8 clients req/s, median (runs) | errors | peak RSS MiB |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for size, chunks, mode, res, rss, _ in rows:
        for route in ("/ask", "/search"):
            one, eight = res[(route, 1)], res[(route, 8)]
            print(
                f"| {size} | {chunks} | {mode} | `{route}` | {one['p50']:.1f} / {one['p95']:.1f} / {one['p99']:.1f} "
                f"| {eight['p50']:.1f} / {eight['p95']:.1f} / {eight['p99']:.1f} "
                f"| {eight['rps']:.0f} ({', '.join(f'{x:.0f}' for x in eight['all_rps'])}) "
                f"| {one['errors'] + eight['errors']} | {rss:.0f} |"
            )
    print(
        "\n| corpus | chunks | `/ask` p50 ms, no filter | one-year window p50 ms (ratio) "
        "| one-week window p50 ms (ratio) |"
    )
    print("|---|---:|---:|---:|---:|")
    for size, chunks, _, res, _, _ in rows:
        if ("/ask year", 1) not in res:
            continue
        base = res[("/ask", 1)]["p50"]
        cells = [f"{res[(f'/ask {w}', 1)]['p50']:.1f} ({res[(f'/ask {w}', 1)]['p50'] / base:.2f}×)" for w in WINDOWS]
        print(f"| {size} | {chunks} | {base:.1f} | " + " | ".join(cells) + " |")
    print(
        "\n| corpus | chunks | `/ask` p50 ms, no filter | "
        + " | ".join(f"{t} p50 ms (ratio)" for t in TIME_PASSES)
        + " |"
    )
    print("|---|---:|---:|" + "---:|" * len(TIME_PASSES))
    for size, chunks, _, res, _, _ in rows:
        if ("/ask as_of", 1) not in res:
            continue
        base = res[("/ask", 1)]["p50"]
        cells = [
            f"{res[(f'/ask {t}', 1)]['p50']:.1f} ({res[(f'/ask {t}', 1)]['p50'] / base:.2f}×)" for t in TIME_PASSES
        ]
        print(f"| {size} | {chunks} | {base:.1f} | " + " | ".join(cells) + " |")
    _plot(plot, ROOT / "docs" / "latency.png")


def _plot(points: list[tuple[int, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points.sort()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=110)
    xs = [p[0] for p in points]
    ax.plot(xs, [p[1] for p in points], "o-", label="/ask p50, 1 client")
    ax.plot(xs, [p[2] for p in points], "s-", label="/search p50, 1 client")
    ax.axhline(20, color="grey", linestyle="--", linewidth=1, label="target: /ask p50 ≤ 20 ms")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index (log scale)")
    ax.set_ylabel("latency, ms")
    ax.set_title("citeqa latency over HTTP against corpus size (2 cores)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
