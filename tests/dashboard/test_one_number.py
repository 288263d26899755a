"""One definition of each number: the API, the dashboard and the reports show the same
figure for the same period, to the digit (issue 13's read model, asked by all three)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from auditlens.api.app import create_app
from auditlens.reports.labels import KPI_ROWS
from auditlens.reports.model import build_report
from auditlens.reports.period import Period
from auditlens.reports.xlsx import sheet_name, write_xlsx
from auditlens.store.repo import Store
from tests.dashboard.conftest import Deployment, OpenApp


def test_api_dashboard_and_reports_agree_to_the_digit(
    open_app: OpenApp, deployment: Deployment, tmp_path: Path
) -> None:
    settings = deployment.settings
    period = Period.containing(deployment.organisation.first_day, "monthly")
    # the API
    with TestClient(create_app(settings)) as client:
        answer = client.get(
            "/v1/kpis",
            params={"start": str(period.start), "end": str(period.end)},
            headers={"X-API-Key": deployment.keys["viewer"]},
        )
    assert answer.status_code == 200, answer.text
    api = answer.json()
    assert api["alerts"] > 0 and api["ended"] > 0
    # the reports: the model every format writes from, and the workbook as written
    with Store.open(settings) as store:
        data = build_report(store, settings, period, "en")
    assert data.kpis.model_dump(mode="json") == api
    book = load_workbook(write_xlsx(data, tmp_path, settings))
    summary = book[sheet_name("summary", "en")]
    written = {
        row[0].value: row[1].value
        for row in summary.iter_rows()
        if row[0].value in {r.label("en") for r in KPI_ROWS}
    }
    labels = {r.key: r.label("en") for r in KPI_ROWS}
    assert written[labels["alerts"]] == api["alerts"]
    assert written[labels["dismissal_rate"]] == api["dismissal_rate"]
    # the dashboard, for the same period
    at = open_app("viewer", "en")
    at.date_input(key="overview_period").set_value((period.start, period.end)).run()
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Alerts"] == f"{api['alerts']:,}"
    assert cards["Dismissal rate"] == f"{api['dismissal_rate'] * 100:.1f}%"
    assert cards["Alerts: critical"] == f"{api['by_severity'].get('critical', 0):,}"
