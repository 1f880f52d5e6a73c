"""Quiz questions made from a golden set (``citeqa eval --choices N``): each answerable
question gets N options -- its gold answer and N-1 other questions' answers of the same
shape (a number for a number, a name for a name) from the same article where the set
has articles -- written under it one a line ("A) Simona Halep"), in a seeded order.
This is how a news quiz reads, and what ``service.options`` parses. An unanswerable
question gets N other answers from the same pool, none of them right: the articles do
not answer it, so any answer is wrong. A row's ``superseded`` expectation is dropped:
options narrow reading to the sentences that name one, so an older article is quoted
as superseded only when it names another option, which made-up options rarely do.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from eval.golden import GoldenRow

LETTERS = "ABCDEFGHIJ"
MAX_OPTION_WORDS = 6
SMALL_WORDS = frozenset({"the", "a", "an", "of", "and", "in", "on", "at", "for", "to"})


def _shape(answer: str) -> str:
    if re.search(r"\d", answer):
        return "number"
    return "name" if answer[:1].isupper() else "phrase"


def _group(row: GoldenRow) -> str:
    """Distractors come from the same SQuAD article (tags: ["squad", title]); else the whole set."""
    return row.tags[1] if len(row.tags) > 1 and row.tags[0] == "squad" else ""


def _right(row: GoldenRow) -> str:
    """The gold answer as the evidence writes it (RGB lists variants: "Dec 1, 2017", "December 1, 2017")."""
    written = " ".join(e.quote for e in row.evidence).lower()
    return next((a for a in row.answers if a.lower() in written), row.answers[0])


def _words(answer: str) -> set[str]:
    return set(answer.lower().split()) - SMALL_WORDS


def _asked(row: GoldenRow, options: list[str]) -> GoldenRow:
    lines = "\n".join(f"{LETTERS[i]}) {o}" for i, o in enumerate(options))
    return replace(row, question=f"{row.question}\n{lines}", tags=[*row.tags, "quiz"], superseded=None)


def quiz_rows(rows: list[GoldenRow], n: int, seed: int = 0) -> list[GoldenRow]:
    """The fact rows that can get ``n`` options, each asked with them."""
    rng = random.Random(seed)
    facts = [r for r in rows if r.kind == "fact" and (r.answers or not r.answerable)]
    right = {r.id: _right(r) for r in facts if r.answerable}
    pools: dict[tuple[str, str], list[str]] = {}
    for r in facts:
        a = right.get(r.id)
        if a and len(a.split()) <= MAX_OPTION_WORDS:
            pools.setdefault((_group(r), _shape(a)), []).append(a)
    out = []
    for r in facts:
        if not r.answerable:
            pool = sorted({a for (g, _), p in pools.items() if g == _group(r) for a in p}, key=str.lower)
            if len(pool) >= n:
                out.append(_asked(r, rng.sample(pool, n)))
            continue
        gold = right[r.id]
        if len(gold.split()) > MAX_OPTION_WORDS:
            continue
        # no option shares a word with a gold answer ("Austin" beside "Lloyd Austin" would be right too)
        own = set().union(*(_words(a) for a in r.answers))
        others = sorted(
            {a for a in pools.get((_group(r), _shape(gold)), []) if not own & _words(a)},
            key=str.lower,
        )
        if len(others) < n - 1:
            continue
        options = [*rng.sample(others, n - 1), gold]
        rng.shuffle(options)
        out.append(_asked(r, options))
    return out
