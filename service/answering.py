"""``ask`` and ``search``: the domain functions behind ``POST /ask``, ``POST /search``,
``citeqa ask`` and ``citeqa eval``. They run the stages of a ``Pipeline`` in order
(retrieve → read → decide → verify) and, in LLM mode, let the LLM write over the
decided candidates."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import replace

from service.citations import Citer, Event
from service.conflicts import Specifiers
from service.llm import PROMPT_CANDIDATES, LLMUnavailable, Source, generate, prompt
from service.options import Options, narrow, split
from service.pipeline import Pipeline
from service.question_kind import QuestionKind, classify
from service.quotes import verified_quote
from service.recency import newest_first
from service.retrieval import Retrieved
from service.schemas import AskResponse, Passage
from service.sides import quote_each_side
from service.stages import ABSTAIN_ANSWER, Offsets, Reading, verified_passages
from service.time_scope import TimeScope

log = logging.getLogger(__name__)
# Text either side of a chosen sentence where the nth of a series the question asks about
# may be stated instead (about a sentence: "Stage 3 … This stage comprises two parts").
AROUND_CHARS = 300
__all__ = ["ABSTAIN_ANSWER", "ask", "ask_events", "search"]


def search(
    pipeline: Pipeline,
    query: str,
    *,
    top_k: int = 5,
    since: dt.date | None = None,
    until: dt.date | None = None,
    as_of: dt.date | None = None,
) -> list[Passage]:
    """The best passages for a query, fused score first (none published after ``as_of``;
    the query's words about time are not read: a search is a search)."""
    n = max(top_k * 3, 20)
    scope = TimeScope(as_of, given=True) if as_of else None
    retrieved = pipeline.retriever.retrieve(query, since=since, until=until, records_for=n, scope=scope)
    retrieved.hits = retrieved.hits[:n]
    return verified_passages(retrieved, top_k)


def ask(
    pipeline: Pipeline,
    question: str,
    *,
    top_k: int = 5,
    since: dt.date | None = None,
    until: dt.date | None = None,
    as_of: dt.date | None = None,
    options: tuple[str, ...] | list[str] | None = None,
) -> AskResponse:
    """Answer with verified quotes (through the LLM when one is configured), or abstain."""
    for event in ask_events(pipeline, question, top_k=top_k, since=since, until=until, as_of=as_of, options=options):
        if event.kind == "done":
            return event.data
    raise AssertionError("ask_events ends with a done event")


def ask_events(
    pipeline: Pipeline,
    question: str,
    *,
    top_k: int = 5,
    since: dt.date | None = None,
    until: dt.date | None = None,
    as_of: dt.date | None = None,
    stream: bool = False,
    options: tuple[str, ...] | list[str] | None = None,
) -> Iterator[Event]:
    """``sentence`` and ``quote`` events as the LLM's answer verifies (LLM mode only), then
    ``done`` with the whole response. If the LLM fails after sentences were sent, ``done``
    carries the extractive answer: clients render the ``done`` body as the final word.

    Retrieval and reading run before this returns, so their errors (empty index,
    Chroma down) raise here and can still become an HTTP error status.

    Time (``service.time_scope``): the question is asked as of ``as_of`` (None: the
    pipeline's clock, nothing left out); the periods it names narrow what is read; a
    present-state question prefers the newest source (``service.recency``).

    Answer options (``service.options``): ``options``, else those the question lists;
    the stem is retrieved and read, and the options narrow what may answer."""
    quiz = split(question) if options is None else Options(question, tuple(options))
    stem = quiz.stem
    scope = TimeScope.of(stem, as_of, pipeline.clock())
    retrieved = pipeline.retriever.retrieve(stem, since=since, until=until, scope=scope)
    specifiers = Specifiers.of(stem)
    retrieved = replace(retrieved, specifiers=specifiers)
    retrieved = narrow(retrieved, quiz.options, pipeline.settings.reader_passages)
    reader_question = scope.reader_question(retrieved.fits)
    reading = scope.adjust(pipeline.reader.read(reader_question, retrieved), retrieved.fits)
    superseded = False
    if scope.present:
        reading, superseded = newest_first(
            reader_question,
            reading,
            retrieved,
            pipeline.reader,
            pipeline.decider.threshold,
            pipeline.settings.reader_passages,
        )
    # After the chooser: a quiz's short answer is the option chosen, and that is what is checked.
    reading = pipeline.chooser.choose(reader_question, reading, retrieved, quiz.options)
    reading = _without_what_is_asked(reading, retrieved, specifiers)
    decision = pipeline.decider.decide(reading)
    kind = classify(stem)
    extractive = pipeline.verifier.verify(question, decision, retrieved, top_k)
    extractive = extractive.model_copy(
        update={
            "as_of": scope.as_of.isoformat(),
            "superseded": superseded and not extractive.abstained,
            "question_kind": kind.kind,
            "options": list(quiz.options),
        }
    )
    if kind.kind != "fact":
        extractive = quote_each_side(extractive, kind, reading, retrieved)
    # The LLM writes over an answer the decider accepted, never over an abstention: a
    # small model asked anyway answers from whatever it was shown.
    if pipeline.llm is None or extractive.abstained:
        return iter([Event("done", extractive)])
    return _llm_events(pipeline, question, quiz, kind, reading, retrieved, extractive, stream)


def _llm_events(
    pipeline: Pipeline,
    question: str,
    quiz: Options,
    kind: QuestionKind,
    reading: Reading,
    retrieved: Retrieved,
    extractive: AskResponse,
    stream: bool,
) -> Iterator[Event]:
    sources = _sources(extractive, reading, retrieved)
    # A name or number the question states needs no support; an option is not stated, it is asked
    # about, so the support check reads the stem, and the LLM is shown the options as one list
    # however they came (listed in the question or given in the request).
    citer = Citer({s.number: s for s in sources}, retrieved.records, question=quiz.stem)
    asked = f"{quiz.stem}\nOptions: " + "; ".join(quiz.options) if quiz.options else question
    try:
        text = generate(
            pipeline.llm,
            prompt(asked, sources, kind.kind),
            timeout_s=pipeline.settings.llm_timeout_s,
            stream=stream,
        )
        for piece in text:
            yield from citer.feed(piece)
        yield from citer.finish()
        if not citer.sentences:
            if citer.refused:
                raise LLMUnavailable("the LLM said the sources do not answer", "refusal")
            raise LLMUnavailable("the LLM gave no verifiable sentence", "nothing_verified")
    except LLMUnavailable as exc:
        log.warning("LLM answer not used, extractive answer returned instead: %s", exc)
        _log_drops(citer)
        yield Event(
            "done", extractive.model_copy(update={"llm_dropped": citer.drop_counts, "llm_fallback": exc.reason})
        )
        return
    _log_drops(citer)
    short = extractive.short_answer
    inside = short and any(
        q.doc_id == short.doc_id and q.start <= short.start and short.end <= q.end for q in citer.quotes
    )
    yield Event(
        "done",
        AskResponse(
            question=question,
            answer=citer.answer,
            abstained=False,
            confidence=extractive.confidence,
            as_of=extractive.as_of,
            superseded=extractive.superseded,
            mode="llm",
            question_kind=kind.kind,
            options=extractive.options,
            llm_dropped=citer.drop_counts,
            short_answer=short if inside and kind.kind == "fact" else None,
            quotes=citer.quotes,
            passages=extractive.passages,
        ),
    )


def _log_drops(citer: Citer) -> None:
    for sentence, reason, detail in citer.dropped:
        log.info("LLM sentence dropped (%s%s): %s", reason, f": {detail}" if detail else "", sentence[:200])


def _without_what_is_asked(reading: Reading, retrieved: Retrieved, specifiers: Specifiers) -> Reading:
    """The reading, its choice at confidence 0 when it cannot be what the question asks
    for (``Specifiers.lacks``): its sentence holds no time for "when" or no number for "how
    many", the nth asked is stated neither in it nor around it, or its short answer (a
    quiz's chosen option) is an organisation where "who heads" asks for a person."""
    best = reading.best
    if best is None or not best.quotes:
        return reading
    doc_id, start, end = best.quotes[0]
    record = retrieved.records.get(doc_id)
    if record is None:
        return reading
    short = None
    typed = best.entity or best.short
    if typed is not None and typed.doc_id == doc_id:
        short = record.text[typed.start : typed.end]
    before = record.text[max(0, start - AROUND_CHARS) : start]
    after = record.text[end : end + AROUND_CHARS]
    article = f"{record.title}\n{record.published or ''}\n{record.text}"
    if not specifiers.lacks(record.text[start:end], short, before, after, article):
        return reading
    return Reading([replace(best, confidence=0.0), *reading.answers[1:]])


def _sources(extractive: AskResponse, reading: Reading, retrieved: Retrieved) -> list[Source]:
    """The numbered sentences the LLM sees: the extractive answer's quotes (for a comparison,
    each side's) first, then the reader's ranking. When newer sources superseded older
    ones (``service.recency``), only the newest article's sentences: a small model does
    not weigh dates, and given both it quoted the outdated fact."""
    spans = [Offsets(q.doc_id, q.start, q.end) for q in extractive.quotes]
    spans += [q for a in reading.answers for q in a.quotes]
    if extractive.superseded and extractive.quotes:
        spans = [span for span in spans if span.doc_id == extractive.quotes[0].doc_id]
    out: list[Source] = []
    for doc_id, start, end in dict.fromkeys(spans):
        quote = verified_quote(retrieved.records.get(doc_id), start, end)
        if quote is None:
            continue
        out.append(Source(len(out) + 1, doc_id, quote.title, quote.published, start, end, quote.text))
        if len(out) == PROMPT_CANDIDATES:
            break
    return out
