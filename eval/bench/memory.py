"""Where the API server's memory goes: its RSS and peak at each stage, over HTTP.

    python -m eval.bench.memory --data DIR [--seconds 6] [--runs 3]

DIR is an index kept by ``python -m eval.bench.scale --keep DIR`` (``DIR/data-100000``)
or any ``CITEQA_DATA_DIR``. Starts ``citeqa serve`` on it (the environment's settings
apply, so ``CITEQA_MALLOC_ARENAS=0 python -m eval.bench.memory …`` measures glibc's
default arenas) and prints the server's VmRSS / VmHWM (peak) when ready, after one
``/ask``, and after each run of 8 concurrent clients, with that run's answered/s.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import httpx

from eval.bench.latency import questions, start_serve
from eval.bench.scale import ROOT, load, status_mib


def memory(pid: int) -> str:
    """``RSS r MiB, peak p MiB`` of a running process."""
    return f"RSS {status_mib(pid, 'VmRSS'):.0f} MiB, peak {status_mib(pid, 'VmHWM'):.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a kept index (CITEQA_DATA_DIR)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each 8-client run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (args.data / "chroma").is_dir():
        raise SystemExit(f"{args.data}: no index there (expected {args.data / 'chroma'})")
    qs = questions("rgb") + questions("seeds")
    proc, url = start_serve({"CITEQA_DATA_DIR": str(args.data), "CITEQA_CORPUS_DIR": str(ROOT / "seeds")})
    try:
        print(f"ready: {memory(proc.pid)}", flush=True)
        httpx.post(url + "/ask", json={"question": qs[0]}, timeout=60).raise_for_status()
        print(f"after one /ask: {memory(proc.pid)}", flush=True)
        payloads = [{"question": q} for q in qs]
        for n in range(1, args.runs + 1):
            run = asyncio.run(load(url, "/ask", payloads, 8, args.seconds, 0))
            print(f"after 8 clients, run {n} ({run['rps']:.1f} answered/s): {memory(proc.pid)}", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
