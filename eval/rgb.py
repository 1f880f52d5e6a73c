"""The RGB news QA dev set as a citeqa corpus plus golden rows.

Every positive and negative snippet becomes its own article (one corpus, all
questions together); a question's evidence is its positive snippets. The file
is read from ``../shared/benchmarks/rgb-en-fact/dev.jsonl`` at run time and
never copied into the repository: beside this checkout, or, for a clone made
elsewhere (``git clone . $(mktemp -d)``, as CI does), beside the local
repository it was cloned from. ``CITEQA_RGB_DEV`` names the file outright.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from eval.golden import Evidence, GoldenRow

_SHARED_DEV = Path("shared") / "benchmarks" / "rgb-en-fact" / "dev.jsonl"


def _find_rgb_dev() -> Path:
    if os.environ.get("CITEQA_RGB_DEV"):
        return Path(os.environ["CITEQA_RGB_DEV"])
    root = Path(__file__).resolve().parents[1]
    beside = root.parent / _SHARED_DEV
    if beside.is_file():
        return beside
    try:
        origin = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and Path(origin).is_dir() and (Path(origin).resolve().parent / _SHARED_DEV).is_file():
        return Path(origin).resolve().parent / _SHARED_DEV
    return beside  # missing: callers say where it was looked for


RGB_DEV = _find_rgb_dev()


def load_rgb(path: Path = RGB_DEV) -> tuple[list[dict], list[GoldenRow]]:
    """(article records for ``rgb.jsonl``, golden rows) from an RGB file."""
    records: list[dict] = []
    ids: dict[str, str] = {}
    rows: list[GoldenRow] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        evidence = []
        for kind in ("positive", "negative"):
            for i, text in enumerate(q[kind]):
                if not text.strip():
                    continue
                if text not in ids:
                    rid = f"q{q['id']}-{kind[:3]}{i}"
                    ids[text] = rid
                    records.append({"id": rid, "text": text})
                if kind == "positive":
                    evidence.append(Evidence(f"rgb.jsonl:{ids[text]}", text))
        rows.append(
            GoldenRow(
                id=str(q["id"]),
                question=q["query"],
                answers=list(q["answers"]),
                evidence=evidence,
                answerable=True,
                tags=["rgb"],
            )
        )
    return records, rows


def write_rgb_corpus(dest: Path, path: Path = RGB_DEV) -> Path:
    """Write the RGB snippets as ``dest/rgb.jsonl`` and return ``dest``."""
    records, _ = load_rgb(path)
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "rgb.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return dest
