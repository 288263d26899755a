"""The control mapping: the built-in file, a team's own, the errors that name file, line
and field in both languages, and evidence that is the read model's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditlens import views
from auditlens.config import Settings
from auditlens.reports.controls import (
    EVIDENCE_FIELDS,
    ControlsError,
    control_evidence,
    load_controls,
)
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period
from auditlens.store.repo import Store
from tests.reports.conftest import BUILT_AT

OWN = """\
# our internal plan
[[control]]
id = "plan-3.2"
title_ko = "내부 관리계획 3.2 (접속기록 점검)"
title_en = "Internal plan 3.2 (access-record review)"
requirement_ko = "매주 접속기록을 점검한다."
requirement_en = "Review access records every week."
frequency = "weekly"
evidence = ["period", "events", "alerts", "audit_head"]
"""


def test_the_built_in_mapping_cites_the_korean_rules() -> None:
    controls = load_controls()
    titles = " ".join(c.title_ko for c in controls)
    for clause in (
        "개인정보의 안전성 확보조치 기준 제8조(접속기록의 보관 및 점검)",
        "전자금융감독규정 제13조(전산자료 보호대책)",
        "신용정보업감독규정 제20조",
    ):
        assert clause in titles
    review = next(c for c in controls if c.id == "pipa-8-review")
    assert review.frequency == "monthly"
    assert {"period", "users", "events", "alerts", "resolutions", "audit_head"} <= set(
        review.evidence
    )
    assert all(set(c.evidence) <= set(EVIDENCE_FIELDS) for c in controls)
    assert all(re.search("[가-힣]", c.requirement_ko) and c.requirement_en for c in controls)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controls.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (('frequency = "weekly"', 'frequency = "daily"'), 8, "frequency", "'daily'"),
        (('"audit_head"]', '"audit_head", "vibes"]'), 9, "evidence", "vibes"),
        (('requirement_en = "Review access records every week."\n', ""), 2, "requirement_en", ""),
        (('id = "plan-3.2"', 'id = "plan 3.2"'), 3, "id", "letters"),
        (('frequency = "weekly"', 'frequency = "weekly"\nowner = "kim"'), 9, "owner", "unknown"),
        (('evidence = ["period", "events", "alerts", "audit_head"]', "evidence = []"), 9,
         "evidence", "list"),
    ],
)  # fmt: skip
def test_a_bad_control_is_named_by_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, field: str, words: str
) -> None:
    path = _write(tmp_path, OWN.replace(*change))
    with pytest.raises(ControlsError) as caught:
        load_controls(path)
    en, ko = caught.value.text("en"), caught.value.text("ko")
    assert f"{path}:{line}: control 1 field '{field}'" in en, en
    assert words in en
    assert f"{path}:{line}: 1번째 통제 항목 '{field}'" in ko, ko
    assert "docs/reports.md" in en


def test_a_file_that_is_not_a_mapping_is_refused_clearly(tmp_path: Path) -> None:
    cases = {
        "[[control]\nid = 1\n": "not valid TOML",
        'title = "x"\n': "[[control]] tables only",
        "": "none found",
        OWN + OWN.replace("# our internal plan\n", ""): "used twice",
    }
    for text, words in cases.items():
        with pytest.raises(ControlsError) as caught:
            load_controls(_write(tmp_path, text))
        assert words in caught.value.text("en")
        assert re.search("[가-힣]", caught.value.text("ko"))
    with pytest.raises(ControlsError) as missing:
        load_controls(tmp_path / "nowhere.toml")
    assert "report_controls" in missing.value.text("en")


def test_a_teams_own_mapping_is_what_the_report_shows(
    tmp_path: Path, report_settings: Settings, report_data: ReportData
) -> None:
    settings = report_settings.model_copy(update={"report_controls": _write(tmp_path, OWN)})
    with Store.open(settings) as store:
        data = build_report(store, settings, report_data.period, "en", now=BUILT_AT)
    [shown] = data.controls
    assert shown.control.id == "plan-3.2"
    assert shown.cadence_met is False  # a monthly report is longer than a weekly review
    assert [i.field for i in shown.items] == ["period", "events", "alerts", "audit_head"]
    assert shown.items[1].value == report_data.activity.events
    weekly = control_evidence(
        [shown.control], {i.field: i for i in shown.items}, Period.parse("2026-W37", "weekly")
    )
    assert weekly[0].cadence_met is True


def test_the_evidence_is_the_read_models_numbers(
    report_data: ReportData, report_store: Store
) -> None:
    p, zone = report_data.period, report_data.zone
    items = {i.field: i for c in report_data.controls for i in c.items}
    assert set(items) == set(EVIDENCE_FIELDS)  # the built-in mapping uses every field
    figures = views.kpis(report_store, p.start, p.end, zone=zone)
    seen = views.coverage(report_store, p.start, p.end, zone=zone)
    fed = views.ingestion(report_store, p.start, p.end, zone=zone)
    health = views.data_health(report_store, p.start, p.end, zone=zone)
    assert items["period"].value == f"{p.start} ~ {p.end}"
    assert items["users"].value == seen.users_monitored
    assert items["events"].value == seen.events == sum(s.events for s in fed.sources)
    assert items["sources"].value == len(fed.sources) > 0
    assert items["alerts"].value == figures.alerts
    assert items["resolutions"].value == figures.closed + figures.dismissed
    assert items["open_alerts"].value == figures.alerts - figures.ended
    assert items["four_eyes"].value == figures.four_eyes
    assert items["quarantine"].value == health.quarantined_rows == figures.quarantined_rows
    assert items["tamper"].value == figures.tamper_findings
    assert items["watermark"].value == f"#{fed.batch_id}"
    assert items["audit_head"].value == report_data.footer.audit_head_hash
    watched = views.audit_search(
        report_store,
        views.AuditFilters(actions=("view",), start=p.start, end=p.end),
        views.Page(limit=1),
        zone=zone,
    )
    assert items["watchers"].value == watched.total
    assert str(figures.confirmed) in items["resolutions"].detail_en
