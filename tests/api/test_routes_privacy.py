"""Pseudonymised triage through the API: pseudonyms for viewers and analysts, user ids
for approvers, re-identification of one alert, and four eyes compared by principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from auditlens.api.app import create_app
from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.privacy import Pseudonymiser
from auditlens.store.repo import Store
from tests.api.conftest import NOW, Issuer
from tests.api.test_routes import World, fill, make_world, rows_of

KEY = SecretStr("k" * 40)
PSEUDONYM = Pseudonymiser(KEY).user("U0042")


def pseudonymised(settings: Settings) -> Settings:
    """``settings`` with pseudonymisation on."""
    privacy = settings.privacy.model_copy(update={"pseudonymise": True, "pseudonym_key": KEY})
    return settings.model_copy(update={"privacy": privacy})


@pytest.fixture
def hidden(deployment: Settings, issue: Callable[..., str]) -> Iterator[World]:
    """A filled, pseudonymised store on SQLite and PostgreSQL."""
    yield from make_world(pseudonymised(deployment), issue)


def test_viewers_and_analysts_see_pseudonyms_everywhere(hidden: World) -> None:
    for role in ("viewer", "analyst"):
        risks = hidden.get(role, "/v1/risks").json()
        assert "U0042" not in str(risks) and PSEUDONYM in str(risks)
        queue = hidden.get(role, "/v1/alerts").json()
        assert {a["user_id"] for a in queue["items"]} == {
            PSEUDONYM,
            Pseudonymiser(KEY).user("U7"),
        }
        as_csv = hidden.get(role, "/v1/alerts", params={"format": "csv"}).text
        assert "U0042" not in as_csv and PSEUDONYM in rows_of(as_csv)[2][1]
    risk = hidden.get("viewer", f"/v1/users/{PSEUDONYM}/risk", params={"purpose": "review"})
    assert risk.status_code == 200 and risk.json()["user_id"] == PSEUDONYM
    lowered = hidden.get("viewer", f"/v1/users/{PSEUDONYM.lower()}/history").json()
    assert lowered["user_id"] == PSEUDONYM and len(lowered["days"]) == 2
    # the real id finds nobody for them
    assert hidden.get("viewer", "/v1/users/U0042/risk").status_code == 404
    assert hidden.get("viewer", "/v1/alerts", params={"user": "U0042"}).json()["total"] == 0
    mine = hidden.get("viewer", "/v1/alerts", params={"user": PSEUDONYM}).json()
    assert [a["id"] for a in mine["items"]] == [hidden.alerts["high"]]

    detail = hidden.get("analyst", f"/v1/alerts/{hidden.alerts['high']}").json()
    assert "U0042" not in str(detail) and detail["alert"]["user_id"] == PSEUDONYM
    trail = hidden.get("viewer", "/v1/audit").json()
    assert "U0042" not in str(trail)
    assert {e["subject"] for e in trail["items"]} >= {PSEUDONYM}
    views = hidden.store.audit.entries(actions=("view",))
    assert [
        (e.actor, e.subject, e.reason_code, e.note, e.criteria["pseudonymised"]) for e in views
    ] == [
        ("key:k-viewer", "U0042", "risk", "review", True),
        ("key:k-viewer", "U0042", "history", "", True),
        ("key:k-analyst", "U0042", "alert", "", True),
    ]


def test_approvers_and_admins_see_user_ids(hidden: World) -> None:
    for role in ("approver", "admin"):
        risks = hidden.get(role, "/v1/risks").json()
        assert [r["user_id"] for r in risks["items"]] == ["U7", "U0042", "U9"]
        assert hidden.get(role, "/v1/users/U0042/risk").json()["user_id"] == "U0042"
    (seen, _) = hidden.store.audit.entries(actions=("view",))
    assert seen.criteria["pseudonymised"] is False


def test_reidentification_takes_a_request_and_another_principals_grant(hidden: World) -> None:
    alert_id = hidden.alerts["high"]
    ask = hidden.post("analyst", f"/v1/alerts/{alert_id}/reidentification", {"reason": "case 31"})
    assert ask.status_code == 201
    request_id = ask.json()["id"]
    assert ask.json()["requested_by"] == "key:k-analyst" and ask.json()["status"] == "requested"
    again = hidden.post("analyst", f"/v1/alerts/{alert_id}/reidentification", {"reason": "x"})
    assert again.status_code == 409
    assert hidden.get("analyst", f"/v1/alerts/{alert_id}/identity").status_code == 403

    assert (
        hidden.post(
            "analyst", f"/v1/reidentifications/{request_id}/decision", {"grant": True}
        ).status_code
        == 403
    )
    lax = hidden.post("approver", f"/v1/reidentifications/{request_id}/decision", {"grant": "yes"})
    assert lax.status_code == 422
    assert (
        hidden.post("approver", "/v1/reidentifications/777/decision", {"grant": True}).status_code
        == 404
    )
    # what waits for a decision, as the approver lists it (no user id anywhere)
    waiting = hidden.get("approver", "/v1/reidentifications", params={"status": "requested"})
    assert [r["id"] for r in waiting.json()] == [request_id]
    assert "U0042" not in waiting.text and waiting.json()[0]["reason"] == "case 31"
    listed_csv = hidden.get("approver", "/v1/reidentifications", params={"format": "csv"})
    assert listed_csv.headers["content-type"].startswith("text/csv")
    assert "case 31" in listed_csv.text and "U0042" not in listed_csv.text
    assert hidden.get("viewer", "/v1/reidentifications").status_code == 403
    one = hidden.get("analyst", f"/v1/reidentifications/{request_id}")
    assert one.json()["status"] == "requested" and one.json()["alert_id"] == alert_id
    assert hidden.get("analyst", "/v1/reidentifications/777").status_code == 404
    granted = hidden.post(
        "approver", f"/v1/reidentifications/{request_id}/decision", {"grant": True, "note": "ok"}
    )
    assert granted.status_code == 200 and granted.json()["decided_by"] == "key:k-approver"
    twice = hidden.post(
        "approver", f"/v1/reidentifications/{request_id}/decision", {"grant": False}
    )
    assert twice.status_code == 409

    decided = hidden.get("analyst", f"/v1/reidentifications/{request_id}").json()
    assert decided["status"] == "granted" and decided["expires_at"] is not None
    shown = hidden.get("analyst", f"/v1/alerts/{alert_id}/identity")
    assert shown.status_code == 200 and shown.json() == {"alert_id": alert_id, "user_id": "U0042"}
    # only the requester, only that alert
    assert hidden.get("analyst2", f"/v1/alerts/{alert_id}/identity").status_code == 403
    other = hidden.alerts["critical"]
    assert hidden.get("analyst", f"/v1/alerts/{other}/identity").status_code == 403
    assert hidden.get("analyst", "/v1/alerts/999/identity").status_code == 404
    actions = [
        e.action for e in hidden.store.audit.entries(target=f"reidentification:{request_id}")
    ]
    assert actions == ["reidentify_request", "reidentify_grant", "reidentify_reveal"]


def test_pseudonymised_without_a_key_does_not_start(deployment: Settings) -> None:
    privacy = deployment.privacy.model_copy(update={"pseudonymise": True})
    with pytest.raises(ConfigError):
        create_app(deployment.model_copy(update={"privacy": privacy}))


def test_four_eyes_compares_principals_not_roles(oidc_settings: Settings, issuer: Issuer) -> None:
    """One principal holding analyst and approver asks to close and cannot approve."""
    with Store.open(oidc_settings, migrate=True) as store:
        alerts = fill(store)
    both = issuer.token(preferred_username="Choi", roles=["analyst", "approver"])
    other = issuer.token(preferred_username="Han", sub="7a", roles=["approver"])
    url = f"/v1/alerts/{alerts['critical']}/decisions"
    with TestClient(create_app(oidc_settings, clock=lambda: NOW)) as client:
        asked = client.post(
            url,
            json={"action": "close", "reason": "remediated"},
            headers={"Authorization": f"Bearer {both}"},
        )
        assert asked.status_code == 201 and asked.json()["awaiting_approval"] is True
        refused = client.post(
            url,
            json={"action": "approve"},
            headers={"Authorization": f"Bearer {both}", "Accept-Language": "ko"},
        )
        assert refused.status_code == 409 and "이중 승인" in refused.json()["detail"]
        english = client.post(
            url,
            json={"action": "approve"},
            headers={"Authorization": f"Bearer {both}", "Accept-Language": "en"},
        )
        assert "four eyes" in english.json()["detail"]
        approved = client.post(
            url, json={"action": "approve"}, headers={"Authorization": f"Bearer {other}"}
        )
        assert approved.status_code == 201
        assert approved.json()["alert"]["status"] == "closed"
        assert approved.json()["actor"] != asked.json()["actor"]
