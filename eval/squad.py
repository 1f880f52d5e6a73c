"""SQuAD 2.0 parts as a citeqa corpus plus golden rows (``citeqa eval --format squad``).

Every paragraph becomes one article (its text preceded by a title line from the
article title), and every chosen question is asked against all chosen
paragraphs at once; a third of the questions are unanswerable (SQuAD 2.0's
``is_impossible``), so abstention is measured too. The files are read from
``../shared/benchmarks/squad2/`` at run time (found like the RGB file; or
``CITEQA_SQUAD_DIR``, or ``--data``) and never copied into the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eval.golden import Evidence, GoldenError, GoldenRow
from eval.rgb import RGB_DEV

FILES = ("squad-v2.0-part.json", "squad-v2.0-train-part.json")
# The reader model's held-out articles (docs/reader-model.md): nothing is fitted on them.
TEST_ARTICLES = ("Warsaw", "Immune_system", "Packet_switching", "1973_oil_crisis")


def _default_dir() -> Path:
    if os.environ.get("CITEQA_SQUAD_DIR"):
        return Path(os.environ["CITEQA_SQUAD_DIR"])
    # beside the RGB set, wherever that was found (a clone elsewhere finds it too)
    return RGB_DEV.parents[1] / "squad2"


SQUAD_DIR = _default_dir()


def title_line(title: str) -> str:
    """'1973_oil_crisis' -> '1973 oil crisis'."""
    return title.replace("_", " ")


def load_squad(data: Path = SQUAD_DIR, articles: list[str] | None = None) -> tuple[list[dict], list[GoldenRow]]:
    """(article records for ``squad.jsonl``, golden rows) for the chosen articles (all when None)."""
    files = [data / f for f in FILES if (data / f).is_file()] if data.is_dir() else [data]
    if not files or not all(f.is_file() for f in files):
        raise GoldenError(f"no SQuAD 2.0 files at {data} (expected {', '.join(FILES)})")
    records: list[dict] = []
    rows: list[GoldenRow] = []
    seen: set[str] = set()
    for path in files:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GoldenError(f"{path}: not a SQuAD JSON file ({exc})") from None
        for article in body.get("data", []):
            title = article["title"]
            if articles is not None and title not in articles:
                continue
            seen.add(title)
            for i, paragraph in enumerate(article["paragraphs"]):
                rid = f"{title}-{i:03d}"
                head = title_line(title) + "\n\n"
                records.append({"id": rid, "title": title_line(title), "text": head + paragraph["context"]})
                doc_id = f"squad.jsonl:{rid}"
                for qa in paragraph["qas"]:
                    answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                    rows.append(
                        GoldenRow(
                            id=qa["id"],
                            question=qa["question"],
                            answers=answers,
                            evidence=[Evidence(doc_id, a) for a in answers[:1]],
                            answerable=not qa.get("is_impossible", False),
                            tags=["squad", title],
                        )
                    )
    missing = sorted(set(articles or ()) - seen)
    if missing:
        raise GoldenError(f"no such SQuAD article(s): {', '.join(missing)}")
    return records, rows


def write_squad_corpus(dest: Path, records: list[dict]) -> Path:
    """Write the paragraphs as ``dest/squad.jsonl`` and return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "squad.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return dest
