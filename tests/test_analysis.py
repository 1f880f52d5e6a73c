"""The one text-analysis module: BM25 and the reader see the same terms."""

from __future__ import annotations

from service.analysis import analyze, salient, stopwords, terms, tokens


def test_terms_are_stemmed_lowercased_and_stop_word_free():
    assert terms("The Winners WON the games") == ("win", "win", "game")
    assert "the" in stopwords() and "the" not in terms("the")
    # single digits are terms (a "Game 7" question keeps its 7), as are numbers and years
    assert terms("Game 7 of 2023") == ("game", "7", "2023")


def test_tokens_give_offsets_and_the_same_stems_as_terms():
    text = "Ukraine bought 5 drones, Zelenska said."
    got = tokens(text)
    assert [pos for pos, _ in got] == [0, 8, 15, 17, 25, 34]  # every word's start, single digits too
    assert [stem for _, stem in got][:3] == ["ukrain", "buy", "5"]
    # every term is the stem of some token: proximity and coverage agree on what a word is
    assert set(terms(text)) <= {stem for _, stem in got}
    assert ("say" in {stem for _, stem in got}) and ("buy" in {stem for _, stem in got})


def test_analyze_states_constraints_and_expected_answer_type():
    info = analyze("How much revenue did Tesla report in Q3 2023?")
    assert info.years == ["2023"] and info.quarters == ["q3"]
    assert info.expected == {"MONEY": 1.0}
    assert "tesla" in info.content_terms and "much" not in info.content_terms
    # the quarter matches its spelled-out form too
    assert any(p.search("in the third quarter") for p in info.constraint_patterns)
    assert analyze("Who is the president of France?").expected["PERSON"] == 1.0
    assert analyze("Where was it held?").expected["GPE"] == 1.0


def test_salient_terms_are_names_and_figures_not_the_first_word():
    assert salient("Which drones did Ukraine buy in 2024?") == {"ukrain", "2024"}
