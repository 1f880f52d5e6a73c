"""The trained answer model: a MiniLM-L6 cross-encoder (``service/models/reader-int8.onnx``,
card: docs/reader-model.md) that reads (question, candidate sentence with its title and,
where it fits, the previous sentence) and gives the logit that the sentence answers the
question and start/end logits of the answer span inside it.

Runs on onnxruntime with the embedding model's tokenizer (the same all-MiniLM-L6-v2
vocabulary); no torch. The encoding below is a verbatim copy of
``training/reader/encoding.py`` (the product never imports ``training/``);
``tests/test_answer_model.py`` re-encodes the committed fixture's strings and checks
the ids and the int8 model's outputs, so the two copies cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

MODELS = Path(__file__).parent / "models"
MODEL_FILE = MODELS / "reader-int8.onnx"
MODEL_CARD = MODELS / "reader-model.json"
OUTPUTS = ("answer_logit", "start_logits", "end_logits")

ENCODING_VERSION = "citeqa-reader-enc-1"
MAX_LEN = 128
MAX_QUESTION_TOKENS = 40
MAX_TITLE_TOKENS = 32
SEPARATOR = " | "
MAX_ANSWER_TOKENS = 30  # longest span best_span considers


@dataclass(frozen=True)
class ReaderInput:
    input_ids: list[int]
    attention_mask: list[int]
    token_type_ids: list[int]
    segment_b: str
    sentence_char_start: int  # offset of the sentence in segment_b
    sentence_tokens: tuple[int, int]  # [first, stop) positions in input_ids of the sentence's tokens
    token_chars: list[tuple[int, int]]  # per input position: char span in the SENTENCE, (-1, -1) elsewhere
    used_previous: bool
    sentence_truncated: bool


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The all-MiniLM-L6-v2 tokenizer.json, with its built-in truncation and padding off."""
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def encode_pair(
    tokenizer: Tokenizer,
    question: str,
    title: str,
    sentence: str,
    previous: str = "",
    max_len: int = MAX_LEN,
) -> ReaderInput:
    """Encode one (question, candidate sentence) pair; see the module docstring."""
    cls_id = tokenizer.token_to_id("[CLS]")
    sep_id = tokenizer.token_to_id("[SEP]")
    q_ids = tokenizer.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
    budget = max_len - len(q_ids) - 3  # [CLS], [SEP], [SEP]

    title_enc = tokenizer.encode(title, add_special_tokens=False)
    if len(title_enc.ids) > MAX_TITLE_TOKENS:
        title = title[: title_enc.offsets[MAX_TITLE_TOKENS - 1][1]]

    used_previous = False
    b_enc = None
    if previous:
        segment_b = title + SEPARATOR + previous + SEPARATOR + sentence
        b_enc = tokenizer.encode(segment_b, add_special_tokens=False)
        used_previous = len(b_enc.ids) <= budget
    if not used_previous:
        segment_b = title + SEPARATOR + sentence
        b_enc = tokenizer.encode(segment_b, add_special_tokens=False)
    sentence_char_start = len(segment_b) - len(sentence)

    b_ids = list(b_enc.ids)
    b_offsets = list(b_enc.offsets)
    truncated = len(b_ids) > budget
    if truncated:
        b_ids, b_offsets = b_ids[:budget], b_offsets[:budget]

    input_ids = [cls_id, *q_ids, sep_id, *b_ids, sep_id]
    token_type_ids = [0] * (len(q_ids) + 2) + [1] * (len(b_ids) + 1)
    attention_mask = [1] * len(input_ids)

    base = len(q_ids) + 2  # position of segment_b's first token
    token_chars: list[tuple[int, int]] = [(-1, -1)] * len(input_ids)
    first = stop = None
    for k, (s, e) in enumerate(b_offsets):
        if s >= sentence_char_start:
            pos = base + k
            token_chars[pos] = (s - sentence_char_start, e - sentence_char_start)
            if first is None:
                first = pos
            stop = pos + 1
    if first is None:  # empty sentence: an empty range just before the last [SEP]
        first = stop = len(input_ids) - 1
    return ReaderInput(
        input_ids=input_ids,
        attention_mask=attention_mask,
        token_type_ids=token_type_ids,
        segment_b=segment_b,
        sentence_char_start=sentence_char_start,
        sentence_tokens=(first, stop),
        token_chars=token_chars,
        used_previous=used_previous,
        sentence_truncated=truncated,
    )


