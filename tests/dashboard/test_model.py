"""Model and data: the catalogue and what changed, precision from triage (and the plain
word that drift is not measured yet), quarantine and tampering, the trail's head hash —
each the read model's number, in both languages."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from auditlens.reports.wording import model_change
from auditlens.validate import quarantine_kind_label
from auditlens.views import audit_status, data_health, kpis, model_changes, model_versions
from tests.dashboard.conftest import Deployment, OpenApp, viewer_context


def _table(at: AppTest, first_column: str) -> Any:
    """The table whose first column is ``first_column`` (keys of tables without a
    selection are not kept by Streamlit)."""
    found = [d.value for d in at.dataframe if d.value.columns[0] == first_column]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_model_and_data_page_shows_the_read_models_figures(
    open_app: OpenApp, deployment: Deployment, lang: str
) -> None:
    at = open_app("viewer", lang, "model")
    assert not at.exception, at.exception
    ctx = viewer_context(deployment, lang)
    today = dt.datetime.now(zoneinfo.ZoneInfo(ctx.zone)).date()
    start = today - dt.timedelta(days=29)
    versions = model_versions(ctx.store)
    table = _table(at, ctx.say("model", "모델"))
    assert list(table.iloc[:, 0]) == [v.sha256[:12] for v in versions] and len(versions) >= 1
    kinds = list(table[ctx.say("kind", "종류")])
    assert kinds == [{"ko": "비지도", "en": "unsupervised"}[lang]] * len(versions)
    assert list(table.iloc[:, -1]) == [
        model_change(c, lang) for c in model_changes(ctx.store)
    ]  # one model here: "first model"
    k = kpis(ctx.store, start, today, zone=ctx.zone)
    metrics = {m.label: m.value for m in at.metric}
    precision = ctx.say("Precision from triage", "처리 기준 정밀도")
    assert metrics[precision] == f"{k.confirmed_rate * 100:.1f}%"  # type: ignore[operator]
    health = data_health(ctx.store, start, today, zone=ctx.zone)
    assert health.quarantined_rows == k.quarantined_rows > 0
    assert metrics[ctx.say("Quarantined rows", "격리된 행")] == (
        f"{health.quarantined_rows:,}건" if lang == "ko" else f"{health.quarantined_rows:,}"
    )
    assert metrics[ctx.say("Possible tampering", "변조 의심")].startswith(
        str(health.tamper_findings)
    )
    reasons = _table(at, ctx.say("reason", "사유"))
    assert list(reasons.iloc[:, 0]) == [
        quarantine_kind_label(kind, lang) for kind in health.quarantine_by_kind
    ]
    findings = _table(at, ctx.say("found", "발견 시각"))
    assert len(findings) == len(health.recent_findings) > 0
    status = audit_status(ctx.store)
    assert status.ok and [c.value for c in at.code] == [status.head_hash]
    assert len(at.success) == 1 and not at.error
    drift = "Drift and recall arrive with the monitoring issue"
    assert any(
        (drift if lang == "en" else "모니터링 기능이 추가되면") in c.value for c in at.caption
    )


def test_a_broken_trail_is_shown_as_failed(open_app: OpenApp, deployment: Deployment) -> None:
    ctx = viewer_context(deployment)
    with ctx.store.engine.begin() as conn:  # a table changed behind the trail's back
        conn.exec_driver_sql("UPDATE alerts SET status = 'closed' WHERE id = 5")
    at = open_app("viewer", "en", "model")
    assert not at.success and len(at.error) == 1
    assert at.error[0].value.startswith("Verification failed: ")
