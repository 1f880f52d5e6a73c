"""How the packages may depend on each other, read from the source (ast)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                yield path.relative_to(ROOT), node.module, [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    yield path.relative_to(ROOT), alias.name, []


def test_service_never_imports_chromadb():
    bad = [(str(p), m) for p, m, _ in _imports("service") if m == "chromadb" or m.startswith("chromadb.")]
    # The one exception: recognising Chroma's exception types to turn them into a 503.
    assert bad == [("service/errors.py", "chromadb.errors")]


def test_service_never_touches_a_collection():
    touches = re.compile(r"store\.(chunks|articles|hashes|meta)\b|get_or_create_collection|\.query\(query_embeddings")
    for path in (ROOT / "service").rglob("*.py"):
        found = touches.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.relative_to(ROOT)} reads Chroma directly ({found.group(0)})"


def test_no_private_name_is_imported_across_modules():
    own = ("service", "indexing", "citeqa", "eval")
    bad = [
        (str(p), m, n)
        for package in ("service", "indexing", "citeqa")
        for p, m, names in _imports(package)
        if m.split(".")[0] in own
        for n in names
        if n.startswith("_") and not n.startswith("__")  # dunders (__version__) are public
    ]
    assert bad == []


def test_dependencies_point_down():
    """eval -> service -> indexing; citeqa sits on top; training is never imported by the product."""
    may = {"indexing": {"indexing"}, "service": {"service", "indexing"}}
    for package, allowed in may.items():
        for path, module, _ in _imports(package):
            top = module.split(".")[0]
            if top in ("indexing", "service", "eval", "citeqa", "training"):
                assert top in allowed, f"{path} imports {module}"
    for package in ("service", "indexing", "citeqa", "eval"):
        assert all(m.split(".")[0] != "training" for _, m, _ in _imports(package))
