"""Incremental, idempotent reindexing on a real embedded Chroma with the real model."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter

import numpy as np
import pytest

from indexing.corpus import CorpusError, load_corpus
from indexing.locking import acquire
from indexing.parsing import prepare
from indexing.reindex import reindex
from indexing.store import decode_vectors
from service.settings import Settings
from tests.conftest import CITEQA, ROOT, SEEDS, copy_seeds, open_store, reopen_store, run_cli

SUMMARY = re.compile(r"^added (\d+), updated (\d+), removed (\d+), unchanged (\d+) in \d+\.\d\d s$", re.M)


def counts(out: str) -> tuple[int, ...]:
    m = SUMMARY.search(out)
    assert m, out
    return tuple(int(g) for g in m.groups())


def test_add_noop_update_remove_cycle(make_settings, tmp_path, embedder):
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    get = lambda: embedder  # noqa: E731

    first = reindex(settings, store=store, get_embedder=get)
    assert (first.added, first.updated, first.removed, first.unchanged) == (2, 0, 0, 0)
    assert first.embedded > 0
    n_articles, n_chunks = store.counts()
    assert n_articles == 2 and n_chunks >= 4

    again = reindex(settings, store=store, get_embedder=get)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 2)
    assert again.embedded == 0
    assert store.counts() == (2, n_chunks)

    path = corpus / "us-ukraine-weapons-production-pact.txt"
    path.write_text(path.read_text() + "\n\nA new closing paragraph was added on Friday.\n")
    edited = reindex(settings, store=store, get_embedder=get)
    assert (edited.added, edited.updated, edited.removed, edited.unchanged) == (0, 1, 0, 1)
    record = store.document("us-ukraine-weapons-production-pact.txt")
    assert record is not None and record.text.endswith("added on Friday.\n")
    # Old chunks of the edited article are gone; all remaining match the record.
    got = store.chunks.get(where={"doc_id": record.doc_id}, include=["documents", "metadatas"])
    assert got["ids"] and all(m["content_hash"] == record.content_hash for m in got["metadatas"])
    # Each chunk carries one quantised vector per sentence, pooled in the chunk's context
    # (late chunking): each nearer its own sentence, embedded alone, than any other.
    meta = got["metadatas"][0]
    bounds = json.loads(meta["sentences"])
    vectors = decode_vectors(meta["sentence_vectors"], embedder.dimension)
    assert len(vectors) == len(bounds) > 1
    sims = vectors @ embedder.embed([record.text[s:e] for s, e in bounds]).T
    assert list(sims.argmax(axis=1)) == list(range(len(bounds))) and np.diag(sims).min() > 0.6
    assert all(record.text[m["start"] : m["end"]] == d for d, m in zip(got["documents"], got["metadatas"], strict=True))

    path.unlink()
    removed = reindex(settings, store=store, get_embedder=get)
    assert (removed.added, removed.updated, removed.removed, removed.unchanged) == (0, 0, 1, 1)
    assert store.counts()[0] == 1
    assert store.chunks.get(where={"doc_id": record.doc_id})["ids"] == []


def test_empty_or_missing_corpus_leaves_index_untouched(seed_index, tmp_path):
    settings, store = seed_index
    before = store.counts()
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(CorpusError):
            reindex(settings, store=store, get_embedder=lambda: pytest.fail("must not embed"), corpus_dir=bad)
    assert store.counts() == before


def test_collection_name_follows_model_and_chunking():
    a, b = Settings(), Settings(chunk_size=300)
    assert a.index_name() != b.index_name()
    assert a.index_name() == Settings().index_name()
    assert Settings(chunk_overlap=10).index_name() != a.index_name()


def test_cli_cycle_messages_and_exit_codes(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus")
    env = {"CITEQA_DATA_DIR": str(tmp_path / "data"), "CITEQA_CORPUS_DIR": str(corpus)}
    first = run_cli("index", env=env)
    assert first.returncode == 0, first.stderr
    assert counts(first.stdout) == (2, 0, 0, 0)
    second = run_cli("index", env=env)
    assert counts(second.stdout) == (0, 0, 0, 2)

    (tmp_path / "empty").mkdir()
    for bad in ("empty", "missing"):
        res = run_cli("index", "--corpus", str(tmp_path / bad), env=env)
        assert res.returncode != 0
        assert "error:" in res.stderr and "Traceback" not in res.stderr
    assert counts(run_cli("index", env=env).stdout) == (0, 0, 0, 2)

    bad_setting = run_cli("index", env={**env, "CITEQA_CHUNK_SIZE": "nope"})
    assert bad_setting.returncode == 2 and "CITEQA_CHUNK_SIZE" in bad_setting.stderr

    # A different chunking gets its own collections; --prune removes the others.
    other = run_cli("index", "--prune", env={**env, "CITEQA_CHUNK_SIZE": "128"})
    assert counts(other.stdout) == (2, 0, 0, 0) and "pruned collection" in other.stderr
    rebuilt = run_cli("index", "--rebuild", env={**env, "CITEQA_CHUNK_SIZE": "128"})
    assert counts(rebuilt.stdout) == (2, 0, 0, 0)

    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("citeqa ")


def test_second_writer_is_refused(tmp_path):
    data = tmp_path / "data"
    lock = acquire(data)
    try:
        res = run_cli("index", env={"CITEQA_DATA_DIR": str(data)})
        assert res.returncode != 0
        assert "holds" in res.stderr and "Traceback" not in res.stderr
    finally:
        lock.release()


def _big_corpus(path, n=150, seed=7):
    """Articles recombined from real seed sentences, enough to take several seconds."""
    settings = Settings()
    seeds = load_corpus(SEEDS, max_article_bytes=settings.max_article_bytes).articles
    spans = [(p.article.text, sorted({b for c in p.chunks for b in c.sentences})) for p in prepare(seeds, settings)]
    sentences = [text[s:e] for text, bounds in spans for s, e in bounds]
    rng = random.Random(seed)
    path.mkdir()
    with open(path / "big.jsonl", "w") as f:
        for i in range(n):
            body = "\n\n".join(rng.sample(sentences, 8))
            f.write(json.dumps({"id": f"a{i}", "title": f"Article {i}", "text": body}) + "\n")
    return path


def _check_complete(settings, corpus):
    store = reopen_store(settings)
    articles = load_corpus(corpus, max_article_bytes=settings.max_article_bytes).articles
    expected = sum(len(p.chunks) for p in prepare(articles, settings))
    got = store.chunks.get(include=["metadatas"])
    keys = Counter((m["doc_id"], m["start"], m["end"]) for m in got["metadatas"])
    assert max(keys.values()) == 1, "duplicate chunks"
    assert len(got["ids"]) == expected
    assert all(not s.pending for s in store.article_states().values())
    assert store.counts()[0] == len(articles)


def test_interrupted_runs_are_completed_without_duplicates(tmp_path):
    n = 400  # both runs must still be going 6–9 s in (≈ 65 ms an article)
    # Ctrl-C reaches a command whose SIGINT is at its default, as in a terminal. A test
    # runner started in the background by a shell without job control has SIGINT
    # ignored, and the command would inherit that (CI runs started so failed here):
    # a handler of our own is reset to the default in the child.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_twice_then_complete(tmp_path, n)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_twice_then_complete(tmp_path, n):
    corpus = _big_corpus(tmp_path / "corpus", n=n)
    data = tmp_path / "data"
    env = {**os.environ, "CITEQA_DATA_DIR": str(data), "CITEQA_CORPUS_DIR": str(corpus)}
    for sig in (signal.SIGKILL, signal.SIGINT):
        proc = subprocess.Popen(
            [str(CITEQA), "index"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait = random.uniform(6, 9)
        time.sleep(wait)
        proc.send_signal(sig)
        out, errs = proc.communicate(timeout=60)
        assert proc.returncode != 0, (
            f"the run ended before {sig.name} {wait:.1f} s in: {out.strip()!r} {errs.strip()[-300:]!r}; grow the corpus"
        )
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "interrupted" in errs
        # Whatever was written is queryable right away.
        settings = Settings(data_dir=data, corpus_dir=corpus)
        store = reopen_store(settings)
        if store.chunks.count():
            from indexing.embedding import Embedder

            hits = store.chunks.query(query_embeddings=[Embedder().embed_query("Austin")], n_results=1)
            assert hits["ids"][0]
        del store
    done = run_cli("index", env={"CITEQA_DATA_DIR": str(data), "CITEQA_CORPUS_DIR": str(corpus)})
    assert done.returncode == 0, done.stderr
    added, updated, removed, unchanged = counts(done.stdout)
    assert added > 0 and added + unchanged == n and removed == 0
    _check_complete(Settings(data_dir=data, corpus_dir=corpus), corpus)
    assert counts(run_cli("index", env={"CITEQA_DATA_DIR": str(data), "CITEQA_CORPUS_DIR": str(corpus)}).stdout) == (
        0,
        0,
        0,
        n,
    )


def test_server_mode_index_and_noop(chroma_server, tmp_path, embedder):
    host, port = chroma_server
    corpus = copy_seeds(tmp_path / "corpus")
    settings = Settings(chroma_host=host, chroma_port=port, corpus_dir=corpus, chunk_size=180)
    store = open_store(settings)
    first = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert (first.added, first.unchanged) == (2, 0)
    again = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert (again.added, again.unchanged, again.embedded) == (0, 2, 0)
    (corpus / "us-ukraine-coproduction-memorandum.txt").unlink()
    gone = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert gone.removed == 1 and store.counts()[0] == 1
    # Through the CLI as well, against the same server.
    env = {
        "CITEQA_CHROMA_HOST": host,
        "CITEQA_CHROMA_PORT": str(port),
        "CITEQA_CORPUS_DIR": str(corpus),
        "CITEQA_CHUNK_SIZE": "180",
        "CITEQA_DATA_DIR": str(tmp_path / "unused"),
    }
    assert counts(run_cli("index", env=env).stdout) == (0, 0, 0, 1)


def test_server_unreachable_is_a_clear_error(tmp_path):
    from tests.conftest import free_port

    res = run_cli("index", env={"CITEQA_CHROMA_HOST": "127.0.0.1", "CITEQA_CHROMA_PORT": str(free_port())})
    assert res.returncode != 0 and "Chroma server" in res.stderr and "Traceback" not in res.stderr


def test_write_order_keeps_an_interrupted_write_findable(make_settings, tmp_path, embedder):
    """A new article's record goes before its chunks (with no hash entry yet it reads as pending,
    so chunks of an interrupted write are found again); a replaced article keeps its old record
    until its new chunks are in; hash entries, which mark an article complete, come last."""
    corpus = copy_seeds(tmp_path / "corpus")
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    edited = corpus / "us-ukraine-weapons-production-pact.txt"
    edited.write_text(edited.read_text() + "\n\nA closing paragraph was added on Friday.\n")
    (corpus / "brief.txt").write_text("Brief\n\nThe city council approved the new budget on Monday.\n")

    calls: list[tuple[str, set[str]]] = []
    for name in ("articles", "chunks", "hashes"):
        collection = getattr(store, name)

        def spy(*args, _real=collection.upsert, _name=name, **kw):
            calls.append((_name, set(kw["ids"])))
            return _real(*args, **kw)

        collection.upsert = spy
    result = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert (result.added, result.updated) == (1, 1)
    order = [name for name, _ in calls]
    assert order == ["articles", "chunks", "articles", "hashes"], calls
    assert calls[0][1] == {"brief.txt"} and calls[2][1] == {edited.name}
    assert all(not s.pending for s in store.article_states().values())


def test_a_dead_parse_process_stops_the_run_and_the_next_run_completes_it(make_settings, tmp_path, embedder):
    """The parse process killed mid-run (as the OOM killer would): the run stops with a
    ParseError (no hang, no silent gap) and the next run, on a new process, indexes the rest."""
    from indexing.parsing import ParseError, ParseProcess

    class DiesAfterOneBatch(ParseProcess):
        def parse(self, articles, settings):
            for i, batch in enumerate(super().parse(articles, settings)):
                yield batch
                if i == 0:
                    os.kill(self.pid, signal.SIGKILL)

    corpus = _big_corpus(tmp_path / "corpus", n=200)  # 13 parse batches: the child is mid-job when killed
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    parser = DiesAfterOneBatch()
    with pytest.raises(ParseError, match=r"exited \(exit code -9\)"):
        reindex(settings, store=store, get_embedder=lambda: embedder, parser=parser)
    assert parser.pid is None  # the failed run closed it
    assert store.counts()[0] < 200
    fresh = ParseProcess()
    try:
        again = reindex(settings, store=store, get_embedder=lambda: embedder, parser=fresh)
    finally:
        fresh.close()
    assert again.added + again.unchanged == 200 and again.added > 0
    _check_complete(settings, corpus)


def test_one_pass_gives_chunk_vectors_and_each_chunks_own_sentence_vectors(embedder):
    """A batch is one embedding pass over its unique chunk texts; a sentence in two
    overlapping chunks gets a vector in each, pooled in that chunk's context."""
    import indexing.reindex as module
    from indexing.corpus import Article

    settings = Settings()
    sentence = "Sentence {n} of the report says the council met on day {n}. "
    long = Article("long", "Report", "".join(sentence.format(n=n) for n in range(40)))
    twin = Article("twin", "Report", long.text)  # the same title and text: its chunk texts are embedded once
    batch = prepare([long, twin], settings)
    chunks = batch[0].chunks
    assert len(chunks) > 1 and set(chunks[0].sentences) & set(chunks[1].sentences)  # they overlap
    before = embedder.calls
    items = module._embed(batch, embedder)()
    assert embedder.calls - before == len(chunks)  # the twin's and the sentences cost nothing more
    texts = [module.embed_text(long, c) for c in chunks]
    assert np.all(np.sum(items[0].chunk_vectors * embedder.embed(texts), axis=1) > 0.9999)
    assert np.allclose(items[0].chunk_vectors, items[1].chunk_vectors)
    shared = sorted(set(chunks[0].sentences) & set(chunks[1].sentences))[0]
    in_first = items[0].sentence_vectors[0][chunks[0].sentences.index(shared)]
    in_second = items[0].sentence_vectors[1][chunks[1].sentences.index(shared)]
    alone = embedder.embed([long.text[shared[0] : shared[1]]])[0]
    assert float(in_first @ alone) > 0.6 and float(in_second @ alone) > 0.6
    assert float(in_first @ in_second) < 0.9999  # two contexts, two vectors
    assert [len(v) for v in items[0].sentence_vectors] == [len(c.sentences) for c in chunks]


