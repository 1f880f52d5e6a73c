"""The one constructor of the asking path: ``build_pipeline(settings, store)`` wires
the stages of ``service.stages`` from settings. The HTTP app, ``citeqa ask``,
``citeqa eval``, the calibration command and every benchmark build it here, so a
new stage is one class and one line below."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from indexing.embedding import Embedder
from indexing.store import Store
from service.llm import make_llm
from service.options import OptionChooser, QuizCalibration
from service.reader import HybridReader, ModelReader
from service.retrieval import HybridRetriever
from service.rule_reader import RuleReader
from service.settings import Settings
from service.stages import Decider, QuoteVerifier, Reader, ThresholdDecider, Verifier

_DEFAULT: Any = object()


@dataclass
class Pipeline:
    """The loaded stages, and what they read from. ``llm`` is the OpenAI-compatible
    LLM of LLM mode (``service.llm.make_llm``), or None: extractive answers only."""

    settings: Settings
    store: Store
    embedder: Embedder
    retriever: HybridRetriever
    reader: Reader
    decider: Decider
    verifier: Verifier
    # Which answer option a chosen quote names, and the quiz confidence (service.options).
    chooser: OptionChooser = field(default_factory=OptionChooser)
    llm: Any = None
    # Today, for questions asked without an as-of day: injectable, so tests never read the real date.
    clock: Callable[[], dt.date] = dt.date.today

    def refresh(self) -> None:
        """Rebuild the lexical index from the store (after a reindex) and swap it in."""
        self.retriever.refresh()

    def reopen(self, store: Store) -> None:
        """Read from ``store`` from now on (a rebuild made new collections)."""
        self.store = self.retriever.store = store

    @property
    def chunks(self) -> int:
        """Chunks in the lexical index now (0 before the first refresh)."""
        return len(self.retriever.lexical)


def build_pipeline(
    settings: Settings,
    store: Store,
    embedder: Embedder | None = None,
    *,
    llm: Any = _DEFAULT,
    refresh: bool = True,
    reader: Reader | None = None,
    decider: Decider | None = None,
    verifier: Verifier | None = None,
    chooser: OptionChooser | None = None,
    clock: Callable[[], dt.date] | None = None,
) -> Pipeline:
    """The asking path over ``store``; any stage can be passed in instead of the default.
    With ``refresh`` (the default) the lexical index is built now."""
    embedder = embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    if reader is None:
        reader = {
            "model": lambda: ModelReader(settings),
            "rules": lambda: RuleReader(settings),
            "hybrid": lambda: HybridReader(RuleReader(settings)),
        }[settings.reader]()
    # CITEQA_ABSTAIN_THRESHOLD when set, else the threshold the reader's calibration chose.
    threshold = settings.abstain_threshold if settings.abstain_threshold is not None else reader.threshold
    pipeline = Pipeline(
        settings=settings,
        store=store,
        embedder=embedder,
        retriever=HybridRetriever(settings, store, embedder, cache_mb=settings.cache_mb),
        reader=reader,
        decider=decider or ThresholdDecider(threshold),
        verifier=verifier or QuoteVerifier(),
        # the reader's answer model when it has one (loaded once), else the reader's own short answer
        # decides; the quiz confidence was fitted over the hybrid reader's, so only it gets one
        chooser=chooser
        or OptionChooser(
            reader.model if isinstance(reader, HybridReader | ModelReader) else None,
            QuizCalibration.load() if isinstance(reader, HybridReader) else None,
        ),
        llm=make_llm(settings) if llm is _DEFAULT else llm,
        clock=clock or dt.date.today,
    )
    if refresh:
        pipeline.refresh()
    return pipeline
