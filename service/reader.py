"""The extractive reader: pick the sentence(s) that answer, the short answer, and
a calibrated confidence — offline, with no neural reader.

Everything expensive was done at index time (sentence bounds, entities,
sentence vectors); a question costs one embedding (done by the caller), one
Chroma ``get`` of sentence vectors, and arithmetic.

Scoring a candidate sentence (from the top retrieved passages):
- dense similarity of the sentence vector to the question vector;
- idf-weighted coverage of the question's terms by the sentence, and by its
  article context (title + passage);
- constraints the question states (years, quarters, numbers) found in the
  sentence or its context;
- whether it holds an entity of the expected answer type (who → PERSON/ORG,
  when → DATE, how much → MONEY, …) that is not already in the question.
The short answer is chosen by letting the best sentences vote for entities of
the expected type; the quote is the best sentence holding the winner.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from indexing.store import Store
from service.lexical import ChunkRow, LexicalIndex, _terms, stopwords, terms
from service.retrieval import Hit

READ_PASSAGES = 16
WINDOW = 60
ADJACENT = 20
ADJ_BONUS = 0.5
SENT_TEMP = 3.0
MERGE = False
PROPN_WEIGHT = 0.6
NAMED_PHRASE = True
VOTERS = 16

# Words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how much many name named date year day time place "
    "did does do was were is are will would has have had can could the a an".split()
)

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_QUARTER = re.compile(r"\b(q[1-4]|first quarter|second quarter|third quarter|fourth quarter)\b", re.I)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_QUARTER_WORDS = {"q1": "first quarter", "q2": "second quarter", "q3": "third quarter", "q4": "fourth quarter"}

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
    """What the reader needs to know about a question."""

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
    qwords = set(terms(" ".join(QUESTION_WORDS))) | QUESTION_WORDS
    content = [t for t in all_terms if t not in qwords]
    years = _YEAR.findall(question)
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


class Coverage:
    """Idf-weighted coverage of one term list, with the weights looked up once per question
    (the reader asks it a few hundred times per question)."""

    def __init__(self, q_terms: list[str], lexical: LexicalIndex) -> None:
        self.weights = [(t, lexical.weight(t)) for t in q_terms]
        self.total = sum(w for _, w in self.weights)

    def __call__(self, have: set[str] | frozenset[str], also: frozenset[str] = frozenset()) -> float:
        """Share of the weight found in ``have`` (or ``also``): ``_weighted_coverage`` without the lookups."""
        if not self.total:
            return 0.0
        return sum(w for t, w in self.weights if t in have or t in also) / self.total


@dataclass
class SentenceView:
    """What the reader needs of one sentence of a chunk, whatever the question."""

    start: int
    end: int
    text: str
    entities: list[tuple[int, int, str]]  # cleaned (clean_entities)
    terms: frozenset[str]
    tokens: list[tuple[int, str]]  # (offset in the sentence, stem) of every word: proximity
    proper: list[tuple[int, int, str]]  # capitalised runs the NER missed (proper_nouns)


@dataclass
class RowReading:
    """A chunk row's sentences analysed once and kept on the cached row: most of the
    reader's Python time was redoing this for the same rows question after question."""

    views: list[SentenceView]
    context_lower: str  # title, text and date, lower-cased: where constraints may be met


_WORD = re.compile(r"(?u)\b\w\w+\b")


def row_reading(row: ChunkRow) -> RowReading:
    """The row's analysis, made on first use."""
    if row.reading is None:
        from service.lexical import IRREGULAR, _stemmer

        views = []
        for s, e in row.sentences:
            text = row.text[s - row.start : e - row.start]
            ents = clean_entities(row.text, row.start, [ent for ent in row.entities if ent[0] >= s and ent[1] <= e])
            words = [(m.start(), m.group(0).lower()) for m in _WORD.finditer(text)]
            stems = _stemmer().stemWords([IRREGULAR.get(w, w) for _, w in words])
            tokens = [(pos, stem) for (pos, _), stem in zip(words, stems, strict=True)]
            views.append(SentenceView(s, e, text, ents, frozenset(terms(text)), tokens, _proper_runs(text, s, ents)))
        row.reading = RowReading(views, f"{row.title} {row.text} {row.published or ''}".lower())
    return row.reading


