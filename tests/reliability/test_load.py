"""Bounded load on a real ``citeqa serve`` subprocess (embedded Chroma, one
process, the real model) over the seed corpus, on loopback.

16 concurrent clients (asyncio + ``httpx.AsyncClient``) mix ``POST /ask`` (the
golden questions), ``POST /search`` and ``GET /documents/{id}`` for
``CITEQA_SOAK_SECONDS`` seconds (default 60; ``CITEQA_SOAK_SECONDS=600`` for a
soak). Every response must be a 200 that matches its schema and the answer
contract, every span must be verbatim (``text[start:end]`` of the article served
by ``GET /documents/{id}``), and every response must equal the one the same
request got alone before the load (concurrency must not change or mix
answers). The server's resident memory (VmRSS) after warm-up and at the end
must differ by less than ``RSS_GROWTH_MIB``.

The figures are printed as Markdown table rows (for docs/reliability.md)::

    .venv/bin/pytest tests/reliability/test_load.py
    CITEQA_SOAK_SECONDS=600 .venv/bin/pytest tests/reliability/test_load.py
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from service.answering import ABSTAIN_ANSWER
from service.schemas import AskResponse, Document, SearchResponse
from tests.conftest import ROOT, copy_seeds
from tests.test_server_mode import Serve

CLIENTS = 16
WARMUP_SECONDS = 5.0
RSS_GROWTH_MIB = 150
SEED = 20240607
TOP_KS = (3, 5, 10)
# Share of each request kind in the mix; the rest are GET /documents/{id}.
ASK_SHARE, SEARCH_SHARE = 0.55, 0.35


def soak_seconds() -> float:
    raw = os.environ.get("CITEQA_SOAK_SECONDS", "60")
    try:
        seconds = float(raw)
    except ValueError:
        raise pytest.UsageError(f"CITEQA_SOAK_SECONDS must be a number of seconds, not {raw!r}") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise pytest.UsageError(f"CITEQA_SOAK_SECONDS must be positive, not {raw!r}")
    return seconds


def rss_mib(pid: int) -> float:
    """Resident set size of one process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def golden_questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def same(a: object, b: object, path: str = "") -> str | None:
    """Where two JSON values differ (floats within 1e-6), or None."""
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-6
        return None if ok else f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        return next((d for k in a if (d := same(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := same(x, y, f"{path}[{i}]"))), None)
    return None if a == b else f"{path}: {a!r} != {b!r}"


class Checker:
    """Checks each response against the schema, the answer contract, the article
    texts, and the response the same request got before the load."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.expected: dict[tuple, dict] = {}

    def spans(self, spans: list[dict]) -> list[str]:
        problems = []
        for s in spans:
            text = self.texts.get(s["doc_id"])
            if text is None:
                problems.append(f"span from unknown document {s['doc_id']!r}")
            elif not (0 <= s["start"] < s["end"] <= len(text)) or text[s["start"] : s["end"]] != s["text"]:
                problems.append(f"not verbatim: {s['doc_id']} [{s['start']}:{s['end']}] {s['text'][:60]!r}")
        return problems

    def passages(self, passages: list[dict], top_k: int) -> list[str]:
        problems = self.spans(passages)
        scores = [p["score"] for p in passages]
        if len(passages) > top_k:
            problems.append(f"{len(passages)} passages for top_k={top_k}")
        if scores != sorted(scores, reverse=True):
            problems.append(f"passages not best first: {scores}")
        if len({p["chunk_id"] for p in passages}) != len(passages):
            problems.append("a passage is repeated")
        return problems

    def ask(self, body: dict, question: str, top_k: int) -> list[str]:
        AskResponse.model_validate(body)
        problems = self.passages(body["passages"], top_k)
        quotes, short = body["quotes"], body["short_answer"]
        problems += self.spans(quotes + ([short] if short else []))
        if body["question"] != question:
            problems.append(f"answered {body['question']!r} instead of {question!r}")
        if body["mode"] != "extractive":
            problems.append(f"mode {body['mode']!r}")
        if body["abstained"]:
            if quotes or short or body["answer"] != ABSTAIN_ANSWER:
                problems.append("an abstention carries quotes or an answer")
        else:
            if not quotes or body["answer"] != " … ".join(q["text"] for q in quotes):
                problems.append("the answer is not made of its quotes")
            inside = short is None or any(
                q["doc_id"] == short["doc_id"] and q["start"] <= short["start"] and short["end"] <= q["end"]
                for q in quotes
            )
            if not inside:
                problems.append("the short answer is outside every quote")
        return problems

    def check(self, key: tuple, response: httpx.Response) -> list[str]:
        """Problems with one response (empty when it is right)."""
        route = key[0]
        if response.status_code != 200:
            return [f"{route} {key[1][:50]!r}: HTTP {response.status_code} {response.text[:200]}"]
        try:
            body = response.json()
            if route == "/ask":
                problems = self.ask(body, key[1], key[2])
            elif route == "/search":
                problems = self.passages(SearchResponse.model_validate(body).model_dump()["passages"], key[2])
            else:
                doc = Document.model_validate(body)
                problems = [] if self.texts.get(doc.doc_id) == doc.text else [f"document {doc.doc_id} text changed"]
        except Exception as exc:  # a body that does not parse or validate
            return [f"{route} {key[1][:50]!r}: {type(exc).__name__}: {str(exc)[:300]}"]
        if key in self.expected:
            diff = same(body, self.expected[key])
            if diff:
                problems.append(f"differs from the same request alone at {diff}")
        return [f"{route} {key[1][:50]!r}: {p}" for p in problems]


def request(rng: random.Random, questions: list[str], doc_ids: list[str]) -> tuple:
    """A random request key: (route, text, top_k)."""
    r = rng.random()
    if r < ASK_SHARE:
        return ("/ask", rng.choice(questions), 5)
    if r < ASK_SHARE + SEARCH_SHARE:
        return ("/search", rng.choice(questions), rng.choice(TOP_KS))
    return ("/documents", rng.choice(doc_ids), 0)


async def send(client: httpx.AsyncClient, key: tuple) -> httpx.Response:
    route, text, top_k = key
    if route == "/ask":
        return await client.post("/ask", json={"question": text, "top_k": top_k})
    if route == "/search":
        return await client.post("/search", json={"query": text, "top_k": top_k})
    return await client.get("/documents/" + quote(text, safe=""))


def send_alone(client: httpx.Client, key: tuple) -> httpx.Response:
    route, text, top_k = key
    if route == "/documents":
        return client.get("/documents/" + quote(text, safe=""))
    return client.post(route, json={"question" if route == "/ask" else "query": text, "top_k": top_k})


async def load(url: str, checker: Checker, questions: list[str], seconds: float, pid: int) -> dict:
    """CLIENTS concurrent loops for ``seconds``; latencies (ms) per route, errors, RSS samples."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(cid: int) -> None:
            rng = random.Random(f"{SEED}-{seconds}-{cid}")
            while time.perf_counter() < deadline:
                key = request(rng, questions, list(checker.texts))
                started = time.perf_counter()
                try:
                    response = await send(client, key)
                except httpx.HTTPError as exc:
                    errors.append(f"{key[0]} {key[1][:50]!r}: {type(exc).__name__}: {exc}")
                    continue
                latencies[key[0]].append((time.perf_counter() - started) * 1000)
                errors.extend(checker.check(key, response))

        async def sample_rss() -> None:
            while time.perf_counter() < deadline:
                samples.append(rss_mib(pid))
                await asyncio.sleep(min(5.0, seconds / 4))

        started = time.perf_counter()
        await asyncio.gather(sample_rss(), *(one(c) for c in range(CLIENTS)))
        wall = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "wall": wall, "rss_samples": samples}


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


