"""The parse step of indexing (spaCy sentences and entities, then chunks), in a
child process of its own.

In a thread of the indexing process, spaCy shared the GIL with the embedding
workers' glue and with Chroma's writes (which hold it), and its load (≈ 1 s of
imports and pipeline building) could only start once the command had done its
own imports. In its own process it parses on whatever core the embedding
leaves free, and ``citeqa index`` starts it first thing, so spaCy loads while
the command imports Chroma and onnxruntime (docs/history.md §1).

Written on multiprocessing's ``Process`` and ``Pipe`` rather than a
``ProcessPoolExecutor``: a run with nothing to index must be able to kill a
child that is still loading spaCy (an executor's shutdown waits for it), and a
child whose parent was killed must exit (it reads end-of-file on its pipe; an
executor's idle worker waits on its queue forever).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from indexing.chunking import Chunk, chunk_article, encoding
from indexing.corpus import Article
from indexing.errors import ParseError
from indexing.injection import is_injection
from indexing.nlp import Annotation, annotate, load_pipeline

if TYPE_CHECKING:  # not imported at run time: the parse process starts faster without pydantic-settings
    from indexing.settings import IndexingSettings

log = logging.getLogger(__name__)

PARSE_BATCH = 16  # articles per message from the child: small, so embedding starts soon after spaCy loads


@dataclass
class Prepared:
    """One article parsed and chunked, ready to embed."""

    article: Article
    chunks: list[Chunk]
    sentences: list[tuple[int, int]]
    dropped: list[str] = field(default_factory=list)  # sentences left out: they address an AI model


def without_injection(text: str, annotation: Annotation) -> list[Annotation]:
    """The annotation cut into runs of consecutive sentences, leaving out those that
    address an AI model (``indexing.injection``): chunks never span one."""
    runs: list[list[tuple[int, int]]] = [[]]
    for s, e in annotation.sentences:
        if is_injection(text[s:e]):
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


def prepare(articles: Sequence[Article], settings: IndexingSettings) -> list[Prepared]:
    """Parse (sentences, entities) and chunk a batch of articles, in this process."""
    return _prepare(articles, settings.chunk_size, settings.chunk_overlap)


def _prepare(articles: Sequence[Article], chunk_size: int, chunk_overlap: int) -> list[Prepared]:
    annotations = annotate([a.text for a in articles])
    out = []
    for article, ann in zip(articles, annotations, strict=True):
        runs = without_injection(article.text, ann)
        chunks = [
            chunk
            for run in runs
            for chunk in chunk_article(article, run, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        ]
        kept = {s for run in runs for s in run.sentences}
        dropped = [article.text[s:e] for s, e in ann.sentences if (s, e) not in kept]
        sentences = sorted({s for c in chunks for s in c.sentences})
        out.append(Prepared(article, chunks, sentences, dropped))
    return out


@dataclass
class _Failed:
    """An exception raised in the child, sent back as text (it may not pickle)."""

    summary: str
    trace: str


def _serve(conn: Any) -> None:
    """The child: load the models, then parse each job it is sent, batch by batch.

    A job is (articles, chunk_size, chunk_overlap); the reply is one message per
    PARSE_BATCH articles, then None (or a ``_Failed``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends this process
    load_pipeline()
    encoding()
    while True:
        try:
            articles, chunk_size, chunk_overlap = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe, or died
        try:
            for lo in range(0, len(articles), PARSE_BATCH):
                batch = _prepare(articles[lo : lo + PARSE_BATCH], chunk_size, chunk_overlap)
                conn.send([(p.chunks, p.sentences, p.dropped) for p in batch])
            conn.send(None)
        except (BrokenPipeError, EOFError):
            return
        except Exception as exc:
            conn.send(_Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))


class ParseProcess:
    """A long-lived child process that parses articles; one job at a time."""

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> ParseProcess:
        """Start the child (it loads spaCy at once) unless it runs already."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                # spawn, not fork: the caller may already run threads (Chroma's, a server's),
                # which a forked child would inherit in whatever state they were.
                ctx = multiprocessing.get_context("spawn")
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child,), name="citeqa-parse", daemon=True)
                proc.start()
                child.close()  # the child's end lives in the child only: its exit reads as end-of-file here
                self._proc, self._conn = proc, parent
        return self

    def close(self) -> None:
        """Kill the child now (a no-op run, an error, Ctrl-C); ``start`` makes a new one."""
        with self._lock:
            proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if proc is not None:
            proc.kill()
            proc.join()
            conn.close()

    def _call(self, method: Any, *args: Any) -> Any:
        """``conn.send`` or ``conn.recv``; a dead child (or one ``close`` killed) is a ParseError."""
        try:
            return method(*args)
        except (EOFError, OSError):
            proc = self._proc
            if proc is not None:
                proc.join(5)  # end-of-file: it is exiting; its exit code says why
            code = proc.exitcode if proc is not None else "-9, killed by this process"
            raise ParseError(f"the spaCy parse process exited (exit code {code})") from None

    def parse(self, articles: Sequence[Article], settings: IndexingSettings) -> Iterator[list[Prepared]]:
        """Parsed batches of ``articles``, in order, as the child finishes them.

        Raises ``ParseError`` when the child fails or dies. Leaving the iteration
        early kills the child, whose replies to this job would otherwise reach the next."""
        self.start()
        conn, sent, finished = self._conn, 0, False
        try:
            self._call(conn.send, (list(articles), settings.chunk_size, settings.chunk_overlap))
            while (reply := self._call(conn.recv)) is not None:
                if isinstance(reply, _Failed):
                    finished = True  # the child waits for the next job
                    log.debug("parse process traceback:\n%s", reply.trace)
                    raise ParseError(f"parsing failed: {reply.summary}")
                batch = articles[sent : sent + len(reply)]
                sent += len(reply)
                prepared = [Prepared(a, *parts) for a, parts in zip(batch, reply, strict=True)]
                for p in prepared:
                    for text in p.dropped:
                        log.warning("not indexing a sentence that addresses an AI model: %r", text[:120])
                yield prepared
            finished = True
        finally:
            if not finished:
                self.close()


@cache
def shared() -> ParseProcess:
    """The process-wide parse process: started once, reused by every reindex in this process."""
    return ParseProcess()
