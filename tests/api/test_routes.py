"""The /v1 data routes over a store filled through the real repositories, intake and
triage (SQLite and PostgreSQL): happy paths, documented errors, CSV, decisions, views."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from auditlens.api.app import create_app
from auditlens.api.csv import cell, to_csv
from auditlens.config import Settings
from auditlens.store.repo import Store
from auditlens.views import AlertRow, AuditEntryView, HistoryDay, ModelVersion, RiskRow
from tests.alerts.conftest import T0
from tests.api.conftest import NOW
from tests.views.conftest import SHA_A, batch, model, open_alert, reason, scores

D1, D2 = dt.date(2026, 9, 6), dt.date(2026, 9, 7)
ROLES = ("viewer", "analyst", "approver", "admin")


@dataclass
class World:
    """A filled store, a client and a key per role (``analyst2``: a second analyst)."""

    client: TestClient
    store: Store
    keys: dict[str, str]
    alerts: dict[str, int]

    def get(self, role: str, url: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET ``url`` with ``role``'s key."""
        answer: httpx.Response = self.client.get(
            url, headers={"X-API-Key": self.keys[role]}, params=params
        )
        return answer

    def post(self, role: str, url: str, body: object, lang: str = "en") -> httpx.Response:
        """POST ``body`` as JSON with ``role``'s key."""
        answer: httpx.Response = self.client.post(
            url, json=body, headers={"X-API-Key": self.keys[role], "Accept-Language": lang}
        )
        return answer


def fill(store: Store) -> dict[str, int]:
    """Scores of U0042 (high), U7 (critical) and U9 (low) over two days; alerts on U0042
    (high) and U7 (critical, department '=cmd|calc' to try CSV injection)."""
    model(store, SHA_A)
    batch_id = batch(store, '{"n": 1}', T0)
    scores(
        store,
        [
            ("U0042", D1, 40.0, "low", []),
            ("U0042", D2, 85.0, "high", [reason("delete_count", 14)]),
            ("U7", D2, 97.0, "critical", [reason("usb_connect_count", 3)]),
            ("U9", D2, 10.0, "low", []),
        ],
        batch_id=batch_id,
    )
    return {
        "high": open_alert(store, user="U0042", severity="high", risk=85.0),
        "critical": open_alert(
            store, user="U7", severity="critical", risk=97.0, department="=cmd|calc"
        ),
    }


def make_world(settings: Settings, issue: Callable[..., str]) -> Iterator[World]:
    """A world on ``settings`` (migrated, principals set)."""
    keys = {role: issue(f"k-{role}", role) for role in ROLES}
    keys["analyst2"] = issue("k-analyst2", "analyst")
    with (
        Store.open(settings) as store,
        TestClient(
            create_app(settings, clock=lambda: NOW),
            headers={"Accept-Language": "en"},
            raise_server_exceptions=False,
        ) as client,
    ):
        alerts = fill(store)
        yield World(client, store, keys, alerts)


@pytest.fixture
def world(deployment: Settings, issue: Callable[..., str]) -> Iterator[World]:
    """A filled store on SQLite and PostgreSQL, no pseudonyms."""
    yield from make_world(deployment, issue)


def rows_of(text: str) -> list[list[str]]:
    """CSV text (BOM removed) as rows."""
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_a_users_risk_and_history_are_read_and_the_reading_recorded(world: World) -> None:
    risk = world.get("viewer", "/v1/users/U0042/risk", params={"purpose": "HR case 7"})
    assert risk.status_code == 200
    body = risk.json()
    assert (body["user_id"], body["day"], body["risk"], body["severity"]) == (
        "U0042",
        "2026-09-07",
        85.0,
        "high",
    )
    assert body["reasons"][0]["feature"] == "delete_count"
    assert body["open_alert_id"] == world.alerts["high"]
    history = world.get("analyst", "/v1/users/U0042/history", params={"start": "2026-09-07"})
    assert [d["day"] for d in history.json()["days"]] == ["2026-09-07"]
    full = world.get("analyst", "/v1/users/U0042/history").json()
    assert [d["risk"] for d in full["days"]] == [40.0, 85.0]

    views = world.store.audit.entries(actions=("view",))
    assert [(e.actor, e.subject, e.reason_code, e.note) for e in views] == [
        ("key:k-viewer", "U0042", "risk", "HR case 7"),
        ("key:k-analyst", "U0042", "history", ""),
        ("key:k-analyst", "U0042", "history", ""),
    ]
    assert all(e.criteria["pseudonymised"] is False for e in views)


