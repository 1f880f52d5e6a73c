"""No-op reindex: ``citeqa index`` on an unchanged corpus of 10,000 articles.

    python -m eval.bench.noop [--articles 10000] [--runs 3]

Writes 10,000 small article files (recombined RGB snippet sentences), indexes
them once for real, then runs ``citeqa index`` again on the unchanged corpus
and reports the printed ``S.SS`` (target < 1 s: no embedding, no rescans that
grow with chunk count) and the whole command's wall time, start-up included.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.rgb import load_rgb

CITEQA = Path(sys.executable).with_name("citeqa")


def run_index(env: dict[str, str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    out = subprocess.run([str(CITEQA), "index"], env={**os.environ, **env}, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    m = re.search(r"in (\d+\.\d\d) s", out.stdout)
    assert m, out.stdout
    return float(m.group(1)), wall, out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    records, _ = load_rgb()
    snippets = [r["text"] for r in records]
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        for i in range(args.articles):
            folder = corpus / f"{i // 1000:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"article-{i:05d}.txt").write_text(f"Report {i}\n\n" + rng.choice(snippets))
        env = {"CITEQA_DATA_DIR": str(Path(tmp) / "data"), "CITEQA_CORPUS_DIR": str(corpus)}
        first = run_index(env)
        runs = [run_index(env) for _ in range(args.runs)]
    print(f"first build of {args.articles} articles: {first[2]} (wall {first[1]:.1f} s)")
    print("| no-op `citeqa index` | median of", args.runs, "|\n|---|---:|")
    print(f"| printed S.SS | {statistics.median(r[0] for r in runs):.2f} s |")
    print(f"| whole command (start-up included) | {statistics.median(r[1] for r in runs):.2f} s |")
    print(f"| closing line | `{runs[-1][2]}` |")


if __name__ == "__main__":
    main()
