"""Bulk embedding in the embedding processes gives the same vectors, in the same order, as one at a time."""

from __future__ import annotations

from concurrent.futures import CancelledError

import numpy as np
import pytest

from eval.bench.llama_adapter import embed_batch
from indexing.embedding import Embedder

TEXTS = [
    f"{subject} {verb} the {thing} in {year}."
    for subject, verb, thing, year in zip(
        ["Ukraine", "The ministry", "A startup", "The club", "Parliament", "Researchers", "The court"] * 4,
        ["announced", "cancelled", "won", "bought", "approved", "published", "rejected"] * 4,
        ["contract", "festival", "title", "stadium", "budget", "study", "appeal", "merger"] * 4,
        range(1995, 2025),
        strict=False,
    )
]


def test_parallel_batches_match_serial_embedding_row_for_row() -> None:
    parallel = Embedder(batch_size=4, workers=2)
    serial = Embedder(batch_size=4, workers=1)
    seen: list[int] = []
    got = parallel.embed(TEXTS, progress=seen.append)
    want = serial.embed(TEXTS)
    assert got.shape == (len(TEXTS), parallel.dimension)
    # Two workers or one: equal up to float rounding.
    assert np.all(np.sum(got * want, axis=1) > 0.9999)
    # Rows follow the input order, whatever batch or worker embedded them, and match the
    # question session's vector of the same text.
    alone = np.stack([serial.embed_query(t) for t in TEXTS[:5]])
    assert np.all(np.sum(got[:5] * alone, axis=1) > 0.999)
    # One batch on the question session (how the LlamaIndex adapter embeds) agrees too.
    assert np.all(np.sum(embed_batch(parallel, TEXTS[:4]) * got[:4], axis=1) > 0.9999)
    assert sum(seen) == len(TEXTS) == parallel.calls  # the adapter runs the session itself, uncounted
    assert len(seen) >= -(-len(TEXTS) // 4) and max(seen) <= 4  # one progress step per batch of at most 4


def test_cancel_drops_queued_batches_and_the_embedder_goes_on() -> None:
    embedder = Embedder(batch_size=1, workers=1)
    collect = embedder.embed_async(TEXTS)  # one text per batch, one process: most are still queued
    embedder.cancel()
    with pytest.raises(CancelledError):
        collect()
    assert embedder.calls < len(TEXTS)
    again = embedder.embed(TEXTS[:3])  # the same process goes on after a cancel
    assert again.shape == (3, embedder.dimension) and np.allclose(np.linalg.norm(again, axis=1), 1, atol=1e-5)
