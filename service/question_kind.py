"""What kind of answer a question wants: a fact (a phrase in the articles answers it),
yes/no, or a comparison of two sides. Quoting answers only the first; the other two
need a writing model (LLM mode), and in extractive mode get the quotes for each side
and no short answer (``service.answering``), never a made-up verdict.

Rules over the question's surface, on purpose: the kinds are few and their forms
regular ("Did ...?", "... A or B?", "between A and B", "A compared with B").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.analysis import asking_terms, terms

_AUX = (
    r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|must"
    r"|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|hasn't|haven't|hadn't|won't|wouldn't)"
)
_YES_NO = re.compile(rf"^{_AUX}\b", re.I)
# "between A and B" compares only after a word that says so ("between 1000 and 1300" is a period).
_BETWEEN = re.compile(
    r"\b(?:differences?|distinctions?|differ|compare[sd]?|comparison|choose|choice|contrast)\b.*?"
    r"\bbetween\s+(.+?)\s+and\s+(.+)$",
    re.I,
)
_VERSUS = re.compile(r"^(.+?)\s+(?:compared?\s+(?:to|with)|versus|vs\.?)\s+(.+)$", re.I)
_TEMPORAL = re.compile(
    rf"^{_AUX}\s+(.+?)\s+(?:before or after|after or before|before|after|earlier than|later than|sooner than)\s+(.+)$",
    re.I,
)
_BOTH = re.compile(r"\bboth\s+(.+?)\s+and\s+(.+?)(?:\s+(?:report|say|mention|agree|announce)\w*\b.*)?$", re.I)
_COMPARATIVE = re.compile(
    r"\b(more|less|fewer|larger|bigger|smaller|higher|lower|greater|earlier|later|sooner|older|newer|cheaper|"
    r"faster|slower|better|worse|first|last|most|least|longer|shorter)\b",
    re.I,
)
_LEADING = re.compile(rf"^(?:(?:how|what|which|who|whose|when|where|why)\b\s*)?(?:{_AUX}\b\s*)?", re.I)


@dataclass(frozen=True)
class QuestionKind:
    """``kind`` is "fact", "yes_no" or "comparison"; ``sides`` the two things a comparison
    (or a two-sided yes/no question) is about, as written."""

    kind: str
    sides: tuple[str, ...] = ()

    def side_terms(self) -> list[set[str]]:
        """Per side, the terms a quote must contain to speak for it: its names and
        numbers when it has any, else its content terms."""
        asking = asking_terms()
        out = []
        for side in self.sides:
            named = [w for i, w in enumerate(re.findall(r"[\w$%.-]+", side)) if w[:1].isupper() or w[:1].isdigit()]
            chosen = set(terms(" ".join(named))) or {t for t in terms(side) if t not in asking}
            if chosen:
                out.append(chosen)
        return out


def _side(text: str) -> str:
    return _LEADING.sub("", text.strip(" ,;:")).strip(" ,;:")


def _choice(text: str) -> tuple[str, str] | None:
    """ "..., A or B" / "Did A or B ...": the two alternatives, when "or" joins them."""
    if not re.search(r"\bor\b", text, re.I):
        return None
    part = text.rsplit(",", 1)[-1] if "," in text else text
    pieces = re.split(r"\s+or\s+", part, maxsplit=1, flags=re.I)
    if len(pieces) != 2:  # "or" before the last comma, or at an edge: no two alternatives here
        return None
    left, right = _side(pieces[0]), pieces[1].strip()
    if not left or not right:
        return None
    if "," not in text:
        # "Did the US or Ukraine sign first?": the alternatives are short; keep the last few words of each.
        left = " ".join(left.split()[-3:])
        right = " ".join(right.split()[:3])
    return left, right


def classify(question: str) -> QuestionKind:
    """The kind of ``question``, and its two sides when it has them."""
    q = " ".join(question.split()).rstrip("?!. ").strip()
    yes_no = bool(_YES_NO.match(q))
    for pattern in (_BETWEEN, _VERSUS):
        m = pattern.search(q)
        if m and _side(m.group(1)) and _side(m.group(2)):
            return QuestionKind("comparison", (_side(m.group(1)), _side(m.group(2))))
    if re.search(r"\b(?:before or after|after or before)\b", q, re.I):
        m = _TEMPORAL.match(q)
        if m:
            return QuestionKind("comparison", (_side(m.group(1)), _side(m.group(2))))
    choice = _choice(q)
    # "Did A or B ...?" / "Which was faster, A or B?" / "Was it higher in A or in B?": a comparative
    # must come before the "or" ("upper or lower bounds" names a pair, it does not compare one).
    before_or = re.split(r"\s+or\s+", q, maxsplit=1, flags=re.I)[0]
    if choice and (yes_no or _COMPARATIVE.search(before_or)):
        return QuestionKind("comparison", choice)
    if yes_no:
        m = _TEMPORAL.match(q) or _BOTH.search(q)
        return QuestionKind("yes_no", (_side(m.group(1)), _side(m.group(2))) if m else ())
    return QuestionKind("fact")
