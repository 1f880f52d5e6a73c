"""Yes/no and comparison questions without a writing model: the best quote for each side
(``service.question_kind`` finds the sides), no short answer, never a verdict."""

from __future__ import annotations

from service.analysis import terms
from service.question_kind import QuestionKind
from service.retrieval import Retrieved
from service.schemas import AskResponse
from service.stages import Offsets, Reading, verified_quotes


def quote_each_side(extractive: AskResponse, kind: QuestionKind, reading: Reading, retrieved: Retrieved) -> AskResponse:
    """A yes/no or comparison question answered without a writing model: no short answer
    (a phrase cannot say yes, no or which) and, per side, the best quote that names it.

    No sentence states a comparison, so the reader's confidence in one is low and the
    decider often abstains; when every side of a two-sided question has a quote (in the
    reader's ranking, else among the retrieved sentences the question's time admits),
    those quotes are the answer, at the reader's confidence."""
    if extractive.abstained and not kind.sides:
        return extractive
    quotes = [] if extractive.abstained else list(extractive.quotes)
    spans = [q for a in reading.answers for q in a.quotes]
    spans += [
        Offsets(h.row.doc_id, s, e)
        for h in retrieved.hits
        for i, (s, e) in enumerate(h.row.sentences)
        if retrieved.admits(h.row, i)
    ]
    missing = 0
    for wanted in kind.side_terms():
        if any(wanted <= set(terms(q.text)) for q in quotes):
            continue
        for span in dict.fromkeys(spans):
            found = verified_quotes([span], retrieved)
            if found and wanted <= set(terms(found[0].text)) and found[0] not in quotes:
                quotes.append(found[0])
                break
        else:
            missing += 1
    if extractive.abstained and (missing or not quotes):
        return extractive
    return extractive.model_copy(
        update={
            "abstained": False,
            "short_answer": None,
            "quotes": quotes,
            "answer": " … ".join(q.text for q in quotes),
        }
    )
