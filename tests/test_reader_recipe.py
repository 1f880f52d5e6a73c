"""The reader recipe's list-pass data (training/reader/data.py; pure Python, no torch):
each training question becomes one group of its paragraph's sentences whose target is the
positive sentence, or the no-answer slot when no sentence in the group is labelled 1."""

import pytest

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


# Near misses (training/reader/near_miss.py): a question whose changed year, number, name or
# comparison word the gold sentence no longer matches.


def test_a_year_or_number_is_changed_to_one_the_sentence_does_not_hold():
    import random

    from training.reader.near_miss import number_swaps, year_swaps

    context = "In 2010 the club won 3 titles; in 2011 it won none."
    for seed in range(20):
        (changed,) = year_swaps("What did the club win in 2010?", context, random.Random(seed))
        year = int(changed.split()[-1].rstrip("?"))
        assert year not in (2010, 2011) and abs(year - 2010) <= 12
        (changed,) = number_swaps("Who won 3 titles?", context, random.Random(seed))
        assert changed != "Who won 3 titles?" and " 3 " not in changed
    assert year_swaps("What did the club win in 1999?", context, random.Random(0)) == []  # 1999 is not in the text


def test_an_antonym_needs_the_word_in_the_sentence_and_not_its_opposite():
    from training.reader.near_miss import antonym_swaps

    assert antonym_swaps("Which song was the most popular?", "The most popular song was X.") == [
        "Which song was the least popular?",
        "Which song was the most unpopular?",
    ]
    assert antonym_swaps("Which song was the most popular?", "X was the song people liked.") == []
    assert antonym_swaps("Who came first?", "A came first and B came last.") == []  # both words there: no mismatch


def test_a_name_is_swapped_for_another_of_its_kind_that_the_sentence_does_not_name():
    import random

    from training.reader.near_miss import entity_swaps

    pool = {"PERSON": ["Maria Okafor", "John Smith", "Li Wei"], "GPE": ["France"]}
    context = "Maria Okafor and Li Wei signed the deal in France."
    outs = {entity_swaps("When did Maria Okafor sign?", context, pool, random.Random(s))[0] for s in range(10)}
    assert outs == {"When did John Smith sign?"}  # Li Wei is in the sentence, France is another kind
    assert entity_swaps("When did Ann Lee sign?", context, pool, random.Random(0)) == []


def test_near_miss_pairs_are_negatives_of_the_gold_sentence_and_seeded():
    from training.reader.near_miss import build_near_misses

    ctx = "Rome won the cup in 1990. Paris won the cup in 1994. Berlin hosted it in 2006."
    bounds = [(0, 25), (26, 51), (52, len(ctx))]
    start = ctx.index("Paris")
    q = Question("q1", "Which city won the cup in 1994?", False, [(start, start + 5, "Paris")])
    u = Question("q2", "Which city lost the cup in 1994?", True, [(start, start + 5, "Paris")])
    p = Paragraph("T#0", "T", ctx, bounds, [q, u])
    pairs, counts = build_near_misses({"T": [p]}, seed=0)
    assert counts["answerable"] == 1 and counts["made"] == 1  # unanswerable questions are never changed
    (pair,) = pairs
    assert pair["label"] == 0 and pair["kind"] == "near_miss" and pair["sentence"] == ctx[26:51]
    assert pair["question"] != q.question and pair["near_miss"]["from"] == q.question
    assert build_near_misses({"T": [p]}, seed=0)[0] == pairs


def test_a_common_noun_is_changed_to_another_of_its_tag_that_the_sentence_does_not_hold():
    import random

    from training.reader.near_miss import noun_swaps

    question = "How much does a cup of coffee cost?"
    nouns = [
        (question.index("cup"), question.index("cup") + 3, "NN"),
        (question.index("coffee"), question.index("coffee") + 6, "NN"),
    ]
    pool = {"NN": ["coffee", "cup", "tea"], "NNS": ["teas"]}
    context = "The price of a cup of coffee rose to $3.98."
    outs = {s for seed in range(10) for s in noun_swaps(question, nouns, context, pool, random.Random(seed))}
    assert outs == {"How much does a tea of coffee cost?", "How much does a cup of tea cost?"}
    assert noun_swaps(question, nouns, "Tea and coffee: a cup of each.", pool, random.Random(0)) == []


