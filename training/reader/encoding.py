"""The reader's input encoding: the ONE definition that training and the runtime share.

The runtime copies this file's ``encode_pair`` (and the helpers below it) exactly;
it needs only the ``tokenizers`` package and numpy, never torch. Any change to what
``encode_pair`` returns for a given input must bump ENCODING_VERSION (recorded in
service/models/reader-model.json and the fixture).

Layout (BERT pair encoding, built by hand so that each truncation rule is explicit):

    [CLS] question [SEP] segment_b [SEP]
    token_type_ids: 0 for [CLS], the question and the first [SEP]; 1 for segment_b and the last [SEP]

- question: its first MAX_QUESTION_TOKENS (40) word pieces.
- segment_b = title + " | " + previous + " | " + sentence when that whole pair fits in
  MAX_LEN (128) tokens and there is a previous sentence; otherwise title + " | " + sentence.
  The title is first cut to MAX_TITLE_TOKENS (32) word pieces (a guard for long news
  headlines; no SQuAD title comes near it). If title + " | " + sentence is still too long,
  the sentence is cut at its end (whole word pieces).
- sentence_char_start: the character offset in segment_b where the sentence starts;
  sentence_tokens: the [first, stop) positions in input_ids of the sentence's word pieces
  (those whose tokenizer offset starts at or after sentence_char_start). Answer spans are
  restricted to those positions, in training and at inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

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
