"""`auditlens stream`: events on Kafka topics (`stream produce` replays a file into one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import (
    FormatOpt,
    MapOpt,
    call,
    console,
    err_console,
    inputs,
    load_settings,
)
from auditlens.i18n import language, pick, say

stream_app = typer.Typer(
    help="Events on Kafka topics. / Kafka 토픽의 이벤트를 다룹니다.", no_args_is_help=True
)


@stream_app.command("produce")
def produce(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Option(
            "--from",
            help="Events file, directory or glob (any format auditlens reads). / 이벤트 파일, "
            "디렉터리 또는 glob입니다(auditlens가 읽는 모든 형식).",
        ),
    ],
    topic: Annotated[str, typer.Option(help="Topic to produce to. / 보낼 토픽입니다.")],
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="At most this many events a second (default: as fast as possible). / 초당 "
            "최대 이벤트 수입니다(기본값: 가능한 한 빠르게).",
        ),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            help="Brokers HOST:PORT (default: the configured kafka source's, else "
            "localhost:9092). / 브로커 HOST:PORT입니다(기본값: 설정된 kafka 소스의 값, 없으면 "
            "localhost:9092).",
        ),
    ] = None,
    kafka_source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Configured kafka source whose brokers and security settings to use. / "
            "브로커와 보안 설정을 가져올 kafka 소스입니다.",
        ),
    ] = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
) -> None:
    """Replay an events file into a Kafka topic, one JSON message per event (demos,
    benchmarks). / 이벤트 파일을 이벤트마다 JSON 메시지 하나로 Kafka 토픽에 다시 보냅니다
    (시연, 벤치마크용)."""
    settings = call(ctx, load_settings)
    options = inputs(path, None, fmt, mapping, None, None, None)
    report = call(
        ctx,
        lambda: pipeline.produce_events(
            settings,
            options,
            topic=topic,
            bootstrap=bootstrap,
            rate=rate,
            kafka_source=kafka_source,
        ),
    )
    lang = language()
    if report.skipped:
        err_console.print(say(lang, "render.produce_skipped", skipped=report.skipped))
    console.print(
        say(
            lang,
            "render.produced",
            topic=report.topic,
            produced=report.produced,
            bootstrap=report.bootstrap,
            seconds=report.seconds,
            rate=report.produced / report.seconds if report.seconds > 0 else 0,
        ),
        highlight=False,
    )


@stream_app.command("run")
def run_stream(
    ctx: typer.Context,
    kafka_source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Configured kafka source to stream (default: the only one). / 스트리밍할 "
            "kafka 소스입니다(기본값: 설정된 유일한 소스).",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve Prometheus metrics (lag, batch latency, throughput) on this port. / "
            "이 포트에서 Prometheus 지표(지연, 배치 지연 시간, 처리량)를 제공합니다.",
        ),
    ] = None,
) -> None:
    """Validate, store, score and alert a kafka source's events continuously until
    stopped (Ctrl-C or SIGTERM finishes the current micro-batch). / kafka 소스의 이벤트를
    멈출 때까지 계속 검증, 저장, 점수화하고 경보를 올립니다(Ctrl-C 또는 SIGTERM은 처리 중인
    마이크로배치를 마치고 멈춥니다)."""
    import logging

    settings = call(ctx, load_settings)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("auditlens.stream").setLevel(logging.INFO)  # a line per scoring
    report = call(
        ctx,
        lambda: pipeline.stream(settings, source=kafka_source, metrics_port=metrics_port),
    )
    lang = language()
    console.print(
        pick(
            lang,
            f"{report.source}: {report.events:,} events in {report.batches:,} micro-batches, "
            f"{report.windows:,} windows scored, {report.alerts:,} alerts opened "
            f"({report.seconds:.1f} s)",
            f"{report.source}: 마이크로배치 {report.batches:,}개에서 이벤트 {report.events:,}건, "
            f"구간 {report.windows:,}개 점수화, 경보 {report.alerts:,}건 생성 "
            f"({report.seconds:.1f}초)",
        ),
        highlight=False,
    )
