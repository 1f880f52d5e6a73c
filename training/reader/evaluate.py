"""Held-out figures of an exported reader, with onnxruntime (no torch).

Per split (calibration, test), every question is read against every sentence of its own
paragraph:
- top1: for answerable questions whose answer lies inside one sentence, is the top-scored
  sentence one that holds a gold answer;
- AUC of the answer probability, gold sentences vs every sentence that holds no answer
  (of answerable and unanswerable questions), and vs the plausible-answer sentences of
  unanswerable questions alone;
- question AUC: the paragraph's best probability, answerable vs unanswerable questions;
- span EM / F1 (SQuAD normalisation, best over annotators) of best_span when top1 is right;
- the refusal threshold on the best probability chosen on calibration (most questions
  right: answerable = top1 right and p >= t, unanswerable = p < t), applied unchanged to test.
"""

from __future__ import annotations

import collections
import re
import string
from pathlib import Path

import numpy as np

from . import config
from .base import tokenizer_path
from .data import Paragraph
from .encoding import best_span, encode_pair, load_tokenizer, pad_batch

OUTPUTS = ("answer_logit", "start_logits", "end_logits")


def ort_session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = config.THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(sess, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    return sess.run(list(OUTPUTS), {k: arrays[k] for k in ("input_ids", "attention_mask", "token_type_ids")})


def auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """Mann-Whitney AUC with ties counted half."""
    if len(pos) == 0 or len(neg) == 0:
        return None
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _f1(pred: str, gold: str) -> float:
    p, g = _normalize(pred).split(), _normalize(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if not p or not g:
        return float(p == g)
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def score_paragraphs(paragraphs: list[Paragraph], sess, batch: int = 64, limit_questions: int | None = None):
    """Every (question, sentence of its paragraph) pair scored: list of per-question records."""
    tok = load_tokenizer(tokenizer_path())
    jobs = []  # (question record index, sentence index, ReaderInput)
    questions = []
    for p in paragraphs:
        for q in p.questions:
            if limit_questions is not None and len(questions) >= limit_questions:
                break
            qi = len(questions)
            questions.append((p, q))
            for i, (s, e) in enumerate(p.sentences):
                prev = p.context[slice(*p.sentences[i - 1])] if i > 0 else ""
                it = encode_pair(tok, q.question, p.title.replace("_", " "), p.context[s:e], prev)
                jobs.append((qi, i, it))
    order = sorted(range(len(jobs)), key=lambda k: len(jobs[k][2].input_ids))
    logits = [None] * len(jobs)
    spans = [None] * len(jobs)
    for b in range(0, len(order), batch):
        idx = order[b : b + batch]
        items = [jobs[k][2] for k in idx]
        a, st, en = run_onnx(sess, pad_batch(items))
        for row, k in enumerate(idx):
            logits[k] = float(a[row])
            spans[k] = best_span(st[row], en[row], jobs[k][2])
    per_q = [{"paragraph": p, "question": q, "logits": [], "spans": []} for p, q in questions]
    for (qi, _i, _it), lg, sp in zip(jobs, logits, spans, strict=True):
        per_q[qi]["logits"].append(lg)
        per_q[qi]["spans"].append(sp)
    return per_q


def figures(per_q: list[dict], threshold: float | None = None) -> dict:
    sig = lambda x: 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))  # noqa: E731
    top1, em, f1 = [], [], []
    pos_p, neg_p, plaus_p = [], [], []
    q_best_ans, q_best_unans = [], []
    records = []  # (answerable, top1 right, best p) for the threshold
    no_sentence = 0
    for r in per_q:
        p, q = r["paragraph"], r["question"]
        probs = sig(r["logits"])
        best = int(np.argmax(probs)) if len(probs) else -1
        touched, gold = set(), {}
        for s, e, t in q.answers:
            touched |= {i for i, (a, b) in enumerate(p.sentences) if a < max(e, s + 1) and s < b}
            for i, (a, b) in enumerate(p.sentences):
                if a <= s and e <= b:
                    gold.setdefault(i, []).append(t)
        if q.impossible:
            q_best_unans.append(float(probs.max()) if len(probs) else 0.0)
            records.append((False, False, float(probs.max()) if len(probs) else 0.0))
            for i, pr in enumerate(probs):
                neg_p.append(pr)
                if i in touched:
                    plaus_p.append(pr)
            continue
        for i, pr in enumerate(probs):
            if i in gold:
                pos_p.append(pr)
            elif i not in touched:
                neg_p.append(pr)
        if not gold:
            no_sentence += 1
            continue
        right = best in gold
        top1.append(right)
        q_best_ans.append(float(probs.max()))
        records.append((True, right, float(probs.max())))
        if right:
            sp = r["spans"][best]
            s0, _ = p.sentences[best]
            pred = p.context[s0 + sp[0] : s0 + sp[1]] if sp else ""
            em.append(max(float(_normalize(pred) == _normalize(t)) for t in gold[best]))
            f1.append(max(_f1(pred, t) for t in gold[best]))
    mean = lambda xs: round(float(np.mean(xs)), 4) if xs else None  # noqa: E731
    rnd = lambda x: None if x is None else round(x, 4)  # noqa: E731
    out = {
        "questions": len(per_q),
        "answerable_scored": len(top1),
        "answerable_answer_across_sentences": no_sentence,
        "unanswerable": len(q_best_unans),
        "sentence_pairs": sum(len(r["logits"]) for r in per_q),
        "top1_sentence_accuracy": mean(top1),
        "answer_auc_gold_vs_all_negatives": rnd(auc(np.array(pos_p), np.array(neg_p))),
        "answer_auc_gold_vs_plausible": rnd(auc(np.array(pos_p), np.array(plaus_p))),
        "question_auc_answerable_vs_unanswerable": rnd(auc(np.array(q_best_ans), np.array(q_best_unans))),
        "span_exact_match": mean(em),
        "span_f1": mean(f1),
        "span_scored": len(em),
    }
    if records:
        if threshold is None:
            cands = sorted({round(x[2], 4) for x in records} | {0.5})
            threshold = max(cands, key=lambda t: (_acc(records, t), -abs(t - 0.5)))
        out["threshold"] = round(float(threshold), 4)
        out["accuracy_at_threshold"] = round(_acc(records, threshold), 4)
        out["accuracy_always_answer"] = round(_acc(records, 0.0), 4)
        out["accuracy_always_refuse"] = round(_acc(records, 1.01), 4)
    return out


