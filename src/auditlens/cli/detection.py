"""`auditlens run`, `score`, `explain`, `evaluate` and `train`: scoring and learning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import (
    AllowQuarantine,
    DateOrderOpt,
    EncodingOpt,
    FormatOpt,
    MapOpt,
    SourceOpt,
    ValueMapOpt,
    call,
    console,
    exit_for,
    inputs,
    load_settings,
    parse_date,
    parse_folds,
)
from auditlens.cli.progress import stages
from auditlens.cli.render import (
    print_batch_job,
    print_evaluation,
    print_explanation,
    print_score,
    print_training,
)
from auditlens.i18n import pick
from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT
from auditlens.vocabulary import EngineKind

LabelsOpt = Annotated[
    Path,
    typer.Option(
        help="Past findings: labels.csv or CERT insiders.csv. / 과거 적발 내역입니다: "
        "labels.csv 또는 CERT insiders.csv."
    ),
]
StoreInputOpt = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="Events to use instead of the store. / 저장소 대신 사용할 이벤트입니다.",
    ),
]


def run_cmd(
    ctx: typer.Context,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Fit a new unsupervised model (a trained ensemble is kept; see --unsupervised). "
            "/ 새 비지도 모델을 학습합니다(학습된 앙상블은 유지되며, --unsupervised를 "
            "참고하십시오).",
        ),
    ] = False,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised",
            help="Replace a trained ensemble with a new unsupervised model. / 학습된 앙상블을 "
            "새 비지도 모델로 바꿉니다.",
        ),
    ] = False,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts/--no-alerts",
            help="Record detections and open alerts. / 탐지를 기록하고 경보를 엽니다.",
        ),
    ] = True,
    wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Wait up to N seconds for another run on the store (then exit 6). / 같은 "
            "저장소의 다른 실행을 최대 N초 기다립니다(그 뒤 종료 코드 6).",
        ),
    ] = DEFAULT_RUN_WAIT,
    allow_quarantine: AllowQuarantine = False,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Also score with the registry's challenger and store its scores apart "
            "(shadow mode; `auditlens model compare`). / 레지스트리의 도전자 모델로도 "
            "점수화하여 따로 저장합니다(그림자 모드, `auditlens model compare`).",
        ),
    ] = False,
    engine: Annotated[
        EngineKind | None,
        typer.Option(
            "--engine",
            help="What computes the features (default: \\[engine] kind): polars (this machine) "
            "or spark (\\[spark] master). / 특성을 계산할 엔진(기본값: \\[engine] kind): "
            "polars(이 컴퓨터) 또는 spark(\\[spark] master).",
        ),
    ] = None,
) -> None:
    """The batch job: ingest, features, score, store with evidence, raise alerts. /
    일괄 작업: 수집, 특성 계산, 채점, 근거와 함께 저장, 경보 발생을 차례로 합니다.

    Exit codes: 0 done; 1 error (a failing source is reported, the others are still
    ingested and scored); 3 rows were quarantined or a file could not be read, unless
    --allow-quarantine. / 종료 코드: 0은 완료, 1은 오류(실패한 소스를 보고하고 나머지는
    수집·채점), 3은 격리된 행이나 읽지 못한 파일이 있음(--allow-quarantine이면 0)입니다.
    """
    settings = call(ctx, load_settings)
    if engine is not None:
        chosen = settings.engine.model_copy(update={"kind": engine})
        settings = settings.model_copy(update={"engine": chosen})
    with stages("run", lang=settings.language, timezone=settings.timezone) as on_stage:
        job = call(
            ctx,
            lambda: pipeline.batch_job(
                settings,
                refit=refit,
                unsupervised=unsupervised,
                alerts=alerts,
                wait=wait,
                on_stage=on_stage,
                shadow=shadow,
            ),
        )
    print_batch_job(job, settings.language)
    exit_for(job.run.ingests, settings.language, allow_quarantine)


def score(
    ctx: typer.Context,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="Events file, directory or CERT directory. / 이벤트 파일, 디렉터리 또는 "
            "CERT 디렉터리입니다.",
        ),
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="labels.csv or CERT insiders.csv: print detection quality. / labels.csv 또는 "
            "CERT insiders.csv를 주면 탐지 품질을 출력합니다."
        ),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(help="CSV to write, one row per user. / 사용자당 한 행씩 쓸 CSV 파일입니다."),
    ] = Path("scores.csv"),
) -> None:
    """One shot, no store: fit the unsupervised model on a file and score every user. /
    저장소 없이 한 번에: 파일로 비지도 모델을 학습하고 모든 사용자를 채점합니다."""
    settings = call(ctx, load_settings)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with console.status(pick(settings.language, "scoring...", "채점하는 중...")):
        report = call(
            ctx, lambda: pipeline.score_file(settings, given, output=output, labels=labels)
        )
    print_score(report, settings.language)


def explain_cmd(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User id. / 사용자 ID입니다.")],
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Window (local day), YYYY-MM-DD; default: the user's peak. / 구간(현지 "
            "날짜)입니다(YYYY-MM-DD). 기본값은 그 사용자의 위험 점수가 가장 높은 날입니다.",
        ),
    ] = None,
) -> None:
    """Replay a stored score from the store: same features, model, risk and reasons? /
    저장된 점수를 다시 계산하여 특성, 모델, 위험 점수, 사유가 같은지 확인합니다."""
    settings = call(ctx, load_settings)
    day = parse_date(date, "--date", settings.language) if date else None
    result = call(ctx, lambda: pipeline.explain_user(settings, user, day))
    print_explanation(result, user, settings.language)
    if not result.reproduced:
        raise typer.Exit(3)


def evaluate(
    ctx: typer.Context,
    labels: LabelsOpt,
    input_path: StoreInputOpt = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Report directory. / 보고서 디렉터리입니다.")
    ] = None,
    folds: Annotated[
        str,
        typer.Option(
            help="time: train on earlier days, test on later ones; users: test each person "
            "with a model trained on everybody else (no tested insider seen in training); a "
            "number N: N time folds. / time은 이전 날짜로 학습하고 이후 날짜로 시험하며, "
            "users는 각 사람을 나머지 모든 사람으로 학습한 모델로 시험합니다(시험하는 "
            "내부자는 학습에 나오지 않음). 숫자 N은 시간 순서 폴드 N개입니다.",
        ),
    ] = "time",
    fold_count: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Number of folds (default 3 time folds, 5 user folds). / 폴드 수입니다"
            "(기본값: 시간 순서 3개, 사람 단위 5개).",
        ),
    ] = None,
) -> None:
    """Evaluation by time or by person: unsupervised, each classifier and the ensemble side
    by side, with bootstrap intervals over users. / 시간 순서 또는 사람 단위 평가: 비지도
    모델, 각 분류기, 앙상블을 사용자 부트스트랩 신뢰 구간과 함께 나란히 비교합니다."""
    settings = call(ctx, load_settings)
    kind, n_folds = parse_folds(folds, fold_count, settings.language)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with stages("evaluate", lang=settings.language, timezone=settings.timezone) as on_stage:
        report = call(
            ctx,
            lambda: pipeline.evaluate(
                settings,
                labels,
                inputs=given,
                out_dir=out,
                n_folds=n_folds,
                on_stage=on_stage,
                fold_kind=kind,
            ),
        )
    print_evaluation(report, settings.language)


def train(
    ctx: typer.Context,
    labels: LabelsOpt,
    input_path: StoreInputOpt = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
) -> None:
    """Fit the stacked ensemble on past findings and register it for `auditlens run`. /
    과거 적발 내역으로 스태킹 앙상블을 학습하고 `auditlens run`에 쓰도록 등록합니다."""
    settings = call(ctx, load_settings)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with stages("train", lang=settings.language, timezone=settings.timezone) as on_stage:
        report = call(
            ctx, lambda: pipeline.train(settings, labels, inputs=given, on_stage=on_stage)
        )
    print_training(report, settings.language)
