"""The asking path's stages through their interfaces (real Chroma, real model, the
seed index). ``READERS`` lists every reader the product can run: each one must pass
the read-stage tests, whatever it does inside."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from service.answering import ask
from service.pipeline import build_pipeline
from service.reader import HybridReader, ModelReader
from service.retrieval import Retrieved
from service.rule_reader import Calibration, RuleReader
from service.settings import Settings
from service.stages import Answer, Offsets, Reading, ThresholdDecider

# (question, a string the answering quote must hold)
ANSWERABLE = [
    ("How much was the military aid package the US announced on December 6, 2023?", "$175 million"),
    ("Who is Ukraine's first lady?", "Zelenska"),
    ("In which city did the defense industrial base conference take place?", "Washington"),
]
UNANSWERABLE = ["Who won the Super Bowl in 2024?", "What is the capital of Australia?"]


READERS = {
    "hybrid": lambda settings: HybridReader(RuleReader(settings)),
    "model": ModelReader,
    "rules": RuleReader,
}


@pytest.fixture(scope="module")
def pipeline(seed_index, embedder):
    settings, store = seed_index
    return build_pipeline(settings, store, embedder, llm=None)


@pytest.fixture(params=sorted(READERS))
def reader(request, pipeline):
    return READERS[request.param](pipeline.settings)


def _text(retrieved: Retrieved, span: Offsets) -> str:
    return retrieved.records[span.doc_id].text[span.start : span.end]


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_reader_ranks_an_answer_holding_quote_first(pipeline, reader, question, expected):
    retrieved = pipeline.retriever.retrieve(question)
    reading = reader.read(question, retrieved)
    assert isinstance(reading, Reading) and reading.answers
    best = reading.best
    assert 1 <= len(best.quotes) <= 3
    assert expected.lower() in " ".join(_text(retrieved, q) for q in best.quotes).lower()
    if best.short is not None:  # a short answer sits inside one of its quotes
        assert any(
            q.doc_id == best.short.doc_id and q.start <= best.short.start < best.short.end <= q.end for q in best.quotes
        )


@pytest.mark.parametrize("question", [q for q, _ in ANSWERABLE] + UNANSWERABLE)
def test_reader_answers_are_ranked_valid_offsets_with_probabilities(pipeline, reader, question):
    retrieved = pipeline.retriever.retrieve(question)
    reading = reader.read(question, retrieved)
    confidences = [a.confidence for a in reading.answers]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True)
    for answer in reading.answers:
        for span in answer.quotes:
            record = retrieved.records[span.doc_id]
            assert 0 <= span.start < span.end <= len(record.text)


def test_reader_is_more_confident_where_the_articles_answer(pipeline, reader):
    def best(question: str) -> float:
        return reader.read(question, pipeline.retriever.retrieve(question)).best.confidence

    lowest_answerable = min(best(q) for q, _ in ANSWERABLE)
    assert all(best(q) < lowest_answerable for q in UNANSWERABLE)


def test_reader_with_no_candidates_gives_no_answer(pipeline, reader):
    retrieved = pipeline.retriever.retrieve(ANSWERABLE[0][0])
    empty = replace(retrieved, hits=[])
    assert reader.read(retrieved.question, empty).answers == []


class FirstSentence:
    """A stand-in reader (a class with the stage's one method): the top hit's first sentence."""

    threshold = 0.5

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift

    def read(self, question: str, retrieved: Retrieved) -> Reading:
        row = retrieved.hits[0].row
        start, end = row.sentences[0]
        return Reading([Answer((Offsets(row.doc_id, start + self.shift, end + self.shift),), None, 0.99)])


def test_pipeline_from_settings_with_the_reader_replaced(seed_index, embedder):
    settings, store = seed_index
    settings = settings.model_copy(update={"retrieval_fetch": 3})
    pipeline = build_pipeline(settings, store, embedder, llm=None, reader=FirstSentence())
    question = ANSWERABLE[0][0]
    assert len(pipeline.retriever.retrieve(question).hits) <= 3  # the retrieval setting reached its stage
    res = ask(pipeline, question)
    top = pipeline.retriever.retrieve(question).hits[0].row
    start, end = top.sentences[0]
    assert not res.abstained and res.confidence == 0.99
    assert [(q.doc_id, q.start, q.end) for q in res.quotes] == [(top.doc_id, start, end)]


def test_a_replaced_reader_cannot_show_an_unverifiable_quote(seed_index, embedder):
    settings, store = seed_index
    # offsets past the article's end: the verify stage refuses them, so the answer abstains
    pipeline = build_pipeline(settings, store, embedder, llm=None, reader=FirstSentence(shift=10**7))
    res = ask(pipeline, ANSWERABLE[0][0])
    assert res.abstained and res.quotes == []


def test_threshold_decider_abstains_below_its_threshold():
    answer = Answer((Offsets("a", 0, 5),), None, 0.5)
    assert ThresholdDecider(0.4).decide(Reading([answer])).answer == answer
    low = ThresholdDecider(0.6).decide(Reading([answer]))
    assert low.abstained and low.confidence == 0.5
    assert ThresholdDecider(0.0).decide(Reading([])).abstained


def test_confidence_weights_are_a_loaded_artifact(tmp_path):
    shipped = Calibration.load()
    assert shipped.meta["format"] == "citeqa-rule-confidence/1" and "eval.bench.calibrate" in shipped.meta["fitted_by"]
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({**shipped.meta, "bias": 5.0, "weights": {"sim": 0.0}}))
    # a calibration file named in settings is the one the reader uses
    reader = RuleReader(Settings(reader_calibration=path))
    assert reader.calibration.confidence({"sim": 0.3}) == pytest.approx(1 / (1 + pow(2.718281828459045, -5.0)))
    path.write_text(json.dumps({**shipped.meta, "weights": {"no_such_feature": 1.0}}))
    with pytest.raises(ValueError, match="unknown features"):
        Calibration.load(path)
