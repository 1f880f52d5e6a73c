"""Snippet pairs made from the training positives (`--snippet-pairs`).

News reaches the reader in pieces that SQuAD's prose never shows it: search snippets
cut off mid-sentence with "...", a date line in front ("Jan 13, 2020 ... "), a headline
that names every word of the question and states nothing. On such text the first models
score topical fragments as high as answers ("Oscars: Watch the Trailers for the Best
Animated Feature Film Nominees" at logit 2.8 for which film won). This module makes two
kinds of pair from each answerable training question whose answer starts at least
``MIN_WORDS_BEFORE`` words into its gold sentence:

- ``cut``, a negative: the gold sentence cut off before its answer, ending in " ...":
  every word of the question the sentence had before the answer is still there, the
  answer is not;
- ``cut_pos``, a positive: the same sentence cut off a few words after its answer, also
  ending in " ...", the span unchanged.

Both appear the same number of times, so an ellipsis says nothing on its own; half of
each (seeded) get a date line in front (offsets moved with it). Only the sentence
changes: the question, title and previous sentence are the pair's own.
"""

from __future__ import annotations

import random
import re

MIN_WORDS_BEFORE = 4  # words before the answer: a shorter cut states too little to fool anyone
WORDS_AFTER = (0, 4)  # a positive is cut this many words after its answer (seeded, inclusive)
DATED_SHARE = 0.5
ELLIPSIS = " ..."
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORD = re.compile(r"\S+")


def _date_line(rng: random.Random) -> str:
    return f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(2005, 2023)} ... "


def snippet_pairs(pairs: list[dict], seed: int) -> tuple[list[dict], dict]:
    """The ``cut`` negatives and ``cut_pos`` positives of the positives in ``pairs``."""
    rng = random.Random(seed)
    out: list[dict] = []
    counts = {"positives": 0, "too_early": 0, "answer_before_cut": 0, "cut": 0, "cut_pos": 0, "dated": 0}
    for r in pairs:
        if r["kind"] != "pos" or not r.get("answer_chars"):
            continue
        counts["positives"] += 1
        sentence: str = r["sentence"]
        a, b = r["answer_chars"]
        words = list(_WORD.finditer(sentence))
        before = [w for w in words if w.end() <= a]
        if len(before) < MIN_WORDS_BEFORE:
            counts["too_early"] += 1
            continue
        head = sentence[: before[-1].end()].rstrip(" ,;:—–-(")
        answer = sentence[a:b].casefold()
        if answer in head.casefold():
            counts["answer_before_cut"] += 1  # the answer is said earlier too: the cut would still hold it
            continue
        after = [w for w in words if w.start() >= b]
        # at least one word is cut off, so that it is a snippet, not the sentence with "..." after it
        keep = rng.randint(WORDS_AFTER[0], max(WORDS_AFTER[0], min(WORDS_AFTER[1], len(after) - 1)))
        tail_end = after[keep - 1].end() if keep else b
        for kind, text, label, span in (
            ("cut", head + ELLIPSIS, 0, None),
            ("cut_pos", sentence[:tail_end].rstrip(" ,;:") + ELLIPSIS, 1, [a, b]),
        ):
            if rng.random() < DATED_SHARE:
                line = _date_line(rng)
                text = line + text
                span = [span[0] + len(line), span[1] + len(line)] if span else None
                counts["dated"] += 1
            out.append(r | {"sentence": text, "label": label, "kind": kind, "answer_chars": span})
            counts[kind] += 1
    return out, counts
