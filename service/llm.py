"""The optional LLM behind `/ask`: an OpenAI-compatible endpoint reached through
LlamaIndex's ``OpenAILike``, a prompt of numbered candidate sentences, and one
deadline for the whole call.

Plain text with ``[n]`` markers is asked for — no JSON mode, tools or
``response_format`` — so that llama.cpp, vLLM, Ollama and hosted servers all
work. Nothing the LLM writes is trusted: ``service.citations`` keeps only
sentences whose citations and quotes verify.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from service.settings import LLMSettings

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """You answer questions about news articles using only the numbered source sentences given.
Rules:
- Write a short answer in plain text: one to four sentences, no lists, no headings, no JSON.
- End every sentence with the numbers of the sources it relies on in square brackets, like [1] or [2][3].
- You may quote a source word for word inside double quotes; quote only exact wording.
- Use only the given sentences, never outside knowledge.
- If the sentences do not answer the question, reply exactly: NO ANSWER"""

# How many candidate sentences the LLM sees, and how much it may write. Fewer is
# better for a small model: on 30 questions of a SQuAD calibration article (IPod;
# never a reported set) SmolLM2-135M's answer survived 17 / 21 / 18 / 18 times
# with 12 / 5 / 3 / 8 candidates, right 11 / 16 / 14 / 13 times, at 6.6 / 3.5 s.
PROMPT_CANDIDATES = 5
MAX_TOKENS = 200
# Small models fall into loops ("and Energy and Energy and ..."); a frequency
# penalty (an OpenAI parameter every compatible server takes) stops that.
FREQUENCY_PENALTY = 0.5


class LLMUnavailable(Exception):
    """The LLM erred, timed out or answered with nothing usable; the extractive answer is used.
    ``reason`` is what ``AskResponse.llm_fallback`` reports: timeout, error, refusal or nothing_verified."""

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Source:
    """A numbered candidate sentence shown to the LLM (already verified against its article)."""

    number: int
    doc_id: str
    title: str
    published: str | None
    start: int
    end: int
    text: str


def make_llm(settings: LLMSettings) -> Any | None:
    """The LlamaIndex LLM for ``CITEQA_LLM_BASE_URL``, or None when LLM mode is off."""
    if not settings.llm_base_url:
        return None
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=settings.llm_model,
        api_base=settings.llm_base_url,
        # The OpenAI client insists on a key; local servers ignore it.
        api_key=settings.llm_api_key or "not-needed",
        is_chat_model=True,
        is_function_calling_model=False,
        temperature=0.0,
        max_tokens=MAX_TOKENS,
        additional_kwargs={"frequency_penalty": FREQUENCY_PENALTY},
        # One attempt: CITEQA_LLM_TIMEOUT_S is the budget for the whole call and a
        # retry after a timeout could only overrun it; ``generate`` enforces it.
        max_retries=0,
        timeout=settings.llm_timeout_s,
    )


KIND_RULES = {
    "yes_no": "This is a yes/no question: begin with Yes or No, then the sentence showing it, with its source number.",
    "comparison": "This question compares two things: one sentence for each, each with its source number.",
}


def prompt(question: str, sources: list[Source], kind: str = "fact") -> list[Any]:
    """Chat messages: the rules, then the question and the numbered sources."""
    from llama_index.core.llms import ChatMessage

    lines = []
    for s in sources:
        label = s.title + (f", {s.published}" if s.published else "")
        text = " ".join(s.text.split())
        lines.append(f"[{s.number}] ({label}) {text}")
    rule = f"\n{KIND_RULES[kind]}" if kind in KIND_RULES else ""
    user = f"Question: {question}{rule}\n\nSources:\n" + "\n".join(lines) + "\n\nAnswer:"
    return [ChatMessage(role="system", content=SYSTEM_PROMPT), ChatMessage(role="user", content=user)]


_DONE = object()


def generate(llm: Any, messages: list[Any], *, timeout_s: float, stream: bool) -> Iterator[str]:
    """The LLM's text as it arrives (one piece when not streaming).

    The call runs on a worker thread and this generator waits on it with one
    deadline, so a server that stalls or trickles tokens cannot hold a request
    past ``timeout_s``. Raises ``LLMUnavailable`` on any error or on timeout.
    """
    pieces: queue.Queue[Any] = queue.Queue()

    def work() -> None:
        try:
            if stream:
                for chunk in llm.stream_chat(messages):
                    if chunk.delta:
                        pieces.put(chunk.delta)
            else:
                pieces.put(llm.chat(messages).message.content or "")
            pieces.put(_DONE)
        except Exception as exc:  # any client or protocol error means: fall back
            pieces.put(exc)

    deadline = time.monotonic() + timeout_s
    threading.Thread(target=work, name="citeqa-llm", daemon=True).start()
    while True:
        remaining = deadline - time.monotonic()
        try:
            item = pieces.get(timeout=max(remaining, 0.0))
        except queue.Empty:
            raise LLMUnavailable(f"no complete answer within CITEQA_LLM_TIMEOUT_S={timeout_s:g} s", "timeout") from None
        if item is _DONE:
            return
        if isinstance(item, Exception):
            raise LLMUnavailable(f"{type(item).__name__}: {item}") from item
        if not isinstance(item, str):
            raise LLMUnavailable(f"unexpected reply of type {type(item).__name__}")
        yield item
