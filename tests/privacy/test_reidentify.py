"""Re-identification with four eyes, on SQLite and PostgreSQL: the happy path, every way
we could think of to break it, expiry with an exact clock, and a trail that verifies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from auditlens.config import Settings
from auditlens.identity import IdentityError
from auditlens.pipeline.trail import verify_trail
from auditlens.privacy import (
    ReidentificationError,
    decide_reidentification,
    expire_due,
    request_reidentification,
    reveal,
)
from auditlens.store.alerts import AlertNotFound
from auditlens.store.db import reidentifications
from auditlens.store.repo import Store
from tests.alerts.conftest import T0
from tests.privacy.conftest import DIRECTORY, open_alert

D = DIRECTORY
TTL = dt.timedelta(minutes=30)


def _granted(store: Store, alert_id: int, requester: str = "kim", approver: str = "lee") -> int:
    asked = request_reidentification(store, D.acting(requester), alert_id, "HR case 31", now=T0)
    decide_reidentification(store, D.acting(approver), asked.id, True, "ok", now=T0, ttl=TTL)
    return asked.id


def _actions(store: Store, request_id: int) -> list[str]:
    return [e.action for e in store.audit.entries(target=f"reidentification:{request_id}")]


def test_request_grant_reveal_and_the_trail(store: Store, settings: Settings) -> None:
    alert = open_alert(store)
    asked = request_reidentification(store, D.acting("kim"), alert.id, " HR case 31 ", now=T0)
    assert (asked.status, asked.requested_by, asked.reason) == ("requested", "kim", "HR case 31")
    with pytest.raises(ReidentificationError, match="no live re-identification grant"):
        reveal(store, D.acting("kim"), alert.id, T0)  # not granted yet
    granted = decide_reidentification(
        store, D.acting("LEE"), asked.id, True, "case confirmed", now=T0, ttl=TTL
    )
    assert granted.status == "granted" and granted.decided_by == "lee"
    assert granted.expires_at == T0 + TTL
    assert reveal(store, D.acting("kim"), alert.id, T0 + dt.timedelta(minutes=1)) == "U0042"
    assert reveal(store, D.acting("Kim"), alert.id, T0 + dt.timedelta(minutes=2)) == "U0042"
    assert _actions(store, asked.id) == [
        "reidentify_request",
        "reidentify_grant",
        "reidentify_reveal",
        "reidentify_reveal",
    ]
    entries = store.audit.entries(target=f"reidentification:{asked.id}")
    assert {e.subject for e in entries} == {"U0042"}  # `audit log --user U0042` finds them
    assert entries[0].note == "HR case 31" and entries[1].actor == "lee"
    assert entries[1].criteria["expires_at"] == (T0 + TTL).isoformat()
    assert verify_trail(settings).ok


def test_four_eyes_cannot_be_bypassed(store: Store, settings: Settings) -> None:
    alert = open_alert(store)
    with pytest.raises(IdentityError, match="needs the analyst role"):
        request_reidentification(store, D.acting("lee"), alert.id, "curious", now=T0)
    with pytest.raises(ReidentificationError, match="needs a reason"):
        request_reidentification(store, D.acting("kim"), alert.id, "   ", now=T0)
    with pytest.raises(AlertNotFound):
        request_reidentification(store, D.acting("kim"), 999, "HR case", now=T0)
    # jung is analyst AND approver: may request, may not grant their own request
    own = request_reidentification(store, D.acting("jung"), alert.id, "HR case", now=T0)
    with pytest.raises(ReidentificationError, match="took part") as self_grant:
        decide_reidentification(store, D.acting("JUNG"), own.id, True, "", now=T0)
    assert "이중 승인" in self_grant.value.text("ko")
    # a non-approver (analyst) cannot grant someone else's request
    kims = request_reidentification(store, D.acting("kim"), alert.id, "HR case", now=T0)
    with pytest.raises(IdentityError, match="needs the approver role"):
        decide_reidentification(store, D.acting("park"), kims.id, True, "", now=T0)
    # han (admin) asks on kim's behalf: han took part, so han cannot grant even as lee
    via = request_reidentification(store, D.acting("han", "park"), alert.id, "case 9", now=T0)
    assert (via.requested_by, via.requested_via) == ("park", "han")
    with pytest.raises(ReidentificationError, match="took part"):
        decide_reidentification(store, D.acting("han", "lee"), via.id, True, "", now=T0)
    # ... and an admin acting for the requester (an approver too) cannot grant it either
    with pytest.raises(ReidentificationError, match="took part"):
        decide_reidentification(store, D.acting("choi", "jung"), own.id, True, "", now=T0)
    # a second open request by the same person for the same alert is refused
    with pytest.raises(ReidentificationError, match="already asked"):
        request_reidentification(store, D.acting("kim"), alert.id, "again", now=T0)
    # nothing of this reveals anything
    for who in ("kim", "jung", "park"):
        with pytest.raises(ReidentificationError):
            reveal(store, D.acting(who), alert.id, T0)
    assert [r.status for r in store.reidentifications.find()] == ["requested"] * 3
    assert verify_trail(settings).ok


def test_grant_is_for_one_alert_one_requester_once(store: Store, settings: Settings) -> None:
    first, second = open_alert(store, "U0042"), open_alert(store, "U0077")
    request_id = _granted(store, first.id)
    later = T0 + dt.timedelta(minutes=5)
    # another alert: nothing
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("kim"), second.id, later)
    # another analyst, or the approver, or an admin acting for kim: nothing
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("park"), first.id, later)
    with pytest.raises(IdentityError):
        reveal(store, D.acting("lee"), first.id, later)
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("han", "kim"), first.id, later)
    # a replayed or duplicate decision changes nothing
    for grant in (True, False):
        with pytest.raises(ReidentificationError, match="already decided"):
            decide_reidentification(store, D.acting("lee"), request_id, grant, "", now=later)
    with pytest.raises(ReidentificationError, match="no re-identification request"):
        decide_reidentification(store, D.acting("lee"), 999, True, "", now=later)
    assert reveal(store, D.acting("kim"), first.id, later) == "U0042"
    assert _actions(store, request_id).count("reidentify_grant") == 1
    assert verify_trail(settings).ok


def test_denied_requests_reveal_nothing(store: Store) -> None:
    alert = open_alert(store)
    asked = request_reidentification(store, D.acting("kim"), alert.id, "HR case", now=T0)
    denied = decide_reidentification(store, D.acting("lee"), asked.id, False, "no case", now=T0)
    assert denied.status == "denied" and denied.expires_at is None
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("kim"), alert.id, T0)
    # after a denial one may ask again
    again = request_reidentification(store, D.acting("kim"), alert.id, "new facts", now=T0)
    assert again.id != asked.id


def test_expiry_with_an_exact_clock(store: Store, settings: Settings) -> None:
    alert = open_alert(store)
    request_id = _granted(store, alert.id)
    last_moment = T0 + TTL - dt.timedelta(microseconds=1)
    assert reveal(store, D.acting("kim"), alert.id, last_moment) == "U0042"
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("kim"), alert.id, T0 + TTL)  # expired at exactly T0 + TTL
    with pytest.raises(ReidentificationError):  # and it stays expired
        reveal(store, D.acting("kim"), alert.id, T0 + TTL + dt.timedelta(hours=1))
    found = store.reidentifications.get(request_id)
    assert found is not None and found.status == "expired" and found.expired_at == T0 + TTL
    assert _actions(store, request_id) == [
        "reidentify_request",
        "reidentify_grant",
        "reidentify_reveal",
        "reidentify_expire",
    ]
    assert expire_due(store, T0 + dt.timedelta(days=1)) == []  # recorded once
    # an expired grant cannot be granted again: a new request is needed
    with pytest.raises(ReidentificationError, match="already decided"):
        decide_reidentification(store, D.acting("lee"), request_id, True, "", now=T0 + TTL)
    fresh = request_reidentification(store, D.acting("kim"), alert.id, "again", now=T0 + TTL)
    decide_reidentification(store, D.acting("lee"), fresh.id, True, "", now=T0 + TTL, ttl=TTL)
    assert reveal(store, D.acting("kim"), alert.id, T0 + TTL) == "U0042"
    assert verify_trail(settings).ok


def test_a_grant_written_behind_the_trails_back_reveals_nothing(
    store: Store, settings: Settings
) -> None:
    alert = open_alert(store)
    asked = request_reidentification(store, D.acting("kim"), alert.id, "HR case", now=T0)
    # someone with write access to the table grants it by hand ...
    with store.engine.begin() as conn:
        conn.execute(
            update(reidentifications)
            .where(reidentifications.c.id == asked.id)
            .values(status="granted", decided_by="lee", expires_at=T0 + TTL)
        )
        conn.execute(
            insert(reidentifications).values(
                alert_id=alert.id,
                requested_by="park",
                reason="forged",
                requested_at=T0,
                status="granted",
                decided_by="lee",
                expires_at=T0 + TTL,
                decision_note="",
            )
        )
    # ... which shows nothing and is named by verify
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("kim"), alert.id, T0)
    with pytest.raises(ReidentificationError):
        reveal(store, D.acting("park"), alert.id, T0)
    result = verify_trail(settings)
    assert not result.ok
    text = "\n".join(result.mismatches)
    assert f"re-identification #{asked.id}: status is granted in the table" in text
    assert "the trail never recorded its request" in text


def test_with_a_separate_audit_database(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        audit_store_url=f"sqlite:///{tmp_path / 'audit.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
    )
    with Store.open(settings, migrate=True) as store:
        alert = open_alert(store)
        request_id = _granted(store, alert.id)
        assert reveal(store, D.acting("kim"), alert.id, T0) == "U0042"
        with store.engine.connect() as conn:  # the store holds no trail entry of it
            local = conn.exec_driver_sql(
                "SELECT count(*) FROM audit_log WHERE target LIKE 'reidentification:%'"
            ).scalar()
        assert local == 0
        assert _actions(store, request_id) == [
            "reidentify_request",
            "reidentify_grant",
            "reidentify_reveal",
        ]
    assert verify_trail(settings).ok
