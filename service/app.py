"""The FastAPI app factory. The lifespan owns the clients: it opens Chroma,
loads the embedding model and builds the BM25 index once, and releases them on
shutdown. Handlers validate, call one function of ``service.answering`` and
return its result."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path as PathlibPath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from indexing import parsing
from indexing.corpus import DOC_ID_PATTERN, MAX_DOC_ID, CorpusError
from indexing.embedding import Embedder
from indexing.locking import IndexLocked, acquire
from indexing.malloc import cap_malloc_arenas
from indexing.reindex import Progress, ReindexResult, reindex
from indexing.store import Store, make_client
from indexing.wiring import server_lease
from service import answering
from service.errors import (
    CorpusUnusable,
    DocumentNotFound,
    IndexBuilding,
    IndexNotReady,
    ReindexConflict,
    check_admin,
    install_handlers,
    store_errors,
)
from service.observability import BodyLimit, ControlCharsInPath, Metrics, install_request_middleware
from service.pipeline import Pipeline, build_pipeline
from service.schemas import (
    AskRequest,
    AskResponse,
    Document,
    DocumentsPage,
    DocumentSummary,
    ErrorBody,
    Health,
    Ready,
    ReindexReport,
    ReindexRequest,
    SearchRequest,
    SearchResponse,
)
from service.settings import Settings

log = logging.getLogger(__name__)
STATIC = PathlibPath(__file__).parent / "static"


def _json(model: BaseModel) -> Response:
    """A model built and validated by us, serialised once: returned as a model, FastAPI
    would dump it, validate it against ``response_model`` again and serialise it (≈ 1 ms
    for an /ask body with passages)."""
    return Response(model.model_dump_json(), media_type="application/json")


def _version() -> str:
    try:
        return version("citeqa")
    except PackageNotFoundError:
        return "0.0.0"


class AppState:
    """What the lifespan opens: the pipeline, a watcher that follows reindexes done
    elsewhere, and whether the first index is being built."""

    def __init__(self, settings: Settings, metrics: Metrics, clock: Callable[[], dt.date] | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.pipeline: Pipeline | None = None
        self.building = False
        self.build_error: str | None = None
        self.loaded_version = -1
        self.reindex_lock = threading.Lock()
        self._lock_file: Any = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def open(self, *, index_on_start: bool, progress: Callable[[], Progress] | None) -> None:
        if not self.settings.server_mode:
            # Embedded Chroma is not process-safe: this process is the only writer.
            self._lock_file = acquire(self.settings.data_dir)
        store = Store(make_client(self.settings), self.settings.index_name())
        embedder = Embedder(self.settings.embed_model, batch_size=self.settings.embed_batch_size).warm()
        self.pipeline = build_pipeline(self.settings, store, embedder, refresh=False, clock=self.clock)
        if store.article_count() == 0 and index_on_start:
            self.building = True
            threading.Thread(target=self._build_first, args=(progress,), daemon=True).start()
        else:
            self.refresh()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def refresh(self) -> None:
        """Rebuild the BM25 side from Chroma and note the index version it reflects."""
        assert self.pipeline is not None
        version = self.pipeline.store.version.read()
        self.pipeline.refresh()
        self.loaded_version = version
        self.metrics.documents.set(self.pipeline.store.article_count())
        self.metrics.chunks.set(self.pipeline.chunks)

    def _watch(self) -> None:
        # Another process (citeqa index, another replica's /admin/reindex) may
        # change the index: follow its version record.
        assert self.pipeline is not None
        while not self._stop.wait(self.settings.refresh_seconds):
            if self.reindex_lock.locked():  # reindexing in this process (a rebuild swaps the store): it refreshes
                continue
            try:
                if self.pipeline.store.version.read() != self.loaded_version:
                    self.refresh()
                    self.building = False
            except Exception:  # Chroma unreachable: retry on the next tick
                log.warning("could not check the index version", exc_info=True)

    def _build_first(self, progress: Callable[[], Progress] | None) -> None:
        assert self.pipeline is not None
        try:
            self.reindex(progress=progress() if progress else None)
        except IndexLocked:
            # Another process is building it: the watcher loads it when it is done.
            log.info("another process is building the first index; waiting for it")
            return
        except Exception as exc:  # reported by /readyz and /ask, the process stays up
            log.exception("building the first index failed")
            self.build_error = str(exc)
        self.building = False

    def reindex(self, *, rebuild: bool = False, progress: Progress | None = None) -> ReindexResult:
        """Reindex in-process (first start, POST /admin/reindex); raises IndexLocked when one runs."""
        assert self.pipeline is not None
        if not self.reindex_lock.acquire(blocking=False):
            raise IndexLocked("a reindex is already running in this service")
        try:
            with server_lease(self.pipeline.store) if self.settings.server_mode else nullcontext():
                started = time.perf_counter()
                result = reindex(
                    self.settings,
                    store=self.pipeline.store,
                    get_embedder=lambda: self.pipeline.embedder,
                    rebuild=rebuild,
                    progress=progress,
                )
                if rebuild:  # drop() made new collections: reopen them
                    self.pipeline.reopen(Store(self.pipeline.store.client, self.settings.index_name()))
                self.metrics.reindex.observe(time.perf_counter() - started)
            self.refresh()
            return result
        finally:
            # A server reindexes rarely: the spaCy and embedding processes would sit idle
            # on ≈ 600 MiB between runs, so they go now and the next run starts new ones.
            parsing.shared().close()
            self.pipeline.embedder.stop_bulk_workers()
            self.reindex_lock.release()

    def close(self) -> None:
        self._stop.set()
        if self._lock_file is not None:
            self._lock_file.release()


# Dependencies are ``async def`` although they never await: FastAPI runs a plain
# ``def`` dependency on the thread pool, two thread hops per request for an
# attribute read (measured under 8-client load: 13% of GIL time).
async def _state(request: Request) -> AppState:
    return request.app.state.citeqa


async def get_pipeline(state: Annotated[AppState, Depends(_state)]) -> Pipeline:
    """The pipeline, or a 503 that says why there is none yet."""
    if state.building:
        raise IndexBuilding("citeqa is building the index for the first time; try again in a moment")
    if state.build_error:
        raise IndexNotReady(f"building the index failed: {state.build_error}; fix it and run `citeqa index`")
    if state.pipeline is None or state.pipeline.chunks == 0:
        raise IndexNotReady("no index yet: run `citeqa index` to index the corpus")
    return state.pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid input."},
    503: {"model": ErrorBody, "description": "No index yet, or it is being built."},
}


def create_app_from_env() -> FastAPI:
    """The app factory uvicorn workers call (``citeqa serve --workers N``)."""
    return create_app(Settings(), index_on_start=True)


def create_app(
    settings: Settings | None = None,
    *,
    index_on_start: bool = False,
    progress: Callable[[], Progress] | None = None,
    clock: Callable[[], dt.date] | None = None,
) -> FastAPI:
    """Build the app; with ``index_on_start`` an empty store is indexed from the corpus first.
    ``clock`` gives today's date for questions asked without ``as_of`` (default: the real date)."""
    settings = settings or Settings()
    cap_malloc_arenas(settings.malloc_arenas)  # before the lifespan starts any thread
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings, metrics, clock)
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
    install_request_middleware(app, metrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(ControlCharsInPath)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The question page (static, no CDN: works air-gapped)."""
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.post(
        "/ask",
        response_model=AskResponse,
        responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "The answer (JSON or SSE)."}},
        tags=["answers"],
    )
    def ask(body: AskRequest, pipeline: PipelineDep) -> Any:
        """Answer a question with verified quotes, or abstain (`abstained: true`) when the articles don't say.
        With an LLM configured (`CITEQA_LLM_BASE_URL`) the answer is written by the LLM (`mode: "llm"`),
        every citation still a verified quote; `"stream": true` answers as server-sent events."""
        with store_errors():
            events = answering.ask_events(
                pipeline,
                body.question,
                top_k=body.top_k,
                since=body.since,
                until=body.until,
                as_of=body.as_of,
                stream=body.stream,
                options=body.options,
            )
        if not body.stream:
            result = next(e.data for e in events if e.kind == "done")
            metrics.answers.labels("abstained" if result.abstained else "answered").inc()
            return _json(result)
        return StreamingResponse(_sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def _sse(events: Iterator[answering.Event]) -> Iterator[str]:
        for event in events:
            if event.kind == "done":
                metrics.answers.labels("abstained" if event.data.abstained else "answered").inc()
            if event.kind == "sentence":
                data = json.dumps({"text": event.data}, ensure_ascii=False)
            else:
                data = event.data.model_dump_json()
            yield f"event: {event.kind}\ndata: {data}\n\n"

    @app.post("/search", response_model=SearchResponse, responses=ERRORS, tags=["answers"])
    def search(body: SearchRequest, pipeline: PipelineDep) -> Response:
        """The best passages for a query (hybrid dense + BM25), best first."""
        with store_errors():
            passages = answering.search(
                pipeline, body.query, top_k=body.top_k, since=body.since, until=body.until, as_of=body.as_of
            )
        as_of = body.as_of.isoformat() if body.as_of else None
        return _json(SearchResponse(passages=passages, as_of=as_of))

    @app.get("/documents", response_model=DocumentsPage, responses=ERRORS, tags=["documents"])
    def documents(
        pipeline: PipelineDep,
        offset: Annotated[int, Query(ge=0, description="How many documents to skip.")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")] = 100,
    ) -> DocumentsPage:
        """Indexed articles, a page at a time, ordered by doc_id."""
        with store_errors():
            total, rows = pipeline.store.list_articles(offset=offset, limit=limit)
        return DocumentsPage(total=total, documents=[DocumentSummary(**r) for r in rows])

    @app.get(
        "/documents/{doc_id:path}",
        response_model=Document,
        responses={**ERRORS, 404: {"model": ErrorBody, "description": "Unknown document."}},
        tags=["documents"],
    )
    def document(
        pipeline: PipelineDep,
        doc_id: Annotated[
            str,
            Path(min_length=1, max_length=MAX_DOC_ID, pattern=DOC_ID_PATTERN, description="URL-encoded doc id."),
        ],
    ) -> Document:
        """One indexed article with the exact text that quote offsets refer to."""
        with store_errors():
            record = pipeline.store.document(doc_id)
        if record is None:
            raise DocumentNotFound(f"no indexed document with id {doc_id!r}")
        return Document(
            doc_id=record.doc_id, title=record.title, url=record.url, published=record.published, text=record.text
        )

    @app.post(
        "/admin/reindex",
        response_model=ReindexReport,
        responses={
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            409: {"model": ErrorBody},
            422: {"model": ErrorBody},
        },
        tags=["admin"],
    )
    def admin_reindex(
        state: Annotated[AppState, Depends(_state)],
        authorization: Annotated[str | None, Header(description="Bearer $CITEQA_ADMIN_TOKEN")] = None,
        body: ReindexRequest | None = None,
    ) -> ReindexReport:
        """Bring the index in step with the corpus now (synchronous); needs `Authorization: Bearer <token>`."""
        check_admin(settings.admin_token, authorization)
        if state.pipeline is None or state.building:
            raise ReindexConflict("the first index is still being built")
        try:
            result = state.reindex(rebuild=bool(body and body.rebuild))
        except IndexLocked as exc:
            raise ReindexConflict(str(exc)) from None
        except CorpusError as exc:
            raise CorpusUnusable(str(exc)) from None
        return ReindexReport(
            added=result.added,
            updated=result.updated,
            removed=result.removed,
            unchanged=result.unchanged,
            seconds=round(result.seconds, 3),
        )

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus metrics of this process."""
        return metrics.render()

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """200 whenever the process is up."""
        return Health()

    @app.get("/readyz", response_model=Ready, responses=ERRORS, tags=["health"])
    def readyz(pipeline: PipelineDep) -> Ready:
        """200 with counts when the index is loaded; 503 otherwise."""
        with store_errors():
            documents, chunks = pipeline.store.counts()
        return Ready(documents=documents, chunks=chunks)

    return app
