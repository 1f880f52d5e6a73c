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

import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from indexing.corpus import MARKDOWN_HEADING
from service.analysis import YEAR, QuestionInfo, analyze, figures_only, salient, stopwords, terms, tokens
from service.lexical import LexicalIndex
from service.retrieval import ChunkRow, Hit, Retrieved
from service.settings import ReaderSettings
from service.stages import Answer, Offsets, Reading

# The confidence weights, fitted by ``python -m eval.bench.calibrate --write``: an artifact, never pasted.
CALIBRATION = Path(__file__).parent / "models" / "rule-confidence.json"


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
    figures: bool  # a row of figures, not a statement (figures_only)


@dataclass
class RowReading:
    """A chunk row's sentences analysed once and kept on the cached row: most of the
    reader's Python time was redoing this for the same rows question after question."""

    views: list[SentenceView]
    context_lower: str  # title, text and date, lower-cased: where constraints may be met


def row_reading(row: ChunkRow) -> RowReading:
    """The row's analysis, made on first use."""
    if row.reading is None:
        views = []
        for s, e in row.sentences:
            text = row.text[s - row.start : e - row.start]
            ents = clean_entities(row.text, row.start, [ent for ent in row.entities if ent[0] >= s and ent[1] <= e])
            views.append(
                SentenceView(
                    s,
                    e,
                    text,
                    ents,
                    frozenset(terms(text)),
                    tokens(text),
                    _proper_runs(text, s, ents),
                    figures_only(text),
                )
            )
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
    year = YEAR.search(text)
    parts = []
    if month:
        parts.append(f"m{_MONTHS[month.group(1).lower()[:3]]}")
        rest = YEAR.sub("", text[: month.start()] + " " + text[month.end() :])
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


def candidates(
    hits: list[Hit], question_vector: np.ndarray, limit: int, admit: Callable[[ChunkRow, int], bool] | None = None
) -> list[Candidate]:
    """The sentences of the top passages that ``admit`` lets answer (``Retrieved.admits``:
    the question's time), each with its dense similarity."""
    seen: dict[tuple[str, int, int], Candidate] = {}
    dim = len(question_vector)
    for hit in hits[:limit]:
        row = hit.row
        vectors = row.vectors(dim)
        sims = (vectors @ question_vector).tolist() if len(vectors) == len(row.sentences) else None
        for i, v in enumerate(row_reading(row).views):
            key = (row.doc_id, v.start, v.end)
            # A sentence that is itself a question (a heading, a quoted question), a Markdown
            # heading (a title in headline words, not a statement) or a row of figures never answers.
            if (
                key in seen
                or v.text.rstrip().endswith("?")
                or MARKDOWN_HEADING.match(v.text)
                or v.figures
                or (admit is not None and not admit(row, i))
            ):
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
            if weight and not set(terms(c.text[s - c.start : e - c.start])) <= info.term_set:
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
    year = YEAR.search(text)
    rest = YEAR.sub("", _MONTH.sub("", text))
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


def proper_nouns(c: Candidate, info: QuestionInfo, cfg: ReaderSettings) -> list[tuple[int, int, str]]:
    """Capitalised word runs the NER missed ("Rustem Umerov, Minister ..."), as weak PROPN candidates."""
    if not cfg.reader_propn_weight or not ({"PERSON", "ORG"} & info.expected.keys()):
        return []
    return c.view.proper if c.view is not None else _proper_runs(c.text, c.start, c.entities)


def _inside_named_phrase(text: str, ls: int, le: int, q_terms: frozenset[str]) -> bool:
    """True when the entity is a word of a longer capitalised name the question uses:
    "Ukraine" in "Ukraine Defense Industrial Base Conference" does not answer a question about it."""
    after = re.match(r" ([A-Z][\w'’-]*)", text[le:])
    return bool(after and q_terms.intersection(terms(after.group(1))))


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
    info: QuestionInfo,
    c: Candidate,
    ent: tuple[int, int, str],
    positions: list[tuple[int, str]],
    cover: Coverage,
    cfg: ReaderSettings,
) -> float:
    """How well one entity of a sentence answers the question (0 when it cannot)."""
    s, e, label = ent
    if label == "PROPN":
        weight = cfg.reader_propn_weight * max(info.expected.get("PERSON", 0.0), info.expected.get("ORG", 0.0))
    else:
        weight = info.expected.get(label, 0.0)
    if not weight:
        return 0.0
    text = c.text[s - c.start : e - c.start]
    ent_terms = set(terms(text))
    if not ent_terms or ent_terms <= info.term_set:
        return 0.0
    if label in NAME_LABELS and _inside_named_phrase(c.text, s - c.start, e - c.start, info.term_set):
        return 0.0
    if label == "DATE":
        weight *= date_quality(text)
    # Near what the question talks about: idf-weighted share of the question's
    # terms within a window around the entity; an ellipsis cuts the link.
    ls, le = s - c.start, e - c.start
    near, adjacent = set(), set()
    for pos, term in positions:
        lo, hi = (pos, ls) if pos < ls else (le, pos)
        if hi - lo <= cfg.reader_window and not _ELLIPSIS.search(c.text[lo:hi]):
            near.add(term)
            if hi - lo <= cfg.reader_adjacent:
                adjacent.add(term)
    weight *= 0.3 + 0.7 * cover(near)
    weight *= 1.0 + cfg.reader_adjacent_bonus * cover(adjacent)
    if _WIN.search(info.text) and label in ("PERSON", "ORG", "GPE", "NORP", "PROPN"):
        after, before = c.text[le : le + 40], c.text[max(0, ls - 25) : ls]
        if _WINNER_AFTER.search(after) or _WINNER_BEFORE.search(before):
            weight *= 2.0
        elif _LOSER_BEFORE.search(before) or _LOSER_AFTER.search(after):
            weight *= 0.35
    return weight


