"""Time in words: the periods a question states or implies, resolved against an as-of
day, and the dates a sentence of an article carries.

Every period is a closed range of days. The question's relative expressions, with
``A`` the as-of day (README, "Time"):

    today                          A
    yesterday                      A - 1
    this week, this past week,     A - 6 … A          (the 7 days up to A)
      the past week, in recent days,
      in the past/last few days
    last week                      A - 13 … A - 7     (the 7 days before those)
    this month                     the 1st of A's month … A
    last month                     the whole calendar month before A's
    this year, so far this year    1 January of A's year … A
    last year                      the whole calendar year before A's

Stated periods (in questions and in article text): a year (``2025``, ``in 2025``), a
decade (``the 1990s``), a quarter of a year (``the first quarter of 2025``, ``Q1
2025``), a month of a year (``March 2025``), a day (``March 5, 2025``, ``5 March
2025``, ``2025-03-05``, ``December 6-7, 2023``), a range (``between 2019 and 2021``,
``from 2019 to 2021``, ``2019-2021``) and, in a question only, ``since 2020`` (… A),
``before 2000`` / ``prior to 2000`` / ``until 2000`` (… 31 December 1999), ``after
2000`` (1 January 2001 … A) and a month without a year (``in March``: the latest
March that began by A). In
article text, ``this year`` and ``last year`` resolve against the article's
published day when it has one.

Hand-written rather than a date library: dateparser and dateutil turn one given
string into one moment; what is needed here is every expression in a sentence as a
range of days (a quarter, a year, "last week"), fast enough for every candidate of
every question (≈ 10 µs a sentence, cached).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# Every month's name and abbreviation, longest first, for a regex alternation.
MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH = r"(?P<month>" + MONTH_NAMES + r")\.?"
_YEAR = r"(?P<year>1[89]\d\d|20\d\d)"
# A year is a standalone 4-digit number: not part of 12,2021 / 2021.5 / $2021 / 2021%.
_Y = r"(?<![\d$£€.,/:])" + _YEAR + r"(?![\d%]|[.,]\d|\s*(?:percent|per cent))"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_DAY2 = r"(?:\s*[-–]\s*(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?)?"
_EARLIEST, _LATEST = dt.date(1800, 1, 1), dt.date(2099, 12, 31)
_QUARTERS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}

# Open ranges, read in questions (ending on the as-of day) and in text (running on).
_SINCE = re.compile(r"\bsince\s+" + _Y, re.I)
_AFTER = re.compile(r"\bafter\s+" + _Y, re.I)

_TEXT_PATTERNS = [
    ("iso", re.compile(r"(?<!\d)(?P<year>1[89]\d\d|20\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?!\d)")),
    (
        "range",
        re.compile(
            r"\b(?:between|from)\s+" + _YEAR + r"\s+(?:and|to|until|through)\s+(?P<year2>1[89]\d\d|20\d\d)\b", re.I
        ),
    ),
    ("span", re.compile(r"(?<![\d$£€.,/:-])" + _YEAR + r"\s*[-–]\s*(?P<year2>1[89]\d\d|20\d\d|\d\d)(?!\d)")),
    ("mdy", re.compile(r"\b" + _MONTH + r"\s+" + _DAY + _DAY2 + r",?\s+" + _Y, re.I)),
    ("dmy", re.compile(r"\b" + _DAY + _DAY2 + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _Y, re.I)),
    ("my", re.compile(r"\b" + _MONTH + r",?\s+(?:of\s+)?" + _Y, re.I)),
    (
        "quarter",
        re.compile(
            r"\b(?:(?:the\s+)?(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter\b(?:\s+[a-z]+){0,2}?\s+"
            r"(?:of\s+|for\s+|in\s+)?|q(?P<qn>[1-4])\s+(?:of\s+)?)" + _Y,
            re.I,
        ),
    ),
    ("decade", re.compile(r"\b(?:the\s+)?(?P<year>1[89]\d0|20\d0)'?s\b", re.I)),
    # Open ranges: "since 2017" and "after 1971" run on (to the end of what a date can be
    # here), "before 2000" runs back; long, so coarse against any shorter period.
    ("since", _SINCE),
    ("after", _AFTER),
    ("before", re.compile(r"\b(?:before|prior to|until|till|up to)\s+" + _Y, re.I)),
    ("year", re.compile(_Y)),
    ("rel-year", re.compile(r"\b(?P<which>this|last|next)\s+year\b", re.I)),
]


@dataclass(frozen=True)
class Period:
    """A closed range of days, with the words it came from."""

    start: dt.date
    end: dt.date
    label: str

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def years(self) -> range:
        return range(self.start.year, self.end.year + 1)

    def __str__(self) -> str:
        return f"{self.label} ({self.start.isoformat()}…{self.end.isoformat()})"


def _year(y: int, label: str) -> Period:
    return Period(dt.date(y, 1, 1), dt.date(y, 12, 31), label)


def _month(y: int, m: int, label: str) -> Period:
    return Period(dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1]), label)


def _from_match(kind: str, m: re.Match[str], anchor: dt.date | None) -> Period | None:
    label = m.group(0).strip()
    try:
        if kind == "iso":
            day = dt.date(int(m["year"]), int(m["m"]), int(m["d"]))
            return Period(day, day, label)
        if kind in ("range", "span"):
            y1, raw = int(m["year"]), m["year2"]
            y2 = int(raw) if len(raw) == 4 else (y1 // 100) * 100 + int(raw)
            if kind == "span" and len(raw) == 2 and y2 < y1:
                return None
            return Period(dt.date(min(y1, y2), 1, 1), dt.date(max(y1, y2), 12, 31), label) if y2 >= y1 else None
        if kind in ("mdy", "dmy"):
            y, mo = int(m["year"]), _MONTHS[m["month"].lower()]
            d1 = int(m["day"])
            d2 = int(m["day2"]) if m["day2"] else d1
            return Period(dt.date(y, mo, d1), dt.date(y, mo, max(d1, d2)), label)
        if kind == "my":
            return _month(int(m["year"]), _MONTHS[m["month"].lower()], label)
        if kind == "quarter":
            q = int(m["qn"]) if m["qn"] else _QUARTERS[m["q"].lower()]
            y = int(m["year"])
            return Period(dt.date(y, 3 * q - 2, 1), _month(y, 3 * q, "").end, label)
        if kind == "decade":
            y = int(m["year"])
            return Period(dt.date(y, 1, 1), dt.date(y + 9, 12, 31), label)
        if kind == "year":
            return _year(int(m["year"]), label)
        if kind == "since":
            return Period(dt.date(int(m["year"]), 1, 1), _LATEST, label)
        if kind == "after":
            return Period(dt.date(int(m["year"]) + 1, 1, 1), _LATEST, label)
        if kind == "before":
            return Period(_EARLIEST, dt.date(int(m["year"]) - 1, 12, 31), label)
        if kind == "rel-year" and anchor is not None:
            shift = {"this": 0, "last": -1, "next": 1}[m["which"].lower()]
            return _year(anchor.year + shift, label)
    except ValueError:  # 31 February and the like: no date
        return None
    return None


def _scan(text: str, patterns: list[tuple[str, re.Pattern[str]]], anchor: dt.date | None) -> list[Period]:
    """Every expression in ``text``, most specific first; a span of text is read once."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Period]] = []
    for kind, pattern in patterns:
        for m in pattern.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            period = _from_match(kind, m, anchor)
            if period is not None:
                taken.append((s, e))
                found.append((s, period))
    return [p for _, p in sorted(found, key=lambda x: x[0])]


