"""The question page in a real browser: Debian's Chromium driven by Playwright
(never `playwright install`), against a real uvicorn server over a real index."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from service.app import create_app
from service.settings import Settings
from tests.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
ANSWERABLE = "How much was the military aid package the US announced on December 6, 2023?"
# Screenshots go to tmp; set CITEQA_SCREENSHOT_DIR=docs to refresh the README's picture.
SHOTS = os.environ.get("CITEQA_SCREENSHOT_DIR")


class LiveServer:
    def __init__(self, app) -> None:
        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def server(seed_index):
    settings, _ = seed_index
    with LiveServer(create_app(settings)) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / name), full_page=False)
    assert (tmp_path / name).stat().st_size > 10_000


def test_answerable_question_and_highlighted_quote(server, page, tmp_path):
    api = httpx.post(server.url + "/ask", json={"question": ANSWERABLE}).json()
    page.goto(server.url + "/")
    assert page.evaluate("document.documentElement.outerHTML").startswith("<html")
    page.get_by_label("Your question").fill(ANSWERABLE)
    page.keyboard.press("Enter")  # Enter submits
    expect(page.locator(".quote-card").first).to_be_visible(timeout=30_000)
    expect(page.locator(".answer .short")).to_have_text("$175 million")
    cards = page.locator(".quote-card blockquote")
    assert cards.count() == len(api["quotes"])
    for i, q in enumerate(api["quotes"]):
        assert cards.nth(i).inner_text() == q["text"]  # the full quote, never shortened
    expect(page.locator(".quote-source").first).to_contain_text(
        f"[{api['quotes'][0]['start']}:{api['quotes'][0]['end']}]"
    )
    expect(page.locator("#timing")).to_contain_text("ms")
    assert page.locator("#passages-box").get_attribute("open") is None  # passages collapsed
    assert page.locator("#passages li").count() == len(api["passages"])
    shot(page, tmp_path, "screenshot-answer.png")

    page.locator(".quote-card").first.click()
    current = page.locator("#article-text mark.current")
    expect(current).to_be_visible()
    assert current.inner_text() == api["quotes"][0]["text"]
    # The highlight sits at the quote's offsets in the article text.
    before = page.evaluate("""() => { const t = document.getElementById('article-text');
        const m = t.querySelector('mark.current'); const r = document.createRange();
        r.setStart(t, 0); r.setEndBefore(m); return Array.from(r.toString()).length; }""")
    assert before == api["quotes"][0]["start"]
    assert page.evaluate("""() => {
        const r = document.querySelector('#article-text mark.current').getBoundingClientRect();
        const box = document.getElementById('article-text').getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom; }""")
    assert "?q=" in page.url
    shot(page, tmp_path, "screenshot-article.png")


def test_a_quiz_question_shows_the_options_read_and_answers_with_one(server, page, tmp_path):
    quiz = "Which minister signed for Ukraine? A) Lloyd Austin B) Rustem Umerov C) Gina Raimondo"
    page.goto(server.url + "/")
    page.locator("button.example", has_text="Which minister signed").click()  # an example asks it
    expect(page.get_by_label("Your question")).to_have_value(quiz)
    expect(page.locator(".quote-card").first).to_be_visible(timeout=30_000)
    expect(page.locator("#options")).to_have_text(
        "Options read from the question: Lloyd Austin · Rustem Umerov · Gina Raimondo"
    )
    expect(page.locator(".answer .short")).to_have_text("Rustem Umerov")
    shot(page, tmp_path, "screenshot-quiz.png")
    page.get_by_label("Your question").fill(ANSWERABLE)
    page.keyboard.press("Enter")
    expect(page.locator(".answer .short")).to_have_text("$175 million", timeout=30_000)
    expect(page.locator("#options")).to_be_hidden()


def test_several_quotes_from_one_article_are_all_highlighted(server, page):
    question = "What does the $175 million aid package include?"
    api = httpx.post(server.url + "/ask", json={"question": question}).json()
    same_doc = [q for q in api["quotes"] if q["doc_id"] == api["quotes"][0]["doc_id"]]
    assert len(same_doc) >= 2, api
    page.goto(server.url + "/?q=" + question.replace(" ", "+").replace("$", "%24"))
    expect(page.locator(".quote-card").first).to_be_visible(timeout=30_000)
    page.locator(".quote-card").nth(1).click()
    marks = page.locator("#article-text mark")
    expect(marks).to_have_count(len(same_doc))
    assert [marks.nth(i).inner_text() for i in range(len(same_doc))] == [q["text"] for q in same_doc]
    expect(page.locator("#article-text mark.current")).to_have_text(api["quotes"][1]["text"])


def test_unanswerable_question_is_shown_as_such(server, page, tmp_path):
    page.goto(server.url + "/")
    page.get_by_label("Your question").fill("Who won the Super Bowl in 2024?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".answer")).to_contain_text("don't answer", timeout=30_000)
    assert page.locator(".quote-card").count() == 0
    expect(page.locator("#passages-box")).to_have_attribute("open", "")
    assert page.locator("#passages li").count() > 0
    shot(page, tmp_path, "screenshot-abstained.png")


def test_empty_question_shows_a_readable_error(server, page, tmp_path):
    page.goto(server.url + "/")
    page.get_by_label("Your question").fill("   ")
    page.keyboard.press("Enter")
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("must not be empty")
    assert page.locator("#result").is_hidden()
    shot(page, tmp_path, "screenshot-error.png")


def test_network_failure_and_503_are_readable(server, browser, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/")
    page.route("**/ask", lambda route: route.abort())  # the connection drops, as when the server is down
    page.get_by_label("Your question").fill(ANSWERABLE)
    page.keyboard.press("Enter")
    expect(page.locator("#error")).to_contain_text("Could not reach the citeqa service", timeout=10_000)
    context.close()
    with LiveServer(create_app(Settings(data_dir=tmp_path / "empty"))) as empty:
        context = browser.new_context()
        page = context.new_page()
        page.goto(empty.url + "/?q=anything")
        expect(page.locator("#error")).to_contain_text("citeqa index", timeout=10_000)
        context.close()


def test_keyboard_only_and_phone_width(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("Who is the British Foreign Secretary who visited the US?")
    page.keyboard.press("Enter")
    expect(page.locator(".quote-card").first).to_be_visible(timeout=30_000)
    page.locator(".quote-card").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#article-text mark.current")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, tmp_path, "screenshot-phone.png")
    context.close()


def test_llm_answer_links_each_marker_to_its_verified_quote(server, page, seed_index, tmp_path):
    """LLM mode on the page, against the scripted OpenAI-compatible server of
    tests/llm_server.py (a real LLM cannot run here)."""
    from service.llm import make_llm
    from tests.llm_server import ScriptedLLM, find

    llm = ScriptedLLM()
    llm.reset(
        lambda src: (
            f"The US announced a package of $175 million [{find(src, '$175 million')}]. "
            f"It includes air defense munitions [{find(src, 'air defense munitions')}]."
        )
    )
    settings, _ = seed_index
    pipeline = server.app.state.citeqa.pipeline
    pipeline.llm = make_llm(settings.model_copy(update={"llm_base_url": llm.base_url}))
    try:
        api = httpx.post(server.url + "/ask", json={"question": ANSWERABLE}).json()
        assert api["mode"] == "llm" and len(api["quotes"]) == 2
        page.goto(server.url + "/?q=" + ANSWERABLE.replace(" ", "+").replace("$", "%24"))
        expect(page.locator(".answer .cite").first).to_be_visible(timeout=30_000)
        expect(page.locator(".answer")).to_contain_text("The US announced a package of $175 million [1].")
        assert page.locator(".answer .cite").all_inner_texts() == ["[1]", "[2]"]
        assert page.locator(".quote-number").all_inner_texts() == ["[1]", "[2]"]
        shot(page, tmp_path, "screenshot-llm.png")
        page.locator(".answer .cite").nth(1).click()
        current = page.locator("#article-text mark.current")
        expect(current).to_be_visible()
        assert current.inner_text() == api["quotes"][1]["text"]
    finally:
        pipeline.llm = None
        llm.close()


def test_as_of_field_quote_dates_and_a_superseded_answer(browser, tmp_path, embedder):
    """The dated corpus (eval/dated/) behind a live server with its clock injected: the
    "as of" field reaches the API, each quote shows its date, a superseded answer is marked."""
    import datetime as dt

    from indexing.reindex import reindex
    from tests.conftest import ROOT, open_store

    settings = Settings(data_dir=tmp_path / "data", corpus_dir=ROOT / "eval" / "dated")
    reindex(settings, store=open_store(settings), get_embedder=lambda: embedder)
    question = "Who is the chief executive of Harbor Light Energy?"
    with LiveServer(create_app(settings, clock=lambda: dt.date(2026, 3, 6))) as live:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(live.url + "/")
        page.get_by_label("Your question").fill(question)
        page.keyboard.press("Enter")
        expect(page.locator(".quote-card").first).to_be_visible(timeout=30_000)
        expect(page.locator("#superseded")).to_be_visible()
        expect(page.locator(".answer .as-of")).to_have_text("as of 2026-03-06")
        dates = page.locator(".quote-card .quote-date")
        assert dates.count() >= 2
        assert dates.nth(0).inner_text() == "2024-03-12" and dates.nth(1).inner_text() == "2021-06-14"
        expect(page.locator(".quote-card .quote-rank").first).to_have_text("newest")
        shot(page, tmp_path, "screenshot-superseded.png")

        page.get_by_label("as of").fill("2022-06-01")
        page.get_by_role("button", name="Ask").click()
        expect(page.locator(".answer .as-of")).to_have_text("as of 2022-06-01", timeout=30_000)
        expect(page.locator("#superseded")).to_be_hidden()
        expect(page.locator(".quote-card").first).to_contain_text("Maria Okafor")
        expect(page.locator(".quote-card .quote-date").first).to_have_text("2021-06-14")
        assert "as_of=2022-06-01" in page.url
        context.close()


def test_page_streams_and_shows_each_verified_sentence_as_it_arrives(server, page, seed_index):
    """The page always asks with `stream: true`; in LLM mode (the scripted server of
    tests/llm_server.py, streaming slowly) a sentence shows before the answer is done."""
    from service.llm import make_llm
    from tests.llm_server import ScriptedLLM, find

    llm = ScriptedLLM()
    llm.reset(
        lambda src: (
            f"The US announced a package of $175 million [{find(src, '$175 million')}]. "
            f"It includes air defense munitions [{find(src, 'air defense munitions')}]. "
            "The Moon is made of cheese [1]."
        ),
        chunk_delay=0.15,
    )
    settings, _ = seed_index
    pipeline = server.app.state.citeqa.pipeline
    pipeline.llm = make_llm(settings.model_copy(update={"llm_base_url": llm.base_url}))
    try:
        page.goto(server.url + "/")
        page.get_by_label("Your question").fill(ANSWERABLE)
        page.keyboard.press("Enter")
        first = page.locator(".answer.live .live-sentence").first
        expect(first).to_have_text("The US announced a package of $175 million [1].", timeout=30_000)
        assert page.locator("#timing").inner_text() == ""  # not done yet: the rest is still coming
        expect(page.locator(".answer .cite").first).to_be_visible(timeout=30_000)  # the done body, rendered
        expect(page.locator(".answer")).not_to_have_class(re.compile(r"\blive\b"))
        assert "cheese" not in page.locator(".answer").inner_text()
        assert llm.requests and all(r.get("stream") for r in llm.requests)
    finally:
        pipeline.llm = None
        llm.close()
    # Extractive mode: the page still streams, and only `done` comes.
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/ask") else None)
    page.goto(server.url + "/")
    page.get_by_label("Your question").fill(ANSWERABLE)
    page.keyboard.press("Enter")
    expect(page.locator(".answer .short")).to_have_text("$175 million", timeout=30_000)
    assert sent and all(json.loads(body)["stream"] is True for body in sent)
