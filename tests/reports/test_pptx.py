"""The PPTX deck read back with python-pptx: every number on a slide — summary values,
chart series, table cells — is the read model's (ReportData's and the views') to the
digit; charts are chart objects, not pictures; the team's template's layouts are used;
Korean runs carry an East Asian font; pseudonymised decks name nobody."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.presentation import Presentation as PresentationType
from pptx.util import Inches

from auditlens.config import Settings
from auditlens.i18n import severity_label
from auditlens.reports.formats import writer
from auditlens.reports.labels import KPI_ROWS, SEVERITIES, scenario_word, status_word
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period
from auditlens.reports.pptx import write_pptx
from auditlens.reports.template import TemplateError
from auditlens.store.repo import Store
from auditlens.views import Page, RiskFilters, alert_trend, kpis, top_risks
from tests.organisation import Organisation
from tests.reports.conftest import BUILT_AT, pseudonymised
from tests.reports.deck_reading import (
    categories,
    cells,
    read,
    run_properties,
    series,
    shape_named,
    slide_named,
    texts,
    title,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def deck_path(report_data: ReportData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Korean deck of the shared report, written once."""
    out = tmp_path_factory.mktemp("pptx")
    return write_pptx(report_data, out, Settings())


@pytest.fixture(scope="module")
def deck(deck_path: Path) -> PresentationType:
    return read(deck_path)


def _count(n: float | None, unit: str = "건") -> str:
    return "—" if n is None else f"{int(n):,}{unit}"