@lru_cache(maxsize=32768)
def text_periods(text: str, published: str | None = None) -> tuple[Period, ...]:
    """The dates ``text`` states, as periods; "this/last year" against ``published``."""
    if not any(ch.isdigit() for ch in text) and "year" not in text.lower():
        return ()
    anchor = dt.date.fromisoformat(published) if published else None
    return tuple(_scan(text, _TEXT_PATTERNS, anchor))


_RELATIVE = [
    ("so far this year", re.compile(r"\bso far this year\b|\bthis year so far\b|\byear to date\b", re.I)),
    ("today", re.compile(r"\btoday\b", re.I)),
    ("yesterday", re.compile(r"\byesterday\b", re.I)),
    (
        "this week",
        re.compile(
            r"\b(?:this|this past|the past|the last|over the past|in the past)\s+week\b|\bin recent days\b|"
            r"\bin the (?:past|last) few days\b|\bthis weekend\b",
            re.I,
        ),
    ),
    ("last week", re.compile(r"\blast week\b|\bthe week before\b", re.I)),
    ("this month", re.compile(r"\bthis month\b", re.I)),
    ("last month", re.compile(r"\blast month\b", re.I)),
    ("this year", re.compile(r"\bthis year\b", re.I)),
    ("last year", re.compile(r"\blast year\b", re.I)),
]
_BEFORE = re.compile(r"\b(?:before|prior to|until|till|up to)\s+(?:the\s+(?:end|start)\s+of\s+)?" + _Y, re.I)

_BARE_MONTH = re.compile(r"\bin\s+(?:early\s+|late\s+|mid-?)?" + _MONTH + r"(?!\s*,?\s*(?:of\s+)?\d)", re.I)


def _relative(kind: str, a: dt.date, label: str) -> Period:
    if kind == "today":
        return Period(a, a, label)
    if kind == "yesterday":
        d = a - dt.timedelta(days=1)
        return Period(d, d, label)
    if kind == "this week":
        return Period(a - dt.timedelta(days=6), a, label)
    if kind == "last week":
        return Period(a - dt.timedelta(days=13), a - dt.timedelta(days=7), label)
    if kind == "this month":
        return Period(a.replace(day=1), a, label)
    if kind == "last month":
        first = a.replace(day=1) - dt.timedelta(days=1)
        return _month(first.year, first.month, label)
    if kind in ("this year", "so far this year"):
        return Period(dt.date(a.year, 1, 1), a, label)
    if kind == "last year":
        return _year(a.year - 1, label)
    raise ValueError(kind)


