"""Negatives the product's rules rank high: for every training question, the sentences
the rule reader ranks best (and its own choice) that hold no gold answer — the sentences
the default reader asks the model to choose among (``service.reader.HybridReader``).

The training articles are indexed with citeqa's own indexer (every paragraph one article,
as ``citeqa eval --format squad`` does), each question goes through the real retrieve
stage and ``RuleReader.rank``, and every candidate is written as the model reads it at
run time (the chunk's title, the previous sentence of the chunk). Only training articles
are read: the calibration and test articles stay out (``splits.py``).
"""

from __future__ import annotations

from collections import Counter


def build_rules_negatives(articles: list[str], top: int) -> tuple[list[dict], dict]:
    """(negative pairs, counts): the ``top`` best-ranked sentences and the rules' choice of
    each training question, where the sentence holds none of its gold answers."""
    from eval.bench.calibrate_hybrid import holds_gold
    from eval.bench.calibrate_reader import indexed
    from eval.squad import SQUAD_DIR, load_squad, write_squad_corpus
    from service.pipeline import build_pipeline
    from service.reader import previous_sentence
    from service.rule_reader import RuleReader

    records, rows = load_squad(SQUAD_DIR, articles)
    pairs: list[dict] = []
    counts: Counter = Counter()
    with indexed(lambda dest: write_squad_corpus(dest, records)) as (settings, store, get):
        rules = RuleReader(settings)
        pipeline = build_pipeline(settings, store, get(), llm=None, reader=rules)
        for row in rows:
            ranking = rules.rank(row.question, pipeline.retriever.retrieve(row.question))
            if ranking is None:
                counts["no_candidates"] += 1
                continue
            for _, c in ranking.shortlist(top):
                if holds_gold(row, c.text):
                    counts["holds_answer"] += 1
                    continue
                counts["answerable" if row.answerable else "unanswerable"] += 1
                pairs.append(
                    {
                        "qid": row.id,
                        "question": row.question,
                        "title": c.hit.row.title,
                        "previous": previous_sentence(c),
                        "sentence": c.text,
                        "label": 0,
                        "kind": "rules",
                        "paragraph": c.doc_id,
                        "sentence_index": None,
                        "answer_chars": None,
                    }
                )
    return pairs, {"questions": len(rows), "negatives": len(pairs), "top": top, **counts}
