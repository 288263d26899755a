"""`auditlens report send`: the e-mail digest of a period, to report_recipients, once;
``--due`` for a daily cron or Airflow job (sends on the scheduled day only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape

from auditlens.cli.common import call, console, invocation_lang, load_settings
from auditlens.i18n import Lang, is_lang, pick

if TYPE_CHECKING:
    from auditlens.pipeline.report_mail import SendResult

PeriodKind = Literal["weekly", "monthly", "quarterly"]  # reports.period's, without importing it

#: The kinds of digest ``--kind`` takes.
_KINDS: dict[str, PeriodKind] = {"weekly": "weekly", "monthly": "monthly"}


SendPeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="The period: 2026-W37 (a week) or 2026-09 (a month); default: the last "
        "finished one of --kind. / 보낼 기간: 2026-W37(주) 또는 2026-09(월)이며, 기본값은 "
        "--kind의 직전에 끝난 기간입니다.",
    ),
]

KindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="weekly or monthly (default: read from --period; with --due: both). / "
        "weekly 또는 monthly(기본값: --period의 형식으로 판단; --due이면 둘 다).",
    ),
]

ToOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--to",
        help="Recipient address, repeatable or comma-separated (default: "
        "report_recipients). / 받는 사람 주소이며 여러 번 쓰거나 쉼표로 구분합니다(기본값: "
        "report_recipients).",
    ),
]

DueOpt = Annotated[
    bool,
    typer.Option(
        "--due",
        help="Send only the digests whose scheduled day ([report_schedule], days off "
        "moved to the next working day) is today: run it daily from cron or Airflow. / "
        "예정일([report_schedule], 휴일이면 다음 영업일)이 오늘인 요약 메일만 보냅니다: "
        "cron이나 Airflow에서 매일 실행하십시오.",
    ),
]

ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Send again even if this period went to these recipients already. / 같은 "
        "기간을 같은 받는 사람에게 이미 보냈어도 다시 보냅니다.",
    ),
]

ChannelOpt = Annotated[
    str | None,
    typer.Option(
        "--channel",
        help="The e-mail alert channel whose SMTP settings to use (default: the only "
        "one). / SMTP 설정을 쓸 전자우편 알림 채널입니다(기본값: 하나뿐인 채널).",
    ),
]

DigestLangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the digest: ko or en (default: `language`). / 요약 메일 언어: "
        "ko 또는 en(기본값: `language`).",
    ),
]


def report_send(
    ctx: typer.Context,
    period: SendPeriodOpt = None,
    kind: KindOpt = None,
    to: ToOpt = None,
    due: DueOpt = False,
    force: ForceOpt = False,
    channel: ChannelOpt = None,
    lang: DigestLangOpt = None,
) -> None:
    """E-mail the digest (HTML tables and charts, plain text) of a period, once per period
    and recipient set. / 기간의 요약 메일(HTML 표와 그림, 일반 텍스트)을 보내며, 같은 기간과
    받는 사람에게는 한 번만 보냅니다."""
    from auditlens.pipeline.report_mail import send_report

    shown = invocation_lang(ctx)
    chosen = _choice(lang, ("ko", "en"), "--lang", shown)
    language: Lang | None = chosen if is_lang(chosen) else None
    which = _KINDS.get(_choice(kind, tuple(_KINDS), "--kind", shown) or "")
    addresses = [a for given in to or () for a in given.split(",")]
    settings = call(ctx, load_settings)
    results = call(
        ctx,
        lambda: send_report(
            settings,
            which,
            period,
            to=addresses,
            lang=language,
            channel=channel,
            force=force,
            due=due,
        ),
    )
    for result in results:
        line = _line(result, shown, settings.timezone)
        console.print(escape(line), highlight=False, soft_wrap=True)


def _choice(value: str | None, allowed: tuple[str, ...], option: str, lang: Lang) -> str | None:
    if value is None:
        return None
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise typer.BadParameter(
            pick(
                lang,
                f"{value!r}: use {' or '.join(allowed)}",
                f"{value!r}: {' 또는 '.join(allowed)}을(를) 쓰십시오.",
            ),
            param_hint=option,
        )
    return cleaned


def _line(result: SendResult, lang: Lang, zone: str) -> str:
    """What one result says, in ``lang``."""
    from auditlens.localtime import local_time
    from auditlens.reports.period import kind_word

    word = kind_word(result.kind, lang)
    if result.status == "not_due":
        if result.next_day is None:
            return pick(
                lang,
                f"no {word} digest is scheduled (report_schedule.{result.kind})",
                f"{word} 요약 메일 일정이 없습니다 (report_schedule.{result.kind})",
            )
        nxt = result.next_day.isoformat()
        return pick(
            lang,
            f"no {word} digest is due today; the next goes out on {nxt}",
            f"오늘 보낼 {word} 요약 메일이 없습니다; 다음 발송일은 {nxt}입니다",
        )
    period = result.period
    label = "" if period is None else f"{period.label} ({period.span()})"
    entry = result.entry
    seq = "?" if entry is None else str(entry.seq)
    if result.status == "already_sent":
        at = "?" if entry is None else local_time(entry.at, zone)
        return pick(
            lang,
            f"the {word} digest {label} went to these {result.recipients} recipient(s) "
            f"already on {at} (audit entry {seq}); --force sends it again",
            f"{word} 요약 메일 {label}은(는) {at}에 같은 받는 사람 {result.recipients}명에게 "
            f"이미 보냈습니다 (감사 로그 {seq}번 항목); 다시 보내려면 --force를 쓰십시오",
        )
    return pick(
        lang,
        f"sent the {word} digest {label} to {result.recipients} recipient(s): message "
        f"{result.message_id}, audit entry {seq}",
        f"{word} 요약 메일 {label}을(를) {result.recipients}명에게 보냈습니다: 메시지 "
        f"{result.message_id}, 감사 로그 {seq}번 항목",
    )
