"""Command line: verbs only, each calling one function; errors as one clear line."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from auditlens import __version__, pipeline
from auditlens.config import Settings, load_settings
from auditlens.errors import AuditlensError
from auditlens.sources.base import Source

app = typer.Typer(
    help="auditlens: find, explain and act on risky user behaviour in access logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Show the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the store's database schema.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)
_state: dict[str, bool] = {"debug": False}
T = TypeVar("T")

Format = Literal["auto", "csv", "parquet", "jsonl", "cert"]


def _run(action: Callable[[], T]) -> T:
    """Run a command body; an AuditlensError becomes one line on stderr and exit 1."""
    try:
        return action()
    except AuditlensError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    )


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def version() -> None:
    """Print the auditlens version."""
    console.print(__version__)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (file + AUDITLENS_* env), secrets masked."""
    settings = _run(load_settings)
    console.print_json(json.dumps(settings.masked(), ensure_ascii=False, default=str))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the newest schema (Alembic)."""
    revision = _run(lambda: pipeline.upgrade_store(load_settings()))
    console.print(f"store schema at revision {revision}")


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("var/sample"),
    users: Annotated[int, typer.Option(min=1, help="Number of users.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Number of days.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-09-01",
    insider_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of users with a planted scenario.")
    ] = 0.02,
    fmt: Annotated[
        Literal["parquet", "csv", "jsonl"], typer.Option("--format", help="Events file format.")
    ] = "parquet",
) -> None:
    """Generate a synthetic organisation's access events with planted insider scenarios."""
    with console.status("generating..."):
        summary = _run(
            lambda: pipeline.generate_sample(
                load_settings(),
                out,
                users=users,
                days=days,
                seed=seed,
                start=_date(start),
                insider_rate=insider_rate,
                fmt=fmt,
            )
        )
    console.print(
        f"{summary.events:,} events for {summary.users:,} users over {summary.days} days, "
        f"{summary.insiders} planted insiders ({summary.seconds:.1f}s)"
    )
    for name, path in summary.files.items():
        console.print(f"  {name}: {path}")


@app.command()
def ingest(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="File, directory, glob or CERT directory; omit to read all "
            "sources configured in auditlens.toml."
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Input format.")] = "auto",
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column mapping CUSTOMER=CANONICAL, e.g. login_time=timestamp."),
    ] = None,
) -> None:
    """Validate and store new events; bad rows are quarantined with a reason."""
    settings = _run(load_settings)
    column_map = _run(lambda: pipeline.parse_column_map(mapping or []))
    sources = _run(lambda: pipeline.sources_to_ingest(settings, path, fmt, column_map))
    for source in sources:
        report = _run(lambda src=source: _ingest_with_progress(src, settings))  # type: ignore[misc]
        _print_ingest(report)


@app.command()
def quarantine(
    batch: Annotated[int | None, typer.Option(help="Only this batch id.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show at most.")] = 50,
) -> None:
    """Show quarantined rows with their reason and location."""
    frame = _run(lambda: pipeline.quarantined(load_settings(), batch_id=batch, limit=limit))
    table = Table("batch", "location", "reason", "raw")
    for row in frame.iter_rows(named=True):
        table.add_row(str(row["batch_id"]), row["location"], row["reason"], row["raw"][:80])
    console.print(table)


@app.command()
def demo(
    users: Annotated[int, typer.Option(min=10, help="Users in the sample.")] = 200,
    days: Annotated[int, typer.Option(min=7, help="Days in the sample.")] = 30,
) -> None:
    """Set up the store, generate the sample and run the main job on it."""
    settings = _run(load_settings)
    with console.status("preparing the sample and the store..."):
        result = _run(lambda: pipeline.run_demo(settings, users=users, days=days))
    console.rule("auditlens demo")
    console.print(
        f"sample: {result.sample.events:,} events, {result.sample.users} users, "
        f"{result.sample.insiders} planted insiders in {result.sample_dir}"
    )
    for report in result.ingests:
        _print_ingest(report)
    counts = result.store_counts
    console.print(
        f"store {result.store_url}: {counts['accepted']:,} events, "
        f"{counts['quarantined']:,} quarantined rows in {counts['batches']} batches"
    )
    if result.quarantine_sample.height:
        table = Table("location", "reason", title="quarantined (sample)")
        for row in result.quarantine_sample.iter_rows(named=True):
            table.add_row(row["location"], row["reason"])
        console.print(table)
    _print_run(result.run, settings.language)
    if result.replay is not None:
        replay = result.replay
        verdict = "[green]reproduced[/]" if replay.reproduced else "[red]NOT reproduced[/]"
        console.print(
            f"replay of {replay.user_id} {replay.window} from the store: {verdict} "
            f"({', '.join(k for k, ok in replay.checks.items() if ok)})"
        )


@app.command("run")
def run_cmd(
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit a new model even if one is stored.")
    ] = False,
) -> None:
    """The batch job: ingest new data, build features, score, store scores with evidence."""
    settings = _run(load_settings)
    with console.status("running: ingest, features, scoring..."):
        report = _run(lambda: pipeline.run(settings, refit=refit))
    _print_run(report, settings.language)


