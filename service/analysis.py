r"""Text analysis shared by every stage: tokens, stems, stop words, and what a question
states (its terms, years, quarters and numbers, the kind of answer it wants).

BM25 (``service.lexical``) and the reader use these same functions, so a word is
the same term on both sides: lower-cased ``\w\w+`` words and single digits,
irregular forms mapped to their base (``won`` → ``win``), Snowball-stemmed;
``terms`` also drops stop words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"(?u)\b\w\w+\b|\b\d\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's English stop words."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# Irregular past forms the Snowball stemmer leaves apart from their base verb.
IRREGULAR = {
    "won": "win",
    "bought": "buy",
    "sold": "sell",
    "led": "lead",
    "began": "begin",
    "begun": "begin",
    "took": "take",
    "taken": "take",
    "held": "hold",
    "became": "become",
    "made": "make",
    "said": "say",
    "told": "tell",
    "wrote": "write",
    "written": "write",
    "chose": "choose",
    "chosen": "choose",
    "ran": "run",
    "gave": "give",
    "given": "give",
    "met": "meet",
    "paid": "pay",
    "spent": "spend",
    "brought": "bring",
    "built": "build",
    "beat": "beat",
    "beaten": "beat",
    "found": "found",
    "sent": "send",
    "signed": "sign",
    "struck": "strike",
    "left": "leave",
    "fell": "fall",
    "rose": "rise",
    # Agent nouns, so "director" meets "directed" and "winner" meets "won".
    "director": "direct",
    "directors": "direct",
    "winner": "win",
    "winners": "win",
    "founder": "found",
    "founders": "found",
    "creator": "create",
    "producer": "produce",
    "publisher": "publish",
    "developer": "develop",
    "owner": "own",
    "leader": "lead",
    "writer": "write",
    "inventor": "invent",
    "manufacturer": "manufacture",
    "organizer": "organize",
    "organiser": "organise",
    "host": "host",
    "defence": "defense",
    "offence": "offense",
    "programme": "program",
    "buyer": "buy",
    "seller": "sell",
    "acquirer": "acquire",
    "acquisition": "acquire",
    "signatory": "sign",
}


@lru_cache(maxsize=16384)
def terms(text: str) -> tuple[str, ...]:
    """Lower-cased, stemmed, stop-word-free tokens, in order (the same for index and query)."""
    stop = stopwords()
    words = [IRREGULAR.get(w, w) for w in _TOKEN.findall(text.lower()) if w not in stop]
    return tuple(_stemmer().stemWords(words)) if words else ()


def tokens(text: str) -> list[tuple[int, str]]:
    """(character offset, stem) of every token, stop words included: for proximity."""
    words = [(m.start(), m.group(0).lower()) for m in _TOKEN.finditer(text)]
    stems = _stemmer().stemWords([IRREGULAR.get(w, w) for _, w in words])
    return [(pos, stem) for (pos, _), stem in zip(words, stems, strict=True)]


_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*[^\W\d_]")


def figures_only(text: str) -> bool:
    """Whether a "sentence" is a table row or a chart's axis ("1,313.86 422.88 Q1 Q2 Q3 Q4
    2016 2017 2018."): five tokens or more, under a fifth of them words. Scraped news pages
    hold such lines; the answer model reads their numbers as answers (RGB's Tesla revenue,
    logit 1.8). In the seeds, the RGB dev snippets and every SQuAD paragraph (9,717
    sentences) only five lines are such, all of them chart or table residue."""
    toks = text.split()
    if len(toks) < 5:
        return False
    enough, words = 0.2 * len(toks), 0
    for t in toks:  # prose has its fifth of words within its first few tokens: stop there
        if _WORD.fullmatch(t.strip(".,;:!?()[]“”\"'…·")):
            words += 1
            if words >= enough:
                return False
    return True


YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_QUARTER = re.compile(r"\b(q[1-4]|first quarter|second quarter|third quarter|fourth quarter)\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_QUARTER_WORDS = {"q1": "first quarter", "q2": "second quarter", "q3": "third quarter", "q4": "fourth quarter"}

# Words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how much many name named date year day time place "
    "did does do was were is are will would has have had can could the a an".split()
)


@lru_cache(maxsize=1)
def asking_terms() -> frozenset[str]:
    """QUESTION_WORDS and their stems: what a question is made of, not what it is about."""
    return frozenset(terms(" ".join(QUESTION_WORDS))) | QUESTION_WORDS


PERSONISH = {"PERSON": 1.0, "ORG": 0.7, "GPE": 0.5, "NORP": 0.5}
TYPE_RULES: list[tuple[re.Pattern[str], dict[str, float]]] = [
    (
        re.compile(
            r"\bhow (much|many dollars)\b|\b(revenue|cost|price|budget|worth|funding|sales|income|profit)\b", re.I
        ),
        {"MONEY": 1.0},
    ),
    (re.compile(r"\bhow many\b|\bnumber of\b", re.I), {"CARDINAL": 1.0, "QUANTITY": 0.9, "MONEY": 0.5, "PERCENT": 0.3}),
    (re.compile(r"\b(percent|percentage|share|rate)\b", re.I), {"PERCENT": 1.0}),
    (re.compile(r"\b(what|which) (year)\b|\bin what year\b", re.I), {"DATE": 1.0}),
    (
        re.compile(
            r"\bwhen\b|\b(what|which) (date|day|month)\b|\b(release|premiere|launch|founding) date\b|\bdate of\b", re.I
        ),
        {"DATE": 1.0, "TIME": 0.3},
    ),
    (
        re.compile(r"\bwhere\b|\b(which|what) (city|country|place|state|location|venue|town)\b|\blocation\b", re.I),
        {"GPE": 1.0, "LOC": 0.9, "FAC": 0.8, "ORG": 0.3},
    ),
    (
        re.compile(
            r"\b(which|what) (company|firm|organi[sz]ation|team|agency|department|ministry|club)\b"
            r"|\bwho (acquired|bought|owns|purchased)\b",
            re.I,
        ),
        {"ORG": 1.0, "GPE": 0.4, "PERSON": 0.3},
    ),
    (
        re.compile(r"\b(what|which) (movie|film|game|book|song|show|album|series)\b", re.I),
        {"WORK_OF_ART": 1.0, "ORG": 0.3, "PRODUCT": 0.5},
    ),
    (
        re.compile(
            r"\bwho\b|\bwhose\b|\bwhom\b|\b(which|what) (person|actor|actress|minister|president|ceo|director)\b", re.I
        ),
        PERSONISH,
    ),
    (re.compile(r"\bname of\b", re.I), {"PRODUCT": 1.0, "ORG": 0.8, "PERSON": 0.8, "WORK_OF_ART": 0.8}),
]


@dataclass
class QuestionInfo:
    """What a question states: its terms, constraints, and the kind of answer it expects."""

    text: str
    terms: list[str]
    content_terms: list[str]
    years: list[str]
    quarters: list[str]
    numbers: list[str]
    expected: dict[str, float]
    term_set: frozenset[str] = frozenset()
    # One pattern per stated year/number/quarter (with its spelled-out alternative).
    constraint_patterns: list[re.Pattern[str]] = field(default_factory=list)


def analyze(question: str) -> QuestionInfo:
    """Terms, stated constraints and the expected answer type of a question."""
    all_terms = list(dict.fromkeys(terms(question)))
    qwords = asking_terms()
    content = [t for t in all_terms if t not in qwords]
    years = YEAR.findall(question)
    quarters = [q.lower() for q in _QUARTER.findall(question)]
    numbers = [n for n in _NUMBER.findall(question) if n not in years]
    expected: dict[str, float] = {}
    for pattern, types in TYPE_RULES:
        if pattern.search(question):
            expected = types
            break
    patterns = [
        re.compile(rf"\b(?:{re.escape(w)}|{re.escape(_QUARTER_WORDS.get(w, w))})\b") for w in years + numbers + quarters
    ]
    return QuestionInfo(
        question, all_terms, content or all_terms, years, quarters, numbers, expected, frozenset(all_terms), patterns
    )


def salient(question: str) -> set[str]:
    """Terms of capitalised words (not the first) and numbers: names and figures the question states."""
    out: set[str] = set()
    for i, m in enumerate(re.finditer(r"(?u)\b[\w-]+\b", question)):
        w = m.group(0)
        if (i > 0 and w[:1].isupper()) or any(ch.isdigit() for ch in w):
            out.update(terms(w))
    return out
