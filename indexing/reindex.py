"""Bring the index in step with the corpus: add new, replace changed, drop removed.

Incremental and idempotent: articles are compared by content hash against the
article records in Chroma; unchanged ones cost nothing (no parsing, no
embedding). A new article's record is written before its chunks and its hash
entry after them; a record without a hash entry is *pending*, so a run killed
mid-way is found and completed by the next run, which keeps the chunks already
written (chunk ids are deterministic) and writes the rest.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from indexing import parsing
from indexing.chunking import Chunk
from indexing.corpus import Article, CorpusError, Skipped, load_corpus
from indexing.embedding import Embedder
from indexing.parsing import ParseProcess, Prepared
from indexing.settings import IndexingSettings
from indexing.store import ArticleState, ArticleVectors, Store

EMBED_BATCH = 512  # at most this many articles embedded, then written, together


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


class Progress:
    """Receives progress events; the CLI renders them as a bar."""

    def start(self, total: int) -> None:  # articles to (re)index
        """Work is about to begin."""

    def writing(self, n: int) -> None:
        """``n`` more articles are about to be written (their vectors are ready)."""

    def advance(self, n: int) -> None:
        """``n`` more articles are done (written)."""

    def stop(self) -> None:
        """Work is over (also on error)."""


def embed_text(article: Article, chunk: Chunk) -> str:
    """What the chunk vector encodes: the title gives an excerpt its context."""
    return _titled(article.context_title, chunk.text)


def embed_spans(article: Article, chunk: Chunk) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text the chunk vector encodes and its sentences' spans in that text (the
    chunk's sentence offsets are the article's; the title line shifts them)."""
    text = embed_text(article, chunk)
    shift = len(text) - len(chunk.text) - chunk.start
    return text, tuple((s + shift, e + shift) for s, e in chunk.sentences)


def _titled(title: str, text: str) -> str:
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def _embed(batch: list[Prepared], embedder: Embedder) -> Callable[[], list[ArticleVectors]]:
    """Queue one embedding pass over the batch's unique chunk texts; the returned
    function waits for it. Each chunk's sentence vectors come from the same pass, pooled
    over the sentence's tokens in the chunk (``Embedder.embed_spans_async``), so a
    sentence in two overlapping chunks gets one vector in each."""
    texts: dict[tuple[str, tuple[tuple[int, int], ...]], int] = {}  # (text, its sentence spans) -> its row
    rows = []  # per article: its chunks' rows
    for p in batch:
        chunk_rows = []
        for c in p.chunks:
            chunk_rows.append(texts.setdefault(embed_spans(p.article, c), len(texts)))
        rows.append(chunk_rows)
    collect = embedder.embed_spans_async([t for t, _ in texts], [spans for _, spans in texts])

    def vectors() -> list[ArticleVectors]:
        chunk_vectors, sentence_vectors = collect()
        return [
            ArticleVectors(p.article, p.chunks, chunk_vectors[r], [sentence_vectors[i] for i in r])
            for p, r in zip(batch, rows, strict=True)
        ]

    return vectors


def _parse_ahead(
    todo: Sequence[Article],
    settings: IndexingSettings,
    parser: ParseProcess,
    out: queue.SimpleQueue,
    stop: threading.Event,
) -> None:
    """Put the parse process's batches of ``todo`` on ``out``; then None, or the exception.

    Always one of the two, also when ``stop`` cuts the parse short: the consumer may be
    blocked on ``out``."""
    try:
        with closing(parser.parse(todo, settings)) as batches:
            for batch in batches:
                if stop.is_set():
                    break  # closing the iteration early kills the child
                out.put(batch)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        out.put(exc)
    else:
        out.put(None)


