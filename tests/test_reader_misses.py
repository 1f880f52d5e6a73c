"""The misses the hand-written reader made on unseen questions (issue #18), each as an
answerable case that must be answered right and a near miss that must abstain, over a
small hand-written news corpus (tests/data/miss_classes.jsonl), the shipped model
and its calibrated threshold, real Chroma and the real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexing.reindex import reindex
from service.answering import ask
from service.pipeline import build_pipeline
from service.settings import Settings
from tests.conftest import open_store
from training.reader.cpu import cpu_has_vnni

DATA = Path(__file__).parent / "data" / "miss_classes.jsonl"


def known_miss(*values, why: str, strict: bool = True, id: str | None = None):
    """A case the shipped reader still gets wrong (docs/reader-model.md, "Limits"): strict,
    so the day it passes the test fails and the case must move to the passing ones.
    ``strict=False`` only where the miss was not measured on this kind of processor."""
    return pytest.param(*values, marks=pytest.mark.xfail(strict=strict, reason=why), id=id or values[0])


# (miss class, question, what the quote must hold, what the short answer must be or None)
ANSWERABLE = [
    # The winner's sentence states another place (service.conflicts), so it is never read.
    pytest.param(
        "runner-up asked, not the winner",
        "Who finished second in the 2025 Lakeside Marathon?",
        "Maria Lopez",
        None,
        id="runner-up",
    ),
    known_miss(
        "the opposite sentence",
        "Which dish was voted the most popular in the Ridgeway canteen survey?",
        "lamb stew",
        None,
        why="the 'most unpopular' sentence is never read now (service.conflicts), but the model scores the "
        "'most popular' one below the survey's opening sentence (logit -0.33 against 0.99), which is answered "
        "('a survey on the canteen's menu', confidence 0.63)",
    ),
    pytest.param(
        "the year the question names", "Who won the 2025 Harbor Song Contest?", "Blue Lanterns", None, id="year"
    ),
    pytest.param(
        "a country, not the dateline city",
        "Which country hosted the fisheries summit?",
        "Norway",
        "Norway",
        id="country",
    ),
    pytest.param(
        "a count, not a height", "How many floors does the Meridian Tower have?", "72 floors", "72", id="count"
    ),
    # The heading is never quoted; the sentence on the bridge's cost, whose span is an amount
    # ("80 million"), is passed over for a who-question (service.reader, _amount_only).
    pytest.param(
        "a heading that is a question",
        "Who will pay for the new bridge over the Alder river?",
        "regional government",
        None,
        id="heading",
    ),
    pytest.param(
        "the whole name",
        "Who is Northwind Shipping's new chief executive?",
        "O'Donnell-Price",
        "Margaret O'Donnell-Price",
        id="whole name",
    ),
    pytest.param(
        "the whole list",
        "Which ministries signed the water agreement?",
        "Ministry of Regional Development",
        None,
        id="whole list",
    ),
    # The model reads the speaker named after the quotation closes (service.reader.context_sentence).
    pytest.param(
        "a quotation's speaker named after it",
        "Until what time did Mayor Ruiz say the clinic will stay open?",
        "ten at night",
        "ten at night",
        id="quotation speaker",
    ),
    # Asked who said it: the sentence naming the speaker is quoted beside it, and no span of
    # the quotation is the short answer.
    pytest.param(
        "a quotation's speaker named after it",
        "Which official said the clinic would treat up to 400 patients a day?",
        "said Mayor Ana Ruiz",
        None,
        id="who said a quotation",
    ),
    pytest.param(
        "the currency sign",
        "How much does a cup of coffee cost at the station kiosk?",
        "$3.98",
        "$3.98",
        id="currency sign",
    ),
]
NEAR_MISSES = [
    # The winner's and the runner-up's sentences state other places (service.conflicts).
    pytest.param("runner-up asked, not the winner", "Who finished third in the 2025 Lakeside Marathon?", id="third"),
    # The time rules (service.time_scope) drop the 2024 article's sentence: nothing is left to answer with.
    pytest.param("the year the question names", "Who won the 2023 Harbor Song Contest?", id="other-year"),
    # Measured on a processor with AVX-512 VNNI: the floors sentence gets 0.372 against the
    # threshold's 0.37, nearer than the int8 kernels of two kinds of processor agree (up to
    # ±0.05). Strict there (the day it abstains, this fails and the case moves back to the
    # passing ones); elsewhere unmeasured, so either outcome is accepted.
    known_miss(
        "a count, not a height",
        "How many lifts does the Meridian Tower have?",
        why="no article gives the number of lifts; answered with the floors sentence, confidence 0.372 "
        "(threshold 0.37) on VNNI processors",
        strict=cpu_has_vnni(),
        id="lifts",
    ),
    # The chief executive's sentence states another office (service.conflicts).
    pytest.param("the whole name", "Who is Northwind Shipping's new finance director?", id="finance director"),
    known_miss(
        "the currency sign",
        "How much does a cup of tea cost at the station kiosk?",
        why="no article gives a tea price; answered with the coffee price, confidence 0.76 (threshold 0.37)",
    ),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("misses")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(DATA, corpus / "news.jsonl")
    settings = Settings(data_dir=root / "data", corpus_dir=corpus)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    return build_pipeline(settings, store, embedder, llm=None)


@pytest.mark.parametrize(("kind", "question", "quote", "short"), ANSWERABLE)
def test_answered_right(pipeline, kind, question, quote, short):
    res = ask(pipeline, question)
    assert not res.abstained, f"{kind}: abstained (confidence {res.confidence})"
    assert quote.lower() in " ".join(q.text for q in res.quotes).lower(), f"{kind}: {res.answer}"
    assert not res.quotes[0].text.rstrip().endswith("?")
    if short is not None:
        assert res.short_answer is not None and res.short_answer.text == short, f"{kind}: {res.short_answer}"
    elif question.startswith("Which official said"):
        # The sentence inside the quotation first, then the one naming the speaker.
        assert res.short_answer is None, res.short_answer
        assert res.quotes[0].text.startswith("“The clinic will treat") and "said Mayor Ana Ruiz" in res.quotes[1].text


@pytest.mark.parametrize(("kind", "question"), NEAR_MISSES)
def test_near_miss_abstains(pipeline, kind, question):
    res = ask(pipeline, question)
    assert res.abstained, f"{kind}: answered {res.answer!r} with confidence {res.confidence}"