def test_a_dead_embedding_process_stops_the_run_and_the_next_run_completes_it(make_settings, tmp_path, embedder):
    """An embedding process killed mid-run (as the OOM killer would): the run stops with an
    EmbedError (no hang, no silent gap) and the next run, on new processes, indexes the rest."""
    from indexing.embed_workers import EmbedError
    from indexing.reindex import Progress

    killed: list[int] = []

    class KillAfterFirstWrite(Progress):
        def advance(self, n: int) -> None:
            if not killed:
                killed.append(embedder.bulk_workers().pids[0])
                os.kill(killed[0], signal.SIGKILL)

    corpus = _big_corpus(tmp_path / "corpus", n=200)
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    with pytest.raises(EmbedError, match=r"exited \(exit code -9\)"):
        reindex(settings, store=store, get_embedder=lambda: embedder, progress=KillAfterFirstWrite())
    assert sum(not s.pending for s in store.article_states().values()) < 200
    assert killed[0] not in embedder.bulk_workers().pids  # new processes
    again = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert again.added + again.unchanged == 200 and again.added > 0
    _check_complete(settings, corpus)


def test_a_failed_write_stops_the_run_with_its_error(make_settings, tmp_path, embedder):
    """A write that fails mid-run (Chroma gone, disk full) ends the run with that error,
    also while the run waits for the parse. Before, the parse reader then stopped
    without a word and the run waited for it forever."""
    import threading

    from indexing.parsing import ParseProcess

    failed = threading.Event()

    class ParsesOnAfterTheFailure(ParseProcess):
        def parse(self, articles, settings):
            for i, batch in enumerate(super().parse(articles, settings)):
                yield batch
                if i == 0:
                    failed.wait(60)  # the run is waiting for the next batch when the write fails

    corpus = _big_corpus(tmp_path / "corpus", n=200)
    settings = make_settings(corpus_dir=corpus)
    store = open_store(settings)
    calls: list[int] = []

    def fails(items, **kw):
        calls.append(len(items))
        failed.set()
        raise OSError("No space left on device")

    store.write_articles = fails
    parser = ParsesOnAfterTheFailure()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            reindex(settings, store=store, get_embedder=lambda: embedder, parser=parser)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(120)
    parser.close()
    assert not runner.is_alive(), "the run hung after a failed write"
    assert isinstance(outcome[0], OSError) and "No space left" in str(outcome[0])
    assert len(calls) == 1  # nothing written after the failure
    del store.write_articles
    again = reindex(settings, store=store, get_embedder=lambda: embedder)
    assert again.added == 200
    _check_complete(settings, corpus)