def _ready_batches(parsed: queue.SimpleQueue, embedder: Embedder, total: int) -> Iterator[list[Prepared]]:
    """Batches of parsed articles to embed, each taken when the embedding workers are
    about to run dry, so it holds everything that was parsed meanwhile (up to
    EMBED_BATCH): the more texts one batch sorts by token count, the less it pads."""
    waiting: list[Prepared] = []
    taken, done = 0, False
    while taken < total:
        embedder.wait_for_backlog(0)
        while not done:
            try:
                item = parsed.get(block=not waiting)
            except queue.Empty:
                break
            if isinstance(item, BaseException):
                raise item
            if item is None:
                done = True
            else:
                waiting.extend(item)
        n = min(len(waiting), EMBED_BATCH)
        if not n:
            return  # the parse ended short (never expected): no empty batches
        batch, waiting = waiting[:n], waiting[n:]
        taken += n
        yield batch


def _index(
    todo: list[Article],
    states: dict[str, ArticleState],
    settings: IndexingSettings,
    store: Store,
    get_embedder: Callable[[], Embedder],
    parser: ParseProcess,
    progress: Progress,
) -> int:
    """Parse, embed and write ``todo``; return the number of texts embedded.

    Three stages overlap: the parse process (``indexing.parsing``) parses ahead
    in small batches; this thread queues what is parsed on the embedding
    processes (``indexing.embed_workers``), one core each, whenever they are
    about to run dry; the writer thread waits for each batch's vectors in turn
    and stores them. Chroma holds this process's GIL while it writes; spaCy and
    the embedding, each in processes of their own, never wait for it
    (docs/history.md §1). spaCy's load is the one step nothing can overlap
    with embedding, so ``citeqa index`` starts the parse process first thing.
    """
    replacing = {a.doc_id: states[a.doc_id].content_hash for a in todo if a.doc_id in states}
    resuming = frozenset(a.doc_id for a in todo if a.doc_id in states and states[a.doc_id].pending)
    parsed: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    embedder: Embedder | None = None

    def write(n: int, vectors: Callable[[], list[ArticleVectors]]) -> None:
        if stop.is_set():
            return  # an earlier write failed, or the run was interrupted
        try:
            ready = vectors()
            progress.writing(n)
            store.write_articles(ready, replacing=replacing, resuming=resuming)
        except BaseException:
            stop.set()
            raise
        progress.advance(n)

    with ThreadPoolExecutor(1, "citeqa-parse") as reader, ThreadPoolExecutor(1, "citeqa-write") as writer:
        try:
            reader.submit(_parse_ahead, todo, settings, parser, parsed, stop)
            embedder = get_embedder()
            embedder.bulk_workers()
            calls_before = embedder.calls
            writes: deque[Future] = deque()
            for ready in _ready_batches(parsed, embedder, len(todo)):
                if stop.is_set():
                    break  # a write failed: its exception is raised below
                writes.append(writer.submit(write, len(ready), _embed(ready, embedder)))
                while writes and writes[0].done():
                    writes.popleft().result()  # a failed write stops the run here
            for done in writes:
                done.result()
        except BaseException:
            stop.set()  # the parse reader and the queued writes stop
            if embedder is not None:
                embedder.cancel()
            parser.close()  # mid-job (or still loading spaCy): a new run starts a new one
            raise
        finally:
            stop.set()
    return embedder.calls - calls_before if embedder else 0


def reindex(
    settings: IndexingSettings,
    *,
    store: Store,
    get_embedder: Callable[[], Embedder],
    corpus_dir: Path | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    parser: ParseProcess | None = None,
) -> ReindexResult:
    """Make the index match the corpus directory; return the counts.

    Raises ``CorpusError`` (before touching the index) when the corpus is
    missing or holds no indexable article. The caller holds the writer lock.
    """
    started = time.perf_counter()
    root = corpus_dir or settings.corpus_dir
    corpus = load_corpus(root, max_article_bytes=settings.max_article_bytes, max_file_bytes=settings.max_file_bytes)
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
            result.embedded = _index(todo, states, settings, store, get_embedder, parser or parsing.shared(), progress)
        finally:
            progress.stop()
    if result.added or result.updated or result.removed:
        store.version.bump()  # API processes poll this and rebuild their BM25 side
    result.seconds = time.perf_counter() - started
    return result
