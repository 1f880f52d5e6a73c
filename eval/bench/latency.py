"""Latency of ``POST /ask`` (and ``/search``) over HTTP against ``citeqa serve``.

    python -m eval.bench.latency [--corpus seeds|rgb|DIR] [--requests 200]

Starts ``citeqa serve`` (uvicorn, as users run it) on a fresh data dir for the
corpus, waits until it is ready, then asks the questions one at a time, cycling
through them, and prints p50/p95/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from eval.bench.corpora import RGB_DEV, write_rgb_corpus

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def questions(kind: str) -> list[str]:
    if kind == "rgb":
        return [json.loads(line)["query"] for line in RGB_DEV.read_text().splitlines()]
    return [json.loads(line)["question"] for line in (ROOT / "eval" / "golden.jsonl").read_text().splitlines()]


def percentiles(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return {"p50": statistics.median(v), "p95": pick(0.95), "p99": pick(0.99)}


def measure(base: str, route: str, payloads: list[dict], n: int) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for p in payloads[:5]:
            client.post(route, json=p)  # warm-up
        for i in range(n):
            t = time.perf_counter()
            r = client.post(route, json=payloads[i % len(payloads)])
            times.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
    return percentiles(times)


def start_serve(env: dict[str, str], *args: str, timeout: float = 900) -> tuple[subprocess.Popen, str]:
    """`citeqa serve` on a free port with ``env`` added; returns (process, base URL) once ready."""
    port = _port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("citeqa")), "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("citeqa serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds", help="seeds, rgb, or a corpus directory")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.corpus == "rgb":
            corpus, qs = write_rgb_corpus(Path(tmp) / "rgb"), questions("rgb")
        else:
            corpus = ROOT / "seeds" if args.corpus == "seeds" else Path(args.corpus)
            qs = questions("seeds")
        proc, base = start_serve({"CITEQA_DATA_DIR": str(Path(tmp) / "data"), "CITEQA_CORPUS_DIR": str(corpus)})
        try:
            ask = measure(base, "/ask", [{"question": q} for q in qs], args.requests)
            search = measure(base, "/search", [{"query": q} for q in qs], args.requests)
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"corpus: {args.corpus}; {args.requests} sequential requests, 1 client, uvicorn single process")
    print("| route | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
    for name, r in (("/ask", ask), ("/search", search)):
        print(f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} |")


if __name__ == "__main__":
    main()