def test_an_unknown_user_is_a_404_problem_in_the_callers_language(world: World) -> None:
    en = world.get("viewer", "/v1/users/NOBODY/risk")
    assert en.status_code == 404
    assert en.headers["content-type"] == "application/problem+json"
    assert "no stored score" in en.json()["detail"]
    ko = world.client.get(
        "/v1/users/NOBODY/history",
        headers={"X-API-Key": world.keys["viewer"], "Accept-Language": "ko"},
    )
    assert ko.status_code == 404 and "저장된 위험 점수가 없습니다" in ko.json()["detail"]
    assert world.client.get("/v1/users/U0042/risk").status_code == 401
    assert world.store.audit.entries(actions=("view",)) == []  # nothing shown, nothing recorded


def test_risks_filter_and_page_in_json_and_csv(world: World) -> None:
    everyone = world.get("viewer", "/v1/risks").json()
    assert [r["user_id"] for r in everyone["items"]] == ["U7", "U0042", "U9"]
    severe = world.get("viewer", "/v1/risks", params={"severity": "high", "limit": 1}).json()
    assert (severe["total"], severe["next_offset"], severe["items"][0]["user_id"]) == (2, 1, "U7")
    second = world.get("viewer", "/v1/risks", params={"severity": "high", "offset": 1}).json()
    assert [r["user_id"] for r in second["items"]] == ["U0042"]
    in_hr = world.get("viewer", "/v1/risks", params={"department": "retail"}).json()
    assert [r["user_id"] for r in in_hr["items"]] == ["U0042"]
    by_scenario = world.get("viewer", "/v1/risks", params={"scenario": "usb_connect_count"})
    assert [r["user_id"] for r in by_scenario.json()["items"]] == ["U7"]
    by_status = world.get("viewer", "/v1/risks", params={"status": "open", "start": "2026-09-07"})
    assert by_status.json()["total"] == 2

    as_csv = world.get("viewer", "/v1/risks", params={"format": "csv", "limit": 2})
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["x-total-count"] == "3" and as_csv.headers["x-next-offset"] == "2"
    table = rows_of(as_csv.text)
    assert table[0] == list(RiskRow.model_fields)
    assert [r[0] for r in table[1:]] == ["U7", "U0042"]
    by_header = world.client.get(
        "/v1/risks", headers={"X-API-Key": world.keys["viewer"], "Accept": "text/csv"}
    )
    assert by_header.text == world.get("viewer", "/v1/risks", params={"format": "csv"}).text


def test_csv_is_bom_utf8_rfc4180_and_guarded_against_formulas(world: World) -> None:
    response = world.get("viewer", "/v1/alerts", params={"format": "csv"})
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = rows_of(response.text)
    assert table[0] == list(AlertRow.model_fields)
    critical = next(r for r in table[1:] if r[0] == str(world.alerts["critical"]))
    assert critical[table[0].index("department")] == "'=cmd|calc"
    assert b"\r\n" in response.content
    # quoting and the guard, cell by cell
    assert [cell(v) for v in ("+1", "-x", "@a", "plain", -2.5, None, True, ("a", "b"))] == [
        "'+1",
        "'-x",
        "'@a",
        "plain",
        "-2.5",
        "",
        "true",
        "a;b",
    ]
    row = AuditEntryView(
        seq=1,
        at=dt.datetime(2026, 9, 8, tzinfo=dt.UTC),
        actor="kim",
        action="view",
        target="user:U1",
        subject="U1",
        reason_code="risk",
        note='이유, "인용"\n둘째 줄',
        criteria={"a": 1},
        prev_hash="0",
        hash="1",
    )
    parsed = rows_of(to_csv(AuditEntryView, [row]))
    assert parsed[1][7] == '이유, "인용"\n둘째 줄' and parsed[1][8] == '{"a":1}'


