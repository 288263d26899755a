"""Command line: verbs only, each calling one function; errors as one clear line."""

from __future__ import annotations

import dataclasses
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
from auditlens.vocabulary import DateOrder

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
alerts_app = typer.Typer(
    help="Alerts: raise, dispatch, list, show and triage (ack, dismiss, escalate, close...).",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(audit_app, name="audit")

console = Console()
err_console = Console(stderr=True)
_state: dict[str, bool] = {"debug": False}
T = TypeVar("T")

Format = Literal["auto", "csv", "parquet", "jsonl", "xlsx", "cert"]
Encoding = Literal["utf-8", "cp949", "euc-kr", "auto"]

#: Exit code of `ingest` and `run` when a row was quarantined or a file could not be read
#: (the data that could be read is stored); `--allow-quarantine` turns it into 0.
EXIT_QUARANTINE = 3
_QUARANTINE_HELP = (
    f"Exit 0 even when rows were quarantined or files unreadable (default: exit "
    f"{EXIT_QUARANTINE}, so cron and schedulers see it)."
)
AllowQuarantine = Annotated[bool, typer.Option("--allow-quarantine", help=_QUARANTINE_HELP)]

# How a command reads events: the same options on ingest, score, train and evaluate.
FormatOpt = Annotated[Format, typer.Option("--format", help="Input format.")]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Read like the configured [sources.NAME] (its column map, value map, encoding, "
        "date order); alone: read that source itself.",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping CUSTOMER=CANONICAL, e.g. login_time=timestamp."),
]
ValueMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--value-map",
        help='Value map file: .toml ([action_type] then "조회" = "view") or .csv '
        "(column,value,canonical). See docs/ingestion.md.",
    ),
]
EncodingOpt = Annotated[
    Encoding | None,
    typer.Option(
        "--encoding",
        help="Text encoding of CSV/JSON Lines files: utf-8 (default), cp949, euc-kr, or "
        "auto (UTF-8, else CP949, with a notice).",
    ),
]
DateOrderOpt = Annotated[
    DateOrder | None,
    typer.Option(
        "--date-order",
        help="How dates not starting with the year read: DMY (01/09/2026 = 1 Sep) or MDY.",
    ),
]


def _inputs(
    path: Path | None,
    source: str | None,
    fmt: Format,
    mapping: list[str] | None,
    value_map: Path | None,
    encoding: str | None,
    date_order: DateOrder | None,
) -> pipeline.InputOptions:
    return pipeline.InputOptions(
        path=path,
        source=source,
        format=fmt,
        column_map=tuple(mapping or ()),
        value_map=value_map,
        encoding=encoding,
        date_order=date_order,
    )


def _run(action: Callable[[], T]) -> T:
    """Run a command body; an AuditlensError becomes one line on stderr and its exit code
    (1, or e.g. 5 for "no events", 6 when another process holds the store's lock)."""
    try:
        return action()
    except AuditlensError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


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


