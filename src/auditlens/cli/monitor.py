"""`auditlens monitor`: watching the deployment (`monitor serve`: a Prometheus exporter of
the store's figures; `monitor textfile`: the same figures in a file for node_exporter;
`monitor drift`: a run's drift from its model's training reference, and its HTML report;
`monitor quality`: precision from triage and the miss-rate estimate).

More monitoring commands join this group (one function each, calling one pipeline
function); docs/monitoring.md describes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditlens.cli.common import call, console, err_console, invocation_lang, load_settings
from auditlens.cli.render_quality import print_quality
from auditlens.i18n import pick

if TYPE_CHECKING:
    from auditlens.pipeline.monitoring import Serving

monitor_app = typer.Typer(
    help="Watch the deployment: metrics for Prometheus, model drift. / 운영 상태를 "
    "지켜봅니다: 프로메테우스 지표, 모델 드리프트.",
    no_args_is_help=True,
)


@monitor_app.command("serve")
def monitor_serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; the exporter asks for no credential, so keep the "
            "default loopback unless a firewall guards the port. / 수신 주소입니다. 인증을 "
            "묻지 않으므로 방화벽이 포트를 지키지 않는 한 기본값(루프백)을 쓰십시오.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="TCP port. / 수신 포트입니다."),
    ] = 9464,
    verify_every: Annotated[
        float,
        typer.Option(
            "--verify-every",
            min=0,
            help="Seconds between two verifications of the audit trail (0: never). / 감사 "
            "기록을 검증하는 간격(초)이며, 0이면 검증하지 않습니다.",
        ),
    ] = 3600.0,
) -> None:
    """Serve the store's metrics to Prometheus until stopped. / 저장소 지표를 계속 제공합니다."""
    from auditlens.pipeline.monitoring import is_loopback, serve_metrics

    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)

    def started(serving: Serving) -> None:
        console.print(
            pick(
                lang,
                f"serving metrics at {serving.url} (Ctrl+C stops)",
                f"{serving.url}에서 지표를 제공합니다 (Ctrl+C로 멈춤)",
            ),
            highlight=False,
            soft_wrap=True,
        )
        if not is_loopback(serving.host):
            err_console.print(
                pick(
                    lang,
                    f"warning: {serving.host} is reachable from other machines and the "
                    "exporter asks for no credential; let only Prometheus reach the port",
                    f"경고: {serving.host}은(는) 다른 컴퓨터에서 접근할 수 있고 이 지표 "
                    "서버는 인증을 묻지 않으므로, 프로메테우스만 포트에 닿게 하십시오",
                ),
                highlight=False,
                soft_wrap=True,
            )

    try:
        call(
            ctx,
            lambda: serve_metrics(
                settings, host=host, port=port, verify_every=verify_every, started=started
            ),
        )
    except KeyboardInterrupt:
        console.print(pick(lang, "stopped", "멈췄습니다"), highlight=False)


@monitor_app.command("textfile")
def monitor_textfile(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="The .prom file to write, in node_exporter's --collector.textfile.directory. "
            "/ 쓸 .prom 파일이며, node_exporter의 --collector.textfile.directory 안에 둡니다."
        ),
    ],
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Verify the audit trail first and include the result. / 먼저 감사 기록을 "
            "검증하고 그 결과를 함께 씁니다.",
        ),
    ] = True,
) -> None:
    """Write the store's metrics to a file, atomically. / 저장소 지표를 파일에 원자적으로 씁니다."""
    from auditlens.pipeline.monitoring import write_textfile

    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    report = call(ctx, lambda: write_textfile(settings, path, verify=verify))
    trail = report.trail
    if trail is None:
        checked = ""
    elif trail.ok:
        checked = pick(
            lang,
            f"; audit trail verified ({trail.entries:,} entries)",
            f"; 감사 기록 검증 완료 (항목 {trail.entries:,}개)",
        )
    else:
        checked = pick(lang, "; audit trail verification FAILED", "; 감사 기록 검증 실패")
    console.print(
        pick(lang, f"wrote {report.path}{checked}", f"{report.path}을(를) 썼습니다{checked}"),
        highlight=False,
        soft_wrap=True,
    )


#: Exit code of `monitor drift --fail-on-drift` when a measure drifted.
EXIT_DRIFTED = 4


@monitor_app.command("drift")
def monitor_drift(
    ctx: typer.Context,
    run: Annotated[
        int | None,
        typer.Option(
            "--run", help="The run to show (default: the newest). / 볼 실행 ID입니다(기본값: 최신)."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the self-contained HTML drift report here. / 독립 실행형 HTML "
            "드리프트 보고서도 이 경로에 씁니다.",
        ),
    ] = None,
    fail_on_drift: Annotated[
        bool,
        typer.Option(
            "--fail-on-drift",
            help=f"Exit {EXIT_DRIFTED} when a measure drifted (default: exit 0 either way). "
            f"/ 드리프트가 있으면 종료 코드 {EXIT_DRIFTED}로 끝냅니다(기본값: 항상 0).",
        ),
    ] = False,
) -> None:
    """Show a run's drift from its model's training reference. / 실행의 드리프트를 보여 줍니다."""
    from auditlens.cli.render_drift import print_drift
    from auditlens.pipeline.drift import drift_report

    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    report = call(ctx, lambda: drift_report(settings, run_id=run, html=html))
    print_drift(report, lang)
    if fail_on_drift and report.drifted:
        raise typer.Exit(EXIT_DRIFTED)


@monitor_app.command("quality")
def monitor_quality(
    ctx: typer.Context,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            min=1,
            max=520,
            help="ISO weeks to show, this one included. / 보여 줄 ISO 주 수(이번 주 포함).",
        ),
    ] = 4,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the figures as JSON. / 수치를 JSON으로 출력합니다."),
    ] = False,
) -> None:
    """Precision per week and scenario from triage; miss rate and recall from review
    samples. / 처리 결과로 본 주별·유형별 정밀도와 검토 표본으로 본 놓침 비율·재현율."""
    from auditlens.pipeline.quality import quality_report

    settings = call(ctx, load_settings)
    found = call(ctx, lambda: quality_report(settings, weeks=weeks))
    if as_json:
        console.print_json(found.model_dump_json())
    else:
        print_quality(found, invocation_lang(ctx))
