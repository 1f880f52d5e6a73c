"""Bring the index in step with the corpus: add new, replace changed, drop removed.

Incremental and idempotent: articles are compared by content hash against the
article records in Chroma; unchanged ones cost nothing (no parsing, no
embedding). A new article's record is written before its chunks and its hash
entry after them; a record without a hash entry is *pending*, so a run killed
mid-way is found and completed by the next run, which keeps the chunks already
written (chunk ids are deterministic) and writes the rest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from indexing.chunking import Chunk, chunk_article
from indexing.corpus import Article, CorpusError, Skipped, load_corpus
from indexing.embedding import Embedder
from indexing.injection import is_injection
from indexing.nlp import Annotation, annotate
from indexing.settings import Settings
from indexing.store import ArticleState, ArticleVectors, Store

log = logging.getLogger(__name__)

PARSE_BATCH = 16  # articles per spaCy call: small, so embedding starts soon after spaCy loads
EMBED_BATCH = 64  # at most this many articles embedded, then written, together


@dataclass
class ReindexResult:
    """What one reindex run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        """The closing line, exactly as the CLI prints it."""
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged} in {self.seconds:.2f} s"
        )


@dataclass
class Prepared:
    """One article parsed and chunked, ready to embed."""

    article: Article
    chunks: list[Chunk]
    sentences: list[tuple[int, int]]


class Progress:
    """Receives progress events; the CLI renders them as a bar."""

    def start(self, total: int) -> None:  # articles to (re)index
        """Work is about to begin."""

    def advance(self, n: int) -> None:
        """``n`` more articles are done."""

    def stop(self) -> None:
        """Work is over (also on error)."""


def embed_text(article: Article, chunk: Chunk) -> str:
    """What the chunk vector encodes: the title gives an excerpt its context."""
    if article.title and not chunk.text.startswith(article.title):
        return f"{article.title}\n{chunk.text}"
    return chunk.text


def without_injection(text: str, annotation: Annotation) -> list[Annotation]:
    """The annotation cut into runs of consecutive sentences, leaving out those that
    address an AI model (``indexing.injection``): chunks never span one."""
    runs: list[list[tuple[int, int]]] = [[]]
    for s, e in annotation.sentences:
        if is_injection(text[s:e]):
            log.warning("not indexing a sentence that addresses an AI model: %r", text[s:e][:120])
            runs.append([])
        else:
            runs[-1].append((s, e))
    if len(runs) == 1:
        return [annotation]
    return [
        Annotation(sentences=run, entities=[x for x in annotation.entities if run[0][0] <= x[0] and x[1] <= run[-1][1]])
        for run in runs
        if run
    ]


def prepare(articles: Sequence[Article], settings: Settings) -> list[Prepared]:
    """Parse (sentences, entities) and chunk a batch of articles."""
    annotations = annotate([a.text for a in articles])
    out = []
    for article, ann in zip(articles, annotations, strict=True):
        chunks = [
            chunk
            for run in without_injection(article.text, ann)
            for chunk in chunk_article(
                article, run, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
            )
        ]
        sentences = sorted({s for c in chunks for s in c.sentences})
        out.append(Prepared(article, chunks, sentences))
    return out


