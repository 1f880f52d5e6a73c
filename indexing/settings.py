"""The indexing layer's group of settings, read from flat ``CITEQA_*`` environment variables.

``service.settings.Settings`` is the one settings object: it is made of this
group and the service's own (HTTP, LLM, retrieval, reader), built by the
composition root (``citeqa`` CLI, ``create_app``), never at import time.
Indexing code takes an ``IndexingSettings`` and reads nothing else.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Bump when chunk boundaries, sentence splitting or what is stored changes (v2: sentence
# vectors inside chunk metadata; v3: hash entries for cheap no-op runs; v4: sentences that
# address an AI model are left out of chunks, indexing/injection.py; v5: sentence vectors
# pooled in their chunk's context, indexing.embedding.Embedder.embed_spans_async):
# it is part of the collection name, so old vectors are never mixed with new.
CHUNKER_VERSION = "sent-v5"


class IndexingSettings(BaseSettings):
    """Where the corpus and the index live, and how articles are chunked and embedded;
    each field maps to one ``CITEQA_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="CITEQA_", extra="ignore")

    corpus_dir: Path = Field(Path("seeds"), description="Directory of articles to index.")
    data_dir: Path = Field(Path(".citeqa"), description="Where the embedded Chroma store and locks live.")
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, citeqa uses the server, not the disk."
    )
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    chroma_timeout_s: float = Field(
        5.0, gt=0, le=300, description="Timeout for each request to a Chroma server, in seconds."
    )
    chunk_size: int = Field(192, ge=32, le=2048, description="Chunk size in tiktoken tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Tokens of whole sentences repeated between neighbouring chunks.")
    embed_model: str = Field("all-MiniLM-L6-v2-int8", description="Embedding backend (see indexing.embedding).")
    embed_batch_size: int = Field(16, ge=1, le=1024, description="Texts per embedding batch.")
    max_article_bytes: int = Field(
        5_000_000,
        ge=1,
        description="An article (a .txt/.md/.html file, or one .jsonl record) larger than this is skipped.",
    )
    max_file_bytes: int = Field(
        2_000_000_000,
        ge=1,
        description="A .jsonl file larger than this is skipped whole; below it, it is streamed a record at a time.",
    )

    @field_validator("embed_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        from indexing.embedding import MODELS

        if value not in MODELS:
            raise ValueError(f"unknown embedding model {value!r}; choose one of {sorted(MODELS)}")
        return value

    @field_validator("chroma_host")
    @classmethod
    def _blank_host_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IndexingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("CITEQA_CHUNK_OVERLAP must be smaller than CITEQA_CHUNK_SIZE")
        return self

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server is configured instead of the on-disk store."""
        return self.chroma_host is not None

    def index_name(self) -> str:
        """Collection-name prefix derived from everything that shapes the vectors.

        Two configurations (model, dimension, chunking) can never share a
        collection, after paper-qa's ``get_index_name()``.
        """
        from indexing.embedding import MODELS

        spec = MODELS[self.embed_model]
        key = json.dumps([spec.name, spec.dimension, self.chunk_size, self.chunk_overlap, CHUNKER_VERSION])
        return "citeqa-" + hashlib.sha256(key.encode()).hexdigest()[:12]
