"""Bulk embedding in the embedding processes gives the same vectors, in the same order, as one at a time."""

from __future__ import annotations

import re
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


ARTICLE = (
    "Bridge closure\n"
    "The council closed the bridge on Tuesday. Repairs will take six weeks, the mayor said. "
    "Ukraine won the 2022 Eurovision Song Contest in Turin. Shares of the carmaker fell 4 percent."
)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], text.index("\n") + 1
    for end in [m.end() for m in re.finditer(r"\.", text)]:
        spans.append((start, end))
        start = end + 1
    return spans


def test_span_vectors_are_pooled_from_the_same_pass_and_point_at_their_own_sentence() -> None:
    """Late chunking: one pass gives the text's vector and each sentence's, the mean of
    that sentence's output states in the text; no second pass over the sentences."""
    from indexing.embedding import _hidden, token_ranges

    embedder = Embedder(batch_size=4, workers=1)
    spans = _sentence_spans(ARTICLE)
    before = embedder.calls
    vectors, inner = embedder.embed_spans_async([ARTICLE, TEXTS[0]], [spans, [(0, len(TEXTS[0]))]])()
    assert embedder.calls - before == 2  # two texts embedded, not 2 + 5 sentences
    assert np.all(np.sum(vectors * embedder.embed([ARTICLE, TEXTS[0]]), axis=1) > 0.9999)
    assert [len(x) for x in inner] == [len(spans), 1]

    # The same numbers, pooled by hand from the question session's output states.
    enc = embedder._unpadded.encode(ARTICLE)
    hidden = _hidden(np.array([enc.ids]), np.ones((1, len(enc.ids)), dtype=np.int64), embedder.session)[0]
    for (a, b), got in zip(token_ranges(enc.offsets, enc.special_tokens_mask, spans), inner[0], strict=True):
        want = hidden[a:b].mean(axis=0)
        assert float(got @ (want / np.linalg.norm(want))) > 0.9999
    # In context, each sentence's vector is still nearest to that sentence embedded alone.
    alone = embedder.embed([ARTICLE[a:b] for a, b in spans])
    sims = inner[0] @ alone.T
    assert list(sims.argmax(axis=1)) == list(range(len(spans)))
    assert float(np.diag(sims).min()) > 0.45  # context moves them (0.50–0.83 here)
    # A span that is the whole text (no title) is the text's own vector, bar [CLS]/[SEP].
    assert float(inner[1][0] @ vectors[1]) > 0.98


def test_a_span_cut_off_by_truncation_is_embedded_on_its_own() -> None:
    embedder = Embedder(batch_size=4, workers=1)
    filler = "The committee met again and discussed the budget at length. " * 60  # > 256 tokens
    last = "Finally the mayor resigned on Friday."
    text = filler + last
    first = filler.index(".") + 1
    spans = [(0, first), (len(filler), len(text))]
    _, inner = embedder.embed_spans_async([text], [spans])()
    assert float(inner[0][1] @ embedder.embed([last])[0]) > 0.9999  # the cut-off sentence, alone
    assert float(inner[0][0] @ embedder.embed([text[:first]])[0]) < 0.9999  # the first, from the pass
