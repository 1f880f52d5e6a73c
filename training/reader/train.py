"""Fine-tune the reader on the training pairs: resumable, seeded, CPU (2 threads)."""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import config
from .base import tokenizer_path
from .encoding import ReaderInput, encode_pair, load_tokenizer, pad_batch
from .model import build_reader


class Log:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


def span_tokens(item: ReaderInput, answer_chars: list[int] | None) -> tuple[int, int]:
    """Token positions (start, end), inclusive, covering the answer chars in the sentence; (-1, -1) if none."""
    if not answer_chars:
        return -1, -1
    a0, a1 = answer_chars
    first, stop = item.sentence_tokens
    start = end = -1
    for pos in range(first, stop):
        s, e = item.token_chars[pos]
        if start < 0 and e > a0:
            start = pos
        if s < a1:
            end = pos
    if start < 0 or end < start or item.token_chars[end][1] < a1:  # answer cut off by truncation
        return -1, -1
    return start, end


def encode_all(pairs: list[dict]) -> tuple[list[ReaderInput], np.ndarray, np.ndarray]:
    tok = load_tokenizer(tokenizer_path())
    items, spans = [], []
    for r in pairs:
        it = encode_pair(tok, r["question"], r["title"], r["sentence"], r["previous"])
        items.append(it)
        spans.append(span_tokens(it, r["answer_chars"]) if r["label"] else (-1, -1))
    labels = np.array([r["label"] for r in pairs], dtype=np.float32)
    return items, labels, np.array(spans, dtype=np.int64).reshape(-1, 2)


