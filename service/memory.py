"""How much memory the API process keeps: glibc's malloc arenas.

glibc gives each thread that meets a locked arena a new one, up to 8 per core.
The API answers on a thread pool (FastAPI runs sync endpoints on up to 40
threads), so under concurrent load each busy thread grows its own arena and
the freed memory stays mapped. Measured at 100k chunks with 8 clients: peak RSS
1,073 MiB with the default, 952 MiB with two arenas (the start-up peak, since
load no longer adds to it), at the same throughput (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def cap_malloc_arenas(arenas: int) -> bool:
    """Limit this process to ``arenas`` malloc arenas; True if the cap took effect.

    Does nothing for 0, on other platforms or C libraries (musl has no mallopt
    parameter for it), or when ``MALLOC_ARENA_MAX`` is set: glibc has already
    read that one, and the user's choice wins. ``create_app`` calls it, so each
    worker of ``citeqa serve --workers N`` caps its own process."""
    if arenas <= 0 or not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_ARENA_MAX, arenas))
    if not ok:
        log.warning("could not cap malloc arenas at %d", arenas)
    return ok
