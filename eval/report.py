"""Eval reports: report.json, report.md (a to-do list of failures) and a confidence plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.harness import EvalResult

ORDER = [
    "questions",
    "answerable",
    "unanswerable",
    "answer_accuracy",
    "short_answer_exact",
    "hit@1",
    "hit@{k}",
    "mrr",
    "citation_verbatim",
    "citation_precision",
    "citation_recall",
    "abstention_precision",
    "abstention_recall",
    "combined",
    "precision@0.9",
    "share@0.9",
    "ece",
    "short_em",
    "short_f1",
    "abstained",
    "latency_p50_ms",
    "latency_p95_ms",
    "llm_answers",
]


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


def metric_names(k: int) -> list[str]:
    return [m.format(k=k) for m in ORDER]


def _failure(q: dict[str, Any]) -> str | None:
    v, exp = q["verdicts"], q["expected"]
    if exp["answerable"] and not v["correct"]:
        why = "abstained" if q["abstained"] else "no quote contains an acceptable answer"
    elif not exp["answerable"] and not q["abstained"]:
        why = "answered a question the articles do not answer"
    elif v["quotes"] and v["quotes_verbatim"] < v["quotes"]:
        why = "a quote is not verbatim"
    else:
        return None
    lines = [f"### {q['id']}: {q['question']}", "", f"- **why**: {why} (confidence {q['confidence']:.2f})"]
    if exp["answerable"]:
        lines.append(f"- **expected**: {' | '.join(exp['answers'])}")
        if exp["unresolved_evidence"]:
            lines.append(f"- **gold evidence not found in the index**: {exp['unresolved_evidence']}")
    else:
        lines.append("- **expected**: abstain")
    if q["abstained"]:
        lines.append(
            f"- **got**: abstained; top passage {q['top_passages'][0]['doc_id'] if q['top_passages'] else '—'}"
        )
    else:
        for quote in q["quotes"]:
            lines.append(f"- **got**: “{quote['text']}” — `{quote['doc_id']} [{quote['start']}:{quote['end']}]`")
        if q["short_answer"]:
            lines.append(f"- **short answer**: {q['short_answer']['text']}")
    lines.append(f"- **retrieval**: first gold passage at rank {v['first_hit_rank'] or 'none'}")
    return "\n".join(lines) + "\n"


def llm_lines(summary: dict[str, Any]) -> list[str]:
    """The LLM's part: how often it was asked, how often its answer survived, and why not."""
    llm = summary.get("llm") or {}
    if not llm.get("asked"):
        return []
    reasons = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"  # noqa: E731
    return [
        "",
        "## LLM",
        "",
        f"- asked {llm['asked']}, its answer used {llm['used']} ({llm['used'] / llm['asked']:.0%})",
        f"- fallbacks to the extractive answer: {reasons(llm['fallbacks'])}",
        f"- sentences dropped: {reasons(llm['dropped'])}",
        f"- kept sentences whose negation differs from their quotes' (polarity is not checked): "
        f"{llm.get('negation_mismatches', 0)}",
    ]


