"""From LLM text to an answer whose every citation is a verified quote.

The LLM cites numbered source sentences with ``[n]`` and may quote them in
double quotes. Sentence by sentence (so it works on a stream):
- the layout a small model adds is undone first: list numbering, a marker at the
  start of the sentence (moved to its end), the source's label echoed from the
  prompt; a line ending in ":" is a preamble and is dropped;
- markers that name no source are removed;
- a quoted span must be found in a source sentence — verbatim, or after
  normalising whitespace, quote marks, dashes and case, in which case the
  answer is rewritten to the source's exact wording; a quote found nowhere
  drops its sentence (an invented quote is never shown);
- the sentence must be *supported* by what it cites (``service.support``: its
  numbers, amounts, dates and names occur there). When the cited sources do not
  support it, or it cites none, it is attributed to the one source that supports
  it and shares most of its content words (at least ``ATTRIBUTE_OVERLAP``), and
  that source becomes its citation; with no such source it is dropped;
- a bare "Yes." / "No." is kept only in front of a kept sentence after it;
- cited sources become ``quotes`` in order of first citation, each checked by
  ``service.quotes``, and markers are renumbered to point into that list.

Every dropped sentence is counted under one of ``DROP_REASONS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from indexing.store import ArticleRecord
from service import support
from service.llm import Source
from service.quotes import verified_quote
from service.schemas import AskResponse, Quote

MARKER = re.compile(r"\s*\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]")
QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”')
# A sentence ends at . ! ? (closing quotes/brackets and trailing markers kept with
# it) followed by whitespace, or at a line break.
# "[Source 2]" / "(source 2)" are markers written another way.
SOURCE_WORD = re.compile(r"[\[(]\s*sources?\s+(\d{1,4})\s*[\])]", re.I)
LEADING = re.compile(r"^(?:(?:\d{1,2}[.)]|[-*•])\s+)?((?:\[\d{1,4}(?:\s*,\s*\d{1,4})*\]\s*)+)")
LIST_ITEM = re.compile(r"^(?:\d{1,2}[.)]|[-*•])\s+")
# "The answer (to the question) is: ...": the words before the answer, not part of it.
PREAMBLE = re.compile(r"^(?:the\s+)?(?:short\s+)?answer(?:\s+to\s+(?:the|this|your)\s+question)?\s+is\s*:\s*", re.I)
VERDICT = re.compile(r"^(yes|no)[.!]?$", re.I)
REFUSAL = re.compile(
    r"\bno answer\b|\b(?:do not|don't|cannot|can't|does not|doesn't)\s+(?:know|answer|say|mention|provide|specify)\b"
    r"|\bnot (?:mentioned|stated|provided|specified|given)\b",
    re.I,
)
# A sentence the LLM did not cite is attributed to a source only when the source
# supports it and holds at least this share of its content terms.
ATTRIBUTE_OVERLAP = 2 / 3
# A sentence that cites must share at least this share of its content terms with what it
# cites: "Yes, the source number for this question is [1] [2]." states no claim to check.
CITED_OVERLAP = 1 / 3
DROP_REASONS = (
    "no_citation",
    "unknown_source",
    "quote_not_found",
    "unsupported",
    "source_changed",
    "preamble",
    "refusal",
    "fragment",
    "repeated",
)
# A kept sentence says something: at least this many content terms ("6 [1]." does not).
MIN_CONTENT_TERMS = 2

BOUNDARY = re.compile(r"[.!?][\"”’')]*(?:\s*\[[\d,\s]+\])*(?=\s)|\n|(?:\[[\d,\s]+\])+(?=\s+[A-Z])")
ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Gov|Sen|Rep|Lt|Col|Sgt|Prof|No|vs|etc|Inc|Corp|Co|Ltd|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec))\.$"
)


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
    for i, ch in enumerate(text.translate(support.FOLD).lower()):
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
    question: str = ""
    quotes: list[Quote] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    # (sentence, reason in DROP_REASONS, detail)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)
    _position: dict[int, int] = field(default_factory=dict)
    _buffer: str = ""
    _verdict: str | None = None

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
        if self._verdict is not None:
            self._drop(self._verdict, "no_citation", "a bare yes/no with no kept sentence after it")
            self._verdict = None

    @property
    def answer(self) -> str:
        return " ".join(self.sentences)

    @property
    def drop_counts(self) -> dict[str, int]:
        """Dropped sentences per reason."""
        counts: dict[str, int] = {}
        for _, reason, _ in self.dropped:
            counts[reason] = counts.get(reason, 0) + 1
        return counts

    @property
    def refused(self) -> bool:
        return any(reason == "refusal" for _, reason, _ in self.dropped)

    def _drop(self, text: str, reason: str, detail: str = "") -> None:
        self.dropped.append((text, reason, detail))

    def _next_boundary(self) -> int | None:
        for m in BOUNDARY.finditer(self._buffer):
            end = m.end()
            rest = self._buffer[end:]
            if m.group() == "\n":
                # A line break always ends a sentence: a marker on the next line starts the next one.
                if not rest.strip():
                    return None
                return end
            if m.group().startswith("["):
                # "X [1] Y [2]": a marker followed by a capital ends the sentence, unless nothing
                # but markers came before it (a leading marker belongs to the text after it).
                if not MARKER.sub("", LIST_ITEM.sub("", self._buffer[: m.start()].lstrip())).strip():
                    continue
            elif ABBREVIATION.search(self._buffer[: m.start() + 1]):
                continue
            # Only cut once the text after it shows that no further marker belongs to this sentence.
            if not rest.strip():
                return None
            if rest.lstrip().startswith("[") and "\n" not in rest[: len(rest) - len(rest.lstrip())]:
                continue
            return end
        return None

    def _tidy(self, text: str) -> str:
        """Undo the layout a model adds: "[Source 2]", list numbering, a leading marker, an echoed label."""
        text = SOURCE_WORD.sub(lambda m: f"[{m.group(1)}]", text)
        lead = LEADING.match(text)
        if lead:
            numbers = ",".join(re.findall(r"\d+", lead.group(1)))
            text = text[lead.end() :].lstrip()
            text = _append_marker(text, numbers) if text else ""
        text = LIST_ITEM.sub("", text)
        # The source's label echoed from the prompt: "(Title, date)", "[Title]", or cut short.
        label = re.match(r"^[(\[]([^)\]]*)[)\]]?\s*", text)
        echoed = label.group(1).split(", ")[0].strip() if label else ""
        if len(echoed) >= 8 and any(
            s.title.startswith(echoed) or echoed.startswith(s.title) for s in self.sources.values()
        ):
            text = text[label.end() :]
        return PREAMBLE.sub("", text).strip()

    def _sentence(self, raw: str) -> Iterator[Event]:
        said = " ".join(raw.split())
        if MARKER.sub("", said).strip().endswith(":"):
            self._drop(said, "preamble")
            return
        text = self._tidy(said)
        if not text:
            return
        bare = MARKER.sub("", text).strip()
        if VERDICT.match(bare):
            self._verdict = bare[:1].upper() + bare[1:].lower().rstrip(".!") + "."
            return
        if len(support.content_terms(bare)) < MIN_CONTENT_TERMS:
            self._drop(text, "fragment")
            return
        if any(MARKER.sub("", kept).strip() == bare for kept in self.sentences):
            self._drop(text, "repeated")
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
                self._drop(text, "quote_not_found", repr(said))
                return
            n, exact = found
            text = text.replace(m.group(0), f'"{exact}"', 1)
            if n not in valid:
                # The quote names its source even where the LLM's marker did not.
                valid.append(n)
                text = _append_marker(text, n)

        # The citation must support the sentence; else the one source that does becomes its citation.
        claims = support.claims(MARKER.sub("", text), self.question)
        cited_text = " ".join(self.sources[n].text for n in valid)
        missing = claims.missing([cited_text]) if valid else None
        if valid and not missing and support.overlap(MARKER.sub("", text), cited_text) < CITED_OVERLAP:
            missing = ["its words (it shares too few with what it cites)"]
        if not valid or missing:
            best = self._attribute(MARKER.sub("", text), claims)
            if best is None:
                if REFUSAL.search(bare):
                    self._drop(text, "refusal")
                elif missing:
                    self._drop(text, "unsupported", f"not in its sources: {', '.join(missing)}")
                elif cited:
                    self._drop(text, "unknown_source", f"cites {cited}")
                else:
                    self._drop(text, "no_citation")
                return
            valid = [best]
            text = _append_marker(MARKER.sub("", text).strip(), best)

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
            self._drop(text, "source_changed")
            return

        def renumber(m: re.Match[str]) -> str:
            kept = [self._position[int(n)] for n in re.split(r"\s*,\s*", m.group(1)) if int(n) in self._position]
            return " " + "".join(f"[{k}]" for k in dict.fromkeys(kept)) if kept else ""

        text = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub(renumber, text)).strip()
        for quote in new:
            yield Event("quote", quote)
        if self._verdict is not None:
            self.sentences.append(self._verdict)
            yield Event("sentence", self._verdict)
            self._verdict = None
        self.sentences.append(text)
        yield Event("sentence", text)

    def _attribute(self, text: str, claims: support.Claims) -> int | None:
        """The source that supports ``text`` and shares most of its content terms, if enough."""
        best, best_share = None, ATTRIBUTE_OVERLAP
        for n, src in self.sources.items():
            share = support.overlap(text, src.text)
            if share >= best_share and share > 0 and not claims.missing([src.text]):
                if best is None or share > best_share:
                    best, best_share = n, share
        return best


def _append_marker(text: str, n: int | str) -> str:
    """Add ``[n]`` before the sentence's final punctuation (or at its end)."""
    m = re.search(r"([.!?][\"”’')]*)$", text)
    return f"{text[: m.start()]} [{n}]{m.group(1)}" if m else f"{text} [{n}]"
