"""The shipped answer model: the file the card describes, int8 agreeing with the fp32
model it was quantised from, its held-out slice at the card's figure, and training
data that never saw a test article. No torch: onnxruntime and the runtime encoding."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from eval.squad import SQUAD_DIR, TEST_ARTICLES, load_squad
from service.answer_model import MODEL_CARD, MODEL_FILE, AnswerModel, sentence_argmax
from training.reader.cpu import cpu_has_vnni

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = MODEL_FILE.with_name("reader-fixture.json")
MANIFEST = ROOT / "training" / "reader" / "manifest.json"


@pytest.fixture(scope="module")
def model() -> AnswerModel:
    return AnswerModel()


@pytest.fixture(scope="module")
def fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_the_file_is_the_one_the_card_describes():
    card = json.loads(MODEL_CARD.read_text(encoding="utf-8"))
    digest = hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()
    assert digest == card["sha256"]
    assert card["sha256"] in (ROOT / "docs" / "reader-model.md").read_text(encoding="utf-8")
    assert MODEL_FILE.stat().st_size <= 30_000_000


def test_runtime_encoding_and_int8_outputs_match_the_fixture(model, fixture):
    assert fixture["model_sha256"] == model.sha256()
    items = [model.encode(p["question"], p["title"], p["sentence"], p["previous"]) for p in fixture["pairs"]]
    for p, item in zip(fixture["pairs"], items, strict=True):
        assert item.input_ids == p["input_ids"]  # the runtime copy of encode_pair is the training one
        assert list(item.sentence_tokens) == p["sentence_tokens"]
    # One pair a run, as the fixture was written: dynamic int8 quantisation scales each
    # batch's activations together, so a pair's outputs depend on its batch-mates.
    # The recorded int8 outputs are replayed exactly only on a processor whose int8 kernels
    # are the exporting machine's (training/reader/cpu.py); against fp32 every machine must
    # hold. A fixture without the key was written on the AMD EPYC of sessions 1-12 (no VNNI).
    replay = cpu_has_vnni() == fixture.get("export_cpu_vnni", False)
    logits = np.zeros(len(items), dtype=np.float32)
    for i, (p, item) in enumerate(zip(fixture["pairs"], items, strict=True)):
        logit, starts, ends = model.run([item])
        logits[i] = logit[0]
        if replay:
            assert logit[0] == pytest.approx(p["int8"]["answer_logit"], abs=1e-3)
            assert sentence_argmax(starts[0], item) == p["int8"]["start"]
            assert sentence_argmax(ends[0], item) == p["int8"]["end"]
    # int8 against the fp32 model it was quantised from (outputs written at export time)
    fp32 = np.array([p["fp32"]["answer_logit"] for p in fixture["pairs"]])
    stats = fixture["stats"]
    assert np.abs(logits - fp32).max() <= max(0.25, 1.5 * stats["answer_logit_max_abs_diff"])
    assert np.abs(logits - fp32).mean() <= 1.5 * stats["answer_logit_mean_abs_diff"]
    assert np.mean((logits > 0) == (fp32 > 0)) >= 0.95


def test_the_held_out_slice_scores_the_cards_figure(model, fixture):
    items = [model.encode(p["question"], p["title"], p["sentence"], p["previous"]) for p in fixture["pairs"]]
    logits = np.array([model.run([item])[0][0] for item in items])
    labels = np.array([p["label"] for p in fixture["pairs"]])
    accuracy = float(np.mean((logits > 0) == (labels == 1)))
    assert accuracy >= fixture["stats"]["int8_accuracy"] - 0.02


def test_no_test_article_or_question_was_trained_or_calibrated_on():
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    splits = manifest["splits"]
    assert sorted(splits["test"]) == sorted(TEST_ARTICLES)
    assert not set(TEST_ARTICLES) & (set(splits["training"]) | set(splits["calibration"]))
    _, rows = load_squad(SQUAD_DIR, list(TEST_ARTICLES))
    test_ids = {r.id for r in rows}
    assert len(test_ids) == manifest["questions_per_split"]["test"]
    assert not test_ids & set(manifest["training_question_ids"])
    assert not test_ids & set(manifest["calibration_question_ids"])
