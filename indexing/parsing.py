"""The parse step of indexing (spaCy sentences and entities, then chunks), in a
child process of its own.

In a thread of the indexing process, spaCy shared the GIL with the embedding
workers' glue and with Chroma's writes (which hold it), and its load (≈ 1 s of
imports and pipeline building) could only start once the command had done its
own imports. In its own process it parses on whatever core the embedding
leaves free, and ``citeqa index`` starts it first thing, so spaCy loads while
the command imports Chroma and onnxruntime (docs/history.md §1).

Runs on ``indexing.children``, like the embedding processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from indexing.children import Child, Failed, Gone
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
        out.append(Prepared(article, chunks, dropped))
    return out


def _setup() -> None:
    load_pipeline()
    encoding()


def _handle(_: None, job: tuple[list[Article], int, int]) -> Iterator[list[tuple[list[Chunk], list[str]]] | None]:
    """One job, (articles, chunk_size, chunk_overlap): a reply per PARSE_BATCH articles, then None."""
    articles, chunk_size, chunk_overlap = job
    for lo in range(0, len(articles), PARSE_BATCH):
        yield [(p.chunks, p.dropped) for p in _prepare(articles[lo : lo + PARSE_BATCH], chunk_size, chunk_overlap)]
    yield None


class ParseProcess:
    """A long-lived child process that parses articles (``indexing.children``); one job at a time."""

    def __init__(self) -> None:
        self._child: Child | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> ParseProcess:
        """Start the child (it loads spaCy at once) unless it runs already."""
        with self._lock:
            if self._child is None or not self._child.alive():
                self._child = Child("citeqa-parse", _setup, _handle)
        return self

    def close(self) -> None:
        """Kill the child now (a no-op run, an error, Ctrl-C); ``start`` makes a new one."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.kill()

    def parse(self, articles: Sequence[Article], settings: IndexingSettings) -> Iterator[list[Prepared]]:
        """Parsed batches of ``articles``, in order, as the child finishes them.

        Raises ``ParseError`` when the child fails or dies. Leaving the iteration
        early kills the child, whose replies to this job would otherwise reach the next."""
        child = self.start()._child
        assert child is not None
        sent, finished = 0, False
        try:
            try:
                child.send(0, (list(articles), settings.chunk_size, settings.chunk_overlap))
                while (reply := child.recv()[1]) is not None:
                    if isinstance(reply, Failed):
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
            except Gone as gone:
                code = gone.exitcode if gone.exitcode is not None else "-9, killed by this process"
                raise ParseError(f"the spaCy parse process exited (exit code {code})") from None
            finished = True
        finally:
            if not finished:
                self.close()


@cache
def shared() -> ParseProcess:
    """The process-wide parse process: started once, reused by every reindex in this process."""
    return ParseProcess()
