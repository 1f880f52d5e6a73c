"""The one settings object, ``Settings``, made of one group per layer, each read from
flat ``CITEQA_*`` environment variables (``CITEQA_CHROMA_HOST``, never a nested name).

    Settings
    ├── IndexingSettings   (indexing/settings.py) corpus, data dir, Chroma, chunking, embedding
    ├── ServiceSettings    HTTP, admin, logging, caches, the abstention threshold
    ├── LLMSettings        the OpenAI-compatible endpoint of LLM mode
    ├── RetrievalSettings  CITEQA_RETRIEVAL_*: dense + BM25 fusion
    └── ReaderSettings     CITEQA_READER_*: how candidate sentences are read and voted on

Built by the composition root (``citeqa`` CLI, ``create_app``), never at import
time. Indexing code takes an ``IndexingSettings``; the service's stages take
their own group. ``Settings.report()`` gives the retrieval and reader groups, so
every evaluation report says what produced its figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexing.settings import IndexingSettings

_CONFIG = SettingsConfigDict(env_prefix="CITEQA_", extra="ignore")


class ServiceSettings(BaseSettings):
    """The HTTP API and what shapes its answers outside the stages."""

    model_config = _CONFIG

    admin_token: str | None = Field(
        None, description="Bearer token for POST /admin/reindex; admin is disabled when unset."
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, le=100_000_000, description="Request bodies over this many bytes get 413."
    )
    log_json: bool = Field(False, description="Log JSON lines instead of text.")
    refresh_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the API checks the index version to follow reindexes."
    )
    cache_mb: int = Field(
        64, ge=0, le=100_000, description="Memory for cached chunk rows and article texts (MB of text); 0 disables."
    )
    malloc_arenas: int = Field(
        2,
        ge=0,
        le=1024,
        description="glibc malloc arenas per API process; 0 keeps glibc's default (8 per core), "
        "which grows RSS under concurrent load.",
    )
    abstain_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Answers with lower confidence abstain [default: the reader's calibrated threshold].",
    )


class LLMSettings(BaseSettings):
    """LLM mode: an OpenAI-compatible endpoint; unset, answers are extractive."""

    model_config = _CONFIG

    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint with /v1 (e.g. http://127.0.0.1:8080/v1); set it for LLM mode.",
    )
    llm_model: str = Field("local-model", description="Model name sent to the LLM endpoint.")
    llm_api_key: str | None = Field(None, description="API key for the LLM endpoint, when it needs one.")
    llm_timeout_s: float = Field(
        20.0, gt=0, le=600, description="Total time allowed for the LLM per answer, retries included, in seconds."
    )

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/")
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("CITEQA_LLM_BASE_URL must be an http:// or https:// URL ending in /v1")
        return value


class RetrievalSettings(BaseSettings):
    """The retrieve stage: a weighted sum of the dense cosine and the max-normalised BM25
    score (tuned on the RGB dev set; BM25 catches exact names, years and quarters that
    MiniLM blurs)."""

    model_config = _CONFIG

    retrieval_lexical_weight: float = Field(
        0.35, ge=0.0, le=10.0, description="Weight of the max-normalised BM25 score beside the dense cosine."
    )
    retrieval_candidates: int = Field(
        40, ge=1, le=1000, description="Chunks taken from each side (dense, BM25) before fusion."
    )
    retrieval_fetch: int = Field(
        24, ge=1, le=1000, description="Fused chunks fetched from Chroma per question (the reader reads some)."
    )


class ReaderSettings(BaseSettings):
    """The read stage: the trained model (``service.reader.ModelReader``, the default)
    or the hand-written rules (``service.rule_reader.RuleReader``)."""

    model_config = _CONFIG

    reader: Literal["hybrid", "model", "rules"] = Field(
        "hybrid",
        description="Which reader: the rules' sentence with the trained model's span and logit (hybrid), "
        "the trained answer model alone (model), or the hand-written rules alone (rules).",
    )
    reader_passages: int = Field(16, ge=1, le=200, description="Top fused passages whose sentences are read.")
    reader_candidates: int = Field(
        6, ge=1, le=200, description="Pre-ranked sentences the answer model reads per question (one batch)."
    )
    reader_voters: int = Field(16, ge=1, le=200, description="Best sentences that vote for the short answer.")
    reader_window: int = Field(
        60, ge=0, le=1000, description="Characters around an entity in which question terms count as near it."
    )
    reader_adjacent: int = Field(
        20, ge=0, le=1000, description="Characters within which a question term counts as adjacent (a bonus)."
    )
    reader_adjacent_bonus: float = Field(0.5, ge=0.0, le=10.0, description="Bonus weight of adjacent terms.")
    reader_vote_temperature: float = Field(
        3.0, ge=0.0, le=100.0, description="How steeply a voter's weight falls with its score below the best."
    )
    reader_propn_weight: float = Field(
        0.6, ge=0.0, le=1.0, description="Weight of capitalised runs the NER missed, as who/which-company answers."
    )
    reader_calibration: Path | None = Field(
        None,
        description="The reader's calibration file (model: `python -m eval.bench.calibrate_reader`; rules: "
        "`python -m eval.bench.calibrate --write`) [default: the one shipped in service/models/].",
    )


class Settings(ReaderSettings, RetrievalSettings, LLMSettings, ServiceSettings, IndexingSettings):
    """Every knob citeqa has; each one maps to one ``CITEQA_<NAME>`` variable."""

    model_config = _CONFIG

    def report(self) -> dict[str, Any]:
        """The settings that shape answers (retrieval, reader, threshold), for report headers."""
        fields = [*RetrievalSettings.model_fields, *ReaderSettings.model_fields, "abstain_threshold"]
        return {name: _plain(getattr(self, name)) for name in fields}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
