"""One child process on a pipe: what the parse process (``indexing.parsing``) and
the embedding processes (``indexing.embed_workers``) both run on.

Written on multiprocessing's ``Process`` and ``Pipe`` rather than a
``ProcessPoolExecutor``: a run with nothing to do must be able to kill a child
still loading its model (an executor's shutdown waits for it), and a child whose
parent was killed must exit (it reads end-of-file on its pipe; an executor's idle
worker waits on its queue forever). Spawned, not forked: the parent runs threads
(Chroma's, a server's) that a fork would copy in whatever state they were.

The protocol: the parent sends ``(key, job)``; the child answers with any number
of ``(key, reply)`` messages, where a reply may be a ``Failed`` (an exception in
the child, sent as text: it may not pickle).
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Handler = Callable[[Any, Any], Iterator[Any]]  # (what setup made, job) -> replies
_END = object()


@dataclass
class Failed:
    """An exception raised in the child, as text."""

    summary: str
    trace: str


class Gone(Exception):
    """The child exited (or was killed): its pipe ended."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"exit code {exitcode}")
        self.exitcode = exitcode


def _main(conn: Any, setup: Callable[[], Any], handle: Handler) -> None:
    """The child: ``setup()`` once (load the models), then each job's replies.

    A thread reads the pipe into a queue, so the parent's sends never wait for the
    child to finish a job (and neither side can block the other with a full pipe)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends this process
    state = setup()
    jobs: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                jobs.put(conn.recv())
        except (EOFError, OSError):
            jobs.put(None)  # the parent closed the pipe, or died

    threading.Thread(target=read, daemon=True).start()
    while (message := jobs.get()) is not None:
        key, job = message
        replies = handle(state, job)
        while True:
            try:
                reply = next(replies, _END)
            except Exception as exc:
                reply = Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            if reply is _END:
                break
            try:
                conn.send((key, reply))
            except OSError:
                return  # the parent is gone
            if isinstance(reply, Failed):
                break


class Child:
    """The parent's handle on one child process; ``send`` and ``recv`` raise ``Gone``
    once it has exited. Not thread-safe on its own: one sender, one receiver."""

    def __init__(self, name: str, setup: Callable[[], Any], handle: Handler) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_main, args=(child, setup, handle), name=name, daemon=True)
        self.proc.start()
        child.close()  # the child's end lives in the child only: its exit reads as end-of-file here

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.is_alive()

    def send(self, key: int, job: Any) -> None:
        try:
            self._conn.send((key, job))
        except (EOFError, OSError):
            raise self._gone() from None

    def recv(self) -> tuple[int, Any]:
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            raise self._gone() from None

    def _gone(self) -> Gone:
        self.proc.join(5)  # end-of-file: it is exiting; its exit code says why
        return Gone(self.proc.exitcode)

    def kill(self) -> None:
        """Kill it now and wait for it; a receiver blocked in ``recv`` gets ``Gone``."""
        self.proc.kill()
        self.proc.join()
        self._conn.close()