def _kpi(value: float | None, kind: str, key: str) -> str:
    """A KPI as the summary must print it, spelled out here, not taken from the code."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f}시간"
    return _count(value, "명" if key == "users" else "건")


def test_the_writer_is_registered_and_names_its_file(
    deck_path: Path, report_data: ReportData
) -> None:
    assert writer("pptx") is write_pptx
    assert deck_path.name == f"auditlens-monthly-{report_data.period.label}-ko.pptx"
    assert not list(deck_path.parent.glob("*.part")), "no temporary file is left"


def test_slides_in_order_the_last_is_reproducibility(
    deck: PresentationType, report_data: ReportData
) -> None:
    controls = [f"control:{c.control.id}" for c in report_data.controls]
    assert [s.name for s in deck.slides] == [
        "cover", "summary", "trend", "departments", "top_risks", "scenarios", "triage",
        "data_quality", "model", *controls, "method", "reproducibility",
    ]  # fmt: skip
    assert len(controls) >= 6
    cover = slide_named(deck, "cover")
    assert title(cover) == f"월간 내부자 위험 보고서 · {report_data.period.title('ko')}"
    assert report_data.period.span() in "".join(texts_of(cover))


def texts_of(slide: object) -> list[str]:
    return [s.text_frame.text for s in slide.shapes if s.has_text_frame]  # type: ignore[attr-defined]


def test_summary_shows_every_kpi_against_the_previous_period(
    deck: PresentationType, report_data: ReportData, report_store: Store
) -> None:
    rows = cells(slide_named(deck, "summary"), "summary_table")
    assert rows[0][1:3] == [report_data.period.label, report_data.previous.label]
    assert len(rows) == 1 + len(KPI_ROWS)
    now_c, before_c = report_data.activity, report_data.previous_coverage
    for row, kpi in zip(rows[1:], KPI_ROWS, strict=True):
        value = kpi.read(report_data.kpis, now_c)
        previous = kpi.read(report_data.previous_kpis, before_c)
        assert row[0] == kpi.label("ko")
        assert row[1] == _kpi(value, kpi.kind, kpi.key), kpi.key
        assert row[2] == _kpi(previous, kpi.kind, kpi.key), kpi.key
        if value is None or previous is None:
            assert row[3] == ""
            assert "비교할 값이 없습니다" in row[4] or "측정할 값이 없습니다" in row[4]
            continue
        arrow = "▲" if value > previous else "▼" if value < previous else "="
        assert row[3].startswith(arrow), (kpi.key, row[3])
        if kpi.kind == "count":
            assert row[3] == f"{arrow} {int(value - previous):+,}"
        assert row[4].endswith(".") and row[2] in row[4], row  # one sentence naming the before
    # the read model itself, asked again: the deck's alerts figure is the views' figure
    asked = kpis(
        report_store, report_data.period.start, report_data.period.end, zone=report_data.zone
    )
    assert rows[3][0] == "알림" and rows[3][1] == f"{asked.alerts:,}건"


def test_charts_are_native_and_hold_the_read_models_numbers(
    deck: PresentationType, report_data: ReportData, report_store: Store
) -> None:
    pictures = [
        s.name
        for slide in deck.slides
        for s in slide.shapes
        if s.shape_type == MSO_SHAPE_TYPE.PICTURE
    ]
    assert pictures == []
    charts = [s for slide in deck.slides for s in slide.shapes if s.has_chart]
    quarantine = 1 if report_data.data_health.quarantine_by_kind else 0
    assert len(charts) == 5 + quarantine  # trend, risk, departments, scenarios, statuses
    trend = slide_named(deck, "trend")
    period = report_data.period
    asked = alert_trend(report_store, period.start, period.end, zone=report_data.zone)
    assert categories(trend, "alert_trend_chart") == [d.day.strftime("%m-%d") for d in asked.days]
    assert series(trend, "alert_trend_chart") == {
        severity_label(s, "ko"): tuple(float(d.by_severity[s]) for d in asked.days)
        for s in SEVERITIES
    }
    risk = series(trend, "risk_trend_chart")
    assert risk["평균 위험도"] == tuple(d.mean_risk for d in report_data.activity.days)
    assert risk["최고 위험도"] == tuple(d.max_risk for d in report_data.activity.days)
    departments = slide_named(deck, "departments")
    cells_of = asked.by_department_severity
    assert categories(departments, "departments_chart") == list(cells_of)
    assert series(departments, "departments_chart") == {
        severity_label(s, "ko"): tuple(float(c[s]) for c in cells_of.values()) for s in SEVERITIES
    }
    assert cells(departments, "departments_table")[1:] == [
        [d, *(f"{c[s]:,}" for s in SEVERITIES)] for d, c in cells_of.items()
    ]
    mix = sorted(report_data.kpis.by_scenario.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    scenarios = slide_named(deck, "scenarios")
    assert categories(scenarios, "scenarios_chart") == [scenario_word(s, "ko") for s, _ in mix]
    assert series(scenarios, "scenarios_chart") == {"알림 수": tuple(float(n) for _, n in mix)}
    statuses = report_data.kpis.by_status
    assert categories(slide_named(deck, "triage"), "status_chart") == [
        status_word(s, "ko") for s in statuses
    ]
    assert series(slide_named(deck, "triage"), "status_chart") == {
        "알림 수": tuple(float(n) for n in statuses.values())
    }


def test_top_risks_are_the_views_riskiest_users_with_reasons(
    deck: PresentationType, report_data: ReportData, report_store: Store
) -> None:
    period = report_data.period
    asked = top_risks(report_store, RiskFilters(start=period.start, end=period.end), Page(limit=10))
    rows = cells(slide_named(deck, "top_risks"), "top_risks_table")[1:]
    assert len(rows) == len(asked.items) == len(report_data.top_risks) > 0
    for rank, (row, view, top) in enumerate(
        zip(rows, asked.items, report_data.top_risks, strict=True), start=1
    ):
        assert row[:6] == [
            str(rank),
            view.user_id,
            view.department or "미상",
            f"{view.risk:.1f}",
            severity_label(view.severity.value, "ko"),
            view.day.isoformat(),
        ]
        reason = top.reasons[0]
        assert row[6].startswith(f"{reason.label_ko} {reason.value_ko}"), row[6]


def test_triage_data_model_and_evidence_tables(
    deck: PresentationType, report_data: ReportData
) -> None:
    t = report_data.triage
    triage = cells(slide_named(deck, "triage"), "triage_table")
    assert triage[1][1] == _hours_or_minutes(t.time_to_first_action.median_seconds)
    assert triage[2][1] == _hours_or_minutes(t.time_to_close.median_seconds)
    assert f"알림 {t.time_to_close.count:,}건" in triage[2][2]
    assert triage[3][1:] == [_count(t.ended), f"종결 {t.closed:,}건"]
    rate = t.dismissal_rate
    assert triage[4][1] == ("—" if rate is None else f"{rate * 100:.1f}%")
    assert triage[6][1] == _count(t.four_eyes)
    assert all(f"#{i}" in triage[6][2] for i in t.four_eyes_cases[:12])
    data = slide_named(deck, "data_quality")
    health = report_data.data_health
    tamper = cells(data, "tamper_table")
    assert tamper[-1][1] == f"{health.tamper_findings:,}"
    assert [r[1] for r in tamper[1:-1]] == [f"{n:,}" for n in health.tamper_by_kind.values()]
    assert cells(data, "sources_table")[1:] == [
        [s.source, f"{s.events:,}"] for s in report_data.ingestion.sources
    ]
    if health.quarantine_by_kind:
        assert series(data, "quarantine_chart") == {
            "행 수": tuple(float(n) for n in health.quarantine_by_kind.values())
        }
    else:
        assert shape_named(data, "quarantine_none").text_frame.text == "격리된 행이 없습니다."
    models = cells(slide_named(deck, "model"), "models_table")[1:]
    assert [(r[0], r[4], r[5]) for r in models] == [
        (v.sha256[:12], f"{v.n_train:,}", f"{v.runs:,}") for v in report_data.models.versions[:6]
    ]
    for evidence in report_data.controls:
        rows = cells(slide_named(deck, f"control:{evidence.control.id}"), "evidence_table")[1:]
        assert [r[1] for r in rows] == [
            f"{i.value:,}" if isinstance(i.value, int) else i.value for i in evidence.items
        ]
        assert [r[0] for r in rows] == [i.label_ko for i in evidence.items]


def _hours_or_minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f}분"
    return f"{seconds / 3600:.1f}시간" if seconds < 48 * 3600 else f"{seconds / 86400:.1f}일"


def test_last_slide_holds_what_reproduces_the_report(
    deck: PresentationType, report_data: ReportData
) -> None:
    f = report_data.footer
    assert deck.slides[len(deck.slides) - 1].name == "reproducibility"
    rows = {
        r[0]: r[1] for r in cells(slide_named(deck, "reproducibility"), "reproducibility_table")
    }
    assert rows["기간"].startswith(f.period.label)
    assert rows["데이터 기준점(워터마크)"] == (f.data_watermark or "—")
    assert rows["모델(sha256)"].split("\n") == list(f.models)
    assert rows["설정 해시"] == f.config_hash
    assert rows["감사 로그 헤드"] == f"#{f.audit_head_seq} {f.audit_head_hash}"
    assert rows["수치 다이제스트"] == f.digest
    assert f.generated_at == BUILT_AT


def test_every_run_has_a_korean_font(deck: PresentationType) -> None:
    found = list(run_properties(deck))
    assert len(found) > 100
    for properties in found:
        ea = properties.find(qn("a:ea"))
        assert ea is not None and ea.get("typeface") == "NanumGothic", properties.xml
        assert ea.get("charset") == "-127"
        assert properties.get("lang") == "ko-KR"


def test_english_deck_speaks_english(
    report_organisation: Organisation, report_period: Period, tmp_path: Path
) -> None:
    with Store.open(report_organisation.settings) as store:
        data = build_report(store, report_organisation.settings, report_period, "en", now=BUILT_AT)
    deck = read(write_pptx(data, tmp_path, Settings()))
    assert title(slide_named(deck, "summary")) == "Executive summary"
    korean = [t for t in texts(deck) if HANGUL.search(t)]
    assert korean == []
    rows = cells(slide_named(deck, "summary"), "summary_table")
    assert rows[3][:2] == ["alerts", f"{data.kpis.alerts:,}"]


def _template(path: Path) -> Path:
    """A team master built with python-pptx: 4:3, its own layout names, the content
    layout first (so indices lie), its body placeholder moved, and an example slide."""
    master = Presentation()
    layouts = list(master.slide_layouts)
    cover = next(lay for lay in layouts if lay.name == "Title Slide")
    content = next(lay for lay in layouts if lay.name == "Title and Content")
    cover.name, content.name = "우리 표지", "우리 본문"
    body = next(
        p for p in content.placeholders if p.placeholder_format.type == PP_PLACEHOLDER.OBJECT
    )
    body.left, body.top, body.width, body.height = Inches(1), Inches(2), Inches(6), Inches(4.5)
    listing = master.slide_master.element.find(qn("p:sldLayoutIdLst"))
    first = listing[0]
    listing.remove(first)
    listing.append(first)  # "Title Slide" last: the cover is found by its placeholders
    example = master.slides.add_slide(content)
    example.shapes.title.text = "예시 슬라이드 (지워져야 함)"
    master.save(str(path))
    return path


def test_the_teams_template_layouts_are_used(report_data: ReportData, tmp_path: Path) -> None:
    settings = Settings(report_template=_template(tmp_path / "our-master.pptx"))
    deck = read(write_pptx(report_data, tmp_path / "out", settings))
    assert int(deck.slide_width) == Inches(10) and int(deck.slide_height) == Inches(7.5)
    assert slide_named(deck, "cover").slide_layout.name == "우리 표지"
    others = [s for s in deck.slides if s.name != "cover"]
    assert {s.slide_layout.name for s in others} == {"우리 본문"}
    assert all("예시 슬라이드" not in t for t in texts(deck)), "the example slide is dropped"
    chart = shape_named(slide_named(deck, "scenarios"), "scenarios_chart")
    assert chart.left >= Inches(1) and chart.left + chart.width <= Inches(7) + 1
    assert chart.top >= Inches(2) and chart.top + chart.height <= Inches(6.5) + 1
    method = slide_named(deck, "method")
    body = next(
        p for p in method.placeholders if p.placeholder_format.type == PP_PLACEHOLDER.OBJECT
    )
    assert "기간" in body.text_frame.text  # the method's text fills the template's own body


def test_a_template_with_title_only_layouts_still_gets_every_slide(
    report_data: ReportData, tmp_path: Path
) -> None:
    master = Presentation()
    for layout in list(master.slide_layouts):
        if layout.name not in ("Title Slide", "Title Only"):
            master.slide_layouts.remove(layout)
    master.save(str(tmp_path / "plain.pptx"))
    settings = Settings(report_template=tmp_path / "plain.pptx")
    deck = read(write_pptx(report_data, tmp_path / "out", settings))
    assert {s.slide_layout.name for s in deck.slides if s.name != "cover"} == {"Title Only"}
    method = slide_named(deck, "method")
    assert "기간" in shape_named(method, "body").text_frame.text
    heading = slide_named(deck, "trend").shapes.title
    chart = shape_named(slide_named(deck, "trend"), "alert_trend_chart")
    assert chart.top >= heading.top + heading.height  # under the title, not over it


def test_without_a_template_the_deck_is_16_9(deck: PresentationType) -> None:
    assert (int(deck.slide_width), int(deck.slide_height)) == (12192000, 6858000)


def test_a_template_that_cannot_be_used_is_a_clear_error(
    report_data: ReportData, tmp_path: Path
) -> None:
    with pytest.raises(TemplateError) as missing:
        write_pptx(report_data, tmp_path, Settings(report_template=tmp_path / "none.pptx"))
    assert "none.pptx" in missing.value.text("ko") and "파일이 없습니다" in missing.value.text("ko")
    broken = tmp_path / "broken.pptx"
    broken.write_text("not a zip")
    with pytest.raises(TemplateError) as bad:
        write_pptx(report_data, tmp_path, Settings(report_template=broken))
    assert "PowerPoint 파일이 아닙니다" in bad.value.text("ko")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.pptx"], "nothing written"


def test_pseudonymised_top_risks_name_nobody(
    report_settings: Settings, report_period: Period, report_data: ReportData, tmp_path: Path
) -> None:
    settings = pseudonymised(report_settings)
    with Store.open(settings) as store:
        data = build_report(store, settings, report_period, "ko", now=BUILT_AT)
    deck = read(write_pptx(data, tmp_path, settings))
    rows = cells(slide_named(deck, "top_risks"), "top_risks_table")[1:]
    assert rows and all(
        re.fullmatch(r"P-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", r[1])
        for r in rows
    ), rows
    real = {u.user_id for u in report_data.users}  # the same people, unpseudonymised
    said = "\n".join(texts(deck))
    assert [u for u in real if re.search(rf"\b{re.escape(u)}\b", said)] == []
    note = shape_named(slide_named(deck, "top_risks"), "top_risks_note").text_frame.text
    assert "가명" in note
    # the same numbers as the deck that names people
    assert [r[3] for r in rows] == [f"{t.row.risk:.1f}" for t in report_data.top_risks]
