"""Printing the jobs' reports: ingest, run, score, evaluate, train, explain, demo, sample.

Commands call one of these after the pipeline returned; nothing here decides an exit
code or calls the pipeline (except its wording, ``pipeline.say``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditlens import pipeline
from auditlens.cli.common import console, err_console
from auditlens.localtime import DEFAULT_ZONE, local_time
from auditlens.reports.evaluation_text import interval_caption, interval_of, span

if TYPE_CHECKING:
    import polars as pl


def print_sample(summary: pipeline.SampleSummary) -> None:
    """What `generate` wrote."""
    console.print(
        f"{summary.events:,} events for {summary.users:,} users over {summary.days} days, "
        f"{summary.insiders} planted insiders ({summary.seconds:.1f}s)"
    )
    for name, path in summary.files.items():
        console.print(f"  {name}: {path}")


def print_ingest(report: pipeline.IngestReport, lang: str = "ko") -> None:
    """One source's ingest: notices, counts, unknown actions, unreadable files, error."""
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
    print_unknown_actions(report.unknown_actions, report.actions_policy)
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


def print_unknown_actions(unknown: dict[str, int], policy: str) -> None:
    """Action types not in the vocabulary: what was done with them and how to map them."""
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


def print_quarantine(frame: pl.DataFrame) -> None:
    """Quarantined rows with their reason and location."""
    table = Table("batch", "location", "reason", "raw")
    for row in frame.iter_rows(named=True):
        table.add_row(str(row["batch_id"]), row["location"], row["reason"], row["raw"][:80])
    console.print(table)


def print_run(report: pipeline.RunReport, lang: str) -> None:
    """A scoring run: its ingests, what was scored with which model, the top users."""
    for ingest_report in report.ingests:
        print_ingest(ingest_report, lang)
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


def print_batch_job(job: pipeline.JobReport, lang: str) -> None:
    """`auditlens run`: the run, alerts raised for earlier runs, and this run's alerts."""
    print_run(job.run, lang)
    if job.earlier:
        runs = ", ".join(str(r.run_id) for r in job.earlier)
        console.print(f"[yellow]{pipeline.say(lang, 'pending_raised', runs=runs)}[/]")
        for report in job.earlier:
            print_raise(report)
    if job.alerts is not None:
        print_raise(job.alerts)


