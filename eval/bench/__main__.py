"""Run every benchmark in turn: ``python -m eval.bench [--quick]``."""

from __future__ import annotations

import subprocess
import sys

QUICK = "--quick" in sys.argv
STEPS = [
    ["eval.bench.indexing", "--runs", "3"],
    ["eval.bench.noop"],
    ["eval.bench.peer"],
    [
        "eval.bench.scale",
        "--sizes",
        "seeds,rgb,20000" if QUICK else "seeds,rgb,20000,100000",
        *([] if QUICK else ["--workers2"]),
    ],
]

for step in STEPS:
    print(f"\n## python -m {' '.join(step)}\n", flush=True)
    subprocess.run([sys.executable, "-m", *step], check=True)