@db_app.command("roles")
def db_roles(
    app_role: Annotated[
        str, typer.Option("--app-role", help="The application's role (the user of store_url).")
    ] = "auditlens_app",
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the SQL as the owner (store_owner_url).")
    ] = False,
    audit: Annotated[
        bool, typer.Option("--audit", help="For the separate audit database (audit_store_url).")
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the app role's login password."),
    ] = None,
) -> None:
    """PostgreSQL: print (or --apply) the SQL giving the app role SELECT, INSERT on the
    audit trail and no ownership, so it cannot disable the trail's triggers or drop it."""
    from auditlens.pipeline.controls import app_role as plan_role

    report = _run(
        lambda: plan_role(
            load_settings(), app_role, apply=apply, audit=audit, password_env=password_env
        )
    )
    console.print(f"-- {report.database}", highlight=False, soft_wrap=True)
    for statement in report.sql:
        console.print(f"{statement};", highlight=False, soft_wrap=True)
    if report.applied:
        console.print(f"-- applied: {app_role} can read and append the audit trail, not change it")


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
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    id_scope: Annotated[
        Literal["source", "file"] | None,
        typer.Option(
            "--id-scope",
            help="Where event_id is unique: 'file' when ids restart in every file.",
        ),
    ] = None,
    allow_quarantine: AllowQuarantine = False,
) -> None:
    """Validate and store new events; bad rows are quarantined with a reason.

    Exit codes: 0 all stored; 1 error (a failing source is reported after the others
    were read); 3 rows were quarantined or a file could not be read (see `auditlens
    quarantine`), unless --allow-quarantine.
    """
    settings = _run(load_settings)
    inputs = dataclasses.replace(
        _inputs(path, source, fmt, mapping, value_map, encoding, date_order),
        id_scope=id_scope,
        settle_seconds=pipeline.SETTLE_SECONDS,
    )
    sources = _run(lambda: pipeline.sources_to_ingest(settings, inputs))
    reports = []
    for each in sources:
        report = _run(lambda src=each: _ingest_with_progress(src, settings))  # type: ignore[misc]
        _print_ingest(report, settings.language)
        reports.append(report)
    _exit_for(reports, settings.language, allow_quarantine)


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
        _print_ingest(report, settings.language)
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
    _print_raise(result.alerts)
    _print_dispatch(result.delivery)
    if result.alerts_file is not None:
        console.print(f"alerts written to {result.alerts_file} (and printed above)")
    trail = result.trail
    if trail.ok:
        console.print(f"audit trail verified: {trail.entries} entries")
    else:
        console.print(
            f"[bold red]audit trail BROKEN at entry {trail.broken_seq}:[/] {trail.problem}"
        )


@app.command("run")
def run_cmd(
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Fit a new unsupervised model (a trained ensemble is kept; see --unsupervised).",
        ),
    ] = False,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised", help="Replace a trained ensemble with a new unsupervised model."
        ),
    ] = False,
    alerts: Annotated[
        bool, typer.Option("--alerts/--no-alerts", help="Record detections and open alerts.")
    ] = True,
    wait: Annotated[
        float,
        typer.Option(
            min=0.0, help="Wait up to N seconds for another run on the store (then exit 6)."
        ),
    ] = pipeline.DEFAULT_RUN_WAIT,
    allow_quarantine: AllowQuarantine = False,
) -> None:
    """The batch job: ingest, features, score, store with evidence, raise alerts.

    Exit codes: 0 done; 1 error (a failing source is reported, the others are still
    ingested and scored); 3 rows were quarantined or a file could not be read, unless
    --allow-quarantine.
    """
    settings = _run(load_settings)
    with console.status("running: ingest, features, scoring, alerts..."):
        job = _run(
            lambda: pipeline.batch_job(
                settings, refit=refit, unsupervised=unsupervised, alerts=alerts, wait=wait
            )
        )
    _print_run(job.run, settings.language)
    if job.earlier:
        runs = ", ".join(str(r.run_id) for r in job.earlier)
        console.print(f"[yellow]{pipeline.say(settings.language, 'pending_raised', runs=runs)}[/]")
        for report in job.earlier:
            _print_raise(report)
    if job.alerts is not None:
        _print_raise(job.alerts)
    _exit_for(job.run.ingests, settings.language, allow_quarantine)


