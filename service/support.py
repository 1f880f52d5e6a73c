"""Does a source support a sentence the LLM wrote? A lexical check, not a judgement.

A sentence is *supported* by some sources when every number, amount, date and
proper name it states that the question does not already state occurs in
those sources (after folding case, diacritics, thousands separators, currency
signs, quote marks and "U.S."-style dots). Names are what spaCy's NER (the
index's own pipeline, ``indexing.nlp``) marks as an entity plus capitalised
words after the first; each of their words must occur. Amounts keep their scale
("$175 million" is not supported by "$175 billion").

Not checked, and said so in the README: polarity and relation ("did" versus "did
not", "Yes"/"No", who did what to whom) and numbers written as words.

``overlap`` is the share of a sentence's content terms a source contains; the
citer uses it to attribute a sentence the LLM left without a marker to the one
source that supports it best.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from service.analysis import asking_terms, stopwords, terms

_AMOUNT = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(million|billion|trillion|thousand|mn|bn|m|b|k)\b)?",
    re.I,
)
_SCALE = {"million": "million", "mn": "million", "m": "million", "billion": "billion", "bn": "billion", "b": "billion"}
_SCALE |= {"trillion": "trillion", "thousand": "thousand", "k": "thousand"}
_MONTHS = {
    m[:3]: m for m in "january february march april may june july august september october november december".split()
} | {"sept": "september"}
_DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_MONTH_WORD = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|may(?=\s+\d)|(?<=\d\s)may)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?u)\b[A-Z][\w'’.&-]*")
_NAME_LABELS = frozenset("PERSON ORG GPE LOC NORP FAC EVENT PRODUCT WORK_OF_ART LAW".split())
# Typographic quotes, dashes and no-break spaces to their plain forms (service.citations folds with it too).
FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\u00a0": " "})


def fold(text: str) -> str:
    """Lower case, no diacritics, straight quotes, no dots inside acronyms ("U.S." -> "us")."""
    t = unicodedata.normalize("NFKD", text.translate(FOLD))
    t = "".join(ch for ch in t if not unicodedata.combining(ch)).lower()
    return re.sub(r"\b([a-z])\.(?=[a-z]\.|[a-z]\b)", r"\1", t).replace("'s ", " ")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", fold(text)))


def _number(whole: str, frac: str | None) -> str:
    value = whole.replace(",", "") + (frac or "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def amounts(text: str) -> set[str]:
    """Every number in ``text``, and with its scale when one follows ("175", "175 million")."""
    out: set[str] = set()
    for m in _AMOUNT.finditer(fold(text)):
        number = _number(m.group(1), m.group(2))
        out.add(number)
        if m.group(3):
            out.add(f"{number} {_SCALE[m.group(3).lower()]}")
    return out


def _claimed_amounts(text: str) -> set[str]:
    """The most specific form of each number: with its scale when it has one."""
    out: set[str] = set()
    for m in _AMOUNT.finditer(fold(text)):
        number = _number(m.group(1), m.group(2))
        out.add(f"{number} {_SCALE[m.group(3).lower()]}" if m.group(3) else number)
    return out


def months(text: str) -> set[str]:
    """Month names in ``text``, abbreviations spelled out ("May" only beside a number: it is also a verb)."""
    return {
        _MONTHS.get(m.group(1).lower(), _MONTHS.get(m.group(1).lower()[:3], "")) for m in _MONTH_WORD.finditer(text)
    }


@lru_cache(maxsize=1)
def _nlp():
    from indexing.nlp import load_pipeline

    return load_pipeline()


def warm() -> None:
    """Load the entity model now (LLM mode calls this at start-up, not on the first question)."""
    _nlp()


def names(text: str) -> set[str]:
    """Words of the proper names in ``text``: NER entities, then capitalised words after the first."""
    out: set[str] = set()
    doc = _nlp()(text)
    covered: list[tuple[int, int]] = []
    for ent in doc.ents:
        if ent.label_ in _NAME_LABELS:
            out |= _words(ent.text)
            covered.append((ent.start_char, ent.end_char))
    stop = stopwords()
    for m in _CAPITALISED.finditer(text):
        if m.start() == 0 or any(s <= m.start() < e for s, e in covered):
            continue
        if text[: m.start()].rstrip().endswith((".", "!", "?", ":", '"', "“")):
            continue  # a sentence start inside the text, not a name
        out |= {w for w in _words(m.group(0)) if w not in stop}
    stop_or_month = stop | set(_MONTHS.values()) | _DAYS
    return {w for w in out if w not in stop_or_month and not w.isdigit() and len(w) > 1}


@dataclass(frozen=True)
class Claims:
    """What a sentence states that must be found in its sources."""

    amounts: frozenset[str]
    months: frozenset[str]
    days: frozenset[str]
    names: frozenset[str]

    def missing(self, sources: list[str]) -> list[str]:
        """The claims no source contains (empty: supported)."""
        have_amounts, have_words, have_months = _holds(" ".join(sources))
        out = [a for a in sorted(self.amounts) if a not in have_amounts]
        out += [m for m in sorted(self.months) if m not in have_months]
        out += [d for d in sorted(self.days) if d not in have_words]
        out += [n for n in sorted(self.names) if n not in have_words]
        return out


@lru_cache(maxsize=256)
def _holds(text: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """A source's amounts, words and months (the citer asks this of the same few
    sources for every sentence, and of each one again when attributing)."""
    return frozenset(amounts(text)), frozenset(_words(text)), frozenset(months(text))


def claims(sentence: str, question: str) -> Claims:
    """The numbers, amounts, dates and names of ``sentence`` that ``question`` does not state."""
    q_amounts, q_words, q_months = amounts(question), _words(question), months(question)
    words = _words(sentence)
    return Claims(
        amounts=frozenset(a for a in _claimed_amounts(sentence) if a not in q_amounts),
        months=frozenset(m for m in months(sentence) if m not in q_months),
        days=frozenset(d for d in words & _DAYS if d not in q_words),
        names=frozenset(n for n in names(sentence) if n not in q_words),
    )


def content_terms(text: str) -> set[str]:
    """Stemmed content terms, without the words questions are made of."""
    asking = asking_terms()
    return {t for t in terms(text) if t not in asking}


def overlap(sentence: str, source: str) -> float:
    """The share of the sentence's content terms found in the source (0 when it has none)."""
    mine = content_terms(sentence)
    return len(mine & set(terms(source))) / len(mine) if mine else 0.0
