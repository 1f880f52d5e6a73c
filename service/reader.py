"""The read stage: the trained answer model (``service.answer_model``) over the
sentences of the best passages.

1. Candidates: every sentence of the ``CITEQA_READER_PASSAGES`` best fused
   passages, once each; a sentence that is itself a question, or too short to
   state anything, is never an answer.
2. A cheap pre-rank (idf-weighted coverage of the question's terms by the
   sentence and its passage, and the passage's fused score) keeps the
   ``CITEQA_READER_CANDIDATES`` best; the model reads those in one batch.
3. Candidates are ranked by a logistic combination of the model's answer logit
   and the pre-rank score, and the best one's combined score becomes a
   calibrated probability that the answer is right (Platt scaling); both fits
   live in ``service/models/reader-calibration.json``, made by
   ``python -m eval.bench.calibrate_reader`` on the calibration articles.
4. The short answer is the model's span, widened to whole words, with a currency
   sign or per-cent sign beside it kept; the next sentence is quoted too when the
   span runs to the end of the sentence and the next one carries it on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from indexing.corpus import MARKDOWN_HEADING
from service.analysis import analyze
from service.answer_model import AnswerModel, Scored
from service.conflicts import PERSON_TITLE
from service.retrieval import ChunkRow, Retrieved
from service.rule_reader import Candidate, Ranking, RuleReader, row_reading
from service.settings import ReaderSettings
from service.stages import MAX_QUOTES, Answer, Offsets, Reading

CALIBRATION = Path(__file__).parent / "models" / "reader-calibration.json"
FORMAT = "citeqa-reader-calibration/1"

# "In particular, it includes ..." carries the sentence before it on.
_CONTINUES = re.compile(
    r"^\W*(in particular|it|its|this|these|they|their|he|she|his|her|that|those|such|also|additionally|"
    r"in addition|furthermore|moreover|specifically|including)\b",
    re.I,
)
_WORD = re.compile(r"\w")
_BEFORE = "$£€¥"
_AFTER = "%"


def sigmoid(z: float) -> float:
    """The logistic function of a fitted calibration (0 far below, where exp would overflow)."""
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


def read_artifact(path: Path, fmt: str) -> dict:
    """A fitted artifact's JSON, refused unless it declares ``fmt``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != fmt:
        raise ValueError(f"{path}: not a {fmt} file (format {data.get('format')!r})")
    return data


@dataclass(frozen=True)
class Calibration:
    """How candidates are ranked and how the best one's score becomes P(right): a
    versioned artifact fitted on the calibration articles.

    ``rank = w_logit * logit + w_prerank * prerank`` orders the candidates (a logistic
    fit of "this sentence holds a gold answer"); ``P(right) = sigmoid(a * rank + b)``
    is the confidence of the best one (a Platt fit of "the answer given is right");
    ``threshold`` is the abstention threshold the card's rule chose."""

    w_logit: float
    w_prerank: float
    a: float
    b: float
    threshold: float
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Calibration:
        """Read a file written by ``python -m eval.bench.calibrate_reader``."""
        data = read_artifact(path or CALIBRATION, FORMAT)
        rank, conf = data["rank"], data["confidence"]
        return cls(
            float(rank["logit"]),
            float(rank["prerank"]),
            float(conf["a"]),
            float(conf["b"]),
            float(data["threshold"]),
            data,
        )

    def rank(self, logit: float, prerank: float) -> float:
        """The ranking score of one candidate."""
        return self.w_logit * logit + self.w_prerank * prerank

    def probability(self, rank: float) -> float:
        """P(right) of an answer with this ranking score."""
        return sigmoid(self.a * rank + self.b)


@dataclass
class _Candidate:
    row: ChunkRow
    index: int  # position in row.sentences
    start: int
    end: int
    text: str
    prerank: float = 0.0