def _question_matches(question: str, as_of: dt.date) -> list[tuple[int, int, Period, bool]]:
    """(start, end, period, relative?) of every time expression in ``question``, in order."""
    found: list[tuple[int, int, Period, bool]] = []

    def add(m: re.Match[str], period: Period | None, relative: bool = False) -> None:
        s, e = m.span()
        if period is not None and not any(s < fe and fs < e for fs, fe, *_ in found):
            found.append((s, e, period, relative))

    for kind, pattern in _RELATIVE:
        for m in pattern.finditer(question):
            add(m, _relative(kind, as_of, m.group(0)), True)
    for m in _SINCE.finditer(question):
        y = int(m["year"])
        add(m, Period(dt.date(y, 1, 1), max(as_of, dt.date(y, 1, 1)), m.group(0)))
    for m in _BEFORE.finditer(question):
        add(m, Period(_EARLIEST, dt.date(int(m["year"]) - 1, 12, 31), m.group(0)))
    for m in _AFTER.finditer(question):
        y = int(m["year"]) + 1
        add(m, Period(dt.date(y, 1, 1), max(as_of, dt.date(y, 1, 1)), m.group(0)))
    for kind, pattern in _TEXT_PATTERNS:
        if kind in ("rel-year", "since", "after", "before"):
            continue
        for m in pattern.finditer(question):
            add(m, _from_match(kind, m, as_of))
    for m in _BARE_MONTH.finditer(question):
        if m["month"].lower() == "may" and not question[m.start("month")].isupper():
            continue  # "in may" is a verb more often than a month
        mo = _MONTHS[m["month"].lower()]
        y = as_of.year if mo <= as_of.month else as_of.year - 1
        add(m, _month(y, mo, m.group(0)))
    return sorted(found, key=lambda x: x[0])


def question_periods(question: str, as_of: dt.date) -> tuple[Period, ...]:
    """The periods ``question`` states or implies, resolved against ``as_of``; a
    candidate answer must fall in one of them (empty: the question names no time)."""
    return tuple(p for _, _, p, _ in _question_matches(question, as_of))


_LEAD = re.compile(r"(?:\b(?:in|during|on|of|for|from|over|since|between)\s+)*$", re.I)


def without_periods(question: str, as_of: dt.date, *, relative_only: bool = False) -> str:
    """``question`` with its time expressions (and the prepositions before them) taken
    out: what the reader reads once the periods are enforced by other means.
    "Who won the Eastport Marathon in 2025?" → "Who won the Eastport Marathon?".
    With ``relative_only``, stated dates stay ("in 2025": text may say it too)."""
    matches = [m for m in _question_matches(question, as_of) if m[3] or not relative_only]
    if not matches:
        return question
    out, pos = [], 0
    for s, e, *_ in matches:
        head = question[pos:s]
        lead = _LEAD.search(head)
        keep = head[: lead.start()] if lead and lead.group(0).strip() else head
        out.append(keep)
        pos = e
    out.append(question[pos:])
    text = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s{2,}", " ", "".join(out))).strip()
    return text if len(text.split()) >= 3 else question


# A question about the present state of something that changes (service.recency): the
# exact trigger, in README "Time". Any one of:
#   1. a word of the present: current(ly), now, nowadays, still, latest, newest, most
#      recent, presently, at present, these days, to date, as of today;
#   2. a record: "record" or "ever" ("Who holds the record …", "the highest … ever");
#   3. who + a present-tense verb of holding: who is/are/'s, who holds, leads, runs,
#      heads, owns, chairs, manages, coaches, serves as, represents;
#   4. how many / how much … does/do/is/are/has/have … (a count or amount now);
# and none of: was, were, did, had, ago, former(ly), previous(ly), used to, first.
# A question that names a period is never a present-state question (TimeScope.of).
_PRESENT_WORD = re.compile(
    r"\b(?:current|currently|now|nowadays|still|latest|newest|most recent|presently|at present|these days|"
    r"to date|as of today)\b",
    re.I,
)
_RECORD = re.compile(r"\b(?:record|ever)\b", re.I)
_HOLDER = re.compile(
    r"^\W*who(?:'s|\s+(?:is|are|holds?|leads?|runs?|heads?|owns?|chairs?|manages?|coaches?|serves?\s+as|"
    r"represents?))\b",
    re.I,
)
_COUNT = re.compile(r"^\W*how\s+(?:many|much)\b.*\b(?:does|do|is|are|has|have)\b", re.I)
_PAST = re.compile(r"\b(?:was|were|did|had|ago|former|formerly|previous|previously|used to|first)\b", re.I)


def asks_present_state(question: str) -> bool:
    """True for a question about the present state of a role, holder, status, record or
    count (the trigger above)."""
    if _PAST.search(question):
        return False
    return bool(
        _PRESENT_WORD.search(question)
        or _RECORD.search(question)
        or _HOLDER.search(question)
        or _COUNT.search(question)
    )
