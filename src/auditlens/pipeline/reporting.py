"""Reports as plain functions: build the report model of a period, write each format,
and record in the audit trail that the report was produced (``auditlens report``).

The acting principal is the operating-system account looked up in ``[principals]``
(any role: a report shows what a viewer sees). The trail entry (action ``report``,
target ``report:KIND:LABEL``) names the period, the data watermark, the models, the
config hash, the trail head the report rests on, the digest of its numbers and the
sha256 of each file written — so a report handed to an examiner can be matched to the
trail, and regenerating it shows the same digest.

Example::

    made = make_report(settings, "monthly", "2026-09", formats=("xlsx",), out=Path("reports"))
    made.files, made.data.footer.digest
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from auditlens.config import Settings
from auditlens.i18n import Lang
from auditlens.identity import Acting, Directory, cli_acting
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.reports.formats import DEFAULT_FORMATS, WRITERS, FormatError, writer
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period, PeriodKind
from auditlens.store.audit import AuditEntry, NewEntry
from auditlens.store.repo import Store


@dataclass(frozen=True)
class ReportResult:
    """A produced report: its model, the files written and its audit entry."""

    data: ReportData
    files: tuple[Path, ...]
    entry: AuditEntry


def last_period(kind: PeriodKind, settings: Settings, now: dt.datetime) -> Period:
    """The newest period of ``kind`` that is over at ``now`` (local days)."""
    import zoneinfo

    today = now.astimezone(zoneinfo.ZoneInfo(settings.timezone)).date()
    return Period.containing(today, kind).previous()


def report_acting(settings: Settings, who_am_i: Callable[[], str] | None = None) -> Acting:
    """Who produces a report: the OS account, a known principal with any role.

    Raises:
        IdentityError: the account is not in ``[principals]``, or holds no role.
    """
    acting = cli_acting(Directory.from_settings(settings), None, who_am_i=who_am_i)
    acting.require("viewer", "produce reports", "보고서 작성")
    return acting


def make_report(
    settings: Settings,
    kind: PeriodKind,
    period: str | None = None,
    *,
    formats: Sequence[str] | None = None,
    lang: Lang | None = None,
    out: Path = Path("reports"),
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> ReportResult:
    """Write the report of ``period`` (``2026-09``; None: the last finished one) in each
    of ``formats`` (None: those of DEFAULT_FORMATS this installation has) into ``out``.

    Raises:
        PeriodError: ``period`` is not a period of ``kind``.
        FormatError: an unknown or unavailable format.
        IdentityError: the acting principal is not known.
        ControlsError: ``report_controls`` cannot be used.
    """
    now = clock()
    chosen = Period.parse(period, kind) if period else last_period(kind, settings, now)
    wanted = tuple(formats) if formats else _default_formats()
    writers = [(fmt, writer(fmt)) for fmt in wanted]  # unavailable: refused before any work
    acting = report_acting(settings, who_am_i)
    with Store.open(settings) as store:
        data = build_report(store, settings, chosen, lang or settings.language, now=now)
        files = tuple(write(data, out, settings) for _, write in writers)
        entry = record_report(store, acting, data, files, now)
    return ReportResult(data, files, entry)


def _default_formats() -> tuple[str, ...]:
    have = WRITERS.available()
    found = tuple(f for f in DEFAULT_FORMATS if f in have)
    if not found:
        raise FormatError(
            "no report format is available in this installation",
            ko="이 설치본에서 쓸 수 있는 보고서 형식이 없습니다",
        )
    return found


def record_report(
    store: Store,
    acting: Acting,
    data: ReportData,
    files: Sequence[Path],
    now: dt.datetime,
) -> AuditEntry:
    """Append the trail entry that ``data`` was produced as ``files`` (no addresses: a
    send of the digest is its own ``report_send`` entry, pipeline/report_mail.py)."""
    footer = data.footer
    entry = NewEntry(
        actor=acting.actor.id,
        action="report",
        target=f"report:{data.period.kind}:{data.period.label}",
        reason_code=data.period.kind,
        note=", ".join(p.name for p in files),
        criteria={
            "period": [data.period.start.isoformat(), data.period.end.isoformat()],
            "lang": data.lang,
            "pseudonymised": data.pseudonymised,
            "digest": footer.digest,
            "data_batch_id": footer.data_batch_id,
            "data_watermark": footer.data_watermark,
            "models": list(footer.models),
            "config_hash": footer.config_hash,
            "audit_head_seq": footer.audit_head_seq,
            "audit_head_hash": footer.audit_head_hash,
            "files": {p.name: _sha256(p) for p in files},
        },
    )
    with store.engine.begin() as conn:
        return store.trail.append(conn, entry, now)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