def test_the_alert_queue_filters_and_one_alert_shows_its_story(world: World) -> None:
    queue = world.get("viewer", "/v1/alerts").json()
    assert [a["id"] for a in queue["items"]] == [world.alerts["critical"], world.alerts["high"]]
    for params, expected in (
        ({"severity": "critical"}, ["critical"]),
        ({"department": "retail"}, ["high"]),
        ({"user": "U0042"}, ["high"]),
        ({"status": ["acknowledged", "escalated"]}, []),
        ({"start": "2026-09-09"}, []),
    ):
        found = world.get("viewer", "/v1/alerts", params=params).json()
        assert [a["id"] for a in found["items"]] == [world.alerts[k] for k in expected], params
    alert_id = world.alerts["high"]
    world.post("analyst", f"/v1/alerts/{alert_id}/decisions", {"action": "ack"})
    detail = world.get("viewer", f"/v1/alerts/{alert_id}", params={"purpose": "triage"})
    body = detail.json()
    assert body["alert"]["user_id"] == "U0042" and body["alert"]["status"] == "acknowledged"
    assert [d["channel"] for d in body["deliveries"]] == ["pd"]
    assert [(d["action"], d["actor"]) for d in body["decisions"]] == [
        ("acknowledge", "key:k-analyst")
    ]
    (seen,) = world.store.audit.entries(actions=("view",))
    assert (seen.actor, seen.subject, seen.reason_code, seen.note) == (
        "key:k-viewer",
        "U0042",
        "alert",
        "triage",
    )
    assert world.get("viewer", "/v1/alerts/999999").status_code == 404


def test_decisions_go_through_triage_as_the_authenticated_principal(world: World) -> None:
    alert_id = world.alerts["high"]
    url = f"/v1/alerts/{alert_id}/decisions"
    made = world.post("analyst", url, {"action": "escalate", "reason": "suspected_violation"})
    assert made.status_code == 201
    body = made.json()
    assert (body["actor"], body["action"], body["alert"]["status"]) == (
        "key:k-analyst",
        "escalate",
        "escalated",
    )
    assert body["reason_label"] == "suspected violation"
    (entry,) = world.store.audit.entries(target=f"alert:{alert_id}", actions=("escalate",))
    assert (entry.actor, entry.seq, entry.reason_code) == (
        "key:k-analyst",
        body["audit_seq"],
        "suspected_violation",
    )
    ko = world.post("analyst", url, {"action": "dismiss", "reason": "false_positive"}, lang="ko")
    assert ko.json()["reason_label"] == "오탐"
    # closed now: acknowledging is a lifecycle refusal, in the caller's language
    refused = world.post("analyst", url, {"action": "ack"}, lang="ko")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "상태이므로" in refused.json()["detail"]
    assert "cannot acknowledge" in world.post("analyst", url, {"action": "ack"}).json()["detail"]
    reopened = world.post("analyst", url, {"action": "reopen", "reason": "new_evidence"})
    assert reopened.json()["alert"]["status"] == "open"


def test_decision_bodies_are_strict_and_roles_are_checked(world: World) -> None:
    url = f"/v1/alerts/{world.alerts['high']}/decisions"
    for body in (
        {"action": "ack", "actor": "lee"},  # naming an actor
        {"action": "ack", "note": False},  # lax type
        {"action": "ack", "reason": "because"},  # not a reason code
        {"action": "acknowledge"},  # not an API action word
        {"action": "dismiss"},  # needs a reason
        {"action": "dismiss", "reason": "other"},  # other needs a note
    ):
        answer = world.post("analyst", url, body)
        assert answer.status_code == 422, body
        assert answer.json()["type"] == "urn:auditlens:problem:invalid-request"
    assert world.post("viewer", url, {"action": "ack"}).status_code == 403
    assert world.post("analyst", url, {"action": "approve"}).status_code == 403
    assert (
        world.post("analyst", "/v1/alerts/424242/decisions", {"action": "ack"}).status_code == 404
    )
    assert world.get("viewer", "/v1/risks", params={"limit": "many"}).status_code == 422
    assert world.get("viewer", "/v1/risks", params={"severity": "huge"}).status_code == 422
    assert (
        world.store.audit.entries(target=f"alert:{world.alerts['high']}", actions=("acknowledge",))
        == []
    )


def test_closing_a_critical_alert_needs_a_second_principals_approval(world: World) -> None:
    url = f"/v1/alerts/{world.alerts['critical']}/decisions"
    asked = world.post("analyst", url, {"action": "close", "reason": "remediated"}).json()
    assert (asked["action"], asked["awaiting_approval"]) == ("request_close", True)
    assert asked["alert"]["status"] == "close_requested"
    approved = world.post("approver", url, {"action": "approve"}).json()
    assert (approved["actor"], approved["alert"]["status"]) == ("key:k-approver", "closed")


