"""Answer options: a quiz-style question that lists the answers to choose from.

"Which country hosted the summit? A) France B) Spain C) Italy", the same with one
option a line, "… : France, Spain, Italy or Germany?", or the request's ``options``.
Asked as one string, the options' words flood retrieval and the reader's term
coverage with the wrong answers: a quarter to a third of such questions were abstained
on, and right answers fell from 0.84 to 0.69 (docs/benchmarks.md, session 17). So the options are
read off (``split``), the stem is what is retrieved and read, and the options narrow
what may answer (``narrow``): only sentences that name an option are read -- the way a
question's dates narrow it (``service.time_scope``). (Only those naming exactly one,
where any did, held a gold answer less often on the calibration articles: a list that
names two options often is the answer.) When no retrieved sentence names an option,
nothing is narrowed and the question is read as its stem. ``OptionChooser`` makes the
option the chosen sentence names the short answer, as the article writes it, and gives
the answer its quiz confidence (``QuizCalibration``).

Rules over the question's surface, on purpose: quiz layouts are few and regular.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from service.answer_model import AnswerModel
from service.reader import read_artifact, sigmoid
from service.retrieval import Retrieved
from service.schemas import MAX_OPTION_CHARS, MAX_OPTIONS, distinct_options
from service.stages import Answer, Offsets, Reading

# "A)", "(a)", "B.", "3:" -- a letter or number that marks an option, after a space or a line start.
_MARK = re.compile(r"(?:(?<=\s)|^)(?:\(([A-Ja-j]|10|[1-9])\)|([A-Ja-j]|10|[1-9])[.):])(?=\s)")
# "- France" / "* France" / "• France": a bullet at a line start.
_BULLET = re.compile(r"^\s*[-*•]\s+(.+?)\s*$")
# "…: France, Spain, Italy or Germany?" -- three or more after a colon or a dash.
_INLINE = re.compile(r"^(.+?)\s*(?::|\s[-–—])\s+(.+?)\s*\??$")
# Items are parted by a comma and a space ("1,000" is one number) and the last "or".
_COMMA = re.compile(r",\s+")
_OR = re.compile(r"^(.+?)\s+or\s+(.+)$", re.I)
# The inline form's stem asks something ("In the statement: who, besides Umerov, signed?" lists nothing).
_ASKS = re.compile(r"\b(?:which|what|who|whom|whose|where|when|how|name|choose|pick)\b", re.I)
# What joins or ends an option in running text: "A) France, B) Spain or C) Italy?" (a
# full stop too, unless it ends an abbreviation: "Washington, D.C.").
_TAIL = re.compile(r"(?:[\s,;]+(?:or|and)?)+$|(?<!\b[A-Z])[\s,;?.]+$|[\s,;?]+$", re.I)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)


@dataclass(frozen=True)
class Options:
    """A question read as its stem and the answers it offers (none: not a quiz question)."""

    stem: str
    options: tuple[str, ...] = ()


def _clean(option: str) -> str:
    return _TAIL.sub("", option.strip()).strip()


def _sequence(marks: list[re.Match[str]]) -> list[re.Match[str]]:
    """The marks that run A, B, C … (or a, b, c / 1, 2, 3) from the first A-like one."""
    for i, m in enumerate(marks):
        first = m.group(1) or m.group(2)
        if first not in ("A", "a", "1"):
            continue
        out, expected = [m], first
        for n in marks[i + 1 :]:
            label = n.group(1) or n.group(2)
            expected = str(int(expected) + 1) if expected.isdigit() else chr(ord(expected) + 1)
            if label != expected or bool(n.group(1)) != bool(m.group(1)):
                break
            out.append(n)
        if len(out) >= 2:
            return out
    return []


def _marked(text: str) -> Options | None:
    marks = _sequence(list(_MARK.finditer(text)))
    if not marks:
        return None
    stem = text[: marks[0].start()].strip()
    ends = [m.start() for m in marks[1:]] + [len(text)]
    options = tuple(_clean(text[m.end() : e]) for m, e in zip(marks, ends, strict=True))
    if len(stem.split()) < 2 or not all(options):
        return None
    return Options(stem, options)


def _lines(text: str) -> Options | None:
    """A question line, then one option a line (bulleted or bare, each short)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-2] if len(lines) > 2 else []):
        if not line.endswith(("?", ":")):
            continue
        rest = [(_BULLET.match(x).group(1) if _BULLET.match(x) else x) for x in lines[i + 1 :]]
        if len(rest) >= 2 and all(len(x.split()) <= 12 and not x.endswith("?") for x in rest):
            return Options(" ".join(lines[: i + 1]), tuple(_clean(x) for x in rest))
    return None


def _inline(text: str) -> Options | None:
    m = _INLINE.match(" ".join(text.split()))
    if not m or len(m.group(1).split()) < 2 or not _ASKS.search(m.group(1)):
        return None
    *items, last = _COMMA.split(m.group(2))
    last = re.sub(r"^or\s+", "", last, flags=re.I) if items else last  # "…, Italy, or Germany"
    pair = _OR.match(last)
    items = [_clean(x) for x in [*items, *(pair.groups() if pair else (last,))]]
    if len(items) < 3 or not all(items) or any(len(x.split()) > 8 or re.search(r"[:;?]", x) for x in items):
        return None
    return Options(m.group(1).strip() + "?", tuple(items))


def split(question: str) -> Options:
    """The stem and the options a question lists (marked, one a line, or after a colon);
    the question itself and no options when it lists none."""
    for read in (_marked, _lines, _inline):
        found = read(question)
        if found and 2 <= len(found.options) <= MAX_OPTIONS:
            options = tuple(distinct_options([o[:MAX_OPTION_CHARS] for o in found.options]))
            if len(options) >= 2:
                return Options(found.stem, options)
    return Options(question)


