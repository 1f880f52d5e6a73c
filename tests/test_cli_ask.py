"""`citeqa ask` and `citeqa serve` as users run them."""

from __future__ import annotations

import json
import os
import subprocess

import httpx

from tests.conftest import CITEQA, ROOT, free_port, run_cli, wait_ready

QUESTION = "How much was the military aid package the US announced on December 6, 2023?"


def test_ask_json_and_human_output(tmp_path):
    env = {"CITEQA_DATA_DIR": str(tmp_path / "data")}
    res = run_cli("ask", QUESTION, "--json", env=env)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["abstained"] is False and body["short_answer"]["text"] == "$175 million"
    assert set(body) == {
        *("question", "answer", "abstained", "confidence", "as_of", "superseded", "mode", "short_answer"),
        *("quotes", "passages", "question_kind", "llm_dropped", "llm_fallback", "options"),
    }
    human = run_cli("ask", QUESTION, "--top-k", "2", env=env)
    assert human.returncode == 0
    q = body["quotes"][0]
    assert f"{q['doc_id']} [{q['start']}:{q['end']}]" in human.stdout
    assert "$175 million" in human.stdout
    bad = run_cli("ask", "   ", env=env)
    assert bad.returncode == 2 and "empty" in bad.stderr and "Traceback" not in bad.stderr
    dated = run_cli("ask", QUESTION, "--as-of", "2024-01-31", "--json", env=env)
    assert dated.returncode == 0 and json.loads(dated.stdout)["as_of"] == "2024-01-31"
    for wrong in ("2024-02-30", "last week"):
        refused = run_cli("ask", QUESTION, "--as-of", wrong, env=env)
        assert refused.returncode == 2 and "as_of" in refused.stderr and "Traceback" not in refused.stderr
    # answer options: --option once per option, the human output says what was read
    amounts = ("--option", "$175 million", "--option", "$300 million", "--option", "$1 billion")
    quiz = run_cli("ask", "How much was the military aid package the US announced?", *amounts, env=env)
    assert quiz.returncode == 0 and "Options: $175 million · $300 million · $1 billion" in quiz.stdout
    assert "Short answer: $175 million" in quiz.stdout
    one = run_cli("ask", QUESTION, "--option", "$175 million", env=env)
    assert one.returncode == 2 and "options" in one.stderr and "Traceback" not in one.stderr


def test_serve_indexes_on_first_start_and_answers(tmp_path):
    port = free_port()
    env = {**os.environ, "CITEQA_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [str(CITEQA), "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        body = httpx.post(base + "/ask", json={"question": QUESTION}, timeout=30).json()
        assert body["short_answer"]["text"] == "$175 million"
        # The running service holds the embedded data dir: a concurrent index run is refused.
        res = run_cli("index", env={"CITEQA_DATA_DIR": str(tmp_path / "data")})
        assert res.returncode != 0 and "holds" in res.stderr and "/admin/reindex" in res.stderr
    finally:
        proc.terminate()
        proc.wait(20)
