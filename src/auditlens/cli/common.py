"""What every command shares: the consoles, the invocation's settings, error handling,
and the options for reading events."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from auditlens import pipeline
from auditlens.errors import AuditlensError
from auditlens.i18n import Lang, pick
from auditlens.vocabulary import DateOrder, Encoding, InputFormat

if TYPE_CHECKING:
    from auditlens.config import Settings

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

Format = InputFormat

#: Exit code of `ingest` and `run` when a row was quarantined or a file could not be read
#: (the data that could be read is stored); `--allow-quarantine` turns it into 0.
EXIT_QUARANTINE = 3
_QUARANTINE_HELP = (
    f"Exit 0 even when rows were quarantined or files unreadable (default: exit "
    f"{EXIT_QUARANTINE}, so cron and schedulers see it)."
)
AllowQuarantine = Annotated[bool, typer.Option("--allow-quarantine", help=_QUARANTINE_HELP)]

# How a command reads events: the same options on ingest, score, train and evaluate.
FormatOpt = Annotated[Format, typer.Option("--format", help="Input format.")]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Read like the configured [sources.NAME] (its column map, value map, encoding, "
        "date order); alone: read that source itself.",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping CUSTOMER=CANONICAL, e.g. login_time=timestamp."),
]
ValueMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--value-map",
        help='Value map file: .toml ([action_type] then "조회" = "view") or .csv '
        "(column,value,canonical). See docs/ingestion.md.",
    ),
]
EncodingOpt = Annotated[
    Encoding | None,
    typer.Option(
        "--encoding",
        help="Text encoding of CSV/JSON Lines files: utf-8 (default), cp949, euc-kr, or "
        "auto (UTF-8, else CP949, with a notice).",
    ),
]
DateOrderOpt = Annotated[
    DateOrder | None,
    typer.Option(
        "--date-order",
        help="How dates not starting with the year read: DMY (01/09/2026 = 1 Sep) or MDY.",
    ),
]

# Who acts, and why: the same options on every alert decision and on audit reconcile.
Actor = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Admins only: act on behalf of this principal (recorded as admin on behalf of "
        "NAME). Without it you act as your own OS account, looked up in [principals].",
    ),
]
Note = Annotated[str, typer.Option("--note", help="Free text kept with the decision.")]


@dataclass(frozen=True)
class Invocation:
    """Settings of one command line, from the top-level options; Typer keeps it as the
    context's ``obj`` and every command passes its context to :func:`call`."""

    debug: bool = False
    lang: Lang = "ko"


def call(ctx: typer.Context, action: Callable[[], T]) -> T:
    """Run a command body; an AuditlensError becomes one line on stderr and its exit code
    (1, or e.g. 5 for "no events", 6 when another process holds the store's lock), or,
    with --debug, a traceback."""
    try:
        return action()
    except AuditlensError as exc:
        invocation = ctx.find_object(Invocation) or Invocation()
        if invocation.debug:
            raise
        lang = invocation.lang
        err_console.print(
            f"[bold red]{pick(lang, 'error', '오류')}:[/] {escape(exc.text(lang))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(exc.exit_code) from None


def load_settings(**overrides: Any) -> Settings:
    """The settings (``auditlens.toml``, ``AUDITLENS_*``): :func:`auditlens.config.load_settings`.

    Imported on first call: pydantic-settings alone takes ~0.3 s, which ``--help`` and
    ``version`` should not pay.
    """
    from auditlens.config import load_settings as load

    return load(**overrides)


@contextlib.contextmanager
def held_stdout() -> Iterator[io.StringIO]:
    """Hold back what a job prints on stdout (the console channel's ALERT lines) so that
    the report shows it in its place, not above its header; on an error it is written
    out at once, so nothing is lost."""
    held = io.StringIO()
    try:
        with contextlib.redirect_stdout(held):
            yield held
    except BaseException:
        sys.stdout.write(held.getvalue())
        raise


def inputs(
    path: Path | None,
    source: str | None,
    fmt: Format,
    mapping: list[str] | None,
    value_map: Path | None,
    encoding: str | None,
    date_order: DateOrder | None,
) -> pipeline.InputOptions:
    """The event-reading options of a command line as the pipeline takes them."""
    return pipeline.InputOptions(
        path=path,
        source=source,
        format=fmt,
        column_map=tuple(mapping or ()),
        value_map=value_map,
        encoding=encoding,
        date_order=date_order,
    )


def parse_date(text: str, option: str = "--start") -> dt.date:
    """``text`` as a date, or exit 2 naming ``option``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        err_console.print(f"[bold red]error:[/] {option} {text!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def exit_for(reports: list[pipeline.IngestReport], lang: str, allow_quarantine: bool) -> None:
    """Exit 1 when a source failed, 3 when something was quarantined (unless allowed)."""
    failed = [r for r in reports if r.error]
    rows = sum(r.quarantined - len(r.unreadable) for r in reports)
    files = sum(len(r.unreadable) for r in reports)
    if failed:
        raise typer.Exit(1)
    if (rows or files) and not allow_quarantine:
        if lang == "ko":
            text = (
                f"격리된 행 {rows:,}개, 읽지 못한 파일 {files}개 — `auditlens quarantine`으로 "
                f"확인하십시오 (종료 코드 {EXIT_QUARANTINE}; --allow-quarantine이면 0)"
            )
        else:
            text = (
                f"{rows:,} rows quarantined, {files} files unreadable — see `auditlens "
                f"quarantine` (exit {EXIT_QUARANTINE}; 0 with --allow-quarantine)"
            )
        err_console.print(f"[yellow]{text}[/]", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_QUARANTINE)
