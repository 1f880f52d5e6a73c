"""LLM mode against a real model: SmolLM2-135M-Instruct served by llama.cpp's
OpenAI-compatible server (`citeqa llm-server`, the `smollm2` fixture), temperature 0,
seed 0, over the real seed index. Nothing here scripts what the model says: the
tests check the contract on whatever it writes, and that it writes something that
survives (not vacuous: at least three of the fixed questions come back in LLM mode).
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from service import support
from service.app import create_app
from service.citations import DROP_REASONS, VERDICT
from tests.test_llm_mode import assert_sound, parse_sse

QUESTIONS = [
    "How much was the military aid package the US announced on December 6, 2023?",
    "When was the Ukraine Defense Industrial Base Conference held?",
    "Who co-hosted the conference?",
    "What urgent needs of the Ukrainian military does the agreement address?",
    "Who is Ukraine's defence minister?",
    "What did the US and Ukraine sign a memorandum about?",
    "Did the US and Ukraine agree to co-produce weapons?",
]
FALLBACKS = {"timeout", "error", "refusal", "nothing_verified"}


@pytest.fixture(scope="module")
def client(seed_index, smollm2):
    settings, _ = seed_index
    # A generous deadline: two cores, and the suite's other work beside it.
    real = settings.model_copy(update={"llm_base_url": smollm2, "llm_timeout_s": 60.0})
    with TestClient(create_app(real)) as c:
        yield c


@pytest.fixture(scope="module")
def streamed(client) -> dict[str, tuple[list[str], dict]]:
    """Each question asked once with `stream: true`: (its sentence events, the done body)."""
    out = {}
    for question in QUESTIONS:
        with client.stream("POST", "/ask", json={"question": question, "stream": True}) as r:
            assert r.status_code == 200
            events = parse_sse(r.read().decode())
        assert [k for k, _ in events].count("done") == 1 and events[-1][0] == "done"
        out[question] = ([d["text"] for k, d in events if k == "sentence"], events[-1][1])
    return out


def test_a_real_model_answers_survive_the_checks(streamed):
    modes = {q: body["mode"] for q, (_, body) in streamed.items()}
    assert sum(m == "llm" for m in modes.values()) >= 3, modes


def test_every_kept_sentence_cites_verified_quotes_that_support_it(client, streamed):
    for question, (sentences, body) in streamed.items():
        assert_sound(client, body)  # every [n] maps to a quote; quotes verbatim; quoted text in a quote
        assert set(body["llm_dropped"]) <= set(DROP_REASONS)
        if body["mode"] != "llm":
            assert body["llm_fallback"] in FALLBACKS
            continue
        assert body["llm_fallback"] is None
        assert " ".join(sentences) == body["answer"]
        for sentence in sentences:
            if VERDICT.match(sentence):
                continue  # a bare Yes/No is only kept in front of a cited sentence
            cited = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
            assert cited, sentence
            plain = re.sub(r"\s*\[\d+\]", "", sentence)
            sources = [body["quotes"][n - 1]["text"] for n in cited]
            assert support.claims(plain, question).missing(sources) == [], (sentence, sources)
        if sentences and VERDICT.match(sentences[-1]):
            pytest.fail(f"a bare verdict ended the answer: {sentences}")


def test_streamed_sentences_are_the_final_answer_and_json_mode_keeps_the_contract(client, streamed):
    question = QUESTIONS[0]
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200
    body = r.json()
    assert_sound(client, body)
    assert body["mode"] in ("llm", "extractive") and body["llm_dropped"] is not None


def test_a_deadline_the_model_cannot_meet_falls_back_in_time(client):
    pipeline = client.app.state.citeqa.pipeline
    saved = pipeline.settings
    pipeline.settings = saved.model_copy(update={"llm_timeout_s": 0.05})
    try:
        started = time.perf_counter()
        r = client.post("/ask", json={"question": QUESTIONS[0]})
        elapsed = time.perf_counter() - started
    finally:
        pipeline.settings = saved
    body = r.json()
    assert r.status_code == 200 and body["mode"] == "extractive" and body["llm_fallback"] == "timeout"
    assert "$175 million" in body["answer"]
    assert elapsed < 5.0  # retrieval and reading, plus 0.05 s for the model


def test_yes_no_question_is_marked_and_any_verdict_cites_a_quote(streamed):
    sentences, body = streamed[QUESTIONS[-1]]
    assert body["question_kind"] == "yes_no"
    if body["mode"] == "llm":
        assert any(re.search(r"\[\d+\]", s) for s in sentences)
    else:
        assert body["short_answer"] is None and body["quotes"]


def test_unanswerable_question_abstains_without_asking_the_model(client):
    body = client.post("/ask", json={"question": "Who won the Super Bowl in 2024?"}).json()
    assert body["abstained"] and body["mode"] == "extractive" and body["llm_dropped"] is None
