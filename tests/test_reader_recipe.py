"""The reader recipe's list-pass data (training/reader/data.py; pure Python, no torch):
each training question becomes one group of its paragraph's sentences whose target is the
positive sentence, or the no-answer slot when no sentence in the group is labelled 1."""

from training.reader import config
from training.reader.data import Paragraph, Question, build_list_groups

CONTEXT = "Alpha is first. Beta is second. Gamma is third. Delta is fourth. Epsilon is fifth. Zeta is sixth."


def _paragraph(questions: list[Question]) -> Paragraph:
    bounds, start = [], 0
    for part in CONTEXT.split(". "):
        end = start + len(part) + (1 if not part.endswith(".") else 0)
        bounds.append((start, end))
        start = end + 1
    return Paragraph("T#0", "T", CONTEXT, bounds, questions)


def test_groups_hold_the_positive_or_the_plausible_sentences_and_stay_within_the_size():
    gamma = CONTEXT.index("Gamma")
    delta = CONTEXT.index("Delta")
    p = _paragraph(
        [
            Question("a", "Which is third?", False, [(gamma, gamma + 5, "Gamma")]),
            Question("u", "Which is tenth?", True, [(delta, delta + 5, "Delta")]),
            Question("x", "Which spans?", False, [(CONTEXT.index("Beta"), gamma + 5, "Beta ... Gamma")]),
        ]
    )
    pairs, groups, counts = build_list_groups([p], seed=0)
    assert counts["questions"] == 2 and counts["skipped_crossing"] == 1  # an answer across sentences has no target
    answerable, unanswerable = ([pairs[i] for i in g] for g in groups)
    assert len(answerable) == len(unanswerable) == config.LIST_SIZE
    assert [r["label"] for r in answerable].count(1) == 1
    assert next(r for r in answerable if r["label"] == 1)["sentence"].startswith("Gamma")
    assert all(r["label"] == 0 for r in unanswerable)  # the target is the no-answer slot
    assert any(r["kind"] == "plausible" and r["sentence"].startswith("Delta") for r in unanswerable)
    for group in (answerable, unanswerable):
        assert len({r["sentence_index"] for r in group}) == len(group)  # no sentence twice


def test_groups_are_seeded():
    gamma = CONTEXT.index("Gamma")
    p = _paragraph([Question("a", "Which is third?", False, [(gamma, gamma + 5, "Gamma")])])
    assert build_list_groups([p], seed=3)[0] == build_list_groups([p], seed=3)[0]
