"""The asking path as named stages, each a small type with one method (after
Haystack's components), wired once by ``service.pipeline.build_pipeline``:

    question ─retrieve─▶ Retrieved (fused hits, their article records)
             ─read─────▶ Reading   (ranked answers: quote offsets, short answer, confidence)
             ─decide───▶ Decision  (the answer to give, or abstain)
             ─verify───▶ AskResponse (every quote checked against the article text)

A new stage (a reranker, a trained reader) is one class with the stage's method
and one line in ``build_pipeline``; the HTTP app, the CLI, the evaluation
harness and every benchmark build the pipeline through that one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from service.quotes import verified_passage, verified_quote, verified_span
from service.retrieval import Retrieved, Retriever
from service.schemas import AskResponse, Passage, Quote

ABSTAIN_ANSWER = "The indexed articles do not answer this question."


# Quotes an answer holds at most: the answering sentence first.
MAX_QUOTES = 3


class Offsets(NamedTuple):
    """Where a quote or short answer sits: ``record(doc_id).text[start:end]``."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """One way to answer: quote offsets (the answering sentence first, at most three),
    a short answer inside them or None, and the probability it is right; ``entity``, when
    the short answer shown is not the rules' entity of the asked type, is that entity (what
    the answer-type checks of ``service.conflicts`` read: they were written against it)."""

    quotes: tuple[Offsets, ...]
    short: Offsets | None
    confidence: float
    entity: Offsets | None = None


@dataclass
class Reading:
    """What the read stage found: answers, best first (empty when nothing was read)."""

    answers: list[Answer] = field(default_factory=list)

    @property
    def best(self) -> Answer | None:
        """The reader's choice."""
        return self.answers[0] if self.answers else None


@dataclass(frozen=True)
class Decision:
    """The decide stage's verdict: the answer to give (None: abstain) and its confidence."""

    answer: Answer | None
    confidence: float

    @property
    def abstained(self) -> bool:
        return self.answer is None


class Reader(Protocol):
    """Stage 2: a question and retrieved candidates in, ranked answers out. ``threshold``
    is the abstention threshold its calibration chose (``CITEQA_ABSTAIN_THRESHOLD``
    overrides it)."""

    threshold: float

    def read(self, question: str, retrieved: Retrieved) -> Reading: ...


class Decider(Protocol):
    """Stage 3: answer or abstain (an answer below ``threshold`` is not given)."""

    threshold: float

    def decide(self, reading: Reading) -> Decision: ...


class Verifier(Protocol):
    """Stage 4: offsets become verified quotes, or are never shown."""

    def verify(self, question: str, decision: Decision, retrieved: Retrieved, top_k: int) -> AskResponse: ...


class ThresholdDecider:
    """Answer when the best answer's confidence reaches the threshold, else abstain."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def decide(self, reading: Reading) -> Decision:
        """The reader's choice, if confident enough."""
        best = reading.best
        if best is None:
            return Decision(None, 0.0)
        confidence = round(min(1.0, max(0.0, best.confidence)), 4)
        return Decision(best if confidence >= self.threshold else None, confidence)


class QuoteVerifier:
    """Every quote and the short answer through ``service.quotes`` (the one place the
    quote guarantee lives); an answer left with no verified quote abstains."""

    def verify(self, question: str, decision: Decision, retrieved: Retrieved, top_k: int) -> AskResponse:
        """The extractive response."""
        passages = verified_passages(retrieved, top_k)
        answer = decision.answer
        quotes = verified_quotes(answer.quotes, retrieved) if answer else []
        if answer is None or not quotes:
            return AskResponse(
                question=question,
                answer=ABSTAIN_ANSWER,
                abstained=True,
                confidence=decision.confidence,
                short_answer=None,
                quotes=[],
                passages=passages,
            )
        short = None
        if answer.short:
            d, s, e = answer.short
            inside = any(q.doc_id == d and q.start <= s and e <= q.end for q in quotes)
            short = verified_span(retrieved.records.get(d), s, e) if inside else None
        return AskResponse(
            question=question,
            answer=" … ".join(q.text for q in quotes),
            abstained=False,
            confidence=decision.confidence,
            short_answer=short,
            quotes=quotes,
            passages=passages,
        )


def verified_quotes(offsets: tuple[Offsets, ...] | list[Offsets], retrieved: Retrieved) -> list[Quote]:
    """The quotes at these offsets that verify against their article records."""
    return [q for q in (verified_quote(retrieved.records.get(d), s, e) for d, s, e in offsets) if q]


def verified_passages(retrieved: Retrieved, top_k: int) -> list[Passage]:
    """The first ``top_k`` hits that still match their article text, as passages."""
    out = []
    for h in retrieved.hits:
        p = verified_passage(
            retrieved.records.get(h.row.doc_id), h.row.chunk_id, h.row.start, h.row.end, h.row.text, round(h.score, 6)
        )
        if p:
            out.append(p)
        if len(out) == top_k:
            break
    return out


__all__ = [
    "ABSTAIN_ANSWER",
    "Answer",
    "Decider",
    "Decision",
    "Offsets",
    "QuoteVerifier",
    "Reader",
    "Reading",
    "Retrieved",
    "Retriever",
    "ThresholdDecider",
    "Verifier",
]
