"""Benchmark corpora built at run time (the RGB file is read, never copied)."""

from __future__ import annotations

import json
from pathlib import Path

RGB_DEV = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "rgb-en-fact" / "dev.jsonl"


def rgb_snippets(path: Path = RGB_DEV) -> list[dict]:
    """Every positive and negative snippet of the RGB file as one article record each."""
    records, seen = [], set()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        for kind in ("positive", "negative"):
            for i, text in enumerate(row[kind]):
                if text in seen or not text.strip():
                    continue
                seen.add(text)
                records.append({"id": f"q{row['id']}-{kind[:3]}{i}", "text": text})
    return records


def write_rgb_corpus(dest: Path, path: Path = RGB_DEV) -> Path:
    """Write the RGB snippets as ``rgb.jsonl`` in ``dest`` and return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "rgb.jsonl", "w") as f:
        for rec in rgb_snippets(path):
            f.write(json.dumps(rec) + "\n")
    return dest
