"""One writer at a time on an embedded data dir.

Chroma's embedded store is thread-safe but not process-safe, so ``citeqa
index`` and ``citeqa serve`` take an exclusive lock file in the data dir before
they open it. The OS drops the lock when the process dies, even by kill -9.
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from indexing.errors import IndexLocked


def acquire(data_dir: Path) -> FileLock:
    """Take the data dir's writer lock now or raise ``IndexLocked``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "writer.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexLocked(
            f"another citeqa process (an index run or a running service) holds {data_dir}; "
            "wait for it to finish; to reindex while the service runs, use its POST /admin/reindex "
            "(with CITEQA_ADMIN_TOKEN) or run Chroma as a server (CITEQA_CHROMA_HOST)"
        ) from None
    return lock
