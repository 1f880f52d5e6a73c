"""The reader recipe's snippet pairs (training/reader/snippets.py; pure Python, no torch): a
training positive cut off before its answer is a negative that still names the question's
words, cut off after it a positive whose span still points at the answer."""

from training.reader.snippets import ELLIPSIS, MIN_WORDS_BEFORE, snippet_pairs

SENTENCE = "The game was played on February 7, 2021, at Raymond James Stadium in Tampa, Florida, before a crowd."


def _positive(qid: str, sentence: str, answer: str) -> dict:
    a = sentence.index(answer)
    return {
        "qid": qid,
        "question": "Where was the game played?",
        "title": "Super Bowl LV",
        "previous": "",
        "sentence": sentence,
        "label": 1,
        "kind": "pos",
        "answer_chars": [a, a + len(answer)],
    }


def test_a_positive_gives_a_cut_negative_without_its_answer_and_a_cut_positive_with_it():
    pairs = [_positive("q", SENTENCE, "Tampa, Florida")]
    pairs.append(pairs[0] | {"kind": "paragraph", "label": 0, "answer_chars": None})  # negatives make none
    out, counts = snippet_pairs(pairs * 20, seed=0)
    cut = [r for r in out if r["kind"] == "cut"]
    kept = [r for r in out if r["kind"] == "cut_pos"]
    assert counts["positives"] == 20 and len(cut) == len(kept) == 20  # as many of each: "..." alone says nothing
    for r in cut:
        assert r["label"] == 0 and r["answer_chars"] is None and r["sentence"].endswith(ELLIPSIS)
        assert "Tampa" not in r["sentence"] and "Raymond James Stadium in" in r["sentence"]
    for r in kept:
        a, b = r["answer_chars"]
        assert r["label"] == 1 and r["sentence"][a:b] == "Tampa, Florida" and r["sentence"].endswith(ELLIPSIS)
        assert "crowd." not in r["sentence"]  # a snippet: the sentence's end is cut off
    dated = [r for r in out if not r["sentence"].startswith("The game")]
    assert 0 < len(dated) < len(out)  # some, not all, carry a date line; their spans moved with it
    assert all(" ... The game" in r["sentence"] for r in dated)
    assert {r["question"] for r in out} == {"Where was the game played?"}  # only the sentence changes


def test_an_answer_too_early_or_said_before_the_cut_makes_no_pair():
    early = _positive("e", "Tampa, Florida hosted the game on February 7, 2021.", "Tampa, Florida")
    assert len("Tampa, Florida hosted".split()) < MIN_WORDS_BEFORE + 1
    twice_text = "Tampa hosted it: the game was played at the stadium in Tampa before a crowd."
    twice = _positive("t", twice_text, "Tampa")
    twice["answer_chars"] = [twice_text.rindex("Tampa"), twice_text.rindex("Tampa") + 5]
    out, counts = snippet_pairs([early, twice], seed=0)
    assert out == [] and counts["too_early"] == 1 and counts["answer_before_cut"] == 1
