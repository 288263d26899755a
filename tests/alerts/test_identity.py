"""Principals, roles and four eyes: who decides is proven, compared normalised."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from auditlens.alerts.intake import admit
from auditlens.alerts.reasons import LABELS, ReasonCode
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.triage import TriageError, TriagePolicy, decide
from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.identity import Directory, IdentityError, cli_acting, normalise
from auditlens.pipeline import decide_alert
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, FakeClock, detection

POLICY = TriagePolicy(four_eyes=frozenset({"critical"}))
RULES = [Rule("r", ("none",), Schedule.always_open(BusinessCalendar()))]
PEOPLE = {
    "kim": ["analyst", "approver"],
    "lee": ["analyst", "approver"],
    "park": ["analyst"],
    "choi": ["admin", "approver"],
}
D = Directory(PEOPLE)


def _critical(engine: Engine, clock: FakeClock) -> int:
    report = admit(engine, [detection(severity="critical", risk=96.0)], RULES, CRITERIA, clock())
    return report.opened[0].id


def test_ids_are_compared_normalised() -> None:
    for variant in ("kim", "KIM", " Kim ", "\uff4b\uff49\uff4d", "\uff2b\uff49\uff4d\t"):
        assert normalise(variant) == "kim"
        assert D.get(variant).id == "kim"
    with pytest.raises(IdentityError, match="same principal 'kim'"):
        Directory({"kim": ["analyst"], "\uff2b\uff29\uff2d": ["approver"]})
    with pytest.raises(IdentityError, match="reserved"):
        Directory({"AuditLens": ["admin"]})


@pytest.mark.parametrize("approver", ["kim", "KIM", " Kim ", "\uff4b\uff49\uff4d"])
def test_four_eyes_refuses_the_requester_in_any_spelling(
    any_engine: Engine, clock: FakeClock, approver: str
) -> None:
    alert_id = _critical(any_engine, clock)
    asked = decide(
        any_engine, alert_id, "close", by=D.acting("kim"), reason="explained",
        now=clock(), policy=POLICY,
    )  # fmt: skip
    assert asked.awaiting_approval and asked.alert.close_requested_by == "kim"
    with pytest.raises(TriageError, match="cannot also approve"):
        decide(any_engine, alert_id, "approve", by=D.acting(approver), now=clock(), policy=POLICY)
    assert [e.action for e in AuditRepository(any_engine).entries(target=f"alert:{alert_id}")] == [
        "alert",
        "request_close",
    ]  # nothing was written for the refused approval
    done = decide(any_engine, alert_id, "approve", by=D.acting("Lee"), now=clock(), policy=POLICY)
    assert done.alert.status == "closed" and done.entry.actor == "lee"


def test_roles_and_unknown_principals(any_engine: Engine, clock: FakeClock) -> None:
    alert_id = _critical(any_engine, clock)
    with pytest.raises(IdentityError, match="not a known principal"):
        decide(any_engine, alert_id, "acknowledge", by=D.acting("mallory"), now=clock(),
               policy=POLICY)  # fmt: skip
    decide(any_engine, alert_id, "close", by=D.acting("lee"), reason="explained", now=clock(),
           policy=POLICY)  # fmt: skip
    with pytest.raises(IdentityError, match="needs the approver role"):
        decide(any_engine, alert_id, "approve", by=D.acting("park"), now=clock(), policy=POLICY)
    with pytest.raises(IdentityError, match="needs the analyst role"):
        decide(any_engine, alert_id, "reopen", by=D.acting("choi"), reason="mistake",
               now=clock(), policy=POLICY)  # fmt: skip
    with pytest.raises(TriageError, match="not one of"):
        decide(any_engine, alert_id, "reopen", by=D.acting("kim"), reason="because",
               now=clock(), policy=POLICY)  # fmt: skip
    with pytest.raises(TriageError, match="needs a note"):
        decide(any_engine, alert_id, "reopen", by=D.acting("kim"), reason="other",
               now=clock(), policy=POLICY)  # fmt: skip
    assert AuditRepository(any_engine).verify().ok


def test_an_admin_acting_on_behalf_is_recorded_and_counts_as_both(
    any_engine: Engine, clock: FakeClock
) -> None:
    alert_id = _critical(any_engine, clock)
    with pytest.raises(IdentityError, match="only an admin"):
        D.acting("park", on_behalf_of="kim")
    asked = decide(any_engine, alert_id, "close", by=D.acting("CHOI", on_behalf_of="Kim"),
                   reason="explained", now=clock(), policy=POLICY)  # fmt: skip
    assert (asked.entry.actor, asked.entry.criteria["on_behalf_of"]) == ("choi", "kim")
    assert (asked.alert.close_requested_by, asked.alert.close_requested_via) == ("kim", "choi")
    for who in ("choi", "kim"):  # neither the admin nor the principal may approve
        with pytest.raises(TriageError, match="cannot also approve"):
            decide(any_engine, alert_id, "approve", by=D.acting(who), now=clock(), policy=POLICY)
    with pytest.raises(TriageError, match="cannot also approve"):
        decide(any_engine, alert_id, "approve", by=D.acting("choi", on_behalf_of="lee"),
               now=clock(), policy=POLICY)  # fmt: skip
    done = decide(any_engine, alert_id, "approve", by=D.acting("lee"), now=clock(), policy=POLICY)
    assert done.alert.status == "closed"


def test_the_cli_principal_is_the_os_account(settings: Settings, clock: FakeClock) -> None:
    configured = settings.model_copy(update={"principals": PEOPLE})
    store = Store.open(configured, migrate=True)
    try:
        alert_id = _critical(store.engine, clock)
    finally:
        store.close()
    with pytest.raises(IdentityError, match="not a known principal"):
        decide_alert(configured, alert_id, "acknowledge", who_am_i=lambda: "root", clock=clock)
    decide_alert(configured, alert_id, "close", reason="explained", who_am_i=lambda: "kim",
                 clock=clock)  # fmt: skip
    # typing someone else's name does not make you them
    with pytest.raises(IdentityError, match="only an admin"):
        decide_alert(configured, alert_id, "approve", as_name="lee", who_am_i=lambda: "KIM",
                     clock=clock)  # fmt: skip
    done = decide_alert(
        configured, alert_id, "approve", who_am_i=lambda: "\uff4c\uff45\uff45", clock=clock
    )
    assert done.alert.status == "closed" and done.entry.actor == "lee"
    assert cli_acting(D, None, who_am_i=lambda: " Park ").effective.id == "park"


def test_every_reason_code_has_both_labels_and_is_documented() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for code in ReasonCode:
        ko, en = LABELS[code]
        assert ko and en
        assert f"`{code.value}`" in readme, f"README does not list reason code {code.value}"


def test_a_close_request_stored_before_principals_is_compared_normalised(
    any_engine: Engine, clock: FakeClock
) -> None:
    from sqlalchemy import update

    from auditlens.store.db import alerts

    alert_id = _critical(any_engine, clock)
    decide(any_engine, alert_id, "close", by=D.acting("lee"), reason="explained", now=clock(),
           policy=POLICY)  # fmt: skip
    with any_engine.begin() as conn:  # what `--as " Kim "` stored before this change
        conn.execute(
            update(alerts).where(alerts.c.id == alert_id).values(close_requested_by=" Kim")
        )
    with pytest.raises(TriageError, match="cannot also approve"):
        decide(any_engine, alert_id, "approve", by=D.acting("kim"), now=clock(), policy=POLICY)
