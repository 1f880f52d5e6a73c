"""Schemathesis over citeqa's own OpenAPI schema: every route, positive and
negative cases, sent over real HTTP to the real app (uvicorn, real Chroma, real
model). Every response must be non-5xx and match the schema, valid requests
must be accepted and invalid ones rejected (schemathesis's default checks)."""

from __future__ import annotations

import datetime as dt

import httpx
import schemathesis
from hypothesis import HealthCheck, settings

from service.app import create_app
from service.settings import Settings
from tests.reliability.conftest import ADMIN_TOKEN

# The schema the app serves, built without starting it (the lifespan opens nothing here).
SPEC = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(SPEC)

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None, print_blob=True
)


def _dates_out_of_order(case) -> bool:
    """Rules JSON Schema cannot express — since after until, since or until after as_of:
    such a body is schema-valid and still a 422."""
    body = case.body if isinstance(case.body, dict) else {}

    def day(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(body[name])
        except (KeyError, TypeError, ValueError):
            return None

    since, until, as_of = day("since"), day("until"), day("as_of")
    pairs = [(since, until), (since, as_of), (until, as_of)]
    return any(a is not None and b is not None and a > b for a, b in pairs)


@schema.exclude(path="/admin/reindex").parametrize()
@FUZZ
def test_every_route(case, live_app):
    if _dates_out_of_order(case):
        response = case.call(base_url=live_app.url)
        assert response.status_code == 422, response.text
        case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
        return
    case.call_and_validate(base_url=live_app.url)


@schema.include(path="/admin/reindex").parametrize()
@FUZZ
def test_admin_without_the_token(case, live_app):
    """Whatever the generated Authorization header and body: 401, 403 or 422, never a reindex.
    (Schemathesis also probes other methods on the path: those must be 405.)"""
    response = case.call_and_validate(base_url=live_app.url)
    assert response.status_code in ((401, 403, 422) if case.method == "POST" else (405,)), response.text


@schema.include(path="/admin/reindex").parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_admin_with_the_token(case, live_app):
    """Authorized: generated bodies either reindex (200, rebuilds included) or are a 422, never a 5xx."""
    response = case.call_and_validate(base_url=live_app.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code in ((200, 422) if case.method == "POST" else (405,)), response.text
    if response.status_code == 200:
        assert response.json()["added"] + response.json()["unchanged"] == 2


def test_fuzzed_schema_is_the_served_one(live_app):
    """The cases above come from exactly the schema the running app serves, covering every route."""
    served = httpx.get(live_app.url + "/openapi.json").json()
    assert served == SPEC
    assert set(SPEC["paths"]) == {
        "/ask",
        "/search",
        "/documents",
        "/documents/{doc_id}",
        "/admin/reindex",
        "/healthz",
        "/readyz",
    }
    # The app still answers after the fuzzing (tests run in file order).
    ready = httpx.get(live_app.url + "/readyz").json()
    assert ready["documents"] == 2
