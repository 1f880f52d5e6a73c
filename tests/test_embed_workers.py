"""The embedding processes: the vectors the question session gives, batches that pad
little, errors that reach the caller, and no child left behind."""

from __future__ import annotations

import os
import signal
from concurrent.futures import CancelledError

import numpy as np
import pytest

from indexing.embed_workers import DEPTH, EmbedError, EmbedWorkers
from indexing.embedding import Embedder, batches_by_length
from tests.test_parsing import _alive, assert_children_exit_when_parent_is_killed

SENTENCES = [
    "The council closed the bridge on Tuesday.",
    "Repairs will take six weeks, the mayor said.",
    "Ukraine won the 2022 Eurovision Song Contest in Turin.",
    "Shares of the carmaker fell 4 percent after the recall was announced on Monday morning.",
]


@pytest.fixture
def workers(embedder):
    pool = EmbedWorkers(embedder._model_path, 2).start()
    yield pool
    pool.close()


def _tokens(embedder: Embedder, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in embedder._unpadded.encode_batch(texts)]


def test_the_children_give_the_question_sessions_vectors(embedder, workers):
    got = workers.submit(_tokens(embedder, SENTENCES)).result(timeout=120)
    want = np.stack([embedder.embed_query(t) for t in SENTENCES])
    assert got.shape == (len(SENTENCES), embedder.dimension)
    assert np.all(np.sum(got * want, axis=1) > 0.999)


def test_an_error_in_a_child_fails_that_batch_and_the_child_serves_the_next(embedder, workers):
    bad = workers.submit([[101, 10**9, 102]])  # a token id far outside the vocabulary
    with pytest.raises(EmbedError, match="embedding failed"):
        bad.result(timeout=120)
    pids = workers.pids
    assert workers.submit(_tokens(embedder, SENTENCES[:1])).result(timeout=60).shape == (1, embedder.dimension)
    assert workers.pids == pids and all(_alive(p) for p in pids)


def test_a_dead_child_fails_every_unanswered_batch_and_start_makes_new_ones(embedder, workers):
    tokens = _tokens(embedder, SENTENCES * 8)
    futures = [workers.submit(tokens) for _ in range(12)]  # more than DEPTH per child: some wait here
    assert workers.backlog() > 0
    old = workers.pids
    os.kill(old[0], signal.SIGKILL)
    errors = 0
    for f in futures:  # each ends, with vectors or an EmbedError: none hangs
        try:
            assert f.result(timeout=120).shape == (len(tokens), embedder.dimension)
        except EmbedError as exc:
            assert "exited (exit code -9)" in str(exc)
            errors += 1
    assert errors >= 1  # at least the batch the killed child was running
    assert not any(_alive(p) for p in old)  # the other child was killed too
    again = workers.submit(tokens[:2]).result(timeout=120)  # submit starts new children
    assert again.shape == (2, embedder.dimension) and set(workers.pids).isdisjoint(old)


def test_cancel_drops_what_no_child_was_sent(embedder, workers):
    tokens = _tokens(embedder, SENTENCES * 8)
    futures = [workers.submit(tokens) for _ in range(10)]
    workers.cancel()
    assert workers.backlog() == 0
    cancelled = [f for f in futures if f.cancelled()]
    assert len(cancelled) >= 10 - 2 * DEPTH
    for f in futures:
        if not f.cancelled():
            assert f.result(timeout=120).shape == (len(tokens), embedder.dimension)
        else:
            with pytest.raises(CancelledError):
                f.result()


def test_the_children_exit_when_their_parent_is_killed():
    """kill -9 of `citeqa index` must not leave embedding processes behind."""
    script = (
        "import sys, time\n"
        "from indexing.embedding import start_bulk_workers\n"
        "w = start_bulk_workers()\n"
        "print(*w.pids, flush=True)\n"
        "time.sleep(600)\n"
    )
    assert_children_exit_when_parent_is_killed(script)


def test_batches_by_length_pad_less_than_fixed_size_batches():
    lengths = sorted([6] * 10 + [7] * 5 + [9] * 3 + [30] * 2 + [31] + [80, 200])
    runs = batches_by_length(lengths, 8)
    assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
    assert all(a[1] == b[0] for a, b in zip(runs, runs[1:], strict=False))  # contiguous, nothing lost
    assert all(0 < stop - start <= 8 for start, stop in runs)

    def padded(cuts):
        return sum((stop - start) * lengths[stop - 1] for start, stop in cuts)

    fixed = [(lo, min(lo + 8, len(lengths))) for lo in range(0, len(lengths), 8)]
    assert padded(runs) < padded(fixed)
    assert (80, 200) not in [(lengths[a], lengths[b - 1]) for a, b in runs]  # 80 is not padded to 200
    assert batches_by_length([], 8) == []