def kind_lines(summary: dict[str, Any]) -> list[str]:
    """Yes/no and comparison rows, judged apart from the headline (``eval.metrics.judge_kind``)."""
    kinds = summary.get("kinds") or {}
    if not kinds:
        return []
    md = [
        "",
        "## Yes/no and comparison questions (not in the headline)",
        "",
        "| kind | n | kind right | abstained | evidence quoted | LLM answers | verdict right | made-up verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, k in kinds.items():
        md.append(
            f"| {kind} | {k['questions']} | {k['kind_right']} | {k['abstained']} | {k['evidence_quoted']} | "
            f"{k['llm_answers']} | {k['verdict_right']} | {k['made_up_verdict']} |"
        )
    return md


def write_reports(
    result: EvalResult, out: Path, *, threshold: float | None, title: str, settings: dict[str, Any] | None = None
) -> list[Path]:
    """Write report.json, report.md and confidence.png into ``out``; return their paths.
    ``settings`` (``Settings.report()``: what shaped the answers) heads both reports."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "confidence.png"]
    paths[0].write_text(
        json.dumps(
            {
                "settings": settings or {},
                "summary": result.summary,
                "per_tag": result.per_tag,
                "questions": result.questions,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    names = metric_names(result.top_k)
    md = [f"# citeqa eval: {title}", ""]
    if settings:
        md += ["Settings: " + ", ".join(f"`{k}={v}`" for k, v in settings.items()), ""]
    md += ["| metric | value |", "|---|---:|"]
    md += [f"| {m} | {fmt(result.summary.get(m))} |" for m in names]
    md += [
        "",
        "## Per tag",
        "",
        "| tag | n | accuracy | abstention recall | citation precision |",
        "|---|---:|---:|---:|---:|",
    ]
    for tag, s in result.per_tag.items():
        md.append(
            f"| {tag} | {s['questions']} | {fmt(s['answer_accuracy'])} | {fmt(s['abstention_recall'])} | "
            f"{fmt(s['citation_precision'])} |"
        )
    md += llm_lines(result.summary) + kind_lines(result.summary)
    failures = [f for f in (_failure(q) for q in result.questions if q.get("kind", "fact") == "fact") if f]
    md += ["", f"## Failures ({len(failures)})", ""] + (failures or ["None."])
    paths[1].write_text("\n".join(md) + "\n")
    _plot(result, threshold, paths[2])
    return paths


def _plot(result: EvalResult, threshold: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = {
        "answerable,\nanswered correctly": [q["confidence"] for q in result.questions if q["verdicts"]["correct"]],
        "answerable,\nwrong or abstained": [
            q["confidence"] for q in result.questions if q["expected"]["answerable"] and not q["verdicts"]["correct"]
        ],
        "unanswerable\n(should abstain)": [
            q["confidence"] for q in result.questions if not q["expected"]["answerable"]
        ],
    }
    fig, (ax, rel) = plt.subplots(1, 2, figsize=(11, 4), dpi=110, gridspec_kw={"width_ratios": [7, 4]})
    rng = np.random.default_rng(0)
    for i, (name, values) in enumerate(groups.items()):
        ax.scatter(
            i + rng.uniform(-0.15, 0.15, len(values)),
            values,
            alpha=0.7,
            s=22,
            color=["tab:green", "tab:orange", "tab:red"][i],
            label=f"{name.replace(chr(10), ' ')} ({len(values)})",
        )
    if threshold is not None:  # unknown for a running service asked over --url
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1)
        ax.text(2.45, threshold + 0.015, f"abstention threshold {threshold:.2f}", ha="right", fontsize=8)
    ax.set_xticks(range(3), list(groups))
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("confidence")
    ax.set_title("Where would you set the abstention threshold?", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    _reliability(rel, result)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _reliability(ax: Any, result: EvalResult, bins: int = 10) -> None:
    """Reliability diagram of the answers given: accuracy against mean confidence per bin."""
    answered = [v for v in result.verdicts if not v.abstained]
    xs, ys, ns = [], [], []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [v for v in answered if lo <= v.confidence < hi or (b == bins - 1 and v.confidence == 1.0)]
        if inside:
            xs.append(sum(v.confidence for v in inside) / len(inside))
            ys.append(sum(v.correct for v in inside) / len(inside))
            ns.append(len(inside))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    ax.scatter(xs, ys, s=[12 + 3 * n**0.5 * 4 for n in ns], color="tab:blue", alpha=0.8, label="answers given, per bin")
    ax.plot(xs, ys, color="tab:blue", linewidth=1)
    ece = result.summary.get("ece")
    ax.set_title(f"Reliability (ECE {fmt(ece)})", fontsize=10)
    ax.set_xlabel("confidence")
    ax.set_ylabel("share right")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper left")