@pytest.mark.slow
def test_sixteen_clients_mixed_load(tmp_path, capsys):
    seconds = soak_seconds()
    corpus = copy_seeds(tmp_path / "corpus")
    env = {"CITEQA_DATA_DIR": str(tmp_path / "data"), "CITEQA_CORPUS_DIR": str(corpus)}
    questions = golden_questions()
    with Serve(env) as api:  # first start indexes the seeds
        with httpx.Client(base_url=api.url, timeout=60) as c:
            listing = c.get("/documents").json()
            doc_ids = [d["doc_id"] for d in listing["documents"]]
            assert listing["total"] == 2 == len(doc_ids)
            texts = {d: c.get("/documents/" + quote(d, safe="")).json()["text"] for d in doc_ids}
            checker = Checker(texts)
            # Every distinct request once, alone: what the load must reproduce exactly.
            keys = [("/ask", q, 5) for q in questions]
            keys += [("/search", q, k) for q in questions for k in TOP_KS]
            keys += [("/documents", d, 0) for d in doc_ids]
            for key in keys:
                response = send_alone(c, key)
                problems = checker.check(key, response)
                assert not problems, problems
                checker.expected[key] = response.json()
        answered = sum(1 for k, b in checker.expected.items() if k[0] == "/ask" and not b["abstained"])
        assert answered >= 30, f"only {answered} golden questions answered: the mix would test little"

        warm = asyncio.run(load(api.url, checker, questions, WARMUP_SECONDS, api.proc.pid))
        assert not warm["errors"], warm["errors"][:10]
        rss_before = rss_mib(api.proc.pid)
        run = asyncio.run(load(api.url, checker, questions, seconds, api.proc.pid))
        rss_after = rss_mib(api.proc.pid)
        assert api.proc.poll() is None, "the server died under load:\n" + api.logs()[-3000:]
        logs = api.logs()

    errors, latencies, wall = run["errors"], run["latencies"], run["wall"]
    total = sum(len(v) for v in latencies.values())
    rss_peak = max(run["rss_samples"] + [rss_after])
    with capsys.disabled():
        print(
            f"\n{CLIENTS} clients, {seconds:.0f} s, seeds, `citeqa serve` embedded single process: "
            f"{total} requests, {total / wall:.1f} req/s, {len(errors)} errors; "
            f"RSS {rss_before:.0f} MiB after warm-up -> {rss_after:.0f} MiB at the end (peak sample {rss_peak:.0f})"
        )
        print("| load | route | requests | req/s | p50 ms | p95 ms | p99 ms | errors | RSS MiB after warm-up → end |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for route, name in (("/ask", "POST /ask"), ("/search", "POST /search"), ("/documents", "GET /documents/{id}")):
            v = latencies[route]
            print(
                f"| {CLIENTS} clients × {seconds:.0f} s | `{name}` "
                f"| {len(v)} | {len(v) / wall:.1f} | {statistics.median(v):.1f} | {percentile(v, 0.95):.1f} "
                f"| {percentile(v, 0.99):.1f} | {sum(e.startswith(route) for e in errors)} "
                f"| {rss_before:.0f} → {rss_after:.0f} |"
            )
        everything = [x for v in latencies.values() for x in v]
        print(
            f"| {CLIENTS} clients × {seconds:.0f} s | all | {total} | {total / wall:.1f} "
            f"| {statistics.median(everything):.1f} | {percentile(everything, 0.95):.1f} "
            f"| {percentile(everything, 0.99):.1f} | {len(errors)} | {rss_before:.0f} → {rss_after:.0f} |"
        )

    assert not errors, f"{len(errors)} errors, first ones:\n" + "\n".join(errors[:20])
    assert all(latencies[r] for r in ("/ask", "/search", "/documents")), "a request kind was never sent"
    assert total >= 10 * seconds, f"only {total} requests in {seconds} s"
    assert rss_after - rss_before < RSS_GROWTH_MIB, f"RSS grew {rss_before:.0f} -> {rss_after:.0f} MiB"
    assert "Traceback" not in logs, logs[-3000:]
