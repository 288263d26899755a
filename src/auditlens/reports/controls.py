"""Control evidence: what auditlens did in a period, mapped to the controls a financial
firm is examined on.

The mapping is data, not code: ``auditlens/data/controls.toml`` (the Korean
financial-sector clauses docs/reports.md cites) or a team's own file named by
``report_controls``. Each ``[[control]]`` names a clause and the evidence fields a report
shows for it; :func:`evidence_items` computes every field once from the read model's
figures and :func:`control_evidence` hands each control its own. Evidence support, not
legal advice.

Example::

    controls = load_controls(settings.report_controls)      # validated, ko/en errors
    shown = control_evidence(controls, items, period)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final, get_args

from pydantic import Field

from auditlens.errors import ConfigError
from auditlens.reports.period import PERIOD_KINDS, Period, PeriodKind
from auditlens.views import ViewModel

#: Every evidence field a control may ask for, with its label (ko, en).
EVIDENCE_FIELDS: Final[Mapping[str, tuple[str, str]]] = {
    "period": ("점검 기간", "period covered"),
    "sources": ("점검 대상 시스템(소스)", "systems (sources) covered"),
    "users": ("점검 대상 사용자", "users covered"),
    "events": ("점검한 접속기록(이벤트)", "access records (events) reviewed"),
    "alerts": ("생성된 알림", "alerts raised"),
    "resolutions": ("처리 완료된 알림", "alerts resolved"),
    "open_alerts": ("처리 중인 알림", "alerts still being worked on"),
    "four_eyes": ("2인 승인 종결", "closes approved by a second person"),
    "quarantine": ("격리된 행", "rows quarantined"),
    "tamper": ("로그 변조 의심", "possible log tampering"),
    "watchers": ("개인별 위험 조회 기록", "reads of a named person recorded"),
    "models": ("사용된 모델", "models used"),
    "watermark": ("데이터 기준점", "data watermark"),
    "audit_head": ("감사 로그 헤드 해시", "audit-trail head hash"),
}
#: The keys a ``[[control]]`` may hold (``frequency`` is optional).
_TEXT_KEYS: Final = ("id", "title_ko", "title_en", "requirement_ko", "requirement_en")
_KEYS: Final = (*_TEXT_KEYS, "frequency", "evidence")
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ControlsError(ConfigError):
    """The control mapping file cannot be used as written (file, line and field named)."""


class Control(ViewModel):
    """One control a report gives evidence for."""

    id: str
    title_ko: str = Field(description="the clause, cited by name")
    title_en: str
    requirement_ko: str
    requirement_en: str
    frequency: PeriodKind | None = Field(description="how often it asks for a review")
    evidence: tuple[str, ...] = Field(description="EVIDENCE_FIELDS keys, in order")


class EvidenceItem(ViewModel):
    """One piece of evidence: a count (a real number) or a text (a period, a hash)."""

    field: str
    label_ko: str
    label_en: str
    value: int | str
    detail_ko: str = ""
    detail_en: str = ""


class ControlEvidence(ViewModel):
    """A control with the evidence the period gives for it."""

    control: Control
    cadence_met: bool | None = Field(
        description="the report's period is no longer than the control's frequency "
        "(null: the control sets none)"
    )
    items: tuple[EvidenceItem, ...]


def item(field: str, value: int | str, detail_ko: str = "", detail_en: str = "") -> EvidenceItem:
    """The evidence ``field`` with its labels."""
    label_ko, label_en = EVIDENCE_FIELDS[field]
    return EvidenceItem(
        field=field,
        label_ko=label_ko,
        label_en=label_en,
        value=value,
        detail_ko=detail_ko,
        detail_en=detail_en,
    )


def control_evidence(
    controls: Sequence[Control], items: Mapping[str, EvidenceItem], period: Period
) -> tuple[ControlEvidence, ...]:
    """Each control with its evidence ``items`` (one per field, every field present)."""
    rank = PERIOD_KINDS.index(period.kind)
    return tuple(
        ControlEvidence(
            control=c,
            cadence_met=None if c.frequency is None else rank <= PERIOD_KINDS.index(c.frequency),
            items=tuple(items[f] for f in c.evidence),
        )
        for c in controls
    )


def default_controls_path() -> str:
    """Where the built-in mapping lives (package data)."""
    return str(resources.files("auditlens") / "data" / "controls.toml")


def load_controls(path: Path | None = None) -> tuple[Control, ...]:
    """The controls of ``path`` (None: the built-in mapping), validated.

    Raises:
        ControlsError: the file cannot be read, is not TOML, or a control is incomplete
            or names an unknown field, frequency or evidence (file, line and field named).
    """
    where = str(path) if path is not None else default_controls_path()
    try:
        if path is None:
            text = (resources.files("auditlens") / "data" / "controls.toml").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlsError(
            f"{where}: cannot read the control mapping ({exc.__class__.__name__})",
            ko=f"{where}: 통제 항목 매핑 파일을 읽을 수 없습니다 ({exc.__class__.__name__})",
            hint="check report_controls in auditlens.toml",
            ko_hint="auditlens.toml의 report_controls 값을 확인하십시오",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ControlsError(
            f"{where}: not valid TOML: {exc}",
            ko=f"{where}: TOML 문법 오류입니다: {exc}",
            hint='quote every text value ("...") and write each control as [[control]]',
            ko_hint='문자열 값은 모두 따옴표("...")로 감싸고 통제 항목은 [[control]]로 쓰십시오',
        ) from None
    return _controls(data, _Lines(where, text))


class _Lines:
    """Where things are in the file: the line of each ``[[control]]`` and its keys."""

    def __init__(self, where: str, text: str) -> None:
        self.where = where
        self.lines = text.splitlines()
        self.headers = [
            n for n, line in enumerate(self.lines, 1) if line.strip().startswith("[[control]]")
        ]

    def of(self, index: int, key: str | None = None) -> int:
        """The line of control ``index`` (0-based), or of its ``key`` when found."""
        if index >= len(self.headers):
            return 1
        start = self.headers[index]
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines) + 1
        if key is not None:
            pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
            for n in range(start, end):
                if pattern.match(self.lines[n - 1]):
                    return n
        return start

    def error(self, index: int, key: str | None, en: str, ko: str) -> ControlsError:
        line = self.of(index, key)
        field = f" field {key!r}" if key else ""
        field_ko = f" 항목 {key!r}" if key else ""
        return ControlsError(
            f"{self.where}:{line}: control {index + 1}{field}: {en}",
            ko=f"{self.where}:{line}: {index + 1}번째 통제{field_ko}: {ko}",
            hint="see docs/reports.md, Control evidence",
            ko_hint="docs/reports.md의 통제 증빙 절을 참고하십시오",
        )


def _controls(data: dict[str, Any], lines: _Lines) -> tuple[Control, ...]:
    unknown = sorted(set(data) - {"control"})
    if unknown or not isinstance(data.get("control"), list) or not data["control"]:
        raise ControlsError(
            f"{lines.where}:1: expected [[control]] tables only"
            + (f" (unknown keys {unknown})" if unknown else " (none found)"),
            ko=f"{lines.where}:1: [[control]] 표만 쓸 수 있습니다"
            + (f" (알 수 없는 키 {unknown})" if unknown else " (통제 항목이 없습니다)"),
            hint="see the built-in auditlens/data/controls.toml",
            ko_hint="기본 파일 auditlens/data/controls.toml을 참고하십시오",
        )
    found: list[Control] = []
    for index, raw in enumerate(data["control"]):
        control = _control(index, raw, lines)
        if any(c.id == control.id for c in found):
            raise lines.error(
                index, "id", f"id {control.id!r} is used twice", f"ID {control.id!r}가 중복됩니다"
            )
        found.append(control)
    return tuple(found)


def _control(index: int, raw: dict[str, Any], lines: _Lines) -> Control:
    for key in sorted(set(raw) - set(_KEYS)):
        raise lines.error(
            index, key, f"unknown field (known: {', '.join(_KEYS)})",
            f"알 수 없는 항목입니다 (쓸 수 있는 항목: {', '.join(_KEYS)})",
        )  # fmt: skip
    for key in _TEXT_KEYS:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise lines.error(index, key, "missing or not a text", "값이 없거나 문자열이 아닙니다")
    if not _ID.fullmatch(raw["id"]):
        raise lines.error(
            index, "id", "use letters, digits, '.', '_' or '-'",
            "영문자, 숫자, '.', '_', '-'만 쓰십시오",
        )  # fmt: skip
    frequency = raw.get("frequency")
    if frequency is not None and frequency not in get_args(PeriodKind):
        kinds = ", ".join(PERIOD_KINDS)
        raise lines.error(
            index, "frequency", f"{frequency!r} is not one of {kinds}",
            f"{frequency!r}은(는) {kinds} 중 하나가 아닙니다",
        )  # fmt: skip
    evidence = raw.get("evidence")
    if not isinstance(evidence, list) or not evidence:
        raise lines.error(
            index, "evidence", "a list of evidence fields is needed",
            "증빙 항목 목록이 필요합니다",
        )  # fmt: skip
    bad = [e for e in evidence if e not in EVIDENCE_FIELDS]
    if bad:
        known = ", ".join(EVIDENCE_FIELDS)
        raise lines.error(
            index, "evidence", f"unknown evidence {bad} (known: {known})",
            f"알 수 없는 증빙 항목 {bad}입니다 (쓸 수 있는 항목: {known})",
        )  # fmt: skip
    return Control(
        id=raw["id"].strip(),
        title_ko=raw["title_ko"].strip(),
        title_en=raw["title_en"].strip(),
        requirement_ko=raw["requirement_ko"].strip(),
        requirement_en=raw["requirement_en"].strip(),
        frequency=frequency,
        evidence=tuple(dict.fromkeys(evidence)),
    )