def _exit_for(reports: list[pipeline.IngestReport], lang: str, allow_quarantine: bool) -> None:
    """Exit 1 when a source failed, 3 when something was quarantined (unless allowed)."""
    failed = [r for r in reports if r.error]
    rows = sum(r.quarantined - len(r.unreadable) for r in reports)
    files = sum(len(r.unreadable) for r in reports)
    if failed:
        raise typer.Exit(1)
    if (rows or files) and not allow_quarantine:
        if lang == "ko":
            text = (
                f"격리된 행 {rows:,}개, 읽지 못한 파일 {files}개 — `auditlens quarantine`으로 "
                f"확인하십시오 (종료 코드 {EXIT_QUARANTINE}; --allow-quarantine이면 0)"
            )
        else:
            text = (
                f"{rows:,} rows quarantined, {files} files unreadable — see `auditlens "
                f"quarantine` (exit {EXIT_QUARANTINE}; 0 with --allow-quarantine)"
            )
        err_console.print(f"[yellow]{text}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_QUARANTINE)


@app.command()
def score(
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Events file, directory or CERT directory.")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    labels: Annotated[
        Path | None, typer.Option(help="labels.csv or CERT insiders.csv: print detection quality.")
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV to write, one row per user.")] = Path(
        "scores.csv"
    ),
) -> None:
    """One shot, no store: fit the unsupervised model on a file and score every user."""
    settings = _run(load_settings)
    inputs = _inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with console.status("scoring..."):
        report = _run(lambda: pipeline.score_file(settings, inputs, output=output, labels=labels))
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
    _print_unknown_actions(report.unknown_actions, report.actions_policy)
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
    date: Annotated[
        str | None,
        typer.Option("--date", help="Window (local day), YYYY-MM-DD; default: the user's peak."),
    ] = None,
) -> None:
    """Replay a stored score from the store: same features, model, risk and reasons?"""
    settings = _run(load_settings)
    day = _date(date, "--date") if date else None
    result = _run(lambda: pipeline.explain_user(settings, user, day))
    stored, again = result.stored, result.replayed
    console.print(
        f"{user} {result.window}: risk {again['decayed_risk']:.1f} ({again['severity']}); stored "
        f"{stored['decayed_risk']:.1f} in run {stored['run_id']} with model "
        f"{stored['model_sha256'][:12]}, data up to batch {stored['data_batch_id']}"
    )
    for reason in result.reasons:
        console.print(f"  - {reason.text(settings.language)}")
    for name, ok in result.checks.items():
        console.print(f"  {'[green]same[/]' if ok else '[red]DIFFERENT[/]'}  {name}")
    if not result.reproduced:
        raise typer.Exit(3)


# --- alerts and the audit trail ------------------------------------------------------------

Actor = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Admins only: act on behalf of this principal (recorded as admin on behalf of "
        "NAME). Without it you act as your own OS account, looked up in [principals].",
    ),
]
ReasonCode = Annotated[
    str,
    typer.Option(
        "--reason", help="Reason code (see `auditlens alerts reasons`), e.g. false_positive."
    ),
]
Note = Annotated[str, typer.Option("--note", help="Free text kept with the decision.")]
AlertId = Annotated[int, typer.Argument(help="Alert id (see `auditlens alerts list`).")]


@alerts_app.command("raise")
def alerts_raise(
    run_id: Annotated[
        int | None, typer.Option("--run", help="Score run id; default: the newest.")
    ] = None,
) -> None:
    """Open alerts for a run's users whose risk crossed alert_min_severity; fill the outbox."""
    report = _run(lambda: pipeline.raise_alerts(load_settings(), run_id=run_id))
    _print_raise(report)


@alerts_app.command("dispatch")
def alerts_dispatch(
    wait: Annotated[
        float, typer.Option(min=0.0, help="Keep delivering retries/held alerts for N seconds.")
    ] = 0.0,
) -> None:
    """Deliver what is due in the outbox (retries with backoff; dead letters reported)."""
    report = _run(lambda: pipeline.dispatch_alerts(load_settings(), wait_seconds=wait))
    _print_dispatch(report)
    if report.dead:
        raise typer.Exit(4)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Alerts to show at most.")] = 50,
) -> None:
    """Alerts, newest first, with their state and deliveries."""
    settings = _run(load_settings)
    listing = _run(
        lambda: pipeline.list_alerts(settings, statuses=tuple(status or ()), limit=limit)
    )
    table = Table("id", "user", "risk", "severity", "status", "day", "scenario", "deliveries")
    for alert in listing.alerts:
        states: dict[str, int] = {}
        for item in listing.deliveries.get(alert.id, []):
            states[item.status] = states.get(item.status, 0) + 1
        table.add_row(
            str(alert.id),
            alert.user_id,
            f"{alert.risk:.1f}",
            alert.severity,
            alert.status
            + (f" (by {alert.close_requested_by})" if alert.close_requested_by else ""),
            str(alert.window)
            + (
                f" ({pipeline.say(settings.language, 'tied_days', n=len(alert.windows) - 1)})"
                if len(alert.windows) > 1
                else ""
            ),
            alert.scenario,
            ", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "-",
        )
    console.print(table)
    box = listing.outbox
    console.print(
        f"outbox: {box['pending']} pending, {box['sent']} sent, {box['dead']} dead-lettered, "
        f"{box['cancelled']} cancelled"
    )


