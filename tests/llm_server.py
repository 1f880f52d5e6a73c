"""A scripted OpenAI-compatible chat server for the LLM-mode tests.

A hosted or local LLM cannot run here (no GPU, no model weights from a hub), so
the tests talk real HTTP to this small server instead: it speaks the
`/v1/chat/completions` protocol (plain JSON and `stream: true` server-sent
events), reads the numbered sources from the prompt like a model would, and
answers by a script chosen per test. Everything on citeqa's side — LlamaIndex's
OpenAILike client, the deadline, the citation checks — is the real code.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Script = Callable[[dict[int, str]], str]


def sources_in(prompt: str) -> dict[int, str]:
    """The numbered source sentences of citeqa's prompt: {n: text}."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\[(\d+)\] \([^)]*\) (.*)$", prompt, re.M)}


def find(sources: dict[int, str], needle: str) -> int:
    """The number of the first source containing ``needle``."""
    return next(n for n, text in sources.items() if needle in text)


class ScriptedLLM:
    """``script`` maps the prompt's sources to the reply text; ``mode`` can be "ok",
    "slow" (sleeps ``delay`` first), "malformed" (HTTP 200 that is not a completion)
    or "error" (HTTP 500)."""

    def __init__(self) -> None:
        self.script: Script = lambda sources: "NO ANSWER"
        self.mode = "ok"
        self.delay = 0.0
        self.chunk_delay = 0.0  # seconds between streamed pieces, so a client can be seen reading as they come
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": "not found"}')
                    return
                if owner.mode == "slow":
                    time.sleep(owner.delay)
                if owner.mode == "error":
                    self._send(500, b'{"error": {"message": "model crashed"}}')
                    return
                if owner.mode == "malformed":
                    self._send(200, b"<html>this is not a completion</html>")
                    return
                prompt = body["messages"][-1]["content"]
                text = owner.script(sources_in(prompt))
                if body.get("stream"):
                    self._stream(body["model"], text)
                else:
                    self._send(200, json.dumps(_completion(body["model"], text)).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except BrokenPipeError:  # the client gave up (a timeout test): nothing to answer
                    pass

            def _stream(self, model: str, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                # Small uneven pieces, as a model streams tokens: markers and quotes get cut mid-way.
                for i in range(0, len(text), 7):
                    chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": {"content": text[i : i + 7]}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if owner.chunk_delay:
                        time.sleep(owner.chunk_delay)
                self.wfile.write(b"data: [DONE]\n\n")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self, script: Script, mode: str = "ok", delay: float = 0.0, chunk_delay: float = 0.0) -> None:
        self.script, self.mode, self.delay, self.chunk_delay = script, mode, delay, chunk_delay
        self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _completion(model: str, text: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
