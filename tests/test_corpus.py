"""Corpus loading: formats, ids, titles, and bad files skipped with a reason."""

from __future__ import annotations

import json

import pytest

from indexing.corpus import CorpusError, load_corpus


def test_seeds_are_byte_identical_copies():
    from tests.conftest import ROOT, SEEDS

    shared = ROOT.parent / "shared" / "seeds"
    names = sorted(p.name for p in SEEDS.iterdir() if not p.name.endswith(".meta.json"))
    assert names == ["us-ukraine-coproduction-memorandum.txt", "us-ukraine-weapons-production-pact.txt"]
    assert sorted(p.name for p in SEEDS.glob("*.meta.json")) == [n + ".meta.json" for n in names]
    if shared.is_dir():  # beside the repo on our machines and CI
        for name in names:
            assert (SEEDS / name).read_bytes() == (shared / name).read_bytes()


def test_formats_ids_and_titles(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_bytes("\ufeff\nFirst line title\nBody text here.".encode())
    (tmp_path / "b.md").write_text("# Heading\n\nSome *markdown* text.")
    (tmp_path / "c.html").write_text(
        "<html><head><title>Page title</title><style>p{}</style></head>"
        "<body><script>alert('x')</script><p>Visible <b>text</b>.</p></body></html>"
    )
    lines = [
        {"id": "r1", "text": "Record one text.", "title": "Rec One", "url": "http://x/1", "published": "2023-12-06"},
        {"id": 7, "text": "Record seven.\nMore."},
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    corpus = load_corpus(tmp_path, max_article_bytes=10_000)
    by_id = {a.doc_id: a for a in corpus.articles}
    assert sorted(by_id) == ["b.md", "c.html", "d.jsonl:7", "d.jsonl:r1", "sub/a.txt"]
    assert by_id["sub/a.txt"].text == "\nFirst line title\nBody text here."  # BOM removed, rest kept
    assert by_id["sub/a.txt"].title == "First line title"
    assert by_id["b.md"].title == "Heading"
    html = by_id["c.html"]
    assert html.title == "Page title" and "alert" not in html.text and "Visible" in html.text
    rec = by_id["d.jsonl:r1"]
    assert (rec.title, rec.url, rec.published) == ("Rec One", "http://x/1", "2023-12-06")
    assert by_id["d.jsonl:7"].title == "Record seven."
    assert corpus.skipped == []


def test_bad_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "good.txt").write_text("A good article.")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "mixed.jsonl").write_text(
        '{"id": "ok", "text": "fine"}\n{broken json\n{"id": "no-text"}\n{"id": "ok2", "text": "also fine"}\n'
    )
    corpus = load_corpus(tmp_path, max_article_bytes=1000)
    assert sorted(a.doc_id for a in corpus.articles) == ["good.txt", "mixed.jsonl:ok", "mixed.jsonl:ok2"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert "not UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.txt"] == "empty"
    assert "larger than 1000 bytes" in reasons["big.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "broken line" in reasons["mixed.jsonl:2"] and "text" in reasons["mixed.jsonl:3"]


def test_missing_or_non_directory_corpus(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope", max_article_bytes=10)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CorpusError, match="not a directory"):
        load_corpus(tmp_path / "file.txt", max_article_bytes=10)


def test_metadata_sidecars_give_title_url_and_date_without_touching_the_text(tmp_path):
    (tmp_path / "a.txt").write_text("Breadcrumb > News\n\nThe council met on Monday.")
    (tmp_path / "a.txt.meta.json").write_text(
        json.dumps({"title": "Council meets", "url": "https://x/a", "published": "2024-03-12"})
    )
    (tmp_path / "b.html").write_text("<html><head><title>Page title</title></head><body><p>Body.</p></body></html>")
    (tmp_path / "b.html.meta.json").write_text('{"title": "Sidecar title", "published": null}')
    (tmp_path / "c.md").write_text("# Heading\n\nText.")
    corpus = load_corpus(tmp_path, max_article_bytes=10_000)
    by_id = {a.doc_id: a for a in corpus.articles}
    assert sorted(by_id) == ["a.txt", "b.html", "c.md"]  # the sidecars are not articles
    a = by_id["a.txt"]
    assert (a.title, a.url, a.published) == ("Council meets", "https://x/a", "2024-03-12")
    assert a.text == "Breadcrumb > News\n\nThe council met on Monday."
    assert by_id["b.html"].title == "Sidecar title" and by_id["b.html"].published is None
    assert by_id["c.md"].title == "Heading" and by_id["c.md"].published is None
    assert corpus.skipped == []


def test_a_metadata_change_changes_the_content_hash(tmp_path):
    (tmp_path / "a.txt").write_text("The council met on Monday.")
    before = load_corpus(tmp_path, max_article_bytes=10_000).articles[0].content_hash
    (tmp_path / "a.txt.meta.json").write_text('{"published": "2024-03-12"}')
    after = load_corpus(tmp_path, max_article_bytes=10_000).articles[0].content_hash
    assert before != after


@pytest.mark.parametrize(
    ("sidecar", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"title": "x", "author": "y"}', "unknown field(s) 'author'"),
        ('{"title": 5}', "'title' must be a string"),
        ('{"published": "12/03/2024"}', "'published' must be a date as YYYY-MM-DD"),
        ('{"published": "2024-02-30"}', "is not a calendar date"),
        ('{"published": 20240312}', "'published' must be a date as YYYY-MM-DD"),
    ],
)
def test_a_bad_sidecar_skips_its_article_with_the_reason(tmp_path, sidecar, reason):
    (tmp_path / "a.txt").write_text("Article a.")
    (tmp_path / "a.txt.meta.json").write_text(sidecar)
    (tmp_path / "b.txt").write_text("Article b.")
    corpus = load_corpus(tmp_path, max_article_bytes=10_000)
    assert [a.doc_id for a in corpus.articles] == ["b.txt"]
    [skip] = corpus.skipped
    assert skip.source == "a.txt" and skip.reason.startswith("metadata a.txt.meta.json: ") and reason in skip.reason


def test_orphan_and_jsonl_sidecars_are_reported(tmp_path):
    (tmp_path / "gone.txt.meta.json").write_text('{"title": "x"}')
    (tmp_path / "d.jsonl").write_text('{"id": "1", "text": "Record."}\n')
    (tmp_path / "d.jsonl.meta.json").write_text('{"title": "x"}')
    corpus = load_corpus(tmp_path, max_article_bytes=10_000)
    assert [a.doc_id for a in corpus.articles] == ["d.jsonl:1"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert reasons == {
        "d.jsonl.meta.json": "a .jsonl record carries its own title, url and published",
        "gone.txt.meta.json": "metadata file without its article (gone.txt not found)",
    }


def test_seed_titles_come_from_their_metadata():
    from tests.conftest import SEEDS

    titles = {a.doc_id: a.title for a in load_corpus(SEEDS, max_article_bytes=10**7).articles}
    assert titles == {
        "us-ukraine-coproduction-memorandum.txt": "Ukraine and the USA signed a memorandum on the joint production "
        "of weapons and the exchange of technical data",
        "us-ukraine-weapons-production-pact.txt": "US and Ukraine plan joint weapons production",
    }
    assert all(a.published is None for a in load_corpus(SEEDS, max_article_bytes=10**7).articles)


def _jsonl_line(i: int, text: str) -> str:
    return json.dumps({"id": f"r{i}", "title": f"Record {i}", "text": text}) + "\n"


def test_a_20_mb_jsonl_is_streamed_with_its_own_limit_and_each_record_held_to_the_article_limit(tmp_path):
    """4,000 records of ~5 KB (20 MB): over the article limit as a file, indexed record by
    record; one record over the article limit is skipped alone; the file over its own
    limit is skipped whole. Streamed: the load's peak memory stays near the articles'
    own text (reading the file whole, then splitting it, held it three times over)."""
    import tracemalloc

    body = "The harbour council met again today. " * 135  # ≈ 5.0 KB
    path = tmp_path / "archive.jsonl"
    with path.open("w") as f:
        for i in range(4000):
            f.write(_jsonl_line(i, body))
        f.write(_jsonl_line(4000, "x" * 6000))  # one record over the article limit below
    size = path.stat().st_size
    assert size > 20_000_000
    tracemalloc.start()
    corpus = load_corpus(tmp_path, max_article_bytes=5500, max_file_bytes=50_000_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(corpus.articles) == 4000
    assert corpus.articles[0].doc_id == "archive.jsonl:r0" and corpus.articles[0].text == body
    assert [(s.source, s.reason) for s in corpus.skipped] == [("archive.jsonl:4001", "record larger than 5500 bytes")]
    texts = sum(len(a.text) for a in corpus.articles)
    assert peak < 1.5 * texts, (peak, texts)
    whole = load_corpus(tmp_path, max_article_bytes=5500, max_file_bytes=10_000_000)
    assert whole.articles == []
    [skip] = whole.skipped
    assert skip.source == "archive.jsonl" and "the limit for a .jsonl file (CITEQA_MAX_FILE_BYTES)" in skip.reason


def test_the_article_limit_still_holds_for_a_single_article_file(tmp_path):
    (tmp_path / "big.txt").write_text("y" * 6000)
    corpus = load_corpus(tmp_path, max_article_bytes=5500, max_file_bytes=50_000_000)
    [skip] = corpus.skipped
    assert skip.source == "big.txt" and "the limit for an article (CITEQA_MAX_ARTICLE_BYTES)" in skip.reason


def test_a_jsonl_line_that_is_not_utf8_skips_that_line_only(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(
        b'\xef\xbb\xbf{"id": "a", "text": "first"}\n{"id": "b", "text": "caf\xe9"}\r\n{"id": "c", "text": "third"}'
    )
    corpus = load_corpus(tmp_path, max_article_bytes=1000)
    assert [a.doc_id for a in corpus.articles] == ["d.jsonl:a", "d.jsonl:c"]
    assert [(s.source, s.reason[:10]) for s in corpus.skipped] == [("d.jsonl:2", "not UTF-8 ")]


def test_titles_of_the_seed_texts_without_their_metadata(tmp_path):
    """The first seed opens with a breadcrumb ("To News and Stories"), then its headline;
    the second opens with a whole paragraph, so its title comes from the file name."""
    from tests.conftest import SEEDS

    for path in SEEDS.glob("*.txt"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    articles = {a.doc_id: a for a in load_corpus(tmp_path, max_article_bytes=10**7).articles}
    titles = {d: a.title for d, a in articles.items()}
    assert titles == {
        "us-ukraine-coproduction-memorandum.txt": "Ukraine and the USA signed a memorandum on the joint production "
        "of weapons and the exchange of technical data",
        "us-ukraine-weapons-production-pact.txt": "Us ukraine weapons production pact",
    }
    # A headline is also the chunks' context; a title made from the file name is not: the
    # embedding and the reader keep reading the first line beside each chunk.
    memo, pact = articles.values()
    assert memo.context_title == memo.title
    assert pact.context_title == pact.text.splitlines()[0] and pact.context_title != pact.title


@pytest.mark.parametrize(
    ("text", "name", "title"),
    [
        ("Home > World > Europe\n\nStorm closes the port\n\nText.", "a.txt", "Storm closes the port"),
        ("Back to top\nSkip to content\nCouncil approves bridge\nBody.", "a.txt", "Council approves bridge"),
        ("## The results ##\n\nText.", "a.md", "The results"),
        ("One. Two sentences here.\nMore.", "notes/2024_budget-report.txt", "Notes 2024 budget report"),
        ("word " * 30, "long.txt", "Long"),
        ("Record seven.\nMore.", "d.jsonl:7", "Record seven."),
        ("A very long first paragraph " * 8, "d.jsonl:r-9", "D r 9"),
    ],
)
def test_the_headline_rule(text, name, title):
    from indexing.corpus import headline

    assert headline(text, name) == title
