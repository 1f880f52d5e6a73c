"""Run every benchmark in turn: ``python -m eval.bench [--quick] [--keep DIR]``.

``--keep DIR`` keeps the derived 20k/100k-chunk indexes there and reuses them on
the next run (building the 100k one takes ≈ 8 minutes on 2 cores)."""

from __future__ import annotations

import argparse
import subprocess
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="skip the 100k-chunk corpus and server mode")
parser.add_argument("--keep", help="keep (and reuse) the scale benchmark's indexes in this directory")
args = parser.parse_args()

STEPS = [
    ["eval.bench.indexing", "--runs", "3"],
    ["eval.bench.noop"],
    ["eval.bench.peer"],
    [
        "eval.bench.scale",
        "--sizes",
        "seeds,rgb,20000" if args.quick else "seeds,rgb,20000,100000",
        *([] if args.quick else ["--workers2"]),
        *(["--keep", args.keep] if args.keep else []),
    ],
]

for step in STEPS:
    print(f"\n## python -m {' '.join(step)}\n", flush=True)
    subprocess.run([sys.executable, "-m", *step], check=True)
