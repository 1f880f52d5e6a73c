"""The FastAPI app factory. The lifespan owns the clients: it opens Chroma,
loads the embedding model and builds the BM25 index once, and releases them on
shutdown. Handlers validate, call one function of ``service.answering`` and
return its result."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path as PathlibPath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from indexing.embedding import Embedder
from indexing.locking import acquire
from indexing.reindex import Progress, reindex
from indexing.settings import Settings
from indexing.store import Store, make_client
from service import answering
from service.engine import Engine
from service.errors import DocumentNotFound, IndexBuilding, IndexNotReady, StoreUnavailable, install_handlers
from service.schemas import (
    AskRequest,
    AskResponse,
    Document,
    DocumentsPage,
    DocumentSummary,
    ErrorBody,
    Health,
    Ready,
    SearchRequest,
    SearchResponse,
)

log = logging.getLogger(__name__)
STATIC = PathlibPath(__file__).parent / "static"
MAX_DOC_ID = 1024


def _version() -> str:
    try:
        return version("citeqa")
    except PackageNotFoundError:
        return "0.0.0"


class AppState:
    """What the lifespan opens: the engine, and whether the first index is being built."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine | None = None
        self.building = False
        self.build_error: str | None = None
        self._lock_file: Any = None

    def open(self, *, index_on_start: bool, progress: Callable[[], Progress] | None) -> None:
        if not self.settings.server_mode:
            # Embedded Chroma is not process-safe: this process is the only writer.
            self._lock_file = acquire(self.settings.data_dir)
        store = Store(make_client(self.settings), self.settings.index_name())
        embedder = Embedder(self.settings.embed_model, batch_size=self.settings.embed_batch_size)
        self.engine = Engine(self.settings, store, embedder)
        if store.articles.count() == 0 and index_on_start:
            self.building = True
            threading.Thread(target=self._build_first, args=(progress,), daemon=True).start()
        else:
            self.engine.refresh()

    def _build_first(self, progress: Callable[[], Progress] | None) -> None:
        assert self.engine is not None
        try:
            reindex(
                self.settings,
                store=self.engine.store,
                get_embedder=lambda: self.engine.embedder,
                progress=progress() if progress else None,
            )
            self.engine.refresh()
        except Exception as exc:  # reported by /readyz and /ask, the process stays up
            log.exception("building the first index failed")
            self.build_error = str(exc)
        finally:
            self.building = False

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.release()


def _state(request: Request) -> AppState:
    return request.app.state.citeqa


def get_engine(state: Annotated[AppState, Depends(_state)]) -> Engine:
    """The engine, or a 503 that says why there is none yet."""
    if state.building:
        raise IndexBuilding("citeqa is building the index for the first time; try again in a moment")
    if state.build_error:
        raise IndexNotReady(f"building the index failed: {state.build_error}; fix it and run `citeqa index`")
    if state.engine is None or len(state.engine.lexical) == 0:
        raise IndexNotReady("no index yet: run `citeqa index` to index the corpus")
    return state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid input."},
    503: {"model": ErrorBody, "description": "No index yet, or it is being built."},
}


def create_app(
    settings: Settings | None = None,
    *,
    index_on_start: bool = False,
    progress: Callable[[], Progress] | None = None,
) -> FastAPI:
    """Build the app; with ``index_on_start`` an empty store is indexed from the corpus first."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings)
        state.open(index_on_start=index_on_start, progress=progress)
        app.state.citeqa = state
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="citeqa",
        version=_version(),
        description="Answers questions about indexed news articles with verbatim, verified quotes: "
        "every quote and span satisfies `document_text(doc_id)[start:end] == text`.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The question page (static, no CDN: works air-gapped)."""
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.post("/ask", response_model=AskResponse, responses=ERRORS, tags=["answers"])
    def ask(body: AskRequest, engine: EngineDep) -> AskResponse:
        """Answer a question with verified quotes, or abstain (`abstained: true`) when the articles don't say."""
        return answering.ask(engine, body.question, top_k=body.top_k, since=body.since, until=body.until)

    @app.post("/search", response_model=SearchResponse, responses=ERRORS, tags=["answers"])
    def search(body: SearchRequest, engine: EngineDep) -> SearchResponse:
        """The best passages for a query (hybrid dense + BM25), best first."""
        return SearchResponse(
            passages=answering.search(engine, body.query, top_k=body.top_k, since=body.since, until=body.until)
        )

    @app.get("/documents", response_model=DocumentsPage, responses=ERRORS, tags=["documents"])
    def documents(
        engine: EngineDep,
        offset: Annotated[int, Query(ge=0, description="How many documents to skip.")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")] = 100,
    ) -> DocumentsPage:
        """Indexed articles, a page at a time, ordered by doc_id."""
        total, rows = engine.store.list_articles(offset=offset, limit=limit)
        return DocumentsPage(total=total, documents=[DocumentSummary(**r) for r in rows])

    @app.get(
        "/documents/{doc_id:path}",
        response_model=Document,
        responses={**ERRORS, 404: {"model": ErrorBody, "description": "Unknown document."}},
        tags=["documents"],
    )
    def document(
        engine: EngineDep,
        doc_id: Annotated[str, Path(min_length=1, max_length=MAX_DOC_ID, description="URL-encoded doc id.")],
    ) -> Document:
        """One indexed article with the exact text that quote offsets refer to."""
        record = engine.store.document(doc_id)
        if record is None:
            raise DocumentNotFound(f"no indexed document with id {doc_id!r}")
        return Document(
            doc_id=record.doc_id, title=record.title, url=record.url, published=record.published, text=record.text
        )

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """200 whenever the process is up."""
        return Health()

    @app.get("/readyz", response_model=Ready, responses=ERRORS, tags=["health"])
    def readyz(engine: EngineDep) -> Ready:
        """200 with counts when the index is loaded; 503 otherwise."""
        try:
            documents, chunks = engine.store.counts()
        except Exception as exc:  # Chroma went away
            raise StoreUnavailable(f"the Chroma store is unavailable: {exc}") from exc
        return Ready(documents=documents, chunks=chunks)

    return app