def vote(
    info: QuestionInfo, ranked: list[Candidate], cover: Coverage, cfg: ReaderSettings
) -> tuple[str, float, float, Candidate, tuple[int, int, str]] | None:
    """The entity most supported by the best sentences.

    Returns (key, its best pair score, share of all votes, best sentence holding it, its entity span).
    """
    if not info.expected:
        return None
    # A lone digit anchors nothing: "4" of "season 4" is near every date and number in
    # an article (counted as an anchor, RGB dev fell 0.80 -> 0.78).
    wanted = {t for t in info.content_terms if not (len(t) == 1 and t.isdigit())}
    # Each document votes once per entity (its best mention): redundancy across
    # sources is evidence, repetition inside one article is not.
    per_doc: dict[tuple[str, str], float] = {}
    raw: dict[str, float] = {}
    best_pair: dict[str, tuple[float, Candidate, tuple[int, int, str]]] = {}
    for c in ranked[: cfg.reader_voters]:
        sent_weight = math.exp(cfg.reader_vote_temperature * (c.score - ranked[0].score))
        positions = [(pos, stem) for pos, stem in c.view.tokens if stem in wanted]
        for ent in c.entities + proper_nouns(c, info, cfg):
            ent = trim_entity(info, c, ent)
            w = pair_score(info, c, ent, positions, cover, cfg)
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


def features(
    info: QuestionInfo,
    best: Candidate,
    winner: tuple | None,
    lexical: LexicalIndex,
    names: frozenset[str] | None = None,
) -> dict[str, float]:
    """The evidence the confidence is computed from: every feature, or only ``names``
    (a request computes just the weighted ones; calibration asks for all)."""
    unknown = {t for t in info.content_terms if t not in lexical.doc_freq}
    sal = salient(info.text) & set(info.content_terms)
    sentence_terms = terms(best.text)
    known_salient = [t for t in info.content_terms if t in sal and t not in unknown]
    known = [t for t in info.content_terms if t not in unknown]

    def near() -> set[str]:
        return _neighbourhood_terms(best)

    def phrase() -> float:
        q_pairs = _bigrams(info.content_terms)
        return len(q_pairs & _bigrams(list(sentence_terms))) / len(q_pairs) if q_pairs else 1.0

    # In this order: the confidence sums weights x features in it (float sums depend on order).
    every = {
        "neighbour_coverage": lambda: _weighted_coverage(info.content_terms, near(), lexical),
        "salient_missing_neighbours": lambda: _weighted_coverage(known_salient, set(known_salient) - near(), lexical),
        "known_coverage": lambda: _weighted_coverage(known, set(sentence_terms), lexical) if known else 0.0,
        "known_context_coverage": lambda: (
            _weighted_coverage(known, set(sentence_terms) | best.hit.row.terms, lexical) if known else 0.0
        ),
        "phrase": phrase,
        "salient_missing_sentence": lambda: _weighted_coverage(
            known_salient, set(known_salient) - set(sentence_terms), lexical
        ),
        "salient_missing_context": lambda: _weighted_coverage(
            known_salient, set(known_salient) - set(sentence_terms) - best.hit.row.terms, lexical
        ),
        "sim": lambda: best.sim,
        "coverage": lambda: best.coverage,
        "context_coverage": lambda: best.context_coverage,
        "constraints": lambda: best.constraints,
        "unknown_salient": lambda: _weighted_coverage(info.content_terms, unknown & sal, lexical),
        "unknown_other": lambda: _weighted_coverage(info.content_terms, unknown - sal, lexical),
        "typed_no_answer": lambda: 1.0 if info.expected and not winner else 0.0,
        "answer_strength": lambda: min(1.5, winner[1]) if winner else 0.0,
        "answer_share": lambda: winner[2] if winner else 0.0,
    }
    return {name: f() for name, f in every.items() if names is None or name in names}