def _batched(items: Sequence[Article], size: int) -> Iterator[Sequence[Article]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def _embed(batch: list[Prepared], embedder: Embedder) -> Callable[[], list[ArticleVectors]]:
    """Queue one embedding pass over the batch's unique texts (chunk texts and
    sentences); the returned function waits for it."""
    texts: dict[str, int] = {}
    for p in batch:
        for c in p.chunks:
            texts.setdefault(embed_text(p.article, c), len(texts))
        for s, e in p.sentences:
            texts.setdefault(p.article.text[s:e], len(texts))
    collect = embedder.embed_async(list(texts))

    def vectors() -> list[ArticleVectors]:
        found = collect()
        return [
            ArticleVectors(
                p.article,
                p.chunks,
                found[[texts[embed_text(p.article, c)] for c in p.chunks]],
                p.sentences,
                found[[texts[p.article.text[s:e]] for s, e in p.sentences]],
            )
            for p in batch
        ]

    return vectors


def _parse_ahead(todo: Sequence[Article], settings: Settings, out: queue.SimpleQueue, stop: threading.Event) -> None:
    """Parse ``todo`` in small batches onto ``out``; then None, or the exception."""
    try:
        for batch in _batched(todo, PARSE_BATCH):
            if stop.is_set():
                return
            out.put(prepare(batch, settings))
    except BaseException as exc:  # handed to the consumer, which re-raises it
        out.put(exc)
    else:
        out.put(None)


def _ready_batches(parsed: queue.SimpleQueue) -> Iterator[list[Prepared]]:
    """Wait for one parsed batch, then take whatever else is ready (up to EMBED_BATCH articles)."""
    done = False
    while not done:
        ready: list[Prepared] = []
        while len(ready) < EMBED_BATCH:
            try:
                item = parsed.get(block=not ready)
            except queue.Empty:
                break
            if isinstance(item, BaseException):
                raise item
            if item is None:
                done = True
                break
            ready.extend(item)
        if ready:
            yield ready


def _index(
    todo: list[Article],
    states: dict[str, ArticleState],
    settings: Settings,
    store: Store,
    get_embedder: Callable[[], Embedder],
    progress: Progress,
) -> int:
    """Parse, embed and write ``todo``; return the number of texts embedded.

    Three stages overlap on their own threads: spaCy parses ahead in small
    batches; this thread queues whatever is parsed (up to EMBED_BATCH articles)
    on the embedding workers, one core each; the writer stores the previous
    batch. spaCy and onnxruntime release the GIL for most of their work; Chroma
    holds it while it writes (docs/benchmarks.md §1). spaCy's load is the one
    step nothing can overlap with embedding, so it starts first, and the
    embedding model loads meanwhile.
    """
    replacing = {a.doc_id: states[a.doc_id].content_hash for a in todo if a.doc_id in states}
    resuming = frozenset(a.doc_id for a in todo if a.doc_id in states and states[a.doc_id].pending)
    parsed: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    embedder: Embedder | None = None
    with ThreadPoolExecutor(1, "citeqa-parse") as parser, ThreadPoolExecutor(1, "citeqa-write") as writer:
        try:
            parser.submit(_parse_ahead, todo, settings, parsed, stop)
            embedder = get_embedder()
            embedder.bulk_session()
            calls_before = embedder.calls
            queued: deque[tuple[int, Callable[[], list[ArticleVectors]]]] = deque()
            written: Future | None = None
            count = 0

            def write_oldest() -> None:
                nonlocal written, count
                n, vectors = queued.popleft()
                items = vectors()
                if written is not None:
                    written.result()  # in order, and a failed write stops the run
                    progress.advance(count)
                written, count = writer.submit(store.write_articles, items, replacing=replacing, resuming=resuming), n

            for ready in _ready_batches(parsed):
                queued.append((len(ready), _embed(ready, embedder)))
                # The next batch is queued before this one is collected, so the embedding
                # workers go on while this thread hands a batch to the writer.
                if len(queued) > 1:
                    write_oldest()
            while queued:
                write_oldest()
            if written is not None:
                written.result()
                progress.advance(count)
        except BaseException:
            if embedder is not None:
                embedder.cancel()
            raise
        finally:
            stop.set()  # an error here stops the parser at its next batch
    return embedder.calls - calls_before if embedder else 0


def reindex(
    settings: Settings,
    *,
    store: Store,
    get_embedder: Callable[[], Embedder],
    corpus_dir: Path | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ReindexResult:
    """Make the index match the corpus directory; return the counts.

    Raises ``CorpusError`` (before touching the index) when the corpus is
    missing or holds no indexable article. The caller holds the writer lock.
    """
    started = time.perf_counter()
    root = corpus_dir or settings.corpus_dir
    corpus = load_corpus(root, max_article_bytes=settings.max_article_bytes)
    if not corpus.articles:
        detail = f" ({len(corpus.skipped)} files skipped)" if corpus.skipped else ""
        raise CorpusError(f"no indexable articles in {root}{detail}; the index was left unchanged", corpus.skipped)
    if rebuild:
        store = store.drop()
    result = ReindexResult(skipped=corpus.skipped)
    states = store.article_states()
    wanted = {a.doc_id: a for a in corpus.articles}

    for doc_id in sorted(set(states) - set(wanted)):
        store.delete_article(doc_id, states[doc_id].content_hash)
        result.removed += 1

    todo: list[Article] = []
    for article in corpus.articles:
        state = states.get(article.doc_id)
        if state is None or state.pending:
            result.added += 1
        elif state.content_hash != article.content_hash:
            result.updated += 1
        else:
            result.unchanged += 1
            continue
        todo.append(article)

    if todo:
        progress = progress or Progress()
        progress.start(len(todo))
        try:
            result.embedded = _index(todo, states, settings, store, get_embedder, progress)
        finally:
            progress.stop()
    if result.added or result.updated or result.removed:
        store.version.bump()  # API processes poll this and rebuild their BM25 side
    result.seconds = time.perf_counter() - started
    return result
