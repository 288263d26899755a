# size: one printer per job report (ingest, run, raise, dispatch, demo, score, explain, evaluate,
# train), each in Korean and English; splitting them would only scatter the shared helpers.
"""Printing the jobs' reports: ingest, run, score, evaluate, train, explain, demo, sample.

Commands call one of these after the pipeline returned; nothing here decides an exit
code or calls the pipeline (except its wording, ``pipeline.say``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditlens import pipeline
from auditlens.cli.common import console, err_console
from auditlens.cli.tables import Column, feature_label, print_table
from auditlens.features.docs import show_value
from auditlens.i18n import pick, say, severity_label
from auditlens.localtime import DEFAULT_ZONE, local_time
from auditlens.reports.evaluation_text import interval_caption, interval_of, span

if TYPE_CHECKING:
    import polars as pl

    from auditlens.detect.metrics import UserMetrics as Metrics
    from auditlens.pipeline.replay import Contribution


def units(n: int, lang: str, unit: str, noun: str, plural: str = "") -> str:
    """``n`` with its Korean counter ('3명') or English noun in the right number ('3 users').

    >>> units(3, "ko", "명", "user"), units(1, "en", "명", "user")
    ('3명', '1 user')
    """
    return f"{n:,}{unit}" if lang == "ko" else count(n, noun, plural)


def print_sample(summary: pipeline.SampleSummary, lang: str) -> None:
    """What `generate` wrote."""
    console.print(
        say(
            lang,
            "render.sample",
            events=summary.events,
            users=summary.users,
            days=summary.days,
            insiders=summary.insiders,
            seconds=summary.seconds,
        ),
        highlight=False,
    )
    for name, path in summary.files.items():
        console.print(f"  {name}: {path}", highlight=False)


def print_ingest(report: pipeline.IngestReport, lang: str) -> None:
    """One source's ingest: notices, counts, unknown actions, unreadable files, error."""
    for batch in report.batches:
        for english, korean in batch.notices:
            err_console.print(
                f"[yellow]{pick(lang, 'notice', '알림')}:[/] "
                f"{escape(korean if lang == 'ko' else english)}",
                highlight=False,
                soft_wrap=True,
            )
    if report.batches:
        tampering = say(lang, "render.tampering", n=report.findings) if report.findings else ""
        console.print(
            say(
                lang,
                "render.ingested",
                source=report.source,
                ingested=report.ingested,
                accepted=report.accepted,
                quarantined=report.quarantined,
            )
            + tampering,
            highlight=False,
        )
    elif not report.error:
        console.print(say(lang, "render.nothing_new", source=report.source), highlight=False)
    print_unknown_actions(report.unknown_actions, report.actions_policy, lang)
    for batch in report.batches:
        if batch.unreadable:
            err_console.print(
                f"[yellow]{escape(say(lang, 'render.unreadable', source=report.source))}[/] "
                f"{escape(str(batch.unreadable))}",
                highlight=False,
                soft_wrap=True,
            )
    if report.error:
        error = (report.error_ko or report.error) if lang == "ko" else report.error
        stopped = say(lang, "render.stopped", source=report.source, error=error)
        err_console.print(
            f"[bold red]{pick(lang, 'error', '오류')}:[/] {escape(stopped)}",
            highlight=False,
            soft_wrap=True,
        )


def print_unknown_actions(unknown: dict[str, int], policy: str, lang: str) -> None:
    """Action types not in the vocabulary: what was done with them and how to map them."""
    if not unknown:
        return
    listed = ", ".join(
        f"{value!r} {count:,}회" if lang == "ko" else f"{value!r} x{count:,}"
        for value, count in list(unknown.items())[:10]
    )
    more = say(lang, "render.more", n=len(unknown) - 10) if len(unknown) > 10 else ""
    key = "render.unknown_kept" if policy == "keep" else "render.unknown_quarantined"
    console.print(
        f"[yellow]{escape(say(lang, key, listed=listed, more=more))}[/]",
        highlight=False,
        soft_wrap=True,
    )


