"""The support check (service.support) and the question kinds (service.question_kind) on their own."""

from __future__ import annotations

import pytest

from service.question_kind import classify
from service.support import amounts, claims, fold, months

SOURCE = "The U.S. announced a new military aid package for Ukraine of $175 million on Wednesday, Dec. 6, 2023."
QUESTION = "How much was the military aid package?"


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("The package is worth $175 million.", []),
        ("The package is worth $175,000,000 in all.", ["175000000"]),  # not converted: must be written alike
        ("The package is worth $175 billion.", ["175 billion"]),
        ("The package is worth $50 million.", ["50 million"]),
        ("It was announced on Wednesday, December 6.", []),
        ("It was announced on Thursday, January 6.", ["january", "thursday"]),
        ("Rustem Umerov welcomed the package.", ["rustem", "umerov"]),
        ("The U.S. sent it to Ukraine.", []),
        ("The US sent it to Ukraine.", []),
    ],
)
def test_every_number_date_and_name_must_be_in_the_sources(sentence, missing):
    assert claims(sentence, QUESTION).missing([SOURCE]) == missing


def test_what_the_question_states_need_not_be_in_the_sources():
    assert claims("Lloyd Austin did not comment on it.", "What did Lloyd Austin say?").names == frozenset()
    assert claims("It was $175 million.", "Was it $175 million?").amounts == frozenset()


def test_normalising_numbers_months_and_acronyms():
    assert amounts("1,200 troops, 3.50 percent and $12.5bn") == {"1200", "3.5", "12.5", "12.5 billion"}
    assert months("Sept. 3 and May 2024; it may rain in March") == {"september", "may", "march"}
    assert fold("Défense, “U.S.” Ü") == 'defense, "us." u'
    assert claims("The U.S.’s Défense Ministry agreed.", QUESTION).missing(["the US defense ministry"]) == []


@pytest.mark.parametrize(
    ("question", "kind", "sides"),
    [
        ("Who is Ukraine's defence minister?", "fact", ()),
        ("Did the US announce a military aid package?", "yes_no", ()),
        (
            "Was the package announced before the memorandum was signed?",
            "yes_no",
            ("the package announced", "the memorandum was signed"),
        ),
        (
            "Which was announced first, the aid package or the memorandum?",
            "comparison",
            ("the aid package", "the memorandum"),
        ),
        (
            "What is the difference between the statement and the memorandum?",
            "comparison",
            ("the statement", "the memorandum"),
        ),
        ("How does the first quarter of 2025 compare with 2024?", "comparison", ("the first quarter of 2025", "2024")),
        ("Was the package worth $175 million or $50 million?", "comparison", ("worth $175 million", "$50 million")),
        ("What did the company report for Q1 or Q2?", "fact", ()),
    ],
)
def test_question_kinds(question, kind, sides):
    got = classify(question)
    assert (got.kind, got.sides) == (kind, sides)


@pytest.mark.parametrize(
    "question", ["or", "Or what?", "Who, or what, won it, finally", "Was it A or", "?", "or or or"]
)
def test_odd_questions_get_a_kind_and_never_an_error(question):
    assert classify(question).kind in ("fact", "yes_no", "comparison")