@dataclass
class Candidate:
    """A sentence of a retrieved passage, scored against the question."""

    hit: Hit
    doc_id: str
    start: int
    end: int
    text: str
    sim: float = 0.0
    coverage: float = 0.0
    context_coverage: float = 0.0
    constraints: float = 1.0
    typed: float = 0.0
    score: float = 0.0
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    view: SentenceView | None = None


@dataclass
class Reading:
    """The reader's choice: quote spans (doc_id, start, end), short answer, confidence."""

    quotes: list[tuple[str, int, int]]
    short: tuple[str, int, int] | None
    confidence: float
    best: Candidate | None = None
    features: dict[str, float] = field(default_factory=dict)
    # Every candidate sentence, best first (LLM mode numbers the top of this list).
    ranked: list[Candidate] = field(default_factory=list)


def _weighted_coverage(q_terms: list[str], have: set[str] | frozenset[str], lexical: LexicalIndex) -> float:
    """Share of the question's term weight (1 + idf) found in ``have`` (one-off; hot loops keep a ``Coverage``)."""
    return Coverage(q_terms, lexical)(have)


def _constraints(info: QuestionInfo, sentence: str, context: str) -> float:
    """1.0 when every stated year/quarter/number is in the sentence; partial credit for the context
    (both lower-cased)."""
    if not info.constraint_patterns:
        return 1.0
    score = 0.0
    for pattern in info.constraint_patterns:
        if pattern.search(sentence):
            score += 1.0
        elif pattern.search(context):
            score += 0.6
    return score / len(info.constraint_patterns)


_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}


@lru_cache(maxsize=8192)
def date_key(text: str) -> str | None:
    """'Oct 19, 2021', '19th October' and 'October 19, 2021' share tokens: 'm10 d19 y2021'."""
    month = _MONTH.search(text)
    year = _YEAR.search(text)
    parts = []
    if month:
        parts.append(f"m{_MONTHS[month.group(1).lower()[:3]]}")
        rest = _YEAR.sub("", text[: month.start()] + " " + text[month.end() :])
        day = re.search(r"\b([0-3]?\d)(?:st|nd|rd|th)?(?:\s*[-–]\s*([0-3]?\d))?\b", rest)
        if day and 1 <= int(day.group(1)) <= 31:
            parts.append(f"d{int(day.group(1))}" + (f"-{int(day.group(2))}" if day.group(2) else ""))
    if year:
        parts.append(f"y{year.group(1)}")
    return " ".join(parts) if parts else None


def _family(label: str) -> str:
    return "NAME" if label in ("PERSON", "PROPN") else label


@lru_cache(maxsize=8192)
def _norm_entity(text: str) -> str:
    t = unicodedata.normalize("NFKD", text)
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"^(the|a|an)\s+", "", t.strip().lower())
    t = re.sub(r"[’']s$", "", t)
    return re.sub(r"[^\w$%.,]+", " ", t).strip(" .,")


