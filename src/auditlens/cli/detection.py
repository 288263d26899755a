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
)
from auditlens.cli.progress import stages
from auditlens.cli.render import (
    print_batch_job,
    print_evaluation,
    print_explanation,
    print_score,
    print_training,
)
from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT

LabelsOpt = Annotated[Path, typer.Option(help="Past findings: labels.csv or CERT insiders.csv.")]
StoreInputOpt = Annotated[
    Path | None, typer.Option("--input", help="Events to use instead of the store.")
]


def run_cmd(
    ctx: typer.Context,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Fit a new unsupervised model (a trained ensemble is kept; see --unsupervised).",
        ),
    ] = False,
    unsupervised: Annotated[
        bool,
        typer.Option(
            "--unsupervised", help="Replace a trained ensemble with a new unsupervised model."
        ),
    ] = False,
    alerts: Annotated[
        bool, typer.Option("--alerts/--no-alerts", help="Record detections and open alerts.")
    ] = True,
    wait: Annotated[
        float,
        typer.Option(
            min=0.0, help="Wait up to N seconds for another run on the store (then exit 6)."
        ),
    ] = DEFAULT_RUN_WAIT,
    allow_quarantine: AllowQuarantine = False,
) -> None:
    """The batch job: ingest, features, score, store with evidence, raise alerts.

    Exit codes: 0 done; 1 error (a failing source is reported, the others are still
    ingested and scored); 3 rows were quarantined or a file could not be read, unless
    --allow-quarantine.
    """
    settings = call(ctx, load_settings)
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
            ),
        )
    print_batch_job(job, settings.language)
    exit_for(job.run.ingests, settings.language, allow_quarantine)


def score(
    ctx: typer.Context,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Events file, directory or CERT directory.")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = "auto",
    mapping: MapOpt = None,
    value_map: ValueMapOpt = None,
    encoding: EncodingOpt = None,
    date_order: DateOrderOpt = None,
    labels: Annotated[
        Path | None, typer.Option(help="labels.csv or CERT insiders.csv: print detection quality.")
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV to write, one row per user.")] = Path(
        "scores.csv"
    ),
) -> None:
    """One shot, no store: fit the unsupervised model on a file and score every user."""
    settings = call(ctx, load_settings)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with console.status("scoring..."):
        report = call(
            ctx, lambda: pipeline.score_file(settings, given, output=output, labels=labels)
        )
    print_score(report, settings.language)


def explain_cmd(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="User id.")],
    date: Annotated[
        str | None,
        typer.Option("--date", help="Window (local day), YYYY-MM-DD; default: the user's peak."),
    ] = None,
) -> None:
    """Replay a stored score from the store: same features, model, risk and reasons?"""
    settings = call(ctx, load_settings)
    day = parse_date(date, "--date") if date else None
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
    out: Annotated[Path | None, typer.Option(help="Report directory.")] = None,
    folds: Annotated[int, typer.Option(min=2, help="Time-ordered test folds.")] = 3,
) -> None:
    """Time-aware evaluation: unsupervised, each classifier and the ensemble side by side."""
    settings = call(ctx, load_settings)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with stages("evaluate", lang=settings.language, timezone=settings.timezone) as on_stage:
        report = call(
            ctx,
            lambda: pipeline.evaluate(
                settings, labels, inputs=given, out_dir=out, n_folds=folds, on_stage=on_stage
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
    """Fit the stacked ensemble on past findings and register it for `auditlens run`."""
    settings = call(ctx, load_settings)
    given = inputs(input_path, source, fmt, mapping, value_map, encoding, date_order)
    with stages("train", lang=settings.language, timezone=settings.timezone) as on_stage:
        report = call(
            ctx, lambda: pipeline.train(settings, labels, inputs=given, on_stage=on_stage)
        )
    print_training(report, settings.language)