def count(n: int, noun: str, plural: str = "") -> str:
    """``n`` with ``noun`` in the right number: '1 alert', '2 alerts', '0 deliveries'.

    >>> count(1, "alert"), count(2, "alert"), count(0, "delivery", "deliveries")
    ('1 alert', '2 alerts', '0 deliveries')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def print_raise(report: pipeline.RaiseReport) -> None:
    """Alerts raised for a run: candidates, criteria and what intake did with them."""
    intake = report.intake
    crit = report.criteria
    console.print(
        f"run {report.run_id}: {count(report.candidates, 'user')} at or above "
        f"{crit.min_severity} (risk >= {crit.threshold_risk:.0f}, at most {crit.capacity}); "
        f"{count(len(intake.opened), 'alert')} opened, {len(intake.upgraded)} raised in "
        f"severity (paged again), {intake.absorbed} added to open alerts, "
        f"{intake.deduplicated} deduplicated, "
        f"{intake.suppressed} suppressed, {intake.already_handled} already handled; "
        f"{count(intake.routed, 'delivery', 'deliveries')} queued "
        f"({intake.held} held by quiet hours)",
        highlight=False,
    )
    if intake.unrouted:
        n = len(intake.unrouted)
        # escape(): Rich would read "[[alert_routes]]" as markup and print "[]"
        console.print(
            f"[yellow]{count(n, 'alert')} {'matches' if n == 1 else 'match'} no routing rule "
            f"({escape('add an [[alert_routes]] rule to auditlens.toml')}); "
            "see `auditlens alerts list`[/]",
            highlight=False,
        )


def print_dispatch(report: pipeline.DispatchReport, timezone: str = DEFAULT_ZONE) -> None:
    """Outbox delivery: counts, the next due time and every dead letter."""
    due = f"; next due {local_time(report.next_due, timezone)}" if report.next_due else ""
    console.print(
        f"delivered {report.sent} of {report.attempted} attempted, {report.retrying} to retry, "
        f"{len(report.dead)} dead-lettered, {report.cancelled} cancelled; "
        f"{report.pending} pending{due}",
        highlight=False,
    )
    for dead in report.dead:
        console.print(
            f"[bold red]dead letter[/] delivery #{dead.delivery_id} (alert #{dead.alert_id}) "
            f"to {dead.channel} after {count(dead.attempts, 'attempt')}: "
            f"{escape(dead.error)}",
            highlight=False,
        )


def print_demo(
    result: pipeline.DemoResult, lang: str, alert_lines: str = "", timezone: str = DEFAULT_ZONE
) -> None:
    """Everything the demo did, from the sample to the verified audit trail;
    ``alert_lines`` (what the console channel printed while delivering) go with the
    delivery."""
    console.rule("auditlens demo")
    console.print(
        f"sample: {result.sample.events:,} events, {result.sample.users} users, "
        f"{result.sample.insiders} planted insiders in {result.sample_dir}"
    )
    for report in result.ingests:
        print_ingest(report, lang)
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
    print_run(result.run, lang)
    if result.replay is not None:
        replay = result.replay
        verdict = "[green]reproduced[/]" if replay.reproduced else "[red]NOT reproduced[/]"
        console.print(
            f"replay of {replay.user_id} {replay.window} from the store: {verdict} "
            f"({', '.join(k for k, ok in replay.checks.items() if ok)})"
        )
    print_raise(result.alerts)
    console.out(alert_lines, end="", highlight=False)
    print_dispatch(result.delivery, timezone)
    if result.alerts_file is not None:
        console.print(f"alerts written to {result.alerts_file} (and printed above)")
    trail = result.trail
    if trail.ok:
        console.print(f"audit trail verified: {trail.entries} entries")
    else:
        console.print(
            f"[bold red]audit trail BROKEN at entry {trail.broken_seq}:[/] {trail.problem}"
        )


def print_score(report: pipeline.ScoreFileReport) -> None:
    """`auditlens score`: counts, unknown resources and actions, quality against labels."""
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
    print_unknown_actions(report.unknown_actions, report.actions_policy)
    if report.metrics is not None:
        m = report.metrics
        if m.small_sample:
            err_console.print(
                f"[bold red]only {m.insiders} labelled insiders: with fewer than 10 these "
                "figures hang on one person and say little (see the intervals)[/]",
                highlight=False,
                soft_wrap=True,
            )
        table = Table(
            "metric (user level)",
            "value",
            "95% interval",
            title=f"{m.insiders} labelled of {m.users} users",
        )
        ci = m.intervals
        rows = [
            ("ROC-AUC", "roc_auc", False),
            ("PR-AUC (average precision)", "pr_auc", False),
            ("detection rate at 5% FPR", "detection_at_5pct_fpr", True),
            ("detection rate at 10% FPR", "detection_at_10pct_fpr", True),
            (f"precision at k={m.k}", "precision_at_k", True),
        ]
        for label, figure, percent in rows:
            value = float(getattr(m, figure))
            shown = f"{value:.1%}" if percent else f"{value:.3f}"
            table.add_row(label, shown, span(interval_of(ci, figure), percent))
        console.print(table)
        if ci is not None:
            console.print(f"intervals: bootstrap over users, {ci.resamples} resamples")


def print_explanation(result: pipeline.Explanation, user: str, lang: str) -> None:
    """A replayed score next to the stored one, its reasons and every check."""
    stored, again = result.stored, result.replayed
    console.print(
        f"{user} {result.window}: risk {again['decayed_risk']:.1f} ({again['severity']}); stored "
        f"{stored['decayed_risk']:.1f} in run {stored['run_id']} with model "
        f"{stored['model_sha256'][:12]}, data up to batch {stored['data_batch_id']}"
    )
    for reason in result.reasons:
        console.print(f"  - {reason.text(lang)}")
    for name, ok in result.checks.items():
        console.print(f"  {'[green]same[/]' if ok else '[red]DIFFERENT[/]'}  {name}")


def print_evaluation(report: pipeline.EvaluationReport) -> None:
    """The pooled test folds side by side with their 95% intervals, the small-sample
    warning first, the false-positive comparison, the files."""
    if report.warning:
        err_console.print(f"[bold red]{report.warning}[/]", highlight=False, soft_wrap=True)
    if report.fallback:
        console.print(f"[yellow]{report.fallback}[/]")
    rows = []
    for name, m in report.pooled.items():
        ci = report.intervals.get(name)
        rows.append(
            [
                name,
                _with_interval(f"{m.roc_auc:.3f}", interval_of(ci, "roc_auc")),
                _with_interval(f"{m.pr_auc:.3f}", interval_of(ci, "pr_auc")),
                _with_interval(
                    f"{m.detection_at_5pct_fpr:.1%}", interval_of(ci, "detection_at_5pct_fpr"), True
                ),
                _with_interval(
                    f"{m.detection_at_10pct_fpr:.1%}",
                    interval_of(ci, "detection_at_10pct_fpr"),
                    True,
                ),
                _with_interval(f"{m.precision_at_k:.1%}", interval_of(ci, "precision_at_k"), True),
                str(m.false_positives_at_recall),
            ]
        )
    headers = ["model", "ROC-AUC", "PR-AUC", "det@5%", "det@10%", "prec@k"]
    headers.append(f"FP@{report.recall_target:.0%}")
    # figures never shrink below their widest line (an interval cut to "0.87-1.…" misleads);
    # on a narrow terminal the model names and headers give way instead
    widths = [max(len(Text.from_markup(line)) for row in rows for line in row[i].split("\n"))
              for i in range(len(headers))] if rows else [0] * len(headers)  # fmt: skip
    table = Table(title="pooled test folds (window level)")
    for i, header in enumerate(headers):
        figure = 0 < i < len(headers) - 1
        table.add_column(header, min_width=widths[i] if figure else None)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    some = next(iter(report.intervals.values()), None)
    if some is not None:
        console.print(
            interval_caption(report.language, some.resamples, f"{report.recall_target:.0%}")
        )
    comparison = pipeline.false_positive_comparison(
        report.pooled, report.recall_target, report.language
    )
    if comparison:
        console.print(comparison)
    if report.ece is not None:
        ece_ci = report.intervals.get("ensemble")
        shown = span(ece_ci.ece if ece_ci else None)
        console.print(
            f"ensemble calibration error (ECE): {report.ece:.4f}" + (f" ({shown})" if shown else "")
        )
    console.print(f"report: {report.out_dir} ({report.seconds:.0f}s)")
    for path in report.files:
        console.print(f"  {path}")


def _with_interval(value: str, interval: tuple[float, float] | None, percent: bool = False) -> str:
    """The figure, and its 95% interval on the line below (kept narrow for a terminal)."""
    shown = span(interval, percent)
    return f"{value}\n[dim]{shown}[/]" if shown else value


def print_training(report: pipeline.TrainReport) -> None:
    """What `auditlens train` registered, or why it kept the unsupervised model."""
    if not report.trained:
        console.print(f"[yellow]{report.message}[/]")
        return
    console.print(
        f"{report.message}; model {report.sha256[:12] if report.sha256 else '-'} registered "
        f"({report.seconds:.0f}s); `auditlens run` now scores with it"
    )
