"""Bulk embedding in child processes, one single-threaded ONNX session each.

In worker threads, every batch needed the indexing process's GIL to start and to
return its vectors, and Chroma holds the GIL for the whole of each write: a
worker that finished a batch mid-write waited for the write to end, so the
writes hardly overlapped the embedding (on the RGB snippets, leaving the writes
out made ``citeqa index`` 0.86 s faster, nearly all of their 1.0 s). A child
process never waits for that GIL: each one always has its next batch in its
pipe (``DEPTH``), so it goes on while the parent writes (docs/history.md §1).

Written on ``Process`` and ``Pipe`` like ``indexing.parsing``, for the same
reasons: a run can kill children still loading their model, and a child whose
parent died reads end-of-file and exits.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from indexing.errors import EmbedError

DEPTH = 2  # batches sent to a child ahead of its results: one to run, one waiting in its pipe
# The children run below the command itself and its spaCy process: at start-up the
# parent's imports and spaCy's load go first (the first parsed batch sooner, and a
# no-op run is not slowed by a child it never uses), in a server requests go before a
# reindex's embedding, and on an otherwise idle machine the children still get whole
# cores (docs/history.md §1: nice 0, 10, 15, 19 measured).
NICE = 15


@dataclass
class _Failed:
    """An exception raised in a child, sent back as text (it may not pickle)."""

    summary: str
    trace: str


def _serve(conn: Any, model_path: str) -> None:
    """The child: load the model, then embed each batch of token ids it is sent.

    A thread reads the pipe into a queue, so the parent's sends never wait for this
    child to finish a batch (and neither side can block the other with a full pipe)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends this process
    os.nice(NICE)
    from indexing.embedding import encode_tokens, new_session

    session = new_session(model_path, single_thread=True)
    jobs: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                jobs.put(conn.recv())
        except (EOFError, OSError):
            jobs.put(None)  # the parent closed the pipe, or died

    threading.Thread(target=read, daemon=True).start()
    while (job := jobs.get()) is not None:
        key, tokens = job
        try:
            reply: Any = encode_tokens(tokens, session)
        except Exception as exc:
            reply = _Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send((key, reply))
        except OSError:
            return


@dataclass
class _Child:
    proc: Any
    conn: Any
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
        self._children: list[_Child] = []
        self._pending: deque[tuple[int, list[list[int]], Future]] = deque()
        self._keys = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children]

    def start(self, count: int | None = None) -> EmbedWorkers:
        """Start children (each loads the model at once) until ``count`` (all ``workers``) run."""
        with self._lock:
            self._start(count or self.workers)
        return self

    def _start(self, count: int) -> None:
        """(Caller holds the lock.)"""
        if len(self._children) >= count:
            return
        # spawn, not fork: the caller runs threads (Chroma's, a server's) that a fork would copy mid-state.
        ctx = multiprocessing.get_context("spawn")
        for n in range(len(self._children), count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, self.model_path), name=f"citeqa-embed-{n}", daemon=True)
            proc.start()
            child.close()  # the child's end lives in the child only: its exit reads as end-of-file here
            worker = _Child(proc, parent)
            self._children.append(worker)
            threading.Thread(target=self._receive, args=(worker,), daemon=True).start()

    def submit(self, tokens: Sequence[list[int]]) -> Future:
        """Queue one batch (token id lists, padded in the child); its future gives the vectors."""
        future: Future = Future()
        with self._lock:
            # Under the same lock as the queueing: a batch is never queued with no child to take it.
            self._start(self.workers)
            self._keys += 1
            self._pending.append((self._keys, list(tokens), future))
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
            child = min(self._children, key=lambda c: len(c.running))
            if len(child.running) >= DEPTH:
                break
            key, tokens, future = self._pending.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            child.running[key] = future
            try:
                child.conn.send((key, tokens))
            except OSError:
                break  # the child is gone: its receiver fails the run
        self._changed.notify_all()

    def _receive(self, child: _Child) -> None:
        """One child's answers, until its pipe ends."""
        while True:
            try:
                key, reply = child.conn.recv()
            except (EOFError, OSError):
                child.proc.join(5)  # end-of-file: it is exiting; its exit code says why
                self._stop(EmbedError(f"an embedding process exited (exit code {child.proc.exitcode})"), child)
                return
            with self._lock:
                future = child.running.pop(key, None)
                self._dispatch()
            if future is None:
                continue
            if isinstance(reply, _Failed):
                future.set_exception(EmbedError(f"embedding failed: {reply.summary}"))
            else:
                future.set_result(reply)

    def _stop(self, error: EmbedError, dead: _Child | None = None) -> None:
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
            c.proc.kill()
        for c in children:
            c.proc.join()
            c.conn.close()
        for future in failed:
            if not future.done():
                future.set_exception(error)


@cache
def shared(model_path: str, workers: int) -> EmbedWorkers:
    """The process-wide children for a model: started once, reused by every bulk embedding."""
    return EmbedWorkers(model_path, workers)
