"""`auditlens model`: the MLflow model registry (list, promote, rollback, verify)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from auditlens.cli.common import call, console, err_console, invocation_lang, load_settings
from auditlens.i18n import pick
from auditlens.localtime import local_time

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
    from auditlens.pipeline.models import list_versions

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
