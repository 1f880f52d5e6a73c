"""citeqa's embedding model as a LlamaIndex ``BaseEmbedding``: only the peer benchmark
(``eval.bench.peer``) runs a LlamaIndex pipeline, so the adapter lives beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from indexing.embedding import Embedder, run


def embed_batch(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """One batch at once on the question session, every core on it: a LlamaIndex
    pipeline embeds batch by batch, where ``Embedder.embed`` would give each batch
    one worker's single thread."""
    encodings = embedder.tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return run(ids, mask, embedder.session)


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
            return embed_batch(self._embedder, [text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embed_batch(self._embedder, texts).tolist()

    return CiteqaEmbedding(embedder)
