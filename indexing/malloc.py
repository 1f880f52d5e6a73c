"""How much memory a citeqa process keeps: two controls of glibc's malloc.

Freed memory: after a large transient (reading every chunk to build the lexical
index) ``release_freed_memory`` hands the freed heap back to the OS.

Arenas: glibc gives each thread that meets a locked arena a new one, up to 8 per core.
The API answers on a thread pool (FastAPI runs sync endpoints on up to 40
threads), so under concurrent load each busy thread grows its own arena and
the freed memory stays mapped. Measured at 100k chunks with 8 clients: peak RSS
1,070 MiB with glibc's default, 966 MiB with two arenas, at 35–36 against 38–39
answered/s (docs/benchmarks.md, session 15).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def release_freed_memory() -> None:
    """Hand freed native heap back to the OS (glibc only; a no-op elsewhere)."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def cap_malloc_arenas(arenas: int) -> bool:
    """Limit this process to ``arenas`` malloc arenas; True if the cap took effect.

    Does nothing for 0, on other platforms or C libraries (musl has no mallopt
    parameter for it), or when ``MALLOC_ARENA_MAX`` is set: glibc has already
    read that one, and the user's choice wins. ``create_app`` calls it, so each
    worker of ``citeqa serve --workers N`` caps its own process."""
    if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_ARENA_MAX, arenas))
    if not ok:
        log.warning("could not cap malloc arenas at %d", arenas)
    return ok