def _acc(records, t: float) -> float:
    return float(np.mean([(right and p >= t) if ans else (p < t) for ans, right, p in records]))


def check_fixture(fixture_path: Path, onnx_path: Path) -> dict:
    """What a CI test without torch can do: re-encode the fixture's pairs, compare the ids, run the
    int8 model with onnxruntime and compare with the recorded int8 and fp32 outputs."""
    import hashlib
    import json

    from .encoding import sentence_argmax

    fx = json.loads(fixture_path.read_text(encoding="utf-8"))
    tok = load_tokenizer(tokenizer_path())
    sess = ort_session(onnx_path)
    same_ids = 0
    d_int8, d_fp32, same_span, right = [], [], 0, 0
    for r in fx["pairs"]:
        it = encode_pair(tok, r["question"], r["title"], r["sentence"], r["previous"])
        same_ids += it.input_ids == r["input_ids"] and list(it.sentence_tokens) == r["sentence_tokens"]
        a, s, e = (x[0] for x in run_onnx(sess, pad_batch([it])))
        d_int8.append(abs(float(a) - r["int8"]["answer_logit"]))
        d_fp32.append(abs(float(a) - r["fp32"]["answer_logit"]))
        same_span += (sentence_argmax(s, it), sentence_argmax(e, it)) == (r["int8"]["start"], r["int8"]["end"])
        right += (float(a) > 0) == bool(r["label"])
    n = len(fx["pairs"])
    return {
        "pairs": n,
        "sha256_matches": hashlib.sha256(onnx_path.read_bytes()).hexdigest() == fx["model_sha256"],
        "input_ids_match": same_ids,
        "max_abs_diff_vs_recorded_int8": round(max(d_int8), 6),
        "max_abs_diff_vs_fp32": round(max(d_fp32), 4),
        "int8_start_end_match": same_span,
        "int8_accuracy": round(right / n, 4),
        "recorded_int8_accuracy": fx["stats"]["int8_accuracy"],
    }
