"""Bulk embedding in child processes, one single-threaded ONNX session each.

In worker threads, every batch needed the indexing process's GIL to start and to
return its vectors, and Chroma holds the GIL for the whole of each write: a
worker that finished a batch mid-write waited for the write to end, so the
writes hardly overlapped the embedding (on the RGB snippets, leaving the writes
out made ``citeqa index`` 0.86 s faster, nearly all of their 1.0 s). A child
process never waits for that GIL: each one always has its next batch in its
pipe (``DEPTH``), so it goes on while the parent writes (docs/history.md §1).

Runs on ``indexing.children``, like the parse process.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from indexing.children import Child, Failed, Gone
from indexing.errors import EmbedError

DEPTH = 2  # batches sent to a child ahead of its results: one to run, one waiting in its pipe


def _setup(model_path: str) -> Any:
    from indexing.embedding import new_session

    return new_session(model_path, single_thread=True)


def _handle(session: Any, job: tuple[list[list[int]], Any]) -> Iterator[Any]:
    """One batch, (token id lists, token spans or None): its vectors."""
    from indexing.embedding import encode_tokens

    yield encode_tokens(job[0], session, job[1])


@dataclass
class _Worker:
    child: Child
    running: dict[int, Future] = field(default_factory=dict)  # sent, not yet answered


class EmbedWorkers:
    """Child processes that embed batches of token ids; thread-safe.

    ``submit`` queues a batch and returns its future; batches go to the least busy
    child, at most ``DEPTH`` ahead. A child that dies fails every batch not yet
    answered with ``EmbedError`` and kills the others; ``start`` makes new ones.
    """

    def __init__(self, model_path: str, workers: int) -> None:
        self.model_path = model_path
        self.workers = workers
        self._children: list[_Worker] = []
        self._pending: deque[tuple[int, tuple[list[list[int]], Any], Future]] = deque()
        self._keys = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    @property
    def pids(self) -> list[int]:
        return [c.child.pid for c in self._children]

    def start(self, count: int | None = None) -> EmbedWorkers:
        """Start children (each loads the model at once) until ``count`` (all ``workers``) run."""
        with self._lock:
            self._start(count or self.workers)
        return self

    def _start(self, count: int) -> None:
        """(Caller holds the lock.)"""
        if len(self._children) >= count:
            return
        for n in range(len(self._children), count):
            worker = _Worker(Child(f"citeqa-embed-{n}", partial(_setup, self.model_path), _handle))
            self._children.append(worker)
            threading.Thread(target=self._receive, args=(worker,), daemon=True).start()

    def submit(self, tokens: Sequence[list[int]], spans: Sequence[Sequence[tuple[int, int]]] | None = None) -> Future:
        """Queue one batch (token id lists, padded in the child); its future gives the
        vectors (and with ``spans``, per text, each token range's pooled vectors)."""
        future: Future = Future()
        with self._lock:
            # Under the same lock as the queueing: a batch is never queued with no child to take it.
            self._start(self.workers)
            self._keys += 1
            self._pending.append((self._keys, (list(tokens), spans), future))
            self._dispatch()
        return future

    def backlog(self) -> int:
        """Batches queued that no child has been sent yet."""
        with self._lock:
            return len(self._pending)

    def wait_for_backlog(self, batches: int) -> None:
        """Block until at most ``batches`` queued batches wait to be sent to a child."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._pending) <= batches)

    def cancel(self) -> None:
        """Drop the batches no child has been sent (their futures are cancelled)."""
        with self._lock:
            dropped, self._pending = self._pending, deque()
            self._changed.notify_all()
        for _, _, future in dropped:
            future.cancel()

    def close(self) -> None:
        """Kill the children now; queued and running batches fail with ``EmbedError``."""
        self._stop(EmbedError("the embedding processes were stopped"))

    def _dispatch(self) -> None:
        """Send queued batches to the least busy children (caller holds the lock)."""
        while self._pending and self._children:
            worker = min(self._children, key=lambda c: len(c.running))
            if len(worker.running) >= DEPTH:
                break
            key, job, future = self._pending.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            worker.running[key] = future
            try:
                worker.child.send(key, job)
            except Gone:
                break  # its receiver fails the run
        self._changed.notify_all()

    def _receive(self, worker: _Worker) -> None:
        """One child's answers, until its pipe ends."""
        while True:
            try:
                key, reply = worker.child.recv()
            except Gone as gone:
                self._stop(EmbedError(f"an embedding process exited ({gone})"), worker)
                return
            with self._lock:
                future = worker.running.pop(key, None)
                self._dispatch()
            if future is None:
                continue
            if isinstance(reply, Failed):
                future.set_exception(EmbedError(f"embedding failed: {reply.summary}"))
            else:
                future.set_result(reply)

    def _stop(self, error: EmbedError, dead: _Worker | None = None) -> None:
        with self._lock:
            if dead is not None and dead not in self._children:
                return  # already stopped (close, or another child's death)
            children, self._children = self._children, []
            pending, self._pending = self._pending, deque()
            # Taken under the lock: a receiver that already took its future sets it; the rest fail here.
            failed = [f for c in children for f in c.running.values()] + [f for _, _, f in pending]
            for c in children:
                c.running.clear()
            self._changed.notify_all()
        for c in children:
            c.child.kill()
        for future in failed:
            if not future.done():
                future.set_exception(error)


@cache
def shared(model_path: str, workers: int) -> EmbedWorkers:
    """The process-wide children for a model: started once, reused by every bulk embedding."""
    return EmbedWorkers(model_path, workers)