def test_kpis_audit_verify_and_models(world: World) -> None:
    world.post("analyst", f"/v1/alerts/{world.alerts['high']}/decisions", {"action": "ack"})
    figures = world.get("viewer", "/v1/kpis", params={"start": "2026-09-01", "end": "2026-09-30"})
    body = figures.json()
    assert (body["alerts"], body["by_severity"]) == (
        2,
        {"low": 0, "medium": 0, "high": 1, "critical": 1},
    )
    assert body["time_to_first_action"]["count"] == 1
    default = world.get("viewer", "/v1/kpis").json()
    assert (default["start"], default["end"]) == ("2026-11-02", "2026-12-01")
    backwards = world.get("viewer", "/v1/kpis", params={"start": "2026-09-30", "end": "2026-09-01"})
    assert (backwards.status_code, backwards.json()["alerts"]) == (200, 0)

    found = world.get("viewer", "/v1/audit", params={"actor": "key:k-analyst"}).json()
    assert [e["action"] for e in found["items"]] == ["acknowledge"]
    target = f"alert:{world.alerts['high']}"
    everything = world.get("viewer", "/v1/audit", params={"target": target}).json()
    assert everything["total"] >= 2 and everything["items"][0]["action"] == "acknowledge"
    first = world.get("viewer", "/v1/audit", params={"target": target, "limit": 1}).json()
    assert (first["total"], first["next_offset"]) == (everything["total"], 1)
    both = world.get("viewer", "/v1/audit", params={"action": ["acknowledge", "view"]}).json()
    assert [e["action"] for e in both["items"]] == ["acknowledge"]
    table = rows_of(world.get("viewer", "/v1/audit", params={"format": "csv"}).text)
    assert table[0] == list(AuditEntryView.model_fields) and len(table) > 2

    status = world.get("viewer", "/v1/audit/verify").json()
    assert status["ok"] is True and status["entries"] >= 3

    models = world.get("viewer", "/v1/models").json()
    assert [m["sha256"] for m in models] == [SHA_A]
    models_csv = rows_of(world.get("viewer", "/v1/models", params={"format": "csv"}).text)
    assert models_csv[1][0] == SHA_A


def test_every_data_route_documents_its_problems_and_csv(world: World) -> None:
    paths = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for path in (
        "/v1/risks",
        "/v1/alerts",
        "/v1/audit",
        "/v1/models",
        "/v1/users/{user_id}/history",
    ):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert "text/csv" in content and "application/json" in content, path
    decision = paths["/v1/alerts/{alert_id}/decisions"]["post"]["responses"]
    assert {"201", "401", "403", "404", "409", "422", "500", "503"} <= set(decision)
    assert list(decision["409"]["content"]) == ["application/problem+json"]


def test_alerts_link_to_the_dashboard_alert_without_the_user_id() -> None:
    template = Settings().alert_link_template  # the dashboard test opens the link it makes
    assert template == "http://localhost:8501/alerts?alert={alert_id}"
    assert "{user_id}" not in template


def test_docs_api_lists_every_route_and_the_csv_columns(sqlite_settings: Settings) -> None:
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    schema = create_app(sqlite_settings).openapi()
    plain = re.sub(r"\{[a-z_]+\}", "{}", text)
    for path, operations in schema["paths"].items():
        for method in operations:
            route = f"{method.upper()} {re.sub(r'{[a-z_]+}', '{}', path)}"
            assert route in plain or path in ("/healthz", "/readyz"), route
    for row in (RiskRow, AlertRow, HistoryDay, AuditEntryView, ModelVersion):
        assert ", ".join(row.model_fields) in text, row.__name__


def test_text_the_stores_cannot_hold_is_422_and_far_days_are_held(world: World) -> None:
    for url, params in (
        ("/v1/users/U%00/risk", None),
        ("/v1/risks", {"department": "a\x00b"}),
        ("/v1/audit", {"action": ["view", "x\x00"]}),
        ("/v1/alerts", {"offset": 2**40}),
    ):
        assert world.get("viewer", url, params=params).status_code == 422, (url, params)
    # days beyond 1900-2999 are held to them (nothing lies outside)
    far = world.get("viewer", "/v1/kpis", params={"start": "0001-01-01", "end": "9999-12-31"})
    assert (far.json()["start"], far.json()["end"], far.json()["alerts"]) == (
        "1900-01-01",
        "2999-12-31",
        2,
    )
    assert world.get("viewer", "/v1/alerts", params={"end": "9999-12-31"}).json()["total"] == 2
    nul = world.post(
        "analyst",
        f"/v1/alerts/{world.alerts['high']}/decisions",
        {"action": "ack", "note": "a\x00"},
    )
    assert nul.status_code == 422
