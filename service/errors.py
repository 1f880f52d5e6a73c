"""citeqa's exceptions and the one error shape, ``{"detail": ...}``.

    CiteqaError                 (500, never raised for user input)
    ├── DocumentNotFound        404  unknown doc_id
    ├── IndexNotReady           503  no index yet: run `citeqa index`
    │   └── IndexBuilding       503  `citeqa serve` is building the first index
    └── StoreUnavailable        503  Chroma cannot be reached

"The articles don't answer this" is not an error: it is a 200 with
``abstained: true``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class CiteqaError(Exception):
    """Base of citeqa's errors; ``status`` is the HTTP status it maps to."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DocumentNotFound(CiteqaError):
    status = 404


class IndexNotReady(CiteqaError):
    status = 503


class IndexBuilding(IndexNotReady):
    status = 503


class StoreUnavailable(CiteqaError):
    status = 503


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


def install_handlers(app: FastAPI) -> None:
    """Render every error as ``{"detail": ...}``."""

    @app.exception_handler(CiteqaError)
    async def _citeqa(_: Request, exc: CiteqaError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