def test_the_card_names_every_near_miss_flag_that_differs_from_the_recipe(monkeypatch):
    """The reproduce command written in a variant's card (the command line changes config first)."""
    from training.reader.__main__ import Paths
    from training.reader.card import _variant_flags

    monkeypatch.setattr(config, "NEAR_MISS", True)
    monkeypatch.setattr(config, "NEAR_MISS_NOUNS", True)
    monkeypatch.setattr(config, "NEAR_MISS_SHARE", 0.5)
    assert _variant_flags(Paths.make(False, "v7")).endswith(
        " --out v7 --near-miss --near-miss-share 0.5 --near-miss-nouns"
    )
    monkeypatch.setattr(config, "NEAR_MISS", False)
    assert "near-miss" not in _variant_flags(Paths.make(False, "v3"))


def test_the_card_names_the_rules_negatives_flag_when_it_is_on(monkeypatch):
    from training.reader.__main__ import Paths
    from training.reader.card import _variant_flags

    monkeypatch.setattr(config, "RULES_NEGATIVES", 3)
    assert _variant_flags(Paths.make(False, "v8")).endswith(" --out v8 --rules-negatives 3")
    monkeypatch.setattr(config, "RULES_NEGATIVES", 0)
    assert "rules-negatives" not in _variant_flags(Paths.make(False, "v3"))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rules-negatives", "-1"], "--rules-negatives must be 0 or more"),
        (["--hard-epochs", "0"], "--epochs and --hard-epochs must be 1 or more"),
        (["--epochs", "0"], "--epochs and --hard-epochs must be 1 or more"),
    ],
)
def test_counts_out_of_range_are_refused(capsys, flags, message):
    from training.reader.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "--out", "refused", *flags])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_the_card_names_the_epoch_flags_that_differ_from_the_recipe(monkeypatch):
    from training.reader.__main__ import Paths
    from training.reader.card import _variant_flags

    monkeypatch.setattr(config, "EPOCHS", 2)
    assert _variant_flags(Paths.make(False, "v11")).endswith(" --out v11 --epochs 2")
    monkeypatch.setattr(config, "HARD_EPOCHS", 2)
    assert _variant_flags(Paths.make(False, "v10")).endswith(" --out v10 --epochs 2 --hard-epochs 2")
    monkeypatch.setattr(config, "EPOCHS", 1)
    monkeypatch.setattr(config, "HARD_EPOCHS", 1)
    assert "epochs" not in _variant_flags(Paths.make(False, "v3"))


# Rules negatives (training/reader/rules_negatives.py): a real index of one training article,
# the real retrieve stage and rule reader.
def test_rules_negatives_are_the_rules_best_sentences_without_a_gold_answer():
    from eval.squad import SQUAD_DIR, load_squad
    from training.reader.rules_negatives import build_rules_negatives

    pairs, counts = build_rules_negatives(["Normans"], top=2)
    _, rows = load_squad(SQUAD_DIR, ["Normans"])
    by_id = {r.id: r for r in rows}
    assert counts["questions"] == len(rows) and counts["negatives"] == len(pairs) > len(rows)
    assert counts["holds_answer"] > 0  # the rules' best sentences often answer: those are left out
    per_question: dict[str, int] = {}
    for p in pairs:
        row = by_id[p["qid"]]
        assert p["label"] == 0 and p["kind"] == "rules" and p["question"] == row.question
        assert p["paragraph"].startswith("squad.jsonl:Normans-") and p["title"] == "Normans"
        if row.answerable:
            assert not any(a.lower() in p["sentence"].lower() for a in row.answers)
        per_question[p["qid"]] = per_question.get(p["qid"], 0) + 1
    assert max(per_question.values()) <= 3  # the two best and the rules' own choice
