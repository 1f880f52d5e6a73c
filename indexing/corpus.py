"""Load a corpus directory into ``Article`` records.

Supported: ``.txt`` and ``.md`` (as they are), ``.html``/``.htm`` (visible text
only) and ``.jsonl`` (one article a line). The text kept is exactly what was
decoded; every offset in the index refers to it.

Metadata without touching an article's bytes: a sidecar ``NAME.meta.json`` beside a
``.txt``/``.md``/``.html`` file ``NAME`` (``seeds/x.txt`` → ``seeds/x.txt.meta.json``)
holding a JSON object with any of ``title``, ``url``, ``published`` (YYYY-MM-DD, or
null). It is never indexed as an article; its values win over what the file itself
says (the HTML ``<title>``, the first line) and are part of the article's content
hash, so changing them re-indexes the article. A sidecar that is not valid skips its
article with the reason; one without its article is reported as skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexing.errors import CorpusError

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".html", ".htm", ".jsonl"}
META_SUFFIX = ".meta.json"
META_KEYS = frozenset({"title", "url", "published"})
MAX_META_BYTES = 65_536
MAX_TITLE_CHARS = 300
# Every doc id must be reachable as GET /documents/{doc_id}: bounded, and no control characters.
MAX_DOC_ID = 1024
DOC_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Article:
    """One article as indexed: offsets refer to ``text``."""

    doc_id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    # The title the embedding and the reader read beside a chunk, when it differs from
    # ``title``: an article whose title was made from its file name keeps its first
    # line as context (what it always read), the name being no news to the reader.
    context: str | None = None

    @property
    def context_title(self) -> str:
        """The title that gives a chunk its context (embedding, reader, BM25)."""
        return self.title if self.context is None else self.context

    @property
    def content_hash(self) -> str:
        """Hash of everything stored about the article, so a title edit is a change too."""
        payload = json.dumps([self.title, self.url, self.published, self.text])
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Skipped:
    """A file (or ``.jsonl`` line) left out of the index, and why."""

    source: str
    reason: str


@dataclass
class Corpus:
    """Articles loaded from a directory, plus what was skipped."""

    articles: list[Article]
    skipped: list[Skipped]


# A line that navigates rather than titles: "To News and Stories", "Home > World", "Back to top".
_BREADCRUMB = re.compile(r"^(?:(?:back )?to |home\b|menu\b|skip to\b)|\s(?:>|»|›|\||/)\s", re.I)
# "# Storm closes the port": a Markdown heading line (service.analysis reads it too).
MARKDOWN_HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*#*$")
MAX_HEADLINE_WORDS = 20
MAX_HEADLINE_CHARS = 160


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def titled(text: str, name: str) -> tuple[str, str | None]:
    """(title, context) of an article with no title of its own: its ``headline``, or a
    title made from ``name`` with the first line as its context."""
    title = headline(text, name)
    return (title, None) if title != name_title(name) else (title, _first_line(text))


def name_title(name: str) -> str:
    """A title made from a file name (or a record's file and id): "2024_budget-report.txt" → "2024 budget report"."""
    stem = re.sub(r"\.(txt|md|html?|jsonl)\b", "", name, flags=re.I)
    title = " ".join(re.sub(r"[-_/:.]+", " ", stem).split())[:MAX_TITLE_CHARS]
    return title[:1].upper() + title[1:]


def headline(text: str, name: str) -> str:
    """The title an article without one gets: its first line when that reads as a headline
    — a Markdown heading, or 2-20 words, at most 160 characters and one sentence — after
    skipping up to three navigation lines (a breadcrumb: "To News and Stories", "Home >
    World"); otherwise a title made from ``name`` (the file name, or a record's file and id)."""
    skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        heading = MARKDOWN_HEADING.match(line)
        if heading:
            return heading.group(1)[:MAX_TITLE_CHARS]
        if _BREADCRUMB.search(line) and skipped < 3:
            skipped += 1
            continue
        words = line.split()
        one_sentence = not re.search(r"[.!?]\s+\S", line)
        if 2 <= len(words) <= MAX_HEADLINE_WORDS and len(line) <= MAX_HEADLINE_CHARS and one_sentence:
            return line
        break  # a paragraph: the text has no headline line
    return name_title(name)


def _decode(data: bytes) -> str:
    text = data.decode("utf-8")  # raises UnicodeDecodeError for non-UTF-8 input
    return text.removeprefix("\ufeff")


def _html_text(html: str) -> tuple[str, str | None]:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(html)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else None
    for node in tree.css("script, style, noscript, template, head"):
        node.decompose()
    body = tree.body or tree.root
    text = body.text(separator="\n", strip=True) if body is not None else ""
    return text, title or None


def _iso_date(value: object) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("published must be an ISO date string")
    return dt.date.fromisoformat(value[:10]).isoformat()


def valid_unicode(value: object) -> bool:
    """False for a string JSON decoded from a lone surrogate escape ("\\ud800"): no tokenizer
    can encode it and it cannot be stored. Used for corpus records and for questions."""
    if not isinstance(value, str) or value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _jsonl_record(where: str, rel: str, line: bytes, max_bytes: int) -> Article | Skipped:
    """One ``.jsonl`` line as an article, or why it is skipped."""
    if len(line) > max_bytes:
        return Skipped(where, f"record larger than {max_bytes} bytes")
    try:
        record = json.loads(line.decode("utf-8"))
        if not isinstance(record, dict):
            raise ValueError("a line must be a JSON object")
        if not all(valid_unicode(record.get(k)) for k in ("id", "text", "title", "url", "published")):
            raise ValueError("a field has an unpaired surrogate (a \\ud800-style escape)")
        rid, body = record.get("id"), record.get("text")
        if not isinstance(rid, str | int) or str(rid).strip() == "":
            raise ValueError("missing 'id'")
        problem = _doc_id_problem(f"{rel}:{rid}")
        if problem:
            raise ValueError(f"'id' {problem}")
        if not isinstance(body, str) or not body.strip():
            raise ValueError("missing or empty 'text'")
        title, context = record.get("title"), None
        if not (isinstance(title, str) and title.strip()):
            title, context = titled(body, f"{rel}:{rid}")
        url = record.get("url")
        return Article(
            doc_id=f"{rel}:{rid}",
            title=title.strip(),
            context=context,
            text=body,
            url=url if isinstance(url, str) and url else None,
            published=_iso_date(record.get("published")),
        )
    except UnicodeDecodeError as exc:
        return Skipped(where, f"not UTF-8 (byte {exc.start} of the line)")
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        return Skipped(where, f"broken line: {exc}")


def _jsonl_articles(path: Path, rel: str, max_bytes: int) -> Iterator[Article | Skipped]:
    """The records of a ``.jsonl`` file, read a line at a time: the file is never held
    whole, and each record is held to the article limit on its own."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw
            if not line.strip():
                continue
            if b"\x00" in line:
                yield Skipped(f"{rel}:{lineno}", "binary line (contains NUL bytes)")
                continue
            yield _jsonl_record(f"{rel}:{lineno}", rel, line.rstrip(b"\r\n"), max_bytes)


def _doc_id_problem(doc_id: str) -> str | None:
    if CONTROL_CHARS.search(doc_id):
        return "contains control characters"
    if len(doc_id) > MAX_DOC_ID:
        return f"makes a doc id longer than {MAX_DOC_ID} characters"
    return None


@dataclass(frozen=True)
class Metadata:
    """What a sidecar says about its article (None: not said)."""

    title: str | None = None
    url: str | None = None
    published: str | None = None


def read_metadata(path: Path) -> Metadata:
    """A sidecar's metadata; raises ValueError saying what is wrong with it."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > MAX_META_BYTES:
        raise ValueError(f"larger than {MAX_META_BYTES} bytes")
    try:
        data = json.loads(_decode(path.read_bytes()))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object")
    unknown = sorted(set(data) - META_KEYS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))} (allowed: title, url, published)")
    values = {}
    for key in ("title", "url"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key!r} must be a string")
        if isinstance(value, str) and (not valid_unicode(value) or CONTROL_CHARS.search(value)):
            raise ValueError(f"{key!r} has control characters or an unpaired surrogate")
        values[key] = value.strip() if isinstance(value, str) and value.strip() else None
    if values["title"] and len(values["title"]) > MAX_TITLE_CHARS:
        raise ValueError(f"'title' is longer than {MAX_TITLE_CHARS} characters")
    published = data.get("published")
    if published not in (None, ""):
        if not isinstance(published, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", published):
            raise ValueError(f"'published' must be a date as YYYY-MM-DD, not {published!r}")
        try:
            dt.date.fromisoformat(published)
        except ValueError:
            raise ValueError(f"'published' {published!r} is not a calendar date") from None
    return Metadata(values["title"], values["url"], published or None)


def _file_articles(
    path: Path, rel: str, max_bytes: int, root: Path, meta_path: Path | None = None, max_file_bytes: int | None = None
) -> Iterator[Article | Skipped]:
    """The article(s) in one file; ``root`` is the resolved corpus directory. ``max_bytes``
    holds for an article (a file, or one ``.jsonl`` record); a ``.jsonl`` file holding
    many has its own limit, ``max_file_bytes`` (default: the article limit)."""
    problem = _doc_id_problem(rel)
    if problem:
        yield Skipped(rel, f"file name {problem}")
        return
    try:
        # Everything is decided from stat before the file is opened: a huge file is
        # never read, a FIFO or device (or a link to one) never blocks or streams.
        info = path.stat()
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):
            yield Skipped(rel, "not a regular file")
            return
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            yield Skipped(rel, "symlink to a file outside the corpus")
            return
        jsonl = path.suffix.lower() == ".jsonl"
        limit = max(max_file_bytes or max_bytes, max_bytes) if jsonl else max_bytes
        if size > limit:
            what = "a .jsonl file (CITEQA_MAX_FILE_BYTES)" if jsonl else "an article (CITEQA_MAX_ARTICLE_BYTES)"
            yield Skipped(rel, f"larger than {limit} bytes ({size} bytes), the limit for {what}")
            return
        if jsonl:
            yield from _jsonl_articles(path, rel, max_bytes)
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(rel, f"unreadable: {exc.strerror or exc}")
        return
    if b"\x00" in data:
        yield Skipped(rel, "binary file (contains NUL bytes)")
        return
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        yield Skipped(rel, f"not UTF-8 (byte {exc.start})")
        return
    suffix = path.suffix.lower()
    meta = Metadata()
    if meta_path is not None:
        try:
            meta = read_metadata(meta_path)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            yield Skipped(rel, f"metadata {meta_path.name}: {reason}")
            return
    title: str | None = None
    if suffix in {".html", ".htm"}:
        text, title = _html_text(text)
    if not text.strip():
        yield Skipped(rel, "empty")
        return
    title = meta.title or title
    context = None
    if not title:
        title, context = titled(text, rel)
    yield Article(doc_id=rel, title=title, context=context, text=text, url=meta.url, published=meta.published)