def print_quarantine(frame: pl.DataFrame, lang: str) -> None:
    """Quarantined rows with their reason and location."""
    from auditlens.validate import quarantine_reason

    columns = [
        Column(pick(lang, "batch", "배치")),
        Column(pick(lang, "location", "위치"), text=True),
        Column(pick(lang, "reason", "사유"), text=True),
        Column(pick(lang, "raw", "원본"), text=True),
    ]
    rows = [
        [
            str(r["batch_id"]),
            str(r["location"]),
            quarantine_reason(str(r["reason"]), lang),
            str(r["raw"])[:80],
        ]
        for r in frame.iter_rows(named=True)
    ]
    print_table(console, columns, rows, lang=lang)


def _tied(lang: str, day: object, days: Sequence[object]) -> str:
    """A peak day, with how many more days tie with it."""
    more = f" ({pipeline.say(lang, 'tied_days', n=len(days) - 1)})" if len(days) > 1 else ""
    return f"{day}{more}"


def print_run(report: pipeline.RunReport, lang: str) -> None:
    """A scoring run: its ingests, what was scored with which model, the top users."""
    for ingest_report in report.ingests:
        print_ingest(ingest_report, lang)
    console.print(
        say(
            lang,
            "render.scored",
            windows=report.windows_scored,
            events=report.events,
            model=report.model_sha256[:12],
            fresh=say(lang, "render.newly_fitted") if report.refitted else "",
            rows=report.rows_stored,
            run=report.run_id or "-",
            seconds=report.seconds,
        ),
        highlight=False,
    )
    if report.unknown_resources:
        console.print(
            f"[yellow]{say(lang, 'render.unknown_resources', n=report.unknown_resources)}[/]",
            highlight=False,
        )
    cut = report.capacity
    for note in report.notes:
        console.print(f"[yellow]{escape(note)}[/]", highlight=False, soft_wrap=True)
    console.print(
        say(
            lang,
            "render.capacity",
            capacity=cut.capacity,
            flagged=cut.flagged.height,
            cutoff=cut.cutoff,
        ),
        highlight=False,
    )
    columns = [
        Column(pick(lang, "user", "사용자")),
        Column(pick(lang, "risk", "위험 점수"), justify="right"),
        Column(pick(lang, "severity", "심각도")),
        Column(pick(lang, "peak day", "최고 위험일")),
        Column(pick(lang, "reasons", "주요 사유"), text=True),
    ]
    rows = [
        [
            r["user_id"],
            f"{r['risk_score']:.1f}",
            severity_label(r["severity"], lang),
            _tied(lang, r["peak_window"], r["peak_windows"]),
            "\n".join(part for part in str(r["reasons"] or "").split("; ") if part) or "-",
        ]
        for r in report.top.iter_rows(named=True)
    ]
    title = pick(lang, "top users by risk", "위험 상위 사용자")
    print_table(console, columns, rows, title=title, lang=lang)


def print_batch_job(job: pipeline.JobReport, lang: str) -> None:
    """`auditlens run`: the run, alerts raised for earlier runs, and this run's alerts."""
    print_run(job.run, lang)
    if job.earlier:
        runs = ", ".join(str(r.run_id) for r in job.earlier)
        console.print(f"[yellow]{pipeline.say(lang, 'pending_raised', runs=runs)}[/]")
        for report in job.earlier:
            print_raise(report, lang)
    if job.alerts is not None:
        print_raise(job.alerts, lang)