@alerts_app.command("show")
def alerts_show(alert_id: AlertId) -> None:
    """One alert: its incident days, reasons, and every detection it absorbed."""
    settings = _run(load_settings)
    lang = settings.language
    detail = _run(lambda: pipeline.show_alert(settings, alert_id))
    alert = detail.alert
    console.print(
        f"alert #{alert.id} {alert.user_id}: risk {alert.risk:.1f} ({alert.severity}), "
        f"{alert.status}; days {', '.join(d.isoformat() for d in alert.windows)}",
        highlight=False,
        soft_wrap=True,
    )
    for line in alert.reason_texts(lang)[:5]:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)
    table = Table("kind", "run", "score", "days", "risk", "severity", "top reason")
    for e in detail.evidence:
        top = e["reasons"][0] if e["reasons"] else {}
        table.add_row(
            e["kind"],
            str(e["run_id"]),
            str(e["score_id"]),
            ", ".join(d.isoformat() for d in e["windows"]),
            f"{e['risk']:.1f}",
            e["severity"],
            str(top.get(lang) or top.get("en") or "-"),
        )
    console.print(table)
    states = ", ".join(f"{i.channel} {i.action} {i.status}" for i in detail.deliveries)
    console.print(f"deliveries: {states or '-'}", highlight=False, soft_wrap=True)


def _decide(
    action: str,
    alert_id: int,
    actor: str | None,
    reason: str,
    note: str,
    suppress_days: float | None = None,
) -> None:
    decision = _run(
        lambda: pipeline.decide_alert(
            load_settings(),
            alert_id,
            action,
            as_name=actor,
            reason=reason,
            note=note,
            suppress_days=suppress_days,
        )
    )
    alert = decision.alert
    behalf = decision.entry.criteria.get("on_behalf_of")
    console.print(
        f"alert #{alert.id} ({alert.user_id}, {alert.severity}) is now {alert.status}; "
        f"audit entry {decision.entry.seq} by {decision.entry.actor}"
        + (f" on behalf of {behalf}" if behalf else "")
    )
    if decision.awaiting_approval:
        console.print(
            f"four-eyes: another principal with the approver role must approve "
            f"(`auditlens alerts approve {alert.id}`) / 다른 승인자의 승인이 필요합니다"
        )
    if decision.label_candidate:
        console.print("stored as a false-positive label candidate for the supervised model")
    if decision.suppressed_until is not None:
        console.print(
            f"{alert.scenario} alerts for {alert.user_id} suppressed until "
            f"{decision.suppressed_until:%Y-%m-%d %H:%M} UTC"
        )
    if decision.resolves:
        console.print(f"resolve queued for: {', '.join(decision.resolves)}")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: AlertId, actor: Actor = None, reason: ReasonCode = "", note: Note = ""
) -> None:
    """Acknowledge an alert: someone is looking at it."""
    _decide("acknowledge", alert_id, actor, reason, note)


@alerts_app.command("escalate")
def alerts_escalate(
    alert_id: AlertId, actor: Actor = None, reason: ReasonCode = "", note: Note = ""
) -> None:
    """Escalate an alert (e.g. to the compliance officer or an investigation)."""
    _decide("escalate", alert_id, actor, reason, note)


@alerts_app.command("dismiss")
def alerts_dismiss(
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "false_positive",
    note: Note = "",
    suppress_days: Annotated[
        float | None,
        typer.Option(min=0.0, help="Suppress this scenario for the user N days (default: config)."),
    ] = None,
) -> None:
    """Dismiss as false positive: becomes a label candidate; optionally suppresses repeats."""
    _decide("dismiss", alert_id, actor, reason, note, suppress_days)


@alerts_app.command("close")
def alerts_close(
    alert_id: AlertId, actor: Actor = None, reason: ReasonCode = "", note: Note = ""
) -> None:
    """Close an alert (critical ones wait for a second person's approval)."""
    _decide("close", alert_id, actor, reason, note)


@alerts_app.command("approve")
def alerts_approve(
    alert_id: AlertId, actor: Actor = None, reason: ReasonCode = "", note: Note = ""
) -> None:
    """Approve another person's request to close an alert (four-eyes)."""
    _decide("approve", alert_id, actor, reason, note)


