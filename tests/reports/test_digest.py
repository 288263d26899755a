"""The e-mail digest (reports/digest.py): its HTML read back and compared with the read
model, to the digit; the plain text; the self-contained file; ko and en; pseudonyms.

The e-mail itself, sent to a real SMTP server and parsed part by part, is in
test_report_send.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import html as lhtml
from lxml.html import HtmlElement

from auditlens import views
from auditlens.config import Settings
from auditlens.reports.digest import compose, write_digest
from auditlens.reports.digest_charts import departments_figure, trend_figure
from auditlens.reports.formats import writer
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.period import Period
from auditlens.store.repo import Store
from tests.organisation import ZONE, Organisation
from tests.reports.conftest import BUILT_AT, pseudonymised

HANGUL = re.compile(r"[\uac00-\ud7a3]")
PNG = b"\x89PNG\r\n\x1a\n"


def _page(markup: str) -> HtmlElement:
    return lhtml.document_fromstring(markup.encode("utf-8"))


def _row(page: HtmlElement, table: str, key: str) -> list[str]:
    """The cells' texts of the row ``key`` of the table ``table``."""
    (row,) = page.xpath(f'//table[@data-table="{table}"]//tr[@data-key="{key}"]')
    return [c.text_content().strip() for c in row.xpath("./td")]


def _n(value: int, unit: str = "건") -> str:
    """A count as the Korean digest writes it: thousands grouped, with its unit."""
    return f"{value:,}{unit}"


def _hours(text: str) -> float:
    """A shown duration back in hours: '4.1시간', '4.1 h', '45분', '2.5 days'."""
    number = float(re.match(r"[\d.]+", text).group())  # type: ignore[union-attr]
    if "분" in text or "min" in text:
        return number / 60
    if "일" in text or "day" in text:
        return number * 24
    return number


@pytest.fixture(scope="module")
def report_en(report_organisation: Organisation, report_period: Period) -> ReportData:
    with Store.open(report_organisation.settings) as store:
        return build_report(store, report_organisation.settings, report_period, "en", now=BUILT_AT)


def test_every_number_in_the_html_is_the_read_models(
    report_data: ReportData, report_store: Store, report_period: Period
) -> None:
    digest = compose(report_data)
    page = _page(digest.html)
    start, end = report_period.start, report_period.end
    before = report_period.previous()
    k = views.kpis(report_store, start, end, zone=ZONE)
    p = views.kpis(report_store, before.start, before.end, zone=ZONE)
    seen = views.coverage(report_store, start, end, zone=ZONE)
    assert k.alerts > 0 and k.closed > 0 and k.dismissed > 0  # the month has real triage
    assert _row(page, "kpis", "alerts")[1:3] == [_n(k.alerts), _n(p.alerts)]
    for severity, n in k.by_severity.items():
        assert _row(page, "kpis", f"alerts_{severity}")[1] == _n(n)
    assert _row(page, "kpis", "users")[1] == _n(seen.users_monitored, "명")
    assert _row(page, "kpis", "events")[1] == _n(seen.events)
    assert k.dismissal_rate is not None
    assert _row(page, "kpis", "dismissal_rate")[1] == f"{k.dismissal_rate * 100:.1f}%"
    assert k.confirmed_rate is not None
    assert _row(page, "kpis", "confirmed_rate")[1] == f"{k.confirmed_rate * 100:.1f}%"
    assert _row(page, "kpis", "closed")[1:3] == [_n(k.closed), _n(p.closed)]
    assert _row(page, "kpis", "open")[1] == _n(k.alerts - k.ended)
    assert _row(page, "kpis", "quarantined")[1] == _n(k.quarantined_rows)
    median = k.time_to_first_action.median_seconds
    assert median is not None
    assert _row(page, "kpis", "first_action_hours")[1] == f"{median / 3600:,.1f}"
    first = _row(page, "triage_times", "time_to_first_action")
    assert _hours(first[2]) == pytest.approx(median / 3600, abs=0.05)
    # a rise of alerts is bad news (red), more users monitored is neither
    (alerts_row,) = page.xpath('//table[@data-table="kpis"]//tr[@data-key="alerts"]')
    (users_row,) = page.xpath('//table[@data-table="kpis"]//tr[@data-key="users"]')
    assert k.alerts > p.alerts and "color:#b00020" in alerts_row.xpath("./td")[3].get("style")
    assert "color" not in users_row.xpath("./td")[3].get("style")
    delta = k.alerts - p.alerts
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    assert _row(page, "kpis", "alerts")[3] == (f"{arrow} {delta:+,}건" if delta else "= 0")

    trend = views.alert_trend(report_store, start, end, zone=ZONE)
    for department, counts in trend.by_department_severity.items():
        cells = _row(page, "severity_by_department", department)
        assert cells[1:-1] == [f"{n:,}" for n in counts.values()]
        assert cells[-1] == f"{sum(counts.values()):,}"
    assert _row(page, "severity_by_department", "*")[-1] == f"{k.alerts:,}"
    for status, n in k.by_status.items():
        assert _row(page, "by_status", status)[1] == f"{n:,}"

    top = views.top_risks(
        report_store, views.RiskFilters(start=start, end=end), views.Page(limit=10)
    ).items
    rows = page.xpath('//table[@data-table="top_risks"]//tr[@data-key]')
    assert [r.get("data-key") for r in rows] == [t.user_id for t in top]
    for row, risk in zip(rows, top, strict=True):
        cells = [c.text_content().strip() for c in row.xpath("./td")]
        assert cells[1] == risk.user_id and cells[4] == f"{risk.risk:.1f}"
        reasons = views.scored_day(report_store, risk.user_id, risk.day).reasons
        (under,) = page.xpath(f'//tr[@data-lines="{risk.user_id}"]')
        assert under.getprevious() is row and len(cells) == 7
        shown = [li.text_content() for li in under.xpath(".//li")]
        assert shown == [r.text_ko for r in reasons[:3]]

    assert _row(page, "triage_outcomes", "ended")[1] == _n(k.ended)
    assert _row(page, "triage_outcomes", "four_eyes")[1] == _n(k.four_eyes)
    assert _row(page, "triage_times", "time_to_close")[1] == _n(k.time_to_close.count)
    health = views.data_health(report_store, start, end, zone=ZONE)
    assert _row(page, "quarantine_by_kind", "*")[1] == _n(health.quarantined_rows)
    assert _row(page, "tamper_by_kind", "*")[1] == _n(health.tamper_findings)


