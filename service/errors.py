"""citeqa's exceptions and the one error shape, ``{"detail": ...}``.

    CiteqaError                 (500, never raised for user input)
    ├── Unauthorized            401  no bearer token on an admin route
    ├── Forbidden               403  wrong token, or admin disabled
    ├── DocumentNotFound        404  unknown doc_id
    ├── ReindexConflict         409  another reindex is running
    ├── CorpusUnusable          422  the corpus has nothing indexable
    ├── IndexNotReady           503  no index yet: run `citeqa index`
    │   └── IndexBuilding       503  `citeqa serve` is building the first index

    indexing.errors.StoreUnavailable  503  Chroma cannot be reached (the one class of
                                           that name: the store raises it, so does
                                           ``store_errors`` below)

"The articles don't answer this" is not an error: it is a 200 with
``abstained: true``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexing.errors import StoreUnavailable


class CiteqaError(Exception):
    """Base of citeqa's errors; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(CiteqaError):
    status = 401


class Forbidden(CiteqaError):
    status = 403


class DocumentNotFound(CiteqaError):
    status = 404


class ReindexConflict(CiteqaError):
    status = 409


class CorpusUnusable(CiteqaError):
    status = 422


class IndexNotReady(CiteqaError):
    status = 503


class IndexBuilding(IndexNotReady):
    status = 503


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a failing Chroma (server down, timeout) into a 503 with a clear detail."""
    import chromadb.errors
    import httpx

    try:
        yield
    except (httpx.HTTPError, ConnectionError, TimeoutError, chromadb.errors.ChromaError) as exc:
        raise StoreUnavailable(
            f"the Chroma store is unavailable ({type(exc).__name__}: {exc}); try again shortly"
        ) from None


def check_admin(configured: str | None, authorization: str | None) -> None:
    """401 without a bearer token, 403 with a wrong one or when admin is disabled."""
    if not configured:
        raise Forbidden("admin is disabled: set CITEQA_ADMIN_TOKEN on the server to enable /admin routes")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token: send Authorization: Bearer <CITEQA_ADMIN_TOKEN>")
    if not secrets.compare_digest(token.encode(), configured.encode()):
        raise Forbidden("wrong admin token")


def _validation_detail(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")).removeprefix("Value error, "),
                "type": err.get("type", ""),
            }
        )
    return out


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why a JSON body could not be decoded, when FastAPI's generic 400 hides it.

    Malformed JSON is a 422; a body that is not UTF-8, or nested too deeply for
    the JSON decoder, is malformed JSON too and gets the same status and shape.
    """
    if exc.status_code != 400:
        return None
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return f"the body is not valid UTF-8 (byte {exc.__cause__.start})"
    if isinstance(exc.__cause__, RecursionError):
        return "the JSON body is nested too deeply"
    return None


def install_handlers(app: FastAPI) -> None:
    """Render every error as ``{"detail": ...}``."""

    @app.exception_handler(CiteqaError)
    async def _citeqa(_: Request, exc: CiteqaError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(StoreUnavailable)
    async def _store(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        unreadable = _unreadable_body(exc)
        if unreadable:
            return JSONResponse({"detail": [{"loc": ["body"], "msg": unreadable, "type": "json_invalid"}]}, 422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
