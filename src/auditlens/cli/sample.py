"""`auditlens version`, `generate` and `demo`: the version, the sample, the guided tour."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from auditlens import __version__, pipeline
from auditlens.cli.common import (
    call,
    console,
    err_console,
    held_stdout,
    invocation_lang,
    load_settings,
    parse_date,
)
from auditlens.cli.render import print_demo, print_sample
from auditlens.i18n import language, pick


def version() -> None:
    """Print the auditlens version. / auditlens 버전을 출력합니다."""
    console.print(__version__)


def generate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output directory. / 출력 디렉터리입니다.")] = Path(
        "var/sample"
    ),
    users: Annotated[int, typer.Option(min=1, help="Number of users. / 사용자 수입니다.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Number of days. / 일수입니다.")] = 30,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (same seed, same data). / 난수 시드입니다(같은 시드면 같은 데이터)."
        ),
    ] = 7,
    start: Annotated[
        str, typer.Option(help="First day, YYYY-MM-DD. / 첫날입니다(YYYY-MM-DD).")
    ] = "2026-09-01",
    insider_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of users with a planted scenario. / 내부자 시나리오를 심을 사용자 "
            "비율입니다.",
        ),
    ] = 0.02,
    fmt: Annotated[
        Literal["parquet", "csv", "jsonl"],
        typer.Option("--format", help="Events file format. / 이벤트 파일 형식입니다."),
    ] = "parquet",
    profile: Annotated[
        Literal["default", "realistic"],
        typer.Option(
            help="default: loud planted insiders; realistic: quiet insiders (a few first-ever "
            "events) among on-call IT staff, month-end closing, travellers, joiners, leavers "
            "and transfers (docs/scenarios.md). / default는 뚜렷한 내부자 시나리오, realistic은 "
            "당직 IT 직원·월말 결산·출장자·입사자·퇴사자·부서 이동자 사이에 처음 해 보는 "
            "행동 몇 건만 남기는 조용한 내부자입니다(docs/scenarios.md)."
        ),
    ] = "default",
) -> None:
    """Generate a synthetic organisation's access events with planted insider scenarios. /
    내부자 시나리오를 심은 가상 조직의 접근 이벤트를 만듭니다."""
    with console.status(pick(invocation_lang(ctx), "generating...", "만드는 중...")):
        summary = call(
            ctx,
            lambda: pipeline.generate_sample(
                load_settings(),
                out,
                users=users,
                days=days,
                seed=seed,
                start=parse_date(start, "--start", invocation_lang(ctx)),
                insider_rate=insider_rate,
                fmt=fmt,
                profile=profile,
            ),
        )
    print_sample(summary, language())


def demo(
    ctx: typer.Context,
    users: Annotated[
        int, typer.Option(min=10, help="Users in the sample. / 샘플의 사용자 수입니다.")
    ] = 200,
    days: Annotated[int, typer.Option(min=7, help="Days in the sample. / 샘플의 일수입니다.")] = 30,
) -> None:
    """Set up the store, generate the sample and run the main job on it. /
    저장소를 준비하고 샘플을 만든 뒤 그 샘플로 주 작업을 실행합니다."""
    settings = call(ctx, load_settings)
    # the spinner on stderr: stdout is held, and a pipe reads the report in order
    preparing = pick(
        settings.language, "preparing the sample and the store...", "샘플과 저장소를 준비하는 중..."
    )
    with err_console.status(preparing), held_stdout() as printed:
        result = call(ctx, lambda: pipeline.run_demo(settings, users=users, days=days))
    print_demo(result, settings.language, printed.getvalue(), settings.timezone)
