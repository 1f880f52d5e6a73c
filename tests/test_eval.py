"""`citeqa eval`: in-process and over HTTP, reports, thresholds, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from eval.rgb import RGB_DEV
from tests.conftest import CITEQA, ROOT, copy_seeds, free_port, run_cli, wait_ready

TARGETS = [
    "--min-accuracy",
    "0.90",
    "--min-citation-precision",
    "0.90",
    "--min-abstention-precision",
    "0.80",
    "--min-abstention-recall",
    "0.80",
]


@pytest.fixture(scope="module")
def seed_data(tmp_path_factory):
    return tmp_path_factory.mktemp("eval-data")


def _summary(out) -> dict:
    return json.loads((out / "report.json").read_text())["summary"]


def test_eval_as_a_quiz_asks_each_question_with_its_options(tmp_path, seed_data):
    from eval.choices import quiz_rows
    from eval.golden import load_golden
    from service.options import named, split

    out = tmp_path / "quiz"
    res = run_cli("eval", "--choices", "3", "--out", str(out), env={"CITEQA_DATA_DIR": str(seed_data)})
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads((out / "report.json").read_text())
    expected = quiz_rows(load_golden(ROOT / "eval" / "golden.jsonl"), 3)
    assert [q["question"] for q in report["questions"]] == [r.question for r in expected]
    assert report["summary"]["unanswerable"] == sum(not r.answerable for r in expected) > 0
    assert "as a quiz of 3 options" in (out / "report.md").read_text()
    # wherever the first quote names an option, the short answer is one it names
    answered = [q for q in report["questions"] if not q["abstained"]]
    assert answered
    for q in answered:
        first = q["quotes"][0]["text"]
        mentions = {first[s:e] for s, e in named(first, tuple(split(q["question"]).options)).values()}
        if mentions:
            assert q["short_answer"]["text"] in mentions, q
    refused = run_cli("eval", "--choices", "1", env={"CITEQA_DATA_DIR": str(seed_data)})
    assert refused.returncode == 2 and "--choices" in refused.stderr and "Traceback" not in refused.stderr


def test_seed_eval_meets_targets_and_writes_reports(tmp_path, seed_data):
    out = tmp_path / "report"
    started = time.perf_counter()
    res = run_cli("eval", "--out", str(out), *TARGETS, env={"CITEQA_DATA_DIR": str(seed_data)})
    elapsed = time.perf_counter() - started
    assert res.returncode == 0, res.stdout + res.stderr
    summary = _summary(out)
    assert summary["answer_accuracy"] >= 0.90
    assert summary["citation_verbatim"] == 1.0
    assert summary["citation_precision"] >= 0.90
    assert summary["abstention_precision"] >= 0.80 and summary["abstention_recall"] >= 0.80
    report = json.loads((out / "report.json").read_text())
    q = report["questions"][0]
    assert {"question", "expected", "answer", "quotes", "confidence", "verdicts", "latency_ms"} <= set(q)
    assert "near-miss" in report["per_tag"]
    md = (out / "report.md").read_text()
    assert md.startswith("# citeqa eval") and "## Failures" in md
    assert (out / "confidence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "answer_accuracy" in res.stdout and "0.90 ok" in res.stdout
    # Yes/no and comparison rows: judged apart, never a made-up verdict or a short answer without an LLM.
    kinds = summary["kinds"]
    assert set(kinds) == {"yes_no", "comparison"}
    assert summary["questions"] == len(report["questions"]) - sum(k["questions"] for k in kinds.values())
    for k in kinds.values():
        assert k["made_up_verdict"] == 0 and k["short_answer_null"] == k["questions"] and k["llm_answers"] == 0
        assert k["kind_right"] >= k["questions"] - 1
    assert kinds["yes_no"]["evidence_quoted"] >= 3
    assert "## Yes/no and comparison questions" in md
    print(f"seed eval wall time {elapsed:.1f} s; kinds {kinds}")


def test_missed_threshold_exits_1_and_says_which(tmp_path, seed_data):
    res = run_cli(
        "eval", "--out", str(tmp_path / "r"), "--min-abstention-recall", "0.99", env={"CITEQA_DATA_DIR": str(seed_data)}
    )
    assert res.returncode == 1
    assert "MISSED" in res.stdout and "abstention_recall" in res.stderr


def test_url_mode_gives_the_same_numbers(tmp_path, seed_data):
    in_process = tmp_path / "in"
    assert run_cli("eval", "--out", str(in_process), env={"CITEQA_DATA_DIR": str(seed_data)}).returncode == 0
    port = free_port()
    env = {**os.environ, "CITEQA_DATA_DIR": str(tmp_path / "served")}
    proc = subprocess.Popen(
        [str(CITEQA), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        over_http = tmp_path / "http"
        res = run_cli("eval", "--url", url, "--out", str(over_http))
        assert res.returncode == 0, res.stderr
    finally:
        proc.terminate()
        proc.wait(20)
    a, b = _summary(in_process), _summary(over_http)
    for key in a:
        if not key.startswith("latency"):
            assert a[key] == b[key], key


def test_bad_invocations(tmp_path):
    refused = run_cli("eval", "--url", "http://127.0.0.1:9", "--corpus", "seeds")
    assert refused.returncode == 2 and "--url" in refused.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "question": "q?", "answers": ["x"], "evidence": [], "answerable": true}\n{oops\n')
    res = run_cli("eval", "--golden", str(broken))
    assert res.returncode == 2 and "broken.jsonl:2" in res.stderr and "Traceback" not in res.stderr
    missing = run_cli("eval", "--golden", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    down = run_cli("eval", "--url", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path / "x"))
    assert down.returncode == 1 and "cannot reach" in down.stderr


def test_own_corpus_and_golden_file(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    (corpus / "us-ukraine-coproduction-memorandum.txt").unlink()
    golden = tmp_path / "mine.jsonl"
    rows = [
        {
            "id": "1",
            "question": "Who is Ukraine's first lady?",
            "answers": ["Olena Zelenska"],
            "evidence": [{"doc_id": "us-ukraine-weapons-production-pact.txt", "quote": "Olena Zelenska"}],
            "answerable": True,
            "tags": ["mine"],
        },
        {
            "id": "2",
            "question": "What is the boiling point of water?",
            "answers": [],
            "evidence": [],
            "answerable": False,
            "tags": ["mine"],
        },
    ]
    golden.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "out"
    res = run_cli(
        "eval",
        "--golden",
        str(golden),
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        env={"CITEQA_DATA_DIR": str(tmp_path / "untouched")},
    )
    assert res.returncode == 0, res.stderr
    summary = _summary(out)
    assert summary["questions"] == 2 and summary["answer_accuracy"] == 1.0 and summary["abstention_recall"] == 1.0
    assert not (tmp_path / "untouched").exists(), "--corpus uses a temporary index"


def test_rgb_format(tmp_path):
    assert RGB_DEV.is_file(), "the RGB dev file is read from ../shared at run time"
    out = tmp_path / "rgb"
    res = run_cli(
        "eval", "--format", "rgb", "--out", str(out), env={"CITEQA_DATA_DIR": str(tmp_path / "unused")}, timeout=900
    )
    assert res.returncode == 0, res.stderr
    summary = _summary(out)
    assert summary["questions"] == 50 and summary["unanswerable"] == 0
    assert summary["answer_accuracy"] >= 0.70 and summary["hit@5"] >= 0.75
    assert summary["citation_verbatim"] == 1.0
