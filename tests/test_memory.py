"""The API process caps glibc's malloc arenas (indexing/malloc.py): with the default
eight per core, each busy request thread kept its own arena: the 100k-chunk
server peaked at 1,022–1,027 MiB under 8 clients, against 922–948 MiB with two
(docs/benchmarks.md, session 15).

Each case runs in a fresh interpreter: arenas are per process and glibc reads
MALLOC_ARENA_MAX only at start-up. The arenas are counted with glibc's own
``malloc_info`` after 8 threads allocate at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import ctypes, re, sys, tempfile, threading
from service.app import create_app
from service.settings import Settings

create_app(Settings(data_dir=sys.argv[2], malloc_arenas=int(sys.argv[1])))
barrier = threading.Barrier(8)

def work():
    barrier.wait()
    for _ in range(2000):
        bufs = [ctypes.create_string_buffer(4096) for _ in range(50)]  # above pymalloc's 512 B: malloc
        del bufs

threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile("r") as f:
    fp = libc.fopen(f.name.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(len(re.findall(r"<heap nr=", f.read())))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc arenas are Linux-only")


def arenas(tmp_path: Path, setting: int, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(setting), str(tmp_path / "data")],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(out.stdout.split()[-1])


def test_the_app_caps_its_arenas_at_the_setting(tmp_path: Path) -> None:
    assert arenas(tmp_path, 2) <= 2
    # glibc's default for the same load: one arena per contending thread
    assert arenas(tmp_path, 0) > 2


def test_malloc_arena_max_set_by_the_user_wins(tmp_path: Path) -> None:
    assert arenas(tmp_path, 1, MALLOC_ARENA_MAX="3") in (2, 3)  # not the setting's 1