FEATURES = (
    "neighbour_coverage salient_missing_neighbours known_coverage known_context_coverage phrase "
    "salient_missing_sentence salient_missing_context sim coverage context_coverage constraints "
    "unknown_salient unknown_other typed_no_answer answer_strength answer_share"
).split()


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over the reader's evidence features (a versioned JSON artifact)."""

    bias: float
    weights: dict[str, float]
    meta: dict

    @classmethod
    def load(cls, path: Path | None = None) -> Calibration:
        """Read a file written by ``python -m eval.bench.calibrate --write``."""
        data = json.loads((path or CALIBRATION).read_text(encoding="utf-8"))
        if data.get("format") != "citeqa-rule-confidence/1":
            raise ValueError(
                f"{path or CALIBRATION}: not a citeqa rule-confidence file (format {data.get('format')!r})"
            )
        unknown = set(data["weights"]) - set(FEATURES)
        if unknown:
            raise ValueError(f"{path or CALIBRATION}: unknown features {sorted(unknown)}")
        return cls(float(data["bias"]), {k: float(v) for k, v in data["weights"].items() if v}, data)

    @property
    def names(self) -> frozenset[str]:
        """The features with a weight: all a request computes."""
        return frozenset(self.weights)

    def confidence(self, feats: dict[str, float]) -> float:
        """Calibrated probability that the chosen quote answers the question."""
        return _sigmoid(self.bias + sum(self.weights.get(k, 0.0) * v for k, v in feats.items()))


class RuleReader:
    """The read stage as hand-written rules: sentences scored on dense similarity,
    term coverage, stated constraints and expected answer types; the best sentences
    vote for a short answer; a logistic calibration gives the confidence."""

    def __init__(self, settings: ReaderSettings, calibration: Calibration | None = None) -> None:
        self.settings = settings
        self.calibration = calibration or Calibration.load(settings.reader_calibration)
        self.threshold = float(self.calibration.meta.get("threshold", 0.65))

    def read(self, question: str, retrieved: Retrieved) -> Reading:
        """Ranked answers: the reader's choice first (quotes, short answer, confidence),
        then every other candidate sentence (confidence 0: only the choice is scored)."""
        return self.evidence(question, retrieved, self.calibration.names)[0]

    def evidence(
        self, question: str, retrieved: Retrieved, names: frozenset[str] | None = None
    ) -> tuple[Reading, dict[str, float]]:
        """The reading and the features behind its confidence (``names``, or all for calibration)."""
        ranking = self.rank(question, retrieved)
        if ranking is None:
            return Reading([]), {}
        return self.reading_for(ranking, ranking.choice, retrieved, names)

    def rank(self, question: str, retrieved: Retrieved) -> Ranking | None:
        """Every candidate sentence scored and ranked, and the vote for a short answer;
        None when no passage has a candidate."""
        info = analyze(question)
        cands = candidates(retrieved.hits, retrieved.vector, self.settings.reader_passages, retrieved.admits)
        if not cands:
            return None
        cover = Coverage(info.content_terms, retrieved.lexical)
        score_candidates(info, cands, cover, retrieved.hits[0].score)
        ranked = sorted(cands, key=lambda c: -c.score)
        return Ranking(info, ranked, vote(info, ranked, cover, self.settings))

    def reading_for(
        self, ranking: Ranking, best: Candidate, retrieved: Retrieved, names: frozenset[str] | None = None
    ) -> tuple[Reading, dict[str, float]]:
        """The reading with ``best`` as the choice (the rules' own choice, or one a
        caller preferred), and the features behind its confidence."""
        info, ranked, winner = ranking.info, ranking.ranked, ranking.winner
        short = Offsets(best.doc_id, winner[4][0], winner[4][1]) if winner and winner[3] is best else None
        feats = features(info, best, winner, retrieved.lexical, names)
        quotes = [Offsets(best.doc_id, best.start, best.end)]
        follow = continuation(info, best, retrieved.lexical) if not short else None
        if follow:
            quotes.append(Offsets(best.doc_id, *follow))
        choice = Answer(tuple(quotes), short, self.calibration.confidence(feats))
        others = [Answer((Offsets(c.doc_id, c.start, c.end),), None, 0.0) for c in ranked]
        return Reading([choice, *(a for a in others if a.quotes[0] != quotes[0])]), feats


@dataclass
class Ranking:
    """The rules' reading of one question before a choice: the candidates, best first,
    and the vote for a short answer (``vote``'s tuple, or None)."""

    info: QuestionInfo
    ranked: list[Candidate]
    winner: tuple[str, float, float, Candidate, tuple[int, int, str]] | None

    @property
    def choice(self) -> Candidate:
        """The rules' own choice: the best sentence holding the voted entity, else the best sentence."""
        return self.winner[3] if self.winner else self.ranked[0]

    def shortlist(self, size: int) -> list[tuple[int, Candidate]]:
        """(rank, sentence) of the ``size`` best-ranked sentences, and of the rules' own
        choice when it is not among them."""
        own = self.choice
        top = list(enumerate(self.ranked[:size]))
        if any(c is own for _, c in top):
            return top
        return [*top, next((i, c) for i, c in enumerate(self.ranked) if c is own)]


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