@alerts_app.command("reopen")
def alerts_reopen(
    alert_id: AlertId, actor: Actor = None, reason: ReasonCode = "", note: Note = ""
) -> None:
    """Reopen a closed or dismissed alert (or withdraw a close request)."""
    _decide("reopen", alert_id, actor, reason, note)


@alerts_app.command("reasons")
def alerts_reasons() -> None:
    """The reason codes a decision can give (--reason), with Korean and English labels."""
    from auditlens.alerts.reasons import LABELS

    table = Table("code", "설명", "meaning")
    for code, (ko, en) in LABELS.items():
        table.add_row(code.value, ko, en)
    console.print(table)


@alerts_app.command("deliveries")
def alerts_deliveries(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="pending, sent, dead or cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Deliveries to show at most.")] = 100,
) -> None:
    """Outbox deliveries with every attempt (e.g. --status dead for the dead letters)."""
    settings = _run(load_settings)
    rows = _run(
        lambda: pipeline.list_deliveries(settings, statuses=tuple(status or ()), limit=limit)
    )
    table = Table(
        "id", "alert", "channel", "rule", "action", "status", "attempts", "due", "last error"
    )
    for item, attempts in rows:
        table.add_row(
            str(item.id),
            str(item.alert_id),
            item.channel,
            item.rule_id,
            item.action,
            item.status,
            str(len(attempts)),
            f"{item.not_before:%Y-%m-%d %H:%M:%S}",
            (item.last_error or "")[:80],
        )
    console.print(table)


@alerts_app.command("requeue")
def alerts_requeue(
    delivery_id: Annotated[int, typer.Argument(help="Dead-lettered delivery id.")],
    actor: Actor = None,
    note: Note = "",
) -> None:
    """Put a dead-lettered delivery back in the outbox (after fixing the channel)."""
    item = _run(
        lambda: pipeline.requeue_delivery(load_settings(), delivery_id, as_name=actor, note=note)
    )
    console.print(f"delivery #{item.id} to {item.channel} is pending again")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier verify and kept elsewhere (catches truncation "
            "and rewrites; repeat it with older heads to narrow a rewrite down)."
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="File of 'SEQ HASH' lines kept outside the database: names the first "
            "rewritten entry; new entries are appended after a clean verify."
        ),
    ] = None,
) -> None:
    """Recompute the hash chain, replay the trail against the tables and check every lake
    part's sha256 (exit 4 when any is broken)."""
    result = _run(
        lambda: pipeline.verify_trail(load_settings(), anchor=anchor, checkpoints=checkpoints)
    )
    lake = _run(lambda: pipeline.verify_lake(load_settings()))
    if lake.ok:
        console.print(f"event lake verified: {lake.parts} parts match their recorded sha256")
    else:
        console.print(f"[bold red]event lake BROKEN:[/] {lake.problem}", soft_wrap=True)
    if result.ok:
        console.print(
            f"audit trail verified: {result.entries} entries; "
            f"head {result.head_seq}:{result.head_hash}; alerts, suppressions and label "
            "candidates match the trail / 감사 로그 검증 완료",
            soft_wrap=True,
        )
        if not lake.ok:
            raise typer.Exit(4)
        return
    if result.broken_seq is not None:
        console.print(
            f"[bold red]audit trail BROKEN at entry {result.broken_seq}:[/] {result.problem} "
            f"({result.entries} entries verified before it) / 감사 로그 변조 탐지",
            soft_wrap=True,
        )
    if result.mismatches:
        console.print(
            f"[bold red]tables differ from the audit trail ({len(result.mismatches)}):[/] "
            f"{result.mismatches[0]}",
            soft_wrap=True,
        )
        for line in result.mismatches[1:20]:
            console.print(f"  {line}", soft_wrap=True, highlight=False)
    raise typer.Exit(4)


@audit_app.command("reconcile")
def audit_reconcile(
    apply: Annotated[
        bool, typer.Option("--apply", help="Restore the rows (else only list).")
    ] = False,
    actor: Actor = None,
) -> None:
    """Admins: make the alert tables agree with the audit trail again (each repair audited)."""
    from auditlens.pipeline.controls import reconcile

    report = _run(lambda: reconcile(load_settings(), apply=apply, as_name=actor))
    verb = "restored from the trail" if report.applied else "can be restored (--apply)"
    for line in report.fixable:
        console.print(f"{verb}: {line}", highlight=False, soft_wrap=True)
    for line in report.left:
        console.print(f"[yellow]needs a person:[/] {line}", highlight=False, soft_wrap=True)
    if not report.fixable and not report.left:
        console.print("the tables agree with the audit trail / 테이블과 감사 로그 일치")
    if report.left:
        raise typer.Exit(4)


