"""LLM answer mode: the real app, a real seed index and LlamaIndex's real
OpenAILike client, talking HTTP to a scripted OpenAI-compatible server
(tests/llm_server.py — a hosted or local LLM cannot run here). Whatever the
LLM writes, no unverified quote is ever returned."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.citations import Citer, align
from service.llm import Source
from service.settings import Settings
from tests.conftest import ROOT
from tests.llm_server import ScriptedLLM, find

QUESTION = "How much was the military aid package the US announced on December 6, 2023?"
AID = "military aid package for Ukraine of $175 million"


@pytest.fixture(scope="module")
def llm():
    server = ScriptedLLM()
    yield server
    server.close()


@pytest.fixture(scope="module")
def client(seed_index, llm):
    settings, _ = seed_index
    llm_settings = settings.model_copy(update={"llm_base_url": llm.base_url, "llm_timeout_s": 2.0})
    with TestClient(create_app(llm_settings)) as c:
        yield c


def texts(client: TestClient) -> dict[str, str]:
    docs = client.get("/documents").json()["documents"]
    return {d["doc_id"]: client.get(f"/documents/{d['doc_id']}").json()["text"] for d in docs}


def assert_sound(client: TestClient, body: dict) -> None:
    """Every quote verbatim at its offsets; every marker points into quotes; quoted text is in a quote."""
    articles = texts(client)
    for q in body["quotes"]:
        assert articles[q["doc_id"]][q["start"] : q["end"]] == q["text"]
    if body["mode"] == "llm":
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", body["answer"])]
        assert markers and set(markers) <= set(range(1, len(body["quotes"]) + 1))
        for quoted in re.findall(r'"([^"]+)"', body["answer"]):
            assert any(quoted in q["text"] for q in body["quotes"]), quoted


def ask(client: TestClient, **extra) -> dict:
    r = client.post("/ask", json={"question": QUESTION, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def answered(client: TestClient, llm: ScriptedLLM, *sentences: Callable[[dict[int, str]], str]) -> dict:
    """The /ask body when the scripted LLM replies with these sentences, joined by spaces."""
    llm.reset(lambda src: " ".join(sentence(src) for sentence in sentences))
    return ask(client)


def test_faithful_answer_is_used_with_verified_quotes(client, llm):
    body = answered(
        client,
        llm,
        lambda src: f'The US announced a new "{AID}" on December 6, 2023 [{find(src, AID)}].',
        lambda src: f"It includes air defense munitions [{find(src, 'air defense munitions')}].",
    )
    assert body["mode"] == "llm" and not body["abstained"]
    assert body["answer"].startswith(f'The US announced a new "{AID}" on December 6, 2023 [1].')
    assert "$175 million" in body["quotes"][0]["text"]
    assert_sound(client, body)
    # The prompt: numbered candidate sentences, plain text asked for (no JSON mode, no tools).
    sent = llm.requests[-1]
    assert not {"response_format", "tools", "functions"} & set(sent)
    assert re.search(r"^\[1\] \(", sent["messages"][-1]["content"], re.M)
    assert "[n]" not in sent["messages"][-1]["content"] and "NO ANSWER" in sent["messages"][0]["content"]


def test_near_verbatim_quote_is_aligned_to_the_source(client, llm):
    # Curly quotes, a capital letter and a doubled space: close enough, rewritten to the exact words.
    llm.reset(
        lambda src: f"The package was “A new military aid package  for Ukraine of $175 million” [{find(src, AID)}]."
    )
    body = ask(client)
    assert body["mode"] == "llm"
    assert '"a new military aid package for Ukraine of $175 million"' in body["answer"]
    assert_sound(client, body)


def test_invented_quote_never_reaches_the_answer(client, llm):
    body = answered(
        client,
        llm,
        lambda src: f'Officials called it "the largest aid package in history" [{find(src, AID)}].',
        lambda src: f"The package was worth $175 million [{find(src, AID)}].",
    )
    assert body["mode"] == "llm"
    assert "largest aid package in history" not in body["answer"]
    assert body["answer"] == "The package was worth $175 million [1]."
    assert_sound(client, body)


def test_citation_numbers_that_do_not_exist_are_dropped(client, llm):
    llm.reset(
        lambda src: f"The package was worth $175 million [99]. It was announced in December [{find(src, AID)}][42]."
    )
    body = ask(client)
    assert body["mode"] == "llm"
    # [99] and [42] never show; the first sentence is cited to the one source that supports it.
    assert body["answer"] == "The package was worth $175 million [1]. It was announced in December [1]."
    assert len(body["quotes"]) == 1
    assert_sound(client, body)
    # Nothing valid, nothing that supports it: the extractive answer instead.
    llm.reset(lambda src: "The package was worth $90 million [99].")
    body = ask(client)
    assert body["mode"] == "extractive" and "$175 million" in body["quotes"][0]["text"]
    assert body["llm_dropped"] == {"unknown_source": 1}


def test_timeout_falls_back_to_the_extractive_answer_in_time(client, llm):
    llm.reset(lambda src: f"Too late [{find(src, AID)}].", mode="slow", delay=4.0)
    started = time.perf_counter()
    body = ask(client)
    elapsed = time.perf_counter() - started
    assert body["mode"] == "extractive" and not body["abstained"]
    assert "Too late" not in body["answer"]
    assert elapsed < 2.0 + 1.5  # CITEQA_LLM_TIMEOUT_S=2 bounds the whole call
    assert_sound(client, body)


@pytest.mark.parametrize("mode", ["malformed", "error"])
def test_broken_llm_responses_fall_back(client, llm, mode):
    llm.reset(lambda src: "unused", mode=mode)
    body = ask(client)
    assert body["mode"] == "extractive" and "$175 million" in body["quotes"][0]["text"]
    assert len(llm.requests) == 1  # no retries past the budget
    assert_sound(client, body)


def test_refusal_falls_back_to_extractive(client, llm):
    llm.reset(lambda src: "NO ANSWER")
    body = ask(client)
    assert body["mode"] == "extractive"
    off = client.post("/ask", json={"question": "Who won the Super Bowl in 2024?"}).json()
    assert off["mode"] == "extractive" and off["abstained"] and off["quotes"] == []


def parse_sse(raw: str) -> list[tuple[str, dict]]:
    events = []
    for block in raw.strip().split("\n\n"):
        kind = re.search(r"^event: (.*)$", block, re.M).group(1)
        data = re.search(r"^data: (.*)$", block, re.M).group(1)
        events.append((kind, json.loads(data)))
    return events


def test_stream_sends_verified_sentences_quotes_then_done(client, llm):
    llm.reset(
        lambda src: (
            f'Officials called it "a historic gift" [{find(src, AID)}]. '
            f'The US announced "{AID}" [{find(src, AID)}]. '
            f"It includes air defense munitions [{find(src, 'air defense munitions')}][77]."
        )
    )
    with client.stream("POST", "/ask", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    done = events[-1][1]
    assert done["mode"] == "llm"
    sentences = [d["text"] for k, d in events if k == "sentence"]
    assert " ".join(sentences) == done["answer"]
    assert all("historic gift" not in s for s in sentences)
    # Each sentence's markers refer to quotes already sent.
    quotes_seen = 0
    for kind, data in events[:-1]:
        if kind == "quote":
            quotes_seen += 1
            assert data == done["quotes"][quotes_seen - 1]
        else:
            assert all(int(n) <= quotes_seen for n in re.findall(r"\[(\d+)\]", data["text"]))
    assert quotes_seen == len(done["quotes"]) == 2
    assert_sound(client, done)


def test_stream_falls_back_with_only_done(client, llm):
    llm.reset(lambda src: "unused", mode="error")
    with client.stream("POST", "/ask", json={"question": QUESTION, "stream": True}) as r:
        events = parse_sse(r.read().decode())
    assert [k for k, _ in events] == ["done"] and events[0][1]["mode"] == "extractive"


def test_without_an_llm_nothing_changes_and_stream_sends_only_done(client, llm):
    pipeline = client.app.state.citeqa.pipeline
    saved, pipeline.llm = pipeline.llm, None  # the same app as if CITEQA_LLM_BASE_URL were unset
    try:
        llm.reset(lambda src: "unused")
        body = ask(client)
        assert body["mode"] == "extractive"
        with client.stream("POST", "/ask", json={"question": QUESTION, "stream": True}) as r:
            events = parse_sse(r.read().decode())
    finally:
        pipeline.llm = saved
    assert [k for k, _ in events] == ["done"] and events[0][1] == body
    assert llm.requests == []


def test_base_url_must_be_http():
    with pytest.raises(ValueError, match="CITEQA_LLM_BASE_URL"):
        Settings(llm_base_url="localhost:8080/v1")
    assert Settings(llm_base_url="  ").llm_base_url is None
    assert Settings(llm_base_url="http://127.0.0.1:8080/v1/").llm_base_url == "http://127.0.0.1:8080/v1"


# The citation checker on its own, fed a character at a time as a stream would.

ARTICLE = "The U.S. Open ended on Sunday. Coco Gauff won the title, beating Aryna Sabalenka in three sets."


def test_align_tolerates_whitespace_quotes_and_case_only():
    assert align("coco  GAUFF won", ARTICLE) == (31, 45)
    assert align("Coco Gauff won the title,", ARTICLE) == (31, 56)
    assert align("Gauff lost the title", ARTICLE) is None


def test_citer_on_a_character_stream_keeps_abbreviations_and_markers_whole(seed_index):
    from indexing.store import ArticleRecord

    record = ArticleRecord("a.txt", "Tennis", ARTICLE, None, None, "h", 1)
    sources = {
        1: Source(1, "a.txt", "Tennis", None, 0, 30, ARTICLE[:30]),
        2: Source(2, "a.txt", "Tennis", None, 31, 95, ARTICLE[31:95]),
    }
    citer = Citer(sources, {"a.txt": record})
    text = 'The U.S. Open ended on Sunday [1]. "Coco Gauff won the title" [2][3]. Sabalenka retired [9].'
    events = [e for ch in text for e in citer.feed(ch)] + list(citer.finish())
    sentences = [e.data for e in events if e.kind == "sentence"]
    assert sentences == ["The U.S. Open ended on Sunday [1].", '"Coco Gauff won the title" [2].']
    assert [e.data.text for e in events if e.kind == "quote"] == [ARTICLE[:30], ARTICLE[31:95]]
    assert citer.dropped and "Sabalenka retired" in citer.dropped[0][0]


def test_eval_reports_both_modes_when_an_llm_is_configured(tmp_path, llm):
    from tests.conftest import run_cli

    golden = tmp_path / "golden.jsonl"
    rows = [json.loads(line) for line in (ROOT / "eval" / "golden.jsonl").read_text().splitlines()]
    golden.write_text("\n".join(json.dumps(r) for r in rows[:4]) + "\n")
    # The scripted LLM quotes its first source whole: a faithful, always-answering model.
    llm.reset(lambda src: f'The article says "{src[1]}" [1].')
    out = tmp_path / "report"
    res = run_cli(
        "eval",
        "--golden",
        str(golden),
        "--out",
        str(out),
        env={"CITEQA_DATA_DIR": str(tmp_path / "data"), "CITEQA_LLM_BASE_URL": llm.base_url},
    )
    assert res.returncode == 0, res.stdout + res.stderr
    with_llm = json.loads((out / "report.json").read_text())
    extractive = json.loads((out / "extractive" / "report.json").read_text())
    assert with_llm["summary"]["llm_answers"] == 4 and extractive["summary"]["llm_answers"] == 0
    llm_summary = {"asked": 4, "used": 4, "fallbacks": {}, "dropped": {}, "negation_mismatches": 0}
    assert with_llm["summary"]["llm"] == llm_summary
    assert extractive["summary"]["llm"]["asked"] == 0
    assert {q["mode"] for q in with_llm["questions"]} == {"llm"}
    assert with_llm["summary"]["citation_verbatim"] == extractive["summary"]["citation_verbatim"] == 1.0
    assert "extractive" in res.stdout and "llm" in res.stdout and len(llm.requests) == 4


# What a real small model writes (see tests/test_real_llm.py), scripted where it will not on demand.


def test_a_wrong_number_behind_a_valid_marker_is_dropped_as_unsupported(client, llm):
    body = answered(
        client,
        llm,
        lambda src: f"The new military aid package is $50 million [{find(src, AID)}].",
        lambda src: f"It includes air defense munitions [{find(src, 'air defense munitions')}].",
    )
    assert body["mode"] == "llm" and "$50 million" not in body["answer"]
    assert body["llm_dropped"] == {"unsupported": 1}
    assert_sound(client, body)


def test_a_sentence_without_markers_is_cited_to_the_one_source_that_supports_it(client, llm):
    body = answered(client, llm, lambda src: src[find(src, AID)].rstrip("."))
    assert body["mode"] == "llm" and body["answer"].endswith("[1]") and body["llm_dropped"] == {}
    assert "$175 million" in body["quotes"][0]["text"]
    llm.reset(lambda src: "The aid package was worth $175 million and came from Moscow.")
    unsupported = ask(client)
    assert unsupported["mode"] == "extractive" and unsupported["llm_fallback"] == "nothing_verified"
    assert unsupported["llm_dropped"] == {"no_citation": 1}


def test_layout_a_small_model_adds_is_undone(client, llm):
    # A preamble line, list numbering, the marker first and the source's label echoed from the prompt.
    def reply(src: dict[int, str]) -> str:
        n = find(src, AID)
        return f"The answer to the question is:\n1. [{n}] (Ukraine and the USA) {src[n]}"

    body = answered(client, llm, reply)
    assert body["mode"] == "llm" and body["llm_dropped"] == {"preamble": 1}
    assert body["answer"].endswith("[1].") and not body["answer"].startswith(("1.", "[", "("))
    assert_sound(client, body)


def test_a_bare_yes_is_kept_only_in_front_of_a_cited_sentence(client, llm):
    body = answered(
        client,
        llm,
        lambda src: "Yes.",
        lambda src: f"It includes air defense munitions [{find(src, 'air defense munitions')}].",
    )
    assert body["mode"] == "llm" and body["answer"].startswith("Yes. It includes air defense munitions [1]")
    llm.reset(lambda src: "Yes.")
    alone = ask(client)
    assert alone["mode"] == "extractive" and alone["llm_dropped"] == {"no_citation": 1}


def test_a_refusal_in_the_models_own_words_is_counted_as_one(client, llm):
    llm.reset(lambda src: "The sources do not mention the amount of the package.")
    body = ask(client)
    assert body["mode"] == "extractive" and body["llm_fallback"] == "refusal"
    assert body["llm_dropped"] == {"refusal": 1}


def test_yes_no_and_comparison_questions_in_extractive_mode_quote_each_side(client, llm):
    pipeline = client.app.state.citeqa.pipeline
    saved, pipeline.llm = pipeline.llm, None
    try:
        yes_no = client.post(
            "/ask", json={"question": "Did the US announce a military aid package for Ukraine on December 6, 2023?"}
        ).json()
        comparison = client.post(
            "/ask", json={"question": "What is the difference between the Statement of Intent and the memorandum?"}
        ).json()
    finally:
        pipeline.llm = saved
    assert yes_no["question_kind"] == "yes_no" and not yes_no["abstained"]
    assert yes_no["short_answer"] is None and yes_no["answer"] == " … ".join(q["text"] for q in yes_no["quotes"])
    assert not re.match(r"(?i)(yes|no)\b", yes_no["answer"])
    assert comparison["question_kind"] == "comparison" and comparison["short_answer"] is None
    assert not comparison["abstained"]  # no sentence compares them; a quote for each side answers
    texts_ = [q["text"] for q in comparison["quotes"]]
    assert any("Statement of Intent" in t for t in texts_) and any("memorandum" in t.lower() for t in texts_)
    assert comparison["answer"] == " … ".join(texts_)
    for body in (yes_no, comparison):
        assert_sound(client, body)


def test_a_comparison_with_a_side_the_articles_never_name_abstains(client, llm):
    llm.reset(lambda src: "unused")
    body = client.post("/ask", json={"question": "Which was faster, the Eastport Marathon or the Tour de France?"})
    assert body.status_code == 200
    body = body.json()
    assert body["question_kind"] == "comparison" and body["abstained"] and body["quotes"] == []
    assert llm.requests == []  # an abstention is never handed to the LLM


def test_a_quiz_shows_the_llm_the_options_and_an_option_still_needs_support(client, llm):
    """The options reach the prompt as one list however they came; naming one is a claim
    like any other (a wrong amount among the options is not "stated by the question")."""
    llm.reset(
        lambda src: (
            f"The package was $300 million [{find(src, AID)}]. "
            f"The US announced a $175 million package [{find(src, AID)}]."
        )
    )
    options = ["$175 million", "$300 million", "$1 billion"]
    question = "How much was the military aid package the US announced on December 6, 2023?"
    r = client.post("/ask", json={"question": question, "options": options})
    body = r.json()
    prompt = llm.requests[-1]["messages"][-1]["content"]
    assert f"Question: {question}\nOptions: $175 million; $300 million; $1 billion" in prompt
    assert body["question"] == question and body["options"] == options
    assert body["mode"] == "llm" and "$300 million" not in body["answer"] and "$175 million" in body["answer"]
    assert body["llm_dropped"] == {"unsupported": 1}
    assert_sound(client, body)
    # listed in the question: the same prompt (the stem and the list), and the same check
    # (the options are in the question's text, yet "$300 million" is still a claim to support)
    listed = client.post("/ask", json={"question": question + " A) $175 million B) $300 million C) $1 billion"})
    assert listed.json()["llm_dropped"] == {"unsupported": 1} and "$300 million" not in listed.json()["answer"]
    assert (
        f"Question: {question}\nOptions: $175 million; $300 million; $1 billion"
        in (llm.requests[-1]["messages"][-1]["content"])
    )
