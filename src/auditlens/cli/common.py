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
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from auditlens import pipeline
from auditlens.errors import AuditlensError
from auditlens.i18n import Lang, language, pick
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
    f"{EXIT_QUARANTINE}, so cron and schedulers see it). / 격리된 행이나 읽지 못한 파일이 "
    f"있어도 종료 코드 0으로 끝냅니다(기본값은 {EXIT_QUARANTINE}이며, cron과 스케줄러가 "
    "이를 알아챌 수 있습니다)."
)
AllowQuarantine = Annotated[bool, typer.Option("--allow-quarantine", help=_QUARANTINE_HELP)]

# How a command reads events: the same options on ingest, score, train and evaluate.
FormatOpt = Annotated[Format, typer.Option("--format", help="Input format. / 입력 형식입니다.")]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Read like the configured \\[sources.NAME] (its column map, value map, encoding, "
        "date order); alone: read that source itself. / 설정된 \\[sources.NAME]처럼 "
        "읽습니다(열 매핑, 값 매핑, 인코딩, 날짜 순서). 이 옵션만 주면 그 소스 자체를 읽습니다.",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Column mapping CUSTOMER=CANONICAL, e.g. login_time=timestamp. / 열 매핑 "
        "CUSTOMER=CANONICAL입니다(예: login_time=timestamp).",
    ),
]
ValueMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--value-map",
        help='Value map file: .toml (\\[action_type] then "조회" = "view") or .csv '
        "(column,value,canonical). See docs/ingestion.md. / 값 매핑 파일입니다. .toml"
        '(\\[action_type] 아래 "조회" = "view") 또는 .csv(column,value,canonical) 형식이며, '
        "docs/ingestion.md를 참고하십시오.",
    ),
]
EncodingOpt = Annotated[
    Encoding | None,
    typer.Option(
        "--encoding",
        help="Text encoding of CSV/JSON Lines files: utf-8 (default), cp949, euc-kr, or "
        "auto (UTF-8, else CP949, with a notice). / CSV·JSON Lines 파일의 문자 인코딩입니다: "
        "utf-8(기본값), cp949, euc-kr 또는 auto(UTF-8로 읽고, 안 되면 안내와 함께 CP949).",
    ),
]
DateOrderOpt = Annotated[
    DateOrder | None,
    typer.Option(
        "--date-order",
        help="How dates not starting with the year read: DMY (01/09/2026 = 1 Sep) or MDY. / "
        "연도로 시작하지 않는 날짜를 읽는 순서입니다: DMY(01/09/2026 = 9월 1일) 또는 MDY.",
    ),
]

# Who acts, and why: the same options on every alert decision and on audit reconcile.
Actor = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Admins only: act on behalf of this principal (recorded as admin on behalf of "
        "NAME). Without it you act as your own OS account, looked up in \\[principals]. / "
        "관리자 전용: 이 사용자를 대신하여 처리하며, 기록에는 관리자가 대신 처리한 것으로 "
        "남습니다. 생략하면 \\[principals]에서 찾은 본인의 OS 계정으로 처리합니다.",
    ),
]
Note = Annotated[
    str,
    typer.Option(
        "--note", help="Free text kept with the decision. / 결정과 함께 보관할 메모입니다."
    ),
]


@dataclass(frozen=True)
class Invocation:
    """Settings of one command line, from the top-level options; Typer keeps it as the
    context's ``obj`` and every command passes its context to :func:`call`."""

    debug: bool = False
    lang: Lang = "ko"


def invocation_lang(ctx: typer.Context) -> Lang:
    """The language of this command line (``--lang``, else ``AUDITLENS_LANGUAGE``, else the
    configuration file), for what a command prints itself before or without settings."""
    invocation = ctx.find_object(Invocation)
    return invocation.lang if invocation is not None else language()


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
    from auditlens.i18n import chosen_language

    chosen = chosen_language()
    if chosen is not None and "language" not in overrides:
        overrides["language"] = chosen  # --lang wins over the file and the environment
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


def parse_date(text: str, option: str, lang: str) -> dt.date:
    """``text`` as a date, or exit 2 naming ``option`` (the message in ``lang``)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        message = pick(
            lang,
            f"{option} {text!r} is not a date (YYYY-MM-DD)",
            f"{option} {text!r}은(는) 날짜가 아닙니다. YYYY-MM-DD 형식으로 입력하십시오.",
        )
        err_console.print(
            f"[bold red]{pick(lang, 'error', '오류')}:[/] {escape(message)}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def parse_folds(text: str, count: int | None, lang: str) -> tuple[Literal["time", "users"], int]:
    """``--folds`` (``time``, ``users`` or a number of time folds) and ``--fold-count`` as
    (kind, number of folds: 3 time or 5 user folds unless given); exit 2 otherwise."""
    if text.isdigit() and int(text) >= 2:
        return "time", count or int(text)
    if text == "time":
        return "time", count or 3
    if text == "users":
        return "users", count or 5
    message = pick(
        lang,
        f"--folds {text!r} is not time, users or a number of folds (2 or more)",
        f"--folds {text!r}은(는) time, users 또는 2 이상의 폴드 수가 아닙니다.",
    )
    err_console.print(
        f"[bold red]{pick(lang, 'error', '오류')}:[/] {escape(message)}",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(2)


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
