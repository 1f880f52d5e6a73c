"""SQuAD 2.0 -> sentence-level (question, sentence) pairs.

Sentences come from the project's own splitter (indexing.nlp.annotate, spaCy senter),
so training sees the sentence bounds the runtime will see. Pairs per question:

- positive: the sentence holding the first gold answer (answers[0], by answer_start);
  none when that answer crosses a sentence boundary;
- negatives: up to PARAGRAPH_NEGATIVES other sentences of the paragraph that overlap no
  gold answer (sampled); every sentence holding a plausible_answers span of an
  unanswerable question; the BM25_NEGATIVES sentences that BM25 ranks highest for the
  question among the sentences of OTHER paragraphs of the training articles and that
  contain no gold (or plausible) answer text.

Unanswerable questions contribute only negatives.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import config
from .splits import SPLITS, check_disjoint, split_of


@dataclass
class Question:
    qid: str
    question: str
    impossible: bool
    answers: list[tuple[int, int, str]]  # (start, end, text) in the paragraph; plausible ones if impossible


@dataclass
class Paragraph:
    key: str  # "<title>#<index>"
    title: str
    context: str
    sentences: list[tuple[int, int]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


@dataclass
class Article:
    title: str
    source: str
    split: str
    paragraphs: list[Paragraph]


def display_title(title: str) -> str:
    """The title line the reader sees: the article title, underscores as spaces."""
    return title.replace("_", " ")


def load_articles(annotate_sentences: bool = True) -> list[Article]:
    """Both SQuAD files, every article placed in its split, paragraphs sentence-split."""
    check_disjoint()
    articles: list[Article] = []
    for name in config.SQUAD_FILES:
        data = json.loads((config.SQUAD_DIR / name).read_text(encoding="utf-8"))
        for art in data["data"]:
            title = art["title"]
            paragraphs = []
            for p_i, para in enumerate(art["paragraphs"]):
                qs = []
                for qa in para["qas"]:
                    impossible = bool(qa.get("is_impossible"))
                    raw = qa.get("plausible_answers", []) if impossible else qa["answers"]
                    spans = [(a["answer_start"], a["answer_start"] + len(a["text"]), a["text"]) for a in raw]
                    qs.append(Question(qa["id"], qa["question"], impossible, spans))
                paragraphs.append(Paragraph(f"{title}#{p_i}", title, para["context"], questions=qs))
            articles.append(Article(title, name, split_of(title), paragraphs))
    titles = {a.title for a in articles}
    for split, names in SPLITS.items():
        missing = set(names) - titles
        if missing:
            raise AssertionError(f"{split} articles not in the SQuAD files: {sorted(missing)}")
    if annotate_sentences:
        from indexing.nlp import annotate

        paras = [p for a in articles for p in a.paragraphs]
        for p, ann in zip(paras, annotate([p.context for p in paras]), strict=True):
            p.sentences = list(ann.sentences)
    return articles


def containing_sentence(sentences: list[tuple[int, int]], start: int, end: int) -> int | None:
    for i, (s, e) in enumerate(sentences):
        if s <= start and end <= e:
            return i
    return None


def overlapping(sentences: list[tuple[int, int]], start: int, end: int) -> set[int]:
    return {i for i, (s, e) in enumerate(sentences) if s < max(end, start + 1) and start < e}


def pair_record(q: Question, p: Paragraph, i: int, label: int, kind: str, span: tuple[int, int] | None = None) -> dict:
    s, e = p.sentences[i]
    prev = p.context[slice(*p.sentences[i - 1])] if i > 0 else ""
    rec = {
        "qid": q.qid,
        "question": q.question,
        "title": display_title(p.title),
        "previous": prev,
        "sentence": p.context[s:e],
        "label": label,
        "kind": kind,
        "paragraph": p.key,
        "sentence_index": i,
        "answer_chars": [span[0] - s, span[1] - s] if span else None,  # in the sentence
    }
    return rec


def answer_pairs(q: Question, p: Paragraph) -> tuple[set[int], list[dict] | None]:
    """The sentences a question's (plausible) answers touch, and its answer pairs: every
    plausible-answer sentence of an unanswerable question (label 0), or the positive of an
    answerable one; None when that answer crosses a sentence boundary."""
    touched: set[int] = set()
    for s, e, _ in q.answers:
        touched |= overlapping(p.sentences, s, e)
    if q.impossible:
        return touched, [pair_record(q, p, i, 0, "plausible") for i in sorted(touched)]
    s, e, _ = q.answers[0]
    i = containing_sentence(p.sentences, s, e)
    return touched, None if i is None else [pair_record(q, p, i, 1, "pos", (s, e))]


def _bm25(paragraphs: list[Paragraph]):
    """A BM25 index over every sentence of the given paragraphs."""
    import bm25s
    import Stemmer

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    owners = [(p, i) for p in paragraphs for i in range(len(p.sentences))]
    texts = [p.context[slice(*p.sentences[i])] for p, i in owners]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    return retriever, stemmer, owners, texts


def build_training_pairs(articles: list[Article], seed: int) -> tuple[list[dict], dict]:
    """The training pairs (training articles only) and counts of what went in."""
    import bm25s
    import numpy as np

    rng = random.Random(seed)
    paras = [p for a in articles if a.split == "training" for p in a.paragraphs]
    retriever, stemmer, owners, texts = _bm25(paras)
    lowered = [t.lower() for t in texts]
    questions = [(q, p) for p in paras for q in p.questions]
    q_tokens = bm25s.tokenize([q.question for q, _ in questions], stopwords="en", stemmer=stemmer, show_progress=False)
    k = min(config.BM25_DEPTH, len(owners))
    hits, _ = retriever.retrieve(q_tokens, k=k, show_progress=False, n_threads=1)
    hits = np.asarray(hits)

    pairs: list[dict] = []
    counts = {
        "questions": 0,
        "answerable": 0,
        "unanswerable": 0,
        "crossing_answer_no_positive": 0,
        "questions_without_pairs": 0,
        "pos": 0,
        "paragraph": 0,
        "plausible": 0,
        "bm25": 0,
    }
    used_qids: list[str] = []
    for n, (q, p) in enumerate(questions):
        counts["questions"] += 1
        counts["unanswerable" if q.impossible else "answerable"] += 1
        touched, out = answer_pairs(q, p)
        if out is None:
            counts["crossing_answer_no_positive"] += 1
            out = []
        others = [i for i in range(len(p.sentences)) if i not in touched]
        for i in sorted(rng.sample(others, min(config.PARAGRAPH_NEGATIVES, len(others)))):
            out.append(pair_record(q, p, i, 0, "paragraph"))
        answer_texts = {t.lower() for _, _, t in q.answers if t.strip()}
        taken = 0
        for h in hits[n]:
            op, oi = owners[int(h)]
            if op.key == p.key or any(t in lowered[int(h)] for t in answer_texts):
                continue
            out.append(pair_record(q, op, oi, 0, "bm25"))
            taken += 1
            if taken == config.BM25_NEGATIVES:
                break
        if not out:
            counts["questions_without_pairs"] += 1
            continue
        used_qids.append(q.qid)
        for r in out:
            counts[r["kind"]] += 1
        pairs.extend(out)
    counts["pairs"] = len(pairs)
    counts["negatives_per_positive"] = round((len(pairs) - counts["pos"]) / max(1, counts["pos"]), 3)
    counts["question_ids"] = used_qids
    return pairs, counts


def calibration_question_ids(articles: list[Article]) -> list[str]:
    return [q.qid for a in articles if a.split == "calibration" for p in a.paragraphs for q in p.questions]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_manifest(path: Path, articles: list[Article], counts: dict, seed: int) -> None:
    from .encoding import ENCODING_VERSION

    manifest = {
        "about": "Reader training data: SQuAD 2.0 articles per split and the question ids used. "
        "Written by `python -m training.reader data`; test articles appear in no training or calibration data.",
        "encoding_version": ENCODING_VERSION,
        "seed": seed,
        "sources": {a.title: a.source for a in articles},
        "splits": {name: list(titles) for name, titles in SPLITS.items()},
        "questions_per_split": {
            name: sum(len(p.questions) for a in articles if a.split == name for p in a.paragraphs) for name in SPLITS
        },
        "pair_counts": {k: v for k, v in counts.items() if k != "question_ids"},
        "training_question_ids": counts["question_ids"],
        "calibration_question_ids": calibration_question_ids(articles),
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def paragraphs_as_json(articles: list[Article]) -> list[dict]:
    return [asdict(p) | {"split": a.split} for a in articles for p in a.paragraphs]


def build_list_groups(paragraphs: list[Paragraph], seed: int) -> tuple[list[dict], list[list[int]], dict]:
    """The list pass's data: per training question, up to LIST_SIZE sentences of its paragraph.

    An answerable question's group holds its positive (label 1) and sampled sentences holding no
    gold answer; an unanswerable one's every plausible-answer sentence and sampled others, all
    label 0 (the answer is the no-answer slot). Returns the flat pairs, each group's indices
    into them, and counts."""
    rng = random.Random(seed)
    pairs: list[dict] = []
    groups: list[list[int]] = []
    counts = {"questions": 0, "answerable": 0, "unanswerable": 0, "skipped_crossing": 0}
    for p in paragraphs:
        for q in p.questions:
            touched, out = answer_pairs(q, p)
            if out is None:
                counts["skipped_crossing"] += 1
                continue
            others = [i for i in range(len(p.sentences)) if i not in touched]
            room = max(0, config.LIST_SIZE - len(out))
            out += [pair_record(q, p, i, 0, "paragraph") for i in sorted(rng.sample(others, min(room, len(others))))]
            groups.append(list(range(len(pairs), len(pairs) + len(out))))
            pairs.extend(out)
            counts["questions"] += 1
            counts["unanswerable" if q.impossible else "answerable"] += 1
    counts["pairs"] = len(pairs)
    counts["mean_group"] = round(len(pairs) / max(1, len(groups)), 2)
    return pairs, groups, counts
