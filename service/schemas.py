"""Request and response models of the HTTP API (they become the OpenAPI docs)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from indexing.corpus import valid_unicode

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
# Answer options (service.options): how many a question may offer, and how long each may be.
MAX_OPTIONS = 10
MAX_OPTION_CHARS = 200
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Blank characters, spelled out once for both _clean_text (Python) and the schema's pattern
# (ECMA regex): the two languages' \s differ (Python counts U+0085 and U+001C-1F, ECMA U+FEFF),
# and the fuzzer found a question of only U+0085 that the schema allowed and the app refused.
_BLANK = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ALL_BLANK = re.compile(f"[{_BLANK}]*")
# What _clean_text enforces, told to clients in the OpenAPI schema: 1-2000 characters, not all blank, no NUL.
_TEXT_SCHEMA = {
    "minLength": 1,
    "maxLength": MAX_QUESTION_CHARS,
    "pattern": f"^[^\\u0000]*[^{_BLANK}\\u0000][^\\u0000]*$",
}

_OPTION_SCHEMA = {**_TEXT_SCHEMA, "maxLength": MAX_OPTION_CHARS}


def distinct_options(options: list[str]) -> list[str]:
    """The options in order, the same one twice (in any case) kept once, as first written."""
    seen: dict[str, str] = {}
    for o in options:
        seen.setdefault(o.casefold(), o)
    return list(seen.values())


def _clean_text(value: str, name: str) -> str:
    if _ALL_BLANK.fullmatch(value):
        raise ValueError(f"{name} must not be empty")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"{name} must be at most {MAX_QUESTION_CHARS} characters")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain NUL characters")
    if not valid_unicode(value):
        raise ValueError(f"{name} must be valid Unicode (it has an unpaired surrogate)")
    return value


class _DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many passages to return (1-20).", examples=[5])
    since: dt.date | None = Field(
        None, description="Only articles published on or after this date (undated articles excluded)."
    )
    until: dt.date | None = Field(
        None, description="Only articles published on or before this date (undated articles excluded)."
    )
    as_of: dt.date | None = Field(
        None,
        description="Ask as of this day (YYYY-MM-DD): articles published after it are not used (undated ones are), "
        "and 'this week', 'last year' and the like resolve against it. Default: today, nothing left out.",
        examples=["2024-03-15"],
    )

    @field_validator("top_k", mode="before")
    @classmethod
    def _json_integer(cls, value: object) -> object:
        # A JSON integer (5 or 5.0), not "5" or true, which lax parsing would take.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be an integer")
        return value

    @field_validator("since", "until", "as_of", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        # The contract is an ISO date; lax parsing would also take 0 or "2023-01-01T00:00:00".
        if value is None or isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
            return value
        raise ValueError("must be a date as YYYY-MM-DD")

    @model_validator(mode="after")
    def _ordered(self) -> _DateRange:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        for name in ("since", "until"):
            value = getattr(self, name)
            if self.as_of and value and value > self.as_of:
                raise ValueError(f"{name} must not be after as_of")
        return self


class AskRequest(_DateRange):
    """A question about the indexed articles."""

    question: str = Field(
        ...,
        description="The question, 1-2000 characters.",
        json_schema_extra=_TEXT_SCHEMA,
        examples=["When was the memorandum on joint weapons production signed?"],
    )

    options: list[Annotated[str, Field(json_schema_extra=_OPTION_SCHEMA)]] | None = Field(
        None,
        min_length=2,
        max_length=MAX_OPTIONS,
        description="The answers to choose from (2-10, each 1-200 characters; repeats count once), as in a quiz: "
        "the question is then answered from sentences that name one of them, and the short answer is the option named. "
        "Default: the options the question itself lists ('A) … B) …', one a line, or '…: X, Y or Z?'), if any.",
        examples=[None],
    )

    stream: bool = Field(
        False,
        strict=True,
        description="Answer as server-sent events: `sentence` and `quote` events as the LLM's answer is verified, "
        "then `done` with the complete response (only `done` without an LLM).",
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return _clean_text(value, "question")

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if any(len(v) > MAX_OPTION_CHARS for v in value):
            raise ValueError(f"each option must be at most {MAX_OPTION_CHARS} characters")
        # the same option twice (in any case) is one option: the schema cannot say "distinct ignoring case"
        return distinct_options([" ".join(_clean_text(v, "each option").split()) for v in value])


class SearchRequest(_DateRange):
    """A passage search."""

    query: str = Field(
        ...,
        description="The search text, 1-2000 characters.",
        json_schema_extra=_TEXT_SCHEMA,
        examples=["air defense systems"],
    )

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return _clean_text(value, "query")


class Span(BaseModel):
    """An exact slice of an indexed article: ``document_text(doc_id)[start:end] == text``."""

    doc_id: str = Field(..., examples=["us-ukraine-weapons-production-pact.txt"])
    title: str
    url: str | None = None
    published: str | None = Field(None, description="ISO date, when known.")
    start: int = Field(..., ge=0, description="Character offset where the span starts.")
    end: int = Field(..., ge=0, description="Character offset where the span ends (exclusive).")
    text: str = Field(..., description="The verbatim article text between start and end.")


class Quote(Span):
    """A verified verbatim quote."""


class Passage(Span):
    """A retrieved chunk with its fused retrieval score."""

    chunk_id: str
    score: float


class AskResponse(BaseModel):
    """An answer made of verified quotes, or an abstention."""

    question: str
    answer: str = Field(..., description="Built only from quoted text; a fixed sentence when abstaining.")
    abstained: bool
    confidence: float = Field(..., ge=0.0, le=1.0, description="Calibrated evidence score.")
    as_of: str | None = Field(
        None, description="The day the question was asked as of (YYYY-MM-DD): the request's as_of, else today."
    )
    superseded: bool = Field(
        False,
        description="A present-state question whose sources disagree: quotes[0] is from the newest article, "
        "the older disagreeing quotes follow, newest first.",
    )
    mode: Literal["extractive", "llm"] = "extractive"
    question_kind: Literal["fact", "yes_no", "comparison"] = Field(
        "fact",
        description="fact: a phrase answers it; yes_no and comparison: only a writing LLM answers them "
        "(in extractive mode the answer is the quotes for each side and short_answer is null).",
    )
    options: list[str] = Field(
        default_factory=list,
        description="The answer options the question was read with (the request's, else those the question "
        "lists; empty: none). When the chosen quote names exactly one, short_answer is that option as the "
        "article writes it.",
    )
    llm_dropped: dict[str, int] | None = Field(
        None,
        description="LLM mode: the LLM's sentences dropped, per reason (no_citation, unknown_source, "
        "quote_not_found, unsupported, source_changed, preamble, refusal, fragment, repeated). "
        "None when no LLM was asked.",
    )
    llm_fallback: str | None = Field(
        None,
        description="Why the extractive answer was returned although an LLM is configured "
        "(timeout, error, refusal, nothing_verified); None when the LLM's answer was used or none was asked.",
    )
    short_answer: Span | None = Field(None, description="The exact phrase that answers, inside one of the quotes.")
    quotes: list[Quote]
    passages: list[Passage] = Field(..., description="Best first, by fused score.")


class SearchResponse(BaseModel):
    """Passages best first."""

    passages: list[Passage]
    as_of: str | None = Field(None, description="The as_of of the request (YYYY-MM-DD), when one was given.")


class DocumentSummary(BaseModel):
    """One indexed article, without its text."""

    doc_id: str
    title: str
    url: str | None = None
    published: str | None = None
    chars: int
    chunks: int


class DocumentsPage(BaseModel):
    """A page of indexed articles."""

    total: int
    documents: list[DocumentSummary]


class Document(BaseModel):
    """An indexed article: the text all offsets refer to."""

    doc_id: str
    title: str
    url: str | None = None
    published: str | None = None
    text: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    documents: int
    chunks: int


class ErrorBody(BaseModel):
    """Every error response has this shape."""

    detail: str | list = Field(..., description="What went wrong, for people.")


class ReindexRequest(BaseModel):
    """Optional body of POST /admin/reindex."""

    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(False, strict=True, description="Drop this configuration's index and build it again.")


class ReindexReport(BaseModel):
    """What a reindex did."""

    added: int
    updated: int
    removed: int
    unchanged: int
    seconds: float