def count(n: int, noun: str, plural: str = "") -> str:
    """``n`` with ``noun`` in the right number: '1 alert', '2 alerts', '0 deliveries'.

    >>> count(1, "alert"), count(2, "alert"), count(0, "delivery", "deliveries")
    ('1 alert', '2 alerts', '0 deliveries')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def print_raise(report: pipeline.RaiseReport, lang: str) -> None:
    """Alerts raised for a run: candidates, criteria and what intake did with them."""
    intake = report.intake
    crit = report.criteria
    console.print(
        say(
            lang,
            "render.raised",
            run=report.run_id,
            users=units(report.candidates, lang, "명", "user"),
            min_severity=severity_label(crit.min_severity, lang),
            threshold=crit.threshold_risk,
            capacity=crit.capacity,
            alerts=units(len(intake.opened), lang, "건", "alert"),
            upgraded=len(intake.upgraded),
            absorbed=intake.absorbed,
            deduplicated=intake.deduplicated,
            suppressed=intake.suppressed,
            handled=intake.already_handled,
            deliveries=units(intake.routed, lang, "건", "delivery", "deliveries"),
            held=intake.held,
        ),
        highlight=False,
    )
    if intake.unrouted:
        n = len(intake.unrouted)
        verb = "" if lang == "ko" else ("matches" if n == 1 else "match")
        # escape(): Rich would read "[[alert_routes]]" as markup and print "[]"
        said = say(
            lang,
            "render.unrouted",
            alerts=units(n, lang, "건", "alert"),
            verb=verb,
            add=say(lang, "render.add_route"),
        )
        console.print(f"[yellow]{escape(said)}[/]", highlight=False)


def print_dispatch(
    report: pipeline.DispatchReport, timezone: str = DEFAULT_ZONE, lang: str = "ko"
) -> None:
    """Outbox delivery: counts, the next due time and every dead letter."""
    due = (
        say(lang, "render.next_due", at=local_time(report.next_due, timezone))
        if report.next_due
        else ""
    )
    console.print(
        say(
            lang,
            "render.dispatched",
            sent=report.sent,
            attempted=report.attempted,
            retrying=report.retrying,
            dead=len(report.dead),
            cancelled=report.cancelled,
            pending=report.pending,
            due=due,
        ),
        highlight=False,
    )
    for dead in report.dead:
        head = say(
            lang,
            "render.dead_letter",
            delivery=dead.delivery_id,
            alert=dead.alert_id,
            channel=dead.channel,
            attempts=units(dead.attempts, lang, "회", "attempt"),
        )
        console.print(f"[bold red]{escape(head)}[/] {escape(dead.text(lang))}", highlight=False)


def print_demo(
    result: pipeline.DemoResult, lang: str, alert_lines: str = "", timezone: str = DEFAULT_ZONE
) -> None:
    """Everything the demo did, from the sample to the verified audit trail;
    ``alert_lines`` (what the console channel printed while delivering) go with the
    delivery."""
    console.rule(pick(lang, "auditlens demo", "auditlens 시연"))
    sample = result.sample
    console.print(
        say(
            lang,
            "render.demo_sample",
            events=sample.events,
            users=sample.users,
            insiders=sample.insiders,
            dir=result.sample_dir,
        ),
        highlight=False,
    )
    for report in result.ingests:
        print_ingest(report, lang)
    counts = result.store_counts
    console.print(
        say(
            lang,
            "render.demo_store",
            url=result.store_url,
            accepted=counts["accepted"],
            quarantined=counts["quarantined"],
            batches=counts["batches"],
        ),
        highlight=False,
    )
    if result.quarantine_sample.height:
        from auditlens.validate import quarantine_reason

        columns = [
            Column(pick(lang, "location", "위치"), text=True),
            Column(pick(lang, "reason", "사유"), text=True),
        ]
        rows = [
            [str(r["location"]), quarantine_reason(str(r["reason"]), lang)]
            for r in result.quarantine_sample.iter_rows(named=True)
        ]
        title = pick(lang, "quarantined (sample)", "격리된 행 (일부)")
        print_table(console, columns, rows, title=title, lang=lang)
    print_run(result.run, lang)
    if result.replay is not None:
        replay = result.replay
        verdict = (
            f"[green]{pick(lang, 'reproduced', '재현됨')}[/]"
            if replay.reproduced
            else f"[red]{pick(lang, 'NOT reproduced', '재현 안 됨')}[/]"
        )
        checks = ", ".join(_check(k, lang) for k, ok in replay.checks.items() if ok)
        console.print(
            say(
                lang,
                "render.demo_replay",
                user=replay.user_id,
                day=replay.window,
                verdict=verdict,
                checks=checks,
            ),
            highlight=False,
        )
    print_raise(result.alerts, lang)
    console.out(alert_lines, end="", highlight=False)
    print_dispatch(result.delivery, timezone, lang)
    if result.alerts_file is not None:
        console.print(say(lang, "render.demo_alerts_file", path=result.alerts_file))
    trail = result.trail
    if trail.ok:
        console.print(say(lang, "render.trail_ok", n=trail.entries), highlight=False)
    else:
        broken = say(lang, "render.trail_broken", seq=trail.broken_seq)
        problem = trail.problem_text(lang)
        console.print(f"[bold red]{broken}[/] {escape(problem)}", highlight=False)


def print_score(report: pipeline.ScoreFileReport, lang: str) -> None:
    """`auditlens score`: counts, unknown resources and actions, quality against labels."""
    console.print(
        say(
            lang,
            "render.score_file",
            ingested=report.ingested,
            accepted=report.accepted,
            quarantined=report.quarantined,
            windows=report.windows,
            users=report.users,
            output=report.output,
            seconds=report.seconds,
        ),
        highlight=False,
    )
    if report.unknown_resources:
        console.print(
            f"[yellow]{say(lang, 'render.unknown_resources', n=report.unknown_resources)}[/]",
            highlight=False,
        )
    print_unknown_actions(report.unknown_actions, report.actions_policy, lang)
    if report.metrics is not None:
        _print_metrics(report.metrics, lang)


def _print_metrics(m: Metrics, lang: str) -> None:
    """The user-level quality of `auditlens score` against labels, with intervals."""
    if m.small_sample:
        err_console.print(
            f"[bold red]{say(lang, 'render.small_sample', n=m.insiders)}[/]",
            highlight=False,
            soft_wrap=True,
        )
    table = Table(
        pick(lang, "metric (user level)", "지표 (사용자 단위)"),
        pick(lang, "value", "값"),
        pick(lang, "95% interval", "95% 구간"),
        title=say(lang, "render.labelled_of", n=m.insiders, users=m.users),
    )
    ci = m.intervals
    rows = [
        ("ROC-AUC", "roc_auc", False),
        (pick(lang, "PR-AUC (average precision)", "PR-AUC (평균 정밀도)"), "pr_auc", False),
        (
            pick(lang, "detection rate at 5% FPR", "오탐률 5%에서 탐지율"),
            "detection_at_5pct_fpr",
            True,
        ),
        (
            pick(lang, "detection rate at 10% FPR", "오탐률 10%에서 탐지율"),
            "detection_at_10pct_fpr",
            True,
        ),
        (pick(lang, f"precision at k={m.k}", f"상위 {m.k}명 정밀도"), "precision_at_k", True),
    ]
    for label, figure, percent in rows:
        value = float(getattr(m, figure))
        shown = f"{value:.1%}" if percent else f"{value:.3f}"
        table.add_row(label, shown, span(interval_of(ci, figure), percent))
    console.print(table)
    if ci is not None:
        console.print(say(lang, "render.intervals_users", n=ci.resamples), highlight=False)


CHECKS: Final[dict[str, str]] = {
    "config": "설정",
    "features": "특성",
    "score": "점수",
    "risk": "위험 점수",
    "severity": "심각도",
    "reasons": "사유",
}


def _check(name: str, lang: str) -> str:
    """A replay check's name in ``lang``."""
    return CHECKS.get(name, name) if lang == "ko" else name


