"""The default reader's choice of sentence (session 14): the answer model reads the rules'
best sentences and their own choice, and a fitted preference picks one. Real seed index,
real embedding model, the shipped answer model and ``hybrid-confidence.json``."""

from __future__ import annotations

import json

import pytest

from eval.bench.calibrate_hybrid import CHOICE_NAMES, NAMES, POOLS
from service.answer_model import AnswerModel
from service.answering import ask
from service.pipeline import build_pipeline
from service.reader import (
    HYBRID_CALIBRATION,
    HYBRID_FORMAT,
    HybridCalibration,
    HybridReader,
    _measure_for_count,
    model_question,
    post_span,
    repeats_question,
    short_order,
    whole_list,
)
from service.rule_reader import RuleReader


@pytest.fixture(scope="module")
def pipeline(seed_index, embedder):
    settings, store = seed_index
    return build_pipeline(settings, store, embedder, llm=None)


@pytest.fixture(scope="module")
def hybrid(pipeline) -> HybridReader:
    assert isinstance(pipeline.reader, HybridReader)
    return pipeline.reader


def test_the_shipped_artifact_fits_the_shipped_model_and_names_its_choice():
    data = json.loads(HYBRID_CALIBRATION.read_text(encoding="utf-8"))
    assert data["format"] == HYBRID_FORMAT
    assert data["model_sha256"] == AnswerModel().sha256()
    assert data["choice"]["pool"] in POOLS
    assert set(data["choice"]["weights"]) == set(CHOICE_NAMES)
    assert set(data["weights"]) == set(NAMES)
    cal = HybridCalibration.load()
    assert cal.threshold == data["threshold"]
    # the model's logit and the rules' choice both count for a sentence
    assert cal.choice.weights["model_logit"] > 0 and cal.choice.weights["rules_choice"] > 0


def test_an_artifact_of_the_old_format_is_refused_by_name(tmp_path):
    old = json.loads(HYBRID_CALIBRATION.read_text(encoding="utf-8"))
    old["format"] = "citeqa-hybrid-confidence/1"
    del old["choice"]
    path = tmp_path / "hybrid-confidence.json"
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="not a citeqa-hybrid-confidence/2 file"):
        HybridCalibration.load(path)


def test_the_model_overrules_the_rules_on_a_near_miss(pipeline, hybrid):
    # The rules take the aid-package sentence (it holds a date, the type a "when" question
    # wants); the model reads both and picks the one that answers.
    question = "When are the existing funds approved by Congress expected to run out?"
    retrieved = pipeline.retriever.retrieve(question)
    ranking = hybrid.rules.rank(question, retrieved)
    assert "$175 million" in ranking.choice.text
    res = ask(pipeline, question)
    assert not res.abstained
    assert "deplete by year-end" in res.quotes[0].text


@pytest.mark.parametrize(
    "question",
    [
        "Which anti-armor weapons does the $175 million package include?",
        "When are the existing funds approved by Congress expected to run out?",
        "Who is the US Secretary of Commerce?",
        "How much money is in Ukraine's unprecedented 2024 defence budget?",
        "Who is the UK Defence Secretary?",
    ],
)
def test_the_pick_comes_from_the_pool_and_its_confidence_from_the_artifact(pipeline, hybrid, question):
    retrieved = pipeline.retriever.retrieve(question)
    ranking = hybrid.rules.rank(question, retrieved)
    pool = hybrid.pool(question, ranking, hybrid.calibration.choice.pool)
    assert len(pool) <= hybrid.calibration.choice.pool + 1
    assert sum(e.rules_choice for e in pool) == 1
    reading, feats = hybrid.evidence(question, retrieved, hybrid.calibration.rule_features)
    first = reading.best.quotes[0]
    picked = [e for e in pool if (e.candidate.doc_id, e.candidate.start, e.candidate.end) == tuple(first)]
    assert len(picked) == 1
    prefs = [hybrid.calibration.choice.preference(e.scored.logit, e.candidate.score, e.rules_choice) for e in pool]
    assert hybrid.calibration.choice.preference(
        picked[0].scored.logit, picked[0].candidate.score, picked[0].rules_choice
    ) == max(prefs)
    assert feats["model_logit"] == picked[0].scored.logit
    assert feats["rules_choice"] == float(picked[0].rules_choice)
    assert reading.best.confidence == pytest.approx(hybrid.calibration.probability(feats))
    # every other answer ranks below the pick
    assert all(a.confidence <= reading.best.confidence for a in reading.answers[1:])