def test_the_last_section_makes_the_digest_reproducible(
    report_data: ReportData, report_organisation: Organisation
) -> None:
    page = _page(compose(report_data).html)
    sections = [s.get("data-section") for s in page.xpath("//*[@data-section]")]
    assert sections == ["kpis", "alerts", "top_risks", "triage", "data_quality", "reproducibility"]
    footer = report_data.footer
    assert report_data.period.label in _row(page, "reproducibility", "period")[1]
    assert footer.config_hash == report_organisation.settings.fingerprint()
    assert _row(page, "reproducibility", "config_hash")[1] == footer.config_hash
    head = _row(page, "reproducibility", "audit_head")[1]
    assert footer.audit_head_hash in head and f"#{footer.audit_head_seq}" in head
    assert (
        footer.data_watermark
        and footer.data_watermark in _row(page, "reproducibility", "data_watermark")[1]
    )
    shown = _row(page, "reproducibility", "models")[1]
    assert footer.models and all(m[:16] in shown for m in footer.models)
    assert _row(page, "reproducibility", "digest")[1] == footer.digest


def test_the_plain_text_says_what_the_html_says(report_data: ReportData) -> None:
    digest = compose(report_data)
    page = _page(digest.html)
    text = digest.text
    for key in ("alerts", "events", "dismissal_rate", "users"):
        label, now, before, change = _row(page, "kpis", key)
        line = next(line for line in text.splitlines() if line.startswith(label))
        assert line.split()[-len(change.split()) - 2 :] == [now, before, *change.split()]
    for top in report_data.top_risks:
        assert top.row.user_id in text
        assert f"    - {top.reasons[0].text_ko}" in text
    assert report_data.footer.audit_head_hash in text and report_data.footer.digest in text
    assert not re.search(r"<[a-z/!]", text)  # no markup in the plain text


def test_the_html_is_what_mail_clients_render(report_data: ReportData) -> None:
    digest = compose(report_data)
    page = _page(digest.html)
    assert not page.xpath("//script | //style | //link | //iframe | //form | //object")
    assert not re.search(r"(?i)\bon[a-z]+\s*=", digest.html)  # no event handlers
    assert "http://" not in digest.html and "https://" not in digest.html
    assert "class=" not in digest.html  # inline styles only
    sources = [img.get("src") for img in page.xpath("//img")]
    assert sources == [f"cid:{i.cid}" for i in digest.images]
    assert {i.name for i in digest.images} == {"trend", "departments", "risk"}
    for image in digest.images:
        assert image.png.startswith(PNG)
        (img,) = page.xpath(f'//img[@src="cid:{image.cid}"]')
        assert img.get("alt") == image.alt and int(img.get("width")) <= 632
    assert page.get("lang") == "ko"