@audit_app.command("log")
def audit_log_cmd(
    user: Annotated[
        str | None, typer.Option("--user", help="Only entries about this user.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only entries by this actor.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this local day, YYYY-MM-DD.")
    ] = None,
    decisions: Annotated[bool, typer.Option("--decisions", help="Only human decisions.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Newest N entries.")] = 200,
) -> None:
    """Who decided what, when, and on what criteria."""
    settings = _run(load_settings)
    day = _date(since, "--since") if since else None
    rows = _run(
        lambda: pipeline.audit_log(
            settings, user=user, actor=actor, since=day, decisions_only=decisions, limit=limit
        )
    )
    for e in rows:
        crit = {k: v for k, v in e.criteria.items() if v not in (None, [], "")}
        about = f" user={e.subject}" if e.subject else ""
        reason = f" reason={e.reason_code}" if e.reason_code else ""
        console.print(
            f"#{e.seq} {pipeline.local_time(e.at, settings.timezone)} {e.actor} "
            f"[bold]{e.action}[/] {e.target}{about}{reason}" + (f" — {e.note}" if e.note else ""),
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            "    criteria: " + json.dumps(crit, ensure_ascii=False, default=str),
            highlight=False,
            soft_wrap=True,
        )
    if not rows:
        console.print("no audit entries match")


def _print_raise(report: pipeline.RaiseReport) -> None:
    intake = report.intake
    crit = report.criteria
    console.print(
        f"run {report.run_id}: {report.candidates} users at or above {crit.min_severity} "
        f"(risk >= {crit.threshold_risk:.0f}, at most {crit.capacity}); "
        f"{len(intake.opened)} alerts opened, {len(intake.upgraded)} raised in severity "
        f"(paged again), {intake.absorbed} added to open alerts, {intake.deduplicated} "
        "deduplicated, "
        f"{intake.suppressed} suppressed, {intake.already_handled} already handled; "
        f"{intake.routed} deliveries queued ({intake.held} held by quiet hours)"
    )
    if intake.unrouted:
        console.print(
            f"[yellow]{len(intake.unrouted)} alerts match no routing rule "
            "(configure [[alert_routes]]); see `auditlens alerts list`[/]"
        )


def _print_dispatch(report: pipeline.DispatchReport) -> None:
    due = f"; next due {report.next_due:%Y-%m-%d %H:%M:%S} UTC" if report.next_due else ""
    console.print(
        f"delivered {report.sent} of {report.attempted} attempted, {report.retrying} to retry, "
        f"{len(report.dead)} dead-lettered, {report.cancelled} cancelled; "
        f"{report.pending} pending{due}"
    )
    for dead in report.dead:
        console.print(
            f"[bold red]dead letter[/] delivery #{dead.delivery_id} (alert #{dead.alert_id}) "
            f"to {dead.channel} after {dead.attempts} attempts: {dead.error}",
            highlight=False,
        )


@app.command()
def evaluate(
    labels: Annotated[Path, typer.Option(help="Past findings: labels.csv or CERT insiders.csv.")],
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Events to use instead of the store.")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    out: Annotated[Path | None, typer.Option(help="Report directory.")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Time-ordered test folds.")] = 3,
) -> None:
    """Time-aware evaluation: unsupervised, each classifier and the ensemble side by side."""
    settings = _run(load_settings)
    inputs = _inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with console.status("evaluating (time-aware cross-validation)..."):
        report = _run(
            lambda: pipeline.evaluate(settings, labels, inputs=inputs, out_dir=out, n_folds=folds)
        )
    if report.fallback:
        console.print(f"[yellow]{report.fallback}[/]")
    columns = ["model", "ROC-AUC", "PR-AUC", "det@5%FPR", "det@10%FPR", "prec@k"]
    columns.append(f"FP@recall {report.recall_target:.0%}")
    table = Table(*columns, title="pooled test folds (window level)")
    for name, m in report.pooled.items():
        table.add_row(
            name, f"{m.roc_auc:.3f}", f"{m.pr_auc:.3f}", f"{m.detection_at_5pct_fpr:.1%}",
            f"{m.detection_at_10pct_fpr:.1%}", f"{m.precision_at_k:.1%}",
            str(m.false_positives_at_recall),
        )  # fmt: skip
    console.print(table)
    comparison = pipeline.false_positive_comparison(report.pooled, report.recall_target)
    if comparison:
        console.print(comparison)
    if report.ece is not None:
        console.print(f"ensemble calibration error (ECE): {report.ece:.4f}")
    console.print(f"report: {report.out_dir} ({report.seconds:.0f}s)")
    for path in report.files:
        console.print(f"  {path}")