def test_a_jsonl_over_the_old_5_mb_limit_indexes_its_good_records(tmp_path):
    """End to end: `citeqa index` on a 6 MB .jsonl (the old limit skipped it whole and
    ended "no indexable articles"). Most records are over the article limit and skipped
    (each named), so the run stays short; the good ones are indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with (corpus / "archive.jsonl").open("w") as f:
        for i in range(3):
            f.write(json.dumps({"id": f"good-{i}", "text": f"Short article number {i} about the harbour."}) + "\n")
        for i in range(60):
            f.write(json.dumps({"id": f"long-{i}", "text": "word " * 20_000}) + "\n")
    assert (corpus / "archive.jsonl").stat().st_size > 5_000_000
    env = {
        "CITEQA_DATA_DIR": str(tmp_path / "data"),
        "CITEQA_CORPUS_DIR": str(corpus),
        "CITEQA_MAX_ARTICLE_BYTES": "50000",
    }
    res = run_cli("index", env=env)
    assert res.returncode == 0, res.stderr
    assert counts(res.stdout) == (3, 0, 0, 0)
    assert " ".join(res.stderr.split()).count("record larger than 50000 bytes") == 60
    small = run_cli("index", env={**env, "CITEQA_MAX_FILE_BYTES": "1000000"})
    said = " ".join(small.stderr.split())  # rich wraps long lines
    assert small.returncode == 1 and "the limit for a .jsonl file (CITEQA_MAX_FILE_BYTES)" in said