def iter_corpus_files(root: Path) -> list[tuple[Path, str]]:
    """Supported files below ``root`` as (path, doc-id-style relative path), sorted."""
    return _walk(root)[0]


def _walk(root: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """(article files, metadata sidecars) below ``root``, each as (path, relative path), sorted.

    os.walk (scandir underneath) rather than Path.rglob + is_file: no extra stat
    per file, which is most of a no-op reindex over 10,000 files. Hidden files
    and directories are skipped; symlinked directories are not followed.
    """
    files, metas = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        base = Path(dirpath)
        for name in filenames:
            if name.startswith("."):
                continue
            if name.lower().endswith(META_SUFFIX):
                metas.append((base / name, (base / name).relative_to(root).as_posix()))
            elif os.path.splitext(name)[1].lower() in SUFFIXES:
                path = base / name
                files.append((path, path.relative_to(root).as_posix()))
    return sorted(files, key=lambda item: item[1]), sorted(metas, key=lambda item: item[1])


def load_corpus(root: Path, *, max_article_bytes: int, max_file_bytes: int | None = None) -> Corpus:
    """Read every supported file below ``root``; bad files are skipped with a reason.
    ``max_article_bytes`` holds for each article; ``max_file_bytes`` for a ``.jsonl``
    file holding many (default: the article limit).

    Raises ``CorpusError`` when ``root`` is missing or not a directory.
    """
    if not root.exists():
        raise CorpusError(f"corpus directory {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a directory")
    articles: dict[str, Article] = {}
    skipped: list[Skipped] = []
    resolved = root.resolve()
    files, metas = _walk(root)
    sidecars = {rel[: -len(META_SUFFIX)]: path for path, rel in metas}
    for path, rel in files:
        meta = sidecars.pop(rel, None)
        if meta is not None and path.suffix.lower() == ".jsonl":
            skipped.append(Skipped(rel + META_SUFFIX, "a .jsonl record carries its own title, url and published"))
            meta = None
        for item in _file_articles(path, rel, max_article_bytes, resolved, meta, max_file_bytes):
            if isinstance(item, Skipped):
                log.info("skipped %s: %s", item.source, item.reason)
                skipped.append(item)
            elif item.doc_id in articles:
                skipped.append(Skipped(item.doc_id, "duplicate id"))
                log.info("skipped %s: duplicate id", item.doc_id)
            else:
                articles[item.doc_id] = item
    for rel, _path in sorted(sidecars.items()):
        item = Skipped(rel + META_SUFFIX, f"metadata file without its article ({rel} not found)")
        log.info("skipped %s: %s", item.source, item.reason)
        skipped.append(item)
    return Corpus(articles=list(articles.values()), skipped=skipped)
