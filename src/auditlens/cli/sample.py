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
    load_settings,
    parse_date,
)
from auditlens.cli.render import print_demo, print_sample
from auditlens.i18n import language


def version() -> None:
    """Print the auditlens version."""
    console.print(__version__)


def generate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("var/sample"),
    users: Annotated[int, typer.Option(min=1, help="Number of users.")] = 200,
    days: Annotated[int, typer.Option(min=1, help="Number of days.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-09-01",
    insider_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of users with a planted scenario.")
    ] = 0.02,
    fmt: Annotated[
        Literal["parquet", "csv", "jsonl"], typer.Option("--format", help="Events file format.")
    ] = "parquet",
) -> None:
    """Generate a synthetic organisation's access events with planted insider scenarios."""
    with console.status("generating..."):
        summary = call(
            ctx,
            lambda: pipeline.generate_sample(
                load_settings(),
                out,
                users=users,
                days=days,
                seed=seed,
                start=parse_date(start),
                insider_rate=insider_rate,
                fmt=fmt,
            ),
        )
    print_sample(summary, language())


def demo(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=10, help="Users in the sample.")] = 200,
    days: Annotated[int, typer.Option(min=7, help="Days in the sample.")] = 30,
) -> None:
    """Set up the store, generate the sample and run the main job on it."""
    settings = call(ctx, load_settings)
    # the spinner on stderr: stdout is held, and a pipe reads the report in order
    with err_console.status("preparing the sample and the store..."), held_stdout() as printed:
        result = call(ctx, lambda: pipeline.run_demo(settings, users=users, days=days))
    print_demo(result, settings.language, printed.getvalue(), settings.timezone)