def print_explanation(result: pipeline.Explanation, user: str, lang: str) -> None:
    """A replayed score next to the stored one, its reasons, the contributions of its
    features to it and every check."""
    stored, again = result.stored, result.replayed
    console.print(
        say(
            lang,
            "render.explained",
            user=user,
            day=result.window,
            risk=again["decayed_risk"],
            severity=severity_label(again["severity"], lang),
            stored=stored["decayed_risk"],
            run=stored["run_id"],
            model=stored["model_sha256"][:12],
            batch=stored["data_batch_id"],
        ),
        highlight=False,
    )
    for reason in result.reasons:
        console.print(f"  - {escape(reason.text(lang))}", highlight=False)
    if result.contributions:
        _print_contributions(result.contributions, result.contribution_unit, lang)
    for name, ok in result.checks.items():
        same = (
            f"[green]{pick(lang, 'same', '일치')}[/]"
            if ok
            else f"[red]{pick(lang, 'DIFFERENT', '다름')}[/]"
        )
        console.print(f"  {same}  {_check(name, lang)}", highlight=False)


def _print_contributions(contributions: Sequence[Contribution], unit: str, lang: str) -> None:
    """The features that moved the score most, with their value, signed contribution and
    which way they pushed."""
    key = "render.contributions_shap" if unit == "log_odds" else "render.contributions_surprise"
    columns = [
        Column(pick(lang, "feature", "특성"), text=True),
        Column(pick(lang, "value", "값"), justify="right"),
        Column(pick(lang, "contribution", "기여도"), justify="right"),
        Column(pick(lang, "effect", "영향")),
    ]
    rows = [
        [
            feature_label(c.feature, lang),
            show_value(c.value, c.feature, lang) if c.known else f"{c.value:,.2f}",
            f"{c.contribution:+.2f}",
            pick(lang, "raises risk", "위험 증가")
            if c.contribution > 0
            else pick(lang, "lowers risk", "위험 감소"),
        ]
        for c in contributions
    ]
    print_table(console, columns, rows, title=say(lang, key), lang=lang)


