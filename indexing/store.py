"""Chroma, embedded (on disk under the data dir) or a server, holding everything.

Three collections per index configuration (the prefix from
``IndexingSettings.index_name()``):

- ``<prefix>-chunks``: chunk text, vector, and metadata (doc_id, title, url,
  published, start/end, content hash, sentence bounds and entities as JSON,
  and the reader's sentence vectors, int8-quantised in one string — kept out
  of any vector index, so they cost disk, not server memory);
- ``<prefix>-articles``: one record per article with the full text that all
  offsets refer to, its content hash and its state.

So an API process needs nothing but Chroma. Every read and write of this schema
is a method of ``Store``, which returns plain records (``ChunkRecord``,
``ChunkText``, ``ArticleRecord``): ``service/`` never touches a collection.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from indexing.chunking import Chunk
from indexing.coordination import IndexVersion, meta_collection
from indexing.corpus import Article
from indexing.errors import StoreUnavailable
from indexing.malloc import release_freed_memory
from indexing.settings import IndexingSettings

log = logging.getLogger(__name__)

COSINE = {"hnsw": {"space": "cosine"}}
PAGE = 20000
# Chunks read a page at a time when every chunk is read (the BM25 build): reading
# Chroma records leaves native heap behind in proportion to the page (measured:
# 5,000-record pages left 340 MiB at 20k chunks, 1,000-record pages 120 MiB, most
# of it returned by malloc_trim).
CHUNK_PAGE = 1000
# Article records carry no meaningful vector; Chroma requires one (without it,
# it would call its default embedding function, which downloads a model).
_NO_VECTOR = [1.0]


@dataclass(frozen=True)
class ArticleState:
    """What the index knows about an article without loading its text."""

    doc_id: str
    content_hash: str
    pending: bool


@dataclass(frozen=True)
class ArticleVectors:
    """An article ready to write: its chunks with their vectors, and per chunk the
    vectors of its sentences (rows follow ``chunk.sentences``)."""

    article: Article
    chunks: Sequence[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: Sequence[np.ndarray]


@dataclass(frozen=True)
class ArticleRecord:
    """An indexed article: the text all offsets refer to, and its metadata."""

    doc_id: str
    title: str
    text: str
    url: str | None
    published: str | None
    content_hash: str
    chunks: int


@dataclass
class ChunkRecord:
    """One stored chunk: its text, where it sits in its article, and what was computed
    at index time (sentence bounds, entities, sentence vectors)."""

    chunk_id: str
    doc_id: str
    title: str
    url: str | None
    published: str | None
    published_day: int | None
    start: int
    end: int
    content_hash: str
    text: str
    sentences: list[tuple[int, int]]
    entities: list[tuple[int, int, str]]
    sentence_vectors: str = ""
    _vectors: np.ndarray | None = field(default=None, repr=False)

    def vectors(self, dim: int) -> np.ndarray:
        """The sentence vectors, decoded once (records stay cached across questions)."""
        if self._vectors is None:
            self._vectors = decode_vectors(self.sentence_vectors, dim)
        return self._vectors


@dataclass(frozen=True)
class ChunkText:
    """What the lexical index needs of a chunk: no offsets, entities or vectors."""

    chunk_id: str
    title: str
    text: str
    published_day: int  # 0 when the article has no date
    vector: np.ndarray | None = None


R = TypeVar("R", bound=ChunkRecord)


def published_window(since: dt.date | None, until: dt.date | None) -> tuple[int, int] | None:
    """(first, last) published day as YYYYMMDD ints, or None when nothing is filtered."""
    if not since and not until:
        return None
    return (published_day(since.isoformat()) if since else 0, published_day(until.isoformat()) if until else 99991231)


# The `chroma run` server of chromadb 1.x reports its server binary's version
# (1.0.0 for chromadb 1.5.9), not the Python package's: compare against this
# documented range of API-v2 servers, not for equality.
COMPATIBLE_SERVERS = ((1, 0, 0), (2, 0, 0))  # inclusive lower, exclusive upper


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.strip().strip('"').split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (3 - len(parts)))


def _range() -> str:
    low, high = COMPATIBLE_SERVERS
    return f">= {'.'.join(map(str, low))} and < {'.'.join(map(str, high))}"


def check_server(settings: IndexingSettings) -> str:
    """Check a Chroma server is reachable and speaks a compatible API; return its version.

    Raises ``StoreUnavailable`` with a message naming both versions.
    """
    import chromadb
    import httpx

    base = f"http://{settings.chroma_host}:{settings.chroma_port}"
    client_version = chromadb.__version__
    try:
        heartbeat = httpx.get(f"{base}/api/v2/heartbeat", timeout=settings.chroma_timeout_s)
        if heartbeat.status_code == 404:
            old = httpx.get(f"{base}/api/v1/version", timeout=settings.chroma_timeout_s)
            server = old.text.strip().strip('"') if old.status_code == 200 else "unknown (no API v2)"
            raise StoreUnavailable(
                f"the Chroma server at {base} is version {server}, which has no API v2; citeqa uses chromadb "
                f"{client_version} and needs a server {_range()} (pin the chromadb/chroma image to {client_version})"
            )
        heartbeat.raise_for_status()
        server = httpx.get(f"{base}/api/v2/version", timeout=settings.chroma_timeout_s).text.strip().strip('"')
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"cannot reach the Chroma server at {base}: {exc}") from None
    low, high = COMPATIBLE_SERVERS
    if not (low <= _version_tuple(server) < high):
        raise StoreUnavailable(
            f"the Chroma server at {base} is version {server}; citeqa uses chromadb {client_version}, "
            f"which works with servers {_range()}"
        )
    return server


HASH_LEN = 32  # Article.content_hash is 32 hex characters
CHUNK_UPSERT = 64  # chunk vectors per upsert call (see Store._upsert)


def _all_ids(collection: Any) -> list[str]:
    """Every id of a collection, a page at a time, without metadata."""
    ids: list[str] = []
    while True:
        page = collection.get(include=[], limit=PAGE, offset=len(ids))
        ids.extend(page["ids"])
        if len(page["ids"]) < PAGE:
            return ids


def make_client(settings: IndexingSettings) -> Any:
    """A Chroma client for the configured mode; call once and share it.

    In server mode the server is checked first (API v2 heartbeat, version in
    range, a collection round-trip), and requests get a timeout so an outage
    fails fast instead of hanging.
    """
    import chromadb
    import httpx
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.server_mode:
        server_version = check_server(settings)
        try:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
            # chromadb's HTTP client passes timeout=None to httpx, so a request to a server that went
            # away would hang: set a timeout on its session.
            session = getattr(getattr(client, "_server", None), "_session", None)
            if session is not None:
                session.timeout = httpx.Timeout(settings.chroma_timeout_s)
            probe = client.get_or_create_collection("citeqa-compat-probe", embedding_function=None)
            probe.upsert(ids=["probe"], embeddings=[[1.0]], documents=["probe"])
            if probe.get(ids=["probe"])["ids"] != ["probe"]:
                raise StoreUnavailable("the Chroma server did not return a record it had just stored")
            return client
        except StoreUnavailable:
            raise
        except Exception as exc:  # chromadb raises ValueError/ConnectError variants here
            raise StoreUnavailable(
                f"the Chroma server at {settings.chroma_host}:{settings.chroma_port} (version {server_version}) "
                f"failed a round-trip with chromadb {chromadb.__version__}: {exc}"
            ) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)


def encode_vectors(vectors: np.ndarray) -> str:
    """Unit vectors as int8 with one float32 scale each, base64: 4 + dim bytes a vector."""
    if len(vectors) == 0:
        return ""
    scale = np.abs(vectors).max(axis=1, keepdims=True).clip(1e-12, None).astype(np.float32)
    q = np.round(vectors / scale * 127).astype(np.int8)
    packed = np.concatenate([scale.view(np.uint8).reshape(len(q), 4), q.view(np.uint8)], axis=1)
    return base64.b64encode(packed.tobytes()).decode("ascii")


def decode_vectors(text: str, dim: int) -> np.ndarray:
    """Inverse of ``encode_vectors`` (rows re-normalised)."""
    if not text:
        return np.zeros((0, dim), dtype=np.float32)
    raw = np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(-1, 4 + dim)
    scale = raw[:, :4].copy().view(np.float32)
    vectors = raw[:, 4:].copy().view(np.int8).astype(np.float32) * scale / 127
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12, None)


def published_day(published: str | None) -> int | None:
    """ISO date as an int YYYYMMDD, so Chroma can filter on it with $gte/$lte."""
    if not published:
        return None
    return int(dt.date.fromisoformat(published).strftime("%Y%m%d"))


def _chunk_record(record_type: type[R], chunk_id: str, text: str, meta: dict[str, Any]) -> R:
    """Decode the chunk metadata ``Store.write_articles`` writes."""
    return record_type(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        title=meta.get("title", ""),
        url=meta.get("url"),
        published=meta.get("published"),
        published_day=meta.get("published_day"),
        start=int(meta["start"]),
        end=int(meta["end"]),
        content_hash=meta.get("content_hash", ""),
        text=text,
        sentences=[tuple(s) for s in json.loads(meta.get("sentences", "[]"))],
        entities=[tuple(e) for e in json.loads(meta.get("entities", "[]"))],
        sentence_vectors=meta.get("sentence_vectors", ""),
    )


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if v is not None}


def _batches(n: int, size: int) -> Iterator[slice]:
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))


class Store:
    """The three collections of one index configuration."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.chunks = client.get_or_create_collection(f"{prefix}-chunks", embedding_function=None, configuration=COSINE)
        self.articles = client.get_or_create_collection(f"{prefix}-articles", embedding_function=None)
        self.hashes = client.get_or_create_collection(f"{prefix}-hashes", embedding_function=None)
        self.meta = meta_collection(client, prefix)
        self.version = IndexVersion(self.meta)
        try:
            self.max_batch = int(client.get_max_batch_size())
        except Exception:  # older servers do not report it
            self.max_batch = 1000
        self.max_batch = max(1, min(self.max_batch, 2000))

    # -- reading ---------------------------------------------------------
    def article_count(self) -> int:
        """Article records stored (complete or pending)."""
        return int(self.articles.count())

    def chunk_count(self) -> int:
        """Chunks stored."""
        return int(self.chunks.count())

    def query_chunks(
        self, vector: np.ndarray, k: int, *, window: tuple[int, int] | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` chunks nearest ``vector`` as (chunk id, cosine similarity), best first;
        with a ``window`` (first, last published day, from ``published_window``), only
        chunks of articles published in it (undated articles excluded).

        Chroma answers that ``where`` by scanning the metadata (≈ 90 ms at 20k chunks,
        whatever the window): the service scores windows itself, over the vectors
        ``iter_chunk_texts(vectors=True)`` handed its in-memory index."""
        where = None
        if window:
            where = {"$and": [{"published_day": {"$gte": window[0]}}, {"published_day": {"$lte": window[1]}}]}
        got = self.chunks.query(query_embeddings=[vector], n_results=k, where=where, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def chunks_by_id(self, chunk_ids: Sequence[str], record_type: type[R] = ChunkRecord) -> dict[str, R]:  # type: ignore[assignment]
        """The chunks with these ids that are still stored, as ``record_type`` (a
        ``ChunkRecord`` or a subclass that adds caches, like sqlite3's ``row_factory``)."""
        if not chunk_ids:
            return {}
        got = self.chunks.get(ids=list(dict.fromkeys(chunk_ids)), include=["documents", "metadatas"])
        return {
            i: _chunk_record(record_type, i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def iter_chunk_texts(self, page: int = CHUNK_PAGE, *, vectors: bool = False) -> Iterator[ChunkText]:
        """Every stored chunk's id, title, text and day (and, with ``vectors``, its
        vector as float32), a page at a time."""
        include = ["documents", "metadatas", "embeddings"] if vectors else ["documents", "metadatas"]
        offset = 0
        while True:
            got = self.chunks.get(include=include, limit=page, offset=offset)
            embs = got["embeddings"] if vectors else None
            rows = zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            for n, (chunk_id, text, meta) in enumerate(rows):
                vector = np.asarray(embs[n], dtype=np.float32) if embs is not None else None
                day = int(meta.get("published_day") or 0)
                yield ChunkText(chunk_id, str(meta.get("title", "")), text, day, vector)
            if len(got["ids"]) < page:
                break
            offset += page
        release_freed_memory()

    def article_states(self) -> dict[str, ArticleState]:
        """doc_id -> (hash, pending) for every article record, from ids alone.

        Reading ids is ~15x cheaper than reading metadata in Chroma, so the
        hashes are kept as ids of their own collection ("<hash><doc_id>"); an
        article record without a hash entry was never completed (pending).
        """
        hashes: dict[str, str] = {}
        for key in _all_ids(self.hashes):
            hashes[key[HASH_LEN:]] = key[:HASH_LEN]
        return {
            doc_id: ArticleState(doc_id, hashes.get(doc_id, ""), doc_id not in hashes)
            for doc_id in _all_ids(self.articles)
        }

    def document(self, doc_id: str) -> ArticleRecord | None:
        """The indexed article, or None."""
        got = self.articles.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return self._record(doc_id, got["metadatas"][0], got["documents"][0])

    def documents(self, doc_ids: Sequence[str]) -> dict[str, ArticleRecord]:
        """Several indexed articles at once."""
        if not doc_ids:
            return {}
        got = self.articles.get(ids=list(dict.fromkeys(doc_ids)), include=["metadatas", "documents"])
        return {
            i: self._record(i, m, d) for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
        }

    @staticmethod
    def _record(doc_id: str, meta: dict[str, Any], text: str) -> ArticleRecord:
        return ArticleRecord(
            doc_id=doc_id,
            title=str(meta.get("title", "")),
            text=text,
            url=meta.get("url"),
            published=meta.get("published"),
            content_hash=str(meta.get("content_hash", "")),
            chunks=int(meta.get("chunks", 0)),
        )

    def list_articles(self, *, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(total, a page of article summaries ordered by doc_id); texts are not loaded."""
        rows = []
        start = 0
        while True:
            page = self.articles.get(include=["metadatas"], limit=PAGE, offset=start)
            for doc_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
                rows.append(
                    {
                        "doc_id": doc_id,
                        "title": str(meta.get("title", "")),
                        "url": meta.get("url"),
                        "published": meta.get("published"),
                        "chars": int(meta.get("chars", 0)),
                        "chunks": int(meta.get("chunks", 0)),
                    }
                )
            if len(page["ids"]) < PAGE:
                break
            start += PAGE
        rows.sort(key=lambda r: r["doc_id"])
        return len(rows), rows[offset : offset + limit]

    def counts(self) -> tuple[int, int]:
        """(articles, chunks) currently stored."""
        return self.articles.count(), self.chunks.count()

    # -- writing ---------------------------------------------------------
    def _article_meta(self, article: Article, *, chunks: int) -> dict[str, Any]:
        return _clean(
            {
                "title": article.title,
                "url": article.url,
                "published": article.published,
                "content_hash": article.content_hash,
                "chars": len(article.text),
                "chunks": chunks,
            }
        )

    def _write_records(self, items: Sequence[ArticleVectors]) -> None:
        for sl in _batches(len(items), self.max_batch):
            part = items[sl]
            self.articles.upsert(
                ids=[i.article.doc_id for i in part],
                embeddings=[_NO_VECTOR] * len(part),
                documents=[i.article.text for i in part],
                metadatas=[self._article_meta(i.article, chunks=len(i.chunks)) for i in part],
            )

    def _upsert(self, collection: Any, ids: list[str], vectors: np.ndarray, docs: list[str], metas: list[dict]) -> None:
        # At most CHUNK_UPSERT vectors per call: with 170-chunk upserts, a `citeqa index`
        # killed mid-write left a Chroma server with chunks its HNSW graph no longer
        # reaches by their own vectors (2 of 5 crash suites); with 64, 0 of 3, as with
        # session 4's 64-article batches (docs/reliability.md, failure 18).
        for sl in _batches(len(ids), min(self.max_batch, CHUNK_UPSERT)):
            collection.upsert(ids=ids[sl], embeddings=vectors[sl], documents=docs[sl], metadatas=metas[sl])

    def write_articles(
        self, items: Sequence[ArticleVectors], *, replacing: dict[str, str], resuming: frozenset[str] = frozenset()
    ) -> None:
        """Upsert the records of new articles, the chunks, the records of replaced
        articles, then the hash entries; then drop stale chunks.

        A new article's record without its hash entry reads as pending, so an
        interrupted write is found again; a replaced article's record follows its
        chunks, so a reader that checks chunk hashes against the record never sees
        a half-written version. Only
        articles in ``replacing`` (doc_id -> the hash it was indexed under) can
        have stale chunks to delete. One upsert per collection per call: Chroma
        commits per call, so per-article writes would cost more than embedding.
        """
        c_ids, c_docs, c_metas, c_vecs = [], [], [], []
        for item in items:
            article, h = item.article, item.article.content_hash
            base = {
                "doc_id": article.doc_id,
                "published": article.published,
                "published_day": published_day(article.published),
                "content_hash": h,
            }
            for c, sentence_vectors in zip(item.chunks, item.sentence_vectors, strict=True):
                c_ids.append(c.chunk_id)
                c_docs.append(c.text)
                c_metas.append(
                    _clean(
                        {
                            **base,
                            # The chunk's context title (the article record keeps the one shown).
                            "title": article.context_title,
                            "url": article.url,
                            "start": c.start,
                            "end": c.end,
                            "sentences": json.dumps(c.sentences),
                            "entities": json.dumps(c.entities),
                            "sentence_vectors": encode_vectors(sentence_vectors),
                        }
                    )
                )
            c_vecs.append(item.chunk_vectors)
        vectors = np.concatenate(c_vecs) if c_vecs else np.zeros((0, 0), np.float32)
        # Chunks an interrupted run already wrote for an article (``resuming``) are
        # kept, not upserted again: their ids fix their text, offsets and vector, and
        # re-upserting existing ids on a Chroma server left some of them unreachable
        # in its HNSW graph (found by tests/reliability/test_crash.py).
        resumed = [i for i, m in zip(c_ids, c_metas, strict=True) if m["doc_id"] in resuming]
        if resumed:
            have = set(self.chunks.get(ids=resumed, include=[])["ids"])
            keep = [k for k, i in enumerate(c_ids) if i not in have]
            c_ids, c_docs, c_metas = [c_ids[k] for k in keep], [c_docs[k] for k in keep], [c_metas[k] for k in keep]
            vectors = vectors[keep]
        # A new article's record goes first: without its hash entry it reads as pending,
        # so chunks written before a crash are found and completed by the next run. A
        # replaced article keeps its old record until its new chunks are in place.
        self._write_records([i for i in items if i.article.doc_id not in replacing])
        if c_ids:
            self._upsert(self.chunks, c_ids, vectors, c_docs, c_metas)
        self._write_records([i for i in items if i.article.doc_id in replacing])
        records = [i.article for i in items]
        done = [f"{a.content_hash}{a.doc_id}" for a in records]
        for sl in _batches(len(done), self.max_batch):
            # No documents: Chroma indexes every document for full-text search, ≈ 0.15 ms a record even empty.
            self.hashes.upsert(ids=done[sl], embeddings=[_NO_VECTOR] * len(done[sl]))
        old = [
            f"{replacing[a.doc_id]}{a.doc_id}"
            for a in records
            if replacing.get(a.doc_id) and replacing[a.doc_id] != a.content_hash
        ]
        if old:
            self.hashes.delete(ids=old)
        for article in records:
            if article.doc_id in replacing:
                stale = {"$and": [{"doc_id": article.doc_id}, {"content_hash": {"$ne": article.content_hash}}]}
                self.chunks.delete(where=stale)

    def delete_article(self, doc_id: str, content_hash: str = "") -> None:
        """Remove an article's chunks, its hash entry, then its record."""
        self.chunks.delete(where={"doc_id": doc_id})
        if content_hash:
            self.hashes.delete(ids=[f"{content_hash}{doc_id}"])
        self.articles.delete(ids=[doc_id])

    def drop(self) -> Store:
        """Delete this configuration's collections and return a fresh, empty store."""
        for col in (self.chunks, self.articles, self.hashes):
            self.client.delete_collection(col.name)
        fresh = Store(self.client, self.prefix)
        fresh.version.bump()
        return fresh

    def prune(self) -> list[str]:
        """Delete collections of other citeqa configurations; return their names."""
        removed = []
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith("citeqa-") and not name.startswith(self.prefix + "-") and name != "citeqa-compat-probe":
                self.client.delete_collection(name)
                removed.append(name)
        return removed