def pad_batch(items: Sequence[ReaderInput]) -> dict[str, np.ndarray]:
    """Dynamic padding: int64 arrays [B, longest in the batch], pad id 0, mask 0."""
    width = max(len(x.input_ids) for x in items)
    out = {k: np.zeros((len(items), width), dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    for i, x in enumerate(items):
        n = len(x.input_ids)
        out["input_ids"][i, :n] = x.input_ids
        out["attention_mask"][i, :n] = x.attention_mask
        out["token_type_ids"][i, :n] = x.token_type_ids
    return out


def sentence_argmax(logits: np.ndarray, item: ReaderInput) -> int:
    """Argmax of one row of start_logits or end_logits over the sentence's positions only."""
    first, stop = item.sentence_tokens
    if stop <= first:
        return first
    return first + int(np.argmax(logits[first:stop]))


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, item: ReaderInput, max_tokens: int = MAX_ANSWER_TOKENS
) -> tuple[int, int] | None:
    """The answer as (start, end) char offsets in the sentence: the start <= end <= start + max_tokens - 1
    pair of sentence positions with the highest start + end logit. None for an empty sentence."""
    first, stop = item.sentence_tokens
    if stop <= first:
        return None
    s = np.asarray(start_logits[first:stop], dtype=np.float64)
    e = np.asarray(end_logits[first:stop], dtype=np.float64)
    n = stop - first
    scores = s[:, None] + e[None, :]
    i, j = np.indices((n, n))
    scores[(j < i) | (j - i >= max_tokens)] = -np.inf
    flat = int(np.argmax(scores))
    a, b = divmod(flat, n)
    return item.token_chars[first + a][0], item.token_chars[first + b][1]


@dataclass(frozen=True)
class Scored:
    """The model's reading of one pair: the answer logit and the span (chars in the sentence)."""

    logit: float
    span: tuple[int, int] | None


class AnswerModel:
    """The int8 ONNX reader, loaded once (an onnxruntime session is thread-safe)."""

    def __init__(self, model_path: Path = MODEL_FILE, tokenizer_path: str | None = None) -> None:
        if tokenizer_path is None:
            from indexing.embedding import MODELS as EMBEDDINGS

            tokenizer_path = EMBEDDINGS["all-MiniLM-L6-v2-int8"].load()[1]
        if not model_path.is_file():
            raise FileNotFoundError(f"the reader model {model_path} is missing (a broken install?)")
        self.path = model_path
        self.tokenizer = load_tokenizer(tokenizer_path)
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """Made on first use, every core on one batch (as the question embedding is)."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from indexing.embedding import new_session

                    self._session = new_session(str(self.path), single_thread=False)
        return self._session

    def sha256(self) -> str:
        """The model file's digest (the card records it)."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def encode(self, question: str, title: str, sentence: str, previous: str = "") -> ReaderInput:
        """One pair, exactly as in training."""
        return encode_pair(self.tokenizer, question, title, sentence, previous)

    def run(self, items: Sequence[ReaderInput]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(answer_logit [B], start_logits [B, T], end_logits [B, T]) of one padded batch."""
        arrays = pad_batch(items)
        logit, start, end = self.session.run(list(OUTPUTS), arrays)
        return logit, start, end

    def span_scores(self, item: ReaderInput, spans: Sequence[tuple[int, int]]) -> list[float]:
        """The model's start + end logit for each given span (char offsets in the sentence):
        how strongly it reads each one as the answer (-inf for a span no token covers)."""
        _, start, end = self.run([item])
        first, stop = item.sentence_tokens
        out = []
        for a, b in spans:
            inside = [p for p in range(first, stop) if a <= item.token_chars[p][0] < b]
            out.append(float(start[0][inside[0]] + end[0][inside[-1]]) if inside else float("-inf"))
        return out

    def score(self, items: Sequence[ReaderInput]) -> list[Scored]:
        """Each pair's answer logit and best span, in one batch."""
        if not items:
            return []
        logit, start, end = self.run(items)
        return [Scored(float(logit[i]), best_span(start[i], end[i], item)) for i, item in enumerate(items)]


def card() -> dict[str, Any]:
    """The shipped model's record (sha256, encoding version, figures)."""
    return json.loads(MODEL_CARD.read_text(encoding="utf-8"))
