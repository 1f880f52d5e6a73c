"""Crash consistency with kill -9 (SIGKILL: no handler, no cleanup).

a. ``citeqa index`` over 200 RGB snippet articles is killed at a random moment
   of its run, ``CITEQA_SOAK_TRIALS`` times (default 10) on the embedded store
   (a fresh data dir per trial) and as many times against a ``chroma run``
   server (the configuration's collections deleted before each trial). The
   next ``citeqa index`` must complete (exit 0), and the index must then equal
   a clean build's: the same chunk ids with the same spans, hashes and vectors,
   no duplicate (doc_id, start, end), every article complete (not pending) with
   its hash entry and chunk count, no stale hash entry, Chroma's vector index
   finding every chunk by its own vector, and the API's BM25 side — built as
   the API builds it — holding exactly the chunks in Chroma, each resolving.
   Kill points come from the run's own progress, never from elapsed time (which
   a busy machine stretches: all ten kills once landed before the first write):
   the run prints ``progress DONE/TOTAL`` after each write and ``writing
   DONE+N/TOTAL`` as a write of N begins (``citeqa index --progress lines``), and
   trial k is killed on the first line at or past a target drawn stratified-uniform
   over 0…TOTAL (a ``writing`` line stands half-way through its write) — 0 kills
   as work starts, TOTAL after the last write, and targets in between land during
   a write or between two; the seed
   (``CITEQA_CRASH_SEED``, default fixed) and every target are printed. Run it
   with both cores busy to see it hold (docs/reliability.md):

       for i in 1 2; do python3 -c 'while 1: pass' & done
       .venv/bin/pytest tests/reliability/test_crash.py -s; kill %1 %2
   In server mode a killed run leaves its writer lease behind; the next run on
   the same host sees that the owner's pid is gone and takes the lease over at
   once (a refusal there fails the test). A lease held by a live process, or
   by another host, is still refused until its TTL (``test_lease_...``).
b. ``citeqa serve`` (embedded) is killed under load, twice; it must start
   again on the same data dir (the writer lock dies with the process) and
   answer the first question right, with the index intact (a later
   ``citeqa index`` adds and embeds nothing).

    .venv/bin/pytest tests/reliability/test_crash.py -s
    CITEQA_SOAK_TRIALS=50 CITEQA_CRASH_SEED=7 .venv/bin/pytest tests/reliability/test_crash.py -s
"""

from __future__ import annotations

import inspect
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from eval.rgb import load_rgb
from indexing.coordination import LEASE_ID, ChromaLease
from indexing.corpus import Article, load_corpus
from indexing.locking import IndexLocked
from indexing.store import Store
from service.lexical import LexicalIndex
from service.settings import Settings
from tests.conftest import CITEQA, ROOT, copy_seeds, open_store, run_cli
from tests.test_server_mode import Serve

ARTICLES = 200  # enough batches that some kills land between two writes (indexing got faster)
SUMMARY = re.compile(r"^added (\d+), updated (\d+), removed (\d+), unchanged (\d+) in (\d+\.\d\d) s$", re.M)
# Server mode: a chunk size no other test uses gives these trials collections of their own.
SERVER_CHUNK_SIZE = "97"


