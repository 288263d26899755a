"""Database controls as plain functions: migrate as the owner, set up the app role."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydantic import SecretStr

from auditlens.config import Settings, mask_url
from auditlens.errors import ConfigError
from auditlens.store import roles
from auditlens.store.repo import connect, head_revision


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
        raise ConfigError("--audit needs audit_store_url (a separate audit database)")
    url, name = urls[1] if audit else urls[0]
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise ConfigError(f"environment variable {password_env} is not set")
    engine = connect(url, name=name)
    try:
        plan = roles.plan_app_role(engine, role, password=password, audit_only=audit)
        if apply:
            roles.apply(engine, plan)
    finally:
        engine.dispose()
    return RolesReport(mask_url(url), plan.printable, apply)
