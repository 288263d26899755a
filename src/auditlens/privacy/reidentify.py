"""Re-identification: seeing the person behind ONE pseudonymised alert takes two people.

1. An analyst **requests** it for one alert, with a reason (:func:`request_reidentification`).
2. A **different** principal with the approver role **grants** or **denies** it
   (:func:`decide_reidentification`). Four eyes: whoever took part in the request — the
   requester, or the admin who asked on their behalf — cannot decide it; an admin acting on
   someone's behalf counts as both (``Acting.ids``). A request is decided once.
3. Until the grant expires (``privacy.reidentify_ttl_minutes``) the requester, and only the
   requester acting as they asked, may :func:`reveal` that alert's user id — not another
   alert's. A grant must also be in the audit trail: one written into the table by hand
   reveals nothing (and ``auditlens audit verify`` names it).

Every step is an audit entry with target ``reidentification:ID`` and the alert's user as
subject: ``reidentify_request``, ``reidentify_grant`` / ``reidentify_deny``, one
``reidentify_reveal`` per reveal, and ``reidentify_expire`` once a grant has run out
(written the next time anyone looks: :func:`expire_due`). Time is always passed in
(DESIGN rule 10), so expiry is exact in tests.

Example::

    >>> from auditlens.identity import Directory
    >>> directory = Directory({"kim": ["analyst"], "lee": ["approver"]})
    >>> now = dt.datetime(2026, 9, 8, 2, 0, tzinfo=dt.UTC)
    >>> asked = request_reidentification(store, directory.acting("kim"), alert.id,
    ...                                  "HR case 2026-031", now=now)
    >>> granted = decide_reidentification(store, directory.acting("lee"), asked.id, True,
    ...                                   "case confirmed", now=now)
    >>> reveal(store, directory.acting("kim"), alert.id, now + dt.timedelta(minutes=5))
    'U0042'
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from auditlens.errors import AuditlensError, StoreError
from auditlens.identity import Acting, normalise
from auditlens.store.alerts import AlertRepository
from auditlens.store.audit import SYSTEM_ACTOR, NewEntry
from auditlens.store.reidentifications import Reidentification, target
from auditlens.store.repo import Store

DEFAULT_TTL: Final = dt.timedelta(minutes=60)


class ReidentificationError(AuditlensError):
    """A re-identification step that is not allowed as asked."""


def _written(found: Reidentification | None, request_id: int) -> Reidentification:
    """The request just written (read back in the same transaction)."""
    if found is None:  # pragma: no cover - the row was written in this transaction
        raise StoreError(f"re-identification request #{request_id} vanished")
    return found


def _criteria(acting: Acting, **values: object) -> dict[str, object]:
    found: dict[str, object] = dict(values)
    if acting.on_behalf_of is not None:
        found["on_behalf_of"] = acting.on_behalf_of.id
    return found


def request_reidentification(
    store: Store, acting: Acting, alert_id: int, reason: str, *, now: dt.datetime
) -> Reidentification:
    """Ask to see the person behind alert ``alert_id``; ``reason`` is required.

    Raises:
        IdentityError: the effective principal is not an analyst.
        ReidentificationError: no reason, or the same principal already has an open or
            live request for this alert.
        AlertNotFound: no such alert.
    """
    acting.require("analyst", "request re-identification")
    if not reason.strip():
        raise ReidentificationError(
            "a re-identification request needs a reason",
            ko="재식별 요청에는 사유가 필요합니다",
            hint="pass --reason TEXT (e.g. the case number)",
            ko_hint="--reason에 사유를 적으십시오 (예: 사건 번호)",
        )
    via = acting.actor.id if acting.on_behalf_of is not None else None
    with store.engine.begin() as conn:
        alert = AlertRepository(conn).get_alert(alert_id)
        repo = store.reidentifications.within(conn)
        for earlier in repo.find(alert_id=alert_id, statuses=("requested", "granted")):
            if earlier.requested_by == acting.effective.id and (
                earlier.status == "requested" or earlier.live(now)
            ):
                raise ReidentificationError(
                    f"{acting.effective.id} already asked to re-identify alert #{alert_id} "
                    f"(request #{earlier.id}, {earlier.status})",
                    ko=f"알림 #{alert_id}의 재식별을 이미 요청했습니다 "
                    f"(요청 #{earlier.id}, {earlier.status})",
                )
        request_id = repo.add(alert_id, acting.effective.id, via, reason.strip(), now)
        store.trail.append(
            conn,
            NewEntry(
                actor=acting.actor.id,
                action="reidentify_request",
                target=target(request_id),
                subject=alert.user_id,
                note=reason.strip(),
                criteria=_criteria(acting, alert_id=alert_id),
            ),
            now,
        )
        found = repo.get(request_id)
    return _written(found, request_id)


def decide_reidentification(
    store: Store,
    acting: Acting,
    request_id: int,
    grant: bool,
    note: str,
    *,
    now: dt.datetime,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> Reidentification:
    """Grant (for ``ttl``) or deny request ``request_id``.

    Raises:
        IdentityError: the effective principal is not an approver.
        ReidentificationError: no such request, it was already decided, or ``acting``
            took part in it (four eyes).
    """
    acting.require("approver", "grant or deny re-identification")
    with store.engine.begin() as conn:
        repo = store.reidentifications.within(conn)
        request = repo.get(request_id)
        if request is None:
            raise ReidentificationError(
                f"no re-identification request #{request_id}",
                ko=f"재식별 요청 #{request_id}이(가) 없습니다",
                hint="see `auditlens reidentify list`",
                ko_hint="`auditlens reidentify list`로 확인하십시오",
            )
        took_part = {normalise(p) for p in (request.requested_by, request.requested_via) if p}
        if acting.ids & took_part:
            raise ReidentificationError(
                f"{acting.effective.id} took part in re-identification request #{request_id} "
                f"(requested by {request.requested_by}) and cannot also decide it",
                ko=f"재식별 요청 #{request_id}에 관여한 사람은 승인하거나 거부할 수 없습니다 "
                "(이중 승인)",
                hint="four eyes: a different principal with the approver role decides",
                ko_hint="다른 승인자(approver)가 결정해야 합니다",
            )
        expires = now + ttl if grant else None
        status: Literal["granted", "denied"] = "granted" if grant else "denied"
        if request.status != "requested" or not repo.decide(
            request_id,
            status,
            decided_by=acting.effective.id,
            decided_via=acting.actor.id if acting.on_behalf_of is not None else None,
            note=note,
            now=now,
            expires_at=expires,
        ):
            raise ReidentificationError(
                f"re-identification request #{request_id} was already decided ({request.status})",
                ko=f"재식별 요청 #{request_id}은(는) 이미 처리되었습니다 ({request.status})",
                hint="ask again with `auditlens reidentify request`",
                ko_hint="`auditlens reidentify request`로 다시 요청하십시오",
            )
        alert = AlertRepository(conn).get_alert(request.alert_id)
        store.trail.append(
            conn,
            NewEntry(
                actor=acting.actor.id,
                action=f"reidentify_{'grant' if grant else 'deny'}",
                target=target(request_id),
                subject=alert.user_id,
                note=note,
                criteria=_criteria(
                    acting,
                    alert_id=request.alert_id,
                    requested_by=request.requested_by,
                    expires_at=expires.isoformat() if expires else None,
                    ttl_minutes=round(ttl.total_seconds() / 60, 3) if grant else None,
                ),
            ),
            now,
        )
        decided = repo.get(request_id)
    return _written(decided, request_id)


def expire_due(store: Store, now: dt.datetime) -> list[Reidentification]:
    """Record the expiry of every grant that has run out at ``now`` (one trail entry each,
    written once); return them."""
    expired: list[Reidentification] = []
    for request in store.reidentifications.find(statuses=("granted",)):
        if request.expires_at is None or now < request.expires_at:
            continue
        with store.engine.begin() as conn:
            if not store.reidentifications.within(conn).expire(request.id, now):
                continue  # another process recorded it first
            alert = AlertRepository(conn).get_alert(request.alert_id)
            store.trail.append(
                conn,
                NewEntry(
                    actor=SYSTEM_ACTOR,
                    action="reidentify_expire",
                    target=target(request.id),
                    subject=alert.user_id,
                    criteria={
                        "alert_id": request.alert_id,
                        "requested_by": request.requested_by,
                        "expires_at": request.expires_at.isoformat(),
                    },
                ),
                now,
            )
        expired.append(request)
    return expired


def reveal(store: Store, acting: Acting, alert_id: int, now: dt.datetime) -> str:
    """The user id behind alert ``alert_id``, for the requester of a live grant on it.

    ``acting`` must be the request's principals as they asked (the requester; or the same
    admin on the requester's behalf) and still hold the analyst role. Each reveal is an
    audit entry.

    Raises:
        ReidentificationError: no live grant of this alert for ``acting`` (none asked, not
            yet granted, denied, expired, granted for another alert or another person, or a
            grant the audit trail does not know).
        IdentityError: the effective principal is not an analyst (any more).
    """
    acting.require("analyst", "see a re-identified user")
    expire_due(store, now)
    via = acting.actor.id if acting.on_behalf_of is not None else None
    mine = [
        r
        for r in store.reidentifications.find(alert_id=alert_id, statuses=("granted",))
        if r.live(now) and (r.requested_by, r.requested_via) == (acting.effective.id, via)
    ]
    with store.engine.begin() as conn:
        for request in mine:
            if not store.trail.has_entry(conn, target(request.id), "reidentify_grant"):
                continue  # a grant the trail never saw: written into the table by hand
            alert = AlertRepository(conn).get_alert(alert_id)
            expires = request.expires_at.isoformat() if request.expires_at else None
            store.trail.append(
                conn,
                NewEntry(
                    actor=acting.actor.id,
                    action="reidentify_reveal",
                    target=target(request.id),
                    subject=alert.user_id,
                    criteria=_criteria(acting, alert_id=alert_id, expires_at=expires),
                ),
                now,
            )
            return alert.user_id
    raise ReidentificationError(
        f"{acting.effective.id} has no live re-identification grant for alert #{alert_id}",
        ko=f"알림 #{alert_id}에 대해 유효한 재식별 승인이 없습니다",
        hint="request it (`auditlens reidentify request`) and have a different approver "
        "grant it; a grant lasts privacy.reidentify_ttl_minutes",
        ko_hint="재식별을 요청하고(`auditlens reidentify request`) 다른 승인자의 승인을 "
        "받으십시오. 승인은 privacy.reidentify_ttl_minutes 동안 유효합니다",
    )