def print_evaluation(report: pipeline.EvaluationReport, lang: str) -> None:
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
    headers = [pick(lang, "model", "모델"), "ROC-AUC", "PR-AUC"]
    headers += [pick(lang, "det@5%", "탐지율@5%"), pick(lang, "det@10%", "탐지율@10%")]
    headers.append(pick(lang, "prec@k", "정밀도@k"))
    headers.append(f"FP@{report.recall_target:.0%}")
    # figures never shrink below their widest line (an interval cut to "0.87-1.…" misleads);
    # on a narrow terminal the model names and headers give way instead
    widths = [max(len(Text.from_markup(line)) for row in rows for line in row[i].split("\n"))
              for i in range(len(headers))] if rows else [0] * len(headers)  # fmt: skip
    table = Table(
        title=pick(lang, "pooled test folds (window level)", "전체 테스트 폴드 (사용자-일 단위)")
    )
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
            say(lang, "render.ece", ece=report.ece) + (f" ({shown})" if shown else ""),
            highlight=False,
        )
    console.print(
        say(lang, "render.report_dir", dir=report.out_dir, seconds=report.seconds),
        highlight=False,
    )
    for path in report.files:
        console.print(f"  {path}")


def _with_interval(value: str, interval: tuple[float, float] | None, percent: bool = False) -> str:
    """The figure, and its 95% interval on the line below (kept narrow for a terminal)."""
    shown = span(interval, percent)
    return f"{value}\n[dim]{shown}[/]" if shown else value


def print_training(report: pipeline.TrainReport, lang: str) -> None:
    """What `auditlens train` registered, or why it kept the unsupervised model."""
    if not report.trained:
        console.print(f"[yellow]{escape(report.message)}[/]", highlight=False)
        return
    console.print(
        say(
            lang,
            "render.trained",
            message=report.message,
            sha=report.sha256[:12] if report.sha256 else "-",
            seconds=report.seconds,
        ),
        highlight=False,
    )
    if report.version is not None:
        console.print(
            say(lang, "render.trained_version", version=report.version, alias=report.alias),
            highlight=False,
        )
