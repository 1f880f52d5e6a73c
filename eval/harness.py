"""Run a golden set against citeqa, in-process or over HTTP, and judge every answer."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from eval.golden import GoldenRow, resolve
from eval.metrics import Verdict, by_tag, judge, judge_kind, summarize, summarize_kinds


class EvalError(Exception):
    """The harness cannot run (service unreachable, bad response)."""


class Asker(Protocol):
    """Where questions go: the in-process engine or a running service."""

    def ask(self, question: str, top_k: int, as_of: dt.date | None = None) -> dict[str, Any]: ...

    def document_text(self, doc_id: str) -> str | None: ...


class InProcessAsker:
    """Asks ``service.answering.ask`` directly, with a loaded engine."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def ask(self, question: str, top_k: int, as_of: dt.date | None = None) -> dict[str, Any]:
        from service.answering import ask

        return ask(self.engine, question, top_k=top_k, as_of=as_of).model_dump(mode="json")

    def document_text(self, doc_id: str) -> str | None:
        record = self.engine.store.document(doc_id)
        return record.text if record else None


class HttpAsker:
    """Asks a running citeqa service (``POST /ask``, ``GET /documents/{id}``)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def _get(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise EvalError(f"cannot reach the citeqa service at {self.client.base_url}: {exc}") from None

    def ask(self, question: str, top_k: int, as_of: dt.date | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question, "top_k": top_k}
        if as_of is not None:
            body["as_of"] = as_of.isoformat()
        r = self._get("POST", "/ask", json=body)
        if r.status_code != 200:
            raise EvalError(f"/ask answered {r.status_code}: {r.text[:300]}")
        return r.json()

    def document_text(self, doc_id: str) -> str | None:
        r = self._get("GET", "/documents/" + quote(doc_id, safe=""))
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise EvalError(f"/documents answered {r.status_code}: {r.text[:300]}")
        return r.json()["text"]


@dataclass
class EvalResult:
    """Everything a report needs."""

    summary: dict[str, Any]
    per_tag: dict[str, dict[str, Any]]
    questions: list[dict[str, Any]]
    verdicts: list[Verdict] = field(default_factory=list)
    top_k: int = 5


def run_eval(
    rows: list[GoldenRow], asker: Asker, *, top_k: int = 5, progress: Callable[[int], None] | None = None
) -> EvalResult:
    """Ask every question, resolve gold evidence to offsets, judge, summarise."""
    texts: dict[str, str] = {}

    def text_of(doc_id: str) -> str:
        if doc_id not in texts:
            texts[doc_id] = asker.document_text(doc_id) or ""
        return texts[doc_id]

    verdicts, questions, kinds = [], [], []
    asked = used = negations = 0
    fallbacks: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for row in rows:
        evidence = [[(e.doc_id, s, t) for s, t in resolve(e, text_of(e.doc_id))] for e in row.evidence]
        gold = [span for item in evidence for span in item]
        started = time.perf_counter()
        response = asker.ask(row.question, top_k, row.as_of) if row.as_of else asker.ask(row.question, top_k)
        latency = (time.perf_counter() - started) * 1000
        for q in response["quotes"]:
            text_of(q["doc_id"])
        mode = response.get("mode", "extractive")
        if response.get("llm_dropped") is not None:  # the LLM was asked
            asked += 1
            used += mode == "llm"
            for reason, n in response["llm_dropped"].items():
                dropped[reason] = dropped.get(reason, 0) + n
            if mode == "llm":
                negations += _negation_mismatches(response)
            if response.get("llm_fallback"):
                fallbacks[response["llm_fallback"]] = fallbacks.get(response["llm_fallback"], 0) + 1
        verdict = judge(
            answerable=row.answerable,
            answers=row.answers,
            gold=gold,
            response=response,
            texts=texts,
            latency_ms=latency,
            tags=row.tags,
            superseded=row.superseded,
        )
        # Yes/no and comparison rows are judged apart and stay out of the headline.
        kind_verdict = judge_kind(row.kind, row.answers, evidence, response) if row.kind != "fact" else None
        if kind_verdict is None:
            verdicts.append(verdict)
        else:
            kinds.append(kind_verdict)
        questions.append(
            {
                "id": row.id,
                "question": row.question,
                "kind": row.kind,
                "tags": row.tags,
                "expected": {
                    "answerable": row.answerable,
                    "answers": row.answers,
                    "evidence": [{"doc_id": d, "start": s, "end": e} for d, s, e in gold],
                    "unresolved_evidence": [e.quote for e in row.evidence if not resolve(e, text_of(e.doc_id))],
                },
                "answer": response["answer"],
                "abstained": response["abstained"],
                "short_answer": response.get("short_answer"),
                "quotes": response["quotes"],
                "top_passages": [{k: p[k] for k in ("doc_id", "start", "end", "score")} for p in response["passages"]],
                "confidence": response["confidence"],
                "mode": mode,
                "question_kind": response.get("question_kind"),
                "llm_dropped": response.get("llm_dropped"),
                "llm_fallback": response.get("llm_fallback"),
                "as_of": response.get("as_of"),
                "superseded": response.get("superseded", False),
                "verdicts": verdict.as_dict(),
                "kind_verdict": kind_verdict,
                "latency_ms": round(latency, 2),
            }
        )
        if progress:
            progress(1)
    summary = summarize(verdicts, top_k)
    # How many answers the LLM wrote (0 without one; the rest fell back to extractive).
    summary["llm_answers"] = sum(q["mode"] == "llm" for q in questions if q["kind"] == "fact")
    summary["llm"] = {
        "asked": asked,
        "used": used,
        "fallbacks": fallbacks,
        "dropped": dropped,
        "negation_mismatches": negations,
    }
    summary["kinds"] = summarize_kinds(kinds)
    return EvalResult(summary, by_tag(verdicts, top_k), questions, verdicts, top_k)


_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without)\b|n't\b", re.I)


def _negation_mismatches(response: dict[str, Any]) -> int:
    """LLM sentences that negate where none of their cited quotes does, or the reverse:
    what the support check does not see (polarity), counted so a run shows how often."""
    count = 0
    for sentence in re.split(r"(?<=[.!?])\s+", response["answer"]):
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
        quotes = [response["quotes"][n - 1]["text"] for n in cited if 0 < n <= len(response["quotes"])]
        if quotes and bool(_NEGATION.search(sentence)) != any(_NEGATION.search(q) for q in quotes):
            count += 1
    return count


THRESHOLDS = {
    "min_accuracy": "answer_accuracy",
    "min_citation_precision": "citation_precision",
    "min_abstention_precision": "abstention_precision",
    "min_abstention_recall": "abstention_recall",
}


def missed_thresholds(
    summary: dict[str, Any], minimums: dict[str, float | None]
) -> list[tuple[str, float | None, float]]:
    """(metric, value, minimum) for every given minimum the run did not reach."""
    missed = []
    for option, metric in THRESHOLDS.items():
        minimum = minimums.get(option)
        if minimum is None:
            continue
        value = summary.get(metric)
        if value is None or value < minimum:
            missed.append((metric, value, minimum))
    return missed