def test_a_short_answer_is_more_than_the_questions_own_words(pipeline, hybrid):
    assert repeats_question("$175 million", "How much was the package before the $175 million one?")
    assert repeats_question("the UK Singles Chart", "What reached number one in the UK singles chart?")
    assert not repeats_question("US", "Where did the industry representatives come from?")  # words, not letters
    assert not repeats_question("Lloyd Austin", "What did Austin say?")
    assert not repeats_question("", "What did Austin say?")
    # Over the seeds: the picked sentence's first short answer is the amount the question
    # itself names.
    question = "How much was the US military aid package for Ukraine announced just before the $175 million package?"
    retrieved = pipeline.retriever.retrieve(question)
    best = hybrid.read(question, retrieved).best
    ranking = hybrid.rules.rank(question, retrieved)
    pool = hybrid.pool(question, ranking, hybrid.calibration.choice.pool)
    entry = next(e for e in pool if (e.candidate.doc_id, e.candidate.start, e.candidate.end) == tuple(best.quotes[0]))
    rules_short = hybrid.rules.reading_for(ranking, entry.candidate, retrieved, None)[0].answers[0].short
    c = entry.candidate
    first = (
        c.text[rules_short.start - c.start : rules_short.end - c.start]
        if rules_short is not None
        else c.text[slice(*entry.scored.span)]
    )
    assert repeats_question(first, question)
    short = best.short
    assert short is None or not repeats_question(
        retrieved.records[short.doc_id].text[short.start : short.end], question
    )


def test_a_persons_post_is_the_one_stated_beside_the_name():
    assert model_question("What post does David Cameron hold?") == "Who is David Cameron?"
    assert model_question("What is Rustem Umerov's official title?") == "Who is Rustem Umerov?"
    # another time, or a post somewhere named, is not "who is"
    for question in (
        "What post did Lloyd Austin hold before becoming Secretary of Defense?",
        "What post does Lloyd Austin hold in NATO?",
    ):
        assert model_question(question) == question
    listed = "I thank the US Secretary of Defense Lloyd Austin, the US Secretary of Commerce Gina Raimondo, and"
    for name, post in (("Lloyd Austin", "US Secretary of Defense"), ("Gina Raimondo", "US Secretary of Commerce")):
        a, b = post_span(listed, f"What post does {name} hold?")
        assert listed[a:b] == post  # the title before the name, not the next of the list
    after = "Rustem Umerov, Minister of Defence of Ukraine, emphasized the importance of the meeting."
    a, b = post_span(after, "What post does Rustem Umerov hold?")
    assert after[a:b] == "Minister of Defence of Ukraine"
    before = "Ukraine’s first lady, Olena Zelenska, cautioned that the Ukrainian people could face danger."
    a, b = post_span(before, "What is Olena Zelenska's role?")
    assert before[a:b] == "Ukraine’s first lady"
    no_post = "Olena Zelenska, speaking to the BBC, cautioned that aid may end."
    assert post_span(no_post, "What is Olena Zelenska's role?") is None


@pytest.mark.parametrize(
    ("question", "post"),
    [
        ("What post does David Cameron hold?", "British Foreign Secretary"),
        ("What post does Rustem Umerov hold?", "Minister of Defence of Ukraine"),
        ("Which cabinet post does Gina Raimondo hold?", "US Secretary of Commerce"),
    ],
)
def test_a_post_asked_is_answered_over_the_seeds(pipeline, question, post):
    res = ask(pipeline, question)
    assert not res.abstained and res.short_answer is not None and res.short_answer.text == post


def test_the_post_of_someone_the_seeds_never_name_is_not_answered(pipeline):
    assert ask(pipeline, "What post does Antony Blinken hold?").abstained