@lru_cache(maxsize=256)
def _pattern(option: str) -> re.Pattern[str]:
    # "the Soviet Union" is named by "Soviet Union"; case and spacing are the writer's.
    core = _LEADING_ARTICLE.sub("", option.strip()) or option.strip()
    words = r"\s+".join(re.escape(w) for w in core.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.I)


def named(text: str, options: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Each option ``text`` names, with where (first mention): its words whole, in any case;
    an option found only inside another's mention ("United States" in "United States Navy")
    is not named. (A person's surname alone -- "Umerov" for "Rustem Umerov" -- was tried and
    left: a quote naming only "R. Nadal" does not show the option "Rafael Nadal".)"""
    found = {o: m.span() for o in options if (m := _pattern(o).search(text))}
    return {
        o: (s, e)
        for o, (s, e) in found.items()
        if not any(p != o and ps <= s and e <= pe and (pe - ps) > (e - s) for p, (ps, pe) in found.items())
    }


def narrow(retrieved: Retrieved, options: tuple[str, ...], passages: int) -> Retrieved:
    """``retrieved`` with reading narrowed to the sentences of its best ``passages`` that
    name an option; unchanged when none names one."""
    if not options:
        return retrieved
    naming = frozenset(
        (row.doc_id, s, e)
        for row in (hit.row for hit in retrieved.hits[:passages])
        for i, (s, e) in enumerate(row.sentences)
        if retrieved.admits(row, i) and named(row.text[s - row.start : e - row.start], options)
    )
    return replace(retrieved, only=naming) if naming else retrieved


QUIZ_CALIBRATION = Path(__file__).parent / "models" / "quiz-confidence.json"
QUIZ_FORMAT = "citeqa-quiz-confidence/1"
QUIZ_FEATURES = ("reader_logit", "names_option")


@dataclass(frozen=True)
class QuizCalibration:
    """P(the answer to a quiz question is right), from the reader's confidence and what
    the options add: a logistic fit on quiz versions of the calibration articles'
    questions (``python -m eval.bench.calibrate_quiz``). The reader's own confidence was
    fitted on questions that a third of the time have no answer in the articles and
    without options to check against; given options, an answer that names one is right
    far more often than it says (expected calibration error 0.38-0.39 on quizzes)."""

    bias: float
    weights: dict[str, float]
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> QuizCalibration:
        data = read_artifact(path or QUIZ_CALIBRATION, QUIZ_FORMAT)
        return cls(float(data["bias"]), {k: float(v) for k, v in data["weights"].items()}, data)

    def probability(self, feats: dict[str, float]) -> float:
        return sigmoid(self.bias + sum(w * feats[k] for k, w in self.weights.items()))


def quiz_features(confidence: float, names_option: bool) -> dict[str, float]:
    """The quiz confidence's inputs: the reader's confidence as log-odds, and whether the
    chosen quote names an option. (How many other options the read sentences name was
    tried as a third: weight 0.03 on the calibration articles, so left out.)"""
    p = min(max(confidence, 1e-4), 1 - 1e-4)
    return {"reader_logit": math.log(p / (1 - p)), "names_option": float(names_option)}


class OptionChooser:
    """Which option the chosen quote names, and how likely the answer is right.

    The option: the only one the quote names, or, when it names several ("the Secretary
    of Defense Lloyd Austin, the Secretary of Commerce Gina Raimondo" for who heads
    Commerce), the one the answer model reads as the answer (its start + end logit over
    each option's words); without a model, the one the reader's own short answer
    overlaps. The confidence: ``QuizCalibration`` where one was fitted for the reader
    (the default hybrid reader's), else the reader's own."""

    def __init__(self, model: AnswerModel | None = None, calibration: QuizCalibration | None = None) -> None:
        self.model = model
        self.calibration = calibration

    def choose(self, question: str, reading: Reading, retrieved: Retrieved, options: tuple[str, ...]) -> Reading:
        """The reading with its best answer's short answer set to the option its first
        quote names (left as it was when it names none, or none can be told apart) and,
        with a calibration, its confidence the quiz probability."""
        return self.evidence(question, reading, retrieved, options)[0]

    def evidence(
        self, question: str, reading: Reading, retrieved: Retrieved, options: tuple[str, ...]
    ) -> tuple[Reading, dict[str, float]]:
        """The reading and the features behind its quiz confidence (empty without options)."""
        best = reading.best
        if not options or best is None:
            return reading, {}
        doc_id, start, end = best.quotes[0]
        record = retrieved.records.get(doc_id)
        if record is None:
            return reading, {}
        sentence = record.text[start:end]
        found = named(sentence, options)
        spans = list(found.values())
        pick = spans[0] if len(spans) == 1 else None
        if len(spans) > 1:
            pick = self._pick(question, record.title, sentence, spans, best.short, start)
        short = Offsets(doc_id, start + pick[0], start + pick[1]) if pick else best.short
        feats = quiz_features(best.confidence, pick is not None)
        confidence = self.calibration.probability(feats) if self.calibration else best.confidence
        return Reading([Answer(best.quotes, short, confidence), *reading.answers[1:]]), feats

    def _pick(
        self,
        question: str,
        title: str,
        sentence: str,
        spans: list[tuple[int, int]],
        short: Offsets | None,
        start: int,
    ) -> tuple[int, int] | None:
        if self.model is not None:
            scores = self.model.span_scores(self.model.encode(question, title, sentence), spans)
            return spans[max(range(len(spans)), key=lambda i: scores[i])]
        if short is not None:
            over = [(s, e) for s, e in spans if s < short.end - start and short.start - start < e]
            if len(over) == 1:
                return over[0]
        return None
