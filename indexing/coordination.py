"""Coordination through Chroma, for several processes on one index (server mode).

- ``IndexVersion``: a counter bumped after every reindex that changed something;
  API processes poll it (one small ``get``) and rebuild their BM25 side when it
  moves, so every replica follows a reindex done elsewhere within seconds.
- ``ChromaLease``: a writer lease record with an owner and an expiry, renewed
  while a reindex runs. Chroma has no compare-and-set, so acquiring is
  write-then-read-back after a short pause: best-effort mutual exclusion that
  refuses a second reindex started while one is running (the common case);
  a crashed writer's lease expires after its TTL.

On the embedded store the file lock in ``indexing.locking`` is the real guard.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from typing import Any

from indexing.locking import IndexLocked

VERSION_ID = "index-version"
LEASE_ID = "writer-lease"
_NO_VECTOR = [1.0]


def meta_collection(client: Any, prefix: str) -> Any:
    """The small collection holding the version counter and the writer lease."""
    return client.get_or_create_collection(f"{prefix}-meta", embedding_function=None)


class IndexVersion:
    """Read and bump the index version record."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def read(self) -> int:
        got = self.collection.get(ids=[VERSION_ID], include=["metadatas"])
        return int(got["metadatas"][0].get("version", 0)) if got["ids"] else 0

    def bump(self) -> int:
        version = self.read() + 1
        self.collection.upsert(
            ids=[VERSION_ID],
            embeddings=[_NO_VECTOR],
            documents=["index version"],
            metadatas=[{"version": version, "updated": time.time()}],
        )
        return version


class ChromaLease:
    """A renewable writer lease stored in Chroma."""

    def __init__(self, collection: Any, *, ttl: float = 30.0, settle: float = 0.3) -> None:
        self.collection = collection
        self.ttl = ttl
        self.settle = settle
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _current(self) -> dict[str, Any] | None:
        got = self.collection.get(ids=[LEASE_ID], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def _write(self) -> None:
        self.collection.upsert(
            ids=[LEASE_ID],
            embeddings=[_NO_VECTOR],
            documents=["writer lease"],
            metadatas=[{"owner": self.owner, "expires": time.time() + self.ttl}],
        )

    def acquire(self) -> ChromaLease:
        held = self._current()
        if held and held.get("owner") != self.owner and float(held.get("expires", 0)) > time.time():
            owner = str(held.get("owner"))
            if not _dead_local_owner(owner):
                left = float(held["expires"]) - time.time()
                raise IndexLocked(
                    f"another reindex is running against this Chroma server (held by {owner}; "
                    f"if that process is gone, its lease expires in {left:.0f} s)"
                )
            # A run killed on this very host (kill -9, OOM) need not block the next for the whole TTL.
        self._write()
        time.sleep(self.settle)
        held = self._current()
        if not held or held.get("owner") != self.owner:
            raise IndexLocked("another reindex started at the same moment against this Chroma server")
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._write()
            except Exception:  # the next renewal or the TTL sorts it out
                pass

    def release(self) -> None:
        self._stop.set()
        if self._renewer:
            self._renewer.join(5)
        try:
            held = self._current()
            if held and held.get("owner") == self.owner:
                self.collection.delete(ids=[LEASE_ID])
        except Exception:  # an expired lease frees itself
            pass


def _dead_local_owner(owner: str) -> bool:
    """True when ``owner`` ("host:pid:nonce") names a process of this host that no longer exists.

    Containers that share a hostname but not a pid namespace would misjudge this;
    compose gives each container its own hostname."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