def test_the_short_answer_is_the_models_span_unless_it_is_no_clean_answer():
    def shown(text, entity, span, strong=False):
        at = lambda part: (text.index(part), text.index(part) + len(part))  # noqa: E731
        first = short_order(text, at(entity) if entity else None, at(span) if span else None, strong)[0]
        return text[slice(*first)]

    # the model's span where the rules' entity carries a title or is a connective
    raimondo = "I thank the US Secretary of Commerce Gina Raimondo for her leadership"
    assert shown(raimondo, "Commerce Gina Raimondo", "Gina Raimondo") == "Gina Raimondo"
    frontlines = "However, Austin said repaired equipment would return to the frontlines faster"
    assert shown(frontlines, "However", "frontlines") == "frontlines"
    # the entity where the span runs on past it, or is one word of it
    raducanu = "Emma Raducanu won the 2021 US Open women's singles title by defeating Leylah Fernandez"
    assert shown(raducanu, "Emma Raducanu", raducanu) == "Emma Raducanu"
    assert shown("Oscar winner Emma Stone stars in La La Land", "Emma Stone", "Emma") == "Emma Stone"
    coast = "A tsunami warning was issued for the coast of Estmark on Monday"
    assert shown(coast, "Estmark", "the coast of Estmark") == "Estmark"
    # ... but not where it only adds a word ("December 6-7, 2023" holds the year asked too)
    dates = "The conference took place in Washington on December 6-7, 2023."
    assert shown(dates, "December 6-7", "December 6-7, 2023") == "December 6-7, 2023"
    # two different answers: the model's, unless the rules hold theirs strongly
    both = "Serena Williams lost the final to Simona Halep in straight sets"
    assert shown(both, "Simona Halep", "Serena Williams") == "Serena Williams"
    assert shown(both, "Simona Halep", "Serena Williams", strong=True) == "Simona Halep"
    # a count asked: a measure with its unit is another quantity, unless the unit is what is counted
    tower = "The Meridian Tower is 310 metres tall and has 72 floors."
    floors, height = (tower.index("72"), tower.index("72") + 2), (tower.index("310"), tower.index("310") + 10)
    assert _measure_for_count("How many floors does the Meridian Tower have?", tower, floors, height)
    assert not _measure_for_count("How many metres tall is the Meridian Tower?", tower, floors, height)
    assert not _measure_for_count("How tall is the Meridian Tower?", tower, floors, height)
    # a list of names holding the entity as one of its names is the answer whole
    hosts = "The event was co-hosted by the White House and US Commerce and Defense Departments, with guests"
    whole = "the White House and US Commerce and Defense Departments"
    assert shown(hosts, "US Commerce", whole) == whole
    pichai = "Alphabet and Google CEO Sundar Pichai said on Tuesday"
    assert shown(pichai, "Sundar Pichai", "Alphabet and Google CEO Sundar Pichai") == "Sundar Pichai"
    # either alone is the answer, and the other stays next in line
    assert shown(both, None, "Serena Williams") == "Serena Williams"
    assert shown(both, "Simona Halep", None) == "Simona Halep"
    assert len(short_order(both, (0, 15), (23, 35), False)) == 2


def test_a_list_of_names_cut_short_runs_on_to_its_last_name():
    def run_on(text, span):
        a = text.index(span)
        return text[slice(*whole_list(text, (a, a + len(span))))]

    signed = (
        "As a result of the first day of the conference, the US Department of Defense, the Ministry of Defence "
        "of Ukraine, and the Ministry for Strategic Industries of Ukraine have signed a Statement of Intent."
    )
    whole = signed[signed.index("the US") : signed.index(" have")]
    assert run_on(signed, "the US Department of Defense, the Ministry of Defence of Ukraine") == whole
    assert (
        run_on("Filming moved to London, Mexico City and Rome.", "London, Mexico City")
        == "London, Mexico City and Rome"
    )
    team = "a team comprising the Departments of State, Defense, and Commerce has been formed"
    assert run_on(team, "State, Defense") == "State, Defense, and Commerce"
    # only a span that is already a list of names: one name, or words that are not names, stay
    assert run_on("Ukraine and the USA signed a memorandum", "Ukraine") == "Ukraine"
    assert run_on("It lists Scots, Gaelic, or any other language", "Scots, Gaelic") == "Scots, Gaelic"
    assert run_on("It reached the North Sea, and the following year", "North Sea") == "North Sea"


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Who is the US Secretary of Commerce?", "Gina Raimondo"),
        (
            "Who signed the Statement of Intent on Co-production and Technical Data Exchange?",
            "the US Department of Defense, the Ministry of Defence of Ukraine, and the Ministry for Strategic "
            "Industries of Ukraine",
        ),
        ("Who co-hosted the conference?", "White House and US Commerce and Defense Departments"),
        ("When was the Ukraine Defense Industrial Base Conference held?", "December 6-7, 2023"),
    ],
)
def test_short_answers_over_the_seeds_are_the_whole_answer(pipeline, hybrid, question, short):
    res = ask(pipeline, question)
    assert not res.abstained and res.short_answer is not None and res.short_answer.text == short
    # What the answer-type checks read is the rules' entity, kept beside the short answer shown.
    retrieved = pipeline.retriever.retrieve(question)
    best = hybrid.read(question, retrieved).best
    ranking = hybrid.rules.rank(question, retrieved)
    entry = next(
        e
        for e in hybrid.pool(question, ranking, 8)
        if tuple(best.quotes[0])[1:] == (e.candidate.start, e.candidate.end)
    )
    rules_short = hybrid.rules.reading_for(ranking, entry.candidate, retrieved, None)[0].answers[0].short
    assert best.entity == (rules_short if rules_short != best.short else None)


def test_the_rules_alone_still_read_as_before(pipeline):
    """``RuleReader.evidence`` is ``rank`` + ``reading_for`` of the rules' own choice."""
    rules = RuleReader(pipeline.settings)
    question = "When are the existing funds approved by Congress expected to run out?"
    retrieved = pipeline.retriever.retrieve(question)
    reading, feats = rules.evidence(question, retrieved)
    ranking = rules.rank(question, retrieved)
    again, feats_again = rules.reading_for(ranking, ranking.choice, retrieved)
    assert reading == again and feats == feats_again
    assert (reading.best.quotes[0].start, reading.best.quotes[0].end) == (ranking.choice.start, ranking.choice.end)
