"""`auditlens report`: the weekly, monthly and quarterly reports (XLSX, PPTX, HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from auditlens.cli.common import call, console, err_console, invocation_lang, load_settings
from auditlens.cli.report_send import report_send
from auditlens.i18n import Lang, is_lang, pick

if TYPE_CHECKING:
    from auditlens.pipeline.reporting import ReportResult
    from auditlens.reports.period import PeriodKind

report_app = typer.Typer(
    help="Reports for management and examiners: XLSX workbook, PPTX deck, HTML digest, "
    "with control evidence. / 경영진과 감사·검사용 보고서: XLSX 통합 문서, PPTX 발표 자료, "
    "HTML 요약 메일이며 통제 증빙을 포함합니다.",
    no_args_is_help=True,
)

PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="The period: 2026-W37 (weekly), 2026-09 (monthly), 2026-Q3 (quarterly); default: "
        "the last finished one. / 보고 기간: 2026-W37(주간), 2026-09(월간), 2026-Q3(분기)이며, "
        "기본값은 직전에 끝난 기간입니다.",
    ),
]
FormatsOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Formats, comma-separated: pptx, xlsx, html (default: pptx,xlsx). / 형식을 "
        "쉼표로 구분해 씁니다: pptx, xlsx, html(기본값: pptx,xlsx).",
    ),
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the report: ko or en (default: the command's language). / 보고서 "
        "언어: ko 또는 en(기본값: 명령의 출력 언어).",
    ),
]
OutOpt = Annotated[
    Path,
    typer.Option("--out", help="Directory the files are written to. / 파일을 쓸 디렉터리입니다."),
]


def _report(
    ctx: typer.Context,
    kind: PeriodKind,
    period: str | None,
    formats: str | None,
    lang: str | None,
    out: Path,
) -> None:
    from auditlens.pipeline.reporting import make_report
    from auditlens.reports.formats import parse_formats

    shown = invocation_lang(ctx)
    chosen = (lang or shown).strip().lower()
    if not is_lang(chosen):
        raise typer.BadParameter(
            pick(shown, f"{lang!r}: use ko or en", f"{lang!r}: ko 또는 en을 쓰십시오."),
            param_hint="--lang",
        )
    wanted = None if formats is None else call(ctx, lambda: parse_formats(formats))
    settings = call(ctx, load_settings)
    made = call(
        ctx,
        lambda: make_report(settings, kind, period, formats=wanted, lang=chosen, out=out),
    )
    _print(made, shown)


def _print(made: ReportResult, lang: Lang) -> None:
    data = made.data
    k = data.kpis
    for path in made.files:
        console.print(str(path), highlight=False, soft_wrap=True)
    err_console.print(
        pick(
            lang,
            f"report {data.period.label} ({data.period.span()}): {k.alerts} alerts, "
            f"{data.activity.users_monitored} users monitored; digest "
            f"{data.footer.digest[:16]}, recorded as audit entry {made.entry.seq}",
            f"{data.period.label} 보고서 ({data.period.span()}): 알림 {k.alerts}건, 모니터링 "
            f"사용자 {data.activity.users_monitored}명; 요약값 {data.footer.digest[:16]}, "
            f"감사 로그 {made.entry.seq}번 항목으로 기록했습니다",
        ),
        highlight=False,
        soft_wrap=True,
    )
    if not data.footer.audit_ok:
        err_console.print(
            escape(
                pick(
                    lang,
                    "warning: the audit trail did not verify; the report says so on its "
                    "evidence page (run `auditlens audit verify`)",
                    "경고: 감사 로그 검증에 실패했으며 보고서의 증빙 면에 그렇게 표시됩니다 "
                    "(`auditlens audit verify`를 실행하십시오)",
                )
            ),
            highlight=False,
            soft_wrap=True,
        )


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    period: PeriodOpt = None,
    formats: FormatsOpt = None,
    lang: LangOpt = None,
    out: OutOpt = Path("reports"),
) -> None:
    """The report of one ISO week (Monday to Sunday). / ISO 주(월요일~일요일) 보고서."""
    _report(ctx, "weekly", period, formats, lang, out)


@report_app.command("monthly")
def report_monthly(
    ctx: typer.Context,
    period: PeriodOpt = None,
    formats: FormatsOpt = None,
    lang: LangOpt = None,
    out: OutOpt = Path("reports"),
) -> None:
    """The report of one month. / 한 달 보고서."""
    _report(ctx, "monthly", period, formats, lang, out)


@report_app.command("quarterly")
def report_quarterly(
    ctx: typer.Context,
    period: PeriodOpt = None,
    formats: FormatsOpt = None,
    lang: LangOpt = None,
    out: OutOpt = Path("reports"),
) -> None:
    """The report of one quarter. / 한 분기 보고서."""
    _report(ctx, "quarterly", period, formats, lang, out)


report_app.command("send")(report_send)
