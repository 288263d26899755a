"""`auditlens model`: the MLflow model registry (list, promote, rollback, verify) and the
champion against the challenger (compare)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from auditlens.cli.common import call, console, err_console, invocation_lang, load_settings
from auditlens.cli.tables import Column, print_table
from auditlens.i18n import pick
from auditlens.localtime import local_time

if TYPE_CHECKING:
    from auditlens.views.shadow import Agreement

model_app = typer.Typer(
    help="Trained models in the MLflow registry: champion, challenger, four-eyes promotion. / "
    "MLflow 레지스트리의 학습 모델: champion, challenger, 4안 원칙 승격.",
    no_args_is_help=True,
)

VersionArg = Annotated[
    int, typer.Argument(help="Model version number (`auditlens model list`). / 모델 버전 번호.")
]


@model_app.command("list")
def model_list(ctx: typer.Context) -> None:
    """Registered versions with aliases, sha256 and cross-validated metrics. / 등록된 모델
    버전 (별칭, sha256, 교차 검증 지표)."""
    from auditlens.pipeline.models import in_force, list_versions

    lang = invocation_lang(ctx)
    versions = call(ctx, lambda: list_versions(load_settings()))
    if not versions:
        console.print(
            pick(
                lang,
                "no model registered yet: `auditlens train --labels FILE` registers one",
                "등록된 모델이 없습니다. `auditlens train --labels 파일`로 등록하십시오",
            ),
            highlight=False,
        )
        return
    table = Table(title=pick(lang, "Model versions", "모델 버전"))
    for column in ("version", "aliases", "sha256", "trained", "by", "CV PR-AUC"):
        table.add_column(column, no_wrap=column in {"version", "sha256"})
    for version in versions:
        metrics = ", ".join(
            f"{k.removeprefix('cv_pr_auc_')} {v:.3f}" for k, v in sorted(version.metrics.items())
        )
        table.add_row(
            str(version.number),
            ", ".join(version.aliases) or "-",
            version.sha256[:12],
            local_time(version.created_at),
            version.trainer or "-",
            metrics or "-",
        )
    console.print(table)
    active = call(ctx, lambda: in_force(load_settings()))
    number = next((v.number for v in versions if v.sha256 == active), None)
    if active is None:
        return
    if number is not None:
        line = pick(
            lang,
            f"`auditlens run` scores with version {number} ({active[:12]}); the API and the "
            "dashboard mark it active",
            f"`auditlens run`은 버전 {number}({active[:12]})(으)로 점수화하며, API와 "
            "대시보드도 이 모델을 사용 중으로 표시합니다",
        )
    else:
        line = pick(
            lang,
            f"`auditlens run` scores with the unregistered model {active[:12]} (an unsupervised "
            "model that replaced the champion: `run --refit --unsupervised`)",
            f"`auditlens run`은 등록되지 않은 모델 {active[:12]}(으)로 점수화합니다 "
            "(`run --refit --unsupervised`로 champion을 대신한 비지도 모델)",
        )
    console.print(line, highlight=False)


@model_app.command("promote")
def model_promote(ctx: typer.Context, version: VersionArg) -> None:
    """Make a version the champion `auditlens run` scores with (approver, not its trainer). /
    버전을 champion으로 승격합니다 (승인자, 학습자 본인 불가)."""
    from auditlens.pipeline.models import promote

    lang = invocation_lang(ctx)
    promoted = call(ctx, lambda: promote(load_settings(), version))
    console.print(
        pick(
            lang,
            f"model version {promoted.number} ({promoted.sha256[:12]}) is the champion; "
            "`auditlens model rollback` goes back",
            f"모델 버전 {promoted.number}({promoted.sha256[:12]})이(가) champion이 되었습니다. "
            "`auditlens model rollback`으로 되돌릴 수 있습니다",
        ),
        highlight=False,
    )


@model_app.command("rollback")
def model_rollback(ctx: typer.Context) -> None:
    """Make the previous champion the champion again (approver). / 이전 champion으로
    되돌립니다 (승인자)."""
    from auditlens.pipeline.models import rollback

    lang = invocation_lang(ctx)
    restored = call(ctx, lambda: rollback(load_settings()))
    console.print(
        pick(
            lang,
            f"rolled back: model version {restored.number} ({restored.sha256[:12]}) is the "
            "champion again",
            f"되돌렸습니다: 모델 버전 {restored.number}({restored.sha256[:12]})이(가) 다시 "
            "champion입니다",
        ),
        highlight=False,
    )


@model_app.command("verify")
def model_verify(ctx: typer.Context, version: VersionArg) -> None:
    """Retrain a version from its recorded data and seed; check the scores are identical
    (exit 1 when not). / 기록된 데이터와 시드로 다시 학습하여 점수가 같은지 확인합니다
    (다르면 종료 코드 1)."""
    from auditlens.pipeline.models import verify

    lang = invocation_lang(ctx)
    found = call(ctx, lambda: verify(load_settings(), version))
    if found.identical:
        console.print(
            pick(
                lang,
                f"model version {version}: retrained from its data and seed, the "
                f"{found.windows} training windows score identically",
                f"모델 버전 {version}: 기록된 데이터와 시드로 다시 학습한 결과 학습 구간 "
                f"{found.windows}개의 점수가 모두 같습니다",
            ),
            highlight=False,
        )
        return
    err_console.print(
        pick(
            lang,
            f"model version {version} is NOT reproduced: retrained from its data and seed, "
            f"scores differ by up to {found.max_difference:.6g} over {found.windows} windows "
            "(has the configuration or the code changed since it was trained?)",
            f"모델 버전 {version}이(가) 재현되지 않습니다: 기록된 데이터와 시드로 다시 학습한 "
            f"점수가 구간 {found.windows}개에서 최대 {found.max_difference:.6g}만큼 다릅니다 "
            "(학습 이후 설정이나 코드가 바뀌었습니까?)",
        ),
        highlight=False,
    )
    raise typer.Exit(1)


@model_app.command("compare")
def model_compare(
    ctx: typer.Context,
    runs: Annotated[
        int,
        typer.Option(
            "--runs",
            min=1,
            help="The newest N shadow-scored runs. / 최근 그림자 채점 실행 N개.",
        ),
    ] = 10,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the figures as JSON. / 수치를 JSON으로 출력합니다."),
    ] = False,
) -> None:
    """Champion against challenger over shadow-scored runs (`run --shadow`): users each
    flagged, overlap, rank correlation, confirmed and dismissed alerts. / 그림자 채점
    실행에서 champion과 도전자 비교: 각 모델이 검토 대상으로 고른 사용자, 겹침, 순위 상관,
    확인·기각된 경보."""
    from auditlens.pipeline.models import compare

    lang = invocation_lang(ctx)
    found = call(ctx, lambda: compare(load_settings(), runs=runs))
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    if found.overall is None:
        console.print(
            pick(
                lang,
                "no shadow-scored run yet: `auditlens run --shadow` (or monitoring.shadow = "
                "true) scores with the challenger too",
                "그림자 채점한 실행이 아직 없습니다. `auditlens run --shadow`(또는 "
                "monitoring.shadow = true)로 도전자 모델도 함께 점수화하십시오",
            ),
            highlight=False,
        )
        return
    print_table(
        console,
        _compare_columns(lang),
        [
            _compare_row(
                r, str(r.run_id), f"v{r.challenger_version} {r.challenger_sha256[:8]}", lang
            )
            for r in found.runs
        ]
        + [_compare_row(found.overall, pick(lang, "all", "전체"), "-", lang)],
        title=pick(lang, "Champion vs challenger", "champion 대 도전자"),
        lang=lang,
    )
    console.print(
        pick(
            lang,
            "flagged = within the review capacity of the run's user-days; confirmed: how many "
            "confirmed alerts each model flagged; dismissed: how many dismissed alerts it "
            "would have avoided (champion / challenger)",
            "검토 대상 = 실행의 사용자-일 중 검토 용량 안; 확인: 확인된 경보 중 각 모델이 "
            "고른 수; 기각: 기각된 경보 중 각 모델이 피했을 수 (champion / 도전자)",
        ),
        highlight=False,
    )
    if len(found.challengers) > 1:
        console.print(
            pick(
                lang,
                f"[yellow]these runs compared {len(found.challengers)} different challengers[/]",
                f"[yellow]이 실행들은 서로 다른 도전자 {len(found.challengers)}개를 "
                "비교했습니다[/]",
            ),
            highlight=False,
        )


def _compare_columns(lang: str) -> list[Column]:
    return [
        Column(pick(lang, "run", "실행")),
        Column(pick(lang, "challenger", "도전자")),
        Column(pick(lang, "users", "사용자"), justify="right"),
        Column(pick(lang, "champion only", "champion만"), justify="right"),
        Column(pick(lang, "challenger only", "도전자만"), justify="right"),
        Column(pick(lang, "both", "둘 다"), justify="right"),
        Column("Jaccard", justify="right"),
        Column(pick(lang, "rank corr.", "순위 상관"), justify="right"),
        Column(pick(lang, "confirmed", "확인"), justify="right"),
        Column(pick(lang, "dismissed avoided", "기각 회피"), justify="right"),
    ]


def _compare_row(row: Agreement, name: str, challenger: str, lang: str) -> list[str]:
    return [
        name,
        challenger,
        str(row.users),
        str(row.champion_only),
        str(row.challenger_only),
        str(row.both),
        _ratio(row.jaccard),
        _ratio(row.rank_correlation),
        f"{row.confirmed_champion} / {row.confirmed_challenger} ({pick(lang, 'of', '전체')} "
        f"{row.confirmed})",
        f"{row.dismissed_avoided_champion} / {row.dismissed_avoided_challenger} "
        f"({pick(lang, 'of', '전체')} {row.dismissed})",
    ]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
