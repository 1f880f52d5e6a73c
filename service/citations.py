"""From LLM text to an answer whose every citation is a verified quote.

The LLM cites numbered source sentences with ``[n]`` and may quote them in
double quotes. Sentence by sentence (so it works on a stream):
- markers that name no source are removed; a sentence left without a valid
  citation is dropped;
- a quoted span must be found in a source sentence — verbatim, or after
  normalising whitespace, quote marks, dashes and case, in which case the
  answer is rewritten to the source's exact wording; a quote found nowhere
  drops its sentence (an invented quote is never shown);
- cited sources become ``quotes`` in order of first citation, each checked by
  ``service.quotes``, and markers are renumbered to point into that list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from indexing.store import ArticleRecord
from service.llm import Source
from service.quotes import verified_quote
from service.schemas import AskResponse, Quote

MARKER = re.compile(r"\s*\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]")
QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”')
# A sentence ends at . ! ? (closing quotes/brackets and trailing markers kept with
# it) followed by whitespace, or at a line break.
BOUNDARY = re.compile(r"[.!?][\"”’')]*(?:\s*\[[\d,\s]+\])*(?=\s)|\n")
ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Prof|No|vs|etc|Inc|Corp|Co|Ltd|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec))\.$"
)
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\u00a0": " "})


@dataclass
class Event:
    """``kind`` is "sentence" (data: the answer sentence, markers renumbered), "quote" (a Quote)
    or "done" (the complete AskResponse)."""

    kind: str
    data: str | Quote | AskResponse


def _normalised(text: str) -> tuple[str, list[int]]:
    """``text`` folded (quotes, dashes, case, whitespace runs) and, per output char, its index in ``text``."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text.translate(_FOLD).lower()):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        where.append(i)
    return "".join(out), where


def align(quoted: str, source: str) -> tuple[int, int] | None:
    """Offsets of ``quoted`` inside ``source``: verbatim, else after folding; None if absent."""
    quoted = quoted.strip()
    if not quoted:
        return None
    at = source.find(quoted)
    if at >= 0:
        return at, at + len(quoted)
    folded, where = _normalised(source)
    for attempt in (quoted, quoted.rstrip(".,;:!?")):
        needle, _ = _normalised(attempt.strip())
        if len(needle) < 2:
            continue
        at = folded.find(needle)
        if at >= 0:
            return where[at], where[at + len(needle) - 1] + 1
    return None


@dataclass
class Citer:
    """Feeds on LLM text, yields verified sentence and quote events."""

    sources: dict[int, Source]
    records: dict[str, ArticleRecord]
    quotes: list[Quote] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    _position: dict[int, int] = field(default_factory=dict)
    _buffer: str = ""

    def feed(self, piece: str) -> Iterator[Event]:
        """Events for every sentence completed by ``piece``."""
        self._buffer += piece
        while True:
            cut = self._next_boundary()
            if cut is None:
                return
            raw, self._buffer = self._buffer[:cut], self._buffer[cut:]
            yield from self._sentence(raw)

    def finish(self) -> Iterator[Event]:
        """Events for whatever is left once the LLM has stopped."""
        raw, self._buffer = self._buffer, ""
        yield from self._sentence(raw)

    @property
    def answer(self) -> str:
        return " ".join(self.sentences)

    def _next_boundary(self) -> int | None:
        for m in BOUNDARY.finditer(self._buffer):
            end = m.end()
            if m.group() != "\n" and ABBREVIATION.search(self._buffer[: m.start() + 1]):
                continue
            # Only cut once the text after it shows that no further marker belongs to this sentence.
            rest = self._buffer[end:]
            if not rest.strip():
                return None
            if rest.lstrip().startswith("["):
                continue
            return end
        return None

    def _sentence(self, raw: str) -> Iterator[Event]:
        text = " ".join(raw.split())
        if not text:
            return
        cited = [int(n) for m in MARKER.finditer(text) for n in re.split(r"\s*,\s*", m.group(1))]
        valid = [n for n in dict.fromkeys(cited) if n in self.sources]

        # Every quoted span must be in a source sentence; rewrite it to the source's exact words.
        for m in list(QUOTED.finditer(text)):
            said = m.group(1) if m.group(1) is not None else m.group(2)
            found = None
            for n in [*valid, *(k for k in self.sources if k not in valid)]:
                span = align(said, self.sources[n].text)
                if span:
                    found = (n, self.sources[n].text[span[0] : span[1]])
                    break
            if found is None:
                self.dropped.append((text, f"quote not found in the sources: {said!r}"))
                return
            n, exact = found
            text = text.replace(m.group(0), f'"{exact}"', 1)
            if n not in valid:
                # The quote names its source even where the LLM's marker did not.
                valid.append(n)
                text = _append_marker(text, n)
        if not valid:
            self.dropped.append((text, "no valid citation" if not cited else f"cites unknown sources {cited}"))
            return

        new: list[Quote] = []
        for n in valid:
            if n in self._position:
                continue
            src = self.sources[n]
            quote = verified_quote(self.records.get(src.doc_id), src.start, src.end, src.text)
            if quote is None:  # the article changed under us: this source cannot be shown
                continue
            self.quotes.append(quote)
            self._position[n] = len(self.quotes)
            new.append(quote)
        if not any(n in self._position for n in valid):
            self.dropped.append((text, "its sources could not be verified"))
            return

        def renumber(m: re.Match[str]) -> str:
            kept = [self._position[int(n)] for n in re.split(r"\s*,\s*", m.group(1)) if int(n) in self._position]
            return " " + "".join(f"[{k}]" for k in dict.fromkeys(kept)) if kept else ""

        text = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub(renumber, text)).strip()
        for quote in new:
            yield Event("quote", quote)
        self.sentences.append(text)
        yield Event("sentence", text)


def _append_marker(text: str, n: int) -> str:
    """Add ``[n]`` before the sentence's final punctuation (or at its end)."""
    m = re.search(r"([.!?][\"”’')]*)$", text)
    return f"{text[: m.start()]} [{n}]{m.group(1)}" if m else f"{text} [{n}]"
