"""A real citeqa app served by uvicorn on a loopback port, over its own index of
the seed articles (own data dir, so an admin rebuild cannot disturb the
session's shared seed index)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from indexing.reindex import reindex
from service.app import create_app
from service.settings import Settings
from tests.conftest import copy_seeds, free_port, open_store, wait_ready

ADMIN_TOKEN = "reliability-token"


@dataclass
class LiveApp:
    url: str
    settings: Settings
    corpus: Path


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, embedder) -> Iterator[LiveApp]:
    root = tmp_path_factory.mktemp("reliability-app")
    corpus = copy_seeds(root / "corpus")
    settings = Settings(data_dir=root / "data", corpus_dir=corpus, admin_token=ADMIN_TOKEN)
    reindex(settings, store=open_store(settings), get_embedder=lambda: embedder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    yield LiveApp(url=url, settings=settings, corpus=corpus)
    server.should_exit = True
    thread.join(30)