@app.command()
def score(
    input_path: Annotated[
        Path, typer.Option("--input", help="Events file, directory or CERT directory.")
    ],
    fmt: Annotated[Format, typer.Option("--format", help="Input format.")] = "auto",
    labels: Annotated[
        Path | None, typer.Option(help="labels.csv or CERT insiders.csv: print detection quality.")
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV to write, one row per user.")] = Path(
        "scores.csv"
    ),
) -> None:
    """One shot, no store: fit the unsupervised model on a file and score every user."""
    settings = _run(load_settings)
    with console.status("scoring..."):
        report = _run(
            lambda: pipeline.score_file(settings, input_path, fmt=fmt, output=output, labels=labels)
        )
    console.print(
        f"{report.ingested:,} events read = {report.accepted:,} accepted + "
        f"{report.quarantined:,} quarantined; {report.windows:,} user-days scored; "
        f"{report.users:,} users written to {report.output} ({report.seconds:.1f}s)"
    )
    if report.unknown_resources:
        console.print(
            f"[yellow]{report.unknown_resources:,} resource ids are not in the catalog "
            f"(default sensitivity used)[/]"
        )
    if report.metrics is not None:
        m = report.metrics
        table = Table(
            "metric (user level)", "value", title=f"{m.insiders} labelled of {m.users} users"
        )
        table.add_row("ROC-AUC", f"{m.roc_auc:.3f}")
        table.add_row("PR-AUC (average precision)", f"{m.pr_auc:.3f}")
        table.add_row("detection rate at 5% FPR", f"{m.detection_at_5pct_fpr:.1%}")
        table.add_row("detection rate at 10% FPR", f"{m.detection_at_10pct_fpr:.1%}")
        table.add_row(f"precision at k={m.k}", f"{m.precision_at_k:.1%}")
        console.print(table)


@app.command("explain")
def explain_cmd(
    user: Annotated[str, typer.Argument(help="User id.")],
    date: Annotated[str, typer.Option("--date", help="Window (local day), YYYY-MM-DD.")],
) -> None:
    """Replay a stored score from the store: same features, model, risk and reasons?"""
    settings = _run(load_settings)
    day = _date(date, "--date")
    result = _run(lambda: pipeline.explain_user(settings, user, day))
    stored, again = result.stored, result.replayed
    console.print(
        f"{user} {day}: risk {again['decayed_risk']:.1f} ({again['severity']}); stored "
        f"{stored['decayed_risk']:.1f} in run {stored['run_id']} with model "
        f"{stored['model_sha256'][:12]}, data up to batch {stored['data_batch_id']}"
    )
    for reason in result.reasons:
        console.print(f"  - {reason.text(settings.language)}")
    for name, ok in result.checks.items():
        console.print(f"  {'[green]same[/]' if ok else '[red]DIFFERENT[/]'}  {name}")
    if not result.reproduced:
        raise typer.Exit(3)


def _print_run(report: pipeline.RunReport, lang: str) -> None:
    for ingest_report in report.ingests:
        _print_ingest(ingest_report)
    model = f"model {report.model_sha256[:12]}" + (" (newly fitted)" if report.refitted else "")
    console.print(
        f"scored {report.windows_scored:,} user-days from {report.events:,} events with {model}; "
        f"stored {report.rows_stored:,} rows (run {report.run_id or '-'}) in {report.seconds:.1f}s"
    )
    if report.unknown_resources:
        console.print(
            f"[yellow]{report.unknown_resources:,} resource ids are not in the catalog "
            f"(default sensitivity used)[/]"
        )
    cut = report.capacity
    console.print(
        f"review capacity {cut.capacity}: flagging {cut.flagged.height} users, "
        f"implied cut-off risk >= {cut.cutoff:.1f}"
    )
    title = "위험 상위 사용자 (top users)" if lang == "ko" else "top users by risk"
    table = Table("user", "risk", "severity", "peak day", "reasons", title=title)
    for r in report.top.iter_rows(named=True):
        table.add_row(
            r["user_id"],
            f"{r['risk_score']:.1f}",
            r["severity"],
            str(r["peak_window"]),
            r["reasons"],
        )
    console.print(table)


def _ingest_with_progress(source: Source, settings: Settings) -> pipeline.IngestReport:
    with _progress() as progress:
        task = progress.add_task(f"ingest {source.name}", total=None)
        return pipeline.ingest(
            source, settings, on_batch=lambda b: progress.update(task, advance=b.ingested)
        )


def _print_ingest(report: pipeline.IngestReport) -> None:
    if not report.batches:
        console.print(f"{report.source}: nothing new (already ingested up to the watermark)")
        return
    console.print(
        f"{report.source}: ingested {report.ingested:,} = accepted {report.accepted:,} "
        f"+ quarantined {report.quarantined:,}"
        + (f"; {report.findings} possible log-tampering findings" if report.findings else "")
    )


def _date(text: str, option: str = "--start") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        err_console.print(f"[bold red]error:[/] {option} {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def main() -> None:
    """Entry point of the ``auditlens`` command."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
