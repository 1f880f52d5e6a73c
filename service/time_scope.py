"""When a question is asked, and what time it asks about: the ``TimeScope`` every
stage of a request reads.

- ``as_of``: the day the question is asked as of (the caller's, else the clock's
  today). When the caller gave it, articles published after it are not used;
  undated articles are kept.
- ``periods``: what the question states or implies (``service.periods``). A
  candidate sentence must fall in one of them — by a date in the sentence, else in
  its context (the title, the sentences either side), else by its article's
  published day — or it is never read (``fit``). Where no date is known at all
  the candidate stays, and the answer's confidence is scaled by
  ``UNDATED_CONFIDENCE`` (``adjust``).
- ``present``: a question about the present state (``service.recency``), where the
  newest source wins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from service.periods import Period, asks_present_state, question_periods, text_periods, without_periods

# An answer whose time could not be checked at all (undated article, no date near the
# sentence) for a question that names a period: its confidence is scaled by this.
UNDATED_CONFIDENCE = 0.6
# The year terms of a period are looked up in the lexical index up to this many years.
MAX_PERIOD_YEARS = 40


class Fit(Enum):
    IN = "in"  # a date in its own text places it in the asked period
    DATED = "dated"  # its article's published day does
    OUT = "out"  # its dates place it elsewhere
    UNKNOWN = "unknown"  # no date to go by (or only coarser ones: "2026" for "this week")


def _length(p: Period) -> int:
    return (p.end - p.start).days


@dataclass(frozen=True)
class TimeScope:
    """The time of one request; see the module docstring."""

    as_of: dt.date
    given: bool = False
    periods: tuple[Period, ...] = ()
    present: bool = False
    question: str = ""

    @classmethod
    def of(cls, question: str, as_of: dt.date | None, today: dt.date) -> TimeScope:
        """The scope of ``question`` asked as of ``as_of`` (None: ``today``, and no
        article is left out for its date)."""
        day = as_of or today
        periods = question_periods(question, day)
        present = not periods and asks_present_state(question)
        return cls(day, as_of is not None, periods, present, question)

    def reader_question(self, fits: dict[tuple[str, int, int], Fit]) -> str:
        """What the reader reads, once the periods are enforced here: the question
        without its relative expressions ("this week" is in no article's text), and
        without its stated dates too ("Who won … in 2025?" → "Who won …?") when some
        candidate is placed in the period by its article's published day: the dates
        did the work, and "2025" would count against a sentence that need not say it.
        Where no candidate is (an undated corpus) the stated date stays a word the
        reader matches, preferring sentences that state it over undated ones."""
        if not self.periods:
            return self.question
        dated = any(f is Fit.DATED for f in fits.values())
        return without_periods(self.question, self.as_of, relative_only=not dated)

    @property
    def as_of_day(self) -> int | None:
        """``as_of`` as YYYYMMDD when it filters, else None."""
        return int(self.as_of.strftime("%Y%m%d")) if self.given else None

    def day_ranges(self) -> list[tuple[int, int]]:
        """The periods as (first, last) YYYYMMDD ints."""
        return [(int(p.start.strftime("%Y%m%d")), int(p.end.strftime("%Y%m%d"))) for p in self.periods]

    def year_terms(self) -> list[str]:
        """Years a chunk may name to be in the periods (as index terms); none for long periods."""
        years = sorted({y for p in self.periods for y in p.years()})
        return [str(y) for y in years] if len(years) <= MAX_PERIOD_YEARS else []

    def _decide(self, dates: tuple[Period, ...]) -> str | None:
        """ "in" when a date at least as fine as an asked period falls in it; "coarse"
        when only coarser dates overlap ("2026" says nothing about "this week"); "out"
        when every date is outside every asked period; None without dates."""
        if not dates:
            return None
        coarse = False
        for d in dates:
            for p in self.periods:
                if d.overlaps(p):
                    if _length(d) <= _length(p):
                        return "in"
                    coarse = True
        return "coarse" if coarse else "out"

    def fit(self, sentence: str, context: tuple[str, ...], published: str | None, passage: str = "") -> Fit:
        """Whether a candidate sentence answers for the asked periods (IN when none is asked):
        its own dates decide; else a date in its context (title, the sentences either
        side) that falls in a period; else its article's published day; else (undated)
        a date in its passage that falls in a period; else OUT if only its context is
        dated, and elsewhere; else UNKNOWN."""
        if not self.periods:
            return Fit.IN
        own = self._decide(text_periods(sentence, published))
        if own == "in":
            return Fit.IN
        if own == "out":
            return Fit.OUT
        near = self._decide(tuple(d for text in context for d in text_periods(text, published)))
        if near == "in":
            return Fit.IN
        if published:
            day = dt.date.fromisoformat(published)
            return Fit.DATED if any(p.contains(day) for p in self.periods) else Fit.OUT
        # An undated article can still place itself through a date in its own text.
        around = self._decide(text_periods(passage)) if passage else None
        if around == "in":
            return Fit.IN
        if near == "out" and own is None and around != "coarse":
            return Fit.OUT
        return Fit.UNKNOWN

    def row_fit(self, row: Any, index: int) -> Fit:
        """``fit`` of sentence ``index`` of a chunk row (context: its title and the
        sentences either side of it in the chunk; the passage: the whole chunk)."""
        bounds = row.sentences

        def text(i: int) -> str:
            s, e = bounds[i]
            return row.text[s - row.start : e - row.start]

        context = [row.title] + [text(i) for i in (index - 1, index + 1) if 0 <= i < len(bounds)]
        return self.fit(text(index), tuple(context), row.published, row.text)

    def adjust(self, reading: Any, fits: dict[tuple[str, int, int], Fit]) -> Any:
        """The reading (``service.stages.Reading``) with the confidence of answers whose
        time is UNKNOWN scaled down."""
        if not self.periods:
            return reading
        answers = [
            replace(a, confidence=a.confidence * UNDATED_CONFIDENCE)
            if a.quotes and fits.get(tuple(a.quotes[0])) is Fit.UNKNOWN
            else a
            for a in reading.answers
        ]
        return replace(reading, answers=answers)
