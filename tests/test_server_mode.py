"""Running for real: a `chroma run` server, several API processes, reindex while
serving, admin auth, compatibility check, metrics, request ids and JSON logs."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from indexing.store import StoreUnavailable, check_server
from service.app import create_app
from service.settings import Settings
from tests.conftest import CITEQA, ROOT, copy_seeds, free_port, run_cli, wait_ready

PACT = "us-ukraine-weapons-production-pact.txt"
QUESTIONS = [
    "Who is the British Foreign Secretary who visited the US?",
    "Which broadcaster interviewed Olena Zelenska?",
    "Who blocked the bill proposing billions in military aid?",
    "How much was the military aid package the US announced on December 6, 2023?",
]


class Serve:
    """`citeqa serve` in a subprocess."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Logs go to a file: a pipe nobody reads fills up and blocks the server.
        self.log_file = tempfile.NamedTemporaryFile(prefix="citeqa-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [str(CITEQA), "serve", "--port", str(self.port), *args],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Serve:
        wait_ready(self.url)
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()

    def logs(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")


_SIZES = itertools.count(301)


@pytest.fixture
def server_env(chroma_server, tmp_path):
    """Settings for a fresh index on the shared Chroma server (own chunking => own collections)."""
    host, port = chroma_server
    corpus = copy_seeds(tmp_path / "corpus")
    # A unique chunk size per test gives each test its own collections on the one server
    # (301+ is used by no other test: a random size once collided with test_reindex's 180).
    size = str(next(_SIZES))
    return {
        "CITEQA_CHROMA_HOST": host,
        "CITEQA_CHROMA_PORT": str(port),
        "CITEQA_CORPUS_DIR": str(corpus),
        "CITEQA_CHUNK_SIZE": size,
        "CITEQA_DATA_DIR": str(tmp_path / "unused"),
        "CITEQA_ADMIN_TOKEN": "s3cret",
        "CITEQA_REFRESH_SECONDS": "0.5",
    }, corpus


def test_compose_and_dockerfile_structure():
    import chromadb

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    chroma, api, index = (compose["services"][k] for k in ("chroma", "api", "index"))
    assert chroma["image"] == f"chromadb/chroma:{chromadb.__version__}"  # same release as the client
    volume = chroma["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]
    assert chroma["healthcheck"]["test"]
    assert api["build"] == "." and api["environment"]["CITEQA_CHROMA_HOST"] == "chroma"
    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert "serve" in api["command"] and "0.0.0.0" in api["command"]
    assert index["profiles"] == ["index"] and "index" in index["command"]
    assert index["environment"]["CITEQA_CHROMA_HOST"] == "chroma"
    dockerfile = (ROOT / "Dockerfile").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/setup" in dockerfile and "bash .ci/setup" in ci  # the same install commands as CI


def test_index_and_ask_in_server_mode(server_env):
    env, _ = server_env
    with Serve(env) as api:  # serve alone indexes an empty server on first start
        body = httpx.post(api.url + "/ask", json={"question": QUESTIONS[0]}, timeout=30).json()
        assert body["short_answer"]["text"] == "David Cameron"
        assert httpx.get(api.url + "/readyz").json()["documents"] == 2


def _consistent(body: dict, versions: dict[str, list[str]]) -> bool:
    """Every span of a response matches one version of its article, the same version per article."""
    spans = body["quotes"] + body["passages"] + ([body["short_answer"]] if body["short_answer"] else [])
    by_doc: dict[str, list[dict]] = {}
    for s in spans:
        by_doc.setdefault(s["doc_id"], []).append(s)
    for doc_id, items in by_doc.items():
        if not any(all(text[s["start"] : s["end"]] == s["text"] for s in items) for text in versions[doc_id]):
            return False
    return True


def test_reindex_while_serving_never_fails_or_mixes(server_env):
    env, corpus = server_env
    pact = corpus / PACT
    old = pact.read_text(encoding="utf-8")
    new = "UPDATE: this report was revised with a new opening paragraph.\n\n" + old.replace(
        "David Cameron", "Foreign Secretary David Cameron (who visited Washington)"
    )
    versions = {p.name: [p.read_text(encoding="utf-8")] for p in corpus.iterdir()}
    versions[PACT].append(new)
    with Serve(env) as api:
        stop = threading.Event()
        failures: list[str] = []
        mixed: list[dict] = []
        counts = {"requests": 0}

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=api.url, timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/ask", json={"question": rng.choice(QUESTIONS)})
                    except httpx.HTTPError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                        continue
                    counts["requests"] += 1
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    elif not _consistent(r.json(), versions):
                        mixed.append(r.json())

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        started = time.time()
        time.sleep(4)
        pact.write_text(new, encoding="utf-8")
        res = run_cli("index", env=env)
        assert res.returncode == 0, res.stderr
        assert "updated 1" in res.stdout
        reindexed = time.time()
        # The API follows the change by itself: new offsets within 5 s.
        follow = None
        while time.time() - reindexed < 10:
            doc = httpx.get(api.url + "/documents/" + quote(PACT, safe="")).json()
            if doc["text"] == new:
                body = httpx.post(api.url + "/ask", json={"question": QUESTIONS[0]}, timeout=30).json()
                if (
                    body["quotes"]
                    and body["quotes"][0]["text"] in new
                    and "(who visited Washington)" in body["quotes"][0]["text"]
                ):
                    follow = time.time() - reindexed
                    break
            time.sleep(0.2)
        time.sleep(max(0, 20 - (time.time() - started)))
        stop.set()
        for t in threads:
            t.join(30)
    print(
        f"reindex while serving: {counts['requests']} requests, {len(failures)} failed, {len(mixed)} mixed, "
        f"followed in {follow} s"
    )
    assert counts["requests"] > 50
    assert failures == []
    assert mixed == []
    assert follow is not None and follow <= 5.0, follow


def test_second_concurrent_reindex_is_refused(server_env, tmp_path):
    env, corpus = server_env
    # Enough new articles to keep the first run busy.
    rows = [json.dumps({"id": f"a{i}", "text": f"Article {i}. " + (corpus / PACT).read_text()}) for i in range(60)]
    (corpus / "many.jsonl").write_text("\n".join(rows))
    first = subprocess.Popen(
        [str(CITEQA), "index"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)
    second = run_cli("index", env=env)
    out, errs = first.communicate(timeout=300)
    assert first.returncode == 0, errs
    assert second.returncode != 0 and "another reindex" in second.stderr


def test_admin_reindex_auth_and_conflict(tmp_path, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus, admin_token="s3cret")
    with TestClient(create_app(settings, index_on_start=True)) as c:
        wait = time.time()
        while c.get("/readyz").status_code != 200:
            assert time.time() - wait < 120
            time.sleep(0.3)
        assert c.post("/admin/reindex").status_code == 401
        assert c.post("/admin/reindex").json()["detail"].startswith("missing bearer token")
        wrong = c.post("/admin/reindex", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong admin token"
        auth = {"Authorization": "Bearer s3cret"}
        ok = c.post("/admin/reindex", headers=auth)
        assert ok.status_code == 200
        body = ok.json()
        assert set(body) == {"added", "updated", "removed", "unchanged", "seconds"}
        assert (body["added"], body["unchanged"]) == (0, 2)
        (corpus / PACT).unlink()
        assert c.post("/admin/reindex", headers=auth, json={"rebuild": False}).json()["removed"] == 1
        assert c.get("/readyz").json()["documents"] == 1
        rebuilt = c.post("/admin/reindex", headers=auth, json={"rebuild": True}).json()
        assert rebuilt["added"] == 1
        assert c.post("/ask", json={"question": "Who is the US Secretary of Defense?"}).status_code == 200
        state = c.app.state.citeqa
        with state.reindex_lock:  # a reindex is running
            busy = c.post("/admin/reindex", headers=auth)
        assert busy.status_code == 409 and "already running" in busy.json()["detail"]
        assert c.post("/admin/reindex", headers=auth, json={"rebuild": "yes please"}).status_code == 422
        metrics = c.get("/metrics").text
        assert "citeqa_reindex_seconds_count" in metrics and "citeqa_answers_total" in metrics
    with TestClient(create_app(Settings(data_dir=tmp_path / "data2", corpus_dir=corpus))) as c:
        disabled = c.post("/admin/reindex", headers={"Authorization": "Bearer s3cret"})
        assert disabled.status_code == 403 and "disabled" in disabled.json()["detail"]


def test_replicas_follow_each_other_within_5s(server_env):
    env, corpus = server_env
    with Serve(env) as a:
        with Serve(env) as b:
            before = httpx.get(b.url + "/readyz").json()["documents"]
            (corpus / "extra.txt").write_text("Breaking: the harbour of Odesa reopened to grain ships on Tuesday.\n")
            r = httpx.post(a.url + "/admin/reindex", headers={"Authorization": "Bearer s3cret"}, timeout=120)
            assert r.status_code == 200 and r.json()["added"] == 1
            done = time.time()
            while True:
                body = httpx.post(b.url + "/search", json={"query": "Odesa harbour grain ships"}).json()
                if body["passages"] and body["passages"][0]["doc_id"] == "extra.txt":
                    break
                assert time.time() - done < 5, "replica b did not follow within 5 s"
                time.sleep(0.2)
            assert httpx.get(b.url + "/readyz").json()["documents"] == before + 1


def test_workers_need_server_mode_and_serve(server_env, tmp_path):
    refused = run_cli("serve", "--workers", "2", env={"CITEQA_DATA_DIR": str(tmp_path / "d")})
    assert refused.returncode == 2 and "Chroma server" in refused.stderr
    env, _ = server_env
    with Serve(env, "--workers", "2") as api:
        # One worker builds the first index; the other answers 503 "building" until it
        # sees the new index version (within CITEQA_REFRESH_SECONDS): wait for both.
        streak, deadline = 0, time.time() + 60
        while streak < 10:
            assert time.time() < deadline
            streak = streak + 1 if httpx.get(api.url + "/readyz").status_code == 200 else 0
            time.sleep(0.05)
        ids = set()
        for q in QUESTIONS * 3:
            r = httpx.post(api.url + "/ask", json={"question": q}, timeout=30)
            assert r.status_code == 200
            ids.add(r.headers["x-request-id"])
        assert len(ids) == len(QUESTIONS) * 3


class _FakeChroma(BaseHTTPRequestHandler):
    """Stands in for Chroma releases we cannot run here: an old API-v1-only server
    (0.4.x) and a future 2.x one. Only the version routes are answered."""

    versions: dict[str, tuple[int, str]] = {}

    def do_GET(self) -> None:  # noqa: N802
        status, body = self.versions.get(self.path, (404, '{"detail": "Not Found"}'))
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"/api/v1/version": (200, '"0.4.24"')}, ["0.4.24", "no API v2", "1.5.9"]),
        ({"/api/v2/heartbeat": (200, "{}"), "/api/v2/version": (200, '"2.3.0"')}, ["2.3.0", "1.5.9", ">= 1.0.0"]),
    ],
)
def test_incompatible_server_is_named(routes, expected):
    handler = type("H", (_FakeChroma,), {"versions": routes})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        settings = Settings(chroma_host="127.0.0.1", chroma_port=httpd.server_address[1])
        with pytest.raises(StoreUnavailable) as err:
            check_server(settings)
        for text in expected:
            assert text in str(err.value)
        res = run_cli(
            "serve", env={"CITEQA_CHROMA_HOST": "127.0.0.1", "CITEQA_CHROMA_PORT": str(httpd.server_address[1])}
        )
        assert res.returncode == 1 and expected[0] in res.stderr and "Traceback" not in res.stderr
    finally:
        httpd.shutdown()


def test_real_server_passes_the_check(chroma_server):
    host, port = chroma_server
    assert check_server(Settings(chroma_host=host, chroma_port=port)) == "1.0.0"


def test_request_ids_and_json_logs(server_env):
    env, _ = server_env
    api = Serve({**env, "CITEQA_LOG_JSON": "1"})
    with api:
        r = httpx.post(api.url + "/ask", json={"question": QUESTIONS[1]}, headers={"X-Request-ID": "trace-42"})
        assert r.headers["x-request-id"] == "trace-42"
        generated = httpx.get(api.url + "/healthz").headers["x-request-id"]
        assert len(generated) == 32
        assert "citeqa_requests_total" in httpx.get(api.url + "/metrics").text
    errs = api.logs()
    lines = [json.loads(line) for line in errs.splitlines() if line.startswith("{")]
    assert any(rec.get("request_id") == "trace-42" and rec.get("path") == "/ask" for rec in lines)
    assert any(rec.get("request_id") == generated for rec in lines)


def _start_chroma(path, port: int) -> subprocess.Popen:
    from tests.conftest import CHROMA

    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        assert time.time() < deadline, "chroma run did not start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)


def test_chroma_outage_is_503_then_recovers(tmp_path):
    port = free_port()
    chroma = _start_chroma(tmp_path / "db", port)
    env = {
        "CITEQA_CHROMA_HOST": "127.0.0.1",
        "CITEQA_CHROMA_PORT": str(port),
        "CITEQA_REFRESH_SECONDS": "0.5",
        "CITEQA_DATA_DIR": str(tmp_path / "unused"),
    }
    try:
        with Serve(env) as api:
            assert httpx.post(api.url + "/ask", json={"question": QUESTIONS[0]}, timeout=30).status_code == 200
            chroma.terminate()
            chroma.wait(30)
            for route, call in (
                ("/ask", lambda: httpx.post(api.url + "/ask", json={"question": QUESTIONS[0]}, timeout=30)),
                ("/readyz", lambda: httpx.get(api.url + "/readyz", timeout=30)),
            ):
                started = time.perf_counter()
                r = call()
                assert time.perf_counter() - started < 5, route
                assert r.status_code == 503 and "Chroma" in r.json()["detail"], (route, r.text)
            assert httpx.get(api.url + "/healthz").status_code == 200
            chroma = _start_chroma(tmp_path / "db", port)
            deadline = time.time() + 30
            while httpx.post(api.url + "/ask", json={"question": QUESTIONS[0]}, timeout=30).status_code != 200:
                assert time.time() < deadline, "the API did not recover by itself"
                time.sleep(0.5)
            assert httpx.get(api.url + "/readyz").status_code == 200
    finally:
        chroma.terminate()
        chroma.wait(30)