def clean_entities(text: str, base: int, ents: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Tidy NER spans: cut a dangling "(..." and join "Tampa, Florida"-style place pairs."""
    out: list[tuple[int, int, str]] = []
    for s, e, label in sorted(ents):
        piece = text[s - base : e - base]
        cut = piece.find(" (")
        if cut > 0:
            e = s + cut
        if out and label in ("GPE", "LOC") and out[-1][2] in ("GPE", "LOC"):
            gap = text[out[-1][1] - base : s - base]
            # "Tampa, Florida" is one place; "US, Ukrainian, and European" is a list.
            is_list = re.match(r",?\s+(and|or)\b|, [A-Z]", text[e - base : e - base + 8])
            if gap in (", ", ",") and not is_list:
                out[-1] = (out[-1][0], e, out[-1][2])
                continue
        out.append((s, e, label))
    return out


def candidates(hits: list[Hit], question_vector: np.ndarray, limit: int = READ_PASSAGES) -> list[Candidate]:
    """The sentences of the top passages, each with its dense similarity."""
    seen: dict[tuple[str, int, int], Candidate] = {}
    dim = len(question_vector)
    for hit in hits[:limit]:
        row = hit.row
        vectors = row.vectors(dim)
        sims = (vectors @ question_vector).tolist() if len(vectors) == len(row.sentences) else None
        for i, v in enumerate(row_reading(row).views):
            key = (row.doc_id, v.start, v.end)
            if key in seen:
                continue
            sim = sims[i] if sims is not None else hit.dense
            seen[key] = Candidate(
                hit=hit, doc_id=row.doc_id, start=v.start, end=v.end, text=v.text, entities=v.entities, sim=sim, view=v
            )
    return list(seen.values())


def score_candidates(info: QuestionInfo, cands: list[Candidate], cover: Coverage, top_score: float) -> None:
    """Fill in every candidate's features and score."""
    constrained = bool(info.constraint_patterns)
    for c in cands:
        row, view = c.hit.row, c.view
        c.coverage = cover(view.terms)
        c.context_coverage = cover(view.terms, row.terms)
        if constrained:
            c.constraints = _constraints(info, view.text.lower(), row_reading(row).context_lower)
        c.typed = 0.0
        for s, e, label in c.entities:
            weight = info.expected.get(label, 0.0)
            if weight and not set(_terms(c.text[s - c.start : e - c.start])) <= info.term_set:
                c.typed = max(c.typed, weight)
        passage = c.hit.score / top_score if top_score > 0 else 0.0
        c.score = (
            0.45 * c.sim
            + 0.30 * c.coverage
            + 0.10 * c.context_coverage
            + 0.10 * passage
            + (0.20 * c.typed if info.expected else 0.0)
            - 0.35 * (1.0 - c.constraints)
        )


_MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b", re.I)
_RELATIVE = re.compile(
    r"\b(last|next|this|ago|today|yesterday|tomorrow|early|late|mid|recent|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|week|weekend|season|annual|daily)\b",
    re.I,
)
_CONTINUES = re.compile(
    r"^\W*(in particular|it|its|this|these|they|their|he|she|his|her|that|those|such|also|additionally|"
    r"in addition|furthermore|moreover|specifically|including|the package|the agreement)\b",
    re.I,
)
_ELLIPSIS = re.compile(r"\.\.\.|…")
_WIN = re.compile(r"\b(win|won|winner|winning|champion|victory|title)\b", re.I)
_WINNER_AFTER = re.compile(
    r"^\W{0,3}(\(.{0,30}\)\s*)?(has |have |had )?(won|wins|win|beat|beats|defeated|defeats|claimed|clinched|captured|"
    r"triumphed|took|takes|secured|retained|edged|overcame|outlasted|sprinted to|claims|became|is the winner)\b",
    re.I,
)
_WINNER_BEFORE = re.compile(r"\b(lost to|defeated by|beaten by|won by|winner,?|champion,?|went to)\s*$", re.I)
_LOSER_BEFORE = re.compile(r"\b(beat|beats|beating|defeated|defeats|defeating|over|against|vs\.?|versus)\s*$", re.I)
_LOSER_AFTER = re.compile(r"^\W{0,3}(lost|loses|finished second|was beaten|runner-up)\b", re.I)


@lru_cache(maxsize=8192)
def date_quality(text: str) -> float:
    """How complete a date is: day, month and year beat a bare year or 'last week'."""
    month = _MONTH.search(text) or re.search(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", text)
    year = _YEAR.search(text)
    rest = _YEAR.sub("", _MONTH.sub("", text))
    day = re.search(r"\b\d{1,2}(st|nd|rd|th)?\b", rest)
    if month and day:
        return 1.0 if year else 0.85
    if month and year:
        return 0.85
    if year:
        return 0.6 if not _RELATIVE.search(text) else 0.3
    return 0.15


NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "PROPN", "PRODUCT", "WORK_OF_ART", "EVENT"})
_PROPER = re.compile(r"\b[A-Z][\w'’.-]*[\w](?:\s+(?:of\s+|de\s+|van\s+|von\s+)?[A-Z][\w'’.-]*[\w])*")