def _int_env(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise pytest.UsageError(f"{name} must be at least {minimum}, not {value}")
    return value


TRIALS = _int_env("CITEQA_SOAK_TRIALS", 10, minimum=1)
# A writer's lease in a Chroma server frees itself this long after its last renewal.
LEASE_TTL = inspect.signature(ChromaLease).parameters["ttl"].default
SEED = _int_env("CITEQA_CRASH_SEED", 20240607)


def summary(out: str) -> tuple[int, int, int, int, float]:
    m = SUMMARY.search(out)
    assert m, out
    *counts, seconds = m.groups()
    return (*map(int, counts), float(seconds))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def rgb_corpus(tmp_path_factory) -> tuple[Path, list[Article]]:
    """The first ARTICLES RGB snippets (positive and negative) as one .jsonl corpus."""
    records, _ = load_rgb()
    assert len(records) >= ARTICLES
    corpus = tmp_path_factory.mktemp("rgb-crash") / "corpus"
    corpus.mkdir()
    with open(corpus / "rgb.jsonl", "w", encoding="utf-8") as f:
        for rec in records[:ARTICLES]:
            f.write(json.dumps(rec) + "\n")
    articles = load_corpus(corpus, max_article_bytes=Settings().max_article_bytes).articles
    assert len(articles) == ARTICLES
    return corpus, articles


@dataclass
class Snapshot:
    """What a complete index holds, to compare a recovered one against."""

    chunks: dict[str, tuple]  # id -> (doc_id, start, end, content_hash, text)
    vectors: dict[str, np.ndarray]
    hashes: set[str]


def snapshot(store: Store) -> Snapshot:
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    chunks = {
        i: (m["doc_id"], m["start"], m["end"], m["content_hash"], d)
        for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
    }
    vectors = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
    return Snapshot(chunks, vectors, set(store.hashes.get(include=[])["ids"]))


def assert_whole(store: Store, ref: Snapshot, articles: list[Article]) -> None:
    """The index equals the clean reference build and is consistent in itself."""
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    ids = got["ids"]
    spans = Counter((m["doc_id"], m["start"], m["end"]) for m in got["metadatas"])
    assert not [k for k, n in spans.items() if n > 1], "duplicate chunks"
    assert len(ids) == len(ref.chunks), f"{len(ids)} chunks, a clean build has {len(ref.chunks)}"
    assert set(ids) == set(ref.chunks), (
        f"missing {sorted(set(ref.chunks) - set(ids))[:5]}, extra {sorted(set(ids) - set(ref.chunks))[:5]}"
    )
    texts = {a.doc_id: a.text for a in articles}
    per_doc = Counter()
    for i, m, d in zip(ids, got["metadatas"], got["documents"], strict=True):
        assert (m["doc_id"], m["start"], m["end"], m["content_hash"], d) == ref.chunks[i], i
        assert texts[m["doc_id"]][m["start"] : m["end"]] == d, i
        per_doc[m["doc_id"]] += 1
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    cosine = np.einsum("ij,ij->i", vectors, np.stack([ref.vectors[i] for i in ids]))
    assert cosine.min() > 0.999, f"a chunk vector differs from the clean build's: {ids[int(cosine.argmin())]}"
    # The vector index (HNSW, the part embedded Chroma keeps outside SQLite) finds every chunk by its own vector.
    nearest = store.chunks.query(query_embeddings=vectors, n_results=1, include=["distances"])
    lost = [
        (i, n[0], dist[0])
        for i, n, dist in zip(ids, nearest["ids"], nearest["distances"], strict=True)
        if n[0] != i and dist[0] > 1e-5
    ]
    assert not lost, f"the vector index does not find these chunks by their own vectors: {lost[:5]}"

    states = store.article_states()
    assert set(states) == set(texts), "article records differ from the corpus"
    assert not [s.doc_id for s in states.values() if s.pending], "articles left pending"
    by_id = {a.doc_id: a for a in articles}
    assert all(s.content_hash == by_id[d].content_hash for d, s in states.items())
    records = store.documents(list(texts))
    assert all(records[d].text == texts[d] and records[d].chunks == per_doc[d] for d in texts)
    assert set(store.hashes.get(include=[])["ids"]) == ref.hashes, "hash entries differ from a clean build's"

    # No orphan BM25 entries: the API's lexical side holds exactly Chroma's chunks, and every one resolves.
    lexical = LexicalIndex.build(store)
    assert len(lexical.ids) == len(set(lexical.ids)) == len(ids)
    assert set(lexical.ids) == set(ids)
    assert set(store.chunks_by_id(lexical.ids)) == set(ids)


PROGRESS = re.compile(r"^(?:progress (\d+)|writing (\d+)\+(\d+))/(\d+)$")


def position(line: str) -> float | None:
    """Where a progress line stands in the run, in articles: ``progress D`` at D, and
    ``writing D+N`` (a write of N has begun) half-way through that write, D + N/2."""
    m = PROGRESS.match(line.strip())
    if not m:
        return None
    if m.group(1) is not None:
        return float(m.group(1))
    return int(m.group(2)) + int(m.group(3)) / 2


def kill_index_at(env: dict[str, str], target: int, log: Path, on: str = "") -> tuple[int, int, str]:
    """Start `citeqa index --progress lines`, SIGKILL it on the first progress line whose
    ``position`` is >= ``target`` (and that starts with ``on``, when given): as work starts
    (0), during a write, between writes or after the last; (its pid, its return code, the
    line it was killed on)."""
    proc = subprocess.Popen(
        [str(CITEQA), "index", "--progress", "lines"],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen, at = [], "(ended first)"
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        at_ = position(line)
        if at_ is not None and at_ >= target and line.strip().startswith(on):
            proc.send_signal(signal.SIGKILL)
            at = line.strip()
            break
    seen.extend(proc.stdout)  # whatever it wrote before the kill took
    log.write_text("".join(seen))
    return proc.pid, proc.wait(60), at


@dataclass
class Trials:
    """Outcomes of a series of kills."""

    mode: str
    targets: list[int]
    outcomes: Counter
    total: int
    seconds: float


def timed_index(env: dict[str, str]) -> tuple[float, tuple]:
    """Run `citeqa index` to completion; (wall seconds, its summary)."""
    started = time.perf_counter()
    res = run_cli("index", env=env)
    wall = time.perf_counter() - started
    assert res.returncode == 0, res.stderr
    return wall, summary(res.stdout)


def crash_trials(
    mode: str,
    articles: list[Article],
    env: Callable[[int | str], dict[str, str]],
    store: Callable[[int | str], Store],
    tmp_path: Path,
    before: Callable[[int | str], None] = lambda n: None,
    refused: Callable[[int, subprocess.CompletedProcess], None] | None = None,
) -> Trials:
    """Build a clean reference, then kill and complete TRIALS runs, checking each against it.

    ``env(n)``/``store(n)`` give trial n's environment and store ("clean" for the reference run);
    ``before(n)`` runs before each run that must start from an empty index; ``refused`` is called
    when the run after a kill is refused, before it is tried once more.
    """
    started = time.perf_counter()
    before("clean")
    wall, (added, *_) = timed_index(env("clean"))
    total = len(articles)
    assert added == total
    ref = snapshot(store("clean"))
    assert len(ref.chunks) >= total
    rng = random.Random(f"{SEED}-{mode}")
    print(f"\n{mode}: seed {SEED}; clean run {wall:.2f} s ({len(ref.chunks)} chunks)")
    # Stratified over the run's progress: trial k's target is drawn in the k-th of TRIALS equal
    # slices of 0..total (in a random order); the first slice starts at 0 (kill as work starts),
    # the last ends at total (kill on the last write's line).
    targets = [min(total, int(total * (k + rng.random()) / TRIALS)) for k in range(TRIALS)]
    targets[0], targets[-1] = 0, total
    # Two trials wait for a line of their kind, so that both mid-run phases are hit whatever the
    # batching (left to the targets alone, a server-mode run once landed all seven mid-run kills
    # on write lines): one on a write's line at its target, one between writes -- on the first
    # progress line after work began (progress lines come only between writes, and after its
    # own target there may be none before the last).
    kinds = {targets[TRIALS // 2]: "progress", targets[TRIALS // 2 + 1]: "writing"} if TRIALS >= 4 else {}
    rng.shuffle(targets)
    outcomes: Counter = Counter()
    for n, target in enumerate(targets):
        before(n)
        on = kinds.get(target, "")
        pid, code, at = kill_index_at(env(n), 1 if on == "progress" else target, tmp_path / f"{mode}-{n}.log", on)
        again = run_cli("index", env=env(n))
        if again.returncode != 0 and refused is not None:
            refused(pid, again)
            again = run_cli("index", env=env(n))
        assert again.returncode == 0, f"trial {n} (kill at {at!r}): {again.stderr}"
        added, updated, removed, unchanged, _ = summary(again.stdout)
        assert (updated, removed, added + unchanged) == (0, 0, len(articles)), again.stdout
        if code == 0:
            outcome = "finished before the kill"
            assert added == 0
        else:
            assert code == -signal.SIGKILL, f"trial {n}: exit {code}: " + (tmp_path / f"{mode}-{n}.log").read_text()
            outcome = (
                "killed during a write"  # on the line a write begins with (it takes ≈ 0.1-1 s)
                if at.startswith("writing")
                else "killed before an article was complete"
                if unchanged == 0
                else "killed after the last write"
                if added == 0
                else "killed mid-run"
            )
        outcomes[outcome] += 1
        print(f"  trial {n}: target {target}, killed at {at!r}: {outcome}; then {again.stdout.strip()}")
        assert_whole(store(n), ref, articles)
    return Trials(mode, targets, outcomes, total, time.perf_counter() - started)


def report(trials: Trials, capsys) -> None:
    with capsys.disabled():
        print(
            f"\nkill -9 of `citeqa index` ({trials.mode}): {len(trials.targets)} trials in {trials.seconds:.0f} s, "
            f"seed {SEED}; progress targets {sorted(trials.targets)} of {trials.total}; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(trials.outcomes.items()))
        )
    # Kill points come from progress, so every phase is hit whatever the machine's load: as work
    # starts, during a write, between two writes, and after the last.
    assert trials.outcomes["killed before an article was complete"] >= 1, trials.outcomes
    assert trials.outcomes["killed mid-run"] >= 1, trials.outcomes
    assert trials.outcomes["killed during a write"] >= 1, trials.outcomes


@pytest.mark.slow
def test_kill_index_embedded(rgb_corpus, tmp_path, capsys):
    corpus, articles = rgb_corpus

    def env(n: int | str) -> dict[str, str]:  # a data dir per run: each one starts from nothing
        return {"CITEQA_DATA_DIR": str(tmp_path / f"data-{n}"), "CITEQA_CORPUS_DIR": str(corpus)}

    def store(n: int | str) -> Store:
        return open_store(Settings(data_dir=tmp_path / f"data-{n}", corpus_dir=corpus))

    report(crash_trials("embedded", articles, env, store, tmp_path), capsys)


@pytest.mark.slow
def test_kill_index_server_mode(rgb_corpus, chroma_server, tmp_path, capsys):
    corpus, articles = rgb_corpus
    host, port = chroma_server
    env = {
        "CITEQA_CHROMA_HOST": host,
        "CITEQA_CHROMA_PORT": str(port),
        "CITEQA_CORPUS_DIR": str(corpus),
        "CITEQA_CHUNK_SIZE": SERVER_CHUNK_SIZE,
        "CITEQA_DATA_DIR": str(tmp_path / "unused"),
    }
    settings = Settings(chroma_host=host, chroma_port=port, corpus_dir=corpus, chunk_size=int(SERVER_CHUNK_SIZE))
    client = open_store(settings).client
    prefix = settings.index_name()

    def drop_all(n: int | str) -> None:
        """Every run starts from no collections at all (the reference is kept in memory)."""
        for suffix in ("chunks", "articles", "hashes", "meta"):
            client.delete_collection(f"{prefix}-{suffix}")

    trials = crash_trials(
        "server",
        articles,
        lambda n: env,
        lambda n: open_store(settings),
        tmp_path,
        before=drop_all,
    )
    report(trials, capsys)


def test_lease_of_a_dead_local_run_is_taken_over_and_a_live_one_refused(chroma_server):
    """A real Chroma server: the lease record of a killed run on this host is
    taken over at once; one held by a live process or another host is refused
    with the time it has left."""
    host, port = chroma_server
    settings = Settings(chroma_host=host, chroma_port=port, chunk_size=int(SERVER_CHUNK_SIZE) + 1)
    meta = open_store(settings).meta
    dead = subprocess.Popen(["true"])
    dead.wait()

    def plant(owner: str) -> None:
        meta.upsert(
            ids=[LEASE_ID],
            embeddings=[[1.0]],
            documents=["writer lease"],
            metadatas=[{"owner": owner, "expires": time.time() + LEASE_TTL}],
        )

    plant(f"{socket.gethostname()}:{dead.pid}:deadbeef")
    lease = ChromaLease(meta, settle=0.05).acquire()
    lease.release()
    for owner in (f"{socket.gethostname()}:{os.getpid()}:alive000", "another-host:1:remote00"):
        plant(owner)
        with pytest.raises(IndexLocked, match=r"held by .*expires in \d+ s"):
            ChromaLease(meta, settle=0.05).acquire()
    meta.delete(ids=[LEASE_ID])


GOLDEN_Q = "How much was the military aid package the US announced on December 6, 2023?"
LOAD_QUESTIONS = [
    GOLDEN_Q,
    "Who is the British Foreign Secretary who visited the US?",
    "When was the Ukraine Defense Industrial Base Conference held?",
    "Which broadcaster interviewed Olena Zelenska?",
]


def start_serve(env: dict[str, str], timeout: float = 120) -> Serve:
    """`citeqa serve` once /readyz answers 200; fails at once, with its log, if it exits instead."""
    api = Serve(env)
    deadline = time.time() + timeout
    while True:
        code = api.proc.poll()
        if code is not None or time.time() > deadline:
            api.__exit__()
            raise AssertionError(f"citeqa serve did not become ready (exit {code}):\n{api.logs()[-3000:]}")
        try:
            if httpx.get(api.url + "/readyz", timeout=2).status_code == 200:
                return api
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


class AskLoad:
    """Client threads asking questions in a loop until stopped."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.ok = 0
        self.bad: list[str] = []  # responses other than 200
        self.failures: list[str] = []  # requests with no response (the server is gone)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(s,)) for s in range(clients)]
        for t in self._threads:
            t.start()

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=30) as c:
            while not self._stop.is_set():
                try:
                    r = c.post("/ask", json={"question": rng.choice(LOAD_QUESTIONS)})
                except httpx.TransportError as exc:  # the kill: connections refused or cut
                    self.failures.append(type(exc).__name__)
                    time.sleep(0.05)
                    continue
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.bad.append(f"{r.status_code} {r.text[:200]}")

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


@pytest.mark.slow
def test_kill_serve_under_load_then_restart(tmp_path, capsys):
    corpus = copy_seeds(tmp_path / "corpus")
    env = {"CITEQA_DATA_DIR": str(tmp_path / "data"), "CITEQA_CORPUS_DIR": str(corpus)}
    api = start_serve(env)  # the first start indexes the seeds
    try:
        first_logs = api.logs()
        ready = httpx.get(api.url + "/readyz").json()
        for cycle in range(2):
            load = AskLoad(api.url, clients=4)
            deadline = time.time() + 30
            while load.ok < 20 and time.time() < deadline:
                time.sleep(0.1)
            assert load.ok >= 20 and not load.bad, (load.ok, load.bad)
            answered = load.ok
            api.proc.send_signal(signal.SIGKILL)
            assert api.proc.wait(10) == -signal.SIGKILL
            time.sleep(0.5)
            load.stop()
            assert not load.bad, load.bad
            assert load.failures, "no client saw the server go away"

            restarted = time.perf_counter()
            api = start_serve(env)  # same data dir: the writer lock must have died with the killed process
            first = httpx.post(api.url + "/ask", json={"question": GOLDEN_Q}, timeout=30)
            restart_s = time.perf_counter() - restarted
            assert first.status_code == 200, first.text
            body = first.json()
            assert not body["abstained"] and any("$175 million" in q["text"] for q in body["quotes"]), body
            assert httpx.get(api.url + "/readyz").json() == ready
            # Opened the index it found instead of building one (the first start's log shows the bar).
            assert "indexing" in first_logs and "indexing" not in api.logs(), api.logs()
            with capsys.disabled():
                print(
                    f"\nkill -9 of `citeqa serve` under 4 clients (cycle {cycle}): {answered} answers before the "
                    f"kill, {len(load.failures)} requests refused or cut after it; restart to the first correct "
                    f"/ask {restart_s:.1f} s"
                )
    finally:
        api.__exit__()
    assert "Traceback" not in api.logs(), api.logs()
    # The index was intact: nothing to add, update or re-embed.
    after = run_cli("index", env=env)
    assert after.returncode == 0, after.stderr
    assert summary(after.stdout)[:4] == (0, 0, 0, 2), after.stdout
