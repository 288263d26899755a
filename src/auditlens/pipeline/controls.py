"""Database controls as plain functions: migrate as the owner, set up the app role."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from auditlens.config import Settings, mask_url
from auditlens.errors import ConfigError
from auditlens.identity import Directory, cli_acting
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.store import roles
from auditlens.store.audit import NewEntry
from auditlens.store.migrate import connect, head_revision
from auditlens.store.replay import replay
from auditlens.store.repo import Store


def owner_urls(settings: Settings) -> list[tuple[str, str]]:
    """``(url, setting name)`` of each database auditlens migrates, as its owner role:
    the store, and the separate audit database when there is one."""
    found = [_pick(settings.store_owner_url, "store_owner_url", settings.store_url, "store_url")]
    if settings.audit_store_url is not None:
        found.append(
            _pick(
                settings.audit_store_owner_url,
                "audit_store_owner_url",
                settings.audit_store_url,
                "audit_store_url",
            )
        )
    return found


def _pick(
    owner: SecretStr | None, owner_name: str, app: SecretStr, app_name: str
) -> tuple[str, str]:
    return (owner.get_secret_value(), owner_name) if owner else (app.get_secret_value(), app_name)


def migrate_databases(settings: Settings) -> str:
    """Create or migrate every database of the deployment as its owner; return the revision."""
    for url, name in owner_urls(settings):
        connect(url, migrate=True, name=name).dispose()
    return head_revision()


@dataclass(frozen=True)
class RolesReport:
    """The SQL for the application role (passwords masked) and whether it was run."""

    database: str
    sql: list[str]
    applied: bool


def app_role(
    settings: Settings,
    role: str,
    *,
    apply: bool = False,
    audit: bool = False,
    password_env: str | None = None,
) -> RolesReport:
    """Plan (and with ``apply`` run, as the owner) the grants of the application role.

    Args:
        role: the application's role, the user of ``store_url``.
        audit: the separate audit database (only the trail is granted).
        password_env: name of an environment variable holding the role's password.

    Raises:
        ConfigError: ``audit`` without ``audit_store_url``, or a missing password variable.
        RoleError: see :func:`auditlens.store.roles.plan_app_role`.
    """
    urls = owner_urls(settings)
    if audit and len(urls) < 2:
        raise ConfigError(
            "--audit needs audit_store_url (a separate audit database)",
            ko="--audit에는 audit_store_url(별도의 감사 기록 데이터베이스)이 필요합니다",
        )
    url, name = urls[1] if audit else urls[0]
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise ConfigError(
                f"environment variable {password_env} is not set",
                ko=f"환경 변수 {password_env}이(가) 설정되어 있지 않습니다",
            )
    engine = connect(url, name=name)
    try:
        plan = roles.plan_app_role(engine, role, password=password, audit_only=audit)
        if apply:
            roles.apply(engine, plan)
    finally:
        engine.dispose()
    return RolesReport(mask_url(url), plan.printable, apply)


@dataclass(frozen=True)
class ReconcileReport:
    """Table rows that disagree with the trail: those restored from it, those left."""

    fixable: list[str]
    left: list[str]
    applied: bool


def reconcile(
    settings: Settings,
    *,
    apply: bool = False,
    as_name: str | None = None,
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> ReconcileReport:
    """Make the alert tables agree with the audit trail again (admins only).

    What the trail says happened is restored: an alert's state after a crash between a
    separate audit database and the store, or after someone changed it by hand; a
    missing label candidate or suppression. Each repair is one transaction with its own
    ``reconcile`` entry. Rows the trail never wrote (a suppression inserted by hand) are
    only listed: removing them is a person's decision.

    Raises:
        IdentityError: the acting principal is not an admin.
    """
    acting = cli_acting(Directory.from_settings(settings), as_name, who_am_i=who_am_i)
    acting.require("admin", "reconcile the tables with the audit trail")
    with Store.open(settings) as store:
        found = replay(store.engine, store.audit_engine)
        fixable = [m for m in found if m.fix is not None]
        if apply:
            for mismatch in fixable:
                _repair(store, mismatch.fix, mismatch.seq, mismatch.text, acting.actor.id, clock())
    lang = settings.language
    return ReconcileReport(
        [m.line(lang) for m in fixable], [m.line(lang) for m in found if m.fix is None], apply
    )


def _repair(
    store: Store,
    fix: tuple[str, dict[str, object]] | None,
    seq: int | None,
    text: str,
    actor: str,
    now: dt.datetime,
) -> None:
    assert fix is not None  # noqa: S101 - only fixable mismatches come here
    table, values = fix
    alert_id = int(str(values.get("id", values.get("alert_id"))))
    with store.engine.begin() as conn:
        alerts = store.alerts.within(conn)
        if table == "alerts":
            alerts.restore(alert_id, dict(values), now)
        alert = alerts.get_alert(alert_id)
        if table == "label_candidates":
            alerts.feedback.add_label_candidate(
                alert,
                actor=str(values["actor"]),
                reason_code=str(values["reason_code"]),
                note=str(values["note"]),
                audit_seq=int(str(values["audit_seq"])),
                now=now,
            )
        elif table == "suppressions":
            until = values["until"]
            assert isinstance(until, dt.datetime)  # noqa: S101
            alerts.feedback.add_suppression(alert, until=until, actor=str(values["actor"]), now=now)
        store.trail.append(
            conn,
            NewEntry(
                actor=actor,
                action="reconcile",
                target=f"alert:{alert_id}",
                subject=alert.user_id,
                reason_code="reconcile",
                note=text,
                criteria={"table": table, "entry": seq, "values": values},
            ),
            now,
        )
