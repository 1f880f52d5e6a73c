"""python -m training.reader {data,train,export,evaluate,card,all,check} [--seed 0] [--smoke]

`all` runs every step in order; `data` and `train` reuse what is already in
training/runs/ (train resumes from its last checkpoint), the others are redone.
`check` re-encodes the fixture and reruns the int8 model on it (onnxruntime, no torch).
--out NAME: a variant run, all under training/runs/NAME/ (nothing committed is touched);
the first model (v1): --span-weight 1.0 --no-per-channel --no-hard-pass.
--smoke: 200 pairs, 10 steps, 30 questions per held-out split, everything under
training/runs/smoke/ (nothing committed is touched).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import config


@dataclass
class Paths:
    run_dir: Path
    manifest: Path
    int8: Path
    fixture: Path
    model_json: Path
    card: Path
    smoke: bool

    @classmethod
    def make(cls, smoke: bool, out: str | None = None) -> Paths:
        if smoke or out:
            d = config.RUNS / (out or "smoke")
            return cls(
                d,
                d / "manifest.json",
                d / "reader-int8.onnx",
                d / "reader-fixture.json",
                d / "reader-model.json",
                d / "reader-model.md",
                smoke,  # a named run (--out) is a full run in its own folder, not a smoke run
            )
        return cls(
            config.RUNS, config.MANIFEST, config.ONNX_INT8, config.FIXTURE, config.MODEL_JSON, config.CARD, False
        )


def _timing(paths: Paths, step: str, seconds: float) -> None:
    f = paths.run_dir / "timings.json"
    t = json.loads(f.read_text()) if f.exists() else {}
    t[step] = round(seconds, 1)
    f.write_text(json.dumps(t, indent=1) + "\n")


def _log(paths: Paths, msg: str) -> None:
    from .train import Log

    Log(paths.run_dir / "train.log")(msg)


def load_paragraphs(paths: Paths, split: str | None = None):
    from .data import Paragraph, Question

    rows = json.loads((paths.run_dir / "paragraphs.json").read_text(encoding="utf-8"))
    out = []
    for r in rows:
        if split and r["split"] != split:
            continue
        qs = [
            Question(q["qid"], q["question"], q["impossible"], [tuple(a) for a in q["answers"]]) for q in r["questions"]
        ]
        out.append(Paragraph(r["key"], r["title"], r["context"], [tuple(s) for s in r["sentences"]], qs))
    return out


def step_data(paths: Paths, seed: int) -> None:
    from .data import build_training_pairs, load_articles, paragraphs_as_json, write_jsonl, write_manifest

    pairs_file = paths.run_dir / "train-pairs.jsonl"
    if pairs_file.exists() and (paths.run_dir / "paragraphs.json").exists() and paths.manifest.exists():
        _log(paths, f"data: reusing {pairs_file}")
        return
    t0 = time.time()
    articles = load_articles()
    (paths.run_dir / "paragraphs.json").write_text(json.dumps(paragraphs_as_json(articles), ensure_ascii=False))
    pairs, counts = build_training_pairs(articles, seed)
    if paths.smoke:
        rng = random.Random(seed)
        pairs = rng.sample(pairs, 200)
        counts = counts | {"smoke_subsample": 200}
    write_jsonl(pairs_file, pairs)
    summary = {k: v for k, v in counts.items() if k != "question_ids"}
    (paths.run_dir / "data-summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_manifest(paths.manifest, articles, counts, seed)
    _timing(paths, "data", time.time() - t0)
    _log(paths, f"data: {json.dumps(summary)} in {time.time() - t0:.0f}s")


def step_train(paths: Paths, seed: int, max_steps: int | None) -> None:
    from .data import read_jsonl
    from .train import hard_pairs, train

    pairs = read_jsonl(paths.run_dir / "train-pairs.jsonl")
    summary = train(pairs, paths.run_dir, seed, max_steps=max_steps, epochs=config.EPOCHS)
    _timing(paths, "train", summary["train_seconds"])
    stage = config.second_stage()
    if not stage:
        return
    groups = None
    if stage == "-list":
        from .data import build_list_groups

        pairs, groups, counts = build_list_groups(load_paragraphs(paths, "training"), seed)
        _log(paths, f"list pass data: {json.dumps(counts)}")
        (paths.run_dir / "list-summary.json").write_text(json.dumps(counts, indent=1) + "\n")
    else:
        pairs = hard_pairs(pairs, seed)
        if config.NEAR_MISS:
            near = near_miss_pairs(paths, seed)
            if config.NEAR_MISS_SHARE < 1.0:
                near = random.Random(seed).sample(near, round(config.NEAR_MISS_SHARE * len(near)))
            pairs += near * config.NEAR_MISS_REPEATS
        if config.RULES_NEGATIVES:
            pairs += rules_negative_pairs(paths)
        if config.SNIPPET_PAIRS:
            from .snippets import snippet_pairs

            snippets, counts = snippet_pairs(pairs, seed)
            (paths.run_dir / "snippet-summary.json").write_text(json.dumps(counts, indent=1) + "\n")
            _log(paths, f"snippet pairs: {json.dumps(counts)}")
            pairs += snippets
    second = train(
        pairs,
        paths.run_dir,
        seed,
        max_steps=max_steps,
        epochs=config.HARD_EPOCHS,
        init=paths.run_dir / "reader-final.pt",
        lr=config.LIST_LR if groups else config.HARD_LR,
        stage=stage,
        groups=groups,
    )
    _timing(paths, f"train_{stage[1:]}", second["train_seconds"])


def rules_negative_pairs(paths: Paths) -> list[dict]:
    """The rules negatives of the training articles (cached in the run folder)."""
    from .rules_negatives import build_rules_negatives

    def build() -> tuple[list[dict], dict]:
        articles = sorted({p.title for p in load_paragraphs(paths, "training")})
        return build_rules_negatives(articles, config.RULES_NEGATIVES)

    return _cached_pairs(paths, config.rules_negative_files(paths.run_dir), build, "rules negatives", seed=0)


def near_miss_pairs(paths: Paths, seed: int) -> list[dict]:
    """The near-miss negatives of the training articles (cached in the run folder)."""
    from .near_miss import build_near_misses

    def build() -> tuple[list[dict], dict]:
        by_article: dict[str, list] = {}
        for p in load_paragraphs(paths, "training"):
            by_article.setdefault(p.title, []).append(p)
        return build_near_misses(by_article, seed, config.NEAR_MISS_NOUNS)

    return _cached_pairs(paths, config.near_miss_files(paths.run_dir), build, "near misses", seed)


def _cached_pairs(
    paths: Paths, files: tuple[Path, Path], build: Callable[[], tuple[list[dict], dict]], label: str, seed: int
) -> list[dict]:
    """Extra hard-pass pairs: read from ``files`` (pairs, counts) when a run made them, else
    built, cut to a seeded 50 in a smoke run, written and logged."""
    from .data import read_jsonl, write_jsonl

    cache, summary = files
    if cache.exists():
        return read_jsonl(cache)
    pairs, counts = build()
    if paths.smoke:
        pairs = random.Random(seed).sample(pairs, min(50, len(pairs)))
    write_jsonl(cache, pairs)
    summary.write_text(json.dumps(counts, indent=1) + "\n")
    _log(paths, f"{label}: {json.dumps(counts)}")
    return pairs


def step_export(paths: Paths) -> None:
    from .export import export_onnx, write_fixture

    t0 = time.time()
    info = export_onnx(paths.run_dir, paths.int8)
    info["fixture"] = write_fixture(paths.run_dir, paths.int8, paths.fixture, load_paragraphs(paths, "calibration"))
    (paths.run_dir / "export.json").write_text(json.dumps(info, indent=1) + "\n")
    _timing(paths, "export", time.time() - t0)
    _log(paths, f"export: {json.dumps(info)} in {time.time() - t0:.0f}s")


def step_evaluate(paths: Paths) -> None:
    from .evaluate import figures, ort_session, score_paragraphs

    t0 = time.time()
    sess = ort_session(paths.int8)
    limit = 30 if paths.smoke else None
    out = {}
    for split in ("calibration", "test"):
        per_q = score_paragraphs(load_paragraphs(paths, split), sess, limit_questions=limit)
        thr = out["calibration"]["threshold"] if split == "test" else None
        out[split] = figures(per_q, threshold=thr)
        _log(paths, f"evaluate {split}: {json.dumps(out[split])}")
    out["model_sha256"] = __import__("hashlib").sha256(paths.int8.read_bytes()).hexdigest()
    (paths.run_dir / "heldout.json").write_text(json.dumps(out, indent=1) + "\n")
    _timing(paths, "evaluate", time.time() - t0)


def step_card(paths: Paths, seed: int) -> None:
    from .card import write_card, write_model_json

    info = write_model_json(paths, seed)
    write_card(paths, info)
    _log(paths, f"card: wrote {paths.model_json} and {paths.card}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.reader", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("command", choices=["data", "train", "export", "evaluate", "card", "all", "check"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument(
        "--out",
        default=None,
        help="a variant run: everything (data cache, manifest, model, fixture, card) under training/runs/OUT/",
    )
    ap.add_argument("--span-weight", type=float, default=config.SPAN_LOSS_WEIGHT)
    ap.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=config.PER_CHANNEL)
    ap.add_argument(
        "--hard-pass",
        action="store_true",
        default=config.HARD_PASS,
        help="a second pass over positives and plausible-answer negatives (config.HARD_*)",
    )
    ap.add_argument(
        "--list-pass",
        action=argparse.BooleanOptionalAction,
        default=config.LIST_PASS,
        help="instead of the hard pass: one softmax per question over its paragraph's sentences "
        "and a no-answer slot (config.LIST_*)",
    )
    ap.add_argument(
        "--near-miss",
        action=argparse.BooleanOptionalAction,
        default=config.NEAR_MISS,
        help="add near-miss negatives (training questions with a year, number, entity or comparison word "
        "changed; training/reader/near_miss.py) to the hard pass",
    )
    ap.add_argument(
        "--near-miss-nouns",
        action=argparse.BooleanOptionalAction,
        default=config.NEAR_MISS_NOUNS,
        help="near misses may also change a common noun (tea for coffee)",
    )
    ap.add_argument("--near-miss-share", type=float, default=config.NEAR_MISS_SHARE, help="the share of them used")
    ap.add_argument(
        "--rules-negatives",
        type=int,
        default=config.RULES_NEGATIVES,
        metavar="N",
        help="add to the hard pass, per training question, the N sentences the product's rule reader ranks "
        "best (and its own choice) that hold no gold answer (training/reader/rules_negatives.py); 0: none",
    )
    ap.add_argument(
        "--snippet-pairs",
        action=argparse.BooleanOptionalAction,
        default=config.SNIPPET_PAIRS,
        help="add to the hard pass each positive cut off before its answer (a negative) and after it "
        "(a positive), ending in '...', half with a date line in front (training/reader/snippets.py)",
    )
    ap.add_argument("--epochs", type=int, default=config.EPOCHS, help="epochs of the first pass")
    ap.add_argument("--hard-epochs", type=int, default=config.HARD_EPOCHS, help="epochs of the second pass")
    ap.add_argument("--checkpoint-every", type=int, default=config.CHECKPOINT_EVERY, help="steps between checkpoints")
    args = ap.parse_args(argv)
    config.SPAN_LOSS_WEIGHT = args.span_weight
    config.PER_CHANNEL = args.per_channel
    config.CHECKPOINT_EVERY = args.checkpoint_every
    config.HARD_PASS = args.hard_pass
    config.LIST_PASS = args.list_pass
    config.NEAR_MISS = args.near_miss
    config.NEAR_MISS_SHARE = args.near_miss_share
    config.NEAR_MISS_NOUNS = args.near_miss_nouns
    if args.rules_negatives < 0:
        ap.error("--rules-negatives must be 0 or more")
    config.RULES_NEGATIVES = args.rules_negatives
    config.SNIPPET_PAIRS = args.snippet_pairs
    if args.epochs < 1 or args.hard_epochs < 1:
        ap.error("--epochs and --hard-epochs must be 1 or more")
    config.EPOCHS, config.HARD_EPOCHS = args.epochs, args.hard_epochs
    paths = Paths.make(args.smoke, args.out)
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    max_steps = args.max_steps if args.max_steps is not None else (10 if args.smoke else None)
    t0 = time.time()
    cmd = args.command
    if cmd in ("data", "all"):
        step_data(paths, args.seed)
    if cmd in ("train", "all"):
        step_train(paths, args.seed, max_steps)
    if cmd in ("export", "all"):
        step_export(paths)
    if cmd in ("evaluate", "all"):
        step_evaluate(paths)
    if cmd in ("card", "all"):
        step_card(paths, args.seed)
    if cmd == "check":
        from .evaluate import check_fixture

        print(json.dumps(check_fixture(paths.fixture, paths.int8), indent=1))
    if cmd == "all":
        _timing(paths, "all_this_invocation", time.time() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
