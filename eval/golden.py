"""Golden eval sets: loading, validation, and resolving evidence quotes to offsets.

A row: ``{"id", "question", "answers": [...], "evidence": [{"doc_id", "quote"}],
"answerable": bool, "tags": [...]}``, and two optional fields for questions about
time: ``"as_of": "YYYY-MM-DD"`` (the question is asked as of that day; the harness
passes it on) and ``"superseded": bool`` (what the response's flag must say; the
answer must then be in the first quote). Evidence is verbatim article text, not
offsets, so a golden set survives re-chunking; the harness finds each quote in
the indexed text of its article.

``"kind"`` (optional, default ``"fact"``): ``"yes_no"`` rows have ``answers`` ``["Yes"]``
or ``["No"]``; ``"comparison"`` rows have evidence for each side and, as answers, what
a written answer must name. Both are judged apart from the headline
(``eval.metrics.judge_kind``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path


class GoldenError(ValueError):
    """The golden file is missing or malformed."""


@dataclass(frozen=True)
class Evidence:
    doc_id: str
    quote: str


@dataclass
class GoldenRow:
    """One question of a golden set."""

    id: str
    question: str
    answers: list[str]
    evidence: list[Evidence]
    answerable: bool
    tags: list[str] = field(default_factory=list)
    as_of: dt.date | None = None
    superseded: bool | None = None
    kind: str = "fact"


KINDS = ("fact", "yes_no", "comparison")


def parse_row(obj: object, where: str) -> GoldenRow:
    """Validate one JSON object as a golden row."""
    if not isinstance(obj, dict):
        raise GoldenError(f"{where}: expected a JSON object")
    try:
        row = GoldenRow(
            id=str(obj["id"]),
            question=str(obj["question"]),
            answers=[str(a) for a in obj.get("answers", [])],
            evidence=[Evidence(str(e["doc_id"]), str(e["quote"])) for e in obj.get("evidence", [])],
            answerable=bool(obj["answerable"]),
            tags=[str(t) for t in obj.get("tags", [])],
            as_of=dt.date.fromisoformat(obj["as_of"]) if obj.get("as_of") is not None else None,
            superseded=obj.get("superseded"),
            kind=str(obj.get("kind", "fact")),
        )
    except (KeyError, TypeError) as exc:
        raise GoldenError(f"{where}: missing or malformed field {exc}") from None
    except ValueError:
        raise GoldenError(f"{where}: as_of must be a date as YYYY-MM-DD, not {obj.get('as_of')!r}") from None
    if row.superseded is not None and not isinstance(row.superseded, bool):
        raise GoldenError(f"{where}: superseded must be true or false")
    if row.kind not in KINDS:
        raise GoldenError(f"{where}: kind must be one of {', '.join(KINDS)}, not {row.kind!r}")
    if row.kind == "yes_no" and [a.lower() for a in row.answers] not in (["yes"], ["no"]):
        raise GoldenError(f'{where}: a yes_no row\'s answers are ["Yes"] or ["No"]')
    if row.kind != "fact" and not row.evidence:
        raise GoldenError(f"{where}: a {row.kind} row needs evidence")
    if not row.question.strip():
        raise GoldenError(f"{where}: empty question")
    if row.answerable and not row.answers:
        raise GoldenError(f"{where}: an answerable row needs at least one answer")
    if not row.answerable and (row.answers or row.evidence):
        raise GoldenError(f"{where}: an unanswerable row has no answers and no evidence")
    return row


def load_golden(path: Path) -> list[GoldenRow]:
    """Read a golden JSONL file; raises ``GoldenError`` with the line at fault."""
    if not path.is_file():
        raise GoldenError(f"golden file {path} does not exist")
    rows, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldenError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        row = parse_row(obj, f"{path}:{lineno}")
        if row.id in seen:
            raise GoldenError(f"{path}:{lineno}: duplicate id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise GoldenError(f"golden file {path} has no questions")
    return rows


def resolve(evidence: Evidence, text: str) -> list[tuple[int, int]]:
    """Every (start, end) where the evidence quote occurs in the article text."""
    spans, pos = [], text.find(evidence.quote)
    while pos >= 0 and evidence.quote:
        spans.append((pos, pos + len(evidence.quote)))
        pos = text.find(evidence.quote, pos + 1)
    return spans
