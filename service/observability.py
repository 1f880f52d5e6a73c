"""Metrics (Prometheus), request ids and structured logs."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from indexing.corpus import CONTROL_CHARS

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger("citeqa.http")


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "citeqa_requests", "HTTP requests.", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "citeqa_request_seconds",
            "HTTP request latency.",
            ["route"],
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.answers = Counter("citeqa_answers", "Answers given, by outcome.", ["outcome"], registry=self.registry)
        self.documents = Gauge("citeqa_index_documents", "Articles in the index.", registry=self.registry)
        self.chunks = Gauge("citeqa_index_chunks", "Chunks in the index.", registry=self.registry)
        self.reindex = Histogram(
            "citeqa_reindex_seconds",
            "Reindex duration.",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800),
            registry=self.registry,
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install_request_middleware(app: FastAPI, metrics: Metrics) -> None:
    """X-Request-ID on every request (taken from the client or generated), one log line, metrics."""
    app.add_middleware(RequestObserver, metrics=metrics)


class RequestObserver:
    """The request-id / log / metrics layer as plain ASGI: ``@app.middleware("http")``
    (BaseHTTPMiddleware) cost about a millisecond per request in task and stream
    plumbing, a twentieth of the /ask budget (docs/benchmarks.md)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), b"").decode("latin-1")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method, path = scope["method"], scope["path"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            log.info(
                "%s %s %d %.1fms",
                method,
                path,
                status,
                elapsed * 1000,
                extra={"method": method, "path": path, "status": status, "ms": round(elapsed * 1000, 2)},
            )
            request_id.reset(token)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    EXTRA = ("method", "path", "status", "ms")

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        out.update({k: getattr(record, k) for k in self.EXTRA if hasattr(record, k)})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Root logging for `citeqa serve`: text or JSON lines, every record with its request id."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs each request once
    for noisy in ("chromadb", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 and a JSON ``detail``:
    by Content-Length up front, and by counting bytes as a chunked body streams in."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _json_reply(send, 400, "invalid Content-Length header")
                return
            if int(declared) > self.limit:
                await _json_reply(send, 413, f"request body over the limit of {self.limit} bytes")
                return
        # Read the body up to the limit before the app sees it (the app's own body
        # parsing turns errors raised while reading into a generic 400), then replay it.
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _json_reply(send, 413, f"request body over the limit of {self.limit} bytes")
                return
        await self.app(
            scope, _replay([{"type": "http.request", "body": bytes(body), "more_body": False}], receive), send
        )


class ControlCharsInPath:
    """Refuse a path with control characters (``%0a``, ``%00``…) with 422 and a JSON ``detail``.

    No route or doc id contains one (the corpus loader skips such ids), and route
    matching would otherwise drop a trailing newline: ``/documents/a.txt%0a``
    served ``a.txt``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and CONTROL_CHARS.search(scope.get("path", "")):
            detail = [{"loc": ["path"], "msg": "the path must not contain control characters", "type": "value_error"}]
            await _json_reply(send, 422, detail)
            return
        await self.app(scope, receive, send)


async def _json_reply(send: Any, status: int, detail: Any) -> None:
    """Answer from an ASGI middleware, before the app: ``{"detail": ...}`` like every error."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Any], then: Any = None) -> Any:
    """An ASGI receive that returns ``messages`` first, then defers to ``then``."""
    queue = list(messages)

    async def receive() -> Any:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
