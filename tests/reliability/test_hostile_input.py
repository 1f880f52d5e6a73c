"""Hand-written hostile HTTP input against the real app over real HTTP (uvicorn,
real Chroma, real model): raw bytes the clients would refuse to send, bodies at
and over the limit, deep nesting, other scripts, and paths that try to leave the
corpus. Every answer is a clear 4xx with a JSON ``detail`` (or a 200 for a real
question), never a 5xx, and no file outside the corpus is ever served.

Not repeated here (tests/test_api.py has them): 413 by Content-Length and for a
chunked body through TestClient, malformed JSON, ``..%2F..%2Fetc%2Fpasswd`` and
``%2e%2e/%2e%2e/pyproject.toml`` through TestClient."""

from __future__ import annotations

import json
import re
import socket
import time
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.conftest import ROOT, SEEDS

PACT = "us-ukraine-weapons-production-pact.txt"
LIMIT = 65_536  # CITEQA_MAX_BODY_BYTES default, which the live app uses
PASSWD_LINE = re.compile(rb"root:[^:\n]*:0:0:")


class Raw:
    """One HTTP/1.1 exchange over a plain socket: bytes exactly as written, no client-side normalisation."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def raw_request(url: str, head: bytes, body: bytes = b"", *, timeout: float = 30) -> Raw:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:  # the server may close before reading a body it refused
                break
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    status_line, _, rest = data.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in header_block.split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return Raw(int(status_line.split()[1]), headers, payload)


def _complete(data: bytes) -> bool:
    head, sep, payload = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(sep and match and len(payload) >= int(match.group(1)))


def post_bytes(url: str, path: str, body: bytes, content_type: str = "application/json") -> Raw:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return raw_request(url, head, body)


def get_raw_path(url: str, path: bytes) -> Raw:
    return raw_request(url, b"GET " + path + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")


def assert_clear_4xx(status: int, body: bytes, *, expected: tuple[int, ...] | int | None = None) -> object:
    """A 4xx (the one expected, when given) whose body is JSON with a non-empty ``detail``."""
    assert 400 <= status < 500, (status, body[:300])
    if expected is not None:
        assert status in (expected if isinstance(expected, tuple) else (expected,)), (status, body[:300])
    detail = json.loads(body)["detail"]
    assert detail, body[:300]
    return detail


@pytest.fixture(scope="module")
def url(live_app) -> str:
    return live_app.url


@pytest.fixture(autouse=True)
def still_serving(url):
    """After every hostile request the app still answers a real question."""
    yield
    body = httpx.post(url + "/ask", json={"question": "Who is the US Secretary of Defense?"}, timeout=60).json()
    assert not body["abstained"] and any("Lloyd Austin" in q["text"] for q in body["quotes"])


# -- body size ---------------------------------------------------------------------------------------------------


def test_body_limit_boundary_on_the_wire(url):
    """Exactly CITEQA_MAX_BODY_BYTES is read and validated (422); one byte more is a 413."""
    prefix, suffix = b'{"question": "', b'"}'
    at_limit = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(at_limit) == LIMIT
    r = post_bytes(url, "/ask", at_limit)
    detail = assert_clear_4xx(r.status, r.body, expected=422)
    assert "at most 2000 characters" in json.dumps(detail)
    over = prefix + b"x" * (LIMIT + 1 - len(prefix) - len(suffix)) + suffix
    r = post_bytes(url, "/ask", over)
    assert "limit" in assert_clear_4xx(r.status, r.body, expected=413)


def test_huge_declared_length_is_refused_without_waiting_for_the_body(url):
    """A client that announces 10 GB and sends nothing gets its 413 at once (no read, no wait)."""
    head = (
        b"POST /ask HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000000\r\nConnection: close\r\n\r\n"
    )
    started = time.perf_counter()
    r = raw_request(url, head, b'{"question": "', timeout=10)
    assert time.perf_counter() - started < 5
    assert "limit" in assert_clear_4xx(r.status, r.body, expected=413)


def test_chunked_body_over_the_limit_on_the_wire(url):
    """No Content-Length at all: the bytes are counted as they stream in, over a real socket."""
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"
    head = (
        b"POST /search HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    r = raw_request(url, head, body)
    assert "limit" in assert_clear_4xx(r.status, r.body, expected=413)


def test_body_limit_applies_to_every_route(url):
    """GET routes and the admin route do not read bodies, but a huge one is still refused, not buffered."""
    for method, path in (("GET", "/documents"), ("GET", "/readyz"), ("POST", "/admin/reindex")):
        r = httpx.request(method, url + path, content=b"{" * (LIMIT + 10), headers={"content-type": "application/json"})
        assert_clear_4xx(r.status_code, r.content, expected=413)


# -- bytes that are not what they claim ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "caf\xe9 au lait?"}',  # Latin-1, not UTF-8
        b'{"question": "\x80\x81\x82"}',  # lone continuation bytes
        b'{"question": "\xc0\xafetc"}',  # overlong encoding of "/"
        b'{"question": "\xed\xa0\x80"}',  # a UTF-16 surrogate encoded as UTF-8
        b'{"question": "trunc\xe2\x82"}',  # a truncated 3-byte sequence
        b"\xff\xff\xff\xff",  # nothing at all
    ],
    ids=["latin1", "continuation", "overlong", "surrogate", "truncated", "ff"],
)
@pytest.mark.parametrize("path", ["/ask", "/search"])
def test_invalid_utf8_body_is_422(url, path, body):
    if path == "/search":
        body = body.replace(b'"question"', b'"query"')
    r = post_bytes(url, path, body)
    detail = json.dumps(assert_clear_4xx(r.status, r.body, expected=422))
    # Python's JSON decoder lets UTF-8-encoded surrogates through; the validator catches them.
    assert "not valid UTF-8" in detail or "surrogate" in detail, detail


@pytest.mark.parametrize(
    "body",
    [
        '{"question": "Who signed\\u0000 the memorandum?"}',  # NUL as a JSON escape
        '{"question": "\\u0000"}',
        '{"question": "Who\\u0000\\u0000\\u0000"}',
    ],
)
def test_nul_in_question_is_422(url, body):
    r = post_bytes(url, "/ask", body.encode())
    assert "NUL" in json.dumps(assert_clear_4xx(r.status, r.body, expected=422))
    r = post_bytes(url, "/search", body.replace('"question"', '"query"').encode())
    assert "NUL" in json.dumps(assert_clear_4xx(r.status, r.body, expected=422))


def test_raw_nul_and_control_bytes_in_json_string_are_422(url):
    """A literal NUL byte inside a JSON string is not JSON at all."""
    for raw in (b'{"question": "Who\x00signed?"}', b'{"question": "line\nbreak"}', b'{"question": "bell\x07"}'):
        r = post_bytes(url, "/ask", raw)
        assert_clear_4xx(r.status, r.body, expected=422)


def test_lone_surrogate_escape_is_422(url):
    """JSON can spell an unpaired surrogate (\\ud800) that no tokenizer can encode (it was a 500)."""
    for q in ('"Who is the US Secretary of Defense? \\ud800"', '"\\udfff\\ud800"', '"Lloyd \\udc80Austin"'):
        for path, field in (("/ask", "question"), ("/search", "query")):
            r = post_bytes(url, path, f'{{"{field}": {q}}}'.encode())
            assert "surrogate" in json.dumps(assert_clear_4xx(r.status, r.body, expected=422))
    # A correctly paired surrogate escape is an ordinary astral character.
    r = post_bytes(url, "/search", b'{"query": "\\ud83d\\ude00 air defense"}')
    assert r.status == 200, r.body[:300]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_wrong_content_type_is_422(url, content_type):
    r = post_bytes(url, "/ask", b'{"question": "Who is the US Secretary of Defense?"}', content_type)
    assert_clear_4xx(r.status, r.body, expected=422)


# -- nesting ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000,
        b"[" * 10_000 + b"]" * 10_000,
        b'{"question": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"question": "ok", "top_k": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}",
        b'{"question": "ok", "x": ' + b"[" * 900 + b"]" * 900 + b"}",  # under the decoder's limit: a field error
    ],
    ids=["open-10k", "balanced-10k", "question-10k", "objects-5k", "extra-900"],
)
def test_deeply_nested_json_is_422(url, body):
    assert len(body) <= LIMIT
    r = post_bytes(url, "/ask", body)
    assert_clear_4xx(r.status, r.body, expected=422)


def test_deeply_nested_admin_body_is_422(url):
    r = post_bytes(url, "/admin/reindex", b"[" * 10_000)
    # The token is checked after the body is parsed: bad JSON is reported first either way.
    assert_clear_4xx(r.status, r.body, expected=(401, 422))


# -- other scripts ---------------------------------------------------------------------------------------------


SCRIPTS = {
    "chinese": "美国国防部长是谁？",
    "arabic-rtl": "من هو وزير الدفاع الأمريكي؟",
    "hindi": "अमेरिका के रक्षा मंत्री कौन हैं?",
    "emoji": "🇺🇸🤝🇺🇦 💣🏭 ❓",
    "zwj-emoji": "👩‍👩‍👧‍👦" * 50,
    "combining": "Z̷̢̛a̸̗̓l̶̰̾g̷̬̈o̶̧̍" * 20,
    "rtl-override": "\u202eWho is the US Secretary of Defense?\u202c",
    "bidi-isolates": "\u2067\u200fWho\u2069 is the US \u200dSecretary\ufeff of Defense?\u200e",
    "astral": "𝕎𝕙𝕠 𝕚𝕤 𝕥𝕙𝕖 𝕌𝕊 𝕊𝕖𝕔𝕣𝕖𝕥𝕒𝕣𝕪 𝕠𝕗 𝔻𝕖𝕗𝕖𝕟𝕤𝕖?",
    "max-length-cjk": "国" * 2000,
}


def verified(spans: list[dict], texts: dict[str, str]) -> bool:
    return all(texts[s["doc_id"]][s["start"] : s["end"]] == s["text"] for s in spans)


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}


@pytest.mark.parametrize("question", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_questions_in_other_scripts_are_answered_or_abstained(url, question, seed_texts):
    r = httpx.post(url + "/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["question"] == question  # echoed exactly, direction marks and all
    assert 0.0 <= body["confidence"] <= 1.0
    assert verified(body["quotes"] + body["passages"], seed_texts)
    if body["short_answer"]:
        assert verified([body["short_answer"]], seed_texts)
    # Passages come from the corpus only, and the search route agrees.
    s = httpx.post(url + "/search", json={"query": question}, timeout=60)
    assert s.status_code == 200 and verified(s.json()["passages"], seed_texts)


def test_invisible_characters_do_not_change_the_answer(url):
    """Bidi controls and zero-width characters around an English question leave it answerable."""
    for question in (SCRIPTS["rtl-override"], SCRIPTS["bidi-isolates"]):
        body = httpx.post(url + "/ask", json={"question": question}, timeout=60).json()
        assert not body["abstained"], body
        assert any("Lloyd Austin" in q["text"] for q in body["quotes"])


# -- document ids and paths ------------------------------------------------------------------------------------


TRAVERSALS = [
    b"/documents/../../etc/passwd",
    b"/documents/..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/documents/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    b"/documents/%2e%2e%2f%2e%2e%2fpyproject.toml",
    b"/documents/..%5c..%5cpyproject.toml",
    b"/documents/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    b"/documents/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    b"/documents//etc/passwd",
    b"/documents/%2fetc%2fpasswd",
    b"/documents/file:%2f%2f%2fetc%2fpasswd",
    b"/documents/./" + PACT.encode(),
    b"/documents/seeds/../" + PACT.encode(),
    b"/documents/" + PACT.encode() + b"/..",
    b"/documents/" + PACT.encode() + b"%00.html",
    b"/documents/" + PACT.encode() + b"%0a",
    b"/static/../app.py",
    b"/static/..%2fapp.py",
    b"/static/%2e%2e/%2e%2e/pyproject.toml",
    b"/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    b"/static/../../../../../../etc/passwd",
    b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd",
]


@pytest.mark.parametrize("path", TRAVERSALS, ids=[p.decode() for p in TRAVERSALS])
def test_paths_never_leave_the_corpus(url, path):
    """Raw paths, exactly as written (no client normalises the dots away): a 4xx with a JSON detail, and
    nothing from the file system outside the index in the response."""
    r = get_raw_path(url, path)
    assert_clear_4xx(r.status, r.body, expected=(404, 422))
    assert not PASSWD_LINE.search(r.body)
    for secret in (ROOT / "pyproject.toml", ROOT / "service" / "app.py"):
        assert secret.read_bytes()[:200] not in r.body


def test_only_exact_ids_from_the_index_are_served(url):
    """The one way to an article is its exact id; GET /documents never touches the file system."""
    ok = httpx.get(url + "/documents/" + quote(PACT, safe=""))
    assert ok.status_code == 200 and ok.json()["text"] == (SEEDS / PACT).read_text(encoding="utf-8")
    for alias in ("./" + PACT, PACT.upper(), " " + PACT, PACT + " ", "seeds/" + PACT, str(SEEDS / PACT)):
        r = httpx.get(url + "/documents/" + quote(alias, safe=""))
        assert_clear_4xx(r.status_code, r.content, expected=404)


@pytest.mark.parametrize("length", [1025, 10_000])
def test_very_long_doc_id_is_422(url, length):
    r = httpx.get(url + "/documents/" + "a" * length)
    detail = assert_clear_4xx(r.status_code, r.content, expected=422)
    assert "1024" in json.dumps(detail)
    r = httpx.get(url + "/documents/" + "..%2f" * (length // 3 + 1))  # decoded: over the limit as well
    assert_clear_4xx(r.status_code, r.content, expected=422)


@pytest.mark.parametrize("doc_id", ["%00", "a%00b", "%0d%0aSet-Cookie:%20x=1", "%1b[31mred", "%7f"])
def test_control_characters_in_doc_id_are_422(url, doc_id):
    r = get_raw_path(url, b"/documents/" + doc_id.encode())
    assert_clear_4xx(r.status, r.body, expected=(404, 422))
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("doc_id", ["美国.txt", "مقال.txt", "🇺🇦.jsonl:1", "a" * 1024])
def test_unknown_doc_ids_in_other_scripts_are_404(url, doc_id):
    r = httpx.get(url + "/documents/" + quote(doc_id, safe=""))
    detail = assert_clear_4xx(r.status_code, r.content, expected=404)
    assert doc_id[:50] in detail


# -- query strings and headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999999999",
        f"offset={2**63}",
        f"offset={2**63 - 1}",
        f"offset={2**31}",
        "limit=1e3",
        "limit=%00",
        "offset=-0",
        "limit=1&limit=2000",
        "offset=" + "9" * 5000,
    ],
)
def test_hostile_paging_is_200_or_422(url, query):
    r = httpx.get(f"{url}/documents?{query}")
    assert r.status_code in (200, 422), (r.status_code, r.text[:300])
    if r.status_code == 200:
        page = r.json()
        assert page["total"] == 2 and len(page["documents"]) <= 2
    else:
        assert_clear_4xx(r.status_code, r.content)


def test_hostile_request_ids_are_replaced(url):
    for rid in ("x" * 10_000, "a b", "<script>", "é"):
        r = httpx.get(url + "/healthz", headers={"X-Request-ID": rid.encode("utf-8")})
        assert r.status_code == 200
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
