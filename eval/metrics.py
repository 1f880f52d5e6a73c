"""Per-question verdicts and the summary metrics of an eval run.

- retrieval: hit@1, hit@k and MRR — a passage overlapping a gold evidence span;
- answer accuracy — not abstained and a quote (or the short answer) contains an
  acceptable answer (case-insensitive); short-answer exact match;
- citations (ALCE-style, by span overlap, over answerable questions that were
  answered): verbatim rate (the quote is the article text at its offsets; must
  be 1.00), precision (quotes overlapping a gold evidence span), recall (gold
  evidence spans covered by some quote);
- abstention: precision and recall of ``abstained`` against ``answerable=false``;
  combined = (answerable answered right + unanswerable abstained) / all;
- confidence: precision@0.9 (answers given with confidence >= 0.9 that are right;
  an answered unanswerable question is wrong), share@0.9 (such answers / answerable
  questions), expected calibration error over the answers given (10 equal-width bins);
- short answers: SQuAD's exact match and token F1 against the gold answers, over
  the answerable questions (abstained or no short answer: 0);
- time (rows that carry ``superseded``): the response's ``superseded`` flag must be
  the expected one, and the answer must be in the first quote (the newest source's)
  or the short answer, for the row to count as right; ``superseded_right`` is the
  share of such rows whose flag was right;
- latency p50/p95 per question.
"""

from __future__ import annotations

import re
import statistics
import string
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Span = tuple[str, int, int]  # doc_id, start, end


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


@dataclass
class Verdict:
    """What was checked for one question."""

    answerable: bool
    abstained: bool
    correct: bool
    short_exact: bool
    first_hit_rank: int | None  # 1-based rank of the first passage overlapping gold evidence
    quotes: int
    quotes_verbatim: int
    quotes_supported: int
    evidence: int
    evidence_covered: int
    latency_ms: float
    tags: list[str] = field(default_factory=list)
    confidence: float = 0.0
    short_em: float = 0.0
    short_f1: float = 0.0
    superseded_right: bool | None = None  # None: the row expects nothing about it

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "tags"}


_PUNCTUATION = frozenset(string.punctuation)


def normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: list[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return float(any(normalize(prediction) == normalize(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """SQuAD's token F1, the best over the gold answers."""
    best = 0.0
    p = normalize(prediction).split()
    for gold in golds:
        g = normalize(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if common:
            precision, recall = common / len(p), common / len(g)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """``text`` holds one of the gold ``answers`` (case-insensitive): what "right" means."""
    lowered = text.lower()
    return any(a.lower() in lowered for a in answers)


def judge(
    *,
    answerable: bool,
    answers: list[str],
    gold: list[Span],
    response: dict[str, Any],
    texts: dict[str, str],
    latency_ms: float,
    tags: list[str],
    superseded: bool | None = None,
) -> Verdict:
    """Compare one ``/ask`` response with its golden row (``superseded``: what the row
    expects of the response's flag, None for nothing)."""
    quotes = response["quotes"]
    short = response.get("short_answer")
    lowered = [a.lower() for a in answers]
    abstained = bool(response["abstained"])
    # With an expected supersede, the answer must be the first (newest) quote's.
    judged = quotes[:1] if superseded is not None else quotes
    found = any(contains_answer(q["text"], answers) for q in judged) or bool(
        short and contains_answer(short["text"], answers)
    )
    flag_right = None if superseded is None else bool(response.get("superseded")) == superseded
    if flag_right is False:
        found = False
    quote_spans = [(q["doc_id"], q["start"], q["end"]) for q in quotes]
    verbatim = sum(texts.get(q["doc_id"], "")[q["start"] : q["end"]] == q["text"] for q in quotes)
    rank = next(
        (
            i
            for i, p in enumerate(response["passages"], start=1)
            if any(_overlaps((p["doc_id"], p["start"], p["end"]), g) for g in gold)
        ),
        None,
    )
    return Verdict(
        answerable=answerable,
        abstained=abstained,
        correct=answerable and not abstained and found,
        short_exact=bool(short) and short["text"].strip().lower() in lowered,
        first_hit_rank=rank,
        quotes=len(quotes),
        quotes_verbatim=verbatim,
        quotes_supported=sum(any(_overlaps(q, g) for g in gold) for q in quote_spans),
        evidence=len(gold),
        evidence_covered=sum(any(_overlaps(q, g) for q in quote_spans) for g in gold),
        latency_ms=latency_ms,
        tags=tags,
        confidence=float(response.get("confidence") or 0.0),
        short_em=exact_match(short["text"], answers) if short and answerable and not abstained else 0.0,
        short_f1=token_f1(short["text"], answers) if short and answerable and not abstained else 0.0,
        superseded_right=flag_right,
    )


def judge_kind(kind: str, answers: list[str], evidence: list[list[Span]], response: dict[str, Any]) -> dict[str, Any]:
    """A yes/no or comparison row (``evidence``: the resolved spans of each evidence quote).

    ``evidence_quoted``: a quote overlaps the evidence (yes/no: any item; comparison:
    every item, i.e. each side). ``verdict_right`` (LLM answers only, else None): yes/no
    — the answer's *leading* word is the gold Yes/No (a substring "No" would match
    "November") and the evidence is quoted; comparison — the evidence is quoted and the
    answer names a gold answer. ``made_up_verdict``: an extractive answer that starts
    with yes or no (it must never)."""
    spans = [(q["doc_id"], q["start"], q["end"]) for q in response["quotes"]]
    covered = [any(_overlaps(q, g) for q in spans for g in item) for item in evidence]
    quoted = bool(covered) and (all(covered) if kind == "comparison" else any(covered))
    answer = response["answer"]
    lead = re.match(r"\s*(yes|no)\b", answer, re.I)
    llm = response.get("mode") == "llm"
    verdict = None
    if llm and kind == "yes_no":
        verdict = bool(lead) and lead.group(1).lower() == answers[0].lower() and quoted
    elif llm:
        verdict = quoted and any(a.lower() in answer.lower() for a in answers)
    return {
        "kind": kind,
        "kind_right": response.get("question_kind", "fact") == kind,
        "abstained": bool(response["abstained"]),
        "llm": llm,
        "evidence_quoted": quoted,
        "verdict_right": verdict,
        "made_up_verdict": not llm and bool(lead),
        "short_answer_null": response.get("short_answer") is None,
    }


def summarize_kinds(judged: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind: how many, and how many of each judgement held."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({j["kind"] for j in judged}):
        rows = [j for j in judged if j["kind"] == kind]
        llm = [j for j in rows if j["llm"]]
        out[kind] = {
            "questions": len(rows),
            "kind_right": sum(j["kind_right"] for j in rows),
            "abstained": sum(j["abstained"] for j in rows),
            "evidence_quoted": sum(j["evidence_quoted"] for j in rows),
            "llm_answers": len(llm),
            "verdict_right": sum(bool(j["verdict_right"]) for j in llm),
            "made_up_verdict": sum(j["made_up_verdict"] for j in rows),
            "short_answer_null": sum(j["short_answer_null"] for j in rows),
        }
    return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def expected_calibration_error(verdicts: list[Verdict], bins: int = 10) -> float | None:
    """ECE of the answers given: the answered share of each equal-width confidence bin
    times |its accuracy - its mean confidence|, summed."""
    answered = [v for v in verdicts if not v.abstained]
    if not answered:
        return None
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [v for v in answered if lo <= v.confidence < hi or (b == bins - 1 and v.confidence == 1.0)]
        if inside:
            accuracy = sum(v.correct for v in inside) / len(inside)
            mean = sum(v.confidence for v in inside) / len(inside)
            total += len(inside) / len(answered) * abs(accuracy - mean)
    return total


def summarize(verdicts: list[Verdict], k: int) -> dict[str, float | int | None]:
    """The summary metrics of a list of verdicts (None where undefined)."""
    answerable = [v for v in verdicts if v.answerable]
    unanswerable = [v for v in verdicts if not v.answerable]
    answered = [v for v in answerable if not v.abstained]
    abstained = [v for v in verdicts if v.abstained]
    latencies = sorted(v.latency_ms for v in verdicts)
    with_gold = [v for v in answerable if v.evidence]
    confident = [v for v in verdicts if not v.abstained and v.confidence >= 0.9]
    flagged = [v for v in verdicts if v.superseded_right is not None]
    return {
        "questions": len(verdicts),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": _ratio(sum(v.correct for v in answerable), len(answerable)),
        "short_answer_exact": _ratio(sum(v.short_exact for v in answered), len(answered)),
        "hit@1": _ratio(sum(v.first_hit_rank == 1 for v in with_gold), len(with_gold)),
        f"hit@{k}": _ratio(
            sum(v.first_hit_rank is not None and v.first_hit_rank <= k for v in with_gold), len(with_gold)
        ),
        "mrr": _ratio(sum(1 / v.first_hit_rank for v in with_gold if v.first_hit_rank), len(with_gold)),
        "citation_verbatim": _ratio(sum(v.quotes_verbatim for v in verdicts), sum(v.quotes for v in verdicts)),
        "citation_precision": _ratio(sum(v.quotes_supported for v in answered), sum(v.quotes for v in answered)),
        "citation_recall": _ratio(sum(v.evidence_covered for v in answered), sum(v.evidence for v in answered)),
        "abstention_precision": _ratio(sum(not v.answerable for v in abstained), len(abstained)),
        "abstention_recall": _ratio(sum(v.abstained for v in unanswerable), len(unanswerable)),
        "combined": _ratio(sum(v.correct for v in answerable) + sum(v.abstained for v in unanswerable), len(verdicts)),
        "precision@0.9": _ratio(sum(v.correct for v in confident), len(confident)),
        "share@0.9": _ratio(len(confident), len(answerable)),
        "ece": expected_calibration_error(verdicts),
        "short_em": _ratio(sum(v.short_em for v in answerable), len(answerable)),
        "short_f1": _ratio(sum(v.short_f1 for v in answerable), len(answerable)),
        "abstained": _ratio(len(abstained), len(verdicts)),
        "superseded_right": _ratio(sum(bool(v.superseded_right) for v in flagged), len(flagged)),
        "latency_p50_ms": statistics.median(latencies) if latencies else None,
        "latency_p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None,
    }


def by_tag(verdicts: list[Verdict], k: int) -> dict[str, dict[str, float | int | None]]:
    """Summary metrics per tag."""
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        for t in v.tags:
            groups[t].append(v)
    return {t: summarize(vs, k) for t, vs in sorted(groups.items())}
