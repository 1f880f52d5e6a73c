"""The time expressions of service.periods: every documented range, exactly, and the
present-state trigger (README "Time"). Pure functions: no index needed."""

from __future__ import annotations

import datetime as dt

import pytest

from service.periods import asks_present_state, question_periods, text_periods, without_periods
from service.time_scope import Fit, TimeScope

A = dt.date(2026, 3, 4)  # a Wednesday
D = dt.date


def ranges(question: str, as_of: dt.date = A) -> list[tuple[dt.date, dt.date]]:
    return [(p.start, p.end) for p in question_periods(question, as_of)]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("today", (A, A)),
        ("yesterday", (D(2026, 3, 3), D(2026, 3, 3))),
        ("this week", (D(2026, 2, 26), A)),
        ("this past week", (D(2026, 2, 26), A)),
        ("in recent days", (D(2026, 2, 26), A)),
        ("in the past few days", (D(2026, 2, 26), A)),
        ("last week", (D(2026, 2, 19), D(2026, 2, 25))),
        ("this month", (D(2026, 3, 1), A)),
        ("last month", (D(2026, 2, 1), D(2026, 2, 28))),
        ("this year", (D(2026, 1, 1), A)),
        ("so far this year", (D(2026, 1, 1), A)),
        ("last year", (D(2025, 1, 1), D(2025, 12, 31))),
    ],
)
def test_relative_expressions_resolve_to_their_documented_ranges(words, expected):
    assert ranges(f"What did the council decide {words}?") == [expected]


def test_last_month_in_january_is_last_december():
    assert ranges("What happened last month?", D(2026, 1, 10)) == [(D(2025, 12, 1), D(2025, 12, 31))]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who won the Eastport Marathon in 2025?", [(D(2025, 1, 1), D(2025, 12, 31))]),
        ("Who won the 2024 Eastport Marathon?", [(D(2024, 1, 1), D(2024, 12, 31))]),
        ("What was revenue in the first quarter of 2025?", [(D(2025, 1, 1), D(2025, 3, 31))]),
        ("What was Tesla's revenue in Q3 2019?", [(D(2019, 7, 1), D(2019, 9, 30))]),
        ("What happened in March 2024?", [(D(2024, 3, 1), D(2024, 3, 31))]),
        ("What happened on March 5, 2024?", [(D(2024, 3, 5), D(2024, 3, 5))]),
        ("What happened between 2019 and 2021?", [(D(2019, 1, 1), D(2021, 12, 31))]),
        ("What changed in the 1990s?", [(D(1990, 1, 1), D(1999, 12, 31))]),
        ("Who has led it since 2020?", [(D(2020, 1, 1), A)]),
        ("When did Polonia win the championship prior to 2000?", [(D(1800, 1, 1), D(1999, 12, 31))]),
        ("How much had the price of gold risen after 1971?", [(D(1972, 1, 1), A)]),
        ("What did the council approve in November?", [(D(2025, 11, 1), D(2025, 11, 30))]),
        ("What did the council approve in February?", [(D(2026, 2, 1), D(2026, 2, 28))]),
        ("How many of the 2,000 people came?", []),
        ("What is the price, $2025 or 2021%?", []),
        ("Who may win?", []),
    ],
)
def test_stated_periods(question, expected):
    assert ranges(question) == expected


def test_text_dates_are_read_most_specific_first():
    got = text_periods("The conference met on December 6-7, 2023, the first since 2019.")
    assert [(p.start, p.end) for p in got] == [(D(2023, 12, 6), D(2023, 12, 7)), (D(2019, 1, 1), D(2099, 12, 31))]
    assert text_periods("The company employs 2,300 people.") == ()
    # "this year" in text resolves against the article's published day.
    [p] = text_periods("its second cut this year", "2026-02-12")
    assert (p.start, p.end) == (D(2026, 1, 1), D(2026, 12, 31))
    assert text_periods("its second cut this year") == ()


def test_without_periods_takes_the_time_words_out():
    assert without_periods("Who won the Eastport Marathon in 2025?", A) == "Who won the Eastport Marathon?"
    assert without_periods("Who won the 2024 Eastport Marathon?", A) == "Who won the Eastport Marathon?"
    assert without_periods("What did Millbrook council approve this week?", A) == "What did Millbrook council approve?"
    kept = without_periods("Who won the Eastport Marathon in 2025 this week?", A, relative_only=True)
    assert kept == "Who won the Eastport Marathon in 2025?"
    assert without_periods("What happened in 1973?", A) == "What happened in 1973?"  # too little left


@pytest.mark.parametrize(
    ("question", "present"),
    [
        ("Who is the chief executive of Harbor Light Energy?", True),
        ("Who holds the record for swimming across Lake Varn?", True),
        ("What is the fastest time ever recorded?", True),
        ("How many members does the club have?", True),
        ("What is the current interest rate?", True),
        ("Is she still in charge?", True),
        ("Who was the chief executive in 2019?", False),
        ("Who won the Eastport Marathon?", False),
        ("What is the capital of France?", False),
        ("Who was the first woman to swim across?", False),
    ],
)
def test_the_present_state_trigger(question, present):
    assert asks_present_state(question) is present


def test_a_question_naming_a_period_is_not_a_present_state_question():
    assert not TimeScope.of("Who is the chief executive this year?", None, A).present
    assert TimeScope.of("Who is the chief executive?", None, A).present


@pytest.mark.parametrize(
    ("sentence", "context", "published", "passage", "fit"),
    [
        ("Brandt won on Sunday.", (), "2025-04-20", "", Fit.DATED),
        ("Brandt won on Sunday.", (), "2024-04-21", "", Fit.OUT),
        ("In 2025 Brandt won.", (), "2019-01-01", "", Fit.IN),  # its own date decides
        ("In 2021 Holm won.", (), "2025-04-20", "", Fit.OUT),
        ("Brandt won.", ("Results of 2025",), None, "", Fit.IN),  # the title dates it
        ("Brandt won.", (), None, "The 2025 race. Brandt won.", Fit.IN),  # its passage does
        ("Brandt won.", ("It rained in 2019.",), None, "", Fit.OUT),
        ("Brandt won.", (), None, "", Fit.UNKNOWN),
    ],
)
def test_how_a_candidate_fits_a_stated_year(sentence, context, published, passage, fit):
    scope = TimeScope.of("Who won in 2025?", None, A)
    assert scope.fit(sentence, context, published, passage) is fit


def test_a_coarser_date_does_not_place_a_sentence_in_a_week():
    scope = TimeScope.of("What did the council approve this week?", D(2026, 3, 6), A)
    assert scope.fit("The 2026 budget was approved.", (), "2026-03-04", "") is Fit.DATED
    assert scope.fit("The 2026 budget was approved.", (), "2026-01-20", "") is Fit.OUT
    assert scope.fit("The 2026 budget was approved.", (), None, "") is Fit.UNKNOWN
    assert scope.fit("It was approved on March 5, 2026.", (), "2026-01-20", "") is Fit.IN


def test_open_ranges_in_text_are_coarse_not_a_year():
    [since] = text_periods("She has run the wind division since 2017.")
    assert (since.start, since.end) == (D(2017, 1, 1), D(2099, 12, 31))
    scope = TimeScope.of("What did the council approve this week?", D(2026, 3, 6), A)
    # "since 2017" says nothing about this week: the published day decides.
    assert scope.fit("She has run the division since 2017.", (), "2026-03-04", "") is Fit.DATED
    [before] = text_periods("prices were fixed before 1971")
    assert before.end == D(1970, 12, 31)