@app.command()
def train(
    labels: Annotated[Path, typer.Option(help="Past findings: labels.csv or CERT insiders.csv.")],
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Events to use instead of the store.")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
) -> None:
    """Fit the stacked ensemble on past findings and register it for `auditlens run`."""
    settings = _run(load_settings)
    inputs = _inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with console.status("training..."):
        report = _run(lambda: pipeline.train(settings, labels, inputs=inputs))
    if not report.trained:
        console.print(f"[yellow]{report.message}[/]")
        return
    console.print(
        f"{report.message}; model {report.sha256[:12] if report.sha256 else '-'} registered "
        f"({report.seconds:.0f}s); `auditlens run` now scores with it"
    )


def _print_run(report: pipeline.RunReport, lang: str) -> None:
    for ingest_report in report.ingests:
        _print_ingest(ingest_report, lang)
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
    for note in report.notes:
        console.print(f"[yellow]{note}[/]", highlight=False, soft_wrap=True)
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
            str(r["peak_window"])
            + (
                f" ({pipeline.say(lang, 'tied_days', n=len(r['peak_windows']) - 1)})"
                if len(r["peak_windows"]) > 1
                else ""
            ),
            r["reasons"],
        )
    console.print(table)


def _ingest_with_progress(source: Source, settings: Settings) -> pipeline.IngestReport:
    with _progress() as progress:
        task = progress.add_task(f"ingest {source.name}", total=None)
        return pipeline.ingest(
            source,
            settings,
            on_batch=lambda b: progress.update(task, advance=b.ingested),
            keep_going=True,
        )


def _print_ingest(report: pipeline.IngestReport, lang: str = "ko") -> None:
    for batch in report.batches:
        for english, korean in batch.notices:
            err_console.print(
                f"[yellow]{'알림' if lang == 'ko' else 'notice'}:[/] "
                f"{korean if lang == 'ko' else english}",
                highlight=False,
                soft_wrap=True,
            )
    if report.batches:
        console.print(
            f"{report.source}: ingested {report.ingested:,} = accepted {report.accepted:,} "
            f"+ quarantined {report.quarantined:,}"
            + (f"; {report.findings} possible log-tampering findings" if report.findings else "")
        )
    elif not report.error:
        console.print(f"{report.source}: nothing new (already ingested up to the watermark)")
    _print_unknown_actions(report.unknown_actions, report.actions_policy)
    for batch in report.batches:
        if batch.unreadable:
            err_console.print(
                f"[yellow]{report.source}: file not read, quarantined:[/] {batch.unreadable}",
                highlight=False,
                soft_wrap=True,
            )
    if report.error:
        err_console.print(
            f"[bold red]error:[/] {report.source} stopped: {report.error}",
            highlight=False,
            soft_wrap=True,
        )


def _print_unknown_actions(unknown: dict[str, int], policy: str) -> None:
    if not unknown:
        return
    if policy == "keep":
        done, then = "kept as given (counted as 'other')", "to count them as what they are"
    else:
        done, then = "quarantined", 'or set unknown_actions = "keep"'
    listed = ", ".join(f"{value!r} x{count:,}" for value, count in list(unknown.items())[:10])
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    console.print(
        f"[yellow]unknown action types, {done}: {listed}{more}; map them in "
        f"value_map.action_type (--value-map FILE) {then}[/]",
        highlight=False,
        soft_wrap=True,
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
