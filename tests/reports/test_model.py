"""The report model holds the read model's answers as they are (to the digit), shows
people as a viewer does, names what it rests on, and is reproducible."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from auditlens import views
from auditlens.alerts.triage import TriageError
from auditlens.config import Settings
from auditlens.pipeline.alerting import decide_alert
from auditlens.privacy import Pseudonymiser
from auditlens.reports.model import ReportData, build_report, digest, report_numbers
from auditlens.reports.period import Period, PeriodError
from auditlens.store.repo import Store
from tests.reports.conftest import BUILT_AT, PSEUDONYM_KEY, pseudonymised


def _all(read):  # type: ignore[no-untyped-def]
    found, offset = [], 0
    while offset is not None:
        page = read(views.Page(limit=500, offset=offset))
        found.extend(page.items)
        offset = page.next_offset
    return found


# --- periods ---------------------------------------------------------------------------


def test_periods_parse_contain_and_precede() -> None:
    week = Period.parse("2026-W37", "weekly")
    assert (week.start, week.end, week.days) == (dt.date(2026, 9, 7), dt.date(2026, 9, 13), 7)
    assert Period.parse("2026-w01", "weekly").start == dt.date(2025, 12, 29)
    assert Period.parse("2027-W01", "weekly").previous().label == "2026-W53"
    month = Period.parse("2026-02", "monthly")
    assert (month.end, month.previous().label, month.title("en")) == (
        dt.date(2026, 2, 28),
        "2026-01",
        "February 2026",
    )
    assert Period.parse("2026-01", "monthly").previous().label == "2025-12"
    quarter = Period.parse("2026-Q1", "quarterly")
    assert (quarter.start, quarter.end, quarter.days) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
        90,
    )
    assert quarter.previous() == Period.parse("2025-Q4", "quarterly")
    assert Period.containing(dt.date(2026, 12, 31), "quarterly").label == "2026-Q4"
    assert week.title("ko") == "2026년 37주차 (9월 7일~9월 13일)"
    assert month.title("ko") == "2026년 2월"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("2026-13", "monthly"),
        ("2026-09", "weekly"),
        ("2026-W54", "weekly"),
        ("2025-W53", "weekly"),  # 2025 has 52 ISO weeks
        ("2026-Q5", "quarterly"),
        ("September", "monthly"),
    ],
)
def test_a_period_that_is_not_one_is_refused_in_both_languages(text: str, kind: str) -> None:
    with pytest.raises(PeriodError) as caught:
        Period.parse(text, kind)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
    assert text in caught.value.text("en") and "--period" in caught.value.text("en")
    assert re.search("[가-힣]", caught.value.text("ko"))


# --- the numbers are the views' --------------------------------------------------------


def test_every_number_is_the_read_models(report_data: ReportData, report_store: Store) -> None:
    p, zone = report_data.period, report_data.zone
    before = p.previous()
    assert report_data.kpis == views.kpis(report_store, p.start, p.end, zone=zone)
    assert report_data.previous_kpis == views.kpis(
        report_store, before.start, before.end, zone=zone
    )
    assert report_data.activity == views.activity(report_store, p.start, p.end, zone=zone)
    assert report_data.previous_coverage == views.coverage(
        report_store, before.start, before.end, zone=zone
    )
    assert report_data.alert_trend == views.alert_trend(report_store, p.start, p.end, zone=zone)
    assert report_data.data_health == views.data_health(report_store, p.start, p.end, zone=zone)
    assert report_data.ingestion == views.ingestion(report_store, p.start, p.end, zone=zone)
    filters = views.RiskFilters(start=p.start, end=p.end)
    assert list(report_data.users) == _all(lambda pg: views.top_risks(report_store, filters, pg))
    queue = views.AlertFilters(start=p.start, end=p.end)
    alerts = _all(lambda pg: views.alert_queue(report_store, queue, pg, zone=zone))
    assert list(report_data.alerts) == alerts
    decided = [(a.id, d) for a in alerts for d in views.alert_detail(report_store, a.id).decisions]
    assert [(d.alert_id, d.decision) for d in report_data.decisions] == sorted(
        decided, key=lambda pair: pair[1].seq
    )
    assert report_data.scenario_mix == report_data.kpis.by_scenario
    assert report_data.severity_by_department == report_data.alert_trend.by_department_severity


def test_the_period_holds_alerts_decisions_and_the_top_risks_reasons(
    report_data: ReportData, report_store: Store
) -> None:
    assert report_data.kpis.alerts > 0 and report_data.decisions and report_data.kpis.ended > 0
    assert len(report_data.top_risks) == min(10, len(report_data.users))
    for top, row in zip(report_data.top_risks, report_data.users, strict=False):
        assert top.row == row
        day = views.scored_day(report_store, row.user_id, row.day)
        assert top.reasons == day.reasons and top.reasons
    triage = report_data.triage
    k = report_data.kpis
    assert (triage.dismissal_rate, triage.time_to_close, triage.four_eyes) == (
        k.dismissal_rate,
        k.time_to_close,
        k.four_eyes,
    )


def test_the_footer_names_what_the_report_rests_on(
    report_data: ReportData, report_store: Store
) -> None:
    footer, p = report_data.footer, report_data.period
    fed = views.ingestion(report_store, p.start, p.end, zone=report_data.zone)
    assert fed.batch_id is not None
    assert (footer.data_batch_id, footer.data_watermark) == (fed.batch_id, fed.watermark)
    assert footer.models == views.period_models(report_store, p.start, p.end) != ()
    assert {u.model_sha256 for u in report_data.users} <= set(footer.models)
    status = views.audit_status(report_store)
    assert (footer.audit_head_seq, footer.audit_head_hash, footer.audit_ok) == (
        status.head_seq,
        status.head_hash,
        True,
    )
    assert footer.generated_at == BUILT_AT
    assert footer.digest == digest(report_numbers(report_data))
    assert report_data.models.used == footer.models
    assert report_data.models.in_force in {v.sha256 for v in report_data.models.versions}
    assert not report_data.models.drift_available and "monitoring" in report_data.models.note_en


def test_building_again_gives_the_same_numbers(
    report_data: ReportData, report_settings: Settings
) -> None:
    with Store.open(report_settings) as store:
        again = build_report(
            store, report_settings, report_data.period, "en", now=BUILT_AT + dt.timedelta(days=9)
        )
    assert again.footer.digest == report_data.footer.digest
    assert report_numbers(again) == report_numbers(report_data)
    assert again.footer.generated_at != report_data.footer.generated_at


def test_a_new_decision_changes_the_numbers_and_the_digest(
    report_data: ReportData, report_settings: Settings
) -> None:
    """Four eyes: a critical alert closed by kim and approved by lee is a four-eyes case."""
    critical = next(
        a for a in report_data.alerts if a.status == "open" and a.severity.value == "critical"
    )
    at = report_data.footer.generated_at - dt.timedelta(days=1)
    for action, who, reason in (
        ("close", "kim", "confirmed"),
        ("approve", "lee", ""),
    ):
        decide_alert(
            report_settings,
            critical.id,
            action,
            reason=reason,
            clock=lambda: at,
            who_am_i=lambda who=who: who,  # type: ignore[misc]
        )
    with pytest.raises(TriageError):  # closed already: the report's view of it is final
        decide_alert(report_settings, critical.id, "dismiss", who_am_i=lambda: "kim")
    with Store.open(report_settings) as store:
        after = build_report(store, report_settings, report_data.period, "ko", now=BUILT_AT)
    assert after.footer.digest != report_data.footer.digest
    assert after.kpis.four_eyes == report_data.kpis.four_eyes + 1
    assert critical.id in after.triage.four_eyes_cases
    assert len(after.triage.four_eyes_cases) == after.kpis.four_eyes


# --- people as a viewer sees them ---------------------------------------------------------


def test_pseudonymised_reports_name_nobody(
    report_data: ReportData, report_settings: Settings
) -> None:
    settings = pseudonymised(report_settings)
    with Store.open(settings) as store:
        hidden = build_report(store, settings, report_data.period, "ko", now=BUILT_AT)
    pseudonymiser = Pseudonymiser(settings.privacy.pseudonym_key)  # type: ignore[arg-type]
    assert hidden.pseudonymised and not report_data.pseudonymised
    text = hidden.model_dump_json()
    people = {u.user_id for u in report_data.users} | {a.user_id for a in report_data.alerts}
    assert people and not [p for p in people if re.search(rf"\b{p}\b", text)]
    assert [u.user_id for u in hidden.users] == [
        pseudonymiser.user(u.user_id) for u in report_data.users
    ]
    assert [d.user_id for d in hidden.decisions] == [
        pseudonymiser.user(d.user_id) for d in report_data.decisions
    ]
    assert hidden.kpis == report_data.kpis and hidden.alert_trend == report_data.alert_trend
    assert [u.risk for u in hidden.users] == [u.risk for u in report_data.users]
    assert PSEUDONYM_KEY not in text
    dumped = json.loads(text)
    assert dumped["top_risks"][0]["row"]["user_id"].startswith("P-")
