"""API keys as plain functions: an admin makes, lists and revokes them (``auditlens keys``).

The acting principal is the operating-system account looked up in ``[principals]``
(``identity.cli_acting``); only an admin may touch keys. Making and revoking a key each
write an audit entry in the same transaction (name, role, prefix, expiry — never the
secret).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from auditlens.config import Settings
from auditlens.errors import AuditlensError
from auditlens.identity import ROLES, Acting, Directory, cli_acting
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.store.audit import NewEntry
from auditlens.store.keys import ApiKey, IssuedKey
from auditlens.store.repo import Store


def _admin(settings: Settings, who_am_i: Callable[[], str] | None, what: str) -> Acting:
    acting = cli_acting(Directory.from_settings(settings), None, who_am_i=who_am_i)
    acting.require("admin", what)
    return acting


def expiry(settings: Settings, last_day: dt.date) -> dt.datetime:
    """The moment a key valid through ``last_day`` (local) expires: the next local midnight."""
    zone = zoneinfo.ZoneInfo(settings.timezone)
    midnight = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return midnight.astimezone(dt.UTC)


def create_key(
    settings: Settings,
    name: str,
    role: str,
    *,
    expires: dt.date | None = None,
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> IssuedKey:
    """Make an API key with ``role``, valid through ``expires`` (local date) if given.

    Raises:
        IdentityError: the acting principal is not an admin.
        ApiKeyError: a bad name, an unknown role, an expiry in the past, a name in use.
    """
    acting = _admin(settings, who_am_i, "create API keys")
    if role not in ROLES:
        raise AuditlensError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}",
            ko=f"알 수 없는 역할 {role!r}입니다; {', '.join(f'`{r}`' for r in ROLES)} 중 하나를 "
            "쓰십시오",
        )
    now = clock()
    expires_at = None if expires is None else expiry(settings, expires)
    if expires_at is not None and expires_at <= now:
        raise AuditlensError(
            f"--expires {expires.isoformat() if expires else ''} is already past",
            ko=f"--expires {expires.isoformat() if expires else ''}은(는) 이미 지난 날짜입니다",
        )
    with Store.open(settings) as store, store.engine.begin() as conn:
        issued = store.keys.within(conn).create(
            name, role, created_by=acting.actor.id, now=now, expires_at=expires_at
        )
        key = issued.key
        store.trail.append(conn, _entry(acting, "key_create", key), now)
    return issued


def list_keys(settings: Settings, *, who_am_i: Callable[[], str] | None = None) -> list[ApiKey]:
    """Every key (revoked and expired too), without secrets.

    Raises:
        IdentityError: the acting principal is not an admin.
    """
    _admin(settings, who_am_i, "list API keys")
    with Store.open(settings) as store:
        return store.keys.list()


def revoke_key(
    settings: Settings,
    ref: str,
    *,
    who_am_i: Callable[[], str] | None = None,
    clock: Clock = utc_now,
) -> ApiKey:
    """Revoke the key ``ref`` names (name of an active key, id or prefix).

    Raises:
        IdentityError: the acting principal is not an admin.
        ApiKeyError: no such key, or revoked already.
    """
    acting = _admin(settings, who_am_i, "revoke API keys")
    now = clock()
    with Store.open(settings) as store, store.engine.begin() as conn:
        keys = store.keys.within(conn)
        key = keys.revoke(keys.find(ref, now), by=acting.actor.id, now=now)
        store.trail.append(conn, _entry(acting, "key_revoke", key), now)
    return key


def _entry(acting: Acting, action: str, key: ApiKey) -> NewEntry:
    return NewEntry(
        actor=acting.actor.id,
        action=action,
        target=f"key:{key.id}",
        reason_code=action,
        note=key.name,
        criteria={
            "name": key.name,
            "role": key.role,
            "prefix": key.prefix,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    )