def epoch_batches(lengths: np.ndarray, seed: int, epoch: int, size: int = config.BATCH_SIZE) -> list[np.ndarray]:
    """Shuffled batches of ``size`` units of similar length (sorted inside mega-batches), in a seeded order."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    mega = size * config.LENGTH_BUCKET
    batches = []
    for m in range(0, len(order), mega):
        chunk = order[m : m + mega]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def to_tensors(items: list[ReaderInput]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    arrays = pad_batch(items)
    width = arrays["input_ids"].shape[1]
    mask = np.zeros((len(items), width), dtype=bool)
    for i, it in enumerate(items):
        mask[i, it.sentence_tokens[0] : it.sentence_tokens[1]] = True
    return {k: torch.from_numpy(v) for k, v in arrays.items()}, torch.from_numpy(mask)


def list_loss(answer_logit, labels, sizes: list[int], null):
    """Cross-entropy of one softmax per question over its sentences' logits and the no-answer
    slot ``null``; the target is the positive sentence, or the slot when the group has none."""
    losses = []
    for logits, y in zip(torch.split(answer_logit, sizes), torch.split(labels, sizes), strict=True):
        scores = torch.cat([logits, null.reshape(1)])
        target = int(y.argmax()) if y.max() > 0 else len(logits)
        losses.append(F.cross_entropy(scores.unsqueeze(0), torch.tensor([target])))
    return torch.stack(losses).mean()


def loss_fn(outputs, labels, spans, sentence_mask, sizes: list[int] | None = None, null=None):
    """Answer loss (BCE per pair, or the list loss when ``sizes`` groups the batch) + weighted span loss."""
    answer_logit, start, end = outputs
    if sizes is None:
        bce = F.binary_cross_entropy_with_logits(answer_logit, labels)
    else:
        bce = list_loss(answer_logit, labels, sizes, null)
    valid = spans[:, 0] >= 0
    if valid.any():
        start = start.masked_fill(~sentence_mask, -1e4)[valid]
        end = end.masked_fill(~sentence_mask, -1e4)[valid]
        span = (F.cross_entropy(start, spans[valid, 0]) + F.cross_entropy(end, spans[valid, 1])) / 2
    else:
        span = answer_logit.new_zeros(())
    return bce + config.SPAN_LOSS_WEIGHT * span, bce, span


def forward(model, batch: list[ReaderInput], grouped: bool):
    """The model's outputs for a batch, rows in batch order; also the sentence mask and padded tokens.

    A grouped batch mixes sentences of every length (each question's group stays whole), so it
    runs as LIST_CHUNKS length-sorted chunks padded apart: the same outputs, a third less padding."""
    if not grouped:
        inputs, mask = to_tensors(batch)
        return model(**inputs), mask, int(inputs["input_ids"].numel())
    order = sorted(range(len(batch)), key=lambda i: len(batch[i].input_ids))
    chunks = np.array_split(np.array(order), config.LIST_CHUNKS)
    width = max(len(x.input_ids) for x in batch)
    logit = torch.zeros(len(batch))
    start, end = torch.full((len(batch), width), -1e4), torch.full((len(batch), width), -1e4)
    mask = torch.zeros((len(batch), width), dtype=torch.bool)
    n_tokens = 0
    for idx in chunks:
        inputs, m = to_tensors([batch[i] for i in idx])
        a, s, e = model(**inputs)
        w = m.shape[1]
        rows = torch.from_numpy(idx)
        logit = logit.index_put((rows,), a)
        start = start.index_put((rows,), F.pad(s, (0, width - w), value=-1e4))
        end = end.index_put((rows,), F.pad(e, (0, width - w), value=-1e4))
        mask[rows, :w] = m
        n_tokens += int(inputs["input_ids"].numel())
    return (logit, start, end), mask, n_tokens


def _save(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def hard_pairs(pairs: list[dict], seed: int) -> list[dict]:
    """The hard pass's pairs (config.HARD_*): positives, plausible-answer negatives
    repeated, and a seeded sample of the BM25 and paragraph negatives."""
    rng = random.Random(seed)
    share = {"bm25": config.HARD_BM25_SHARE, "paragraph": config.HARD_PARAGRAPH_SHARE}
    out = []
    for r in pairs:
        if r["kind"] == "pos":
            out.append(r)
        elif r["kind"] == "plausible":
            out += [r] * config.HARD_PLAUSIBLE_REPEATS
        elif rng.random() < share.get(r["kind"], 0.0):
            out.append(r)
    return out


def train(
    pairs: list[dict],
    run_dir: Path,
    seed: int,
    max_steps: int | None = None,
    epochs: int = 1,
    init: Path | None = None,
    lr: float = config.LR,
    stage: str = "",
    groups: list[list[int]] | None = None,
) -> dict:
    """Train (or resume) and return the summary; the weights land in run_dir/reader-final{stage}.pt.

    ``init``: start from these weights (a first pass's reader-final.pt) instead of the base.
    ``groups``: each question's pair indices: the list objective (``list_loss``) over a learned
    no-answer slot, folded into the answer head's bias at the end, so that sigmoid(answer_logit)
    is the sentence's odds against "no answer"."""
    final = run_dir / f"reader-final{stage}.pt"
    summary_path = run_dir / f"train-summary{stage}.json"
    if final.exists() and summary_path.exists():
        return json.loads(summary_path.read_text())
    log = Log(run_dir / "train.log")
    torch.set_num_threads(config.THREADS)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    t0 = time.time()
    items, labels, spans = encode_all(pairs)
    lengths = np.array([len(x.input_ids) for x in items])
    log(
        f"encoded {len(items)} pairs in {time.time() - t0:.1f}s: mean length {lengths.mean():.1f} tokens, "
        f"{int(labels.sum())} positive, {int((spans[:, 0] >= 0).sum())} with a span label, "
        f"{sum(x.used_previous for x in items)} with the previous sentence, "
        f"{sum(x.sentence_truncated for x in items)} truncated"
    )
    if groups is None:
        units, unit_lengths, size = None, lengths, config.BATCH_SIZE
    else:
        units = [np.array(g) for g in groups]
        unit_lengths, size = np.array([lengths[g].sum() for g in units]), config.LIST_QUESTIONS_PER_BATCH
    per_epoch = math.ceil(len(unit_lengths) / size)
    total = per_epoch * epochs if max_steps is None else min(max_steps, per_epoch * epochs)
    warmup = max(1, int(config.WARMUP_FRACTION * total))

    model = build_reader()
    if init is not None:
        model.load_state_dict(torch.load(init, weights_only=True))
    null = torch.nn.Parameter(torch.zeros(()))  # the no-answer slot's logit (list objective only)
    no_decay = ("bias", "LayerNorm.weight")
    param_groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
            "weight_decay": config.WEIGHT_DECAY,
        },
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    if groups is not None:  # one scalar: at the encoder's rate it could move only ~0.02 in a pass
        param_groups.append({"params": [null], "weight_decay": 0.0, "lr": config.LIST_NULL_LR})
    optim = torch.optim.AdamW(param_groups, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    )
    ckpt_path = run_dir / f"checkpoint{stage}.pt"
    step, elapsed, ema = 0, 0.0, None
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        if (ck["total"], ck["seed"], ck["pairs"], ck.get("span_loss_weight", 1.0)) != (
            total,
            seed,
            len(items),
            config.SPAN_LOSS_WEIGHT,
        ):
            raise RuntimeError(f"{ckpt_path} is from another run (total/seed/pairs differ): remove it to start afresh")
        model.load_state_dict(ck["model"])
        with torch.no_grad():
            null.copy_(ck.get("null", torch.zeros(())))
        optim.load_state_dict(ck["optim"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["torch_rng"])
        step, elapsed, ema = ck["step"], ck["elapsed"], ck["ema"]
        log(f"resumed from {ckpt_path.name} at step {step}/{total}")
    else:
        log(
            f"training{stage} from {init or config.BASE_NAME}: {total} steps ({epochs} epoch(s) of {per_epoch}), "
            f"batch {config.BATCH_SIZE}, "
            f"lr {lr}, warmup {warmup}, seed {seed}"
        )

    def checkpoint() -> None:
        _save(
            ckpt_path,
            {
                "model": model.state_dict(),
                "null": null.detach().clone(),
                "optim": optim.state_dict(),
                "sched": sched.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "elapsed": elapsed,
                "ema": ema,
                "total": total,
                "seed": seed,
                "pairs": len(items),
            },
        )

    model.train()
    window_t, window_pairs, window_tokens = time.time(), 0, 0
    pairs_seen = 0
    order: dict[int, list[np.ndarray]] = {}
    while step < total:
        epoch, idx = divmod(step, per_epoch)
        if epoch not in order:
            order = {epoch: epoch_batches(unit_lengths, seed, epoch, size)}
        batch = order[epoch][idx]
        sizes = None
        if units is not None:
            sizes = [len(units[u]) for u in batch]
            batch = np.concatenate([units[u] for u in batch])
        y = torch.from_numpy(labels[batch])
        sp = torch.from_numpy(spans[batch])
        t = time.time()
        outputs, sent_mask, n_tokens = forward(model, [items[i] for i in batch], grouped=units is not None)
        loss, bce, span = loss_fn(outputs, y, sp, sent_mask, sizes, null)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        sched.step()
        elapsed += time.time() - t
        step += 1
        pairs_seen += len(batch)
        window_pairs += len(batch)
        window_tokens += n_tokens
        lv = loss.item()
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if step % config.LOG_EVERY == 0 or step == total:
            dt = time.time() - window_t
            rate = window_pairs / max(dt, 1e-9)
            eta = (total - step) * window_pairs / config.LOG_EVERY / max(rate, 1e-9)
            log(
                f"step {step}/{total} epoch {epoch + 1} loss {lv:.4f} (ema {ema:.4f}, bce {bce.item():.4f}, "
                f"span {span.item():.4f}) lr {sched.get_last_lr()[0]:.2e} {rate:.1f} pairs/s "
                f"{window_tokens / max(dt, 1e-9):.0f} tok/s, elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min"
            )
            window_t, window_pairs, window_tokens = time.time(), 0, 0
        if step % config.CHECKPOINT_EVERY == 0 and step < total:
            checkpoint()
            log(f"checkpoint at step {step}")
    model.eval()
    if groups is not None:
        with torch.no_grad():
            model.answer.bias -= null
    _save(final, model.state_dict())
    summary = {
        "pairs": len(items),
        "positives": int(labels.sum()),
        "steps": total,
        "epochs": round(total / per_epoch, 3),
        "batch_size": config.BATCH_SIZE,
        "lr": lr,
        "init": str(init.name) if init else config.BASE_NAME,
        "warmup_steps": warmup,
        "seed": seed,
        "train_seconds": round(elapsed, 1),
        "pairs_per_second": round(
            (len(items) * total / per_epoch if max_steps is None else pairs_seen) / max(elapsed, 1e-9), 2
        ),
        "objective": "list" if groups is not None else "bce",
        "null_logit": round(float(null.detach()), 4) if groups is not None else None,
        "mean_tokens": round(float(lengths.mean()), 1),
        "final_loss_ema": round(ema, 4),
        "span_loss_weight": config.SPAN_LOSS_WEIGHT,
        "torch": torch.__version__,
        "threads": config.THREADS,
    }
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    ckpt_path.unlink(missing_ok=True)
    log(f"done: {json.dumps(summary)}")
    return summary
