"""`auditlens ingest` and `quarantine`: events into the store, bad rows kept aside."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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
    exit_for,
    inputs,
    load_settings,
)
from auditlens.cli.progress import stages
from auditlens.cli.render import print_ingest, print_quarantine
from auditlens.i18n import language
from auditlens.pipeline.stages import Steps

if TYPE_CHECKING:
    from auditlens.config import Settings
    from auditlens.sources.base import Source


def ingest(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="File, directory, glob or CERT directory; omit to read all "
            "sources configured in auditlens.toml. / 파일, 디렉터리, glob 또는 CERT "
            "디렉터리입니다. 생략하면 auditlens.toml에 설정된 모든 소스를 읽습니다."
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
            help="Where event_id is unique: 'file' when ids restart in every file. / "
            "event_id가 고유한 범위입니다. 파일마다 번호가 다시 시작하면 'file'을 쓰십시오.",
        ),
    ] = None,
    allow_quarantine: AllowQuarantine = False,
) -> None:
    """Validate and store new events; bad rows are quarantined with a reason. /
    새 이벤트를 검증하여 저장합니다. 잘못된 행은 사유와 함께 격리합니다.

    Exit codes: 0 all stored; 1 error (a failing source is reported after the others
    were read); 3 rows were quarantined or a file could not be read (see `auditlens
    quarantine`), unless --allow-quarantine. / 종료 코드: 0은 모두 저장, 1은 오류(실패한
    소스는 나머지를 읽은 뒤 보고), 3은 격리된 행이나 읽지 못한 파일이 있음(`auditlens
    quarantine`으로 확인; --allow-quarantine이면 0)입니다.
    """
    settings = call(ctx, load_settings)
    given = dataclasses.replace(
        inputs(path, source, fmt, mapping, value_map, encoding, date_order),
        id_scope=id_scope,
        settle_seconds=pipeline.SETTLE_SECONDS,
    )
    sources = call(ctx, lambda: pipeline.sources_to_ingest(settings, given))
    reports = []
    for each in sources:
        report = call(ctx, lambda src=each: _ingest_with_progress(src, settings))  # type: ignore[misc]
        print_ingest(report, settings.language)
        reports.append(report)
    exit_for(reports, settings.language, allow_quarantine)


def quarantine(
    ctx: typer.Context,
    batch: Annotated[
        int | None, typer.Option(help="Only this batch id. / 이 배치 ID만 보여 줍니다.")
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Rows to show at most. / 최대로 보여 줄 행 수입니다.")
    ] = 50,
) -> None:
    """Show quarantined rows with their reason and location. /
    격리된 행을 사유, 위치와 함께 보여 줍니다."""
    frame = call(ctx, lambda: pipeline.quarantined(load_settings(), batch_id=batch, limit=limit))
    print_quarantine(frame, language())


def _ingest_with_progress(source: Source, settings: Settings) -> pipeline.IngestReport:
    with stages("ingest", lang=settings.language, timezone=settings.timezone) as on_stage:
        steps = Steps(on_stage)
        steps.start(source.name, unit="rows")
        return pipeline.ingest(
            source, settings, on_batch=lambda b: steps.advance(b.ingested), keep_going=True
        )
