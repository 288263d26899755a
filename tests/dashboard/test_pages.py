"""Every page runs in both languages for a logged-in viewer, without errors or warnings."""

from __future__ import annotations

import re

import pytest

from auditlens.dashboard.navigation import title
from auditlens.store.alerts import AlertRepository
from auditlens.store.repo import Store
from tests.dashboard.conftest import Deployment, OpenApp
from tests.dashboard.pages_support import chart_specs


@pytest.mark.parametrize("page", ["overview", "alerts", "person", "model"])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_runs_in_both_languages(open_app: OpenApp, page: str, lang: str) -> None:
    at = open_app("viewer", lang, page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    shown = [t.value for t in at.title] + [c.value for c in at.caption]
    assert any(
        title(page, lang) in text or "coming" in text or "준비 중" in text for text in shown
    ), shown


def test_day_axes_read_as_numbers_not_english_month_names(
    open_app: OpenApp, deployment: Deployment
) -> None:
    with Store.open(deployment.settings) as store:
        user = AlertRepository(store.engine).list_alerts(limit=1)[0].user_id
    specs = chart_specs(open_app("viewer", "ko")) + chart_specs(
        open_app("viewer", "ko", "person", {"user": user})
    )
    dated = [
        spec
        for spec in specs
        if any(re.match(r"\d{4}-\d\d-\d\d", str((t.get("x") or [""])[0])) for t in spec["data"])
    ]
    assert len(dated) >= 3, "alert trend, risk trend, risk timeline (and a session's steps)"
    formats = {spec["layout"]["xaxis"].get("tickformat") for spec in dated}
    assert formats <= {"%Y-%m-%d", "%m-%d", "%H:%M"}, formats