def snap(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` widened to whole words, with a currency sign before it or a
    per-cent sign after it kept ("$3.98", "12%"), and trimmed of spaces and
    punctuation at its edges."""
    while start > 0 and _WORD.match(text[start - 1]) and _WORD.match(text[start]):
        start -= 1
    while end < len(text) and _WORD.match(text[end]) and _WORD.match(text[end - 1]):
        end += 1
    while start < end and not (_WORD.match(text[start]) or text[start] in _BEFORE):
        start += 1
    while end > start and not (_WORD.match(text[end - 1]) or text[end - 1] in _AFTER + ")"):
        end -= 1
    if start > 0 and text[start - 1] in _BEFORE:
        start -= 1
    if end < len(text) and text[end] in _AFTER:
        end += 1
    if end > start and text[end - 1] == ")" and "(" not in text[start:end]:
        end -= 1
    return start, end


def _is_statement(text: str) -> bool:
    """Not a question, not a Markdown heading, at least three words."""
    return not text.rstrip().endswith("?") and not MARKDOWN_HEADING.match(text) and len(text.split()) >= 3


class ModelReader:
    """The read stage as a trained cross-encoder with calibrated confidence."""

    def __init__(
        self, settings: ReaderSettings, model: AnswerModel | None = None, calibration: Calibration | None = None
    ) -> None:
        self.settings = settings
        self.model = model or AnswerModel()
        self.calibration = calibration or Calibration.load(settings.reader_calibration)
        self.threshold = self.calibration.threshold

    def candidates(self, question: str, retrieved: Retrieved) -> list[_Candidate]:
        """The pre-ranked candidate sentences, best first (at most ``reader_candidates``)."""
        info = analyze(question)
        lexical = retrieved.lexical
        weights = {t: lexical.weight(t) for t in info.content_terms}
        total = sum(weights.values()) or 1.0
        hits = retrieved.hits[: self.settings.reader_passages]
        top = hits[0].score if hits and hits[0].score > 0 else 1.0
        seen: dict[tuple[str, int, int], _Candidate] = {}
        for hit in hits:
            row = hit.row
            passage = hit.score / top
            views = row_reading(row).views
            for i, (s, e) in enumerate(row.sentences):
                key = (row.doc_id, s, e)
                text = row.text[s - row.start : e - row.start]
                # a row of figures: the cached sentence analysis says so once per chunk
                if key in seen or views[i].figures or not _is_statement(text) or not retrieved.admits(row, i):
                    continue
                have = views[i].terms
                coverage = sum(w for t, w in weights.items() if t in have) / total
                context = sum(w for t, w in weights.items() if t in row.terms) / total
                seen[key] = _Candidate(row, i, s, e, text, 0.6 * coverage + 0.2 * context + 0.2 * passage)
        ranked = sorted(seen.values(), key=lambda c: -c.prerank)
        return ranked[: self.settings.reader_candidates]

    def read(self, question: str, retrieved: Retrieved) -> Reading:
        """Ranked answers, each with its calibrated probability of being right."""
        cands, scored = self.scored(question, retrieved)
        ranks = [self.calibration.rank(s.logit, c.prerank) for s, c in zip(scored, cands, strict=True)]
        order = sorted(range(len(cands)), key=lambda i: -ranks[i])
        return Reading([self._answer(cands[i], scored[i], ranks[i]) for i in order])

    def scored(self, question: str, retrieved: Retrieved) -> tuple[list[_Candidate], list[Scored]]:
        """The pre-ranked candidates and the model's reading of each (one batch); what
        calibration fits on."""
        cands = self.candidates(question, retrieved)
        items = [self.model.encode(question, c.row.title, c.text, self._previous(c)) for c in cands]
        return cands, self.model.score(items)

    @staticmethod
    def _previous(c: _Candidate) -> str:
        if c.index == 0:
            return ""
        s, e = c.row.sentences[c.index - 1]
        return c.row.text[s - c.row.start : e - c.row.start]

    def _answer(self, c: _Candidate, scored: Scored, rank: float) -> Answer:
        quotes = [Offsets(c.row.doc_id, c.start, c.end)]
        short = None
        if scored.span is not None:
            a, b = snap(c.text, *scored.span)
            if b > a:
                short = Offsets(c.row.doc_id, c.start + a, c.start + b)
                if len(c.text[b:].strip(" .;:,")) == 0:  # the span runs on past this sentence
                    follow = self._next(c)
                    if follow:
                        quotes.append(follow)
        return Answer(tuple(quotes), short, self.calibration.probability(rank))

    @staticmethod
    def _next(c: _Candidate) -> Offsets | None:
        if c.index + 1 >= len(c.row.sentences):
            return None
        s, e = c.row.sentences[c.index + 1]
        text = c.row.text[s - c.row.start : e - c.row.start]
        return Offsets(c.row.doc_id, s, e) if _CONTINUES.match(text) else None


HYBRID_CALIBRATION = Path(__file__).parent / "models" / "hybrid-confidence.json"
HYBRID_FORMAT = "citeqa-hybrid-confidence/2"


@dataclass(frozen=True)
class HybridChoice:
    """Which of the rules' best sentences the hybrid reader answers with: the ``pool``
    best-ranked sentences and the rules' own choice are read by the answer model, and
    the one with the highest ``weights · (model_logit, rules_score, rules_choice)`` wins
    (a logistic fit of "this sentence holds a gold answer" on the calibration articles)."""

    pool: int
    weights: dict[str, float]  # "model_logit", "rules_score", "rules_choice"

    def preference(self, logit: float, rules_score: float, rules_choice: bool) -> float:
        w = self.weights
        return w["model_logit"] * logit + w["rules_score"] * rules_score + w["rules_choice"] * float(rules_choice)


@dataclass(frozen=True)
class HybridCalibration:
    """The hybrid reader's fitted parts, one versioned artifact made by ``python -m
    eval.bench.calibrate_hybrid`` on the calibration articles: ``choice`` (which
    sentence) and logistic weights over the rule reader's evidence features, the
    answer model's logit for the chosen sentence and the choice's own evidence
    (``rules_choice``, ``choice_margin``): P(the answer is right)."""

    bias: float
    weights: dict[str, float]  # rule features, "model_logit", "rules_choice", "choice_margin"
    threshold: float
    choice: HybridChoice
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> HybridCalibration:
        """Read a file written by ``python -m eval.bench.calibrate_hybrid``."""
        data = read_artifact(path or HYBRID_CALIBRATION, HYBRID_FORMAT)
        choice = HybridChoice(int(data["choice"]["pool"]), {k: float(v) for k, v in data["choice"]["weights"].items()})
        return cls(
            float(data["bias"]),
            {k: float(v) for k, v in data["weights"].items()},
            float(data["threshold"]),
            choice,
            data,
        )

    @property
    def rule_features(self) -> frozenset[str]:
        return frozenset(self.weights) - set(HYBRID_OWN)

    def probability(self, feats: dict[str, float]) -> float:
        """P(right) from the features (the rule reader's and the hybrid's own)."""
        return sigmoid(self.bias + sum(w * feats.get(k, 0.0) for k, w in self.weights.items()))


# The confidence features the hybrid reader adds to the rule reader's.
HYBRID_OWN = ("model_logit", "rules_choice", "choice_margin")


@dataclass
class PoolEntry:
    """One sentence of the hybrid reader's pool, as the answer model read it."""

    candidate: Candidate
    scored: Scored
    rules_choice: bool
    rank: int  # its place in the rules' ranking


class HybridReader:
    """The rules rank the sentences and vote for a short answer; the answer model reads
    their best few (``HybridChoice.pool``) and the rules' own choice in one batch, and a
    fitted preference over the model's logit, the rules' score and the rules' choice
    picks the sentence. The short answer is the model's span in it, or the rules' entity
    where the span is no clean answer (``short_order``); the confidence joins the rules'
    evidence for the pick, the model's logit and the choice's margin
    (``HybridCalibration``). Alone, the model picks topical non-answers on news and the
    rules pick near misses that share the question's words; on the calibration articles
    the pick holds a gold answer for 0.75 of answerable questions, against 0.65 for the
    rules' choice (docs/reader-model.md, session 14)."""

    def __init__(
        self,
        rules: RuleReader,
        model: AnswerModel | None = None,
        calibration: HybridCalibration | None = None,
    ) -> None:
        self.rules = rules
        self.model = model or AnswerModel()
        self.calibration = calibration or HybridCalibration.load()
        self.threshold = self.calibration.threshold

    def read(self, question: str, retrieved: Retrieved) -> Reading:
        """The chosen answer with its confidence first, then the rules' other sentences."""
        return self.evidence(question, retrieved, self.calibration.rule_features)[0]

    def pool(self, question: str, ranking: Ranking, size: int) -> list[PoolEntry]:
        """The ``size`` best-ranked sentences and the rules' own choice, read by the model in one batch."""
        shortlist = ranking.shortlist(size)
        asked = model_question(question)
        scored = self.model.score(
            [self.model.encode(asked, c.hit.row.title, c.text, context_sentence(c)) for _, c in shortlist]
        )
        own = ranking.choice
        return [PoolEntry(c, s, c is own, rank) for (rank, c), s in zip(shortlist, scored, strict=True)]

    def evidence(
        self, question: str, retrieved: Retrieved, names: frozenset[str] | None = None
    ) -> tuple[Reading, dict[str, float]]:
        """The reading and every feature behind its confidence (``names`` of the rules' or all)."""
        ranking = self.rules.rank(question, retrieved)
        if ranking is None:
            return Reading([]), {}
        choice = self.calibration.choice
        entries = self.pool(question, ranking, choice.pool)
        prefs = [choice.preference(e.scored.logit, e.candidate.score, e.rules_choice) for e in entries]
        # "Who will pay for the bridge?" is not answered by what it costs ("80 million", logit
        # 2.7 against 1.2 for "The regional government will pay …"): a sentence whose span is
        # only an amount is passed over for a who-question while another may be picked. No
        # pick of the calibration articles, the seed sets or RGB dev is such (224, 78 and 28
        # who-questions): a type rule, not a fit.
        who = bool(_ASKS_WHO.search(question))
        allowed = [i for i, e in enumerate(entries) if not (who and _amount_only(e))]
        pick = max(allowed or range(len(entries)), key=lambda i: prefs[i])
        margin = prefs[pick] - max((p for i, p in enumerate(prefs) if i != pick), default=prefs[pick])
        entry = entries[pick]
        reading, feats = self.rules.reading_for(ranking, entry.candidate, retrieved, names)
        feats = {
            **feats,
            "model_logit": entry.scored.logit,
            "rules_choice": float(entry.rules_choice),
            "choice_margin": margin,
        }
        best, c = reading.answers[0], entry.candidate
        spans = []
        post = post_span(c.text, question)
        if post is not None:
            spans.append(post)  # asked for a person's post: the one stated beside the name
        entity = span = None
        if best.short is not None:
            # the rules' entity, with a currency or per-cent sign beside it kept ("$3.98", not "3.98")
            entity = snap(c.text, best.short.start - c.start, best.short.end - c.start)
        if entry.scored.span is not None:
            a, b = snap(c.text, *entry.scored.span)
            if 0 < b - a < len(c.text.strip()) - 1:  # the whole sentence is no short answer
                span = (a, b)
        winner = ranking.winner
        strong = (
            (winner is not None and winner[3] is c and winner[1] >= STRONG_VOTE)
            or bool(_ASKS_COUNTRY.search(question))
            or (entity is not None and span is not None and _measure_for_count(question, c.text, entity, span))
        )
        # the model's span cut from a list of names is shown whole (once it is chosen: whole, it
        # would hold the rules' entity it was chosen over)
        shown = spans + [whole_list(c.text, s) if s == span else s for s in short_order(c.text, entity, span, strong)]
        # The answer-type checks read the rules' entity first, as they were written against it.
        checked = spans + [s for s in (entity, span) if s is not None]
        short, typed = _first_answer(c, shown, question), _first_answer(c, checked, question)
        quotes = best.quotes
        confidence = self.calibration.probability(feats)
        said = attribution_sentence(c)
        if said is not None:
            # A sentence inside a quotation is shown with the sentence naming its speaker; asked
            # who said it, a span inside the quotation is no short answer. A speaker the
            # question rules out ("… said British Foreign Secretary David Cameron" for Russia's
            # minister) makes the words someone else's.
            quotes = tuple(dict.fromkeys((*quotes, said)))[:MAX_QUOTES]
            if short is not None and _asks_speaker(question, retrieved) and short.start >= _quoted_from(c):
                short = typed = None
            row = c.hit.row
            index = next((i for i, b in enumerate(row.sentences) if tuple(b) == (said.start, said.end)), None)
            if index is not None and not retrieved.admits(row, index):
                confidence = 0.0
        answer = Answer(quotes, short, confidence, typed if typed != short else None)
        # Only the choice is scored; the rest keep the rules' order, below it.
        rest = [Answer(a.quotes, a.short, min(a.confidence, answer.confidence)) for a in reading.answers[1:]]
        return Reading([answer, *rest]), feats


_ASKS_WHO = re.compile(r"^\W*(?:who|whom|whose)\b", re.I)
_AMOUNT_ONLY = re.compile(
    r"^\W*(?:about|around|nearly|almost|over|more\s+than|less\s+than|up\s+to)?\s*[$£€¥]?\s*\d[\d.,]*\s*"
    r"(?:%|per\s*cent|percent|thousand|million|billion|trillion|euros?|dollars?|pounds?)?\W*$",
    re.I,
)


def _amount_only(entry: PoolEntry) -> bool:
    """Whether the model's span in a pool entry's sentence is only a number or an amount."""
    if entry.scored.span is None:
        return False
    text = entry.candidate.text
    a, b = snap(text, *entry.scored.span)
    return bool(_AMOUNT_ONLY.match(text[a:b]))


# "What post does David Cameron hold?", "What is Rustem Umerov's official title?": a person's
# present post, asked as SQuAD seldom asks it. The model reads such a sentence ("British Foreign
# Secretary David Cameron, during a visit …") as no answer to it (logit -1.5) and as the answer
# to "Who is David Cameron?" (0.2; Umerov's -1.5 and 1.7), and its span is then the post.
_NAME = r"(?P<name>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3})"
_POST = r"(?:post|position|title|role|job|office|cabinet\s+post|government\s+post|official\s+title)"
_ASKS_POST = (
    re.compile(
        rf"^\W*(?:[Ww]hat|[Ww]hich)\s+{_POST}\s+(?:does|do)\s+{_NAME}\s+(?:currently\s+|now\s+)?"
        r"(?:hold|have|occupy)\s*\?\s*$"
    ),
    re.compile(rf"^\W*[Ww]hat\s+is\s+{_NAME}[’']s\s+(?:current\s+|official\s+)?{_POST}\s*\?\s*$"),
)


def _post_asked(question: str) -> str | None:
    """The person whose present post the question asks for, or None."""
    for pattern in _ASKS_POST:
        m = pattern.match(question)
        if m:
            return m.group("name")
    return None


def model_question(question: str) -> str:
    """The question as the answer model reads it: a person's present post is asked "Who is …?"."""
    name = _post_asked(question)
    return f"Who is {name}?" if name else question


# A word for a post: the project's person titles ("who is the … minister" asks for a person),
# and some that are posts without asking for a name ("first lady", "deputy").
_ROLE = re.compile(rf"\b(?:{PERSON_TITLE}|lady|judge|justice|deputy|officer|representative)\b", re.I)
# A post beside the name: "US Secretary of Commerce Gina Raimondo", "Rustem Umerov, Minister of
# Defence of Ukraine,", "Ukraine’s first lady, Olena Zelenska".
_TITLE_BEFORE = re.compile(r"(?P<post>[A-Z][\w'’-]*(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w'’-]*)*)\s+$")
_APPOSITION_BEFORE = re.compile(r"(?:^|[,;:.—–]\s*)(?P<post>[^,;:.—–]{3,60}),\s*$")
_APPOSITION_AFTER = re.compile(r"^,\s*(?P<post>[^,;:.—–(]{3,80}?)\s*(?:[,;:.—–(]|$)")


def post_span(text: str, question: str) -> tuple[int, int] | None:
    """Where ``text`` states the post of the person a post question asks about (a
    ``_ROLE`` word beside the name), or None."""
    name = _post_asked(question)
    if not name:
        return None
    for full in dict.fromkeys((name, name.split()[-1])):
        at = text.find(full)
        if at < 0:
            continue
        end = at + len(full)
        # A title right before the name first: after it, ", the US Secretary of Commerce Gina
        # Raimondo," may be the next of a list.
        for pattern, piece, base in (
            (_TITLE_BEFORE, text[:at], 0),
            (_APPOSITION_AFTER, text[end:], end),
            (_APPOSITION_BEFORE, text[:at], 0),
        ):
            m = pattern.search(piece)
            if m and _ROLE.search(m.group("post")):
                return base + m.start("post"), base + m.end("post")
    return None


# The rules' pair score (``rule_reader.vote``: how closely the entity sits among the question's
# terms) from which their entity beats a model span elsewhere in the sentence: "Simona Halep"
# (1.72) for "Serena Williams" in a snippet naming both. No such disagreement on the calibration
# articles reaches it (the highest, 0.92, was the model's right "Istanbul").
STRONG_VOTE = 1.0
# A model span this many words longer than the entity inside it runs on past the answer
# ("Emma Raducanu won the 2021 US Open women's singles title by defeating Leylah Fernandez",
# "the coast of Estmark"); on the calibration articles the entity is as good or better from
# two words more.
_RUNS_ON = 1
# "Which country": the rules' place, which their country checks stand behind; the model's
# span names the town as often ("Belisk" for the earthquake that struck northern Corvania).
_ASKS_COUNTRY = re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:country|countries|nation|nations)\b", re.I)


# "How many floors": a count. A measure with its unit ("310 metres", the tower's height) answers
# another question (issue #18's "a height for 'how many'"), unless the unit is what is counted.
_ASKS_COUNT = re.compile(r"\bhow\s+many\s+(?P<noun>[a-z]+)|\bnumber\s+of\s+(?P<of>[a-z]+)", re.I)
_MEASURE = re.compile(
    r"\d[\d,.]*\s*-?\s*(?P<unit>metres?|meters?|km|kilomet(?:re|er)s?|miles?|feet|foot|ft|inch(?:es)?|cm|mm"
    r"|kg|kilo(?:gram)?s?|grams?|tonnes?|tons?|pounds?|lbs?|lit(?:re|er)s?|gallons?|degrees?|hectares?|acres?|mph)\b",
    re.I,
)


def _measure_for_count(question: str, text: str, entity: tuple[int, int], span: tuple[int, int]) -> bool:
    """Whether a count is asked and the model's span is a measure of something else while the
    rules' entity is no measure."""
    asked = _ASKS_COUNT.search(question)
    measure = _MEASURE.search(text[span[0] : span[1]])
    if asked is None or measure is None or _MEASURE.search(text[entity[0] : entity[1]]):
        return False
    counted = (asked.group("noun") or asked.group("of")).lower().rstrip("s")
    return not measure.group("unit").lower().startswith(counted[:4])


# A name of a list of names: capitalised words, with "of", "for", "the" … between them
# ("the Ministry for Strategic Industries of Ukraine", "US Commerce", "Defense Departments").
_NAME_WORDS = r"[A-Z][\w'’.&-]*(?:\s+(?:(?:of|for|on|de|du|the)\s+)*[A-Z][\w'’.&-]*)*"
_LIST_ITEM = re.compile(rf"(?:[Tt]he\s+)?{_NAME_WORDS}")
_LIST_SEP = re.compile(r"\s*(?:,\s*and|,|and)\s+")
_NEXT_ITEM = re.compile(rf"^(?:,\s*and|,|\s+and)\s+(?P<item>(?:the\s+)?{_NAME_WORDS})")


def _items(piece: str) -> list[str]:
    """The conjuncts of ``piece`` if every one is a name ("the White House and US Commerce and
    Defense Departments"), else []."""
    parts = _LIST_SEP.split(piece.strip())
    if len(parts) < 2 or not all(_LIST_ITEM.fullmatch(p) for p in parts):
        return []
    return parts


def _bare(name: str) -> str:
    return re.sub(r"^[Tt]he\s+", "", name.strip())


def whole_list(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` run on to the end of the list of names it is cut from: "the US Department of
    Defense, the Ministry of Defence of Ukraine" + ", and the Ministry for Strategic Industries
    of Ukraine" (the model's spans stop short of a list's last item). Only a span that is
    already a list of two names or more, separated by commas, is run on."""
    a, b = span
    if "," not in text[a:b] or not _items(text[a:b]):
        return span
    while (m := _NEXT_ITEM.match(text[b:])) is not None:
        b += m.end("item")
    return snap(text, a, b)


def short_order(
    text: str, entity: tuple[int, int] | None, span: tuple[int, int] | None, strong: bool
) -> list[tuple[int, int]]:
    """The short-answer spans of a sentence, the one to show first: the answer model's span
    ("Gina Raimondo", not the rules' "Commerce Gina Raimondo"; "frontlines", not "Ukraine"),
    unless it runs on past the rules' entity inside it, is one word of it ("Emma" of "Emma
    Stone"), or disagrees with an entity the rules hold ``strong``ly (``STRONG_VOTE``, a
    country asked for, or a count where the span is a measure). On the calibration articles'
    answered questions the model's span
    scores token F1 0.66 against 0.64 for the rules' entity first (session 22)."""
    if entity is None or span is None or entity == span:
        return list(dict.fromkeys(s for s in (entity, span) if s is not None))
    e_words = len(text[entity[0] : entity[1]].split())
    s_words = len(text[span[0] : span[1]].split())
    if span[0] <= entity[0] and entity[1] <= span[1]:
        # a list of names, the entity one of them, is the answer whole however long ("the White
        # House and US Commerce and Defense Departments"; not "Alphabet and Google CEO Sundar Pichai")
        runs_on = s_words > e_words + _RUNS_ON
        listed = runs_on and _bare(text[slice(*entity)]) in map(_bare, _items(text[slice(*span)]))
        first = entity if runs_on and not listed else span
    elif entity[0] <= span[0] and span[1] <= entity[1]:
        first = entity if s_words == 1 else span
    elif entity[1] <= span[0] or span[1] <= entity[0]:
        first = entity if strong else span
    else:  # overlapping in part: neither is a clean answer, the model's reads the sentence
        first = span
    return [first, entity if first == span else span]


def _first_answer(c: Candidate, spans: list[tuple[int, int]], question: str) -> Offsets | None:
    """The first span of ``c`` that is more than the question's own words ("the UK Singles
    Chart" for "What reached number one in the UK Singles Chart?" answers nothing)."""
    for a, b in spans:
        if not repeats_question(c.text[a:b], question):
            return Offsets(c.doc_id, c.start + a, c.start + b)
    return None


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "


def repeats_question(short: str, question: str) -> bool:
    """Whether a short answer is only words the question itself says, in its order."""
    words = _words(short)
    return words.strip() != "" and words in _words(question)


def previous_sentence(c: Candidate) -> str:
    """The sentence before a candidate in its chunk ("" for the first)."""
    row = c.hit.row
    before = [b for b in row.sentences if b[1] <= c.start]
    return row.text[before[-1][0] - row.start : before[-1][1] - row.start] if before else ""


# A quotation that runs over several sentences names its speaker once, after it closes:
# "“Together with our allies … in the years to come. That will mean …,” said US Secretary
# of Defense Lloyd Austin". Only a closing quote mark followed by a verb of saying counts.
_SAID = r"said|says|stated|added|commented|told|wrote|noted|explained|emphasi[sz]ed|warned|continued"
_ATTRIBUTION = re.compile(
    # Right after the mark ("…,” said X", "…,” according to X") or within a few words ("…,” X told reporters").
    rf"(?<=[,.!?—–-])[”\"]\s*,?\s*(?P<said>(?:(?:{_SAID}|states|adds|comments|writes|notes|according\s+to)\b)[^.!?]*"
    rf"|[^.!?”\"]{{0,80}}?\b(?:{_SAID})\b[^.!?]*)"
)
# Sentences after a candidate where the quotation's close is looked for.
QUOTE_SPAN = 3
_WHO_SAID = re.compile(
    r"^\W*who\s+(?:\w+\s+){0,2}?(?:said|says|told|tells|warned|warns|added|adds|stated|states|commented|wrote|noted"
    r"|explained|emphasi[sz]ed|urged|urges|argued|insisted|declared|called|described)\b",
    re.I,
)


def _asks_speaker(question: str, retrieved: Retrieved) -> bool:
    """Whether the question asks who said something ("Who warned …", "Which official told …")."""
    return bool(_WHO_SAID.match(question)) or (retrieved.specifiers is not None and retrieved.specifiers.person)


def _quoted_from(c: Candidate) -> int:
    """Where the quotation starts in the candidate's sentence (its start when it opened before)."""
    at = max(c.text.find("“"), c.text.find('"') if c.hit.row.start == 0 else -1)
    head = c.hit.row.text[: c.start - c.hit.row.start]
    if at < 0 or head.count("“") > head.count("”"):
        return c.start
    return c.start + at


def context_sentence(c: Candidate) -> str:
    """What the model reads before a candidate: the speaker of a quotation the candidate
    sits inside and that closes in a later sentence ("said US Secretary of Defense Lloyd
    Austin": "What did Austin say …" is about a sentence that never names him), else the
    sentence before it (``previous_sentence``)."""
    said = quotation_speaker(c)
    return said if said is not None else previous_sentence(c)


def quotation_speaker(c: Candidate) -> str | None:
    """The attribution of the quotation ``c`` sits inside, when the quotation closes in one
    of the next ``QUOTE_SPAN`` sentences of its chunk; None otherwise."""
    found = _attribution(c)
    return found[1] if found else None


def attribution_sentence(c: Candidate) -> Offsets | None:
    """Where the sentence naming the speaker of the quotation ``c`` sits inside is (see
    ``quotation_speaker``)."""
    found = _attribution(c)
    return Offsets(c.doc_id, *found[0]) if found else None


def _attribution(c: Candidate) -> tuple[tuple[int, int], str] | None:
    row = c.hit.row
    head = row.text[: c.start - row.start]
    own = c.text
    # Inside a quotation: one opened before the candidate (curly marks, or an odd count of
    # straight ones) or in it, and not closed in it.
    # Straight marks only in a chunk that starts the article: one that starts inside a
    # quotation would read every mark after it the wrong way round.
    straight = row.start == 0
    opened = head.count("“") > head.count("”") or (straight and head.count('"') % 2 == 1)
    if not opened and not (own.count("“") > own.count("”") or (straight and own.count('"') % 2 == 1)):
        return None
    if own.count("“") < own.count("”") or (opened and straight and own.count('"') % 2 == 1):
        return None  # the candidate closes it: its own attribution is in it
    after = [b for b in row.sentences if b[0] >= c.end][:QUOTE_SPAN]
    for s, e in after:
        text = row.text[s - row.start : e - row.start]
        m = _ATTRIBUTION.search(text)
        if m:
            return (s, e), m.group("said").strip()
        if "”" in text or '"' in text:
            return None  # closed without a speaker named after it
    return None