def _proper_runs(text: str, start: int, ents: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Capitalised word runs of a sentence (at ``start``) that no entity overlaps."""
    taken = [(s, e) for s, e, _ in ents]
    out = []
    for m in _PROPER.finditer(text):
        s, e = start + m.start(), start + m.end()
        if any(s < te and ts < e for ts, te in taken) or m.group(0).lower() in stopwords():
            continue
        out.append((s, e, "PROPN"))
    return out


def proper_nouns(c: Candidate, info: QuestionInfo) -> list[tuple[int, int, str]]:
    """Capitalised word runs the NER missed ("Rustem Umerov, Minister ..."), as weak PROPN candidates."""
    if not PROPN_WEIGHT or not ({"PERSON", "ORG"} & info.expected.keys()):
        return []
    return c.view.proper if c.view is not None else _proper_runs(c.text, c.start, c.entities)


def _inside_named_phrase(text: str, ls: int, le: int, q_terms: frozenset[str]) -> bool:
    """True when the entity is a word of a longer capitalised name the question uses:
    "Ukraine" in "Ukraine Defense Industrial Base Conference" does not answer a question about it."""
    after = re.match(r" ([A-Z][\w'’-]*)", text[le:])
    return bool(after and q_terms.intersection(_terms(after.group(1))))


def trim_entity(info: QuestionInfo, c: Candidate, ent: tuple[int, int, str]) -> tuple[int, int, str]:
    """Drop leading words of a PERSON span that the question itself used ("Defense Lloyd Austin")."""
    s, e, label = ent
    if label != "PERSON":
        return ent
    q_terms = info.term_set
    while True:
        m = re.match(r"\S+\s+", c.text[s - c.start : e - c.start])
        if not m or not set(terms(m.group(0))) <= q_terms or not terms(m.group(0)):
            return (s, e, label)
        s += m.end()


def pair_score(
    info: QuestionInfo, c: Candidate, ent: tuple[int, int, str], positions: list[tuple[int, str]], cover: Coverage
) -> float:
    """How well one entity of a sentence answers the question (0 when it cannot)."""
    s, e, label = ent
    if label == "PROPN":
        weight = PROPN_WEIGHT * max(info.expected.get("PERSON", 0.0), info.expected.get("ORG", 0.0))
    else:
        weight = info.expected.get(label, 0.0)
    if not weight:
        return 0.0
    text = c.text[s - c.start : e - c.start]
    ent_terms = set(_terms(text))
    if not ent_terms or ent_terms <= info.term_set:
        return 0.0
    if label in NAME_LABELS and NAMED_PHRASE and _inside_named_phrase(c.text, s - c.start, e - c.start, info.term_set):
        return 0.0
    if label == "DATE":
        weight *= date_quality(text)
    # Near what the question talks about: idf-weighted share of the question's
    # terms within a window around the entity; an ellipsis cuts the link.
    ls, le = s - c.start, e - c.start
    near, adjacent = set(), set()
    for pos, term in positions:
        lo, hi = (pos, ls) if pos < ls else (le, pos)
        if hi - lo <= WINDOW and not _ELLIPSIS.search(c.text[lo:hi]):
            near.add(term)
            if hi - lo <= ADJACENT:
                adjacent.add(term)
    weight *= 0.3 + 0.7 * cover(near)
    weight *= 1.0 + ADJ_BONUS * cover(adjacent)
    if _WIN.search(info.text) and label in ("PERSON", "ORG", "GPE", "NORP", "PROPN"):
        after, before = c.text[le : le + 40], c.text[max(0, ls - 25) : ls]
        if _WINNER_AFTER.search(after) or _WINNER_BEFORE.search(before):
            weight *= 2.0
        elif _LOSER_BEFORE.search(before) or _LOSER_AFTER.search(after):
            weight *= 0.35
    return weight


def vote(
    info: QuestionInfo, ranked: list[Candidate], cover: Coverage
) -> tuple[str, float, float, Candidate, tuple[int, int, str]] | None:
    """The entity most supported by the best sentences.

    Returns (key, its best pair score, share of all votes, best sentence holding it, its entity span).
    """
    if not info.expected:
        return None
    wanted = set(info.content_terms)
    # Each document votes once per entity (its best mention): redundancy across
    # sources is evidence, repetition inside one article is not.
    per_doc: dict[tuple[str, str], float] = {}
    raw: dict[str, float] = {}
    best_pair: dict[str, tuple[float, Candidate, tuple[int, int, str]]] = {}
    for c in ranked[:VOTERS]:
        sent_weight = math.exp(SENT_TEMP * (c.score - ranked[0].score))
        positions = [(pos, stem) for pos, stem in c.view.tokens if stem in wanted]
        for ent in c.entities + proper_nouns(c, info):
            ent = trim_entity(info, c, ent)
            w = pair_score(info, c, ent, positions, cover)
            if w <= 0:
                continue
            text = c.text[ent[0] - c.start : ent[1] - c.start]
            key = (date_key(text) if ent[2] == "DATE" else None) or _norm_entity(text)
            per_doc[(c.doc_id, key)] = max(per_doc.get((c.doc_id, key), 0.0), w * sent_weight)
            if key not in best_pair or w * sent_weight > best_pair[key][0]:
                best_pair[key] = (w * sent_weight, c, ent)
            raw[key] = max(raw.get(key, 0.0), w)
    votes: dict[str, float] = defaultdict(float)
    for (_, key), v in per_doc.items():
        votes[key] += v
    if not votes:
        return None
    # A partial mention supports the fuller mention of the same kind that
    # contains it: "Biden" counts for "Joe Biden", "Nov 15" and "2020" for
    # "Nov. 15, 2020". Names merge from a single word only ("Tampa, Florida"
    # is not "Tampa Bay, Florida").
    words = {k: set(re.findall(r"\w+", k)) for k in votes}
    merged = dict(votes)
    for a in votes:
        fam = _family(best_pair[a][2][2])
        if fam != "DATE" and len(words[a]) > 1:
            continue
        supers = [b for b in votes if b != a and words[a] < words[b] and _family(best_pair[b][2][2]) == fam]
        if supers:
            merged[max(supers, key=lambda b: votes[b])] += votes[a]
    votes = merged
    key, best = max(votes.items(), key=lambda kv: kv[1])
    # Prefer a fuller mention of the winner of the same type when it has real
    # support of its own: "December 2015" over "2015", "Joe Biden" over "Biden".
    key_words = words[key]
    label = best_pair[key][2][2]
    fuller = [
        k for k in votes if k != key and key_words < words[k] and best_pair[k][2][2] == label and votes[k] >= 0.3 * best
    ]
    if fuller:
        key = max(fuller, key=lambda k: votes[k])
        best = votes[key]
    _, cand, ent = best_pair[key]
    return key, raw[key], best / sum(votes.values()), cand, ent


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# Logistic weights over the reader's evidence features: P(the corpus answers the
# question), fitted by ``python -m eval.bench.calibrate --label answerable`` on
# the RGB dev set and the seed golden set (compact feature subset; features not
# listed weigh 0). See docs/benchmarks.md for the in- and out-of-sample figures.
CONFIDENCE_WEIGHTS = {
    "bias": -1.74,
    "sim": 1.68,
    "coverage": 1.74,
    "neighbour_coverage": 3.15,
    "constraints": 0.06,
    "unknown_salient": -4.06,
    "salient_missing_neighbours": -1.26,
    "answer_strength": 0.71,
}


def _salient(question: str) -> set[str]:
    """Terms of capitalised words (not the first) and numbers: names and figures the question states."""
    out: set[str] = set()
    for i, m in enumerate(re.finditer(r"(?u)\b[\w-]+\b", question)):
        w = m.group(0)
        if (i > 0 and w[:1].isupper()) or any(ch.isdigit() for ch in w):
            out.update(terms(w))
    return out


def _neighbourhood_terms(c: Candidate) -> set[str]:
    """Terms of the sentence, the sentences just before and after it, and the title."""
    row = c.hit.row
    out = set(terms(row.title))
    bounds = row.sentences
    i = next((k for k, (s, e) in enumerate(bounds) if s == c.start and e == c.end), None)
    for k in (i - 1, i, i + 1) if i is not None else ():
        if 0 <= k < len(bounds):
            s, e = bounds[k]
            out.update(terms(row.text[s - row.start : e - row.start]))
    return out | set(terms(c.text))


def _bigrams(seq: list[str]) -> set[tuple[str, str]]:
    return set(zip(seq, seq[1:], strict=False))


def features(info: QuestionInfo, best: Candidate, winner: tuple | None, lexical: LexicalIndex) -> dict[str, float]:
    """The evidence the confidence is computed from."""
    unknown = {t for t in info.content_terms if t not in lexical.doc_freq}
    salient = _salient(info.text) & set(info.content_terms)
    sentence_terms = terms(best.text)
    q_pairs = _bigrams(info.content_terms)
    known_salient = [t for t in info.content_terms if t in salient and t not in unknown]
    known = [t for t in info.content_terms if t not in unknown]
    context_terms = set(sentence_terms) | best.hit.row.terms
    near = _neighbourhood_terms(best)
    return {
        "neighbour_coverage": _weighted_coverage(info.content_terms, near, lexical),
        "salient_missing_neighbours": _weighted_coverage(known_salient, set(known_salient) - near, lexical),
        "known_coverage": _weighted_coverage(known, set(sentence_terms), lexical) if known else 0.0,
        "known_context_coverage": _weighted_coverage(known, context_terms, lexical) if known else 0.0,
        "phrase": len(q_pairs & _bigrams(sentence_terms)) / len(q_pairs) if q_pairs else 1.0,
        "salient_missing_sentence": _weighted_coverage(
            known_salient, set(known_salient) - set(sentence_terms), lexical
        ),
        "salient_missing_context": _weighted_coverage(
            known_salient, set(known_salient) - set(sentence_terms) - best.hit.row.terms, lexical
        ),
        "sim": best.sim,
        "coverage": best.coverage,
        "context_coverage": best.context_coverage,
        "constraints": best.constraints,
        "unknown_salient": _weighted_coverage(info.content_terms, unknown & salient, lexical),
        "unknown_other": _weighted_coverage(info.content_terms, unknown - salient, lexical),
        "typed_no_answer": 1.0 if info.expected and not winner else 0.0,
        "answer_strength": min(1.5, winner[1]) if winner else 0.0,
        "answer_share": winner[2] if winner else 0.0,
    }


def confidence(feats: dict[str, float], weights: dict[str, float] = CONFIDENCE_WEIGHTS) -> float:
    """Calibrated probability that the chosen quote answers the question."""
    return _sigmoid(weights["bias"] + sum(weights.get(k, 0.0) * v for k, v in feats.items()))


def read(
    question: str, hits: list[Hit], *, store: Store, lexical: LexicalIndex, question_vector: np.ndarray
) -> Reading:
    """Choose the answering sentence(s) and short answer among the hits' sentences."""
    info = analyze(question)
    cands = candidates(hits, question_vector)
    if not cands:
        return Reading([], None, 0.0)
    cover = Coverage(info.content_terms, lexical)
    score_candidates(info, cands, cover, hits[0].score)
    ranked = sorted(cands, key=lambda c: -c.score)
    best, short = ranked[0], None
    winner = vote(info, ranked, cover)
    if winner:
        _, _, _, best, ent = winner
        short = (best.doc_id, ent[0], ent[1])
    feats = features(info, best, winner, lexical)
    quotes = [(best.doc_id, best.start, best.end)]
    follow = continuation(info, best, lexical) if not short else None
    if follow:
        quotes.append((best.doc_id, *follow))
    return Reading(quotes, short, confidence(feats), best, feats, ranked)


def continuation(info: QuestionInfo, best: Candidate, lexical: LexicalIndex) -> tuple[int, int] | None:
    """The next sentence, when it carries on the best one ("In particular, it includes ...")
    and holds question terms the best sentence lacks."""
    row = best.hit.row
    bounds = row.sentences
    i = next((k for k, (s, e) in enumerate(bounds) if s == best.start and e == best.end), None)
    if i is None or i + 1 >= len(bounds):
        return None
    s, e = bounds[i + 1]
    text = row.text[s - row.start : e - row.start]
    if not _CONTINUES.match(text):
        return None
    have = set(terms(best.text))
    both = have | set(terms(text))
    gain = _weighted_coverage(info.content_terms, both, lexical) - _weighted_coverage(info.content_terms, have, lexical)
    return (s, e) if gain > 0 else None