def test_korean_and_english(report_data: ReportData, report_en: ReportData) -> None:
    ko, en = compose(report_data), compose(report_en)
    assert "핵심 지표" in ko.html and "월간" in ko.subject
    assert "Key figures" in en.html and "monthly" in en.subject
    assert not HANGUL.search(en.text), [
        line for line in en.text.splitlines() if HANGUL.search(line)
    ]
    assert not HANGUL.search(_page(en.html).text_content())
    assert _page(en.html).get("lang") == "en"
    # the same numbers in either language; Korean gives each count its unit
    for key, unit in (("alerts", "건"), ("events", "건"), ("users", "명")):
        english = _row(_page(en.html), "kpis", key)[1:3]
        assert _row(_page(ko.html), "kpis", key)[1:3] == [f"{n}{unit}" for n in english]
        assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", n) for n in english)
    # chart labels follow the language
    assert trend_figure(report_data).axes[0].get_title("left") == "일별 신규 알림"
    assert trend_figure(report_en).axes[0].get_title("left") == "Alerts opened per day"
    legend = trend_figure(report_en).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["low", "medium", "high", "critical"]


def test_the_charts_draw_the_read_models_counts(report_data: ReportData) -> None:
    fig = departments_figure(report_data)
    (ax,) = fig.axes
    total: dict[str, float] = {}
    names = [t.get_text() for t in ax.get_yticklabels()]
    for bar in ax.patches:
        row = names[round(bar.get_y() + bar.get_height() / 2)]
        total[row] = total.get(row, 0) + bar.get_width()
    expected = {d: sum(c.values()) for d, c in report_data.severity_by_department.items()}
    assert total == expected
    trend = trend_figure(report_data)
    heights = sum(bar.get_height() for bar in trend.axes[0].patches)
    assert heights == report_data.kpis.alerts


def test_the_file_form_is_one_self_contained_reproducible_page(
    report_data: ReportData, report_organisation: Organisation, tmp_path: Path
) -> None:
    path = writer("html")(report_data, tmp_path / "out", report_organisation.settings)
    assert path.name == f"auditlens-monthly-{report_data.period.label}-ko.html"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing beside it
    markup = path.read_text(encoding="utf-8")
    assert "cid:" not in markup
    digest = compose(report_data)
    sources = [img.get("src") for img in _page(markup).xpath("//img")]
    assert len(sources) == len(digest.images)
    for src, image in zip(sources, digest.images, strict=True):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.partition(",")[2]) == image.png
    again = write_digest(report_data, tmp_path / "again", report_organisation.settings)
    assert again.read_bytes() == path.read_bytes()  # same report, same bytes
    assert _row(_page(markup), "kpis", "alerts")[1] == _n(report_data.kpis.alerts)


def test_people_are_pseudonymised_when_configured(
    report_organisation: Organisation, report_period: Period, report_data: ReportData
) -> None:
    settings: Settings = pseudonymised(report_organisation.settings)
    with Store.open(settings) as store:
        data = build_report(store, settings, report_period, "ko", now=BUILT_AT)
    digest = compose(data)
    page = _page(digest.html)
    real = [t.row.user_id for t in report_data.top_risks]
    shown = [
        r.get("data-key") for r in page.xpath('//table[@data-table="top_risks"]//tr[@data-key]')
    ]
    assert shown and all(re.fullmatch(r"P-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", s) for s in shown)
    for user in real:
        assert not re.search(rf"\b{user}\b", digest.html) and not re.search(
            rf"\b{user}\b", digest.text
        )
    assert "가명" in _page(digest.html).xpath('//*[@data-section="top_risks"]')[0].text_content()


def test_an_empty_period_still_makes_a_digest(
    report_organisation: Organisation,
) -> None:
    empty = Period.containing(dt.date(2020, 1, 15), "monthly")
    with Store.open(report_organisation.settings) as store:
        data = build_report(store, report_organisation.settings, empty, "en", now=BUILT_AT)
    digest = compose(data)
    page = _page(digest.html)
    assert _row(page, "kpis", "alerts")[1:] == ["0", "0", "= 0"]
    assert _row(page, "kpis", "dismissal_rate")[1:] == ["—", "—", "—"]
    assert "No one was scored in the period." in digest.text
    assert len(digest.images) == 3 and all(i.png.startswith(PNG) for i in digest.images)
